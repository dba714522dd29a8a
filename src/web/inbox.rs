//! The inbox: conversations per customer, the most recent first, with unread counts and the 24-hour
//! window; a conversation's thread in words (media fetched from Meta when looked at, never kept); and a
//! reply box that queues through the same path as the API (free-form text inside the window, an
//! approved template outside it).

use super::Reply;
use super::page::{Page, render};
use crate::api::conversations::{self as api, Window};
use crate::auth::{CsrfForm, HasCsrf, Session};
use crate::error::{Error, Result};
use crate::jobs::sender::Waker;
use crate::meta::graph::{self, SendError};
use crate::store::conversations::{self, Conversation, Cursor, ThreadCursor};
use crate::store::retention::Visible;
use crate::store::{AccountId, Db, connections, now_ms, templates};
use askama::Template;
use rocket::form::FromForm;
use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Redirect, Responder};
use rocket::{State, get, post, routes};
use serde_json::{Value, json};

pub fn routes() -> Vec<rocket::Route> {
    routes![
        inbox_page,
        conversation_page,
        reply,
        erase_customer,
        inbox_media
    ]
}

const PAGE_SIZE: usize = 50;
const THREAD_SIZE: usize = 100;

/// The window in words: "Open for 23 h 12 min" or "Closed: send a template".
fn window_text(page: &Page, window: Window, now: i64) -> String {
    if !window.open {
        return page.t("inbox.window_closed").to_owned();
    }
    let minutes = (window.expires_at - now).max(0) / 60_000;
    page.t("inbox.window_open")
        .replace("{hours}", &page.number(&(minutes / 60)))
        .replace("{minutes}", &page.number(&(minutes % 60)))
}

/// A conversation in the list.
struct Row {
    id: String,
    name: String,
    phone: String,
    number: String,
    last_message_at: i64,
    unread: i64,
    open: bool,
    window: String,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage<'a> {
    page: &'a Page,
    rows: Vec<Row>,
    next: Option<String>,
}

#[get("/inbox?<cursor>")]
async fn inbox_page(
    page: Page,
    session: &Session,
    visible: Visible,
    db: &State<Db>,
    cursor: Option<&str>,
) -> Result<rocket::response::content::RawHtml<String>> {
    let account = session.account()?;
    let after = cursor.and_then(Cursor::parse);
    let key_db = db.inner().clone();
    let (list, numbers) = db
        .read_async(move |conn| {
            let key = key_db.keyring().data_key(conn, account)?;
            let list = conversations::list(conn, &key, account, None, after, PAGE_SIZE, visible)?;
            let numbers: Vec<(i64, String)> = connections::list_for_account(conn, account)?
                .into_iter()
                .map(|c| (c.id.0, c.name))
                .collect();
            Ok((list, numbers))
        })
        .await?;
    let now = now_ms();
    let next = (list.len() == PAGE_SIZE)
        .then(|| list.last())
        .flatten()
        .map(|c| {
            Cursor {
                at: c.last_message_at,
                id: c.contact_id,
            }
            .text()
        });
    let rows = list
        .iter()
        .map(|c| {
            let window = Window::of(c, now);
            Row {
                id: c.contact_id.to_string(),
                name: c
                    .profile_name
                    .clone()
                    .unwrap_or_else(|| api::display_phone(c)),
                phone: api::display_phone(c),
                number: numbers
                    .iter()
                    .find(|(id, _)| *id == c.connection_id.0)
                    .map(|(_, name)| name.clone())
                    .unwrap_or_default(),
                last_message_at: c.last_message_at,
                unread: c.unread,
                open: window.open,
                window: window_text(&page, window, now),
            }
        })
        .collect();
    render(InboxPage {
        page: &page,
        rows,
        next,
    })
}

/// Media shown in a message: fetched through `/inbox/media/...` when the page shows it.
struct Media {
    url: String,
    /// img, audio, video or link.
    element: &'static str,
    name: String,
}

