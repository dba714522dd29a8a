//! The message of the compose form: each type from its own fields, or the field and catalog key of what
//! is wrong. What the form cannot get wrong is left to `domain::meta::validate`, which checks it next.

use super::ComposeForm;
use super::choices::Approved;
use crate::domain::meta::message::{
    Action, Button, Component, Contact, ContactName, Content, CtaParameters, Interactive,
    InteractiveType, Language, Location, Media, More, Parameter, Reaction, Reply as ButtonReply,
    Row, Section, Template as MetaTemplate, Text, more_of,
};
use serde::Serialize;
use serde_json::{Value, json as value};

/// A part of the message, or (the form's field, the catalog key of the mistake).
pub(super) type Built<T> = std::result::Result<T, (&'static str, &'static str)>;

/// A file uploaded to Meta for a media message: the id Meta gave it (or, before the upload, the words
/// that stand for it in the preview) and its name.
pub(super) struct Uploaded<'a> {
    id: &'a str,
    filename: &'a str,
}

impl<'a> Uploaded<'a> {
    pub(super) fn new(id: &'a str, filename: &'a str) -> Uploaded<'a> {
        Uploaded { id, filename }
    }
}

/// The message of the form (the object of `POST /api/v1/messages`); `template` is the approved template
/// the form chose, for a template message; `uploaded`, a file sent by its media id instead of a link.
pub(super) fn build(
    form: &ComposeForm<'_>,
    template: Option<&Approved>,
    uploaded: Option<&Uploaded<'_>>,
) -> Built<Content> {
    let link = form.media_link.trim();
    let caption = Some(form.caption.trim()).filter(|c| !c.is_empty());
    let media = |kind: &str| -> Built<Media> {
        let caption = if kind == "audio" || kind == "sticker" {
            None
        } else {
            caption
        };
        if let Some(file) = uploaded {
            let mut media = Media::link(file.id, caption);
            media.link = None;
            media.id = Some(file.id.to_owned());
            media.filename =
                (kind == "document").then(|| file.filename.chars().take(240).collect());
            return Ok(media);
        }
        if !is_https(link) {
            return Err(("media_link", "compose.errors.media_link"));
        }
        Ok(Media::link(link, caption))
    };
    Ok(match form.kind.as_str() {
        "template" => Content::Template(template_of(form, template)?),
        "image" => Content::Image(media("image")?),
        "video" => Content::Video(media("video")?),
        "document" => Content::Document(media("document")?),
        "audio" => Content::Audio(media("audio")?),
        "sticker" => Content::Sticker(media("sticker")?),
        "reaction" => {
            if form.reaction_to.trim().is_empty() {
                return Err(("reaction_to", "compose.errors.reaction_to"));
            }
            Content::Reaction(Reaction::new(form.reaction_to.trim(), form.emoji.trim()))
        }
        "location" => Content::Location(location(form)?),
        "contacts" => Content::Contacts(vec![contact(form)?]),
        "buttons" | "list" | "cta_url" => Content::Interactive(Box::new(interactive(form)?)),
        _ => Content::Text(Text::new(&form.text)),
    })
}

fn is_https(link: &str) -> bool {
    link.strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
}

fn text_parameter(value: &str) -> Parameter {
    Parameter {
        kind: "text".to_owned(),
        more: More::from([("text".to_owned(), Value::String(value.trim().to_owned()))]),
    }
}

/// The values given for `wanted` variables, or the mistake when one is missing.
fn values<'a>(given: &'a [String], wanted: usize, field: &'static str) -> Built<Vec<&'a str>> {
    let values: Vec<&str> = (0..wanted)
        .map(|i| given.get(i).map_or("", |v| v.trim()))
        .collect();
    if values.iter().any(|v| v.is_empty()) {
        return Err((field, "compose.errors.variables"));
    }
    Ok(values)
}

/// A template message: the chosen approved template, its header's media or variables, and one value per
/// variable of its body.
fn template_of(form: &ComposeForm<'_>, template: Option<&Approved>) -> Built<MetaTemplate> {
    let Some(template) = template else {
        return Err(("template_name", "compose.errors.template"));
    };
    let (header_vars, body_vars) = template.bubble.variables();
    let mut components = Vec::new();
    if let Some(format) = &template.bubble.header_media {
        let link = form.header_link.trim();
        if !is_https(link) {
            return Err(("header_link", "compose.errors.header_link"));
        }
        let kind = format.to_ascii_lowercase();
        let parameter = Parameter {
            kind: kind.clone(),
            more: More::from([(kind, value!({ "link": link }))]),
        };
        components.push(component("header", vec![parameter]));
    } else if header_vars > 0 {
        let given = values(&form.header_params, header_vars, "header_params")?;
        components.push(component(
            "header",
            given.into_iter().map(text_parameter).collect(),
        ));
    }
    if body_vars > 0 {
        let given = values(&form.body_params, body_vars, "body_params")?;
        components.push(component(
            "body",
            given.into_iter().map(text_parameter).collect(),
        ));
    }
    Ok(MetaTemplate {
        name: template.name.clone(),
        language: Language {
            code: template.language.clone(),
            more: More::new(),
        },
        components: (!components.is_empty()).then_some(components),
        more: More::new(),
    })
}

fn component(kind: &str, parameters: Vec<Parameter>) -> Component {
    Component {
        kind: kind.to_owned(),
        parameters: Some(parameters),
        more: More::new(),
    }
}

