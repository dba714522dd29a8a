//! The inbox: conversations per customer, the most recent first, with unread counts and the 24-hour
//! window; a conversation's thread in words (media fetched from Meta when looked at, never kept); and a
//! reply box that queues through the same path as the API (free-form text inside the window, an
//! approved template outside it). A plan without the inbox shows why instead.

use super::Reply;
use super::context::Ctx;
use super::page::{Page, render};
use crate::config::Feature;
use crate::domain::meta::message::{self, Content, Draft, Text};
use crate::domain::meta::window::Window;
use crate::error::{Error, Result};
use crate::http::auth::{Admin, CsrfForm, HasCsrf, Member};
use crate::http::pager::Pager;
use crate::services::billing::Billing;
use crate::services::conversations as service;
use crate::services::messages::{SendMessage, Sending};
use crate::services::outbox::Waker;
use crate::store::conversations::{self, Conversation, Cursor, ThreadCursor};
use crate::store::retention::Visible;
use crate::store::{AccountId, Db, connections, now_ms, templates};
use askama::Template;
use rocket::form::FromForm;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{get, post, routes};
use serde_json::Value;
use std::sync::Arc;

mod bubbles;
mod events;
mod media;

use bubbles::{Bubble, inbound_bubble, outbound_bubble};

pub fn routes() -> Vec<rocket::Route> {
    routes![
        inbox_page,
        conversation_page,
        reply,
        erase_customer,
        media::inbox_media,
        events::inbox_events
    ]
}

const PAGE_SIZE: usize = 50;
const THREAD_SIZE: usize = 100;

