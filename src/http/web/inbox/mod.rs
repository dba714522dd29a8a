//! The inbox, the team's workspace: the conversation list (search, filters) beside the open
//! conversation on a desktop, one at a time on a phone; a conversation's thread in words (media fetched
//! from Meta when looked at, never kept), kept current without reloading by `events` (Server-Sent
//! Events); the reply box (text inside the window, an approved template outside it, a file uploaded to
//! Meta, a saved reply), the conversation's state, assignee and internal notes (`workspace`). A plan
//! without the inbox shows why instead.

use super::Reply;
use super::context::Ctx;
use super::page::{Page, render};
use crate::config::Feature;
use crate::domain::meta::window::Window;
use crate::error::{Error, Result};
use crate::http::auth::{Admin, CsrfForm, HasCsrf, Member};
use crate::services::billing::Billing;
use crate::services::conversations as service;
use crate::store::conversations::{self, Conversation, Cursor, ThreadCursor};
use crate::store::retention::Visible;
use crate::store::{AccountId, Db, connections, now_ms, templates, workspace as store_workspace};
use askama::Template;
use rocket::form::FromForm;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{get, post, routes};
use serde_json::Value;
use std::sync::Arc;

mod bubbles;
mod events;
mod list;
mod media;
mod reply;
pub(crate) use reply::read_file;
mod workspace;

use bubbles::{Bubble, inbound_bubble, outbound_bubble};
use list::List;

pub fn routes() -> Vec<rocket::Route> {
    routes![
        inbox_page,
        conversation_page,
        reply::reply,
        reply::attach,
        erase_customer,
        media::inbox_media,
        events::inbox_events,
        workspace::set_state,
        workspace::assign,
        workspace::add_note,
        workspace::delete_note,
        workspace::add_saved_reply,
        workspace::delete_saved_reply,
    ]
}

const THREAD_SIZE: usize = 100;
/// Notes shown with a conversation (the newest).
const NOTES_SHOWN: usize = 100;

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

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage<'a> {
    page: &'a Page,
    list: List,
}

/// The page that stands in for the inbox when the account's plan does not include it.
async fn lacking(ctx: &Ctx<'_>, account: AccountId) -> Result<Option<Reply>> {
    let billing = ctx.state::<Arc<Billing>>()?;
    super::plan::lacking(&ctx.page, ctx.db, billing, account, Feature::Inbox).await
}

/// The list's query: a search, a filter, where the page starts.
#[derive(FromForm, Default)]
struct ListQuery {
    cursor: Option<String>,
    q: Option<String>,
    show: Option<String>,
}