/// The non-empty lines of a text area, trimmed.
pub(super) fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// A coordinate typed with Western or Arabic-Indic digits, within ±`limit`.
pub(super) fn coordinate(raw: &str, limit: f64) -> Option<f64> {
    let ascii: String = raw
        .trim()
        .chars()
        .map(|c| match c {
            '٠'..='٩' => char::from(b'0' + (c as u32 - '٠' as u32) as u8),
            '۰'..='۹' => char::from(b'0' + (c as u32 - '۰' as u32) as u8),
            '٫' => '.',
            '−' => '-',
            c => c,
        })
        .collect();
    let value: f64 = ascii.parse().ok()?;
    (value.is_finite() && (-limit..=limit).contains(&value)).then_some(value)
}

pub(super) fn location(form: &ComposeForm<'_>) -> Built<Location> {
    let latitude =
        coordinate(&form.latitude, 90.0).ok_or(("latitude", "compose.errors.latitude"))?;
    let longitude =
        coordinate(&form.longitude, 180.0).ok_or(("longitude", "compose.errors.longitude"))?;
    let given = |value: &str| {
        Some(value.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Location::new(
        latitude,
        longitude,
        given(&form.place).as_deref(),
        given(&form.address).as_deref(),
    )
    .ok_or(("latitude", "compose.errors.latitude"))
}

/// A phone of a contact card, as Meta takes it.
#[derive(Serialize)]
struct CardPhone {
    phone: String,
    #[serde(rename = "type")]
    kind: &'static str,
    wa_id: String,
}

/// An email of a contact card, as Meta takes it.
#[derive(Serialize)]
struct CardEmail<'a> {
    email: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

fn json(value: impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// One contact card; `contacts` is an array, unlike every other type's object.
pub(super) fn contact(form: &ComposeForm<'_>) -> Built<Contact> {
    let name = form.contact_name.trim();
    if name.is_empty() || name.chars().count() > 256 {
        return Err(("contact_name", "compose.errors.contact_name"));
    }
    // Meta wants one more name part besides the name as shown; the first name is it.
    let first_name = match form.first_name.trim() {
        "" => name,
        first => first,
    };
    let digits = crate::domain::meta::validate::normalize_phone(&form.phone)
        .ok_or(("phone", "compose.errors.contact_phone"))?;
    let phone = CardPhone {
        phone: format!("+{digits}"),
        kind: "CELL",
        wa_id: digits,
    };
    let mut card = vec![("phones", json([phone]))];
    let email = form.email.trim();
    if !email.is_empty() {
        let plausible = email.len() <= 254
            && !email.contains(char::is_whitespace)
            && email
                .split_once('@')
                .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'));
        if !plausible {
            return Err(("email", "compose.errors.contact_email"));
        }
        card.push((
            "emails",
            json([CardEmail {
                email,
                kind: "WORK",
            }]),
        ));
    }
    Ok(Contact {
        name: ContactName {
            formatted_name: name.to_owned(),
            more: more_of(&[("first_name", Value::String(first_name.to_owned()))]),
        },
        more: more_of(&card),
    })
}

/// Reply buttons, a list with one section, or a link button; the text area is the body.
pub(super) fn interactive(form: &ComposeForm<'_>) -> Built<Interactive> {
    let body = form.body.trim();
    let body_limit = if form.kind == "list" { 4096 } else { 1024 };
    if body.is_empty() || body.chars().count() > body_limit {
        return Err(("body", "compose.errors.body"));
    }
    let choices: Vec<&str> = lines(&form.choices).collect();
    let label = form.button_label.trim();
    let label_ok = !label.is_empty() && label.chars().count() <= 20;
    let (kind, action) = match form.kind.as_str() {
        "buttons" => {
            let distinct = choices
                .iter()
                .enumerate()
                .all(|(i, c)| !choices[..i].contains(c));
            if !(1..=3).contains(&choices.len())
                || !distinct
                || choices.iter().any(|c| c.chars().count() > 20)
            {
                return Err(("choices", "compose.errors.buttons"));
            }
            let buttons = choices
                .iter()
                .enumerate()
                .map(|(i, title)| Button {
                    reply: ButtonReply {
                        id: format!("btn_{}", i + 1),
                        title: (*title).to_owned(),
                        more: More::new(),
                    },
                    more: more_of(&[("type", Value::String("reply".to_owned()))]),
                })
                .collect();
            let action = Action {
                buttons: Some(buttons),
                ..Action::empty()
            };
            (InteractiveType::Button, action)
        }
        "list" => {
            if !label_ok {
                return Err(("button_label", "compose.errors.button_label"));
            }
            if !(1..=10).contains(&choices.len()) || choices.iter().any(|c| c.chars().count() > 24)
            {
                return Err(("choices", "compose.errors.rows"));
            }
            let rows = choices
                .iter()
                .enumerate()
                .map(|(i, title)| Row {
                    id: format!("row_{}", i + 1),
                    title: (*title).to_owned(),
                    description: None,
                    more: More::new(),
                })
                .collect();
            let section = Section {
                title: None,
                rows: Some(rows),
                more: More::new(),
            };
            let action = Action {
                button: Some(label.to_owned()),
                sections: Some(vec![section]),
                ..Action::empty()
            };
            (InteractiveType::List, action)
        }
        _ => {
            if !label_ok {
                return Err(("button_label", "compose.errors.button_label"));
            }
            let url = form.url.trim();
            let https = url
                .strip_prefix("https://")
                .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
            if !https || url.len() > 2000 {
                return Err(("url", "compose.errors.url"));
            }
            let action = Action {
                name: Some("cta_url".to_owned()),
                parameters: Some(CtaParameters {
                    display_text: label.to_owned(),
                    url: url.to_owned(),
                    more: More::new(),
                }),
                ..Action::empty()
            };
            (InteractiveType::CtaUrl, action)
        }
    };
    Ok(Interactive::new(kind, body, action))
}
