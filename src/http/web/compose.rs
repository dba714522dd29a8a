//! New message (`/compose`): the type is chosen first and only its fields show (compose.js hides the
//! others; without JavaScript "Continue" shows the chosen type's fields); a template message picks one of
//! the number's approved templates, its language, and one field per variable, filled into the template's
//! own bubble as they are typed; every message is previewed as a WhatsApp bubble, with the JSON request
//! for developers behind a switch. Each mistake is named next to its field; sending takes the same path
//! as the API.

mod build;
mod choices;

use super::Reply;
use super::field_errors::FieldErrors;
use super::inbox::read_file;
use super::page::{Page, render};
use super::templates::bubble::{Bubble, pieces};
use crate::domain::meta::message::{Content, Draft};
use crate::error::{Error, Result};
use crate::http::auth::{CsrfForm, HasCsrf, Member};
use crate::services::conversations::{self, Attachment};
use crate::services::messages::{SendMessage, Sending};
use crate::store::connections::ConnectionId;
use crate::store::{AccountId, Db, connections, templates};
use askama::Template;
use choices::{Approved, Choice};
use rocket::form::FromForm;
use rocket::fs::TempFile;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{State, get, post, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![compose_page, compose]
}

#[derive(FromForm, Default)]
pub(crate) struct ComposeForm<'r> {
    #[field(default = String::new())]
    csrf: String,
    /// `send`, `preview`, or `choose` (the type or template was chosen without JavaScript).
    #[field(default = String::new())]
    action: String,
    #[field(default = String::new())]
    connection_id: String,
    #[field(default = String::new())]
    to: String,
    #[field(default = String::from("text"))]
    kind: String,
    /// A text message.
    #[field(default = String::new())]
    text: String,
    /// A template message: the template, its language, its variables' values and a media header's link.
    #[field(default = String::new())]
    template_name: String,
    #[field(default = String::new())]
    template_language: String,
    #[field(default = Vec::new())]
    header_params: Vec<String>,
    #[field(default = Vec::new())]
    body_params: Vec<String>,
    #[field(default = String::new())]
    header_link: String,
    /// Media: a public https link and a caption (not for audio and stickers).
    #[field(default = String::new())]
    media_link: String,
    /// Or a file, uploaded to Meta's media endpoint for the chosen number when the message is sent.
    media_file: Option<TempFile<'r>>,
    #[field(default = String::new())]
    caption: String,
    /// A reaction: the wamid of the message and the emoji (empty removes it).
    #[field(default = String::new())]
    reaction_to: String,
    #[field(default = String::new())]
    emoji: String,
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
    /// Reply buttons, a list or a link button: the body, the choices (one per line), the label and link.
    #[field(default = String::new())]
    body: String,
    #[field(default = String::new())]
    choices: String,
    /// The button that opens a list, or the text of a link button.
    #[field(default = String::new())]
    button_label: String,
    #[field(default = String::new())]
    url: String,
}

impl HasCsrf for ComposeForm<'_> {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The kinds the form offers, in the order of its menu.
const KINDS: [&str; 13] = [
    "text", "template", "image", "video", "document", "audio", "sticker", "reaction", "location",
    "contacts", "buttons", "list", "cta_url",
];

/// The type the form asks for: its own word for a kind it does not offer, which the request refuses.
fn kind_of<'a>(form: &'a ComposeForm<'_>, content: &Content) -> &'a str {
    if KINDS.contains(&form.kind.as_str()) {
        content.kind().as_str()
    } else {
        &form.kind
    }
}

/// The groups of fields, each shown for its kinds.
const GROUPS: [(&str, &[&str]); 8] = [
    ("text", &["text"]),
    ("template", &["template"]),
    ("media", &["image", "video", "document", "audio", "sticker"]),
    ("caption", &["image", "video", "document"]),
    ("reaction", &["reaction"]),
    ("location", &["location"]),
    ("contacts", &["contacts"]),
    ("interactive", &["buttons", "list", "cta_url"]),
];