#[get("/inbox?<query..>")]
async fn inbox_page(ctx: Ctx<'_>, member: Member<'_>, query: ListQuery) -> Result<Reply> {
    if let Some(lacking) = lacking(&ctx, member.account).await? {
        return Ok(lacking);
    }
    let asked = list::Asked {
        q: query.q.as_deref(),
        show: query.show.as_deref(),
        cursor: query.cursor.as_deref(),
        current: None,
    };
    let who = (member.account, member.user().id);
    let list = list::load(&ctx.page, ctx.db, who, asked, ctx.visible()).await?;
    Ok(Reply::Page((
        Status::Ok,
        render(InboxPage {
            page: &ctx.page,
            list,
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

/// A note of the team, as shown.
struct NoteView {
    id: i64,
    author: String,
    body: String,
    at: i64,
}

/// A saved reply, as offered.
struct SavedView {
    id: i64,
    title: String,
    body: String,
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPage<'a> {
    page: &'a Page,
    list: List,
    id: String,
    title: String,
    phone: String,
    number: String,
    can_reply: bool,
    open: bool,
    window: String,
    resolved: bool,
    assignee: Option<i64>,
    bubbles: Vec<Bubble>,
    older: Option<String>,
    choices: Vec<Choice>,
    notes: Vec<NoteView>,
    saved: Vec<SavedView>,
    form: &'a ReplyForm,
    notice: Option<String>,
    error: Option<&'a str>,
    /// A refused attachment, note or saved reply, in words.
    attach_error: Option<&'a str>,
    note_error: Option<&'a str>,
    saved_error: Option<&'a str>,
    /// The list's query, kept on this page's links and forms.
    keep: String,
}

/// What a conversation page shows, read in one go.
struct View {
    conversation: Conversation,
    thread: Vec<Value>,
    number: String,
    choices: Vec<Choice>,
    notes: Vec<store_workspace::Note>,
    saved: Vec<store_workspace::SavedReply>,
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
        let keyring = view_db.keyring();
        let conversation = conversations::find(conn, keyring, account, contact, visible)?
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
        let notes = store_workspace::notes(conn, keyring, account, contact, NOTES_SHOWN)?;
        let saved = store_workspace::saved_replies(conn, keyring, account)?;
        Ok(View {
            conversation,
            thread,
            number,
            choices,
            notes,
            saved,
        })
    })
    .await
}

/// Which conversation a page shows, how far back, and the list beside it.
struct At<'a> {
    account: AccountId,
    me: crate::store::users::UserId,
    contact: i64,
    before: Option<ThreadCursor>,
    visible: Visible,
    q: Option<&'a str>,
    show: Option<&'a str>,
}

/// What a conversation page says besides the conversation: the reply form as typed, a notice, the
/// refusal of a reply or of an attachment.
#[derive(Default)]
struct Said<'a> {
    notice: Option<String>,
    error: Option<&'a str>,
    attach_error: Option<&'a str>,
    note_error: Option<&'a str>,
    saved_error: Option<&'a str>,
}

async fn shown(
    page: &Page,
    db: &Db,
    at: At<'_>,
    form: &ReplyForm,
    said: Said<'_>,
) -> Result<Reply> {
    let At {
        account,
        me,
        contact,
        before,
        visible,
        q,
        show,
    } = at;
    let View {
        conversation,
        thread,
        number,
        choices,
        notes,
        saved,
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
        service::mark_seen(db, account, contact).await?;
    }
    let asked = list::Asked {
        q,
        show,
        cursor: None,
        current: Some(contact),
    };
    let list = list::load(page, db, (account, me), asked, visible).await?;
    let phone = service::display_phone(&conversation);
    let refused = [
        said.error,
        said.attach_error,
        said.note_error,
        said.saved_error,
    ];
    let status = if refused.iter().any(Option::is_some) {
        Status::UnprocessableEntity
    } else {
        Status::Ok
    };
    let unknown = page.t("inbox.former_member").to_owned();
    Ok(Reply::Page((
        status,
        render(ConversationPage {
            page,
            keep: list.keep.clone(),
            list,
            id: contact.to_string(),
            title: conversation
                .display_name()
                .map_or_else(|| phone.clone(), str::to_owned),
            can_reply: phone.starts_with('+'),
            phone,
            number,
            open: window.is_open(),
            window: window_text(page, window, now),
            resolved: conversation.resolved,
            assignee: conversation.assignee.map(|a| a.get()),
            bubbles,
            older,
            choices,
            notes: notes
                .into_iter()
                .map(|n| NoteView {
                    id: n.id,
                    author: n.author.unwrap_or_else(|| unknown.clone()),
                    body: n.body,
                    at: n.created_at,
                })
                .collect(),
            saved: saved
                .into_iter()
                .map(|s| SavedView {
                    id: s.id,
                    title: s.title,
                    body: s.body,
                })
                .collect(),
            form,
            notice: said.notice,
            error: said.error,
            attach_error: said.attach_error,
            note_error: said.note_error,
            saved_error: said.saved_error,
        })?,
    )))
}

fn contact_id(id: &str) -> Result<i64> {
    id.parse().map_err(|_| Error::NotFound)
}

/// A conversation page's query: how far back, the notice of a form just sent, the list's search and
/// filter, a saved reply to start the reply box with.
#[derive(FromForm, Default)]
struct ConversationQuery {
    before: Option<String>,
    done: Option<String>,
    q: Option<String>,
    show: Option<String>,
    saved: Option<i64>,
}

#[get("/inbox/<id>?<query..>")]
async fn conversation_page(
    id: &str,
    query: ConversationQuery,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    let ConversationQuery {
        before,
        done,
        q,
        show,
        saved,
    } = &query;
    let (before, done, q, show, saved) = (
        before.as_deref(),
        done.as_deref(),
        q.as_deref(),
        show.as_deref(),
        *saved,
    );
    if let Some(lacking) = lacking(&ctx, member.account).await? {
        return Ok(lacking);
    }
    let (visible, page, db, account) = (ctx.visible(), &ctx.page, ctx.db, member.account);
    let contact = contact_id(id)?;
    let before = before
        .and_then(Cursor::parse)
        .map(|c| ThreadCursor { at: c.at, id: c.id });
    let notice = page.notice("inbox", done);
    let at = At {
        account,
        me: member.user().id,
        contact,
        before,
        visible,
        q,
        show,
    };
    // A saved reply chosen without JavaScript: the reply box starts with it.
    let mut form = <ReplyForm as Default>::default();
    if let Some(saved) = saved {
        let key_db = db.clone();
        let replies = db
            .read_async(move |conn| store_workspace::saved_replies(conn, key_db.keyring(), account))
            .await?;
        if let Some(reply) = replies.into_iter().find(|r| r.id == saved) {
            form.text = reply.body;
        }
    }
    let said = Said {
        notice,
        ..Said::default()
    };
    shown(page, db, at, &form, said).await
}

/// Erases the conversation's customer (owners and admins): every message to and from the number on all of
/// the account's numbers, and the contact (`store::erasure::erase_customer`). The contact's page offers
/// it; the inbox links there.
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
