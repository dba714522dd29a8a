//! Checks a message against Meta's rules before it is queued, so mistakes come back at once as a 400
//! naming the field, instead of as a failure minutes later. The limits are Meta's (Cloud API reference).
//!
//! Each type of [`super::message`] is read from the request by its own function here, which checks its
//! fields in a fixed order (the first mistake is the one answered) with the API's own words for each;
//! serde's derived errors would say less ("invalid type") and in another order.

use super::message::{
    Action, Button, Component, Contact, ContactName, Content, Context, CtaParameters, Header,
    Interactive, InteractiveType, Language, Location, Media, Message, MessageType,
    MessagingProduct, More, Parameter, Reaction, RecipientType, Reply, Row, Section, Template,
    Text, TextPart,
};
use crate::error::{Error, Result};
use serde_json::{Map, Value};

fn invalid(field: &str, message: &str) -> Error {
    Error::invalid(field, message)
}

/// The fields of a request besides the object its type names: Meta's, and `connection_id`, the API's
/// own (which number sends). Anything else is refused by name, so a typo or a misplaced field is an
/// answer at once rather than a silently different message. Inside the type's object, the fields
/// checked here must have their types; others are Meta's many optional ones (template parameter
/// kinds, interactive headers, ...), passed on for Meta to judge.
const TOP_LEVEL: [&str; 6] = [
    "connection_id",
    "messaging_product",
    "recipient_type",
    "to",
    "type",
    "context",
];

fn check_top_level(fields: &Map<String, Value>, kind: &str) -> Result<()> {
    for (name, value) in fields {
        let field = name.as_str();
        let fixed = |expected: &str| match value {
            Value::String(given) if given == expected => Ok(()),
            _ => Err(invalid(
                field,
                &format!("must be \"{expected}\" (or left out)"),
            )),
        };
        match field {
            "messaging_product" => fixed("whatsapp")?,
            "recipient_type" => fixed("individual")?,
            _ if TOP_LEVEL.contains(&field) || field == kind => {}
            "biz_opaque_callback_data" => {
                return Err(invalid(
                    field,
                    "is set by the server: it carries the message id, for status webhooks",
                ));
            }
            _ if MessageType::parse(field).is_some() => {
                return Err(invalid(
                    field,
                    &format!(
                        "does not match the message's type ({kind}); to send it, give \"type\": \"{field}\""
                    ),
                ));
            }
            _ => {
                let shown: String = field.chars().take(100).collect();
                return Err(invalid(
                    &shown,
                    "is not a field of a message (they are connection_id, messaging_product, recipient_type, to, type, context and the object named by type)",
                ));
            }
        }
    }
    Ok(())
}

/// Normalises a phone number to E.164 digits: spaces, dashes, dots and parentheses are ignored, a leading
/// "+" or "00" is the international prefix.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let rest = trimmed
        .strip_prefix('+')
        .or_else(|| trimmed.strip_prefix("00"))
        .unwrap_or(trimmed);
    let digits: String = rest
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let valid = (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    valid.then_some(digits)
}

fn text<'a>(
    object: &'a Value,
    key: &str,
    field: &str,
    max: usize,
    required: bool,
) -> Result<Option<&'a str>> {
    match object.get(key) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(invalid(field, "is required")),
        Some(Value::String(s)) if required && s.trim().is_empty() => {
            Err(invalid(field, "must not be empty"))
        }
        Some(Value::String(s)) if s.chars().count() > max => {
            Err(invalid(field, &format!("is longer than {max} characters")))
        }
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

/// A required string field, owned.
fn required(object: &Value, key: &str, field: &str, max: usize) -> Result<String> {
    Ok(text(object, key, field, max, true)?
        .unwrap_or_default()
        .to_owned())
}

/// An optional string field, owned.
fn optional(object: &Value, key: &str, field: &str, max: usize) -> Result<Option<String>> {
    Ok(text(object, key, field, max, false)?.map(str::to_owned))
}