/// The form's field a refusal of the request is about (`template.components` is the body's values, ...).
fn form_field(kind: &str, field: &str) -> &'static str {
    let head = field.split(['.', '[']).next().unwrap_or_default();
    match head {
        "to" => "to",
        "connection_id" => "connection_id",
        "template" if field.contains("components") => "body_params",
        "template" => "template_name",
        "text" => "text",
        "image" | "video" | "document" | "audio" | "sticker" => "media_link",
        "reaction" => "reaction_to",
        "location" => "latitude",
        "contacts" => "contact_name",
        "interactive" => "body",
        _ if kind == "text" => "text",
        _ => "kind",
    }
}

#[derive(Template)]
#[template(path = "compose.html")]
struct ComposePage<'a> {
    page: &'a Page,
    form: &'a ComposeForm<'a>,
    kinds: &'a [&'a str],
    connections: Vec<(String, String)>,
    choices: Vec<Choice>,
    /// The chosen number's template names, and the chosen name's languages (code, name).
    names: Vec<String>,
    languages: Vec<(String, String)>,
    /// The message as the customer will see it (for every type but a template, whose bubble is its
    /// choice's).
    bubble: Bubble,
    preview: Option<String>,
    error: Option<String>,
    /// The field a mistake is about, with its words.
    field_errors: FieldErrors,
}

impl ComposePage<'_> {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.field_errors.words(field)
    }

    fn described(&self, field: &str, hint: bool) -> String {
        self.field_errors.attrs(field, hint)
    }

    /// Whether a group of fields is shown for the chosen type.
    fn shows(&self, group: &str) -> bool {
        GROUPS
            .iter()
            .any(|(name, kinds)| *name == group && kinds.contains(&self.form.kind.as_str()))
    }

    /// The kinds a group is for, as compose.js reads them.
    fn kinds_of(&self, group: &str) -> String {
        GROUPS
            .iter()
            .find(|(name, _)| *name == group)
            .map(|(_, kinds)| kinds.join(" "))
            .unwrap_or_default()
    }

    fn var_label(&self, n: &usize) -> String {
        format!("{{{{{n}}}}}")
    }

    fn chosen_template(&self) -> Option<&Choice> {
        self.choices.iter().find(|c| c.chosen)
    }
}

/// The message as the customer will see it, for every type but a template.
fn plain_bubble(form: &ComposeForm<'_>) -> Bubble {
    let plain = |text: &str| pieces(text, &[]);
    let mut bubble = Bubble::default();
    match form.kind.as_str() {
        "image" | "video" | "document" | "audio" | "sticker" => {
            bubble.header_media = Some(form.kind.to_ascii_uppercase());
            if matches!(form.kind.as_str(), "image" | "video" | "document") {
                bubble.body = plain(form.caption.trim());
            }
        }
        "reaction" => bubble.body = plain(form.emoji.trim()),
        "location" => {
            bubble.header_media = Some("LOCATION".into());
            let place = [form.place.trim(), form.address.trim()]
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join("\n");
            bubble.body = plain(&place);
        }
        "contacts" => bubble.body = plain(form.contact_name.trim()),
        "buttons" | "list" | "cta_url" => {
            bubble.body = plain(form.body.trim());
            bubble.buttons = match form.kind.as_str() {
                "buttons" => build::lines(&form.choices)
                    .map(|c| ("QUICK_REPLY".to_owned(), c.to_owned()))
                    .collect(),
                _ => vec![("URL".to_owned(), form.button_label.trim().to_owned())],
            };
        }
        _ => bubble.body = plain(&form.text),
    }
    bubble
}

/// What the page shows besides the form: the numbers and the approved templates.
struct Loaded {
    connections: Vec<(String, String)>,
    approved: Vec<Approved>,
}

async fn load(db: &Db, account: AccountId) -> Result<Loaded> {
    db.read_async(move |conn| {
        let connections = connections::list_for_account(conn, account)?
            .into_iter()
            .map(|c| (c.id.get().to_string(), c.name))
            .collect();
        let approved = templates::list_for_account(conn, account)?
            .iter()
            .filter(|t| t.status == "APPROVED")
            .map(Approved::of)
            .collect();
        Ok(Loaded {
            connections,
            approved,
        })
    })
    .await
}

