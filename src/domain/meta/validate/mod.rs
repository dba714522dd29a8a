//! Checks a message against Meta's rules before it is queued, so mistakes come back at once as a 400
//! naming the field, instead of as a failure minutes later. The limits are Meta's (Cloud API reference).
//!
//! Each type of [`super::message`] is read from the request by its own function here, which checks its
//! fields in a fixed order (the first mistake is the one answered) with the API's own words for each;
//! serde's derived errors would say less ("invalid type") and in another order.

mod interactive;

use super::message::{
    Component, Contact, ContactName, Content, Context, Language, Location, Media, Message,
    MessageType, MessagingProduct, More, Parameter, Reaction, RecipientType, Template, Text,
};
use crate::error::{Error, Result};
use interactive::read_interactive;
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
/// "+" or "00" is the international prefix, and Arabic-Indic digits (as a phone's Arabic keyboard types
/// them) read as Western ones.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let western = crate::domain::lang::normalise_digits(raw);
    let trimmed = western.trim();
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

#[cfg(test)]
mod tests;