fn object<'a>(value: &'a Value, key: &str, field: &str) -> Result<&'a Value> {
    match value.get(key) {
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(invalid(field, "must be an object")),
        None => Err(invalid(field, "is required")),
    }
}

/// An optional array: absent or null is empty, anything else but an array is refused.
fn array<'a>(value: &'a Value, key: &str, field: &str) -> Result<&'a [Value]> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(invalid(field, "must be an array")),
    }
}

/// Whether an optional array field holds items to type (absent and null stay as given).
fn given(value: &Value, key: &str) -> bool {
    value.get(key).is_some_and(|v| !v.is_null())
}

/// The fields of `object` that the type does not hold: all but `typed`, unless given as null (a null
/// optional field is kept as given, so the message reads back as it was sent).
fn rest(object: &Value, typed: &[&str]) -> More {
    let Some(fields) = object.as_object() else {
        return More::new();
    };
    fields
        .iter()
        .filter(|(name, value)| value.is_null() || !typed.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

fn https_url(value: &str, field: &str) -> Result<()> {
    if value.starts_with("https://")
        && value.len() > 8
        && value.len() <= 2000
        && !value.contains(char::is_whitespace)
    {
        Ok(())
    } else {
        Err(invalid(field, "must be an https:// URL"))
    }
}

/// Reads the request body of `POST /api/v1/messages` (Meta's message JSON, plus `connection_id`, which
/// is the caller's to check) into the typed message, checking Meta's rules.
pub fn check(request: &Value) -> Result<Message> {
    let Some(fields) = request.as_object() else {
        return Err(invalid("body", "must be a JSON object"));
    };
    let to = required(request, "to", "to", 64)?;
    let recipient = normalize_phone(&to).ok_or_else(|| {
        invalid(
            "to",
            "must be a phone number in international format, e.g. +96550001234",
        )
    })?;
    let given_kind = match request.get("type") {
        None => None,
        Some(Value::String(kind)) if MessageType::parse(kind).is_some() => MessageType::parse(kind),
        Some(_) => {
            let names: Vec<&str> = MessageType::ALL.iter().map(|t| t.as_str()).collect();
            return Err(invalid(
                "type",
                &format!("must be one of {}", names.join(", ")),
            ));
        }
    };
    let kind = given_kind.unwrap_or(MessageType::Text);
    check_top_level(fields, kind.as_str())?;
    let content = if kind == MessageType::Contacts {
        Content::Contacts(read_contacts(request)?)
    } else {
        let name = kind.as_str();
        let content = object(request, name, name)?;
        match kind {
            MessageType::Text => Content::Text(read_text(content)?),
            MessageType::Template => Content::Template(read_template(content)?),
            MessageType::Image => Content::Image(read_media(kind, content)?),
            MessageType::Audio => Content::Audio(read_media(kind, content)?),
            MessageType::Video => Content::Video(read_media(kind, content)?),
            MessageType::Document => Content::Document(read_media(kind, content)?),
            MessageType::Sticker => Content::Sticker(read_media(kind, content)?),
            MessageType::Location => Content::Location(read_location(content)?),
            MessageType::Interactive => Content::Interactive(Box::new(read_interactive(content)?)),
            MessageType::Reaction | MessageType::Contacts => {
                Content::Reaction(read_reaction(content)?)
            }
        }
    };
    let context = if fields.contains_key("context") {
        let context = object(request, "context", "context")?;
        Some(Context {
            message_id: required(context, "message_id", "context.message_id", 256)?,
            more: rest(context, &["message_id"]),
        })
    } else {
        None
    };
    // Both were checked above to be the one value they may have.
    Ok(Message {
        messaging_product: fields
            .contains_key("messaging_product")
            .then_some(MessagingProduct::Whatsapp),
        recipient_type: fields
            .contains_key("recipient_type")
            .then_some(RecipientType::Individual),
        to,
        kind: given_kind,
        context,
        content,
        recipient,
    })
}

/// `contacts` is an array, unlike every other type's object.
fn read_contacts(request: &Value) -> Result<Vec<Contact>> {
    let Some(cards) = request.get("contacts").and_then(Value::as_array) else {
        return Err(invalid("contacts", "must be an array of contact cards"));
    };
    if cards.is_empty() || cards.len() > 20 {
        return Err(invalid("contacts", "send 1 to 20 contact cards"));
    }
    let mut read = Vec::with_capacity(cards.len());
    for (i, card) in cards.iter().enumerate() {
        let name = object(card, "name", &format!("contacts[{i}].name"))?;
        let formatted_name = required(
            name,
            "formatted_name",
            &format!("contacts[{i}].name.formatted_name"),
            256,
        )?;
        read.push(Contact {
            name: ContactName {
                formatted_name,
                more: rest(name, &["formatted_name"]),
            },
            more: rest(card, &["name"]),
        });
    }
    Ok(read)
}

fn read_text(content: &Value) -> Result<Text> {
    let body = required(content, "body", "text.body", 4096)?;
    let preview_url = match content.get("preview_url") {
        None => None,
        Some(Value::Bool(preview)) => Some(*preview),
        Some(_) => return Err(invalid("text.preview_url", "must be true or false")),
    };
    Ok(Text {
        body,
        preview_url,
        more: rest(content, &["body", "preview_url"]),
    })
}

fn read_template(content: &Value) -> Result<Template> {
    let name = required(content, "name", "template.name", 512)?;
    let language = object(content, "language", "template.language")?;
    let language = Language {
        code: required(language, "code", "template.language.code", 15)?,
        more: rest(language, &["code"]),
    };
    let components = match content.get("components") {
        None => None,
        Some(Value::Array(components)) => Some(components),
        Some(_) => return Err(invalid("template.components", "must be an array")),
    };
    // Each component and parameter names its type; the kinds of parameter are Meta's to judge.
    let components = match components {
        None => None,
        Some(components) => {
            let mut read = Vec::with_capacity(components.len());
            for (c, component) in components.iter().enumerate() {
                read.push(read_component(
                    component,
                    &format!("template.components[{c}]"),
                )?);
            }
            Some(read)
        }
    };
    Ok(Template {
        name,
        language,
        components,
        more: rest(content, &["name", "language", "components"]),
    })
}

fn read_component(component: &Value, field: &str) -> Result<Component> {
    if !component.is_object() {
        return Err(invalid(field, "must be an object"));
    }
    let kind = required(component, "type", &format!("{field}.type"), 32)?;
    let parameters = match component.get("parameters") {
        None => None,
        Some(Value::Array(parameters)) => Some(parameters),
        Some(_) => return Err(invalid(&format!("{field}.parameters"), "must be an array")),
    };
    let parameters = match parameters {
        None => None,
        Some(parameters) => {
            let mut read = Vec::with_capacity(parameters.len());
            for (p, parameter) in parameters.iter().enumerate() {
                let field = format!("{field}.parameters[{p}]");
                if !parameter.is_object() {
                    return Err(invalid(&field, "must be an object"));
                }
                read.push(Parameter {
                    kind: required(parameter, "type", &format!("{field}.type"), 32)?,
                    more: rest(parameter, &["type"]),
                });
            }
            Some(read)
        }
    };
    Ok(Component {
        kind,
        parameters,
        more: rest(component, &["type", "parameters"]),
    })
}

fn read_media(kind: MessageType, content: &Value) -> Result<Media> {
    let kind = kind.as_str();
    let id = optional(content, "id", &format!("{kind}.id"), 128)?;
    let link = optional(content, "link", &format!("{kind}.link"), 2000)?;
    match (&id, &link) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(invalid(&format!("{kind}.id"), "give either id or link"));
        }
        (None, Some(link)) => https_url(link, &format!("{kind}.link"))?,
        (Some(_), None) => {}
    }
    let captioned = matches!(kind, "image" | "video" | "document");
    if content.get("caption").is_some() && !captioned {
        return Err(invalid(
            &format!("{kind}.caption"),
            "this type has no caption",
        ));
    }
    let caption = optional(content, "caption", &format!("{kind}.caption"), 1024)?;
    let filename = if kind == "document" {
        optional(content, "filename", "document.filename", 240)?
    } else {
        None
    };
    let typed: &[&str] = if kind == "document" {
        &["id", "link", "caption", "filename"]
    } else {
        &["id", "link", "caption"]
    };
    Ok(Media {
        id,
        link,
        caption,
        filename,
        more: rest(content, typed),
    })
}