/// One message of a thread, in words.
struct Bubble {
    inbound: bool,
    at: i64,
    kind: String,
    text: Option<String>,
    details: Vec<String>,
    media: Option<Media>,
    map: Option<String>,
    status: Option<String>,
    error: Option<String>,
    unread: bool,
}

fn text_at(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn number_at(value: &Value, key: &str) -> Option<f64> {
    match value.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A location as words and a map link.
fn place(page: &Page, location: &Value, bubble: &mut Bubble) {
    bubble.text = text_at(location, "/name");
    bubble.details.extend(text_at(location, "/address"));
    if let (Some(lat), Some(lon)) = (
        number_at(location, "latitude"),
        number_at(location, "longitude"),
    ) {
        bubble.details.push(format!("{lat}, {lon}"));
        bubble.map = Some(format!(
            "https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=16/{lat}/{lon}"
        ));
    }
    if bubble.text.is_none() {
        bubble.text = Some(page.t("inbox.location").to_owned());
    }
}

/// Contact cards as "name: numbers" lines.
fn cards(cards: &Value) -> Vec<String> {
    cards
        .as_array()
        .into_iter()
        .flatten()
        .map(|card| {
            let name = text_at(card, "/name/formatted_name").unwrap_or_default();
            let phones: Vec<String> = card["phones"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| text_at(p, "/phone").or_else(|| text_at(p, "/wa_id")))
                .collect();
            format!("{name}: {}", phones.join(", "))
        })
        .collect()
}

fn inbound_bubble(page: &Page, item: &Value) -> Bubble {
    let kind = item["type"].as_str().unwrap_or("unsupported").to_owned();
    let message = &item["message"];
    let inbound_id = item["id"].as_str().unwrap_or_default();
    let mut bubble = Bubble {
        inbound: true,
        at: item["at"].as_i64().unwrap_or_default(),
        kind: kind.clone(),
        text: None,
        details: Vec::new(),
        media: None,
        map: None,
        status: None,
        error: None,
        unread: item["seen_at"].is_null(),
    };
    let content = &message[kind.as_str()];
    match kind.as_str() {
        "text" => bubble.text = text_at(content, "/body"),
        "image" | "sticker" | "video" | "audio" | "document" => {
            bubble.text = text_at(content, "/caption");
            if let Some(media_id) = conversations::media_id(message) {
                let element = match kind.as_str() {
                    "image" | "sticker" => "img",
                    "video" => "video",
                    "audio" => "audio",
                    _ => "link",
                };
                bubble.media = Some(Media {
                    url: format!("/inbox/media/{inbound_id}/{media_id}"),
                    element,
                    name: text_at(content, "/filename")
                        .unwrap_or_else(|| page.term("inbox_kind", &kind)),
                });
            }
        }
        "location" => place(page, content, &mut bubble),
        "contacts" => bubble.details = cards(content),
        "interactive" => match content["type"].as_str().unwrap_or_default() {
            "button_reply" => {
                bubble.text = text_at(content, "/button_reply/title");
                bubble.details.push(page.t("inbox.reply_button").to_owned());
            }
            "list_reply" => {
                bubble.text = text_at(content, "/list_reply/title");
                bubble.details.push(page.t("inbox.list_choice").to_owned());
                bubble
                    .details
                    .extend(text_at(content, "/list_reply/description"));
            }
            _ => {
                bubble.text = Some(page.t("inbox.flow_sent").to_owned());
                bubble.details.extend(text_at(content, "/nfm_reply/body"));
            }
        },
        "button" => {
            bubble.text = text_at(content, "/text");
            bubble.details.push(page.t("inbox.reply_button").to_owned());
        }
        "reaction" => {
            bubble.text = Some(match text_at(content, "/emoji") {
                Some(emoji) => page.t("inbox.reacted").replace("{emoji}", &emoji),
                None => page.t("inbox.reaction_removed").to_owned(),
            });
        }
        "order" => {
            let items = content["product_items"].as_array().map_or(0, Vec::len) as i64;
            bubble.text = text_at(content, "/text");
            bubble.details.push(
                page.t("inbox.order_items")
                    .replace("{count}", &page.number(&items)),
            );
        }
        "system" => bubble.text = text_at(content, "/body"),
        "request_welcome" => bubble.text = Some(page.t("inbox.welcome").to_owned()),
        _ => {
            bubble.kind = "unsupported".into();
            bubble.text = Some(page.t("inbox.unsupported").to_owned());
            bubble.details.extend(
                text_at(message, "/errors/0/title")
                    .or_else(|| text_at(message, "/errors/0/message")),
            );
        }
    }
    bubble
}

fn outbound_bubble(page: &Page, item: &Value) -> Bubble {
    let kind = item["type"].as_str().unwrap_or_default().to_owned();
    let content = &item["message"];
    let mut bubble = Bubble {
        inbound: false,
        at: item["at"].as_i64().unwrap_or_default(),
        kind: kind.clone(),
        text: None,
        details: Vec::new(),
        media: None,
        map: None,
        status: item["status"]
            .as_str()
            .map(|s| page.term("message_status", s)),
        error: item.get("error").filter(|e| !e.is_null()).map(|e| {
            let words = e["explanation"]
                .as_str()
                .or(e["title"].as_str())
                .unwrap_or_default();
            format!("#{} {words}", e["code"])
        }),
        unread: false,
    };
    match kind.as_str() {
        "text" => bubble.text = text_at(content, "/body"),
        "template" => {
            bubble.text = text_at(content, "/name");
            bubble.details.extend(text_at(content, "/language/code"));
            for parameter in content["components"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["parameters"].as_array().into_iter().flatten())
            {
                bubble.details.extend(text_at(parameter, "/text"));
            }
        }
        "image" | "video" | "document" | "audio" | "sticker" => {
            bubble.text = text_at(content, "/caption");
            bubble
                .details
                .extend(text_at(content, "/link").or_else(|| text_at(content, "/id")));
        }
        "interactive" => bubble.text = text_at(content, "/body/text"),
        "reaction" => bubble.text = text_at(content, "/emoji"),
        "location" => place(page, content, &mut bubble),
        "contacts" => bubble.details = cards(content),
        _ => {}
    }
    bubble
}

#[derive(FromForm, Default, Clone)]
pub(crate) struct ReplyForm {
    #[field(default = String::new())]
    csrf: String,
    /// text or template
    #[field(default = String::new())]
    kind: String,
    #[field(default = String::new())]
    text: String,
    /// `<name>|<language>` of a synced template.
    #[field(default = String::new())]
    template: String,
    /// The template's body values, one per line.
    #[field(default = String::new())]
    params: String,
}

impl HasCsrf for ReplyForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A template the reply box offers: value, name, language, body values it takes.
struct Choice {
    value: String,
    name: String,
    language: String,
    params: i64,
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPage<'a> {
    page: &'a Page,
    id: String,
    title: String,
    phone: String,
    number: String,
    can_reply: bool,
    open: bool,
    window: String,
    bubbles: Vec<Bubble>,
    older: Option<String>,
    choices: Vec<Choice>,
    form: &'a ReplyForm,
    notice: Option<String>,
    error: Option<&'a str>,
}

/// What a conversation page shows, read in one go.
struct View {
    conversation: Conversation,
    thread: Vec<Value>,
    number: String,
    choices: Vec<Choice>,
}

async fn view(
    db: &Db,
    account: AccountId,
    contact: i64,
    before: Option<ThreadCursor>,
    visible: Visible,
) -> Result<View> {
    let view_db = db.clone();
    db.read_async(move |conn| {
        let key = view_db.keyring().data_key(conn, account)?;
        let conversation =
            conversations::find(conn, &key, account, contact, visible)?.ok_or(Error::NotFound)?;
        let thread = api::thread(
            &view_db,
            conn,
            account,
            &conversation,
            before,
            THREAD_SIZE,
            visible,
        )?;
        let number = connections::find(conn, account, conversation.connection_id)?
            .map(|c| c.name)
            .unwrap_or_default();
        let connection = conversation.connection_id.0.to_string();
        let choices = templates::list_for_account(conn, account)?
            .into_iter()
            .filter(|t| t.connection_id == connection && t.status == "APPROVED")
            .map(|t| Choice {
                value: format!("{}|{}", t.name, t.language),
                name: t.name,
                language: t.language,
                params: t.body_params,
            })
            .collect();
        Ok(View {
            conversation,
            thread,
            number,
            choices,
        })
    })
    .await
}

#[allow(clippy::too_many_arguments)]
async fn show(
    page: &Page,
    db: &Db,
    account: AccountId,
    contact: i64,
    before: Option<ThreadCursor>,
    visible: Visible,
    form: &ReplyForm,
    notice: Option<String>,
    error: Option<&str>,
) -> Result<Reply> {
    let View {
        conversation,
        thread,
        number,
        choices,
    } = view(db, account, contact, before, visible).await?;
    let now = now_ms();
    let window = Window::of(&conversation, now);
    let older = (thread.len() == THREAD_SIZE)
        .then(|| {
            thread
                .last()
                .and_then(|m| m["cursor"].as_str().map(str::to_owned))
        })
        .flatten();
    // Oldest first, as a chat reads.
    let bubbles = thread
        .iter()
        .rev()
        .map(|item| match item["direction"].as_str() {
            Some("inbound") => inbound_bubble(page, item),
            _ => outbound_bubble(page, item),
        })
        .collect();
    if conversation.unread > 0 {
        db.write_async(move |conn| conversations::mark_seen(conn, account, contact, now_ms()))
            .await?;
    }
    let phone = api::display_phone(&conversation);
    let status = if error.is_some() {
        Status::UnprocessableEntity
    } else {
        Status::Ok
    };
    Ok(Reply::Page((
        status,
        render(ConversationPage {
            page,
            id: contact.to_string(),
            title: conversation.profile_name.clone().unwrap_or(phone.clone()),
            can_reply: phone.starts_with('+'),
            phone,
            number,
            open: window.open,
            window: window_text(page, window, now),
            bubbles,
            older,
            choices,
            form,
            notice,
            error,
        })?,
    )))
}

fn contact_id(id: &str) -> Result<i64> {
    id.parse().map_err(|_| Error::NotFound)
}

#[get("/inbox/<id>?<before>&<done>")]
async fn conversation_page(
    id: &str,
    before: Option<&str>,
    done: Option<&str>,
    page: Page,
    session: &Session,
    visible: Visible,
    db: &State<Db>,
) -> Result<Reply> {
    let account = session.account()?;
    let contact = contact_id(id)?;
    let before = before
        .and_then(Cursor::parse)
        .map(|c| ThreadCursor { at: c.at, id: c.id });
    let notice = page.notice("inbox", done);
    show(
        &page,
        db,
        account,
        contact,
        before,
        visible,
        &<ReplyForm as Default>::default(),
        notice,
        None,
    )
    .await
}

/// Meta's message JSON for the reply form, or the catalog key of what is missing.
fn build(
    form: &ReplyForm,
    conversation: &Conversation,
) -> std::result::Result<Value, &'static str> {
    let to = api::display_phone(conversation);
    let connection_id = conversation.connection_id.0.to_string();
    if form.kind == "template" {
        let (name, language) = form
            .template
            .split_once('|')
            .filter(|(name, language)| !name.is_empty() && !language.is_empty())
            .ok_or("inbox.errors.template")?;
        let parameters: Vec<Value> = form
            .params
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| json!({"type": "text", "text": l}))
            .collect();
        let mut template = json!({"name": name, "language": {"code": language}});
        if !parameters.is_empty() {
            template["components"] = json!([{"type": "body", "parameters": parameters}]);
        }
        return Ok(
            json!({"connection_id": connection_id, "to": to, "type": "template", "template": template}),
        );
    }
    if form.text.trim().is_empty() {
        return Err("inbox.errors.empty");
    }
    Ok(
        json!({"connection_id": connection_id, "to": to, "type": "text", "text": {"body": form.text}}),
    )
}

