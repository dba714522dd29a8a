//! Compose: a form that builds a message of any common type, shows the JSON it will send (and whether the
//! customer-service window is open), and queues it through the same path as the API.

use super::Reply;
use super::page::{Page, render};
use crate::auth::{CsrfForm, HasCsrf, Session};
use crate::error::{Error, Result};
use crate::jobs::sender::Waker;
use crate::store::{Db, connections};
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
}

impl HasCsrf for ComposeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Meta's message JSON for the form (what `POST /api/v1/messages` takes).
fn build(form: &ComposeForm) -> Value {
    let mut message =
        json!({"connection_id": form.connection_id, "to": form.to, "type": form.kind});
    let content = match form.kind.as_str() {
        "template" => {
            let parameters: Vec<Value> = form
                .text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
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
        _ => json!({"body": form.text}),
    };
    message[form.kind.as_str()] = content;
    message
}

#[derive(Template)]
#[template(path = "compose.html")]
struct ComposePage<'a> {
    page: &'a Page,
    form: &'a ComposeForm,
    connections: Vec<(String, String)>,
    preview: Option<String>,
    error: Option<&'a str>,
}

async fn show(
    page: &Page,
    session: &Session,
    db: &Db,
    form: &ComposeForm,
    preview: Option<String>,
    error: Option<&str>,
) -> Result<Reply> {
    let account = session.account()?;
    let connections = db
        .read_async(move |conn| {
            Ok(connections::list_for_account(conn, account)?
                .into_iter()
                .map(|c| (c.id.0.to_string(), c.name))
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
            connections,
            preview,
            error,
        })?,
    )))
}

#[get("/compose")]
async fn compose_page(page: Page, session: &Session, db: &State<Db>) -> Result<Reply> {
    show(&page, session, db, &ComposeForm::default_form(), None, None).await
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
    session: &Session,
    db: &State<Db>,
    waker: &State<Waker>,
) -> Result<Reply> {
    let account = session.account()?;
    let form = form.0;
    let message = build(&form);
    let preview = serde_json::to_string_pretty(&message).ok();
    // Checked in both cases, so a preview shows the same mistakes sending would.
    if let Err(e) = crate::meta::validate::check(&message) {
        return show(
            &page,
            session,
            db,
            &form,
            preview,
            Some(&page.error_text(&e)),
        )
        .await;
    }
    if form.action != "send" {
        return show(&page, session, db, &form, preview, None).await;
    }
    match crate::api::messages::enqueue(db, waker, account, &message, None).await {
        Ok((_, answer)) => {
            let id = answer["id"].as_str().unwrap_or_default();
            Ok(Reply::Redirect(Redirect::to(format!("/messages/{id}"))))
        }
        Err(e @ Error::Invalid { .. }) => {
            show(
                &page,
                session,
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