fn read_location(content: &Value) -> Result<Location> {
    let mut point = Vec::with_capacity(2);
    for (key, limit) in [("latitude", 90.0), ("longitude", 180.0)] {
        match content.get(key) {
            Some(Value::Number(n)) if n.as_f64().is_some_and(|v| (-limit..=limit).contains(&v)) => {
                point.push(n.clone());
            }
            _ => {
                return Err(invalid(
                    &format!("location.{key}"),
                    &format!("must be a number between -{limit} and {limit}"),
                ));
            }
        }
    }
    let name = optional(content, "name", "location.name", 1000)?;
    let address = optional(content, "address", "location.address", 1000)?;
    let longitude = point.pop().unwrap_or_else(|| 0.into());
    let latitude = point.pop().unwrap_or_else(|| 0.into());
    Ok(Location {
        latitude,
        longitude,
        name,
        address,
        more: rest(content, &["latitude", "longitude", "name", "address"]),
    })
}

fn read_reaction(content: &Value) -> Result<Reaction> {
    let message_id = required(content, "message_id", "reaction.message_id", 256)?;
    match content.get("emoji") {
        Some(Value::String(emoji)) if emoji.chars().count() <= 8 => Ok(Reaction {
            message_id,
            emoji: emoji.clone(),
            more: rest(content, &["message_id", "emoji"]),
        }),
        _ => Err(invalid(
            "reaction.emoji",
            "must be an emoji, or empty to remove the reaction",
        )),
    }
}