/// The window in words: "Open for 23 h 12 min" or "Closed: send a template".
fn window_text(page: &Page, window: Window, now: i64) -> String {
    let Window::Open { expires_at } = window else {
        return page.t("inbox.window_closed").to_owned();
    };
    let minutes = (expires_at - now).max(0) / 60_000;
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

/// The page that stands in for the inbox when the account's plan does not include it.
async fn lacking(ctx: &Ctx<'_>, account: AccountId) -> Result<Option<Reply>> {
    let billing = ctx.state::<Arc<Billing>>()?;
    super::plan::lacking(&ctx.page, ctx.db, billing, account, Feature::Inbox).await
}

#[get("/inbox?<cursor>")]
async fn inbox_page(ctx: Ctx<'_>, member: Member<'_>, cursor: Option<&str>) -> Result<Reply> {
    if let Some(lacking) = lacking(&ctx, member.account).await? {
        return Ok(lacking);
    }
    let (visible, page, db, account) = (ctx.visible(), ctx.page, ctx.db, member.account);
    let pager = Pager::lenient(cursor, PAGE_SIZE, Cursor::parse);
    let after = pager.after;
    let key_db = db.clone();
    let (list, numbers) = db
        .read_async(move |conn| {
            let list = conversations::list(
                conn,
                key_db.keyring(),
                account,
                None,
                after,
                PAGE_SIZE,
                visible,
            )?;
            let numbers: Vec<(i64, String)> = connections::list_for_account(conn, account)?
                .into_iter()
                .map(|c| (c.id.get(), c.name))
                .collect();
            Ok((list, numbers))
        })
        .await?;
    let now = now_ms();
    let next = pager.next_cursor(&list, |c| {
        Some(
            Cursor {
                at: c.last_message_at,
                id: c.contact_id,
            }
            .text(),
        )
    });
    let rows = list
        .iter()
        .map(|c| {
            let window = service::window(c, now);
            Row {
                id: c.contact_id.to_string(),
                name: c
                    .profile_name
                    .clone()
                    .unwrap_or_else(|| service::display_phone(c)),
                phone: service::display_phone(c),
                number: numbers
                    .iter()
                    .find(|(id, _)| *id == c.connection_id.get())
                    .map(|(_, name)| name.clone())
                    .unwrap_or_default(),
                last_message_at: c.last_message_at,
                unread: c.unread,
                open: window.is_open(),
                window: window_text(&page, window, now),
            }
        })
        .collect();
    Ok(Reply::Page((
        Status::Ok,
        render(InboxPage {
            page: &page,
            rows,
            next,
        })?,
    )))
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
        let conversation = conversations::find(conn, view_db.keyring(), account, contact, visible)?
            .ok_or(Error::NotFound)?;
        let thread = service::thread(
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
        let connection = conversation.connection_id.get().to_string();
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

/// Which conversation a page shows, and how far back.
struct At {
    account: AccountId,
    contact: i64,
    before: Option<ThreadCursor>,
    visible: Visible,
}

async fn show(
    page: &Page,
    db: &Db,
    at: At,
    form: &ReplyForm,
    notice: Option<String>,
    error: Option<&str>,
) -> Result<Reply> {
    let At {
        account,
        contact,
        before,
        visible,
    } = at;
    let View {
        conversation,
        thread,
        number,
        choices,
    } = view(db, account, contact, before, visible).await?;
    let now = now_ms();
    let window = service::window(&conversation, now);
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
    let phone = service::display_phone(&conversation);
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
            open: window.is_open(),
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
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    if let Some(lacking) = lacking(&ctx, member.account).await? {
        return Ok(lacking);
    }
    let (visible, page, db, account) = (ctx.visible(), ctx.page, ctx.db, member.account);
    let contact = contact_id(id)?;
    let before = before
        .and_then(Cursor::parse)
        .map(|c| ThreadCursor { at: c.at, id: c.id });
    let notice = page.notice("inbox", done);
    let at = At {
        account,
        contact,
        before,
        visible,
    };
    show(
        &page,
        db,
        at,
        &<ReplyForm as Default>::default(),
        notice,
        None,
    )
    .await
}

/// The message of the reply form, or the catalog key of what is missing.
fn build(form: &ReplyForm) -> std::result::Result<Content, &'static str> {
    if form.kind == "template" {
        let (name, language) = form
            .template
            .split_once('|')
            .filter(|(name, language)| !name.is_empty() && !language.is_empty())
            .ok_or("inbox.errors.template")?;
        let values: Vec<&str> = form
            .params
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        return Ok(Content::Template(message::Template::with_body_text(
            name, language, &values,
        )));
    }
    if form.text.trim().is_empty() {
        return Err("inbox.errors.empty");
    }
    Ok(Content::Text(Text::new(&form.text)))
}

/// The reply as the request the API takes, to the conversation's customer from its number.
fn reply_request(conversation: &Conversation, content: &Content) -> Result<SendMessage> {
    let draft = Draft {
        connection_id: &conversation.connection_id.get().to_string(),
        to: &service::display_phone(conversation),
        kind: content.kind().as_str(),
        content,
    };
    SendMessage::compose(&draft).1
}

#[post("/inbox/<id>/reply", data = "<form>")]
async fn reply(
    id: &str,
    form: CsrfForm<ReplyForm>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    if let Some(lacking) = lacking(&ctx, member.account).await? {
        return Ok(lacking);
    }
    let sending = Sending {
        db: ctx.db,
        waker: ctx.state::<Waker>()?,
        billing: ctx.state::<Arc<Billing>>()?,
    };
    let (visible, page, db, account) = (ctx.visible(), ctx.page, ctx.db, member.account);
    let contact = contact_id(id)?;
    let at = || At {
        account,
        contact,
        before: None,
        visible,
    };
    let form = form.0;
    let conversation = service::load(db, account, contact, visible).await?;
    let message = match build(&form) {
        Ok(message) => message,
        Err(key) => {
            return show(&page, db, at(), &form, None, Some(page.t(key))).await;
        }
    };
    let sent = match reply_request(&conversation, &message) {
        Ok(message) => crate::services::messages::accept(&sending, account, &message, None).await,
        Err(e) => Err(e),
    };
    match sent {
        // Queuing the reply also moves the conversation up (store::messages::insert).
        Ok(_) => Ok(Reply::Redirect(Redirect::to(format!(
            "/inbox/{contact}?done=sent"
        )))),
        // The plan's refusals come back in words next to the reply, like a mistake in it.
        Err(
            e @ (Error::Invalid { .. }
            | Error::QuotaExceeded { .. }
            | Error::SubscriptionInactive { .. }
            | Error::SendingHeld
            | Error::Overloaded),
        ) => {
            let text = page.error_text(&e);
            show(&page, db, at(), &form, None, Some(&text)).await
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
    ctx: Ctx<'_>,
    admin: Admin<'_>,
) -> Result<Redirect> {
    let (db, account, client) = (ctx.db, admin.account, &ctx.client);
    let conversation = service::load(db, account, contact_id(id)?, ctx.visible()).await?;
    let actor = (
        Some(admin.user().id),
        client.ip.clone(),
        client.user_agent.clone(),
    );
    crate::services::contacts::erase(db, account, conversation.phone_index, actor).await?;
    Ok(Redirect::to("/inbox"))
}
