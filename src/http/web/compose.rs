//! Compose: a form that builds a message of any common type, shows the JSON it will send (and whether the
//! customer-service window is open), and queues it through the same path as the API.

use super::Reply;
use super::page::{Page, render};
use crate::domain::meta::message::{
    Action, Button, Contact, ContactName, Content, CtaParameters, Draft, Interactive,
    InteractiveType, Location, Media, More, Reaction, Reply as ButtonReply, Row, Section,
    Template as MetaTemplate, Text, more_of,
};
use crate::error::{Error, Result};
use crate::http::auth::{CsrfForm, HasCsrf, Member};
use crate::services::messages::{SendMessage, Sending};
use crate::store::{AccountId, Db, connections};
use askama::Template;
use rocket::form::FromForm;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{State, get, post, routes};
use serde::Serialize;
use serde_json::Value;

pub fn routes() -> Vec<rocket::Route> {
    routes![compose_page, compose]
}

#[derive(FromForm, Default, Clone)]
pub(crate) struct ComposeForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    action: String,
    #[field(default = String::new())]
    connection_id: String,
    #[field(default = String::new())]
    to: String,
    #[field(default = String::from("text"))]
    kind: String,
    /// Text body, caption, or the template's body parameters (one per line).
    #[field(default = String::new())]
    text: String,
    /// Template name, media link, or the message being reacted to.
    #[field(default = String::new())]
    reference: String,
    #[field(default = String::from("en_US"))]
    language: String,
    #[field(default = String::new())]
    latitude: String,
    #[field(default = String::new())]
    longitude: String,
    /// The place's name, for a location.
    #[field(default = String::new())]
    place: String,
    #[field(default = String::new())]
    address: String,
    /// The contact card: the name as shown, the first name, a phone number and an optional email.
    #[field(default = String::new())]
    contact_name: String,
    #[field(default = String::new())]
    first_name: String,
    #[field(default = String::new())]
    phone: String,
    #[field(default = String::new())]
    email: String,
    /// Reply buttons or list rows, one title per line.
    #[field(default = String::new())]
    choices: String,
    /// The button that opens a list, or the text of a link button.
    #[field(default = String::new())]
    button_label: String,
    #[field(default = String::new())]
    url: String,
}

impl HasCsrf for ComposeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The kinds the form offers, in the order of its menu.
const KINDS: [&str; 13] = [
    "text", "template", "image", "video", "document", "audio", "sticker", "reaction", "location",
    "contacts", "buttons", "list", "cta_url",
];

/// The message of the form (the object of `POST /api/v1/messages`), or the catalog key of what is wrong
/// with the form. What the form cannot get wrong is left to `domain::meta::validate`, which checks it next.
fn build(form: &ComposeForm) -> std::result::Result<Content, &'static str> {
    let reference = form.reference.trim();
    let caption = Some(form.text.trim()).filter(|c| !c.is_empty());
    Ok(match form.kind.as_str() {
        "template" => {
            let values: Vec<&str> = lines(&form.text).collect();
            Content::Template(MetaTemplate::with_body_text(
                reference,
                form.language.trim(),
                &values,
            ))
        }
        "image" => Content::Image(Media::link(reference, caption)),
        "video" => Content::Video(Media::link(reference, caption)),
        "document" => Content::Document(Media::link(reference, caption)),
        "audio" => Content::Audio(Media::link(reference, None)),
        "sticker" => Content::Sticker(Media::link(reference, None)),
        "reaction" => Content::Reaction(Reaction::new(reference, form.text.trim())),
        "location" => Content::Location(location(form)?),
        "contacts" => Content::Contacts(vec![contact(form)?]),
        "buttons" | "list" | "cta_url" => Content::Interactive(Box::new(interactive(form)?)),
        _ => Content::Text(Text::new(&form.text)),
    })
}

/// The type the form asks for: its own word for a kind it does not offer, which the request refuses.
fn kind_of<'a>(form: &'a ComposeForm, content: &Content) -> &'a str {
    if KINDS.contains(&form.kind.as_str()) {
        content.kind().as_str()
    } else {
        &form.kind
    }
}