fn read_interactive(content: &Value) -> Result<Interactive> {
    let kind = required(content, "type", "interactive.type", 32)?;
    let body = object(content, "body", "interactive.body")?;
    let body_limit = if kind == "list" { 4096 } else { 1024 };
    let body = TextPart {
        text: required(body, "text", "interactive.body.text", body_limit)?,
        more: rest(body, &["text"]),
    };
    let footer = match content.get("footer") {
        None => None,
        Some(_) => {
            let footer = object(content, "footer", "interactive.footer")?;
            Some(TextPart {
                text: required(footer, "text", "interactive.footer.text", 60)?,
                more: rest(footer, &["text"]),
            })
        }
    };
    let header = match content.get("header") {
        None => None,
        Some(_) => {
            let header = object(content, "header", "interactive.header")?;
            Some(Header {
                kind: required(header, "type", "interactive.header.type", 32)?,
                text: optional(header, "text", "interactive.header.text", 60)?,
                more: rest(header, &["type", "text"]),
            })
        }
    };
    let action = object(content, "action", "interactive.action")?;
    let (kind, action) = match kind.as_str() {
        "button" => (InteractiveType::Button, read_buttons(action)?),
        "list" => (InteractiveType::List, read_list(action)?),
        "cta_url" => (InteractiveType::CtaUrl, read_cta_url(action)?),
        _ => {
            return Err(invalid(
                "interactive.type",
                "must be button, list or cta_url",
            ));
        }
    };
    Ok(Interactive {
        kind,
        header,
        body,
        footer,
        action,
        more: rest(content, &["type", "header", "body", "footer", "action"]),
    })
}

