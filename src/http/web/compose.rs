//! Compose: a form that builds a message of any common type, shows the JSON it will send (and whether the
//! customer-service window is open), and queues it through the same path as the API.

use super::Reply;
use super::page::{Page, render};
use crate::auth::{CsrfForm, HasCsrf, Member};
use crate::error::{Error, Result};
use crate::services::outbox::Waker;
use crate::store::{AccountId, Db, connections};
use askama::Template;
use rocket::form::FromForm;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{State, get, post, routes};
use serde_json::{Value, json};

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

/// Meta's message JSON for the form (what `POST /api/v1/messages` takes), or the catalog key of what is
/// wrong with the form. What the form cannot get wrong is left to `meta::validate`, which checks it next.
fn build(form: &ComposeForm) -> std::result::Result<Value, &'static str> {
    let kind = match form.kind.as_str() {
        "buttons" | "list" | "cta_url" => "interactive",
        other => other,
    };
    let mut message = json!({"connection_id": form.connection_id, "to": form.to, "type": kind});
    let content = match form.kind.as_str() {
        "template" => {
            let parameters: Vec<Value> = lines(&form.text)
                .map(|l| json!({"type": "text", "text": l}))
                .collect();
            let mut template =
                json!({"name": form.reference.trim(), "language": {"code": form.language.trim()}});
            if !parameters.is_empty() {
                template["components"] = json!([{"type": "body", "parameters": parameters}]);
            }
            template
        }
        "image" | "video" | "document" => {
            let mut media = json!({"link": form.reference.trim()});
            if !form.text.trim().is_empty() {
                media["caption"] = json!(form.text.trim());
            }
            media
        }
        "audio" | "sticker" => json!({"link": form.reference.trim()}),
        "reaction" => json!({"message_id": form.reference.trim(), "emoji": form.text.trim()}),
        "location" => location(form)?,
        "contacts" => contacts(form)?,
        "buttons" | "list" | "cta_url" => interactive(form)?,
        _ => json!({"body": form.text}),
    };
    message[kind] = content;
    Ok(message)
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

fn location(form: &ComposeForm) -> std::result::Result<Value, &'static str> {
    let latitude = coordinate(&form.latitude, 90.0).ok_or("compose.errors.latitude")?;
    let longitude = coordinate(&form.longitude, 180.0).ok_or("compose.errors.longitude")?;
    let mut location = json!({"latitude": latitude, "longitude": longitude});
    for (key, value) in [("name", &form.place), ("address", &form.address)] {
        if !value.trim().is_empty() {
            location[key] = json!(value.trim());
        }
    }
    Ok(location)
}

/// One contact card; `contacts` is an array, unlike every other type's object.
fn contacts(form: &ComposeForm) -> std::result::Result<Value, &'static str> {
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
    let mut card = json!({
        "name": {"formatted_name": name, "first_name": first_name},
        "phones": [{"phone": format!("+{digits}"), "type": "CELL", "wa_id": digits}],
    });
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
        card["emails"] = json!([{"email": email, "type": "WORK"}]);
    }
    Ok(json!([card]))
}

/// Reply buttons, a list with one section, or a link button; the text area is the body.
fn interactive(form: &ComposeForm) -> std::result::Result<Value, &'static str> {
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
            let buttons: Vec<Value> = choices
                .iter()
                .enumerate()
                .map(|(i, title)| {
                    json!({"type": "reply", "reply": {"id": format!("btn_{}", i + 1), "title": title}})
                })
                .collect();
            ("button", json!({"buttons": buttons}))
        }
        "list" => {
            if !label_ok {
                return Err("compose.errors.button_label");
            }
            if !(1..=10).contains(&choices.len()) || choices.iter().any(|c| c.chars().count() > 24)
            {
                return Err("compose.errors.rows");
            }
            let rows: Vec<Value> = choices
                .iter()
                .enumerate()
                .map(|(i, title)| json!({"id": format!("row_{}", i + 1), "title": title}))
                .collect();
            (
                "list",
                json!({"button": label, "sections": [{"rows": rows}]}),
            )
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
            (
                "cta_url",
                json!({"name": "cta_url", "parameters": {"display_text": label, "url": url}}),
            )
        }
    };
    Ok(json!({"type": kind, "body": {"text": body}, "action": action}))
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
    db: &State<Db>,
    waker: &State<Waker>,
) -> Result<Reply> {
    let account = member.account;
    let form = form.0;
    let message = match build(&form) {
        Ok(message) => message,
        Err(key) => return show(&page, account, db, &form, None, Some(page.t(key))).await,
    };
    let preview = serde_json::to_string_pretty(&message).ok();
    // Checked in both cases, so a preview shows the same mistakes sending would.
    let message = match crate::http::api::requests::SendMessage::read(&message) {
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
    match crate::http::api::messages::enqueue(db, waker, account, &message, None).await {
        Ok((_, answer)) => Ok(Reply::Redirect(Redirect::to(format!(
            "/messages/{}",
            answer.id
        )))),
        // The form comes back as it was, saying what is wrong (or that the server is busy: nothing
        // was queued, and sending again in a moment works).
        Err(e @ (Error::Invalid { .. } | Error::Overloaded)) => {
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