/// The non-empty lines of a text area, trimmed.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// A coordinate typed with Western or Arabic-Indic digits, within ±`limit`.
fn coordinate(raw: &str, limit: f64) -> Option<f64> {
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

fn location(form: &ComposeForm) -> std::result::Result<Location, &'static str> {
    let latitude = coordinate(&form.latitude, 90.0).ok_or("compose.errors.latitude")?;
    let longitude = coordinate(&form.longitude, 180.0).ok_or("compose.errors.longitude")?;
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
    .ok_or("compose.errors.latitude")
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
fn contact(form: &ComposeForm) -> std::result::Result<Contact, &'static str> {
    let name = form.contact_name.trim();
    if name.is_empty() || name.chars().count() > 256 {
        return Err("compose.errors.contact_name");
    }
    // Meta wants one more name part besides the name as shown; the first name is it.
    let first_name = match form.first_name.trim() {
        "" => name,
        first => first,
    };
    let digits = crate::domain::meta::validate::normalize_phone(&form.phone)
        .ok_or("compose.errors.contact_phone")?;
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
            return Err("compose.errors.contact_email");
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
fn interactive(form: &ComposeForm) -> std::result::Result<Interactive, &'static str> {
    let body = form.text.trim();
    let body_limit = if form.kind == "list" { 4096 } else { 1024 };
    if body.is_empty() || body.chars().count() > body_limit {
        return Err("compose.errors.body");
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
                return Err("compose.errors.buttons");
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
                return Err("compose.errors.button_label");
            }
            if !(1..=10).contains(&choices.len()) || choices.iter().any(|c| c.chars().count() > 24)
            {
                return Err("compose.errors.rows");
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
                return Err("compose.errors.button_label");
            }
            let url = form.url.trim();
            let https = url
                .strip_prefix("https://")
                .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
            if !https || url.len() > 2000 {
                return Err("compose.errors.url");
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

#[derive(Template)]
#[template(path = "compose.html")]
struct ComposePage<'a> {
    page: &'a Page,
    form: &'a ComposeForm,
    kinds: &'a [&'a str],
    connections: Vec<(String, String)>,
    preview: Option<String>,
    error: Option<&'a str>,
}

async fn show(
    page: &Page,
    account: AccountId,
    db: &Db,
    form: &ComposeForm,
    preview: Option<String>,
    error: Option<&str>,
) -> Result<Reply> {
    let connections = db
        .read_async(move |conn| {
            Ok(connections::list_for_account(conn, account)?
                .into_iter()
                .map(|c| (c.id.get().to_string(), c.name))
                .collect())
        })
        .await?;
    let status = if error.is_some() {
        Status::UnprocessableEntity
    } else {
        Status::Ok
    };
    Ok(Reply::Page((
        status,
        render(ComposePage {
            page,
            form,
            kinds: &KINDS,
            connections,
            preview,
            error,
        })?,
    )))
}

#[get("/compose")]
async fn compose_page(page: Page, member: Member<'_>, db: &State<Db>) -> Result<Reply> {
    show(
        &page,
        member.account,
        db,
        &ComposeForm::default_form(),
        None,
        None,
    )
    .await
}

impl ComposeForm {
    fn default_form() -> ComposeForm {
        ComposeForm {
            kind: "text".into(),
            language: "en_US".into(),
            ..<ComposeForm as Default>::default()
        }
    }
}

#[post("/compose", data = "<form>")]
async fn compose(
    form: CsrfForm<ComposeForm>,
    page: Page,
    member: Member<'_>,
    sending: Sending<'_>,
) -> Result<Reply> {
    let (account, db) = (member.account, sending.db);
    let form = form.0;
    let content = match build(&form) {
        Ok(content) => content,
        Err(key) => return show(&page, account, db, &form, None, Some(page.t(key))).await,
    };
    let draft = Draft {
        connection_id: &form.connection_id,
        to: &form.to,
        kind: kind_of(&form, &content),
        content: &content,
    };
    let (json, message) = SendMessage::compose(&draft);
    let preview = serde_json::to_string_pretty(&json).ok();
    // Checked in both cases, so a preview shows the same mistakes sending would.
    let message = match message {
        Ok(message) => message,
        Err(e) => {
            return show(
                &page,
                account,
                db,
                &form,
                preview,
                Some(&page.error_text(&e)),
            )
            .await;
        }
    };
    if form.action != "send" {
        return show(&page, account, db, &form, preview, None).await;
    }
    match crate::services::messages::accept(&sending, account, &message, None).await {
        Ok((_, answer)) => Ok(Reply::Redirect(Redirect::to(format!(
            "/messages/{}",
            answer.id
        )))),
        // The form comes back as it was, saying what is wrong (or that the server is busy: nothing
        // was queued, and sending again in a moment works; or what the plan allows, in words).
        Err(
            e @ (Error::Invalid { .. }
            | Error::Overloaded
            | Error::QuotaExceeded { .. }
            | Error::SubscriptionInactive { .. }
            | Error::SendingHeld
            | Error::RecipientOptedOut { .. }),
        ) => {
            show(
                &page,
                account,
                db,
                &form,
                preview,
                Some(&page.error_text(&e)),
            )
            .await
        }
        Err(e) => Err(e),
    }
}