/// An action with none of its fields typed yet.
fn action_of(action: &Value, typed: &[&str]) -> Action {
    Action {
        buttons: None,
        button: None,
        sections: None,
        name: None,
        parameters: None,
        more: rest(action, typed),
    }
}

fn read_buttons(action: &Value) -> Result<Action> {
    let buttons = array(action, "buttons", "interactive.action.buttons")?;
    if buttons.is_empty() || buttons.len() > 3 {
        return Err(invalid("interactive.action.buttons", "give 1 to 3 buttons"));
    }
    let mut read: Vec<Button> = Vec::with_capacity(buttons.len());
    for (i, button) in buttons.iter().enumerate() {
        let field = format!("interactive.action.buttons[{i}].reply");
        let reply = object(button, "reply", &field)?;
        let id = required(reply, "id", &format!("{field}.id"), 256)?;
        let title = required(reply, "title", &format!("{field}.title"), 20)?;
        if read.iter().any(|b| b.reply.title == title) {
            return Err(invalid(&format!("{field}.title"), "titles must differ"));
        }
        read.push(Button {
            reply: Reply {
                id,
                title,
                more: rest(reply, &["id", "title"]),
            },
            more: rest(button, &["reply"]),
        });
    }
    Ok(Action {
        buttons: Some(read),
        ..action_of(action, &["buttons"])
    })
}

fn read_list(action: &Value) -> Result<Action> {
    let button = required(action, "button", "interactive.action.button", 20)?;
    let sections = array(action, "sections", "interactive.action.sections")?;
    if sections.is_empty() || sections.len() > 10 {
        return Err(invalid(
            "interactive.action.sections",
            "give 1 to 10 sections",
        ));
    }
    let mut rows = 0;
    let mut read = Vec::with_capacity(sections.len());
    for (s, section) in sections.iter().enumerate() {
        let field = format!("interactive.action.sections[{s}]");
        if !section.is_object() {
            return Err(invalid(&field, "must be an object"));
        }
        let title = text(
            section,
            "title",
            &format!("{field}.title"),
            24,
            sections.len() > 1,
        )?
        .map(str::to_owned);
        let rows_field = format!("{field}.rows");
        let mut section_rows = Vec::new();
        for (r, row) in array(section, "rows", &rows_field)?.iter().enumerate() {
            let field = format!("{rows_field}[{r}]");
            section_rows.push(Row {
                id: required(row, "id", &format!("{field}.id"), 200)?,
                title: required(row, "title", &format!("{field}.title"), 24)?,
                description: optional(row, "description", &format!("{field}.description"), 72)?,
                more: rest(row, &["id", "title", "description"]),
            });
            rows += 1;
        }
        read.push(Section {
            title,
            rows: given(section, "rows").then_some(section_rows),
            more: rest(section, &["title", "rows"]),
        });
    }
    if !(1..=10).contains(&rows) {
        return Err(invalid(
            "interactive.action.sections",
            "give 1 to 10 rows across all sections",
        ));
    }
    Ok(Action {
        button: Some(button),
        sections: Some(read),
        ..action_of(action, &["button", "sections"])
    })
}