/// What went wrong with a form: the summary above it, and the field with its words.
struct Refusal {
    summary: String,
    field: Option<(String, String)>,
}

async fn show(
    page: &Page,
    loaded: Loaded,
    form: &ComposeForm<'_>,
    preview: Option<String>,
    refusal: Option<Refusal>,
) -> Result<Reply> {
    let choices = choices::choices(page, form, &loaded.approved);
    let chosen = choices.iter().find(|c| c.chosen);
    let mut names: Vec<String> = Vec::new();
    for choice in choices
        .iter()
        .filter(|c| c.connection_id == form.connection_id)
    {
        if !names.contains(&choice.name) {
            names.push(choice.name.clone());
        }
    }
    let languages = chosen
        .map(|chosen| {
            choices
                .iter()
                .filter(|c| c.connection_id == chosen.connection_id && c.name == chosen.name)
                .map(|c| (c.language.clone(), c.language_name.clone()))
                .collect()
        })
        .unwrap_or_default();
    let status = if refusal.is_some() {
        Status::UnprocessableEntity
    } else {
        Status::Ok
    };
    let (error, field_error) = match refusal {
        Some(Refusal { summary, field }) => (Some(summary), field),
        None => (None, None),
    };
    Ok(Reply::Page((
        status,
        render(ComposePage {
            page,
            form,
            kinds: &KINDS,
            connections: loaded.connections,
            choices,
            names,
            languages,
            bubble: plain_bubble(form),
            preview,
            error,
            field_errors: FieldErrors::new("", field_error.into_iter().collect()),
        })?,
    )))
}

/// The form's number: the one it names if it is the account's, else the first.
fn settle_number(form: &mut ComposeForm<'_>, loaded: &Loaded) {
    if !loaded
        .connections
        .iter()
        .any(|(id, _)| *id == form.connection_id)
        && let Some((first, _)) = loaded.connections.first()
    {
        form.connection_id = first.clone();
    }
    if !KINDS.contains(&form.kind.as_str()) && form.action == "choose" {
        form.kind = "text".into();
    }
}

#[get("/compose?<kind>")]
async fn compose_page(
    page: Page,
    member: Member<'_>,
    db: &State<Db>,
    kind: Option<&str>,
) -> Result<Reply> {
    let loaded = load(db, member.account).await?;
    let mut form = ComposeForm {
        kind: kind
            .filter(|k| KINDS.contains(k))
            .unwrap_or("text")
            .to_owned(),
        ..<ComposeForm as Default>::default()
    };
    settle_number(&mut form, &loaded);
    show(&page, loaded, &form, None, None).await
}

