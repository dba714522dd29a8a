//! Checks a message against Meta's rules before it is queued, so mistakes come back at once as a 400
//! naming the field, instead of as a failure minutes later. The limits are Meta's (Cloud API reference).

use crate::error::{Error, Result};
use serde_json::{Map, Value};

pub const TYPES: [&str; 11] = [
    "text",
    "template",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "reaction",
];

/// A message that passed: the recipient in digits (E.164 without "+") and the body for Meta.
#[derive(Debug, Clone)]
pub struct Checked {
    pub to: String,
    pub kind: String,
    pub body: Map<String, Value>,
}

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
            _ if TYPES.contains(&field) => {
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

/// Checks the request body of `POST /api/v1/messages` (Meta's message JSON, plus `connection_id`, which
/// is the caller's to check) and returns what to send.
pub fn check(request: &Value) -> Result<Checked> {
    let Some(fields) = request.as_object() else {
        return Err(invalid("body", "must be a JSON object"));
    };
    let raw_to = text(request, "to", "to", 64, true)?.unwrap_or_default();
    let to = normalize_phone(raw_to).ok_or_else(|| {
        invalid(
            "to",
            "must be a phone number in international format, e.g. +96550001234",
        )
    })?;
    let kind = match request.get("type") {
        None => "text",
        Some(Value::String(kind)) if TYPES.contains(&kind.as_str()) => kind.as_str(),
        Some(_) => {
            return Err(invalid(
                "type",
                &format!("must be one of {}", TYPES.join(", ")),
            ));
        }
    };
    check_top_level(fields, kind)?;
    let content = if kind == "contacts" {
        check_contacts(request)?;
        &request["contacts"]
    } else {
        let content = object(request, kind, kind)?;
        match kind {
            "text" => check_text(content)?,
            "template" => check_template(content)?,
            "image" | "audio" | "video" | "document" | "sticker" => check_media(kind, content)?,
            "location" => check_location(content)?,
            "interactive" => check_interactive(content)?,
            _ => check_reaction(content)?,
        }
        content
    };
    if fields.contains_key("context") {
        let context = object(request, "context", "context")?;
        text(context, "message_id", "context.message_id", 256, true)?;
    }
    let mut body = Map::new();
    body.insert("messaging_product".into(), "whatsapp".into());
    body.insert("recipient_type".into(), "individual".into());
    body.insert("to".into(), Value::String(to.clone()));
    body.insert("type".into(), kind.into());
    body.insert(kind.into(), content.clone());
    if let Some(context) = fields.get("context") {
        body.insert("context".into(), context.clone());
    }
    Ok(Checked {
        to,
        kind: kind.to_owned(),
        body,
    })
}

/// `contacts` is an array, unlike every other type's object.
fn check_contacts(request: &Value) -> Result<()> {
    let Some(cards) = request.get("contacts").and_then(Value::as_array) else {
        return Err(invalid("contacts", "must be an array of contact cards"));
    };
    if cards.is_empty() || cards.len() > 20 {
        return Err(invalid("contacts", "send 1 to 20 contact cards"));
    }
    for (i, card) in cards.iter().enumerate() {
        let name = object(card, "name", &format!("contacts[{i}].name"))?;
        text(
            name,
            "formatted_name",
            &format!("contacts[{i}].name.formatted_name"),
            256,
            true,
        )?;
    }
    Ok(())
}

fn check_text(content: &Value) -> Result<()> {
    text(content, "body", "text.body", 4096, true)?;
    if content.get("preview_url").is_some_and(|v| !v.is_boolean()) {
        return Err(invalid("text.preview_url", "must be true or false"));
    }
    Ok(())
}

fn check_template(content: &Value) -> Result<()> {
    text(content, "name", "template.name", 512, true)?;
    let language = object(content, "language", "template.language")?;
    text(language, "code", "template.language.code", 15, true)?;
    let components = match content.get("components") {
        None => return Ok(()),
        Some(Value::Array(components)) => components,
        Some(_) => return Err(invalid("template.components", "must be an array")),
    };
    // Each component and parameter names its type; the kinds of parameter are Meta's to judge.
    for (c, component) in components.iter().enumerate() {
        let field = format!("template.components[{c}]");
        if !component.is_object() {
            return Err(invalid(&field, "must be an object"));
        }
        text(component, "type", &format!("{field}.type"), 32, true)?;
        let parameters = match component.get("parameters") {
            None => continue,
            Some(Value::Array(parameters)) => parameters,
            Some(_) => return Err(invalid(&format!("{field}.parameters"), "must be an array")),
        };
        for (p, parameter) in parameters.iter().enumerate() {
            let field = format!("{field}.parameters[{p}]");
            if !parameter.is_object() {
                return Err(invalid(&field, "must be an object"));
            }
            text(parameter, "type", &format!("{field}.type"), 32, true)?;
        }
    }
    Ok(())
}

fn check_media(kind: &str, content: &Value) -> Result<()> {
    let id = text(content, "id", &format!("{kind}.id"), 128, false)?;
    let link = text(content, "link", &format!("{kind}.link"), 2000, false)?;
    match (id, link) {
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
    text(content, "caption", &format!("{kind}.caption"), 1024, false)?;
    if kind == "document" {
        text(content, "filename", "document.filename", 240, false)?;
    }
    Ok(())
}

fn check_location(content: &Value) -> Result<()> {
    for (key, limit) in [("latitude", 90.0), ("longitude", 180.0)] {
        match content.get(key).and_then(Value::as_f64) {
            Some(v) if (-limit..=limit).contains(&v) => {}
            _ => {
                return Err(invalid(
                    &format!("location.{key}"),
                    &format!("must be a number between -{limit} and {limit}"),
                ));
            }
        }
    }
    text(content, "name", "location.name", 1000, false)?;
    text(content, "address", "location.address", 1000, false)?;
    Ok(())
}

fn check_reaction(content: &Value) -> Result<()> {
    text(content, "message_id", "reaction.message_id", 256, true)?;
    match content.get("emoji") {
        Some(Value::String(e)) if e.chars().count() <= 8 => Ok(()),
        _ => Err(invalid(
            "reaction.emoji",
            "must be an emoji, or empty to remove the reaction",
        )),
    }
}

fn check_interactive(content: &Value) -> Result<()> {
    let kind = text(content, "type", "interactive.type", 32, true)?.unwrap_or_default();
    let body = object(content, "body", "interactive.body")?;
    let body_limit = if kind == "list" { 4096 } else { 1024 };
    text(body, "text", "interactive.body.text", body_limit, true)?;
    if content.get("footer").is_some() {
        let footer = object(content, "footer", "interactive.footer")?;
        text(footer, "text", "interactive.footer.text", 60, true)?;
    }
    if content.get("header").is_some() {
        let header = object(content, "header", "interactive.header")?;
        text(header, "type", "interactive.header.type", 32, true)?;
        text(header, "text", "interactive.header.text", 60, false)?;
    }
    let action = object(content, "action", "interactive.action")?;
    match kind {
        "button" => {
            let buttons = array(action, "buttons", "interactive.action.buttons")?;
            if buttons.is_empty() || buttons.len() > 3 {
                return Err(invalid("interactive.action.buttons", "give 1 to 3 buttons"));
            }
            let mut titles = Vec::new();
            for (i, button) in buttons.iter().enumerate() {
                let reply = object(
                    button,
                    "reply",
                    &format!("interactive.action.buttons[{i}].reply"),
                )?;
                text(
                    reply,
                    "id",
                    &format!("interactive.action.buttons[{i}].reply.id"),
                    256,
                    true,
                )?;
                let title = text(
                    reply,
                    "title",
                    &format!("interactive.action.buttons[{i}].reply.title"),
                    20,
                    true,
                )?;
                if titles.contains(&title) {
                    return Err(invalid(
                        &format!("interactive.action.buttons[{i}].reply.title"),
                        "titles must differ",
                    ));
                }
                titles.push(title);
            }
        }
        "list" => {
            text(action, "button", "interactive.action.button", 20, true)?;
            let sections = array(action, "sections", "interactive.action.sections")?;
            if sections.is_empty() || sections.len() > 10 {
                return Err(invalid(
                    "interactive.action.sections",
                    "give 1 to 10 sections",
                ));
            }
            let mut rows = 0;
            for (s, section) in sections.iter().enumerate() {
                if !section.is_object() {
                    return Err(invalid(
                        &format!("interactive.action.sections[{s}]"),
                        "must be an object",
                    ));
                }
                text(
                    section,
                    "title",
                    &format!("interactive.action.sections[{s}].title"),
                    24,
                    sections.len() > 1,
                )?;
                let rows_field = format!("interactive.action.sections[{s}].rows");
                for (r, row) in array(section, "rows", &rows_field)?.iter().enumerate() {
                    let field = format!("interactive.action.sections[{s}].rows[{r}]");
                    text(row, "id", &format!("{field}.id"), 200, true)?;
                    text(row, "title", &format!("{field}.title"), 24, true)?;
                    text(
                        row,
                        "description",
                        &format!("{field}.description"),
                        72,
                        false,
                    )?;
                    rows += 1;
                }
            }
            if !(1..=10).contains(&rows) {
                return Err(invalid(
                    "interactive.action.sections",
                    "give 1 to 10 rows across all sections",
                ));
            }
        }
        "cta_url" => {
            if action.get("name").and_then(Value::as_str) != Some("cta_url") {
                return Err(invalid("interactive.action.name", "must be cta_url"));
            }
            let parameters = object(action, "parameters", "interactive.action.parameters")?;
            text(
                parameters,
                "display_text",
                "interactive.action.parameters.display_text",
                20,
                true,
            )?;
            let url = text(
                parameters,
                "url",
                "interactive.action.parameters.url",
                2000,
                true,
            )?
            .unwrap_or_default();
            https_url(url, "interactive.action.parameters.url")?;
        }
        _ => {
            return Err(invalid(
                "interactive.type",
                "must be button, list or cta_url",
            ));
        }
    }
    Ok(())
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
}