#[post("/inbox/<id>/reply", data = "<form>")]
async fn reply(
    id: &str,
    form: CsrfForm<ReplyForm>,
    page: Page,
    session: &Session,
    visible: Visible,
    db: &State<Db>,
    waker: &State<Waker>,
) -> Result<Reply> {
    let account = session.account()?;
    let contact = contact_id(id)?;
    let form = form.0;
    let conversation = api::load(db, account, contact, visible).await?;
    let message = match build(&form, &conversation) {
        Ok(message) => message,
        Err(key) => {
            return show(
                &page,
                db,
                account,
                contact,
                None,
                visible,
                &form,
                None,
                Some(page.t(key)),
            )
            .await;
        }
    };
    match crate::api::messages::enqueue(db, waker, account, &message, None).await {
        // Queuing the reply also moves the conversation up (store::messages::insert).
        Ok(_) => Ok(Reply::Redirect(Redirect::to(format!(
            "/inbox/{contact}?done=sent"
        )))),
        Err(e @ Error::Invalid { .. }) => {
            let text = page.error_text(&e);
            show(
                &page,
                db,
                account,
                contact,
                None,
                visible,
                &form,
                None,
                Some(&text),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

/// Erases the conversation's customer (owners and admins): every message to and from the number on all of
/// the account's numbers, and the contact (`store::erasure::erase_customer`).
#[post("/inbox/<id>/erase", data = "<_form>")]
async fn erase_customer(
    id: &str,
    _form: CsrfForm<super::CsrfOnly>,
    session: &Session,
    client: crate::auth::ClientInfo,
    visible: Visible,
    db: &State<Db>,
) -> Result<Redirect> {
    let account = session.managed_account()?;
    let conversation = api::load(db, account, contact_id(id)?, visible).await?;
    let actor = (Some(session.user.id), client.ip, client.user_agent);
    crate::api::contacts::erase(db, account, conversation.phone_index, actor).await?;
    Ok(Redirect::to("/inbox"))
}

/// A media file streamed from Meta to the browser as it arrives: nothing is written anywhere, and the
/// browser is told not to keep it either.
struct MediaStream {
    content_type: ContentType,
    disposition: String,
    chunks: rocket::tokio::sync::mpsc::Receiver<Vec<u8>>,
}

impl<'r> Responder<'r, 'r> for MediaStream {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'r> {
        let stream = rocket::futures::stream::unfold(self.chunks, |mut chunks| async move {
            chunks.recv().await.map(|chunk| (chunk, chunks))
        });
        let mut response =
            rocket::response::stream::ByteStream::from(Box::pin(stream)).respond_to(req)?;
        response.set_header(self.content_type);
        response.set_header(Header::new("Cache-Control", "no-store"));
        response.set_header(Header::new("Content-Disposition", self.disposition));
        Ok(response)
    }
}

/// Types a browser may show in the page; anything else is offered as a download.
fn shown_inline(content_type: &ContentType) -> bool {
    let top = content_type.top().as_str();
    (top == "image" && !content_type.sub().as_str().contains("svg"))
        || top == "audio"
        || top == "video"
}

/// A file name safe for a header: letters, digits, dot, dash and underscore.
fn safe_name(name: Option<&str>) -> String {
    let cleaned: String = name
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(100)
        .collect();
    if cleaned.trim_matches('.').is_empty() {
        "media".into()
    } else {
        cleaned
    }
}

fn meta_refusal(error: SendError) -> Error {
    match error {
        SendError::Meta(e) if e.http_status == 404 => Error::NotFound,
        SendError::Meta(e) => {
            Error::Unavailable(format!("Meta refused the media: (#{}) {}", e.code, e.title))
        }
        SendError::Network(reason) => {
            Error::Unavailable(format!("Meta could not be reached: {reason}"))
        }
    }
}

/// A customer's media, fetched from Meta now with the number's token: the media id must be the one in
/// that message of this account.
#[get("/inbox/media/<inbound_id>/<media_id>")]
async fn inbox_media(
    inbound_id: &str,
    media_id: &str,
    session: &Session,
    visible: Visible,
    db: &State<Db>,
    agent: &State<ureq::Agent>,
) -> Result<MediaStream> {
    let account = session.account()?;
    let inbound_id: i64 = inbound_id.parse().map_err(|_| Error::NotFound)?;
    let wanted = media_id.to_owned();
    let key_db = db.inner().clone();
    let (connection, token, filename) = db
        .read_async(move |conn| {
            let key = key_db.keyring().data_key(conn, account)?;
            let message = conversations::find_inbound(conn, &key, account, inbound_id, visible)?
                .ok_or(Error::NotFound)?;
            if conversations::media_id(&message.body) != Some(wanted.as_str()) {
                return Err(Error::NotFound);
            }
            let connection =
                connections::find(conn, account, message.connection_id)?.ok_or(Error::NotFound)?;
            let token =
                connections::secrets(conn, key_db.keyring(), account, connection.id)?.access_token;
            let filename = text_at(&message.body, &format!("/{}/filename", message.kind));
            Ok((connection, token, filename))
        })
        .await?;
    let agent = agent.inner().clone();
    let media_id = media_id.to_owned();
    let download = rocket::tokio::task::spawn_blocking(move || {
        let info = graph::media_info(
            &agent,
            &connection.graph_base_url,
            &connection.graph_version,
            &media_id,
            &connection.phone_number_id,
            &token,
        )
        .map_err(meta_refusal)?;
        let url = info["url"].as_str().unwrap_or_default();
        if !graph::media_url_allowed(&connection.graph_base_url, url) {
            return Err(Error::Unavailable(
                "Meta gave a media address on a host it does not use".into(),
            ));
        }
        let download = graph::download_media(&agent, url, &token).map_err(meta_refusal)?;
        let mime = download
            .content_type
            .clone()
            .or_else(|| info["mime_type"].as_str().map(str::to_owned));
        Ok((download, mime))
    })
    .await
    .map_err(|e| Error::Internal(anyhow::anyhow!("media task failed: {e}")))??;
    let (download, mime) = download;
    let content_type = mime
        .as_deref()
        .and_then(ContentType::parse_flexible)
        .unwrap_or(ContentType::Binary);
    let disposition = if shown_inline(&content_type) {
        "inline".to_owned()
    } else {
        format!(
            "attachment; filename=\"{}\"",
            safe_name(filename.as_deref())
        )
    };
    let (sender, chunks) = rocket::tokio::sync::mpsc::channel(4);
    let mut body = download.body;
    rocket::tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match body.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    if sender.blocking_send(buffer[..n].to_vec()).is_err() {
                        break; // the browser went away
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "media download from Meta broke off");
                    break;
                }
            }
        }
    });
    Ok(MediaStream {
        content_type,
        disposition,
        chunks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_for_a_header() {
        assert_eq!(safe_name(Some("invoice 12.pdf")), "invoice12.pdf");
        assert_eq!(safe_name(Some("\"; x=\r\n")), "x");
        assert_eq!(safe_name(Some("..")), "media");
        assert_eq!(safe_name(None), "media");
    }

    #[test]
    fn only_images_sound_and_video_show_inline() {
        assert!(shown_inline(&ContentType::PNG));
        assert!(shown_inline(&ContentType::new("audio", "ogg")));
        assert!(!shown_inline(&ContentType::SVG));
        assert!(!shown_inline(&ContentType::HTML));
        assert!(!shown_inline(&ContentType::PDF));
    }
}