#[post("/compose", data = "<form>")]
async fn compose(
    form: CsrfForm<ComposeForm<'_>>,
    page: Page,
    member: Member<'_>,
    sending: Sending<'_>,
    agent: &State<ureq::Agent>,
) -> Result<Reply> {
    let (account, db) = (member.account, sending.db);
    let mut form = form.0;
    let loaded = load(db, account).await?;
    settle_number(&mut form, &loaded);
    if form.action == "choose" {
        return show(&page, loaded, &form, None, None).await;
    }
    let refused = |field: &str, words: String| Refusal {
        summary: words.clone(),
        field: Some((field.to_owned(), words)),
    };
    let template = choices::chosen(&form, &loaded.approved);
    // A file for a media message: checked now, uploaded only once the message is sent (until then the
    // preview names the id Meta will give it).
    let file = match media_file(&page, &form).await {
        Ok(file) => file,
        Err(words) => {
            let refusal = refused("media_file", words);
            return show(&page, loaded, &form, None, Some(refusal)).await;
        }
    };
    let upload_placeholder = page.t("compose.media_file_id");
    let uploaded = file
        .as_ref()
        .map(|f| build::Uploaded::new(upload_placeholder, &f.filename));
    let content: Content = match build::build(&form, template, uploaded.as_ref()) {
        Ok(content) => content,
        Err((field, key)) => {
            let refusal = refused(field, page.t(key).to_owned());
            return show(&page, loaded, &form, None, Some(refusal)).await;
        }
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
            let refusal = match &e {
                Error::Invalid { field, .. } => {
                    refused(form_field(&form.kind, field), page.error_text(&e))
                }
                _ => Refusal {
                    summary: page.error_text(&e),
                    field: None,
                },
            };
            return show(&page, loaded, &form, preview, Some(refusal)).await;
        }
    };
    if form.action != "send" {
        return show(&page, loaded, &form, preview, None).await;
    }
    let message = match file {
        None => message,
        Some(file) => {
            match upload((&sending, agent), account, &form, template, file, &page).await {
                Ok(message) => message,
                Err(refusal) => return show(&page, loaded, &form, preview, Some(refusal)).await,
            }
        }
    };
    match crate::services::messages::accept(&sending, account, &message, None).await {
        Ok((_, answer)) => Ok(Reply::Redirect(Redirect::to(format!(
            "/messages/{}",
            answer.id
        )))),
        // The form comes back as it was, saying what is wrong (or that the server is busy: nothing
        // was queued, and sending again in a moment works; or what the plan allows, in words).
        Err(Error::Invalid { field, message }) => {
            let at = form_field(&form.kind, &field);
            let refusal = refused(at, page.error_text(&Error::Invalid { field, message }));
            show(&page, loaded, &form, preview, Some(refusal)).await
        }
        Err(
            e @ (Error::Overloaded
            | Error::QuotaExceeded { .. }
            | Error::SubscriptionInactive { .. }
            | Error::SendingHeld
            | Error::RecipientOptedOut { .. }),
        ) => {
            let refusal = Refusal {
                summary: page.error_text(&e),
                field: None,
            };
            show(&page, loaded, &form, preview, Some(refusal)).await
        }
        Err(e) => Err(e),
    }
}

/// The file of a media message, if one was chosen: read and checked against Meta's types and sizes and
/// against the message's type; the refusal in words otherwise.
async fn media_file(
    page: &Page,
    form: &ComposeForm<'_>,
) -> std::result::Result<Option<Attachment>, String> {
    let given = form.media_file.as_ref().filter(|f| f.len() > 0);
    let media_kind = GROUPS[2].1.contains(&form.kind.as_str());
    let Some(file) = given.filter(|_| media_kind) else {
        return Ok(None);
    };
    let (_, kind, attachment) = read_file(page, Some(file)).await?;
    if kind.as_str() != form.kind {
        return Err(page.t("compose.errors.media_file_kind").to_owned());
    }
    Ok(Some(attachment))
}

/// Uploads the file to Meta for the chosen number, and makes the message again with the id Meta gave.
async fn upload(
    (sending, agent): (&Sending<'_>, &ureq::Agent),
    account: AccountId,
    form: &ComposeForm<'_>,
    template: Option<&Approved>,
    file: Attachment,
    page: &Page,
) -> std::result::Result<SendMessage, Refusal> {
    let refusal = |e: &Error| Refusal {
        summary: page.error_text(e),
        field: Some(("media_file".to_owned(), page.error_text(e))),
    };
    let connection = form
        .connection_id
        .parse()
        .map(ConnectionId::from_raw)
        .map_err(|_| refusal(&Error::NotFound))?;
    let filename = file.filename.clone();
    let media_id = conversations::upload_media(sending.db, agent, account, connection, file)
        .await
        .map_err(|e| refusal(&e))?;
    let uploaded = build::Uploaded::new(&media_id, &filename);
    let content =
        build::build(form, template, Some(&uploaded)).map_err(|(field, key)| Refusal {
            summary: page.t(key).to_owned(),
            field: Some((field.to_owned(), page.t(key).to_owned())),
        })?;
    let draft = Draft {
        connection_id: &form.connection_id,
        to: &form.to,
        kind: kind_of(form, &content),
        content: &content,
    };
    SendMessage::compose(&draft).1.map_err(|e| refusal(&e))
}