fn read_cta_url(action: &Value) -> Result<Action> {
    if action.get("name").and_then(Value::as_str) != Some("cta_url") {
        return Err(invalid("interactive.action.name", "must be cta_url"));
    }
    let parameters = object(action, "parameters", "interactive.action.parameters")?;
    let display_text = required(
        parameters,
        "display_text",
        "interactive.action.parameters.display_text",
        20,
    )?;
    let url = required(parameters, "url", "interactive.action.parameters.url", 2000)?;
    https_url(&url, "interactive.action.parameters.url")?;
    Ok(Action {
        name: Some("cta_url".to_owned()),
        parameters: Some(CtaParameters {
            display_text,
            url,
            more: rest(parameters, &["display_text", "url"]),
        }),
        ..action_of(action, &["name", "parameters"])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phone_numbers_normalise_to_e164_digits() {
        assert_eq!(
            normalize_phone("+965 5000-1234").as_deref(),
            Some("96550001234")
        );
        assert_eq!(
            normalize_phone("00965 (500) 01234").as_deref(),
            Some("96550001234")
        );
        assert_eq!(normalize_phone("0500"), None);
        assert_eq!(normalize_phone("+1234567890123456"), None);
        assert_eq!(normalize_phone("+9655000abcd"), None);
        let once = normalize_phone("+44 20 7946 0958").unwrap();
        assert_eq!(
            normalize_phone(&once).as_deref(),
            Some(once.as_str()),
            "idempotent"
        );
    }

    #[test]
    fn each_kind_of_mistake_names_its_field() {
        let cases = [
            (
                json!({"to": "123", "type": "text", "text": {"body": "hi"}}),
                "to",
            ),
            (
                json!({"to": "+96550001234", "type": "fax", "fax": {}}),
                "type",
            ),
            (
                json!({"to": "+96550001234", "type": "text", "text": {"body": ""}}),
                "text.body",
            ),
            (
                json!({"to": "+96550001234", "type": "text", "text": {"body": "x".repeat(4097)}}),
                "text.body",
            ),
            (
                json!({"to": "+96550001234", "type": "image", "image": {}}),
                "image.id",
            ),
            (
                json!({"to": "+96550001234", "type": "image", "image": {"link": "http://x.test/a.png"}}),
                "image.link",
            ),
            (
                json!({"to": "+96550001234", "type": "sticker", "sticker": {"id": "1", "caption": "no"}}),
                "sticker.caption",
            ),
            (
                json!({"to": "+96550001234", "type": "location", "location": {"latitude": 91, "longitude": 0}}),
                "location.latitude",
            ),
            (
                json!({"to": "+96550001234", "type": "template", "template": {"name": "x"}}),
                "template.language",
            ),
            (
                json!({"to": "+96550001234", "type": "reaction", "reaction": {"emoji": "👍"}}),
                "reaction.message_id",
            ),
        ];
        for (request, field) in cases {
            match check(&request) {
                Err(Error::Invalid { field: got, .. }) => assert_eq!(got, field, "{request}"),
                other => panic!("{request} gave {other:?}"),
            }
        }
    }

    #[test]
    fn interactive_limits_are_meta_s() {
        let buttons = |n: usize| -> Vec<Value> {
            (0..n).map(|i| json!({"type": "reply", "reply": {"id": format!("b{i}"), "title": format!("Option {i}")}})).collect()
        };
        let message = |buttons: Vec<Value>| {
            json!({"to": "+96550001234", "type": "interactive", "interactive": {
                "type": "button", "body": {"text": "Choose"}, "action": {"buttons": buttons}}})
        };
        assert!(check(&message(buttons(3))).is_ok());
        assert!(
            check(&message(buttons(4))).is_err(),
            "at most three buttons"
        );
        let long_title =
            vec![json!({"type": "reply", "reply": {"id": "a", "title": "x".repeat(21)}})];
        assert!(
            check(&message(long_title)).is_err(),
            "titles up to 20 characters"
        );
    }

    #[test]
    fn fields_outside_meta_s_message_are_refused_by_name() {
        let message = |extra: Value| {
            let mut m = json!({"connection_id": "1", "to": "+96550001234", "type": "text", "text": {"body": "hi"}});
            for (k, v) in extra.as_object().unwrap() {
                m[k] = v.clone();
            }
            m
        };
        assert!(
            check(&message(
                json!({"messaging_product": "whatsapp", "recipient_type": "individual"})
            ))
            .is_ok()
        );
        for (extra, field) in [
            (json!({"messaging_product": "sms"}), "messaging_product"),
            (json!({"recipient_type": "group"}), "recipient_type"),
            (json!({"image": {"id": "1"}}), "image"),
            (
                json!({"biz_opaque_callback_data": "x"}),
                "biz_opaque_callback_data",
            ),
            (json!({"preview_url": true}), "preview_url"),
            (json!({"context": "wamid.1"}), "context"),
        ] {
            match check(&message(extra.clone())) {
                Err(Error::Invalid { field: got, .. }) => assert_eq!(got, field, "{extra}"),
                other => panic!("{extra} gave {other:?}"),
            }
        }
        let template = json!({"to": "+96550001234", "type": "template", "template": {
            "name": "x", "language": {"code": "en"}, "components": [{"type": "body", "parameters": ["42"]}]}});
        match check(&template) {
            Err(Error::Invalid { field, .. }) => {
                assert_eq!(field, "template.components[0].parameters[0]")
            }
            other => panic!("{other:?}"),
        }
    }

    /// A message reads into the types and writes back as it was given: Meta's fields the server does not
    /// check, and nulls, included. The Idempotency-Key's digest and `GET /api/v1/messages/<id>` rely on it.
    #[test]
    fn a_message_reads_back_as_it_was_given() {
        let messages = [
            json!({"to": "+965 5000 1234", "text": {"body": "hi"}}),
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+96550001234",
                "type": "text", "text": {"body": "hi", "preview_url": true}, "context": {"message_id": "wamid.1"}}),
            json!({"to": "+96550001234", "type": "template", "template": {"name": "order", "language": {"code": "en", "policy": "deterministic"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "42"}, {"type": "currency", "currency": {"code": "KWD", "amount_1000": 1500}}]},
                               {"type": "button", "sub_type": "url", "index": "0"}]}}),
            json!({"to": "+96550001234", "type": "image", "image": {"link": "https://x.test/a.png", "caption": null}}),
            json!({"to": "+96550001234", "type": "document", "document": {"id": "55", "filename": "a.pdf", "caption": "A"}}),
            json!({"to": "+96550001234", "type": "sticker", "sticker": {"id": "1", "filename": "s.webp"}}),
            json!({"to": "+96550001234", "type": "location", "location": {"latitude": 29, "longitude": 47.97, "name": null}}),
            json!({"to": "+96550001234", "type": "contacts", "contacts": [{"name": {"formatted_name": "Sara", "first_name": "Sara"}, "phones": [{"phone": "+96550001234"}]}]}),
            json!({"to": "+96550001234", "type": "interactive", "interactive": {"type": "button",
                "header": {"type": "image", "image": {"link": "https://x.test/a.png"}}, "body": {"text": "Choose"}, "footer": {"text": "f"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A"}}], "sections": "not read for buttons"}}}),
            json!({"to": "+96550001234", "type": "interactive", "interactive": {"type": "list", "body": {"text": "Pick"},
                "action": {"button": "Menu", "sections": [{"title": "A", "rows": [{"id": "1", "title": "One", "description": null}]},
                                                           {"title": "B", "rows": null}]}}}),
            json!({"to": "+96550001234", "type": "interactive", "interactive": {"type": "cta_url", "body": {"text": "See"},
                "action": {"name": "cta_url", "parameters": {"display_text": "Open", "url": "https://x.test"}}}}),
            json!({"to": "+96550001234", "type": "reaction", "reaction": {"message_id": "wamid.1", "emoji": ""}}),
        ];
        for given in messages {
            let message = check(&given).unwrap_or_else(|e| panic!("{given}: {e:?}"));
            assert_eq!(serde_json::to_value(&message).unwrap(), given);
            // What goes to Meta: the normalised number, the type, and the object as given.
            let outgoing = serde_json::to_value(message.outgoing()).unwrap();
            let kind = message.kind().as_str();
            assert_eq!(outgoing["to"], "96550001234");
            assert_eq!(outgoing["type"], kind);
            assert_eq!(outgoing[kind], given[kind]);
            assert_eq!(
                outgoing["context"],
                given.get("context").cloned().unwrap_or(Value::Null)
            );
        }
    }
}
