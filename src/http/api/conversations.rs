//! `/api/v1/conversations`: the inbox. One conversation per customer of each number, the most recent
//! first, with how many of the customer's messages nobody has seen yet and the 24-hour window; a
//! conversation's messages in both directions, each inbound one with Meta's type and item as received.

use super::ApiAuth;
use super::examples;
use super::pager::Pager;
use super::query::{PageSize, Query};
use super::schema::conversations::{
    ConversationDetail, ConversationList, ConversationSeen, ConversationView, Direction,
    InboundItem, OutboundItem, ThreadItem,
};
use super::schema::errors::ReadErrors;
use crate::domain::meta::window::Window;
use crate::error::{Error, Result};
use crate::store::conversations::{self, Conversation, Cursor, ThreadCursor};
use crate::store::retention::Visible;
use crate::store::{AccountId, Db, connections::ConnectionId, messages, now_ms};
use rocket::serde::json::Json;
use rocket::{State, get, post, routes};
use serde_json::Value;

pub fn routes() -> Vec<rocket::Route> {
    routes![list_conversations, get_conversation, mark_conversation_seen]
}

/// The customer-service window of a conversation: open until 24 hours after the customer last wrote.
pub(crate) fn window(conversation: &Conversation, now: i64) -> Window {
    Window::at(Some(conversation.last_inbound_at), now)
}

/// The customer's number for sending (`+<digits>`), or the username id Meta gave instead of one.
pub(crate) fn display_phone(conversation: &Conversation) -> String {
    let phone = &conversation.phone;
    if !phone.is_empty() && phone.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{phone}")
    } else {
        phone.clone()
    }
}

fn conversation_view(conversation: &Conversation, now: i64) -> ConversationView {
    ConversationView {
        connection_id: conversation.connection_id.get().to_string(),
        customer_service_window: window(conversation, now).into(),
        id: conversation.contact_id.to_string(),
        last_inbound_at: conversation.last_inbound_at,
        last_message_at: conversation.last_message_at,
        name: conversation.profile_name.clone(),
        phone: display_phone(conversation),
        unread_count: conversation.unread,
    }
}

fn parse_contact(id: &str) -> Result<i64> {
    id.parse().map_err(|_| Error::NotFound)
}

/// A conversation of the account, or 404 (another account's id, or one past retention, included).
pub(crate) async fn load(
    db: &Db,
    account: AccountId,
    contact: i64,
    visible: Visible,
) -> Result<Conversation> {
    let key_db = db.clone();
    db.read_async(move |conn| {
        conversations::find(conn, key_db.keyring(), account, contact, visible)?
            .ok_or(Error::NotFound)
    })
    .await
}

/// A thread cursor: `<ms>_<id>` of the oldest item of the previous page.
fn thread_cursor(text: &str) -> Option<ThreadCursor> {
    Cursor::parse(text).map(|c| ThreadCursor { at: c.at, id: c.id })
}

/// [`thread_items`] as JSON, for the inbox page.
pub(crate) fn thread(
    db: &Db,
    conn: &rusqlite::Connection,
    account: AccountId,
    conversation: &Conversation,
    before: Option<ThreadCursor>,
    limit: usize,
    visible: Visible,
) -> Result<Vec<Value>> {
    thread_items(db, conn, account, conversation, before, limit, visible)?
        .into_iter()
        .map(|item| serde_json::to_value(item).map_err(|e| Error::Internal(e.into())))
        .collect()
}

/// The newest `limit` messages of a conversation before `before`, both directions merged, newest first.
/// Each item has `direction` ("inbound" or "outbound") and `at` (Meta's time for inbound messages, the
/// time it was queued for outbound ones). Nothing past retention.
fn thread_items(
    db: &Db,
    conn: &rusqlite::Connection,
    account: AccountId,
    conversation: &Conversation,
    before: Option<ThreadCursor>,
    limit: usize,
    visible: Visible,
) -> Result<Vec<ThreadItem>> {
    let cursor = |at, id| Cursor { at, id }.text();
    let mut items: Vec<(i64, i64, ThreadItem)> = conversations::inbound_messages(
        conn,
        db.keyring(),
        account,
        conversation.contact_id,
        before,
        limit,
        visible,
    )?
    .into_iter()
    .map(|m| {
        let item = ThreadItem::Inbound(InboundItem {
            at: m.sent_at,
            cursor: cursor(m.sent_at, m.id),
            direction: Direction::Inbound,
            id: m.id.to_string(),
            message: m.body,
            received_at: m.received_at,
            seen_at: m.seen_at,
            kind: m.kind,
            wamid: m.meta_id,
        });
        (m.sent_at, m.id, item)
    })
    .collect();
    for id in conversations::outbound_ids(conn, account, conversation, before, limit, visible)? {
        let Some(stored) = messages::find(conn, account, id, visible)? else {
            continue;
        };
        let item = ThreadItem::Outbound(Box::new(OutboundItem::new(
            super::messages::view(db, &stored)?,
            stored.created_at,
            cursor(stored.created_at, stored.id.get()),
        )));
        items.push((stored.created_at, stored.id.get(), item));
    }
    items.sort_by_key(|item| std::cmp::Reverse((item.0, item.1)));
    items.truncate(limit);
    Ok(items.into_iter().map(|(_, _, item)| item).collect())
}

/// How many conversations, or messages of one, a page holds.
const PAGE: PageSize = PageSize {
    default: 50,
    max: 200,
};

/// Conversations, the most recently active first.
#[utoipa::path(
    get,
    path = "/api/v1/conversations",
    tag = "conversations",
    params(
        ("connection_id" = Option<String>, Query, description = "Only conversations of this connection."),
        ("cursor" = Option<String>, Query, description = "The next_cursor of an earlier page."),
        ("limit" = Option<i64>, Query, description = "1 to 200; default 50."),
    ),
    responses(
        (status = 200, body = ConversationList, example = examples::conversation_list),
        ReadErrors,
    ),
)]
#[get("/api/v1/conversations")]
async fn list_conversations(
    auth: ApiAuth,
    visible: Visible,
    query: Query,
    db: &State<Db>,
) -> Result<Json<ConversationList>> {
    let query = query.allow(&["connection_id", "cursor", "limit"])?;
    let connection = query.id("connection_id")?.map(ConnectionId::from_raw);
    let pager = Pager::from_query(query, PAGE, Cursor::parse)?;
    let (after, limit) = (pager.after, pager.limit);
    let key_db = db.inner().clone();
    let page = db
        .read_async(move |conn| {
            conversations::list(
                conn,
                key_db.keyring(),
                auth.account,
                connection,
                after,
                limit,
                visible,
            )
        })
        .await?;
    let now = now_ms();
    let next = pager.next_cursor(&page, |c| {
        Some(
            Cursor {
                at: c.last_message_at,
                id: c.contact_id,
            }
            .text(),
        )
    });
    let data = page.iter().map(|c| conversation_view(c, now)).collect();
    Ok(Json(ConversationList {
        data,
        next_cursor: next,
    }))
}

/// A conversation and a page of its messages in both directions, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}",
    tag = "conversations",
    params(
        ("id" = String, Path, description = "The conversation's id."),
        ("cursor" = Option<String>, Query, description = "The next_cursor of an earlier page."),
        ("limit" = Option<i64>, Query, description = "1 to 200; default 50."),
    ),
    responses(
        (status = 200, body = ConversationDetail, example = examples::conversation_detail),
        ReadErrors,
    ),
)]
#[get("/api/v1/conversations/<id>")]
async fn get_conversation(
    id: &str,
    auth: ApiAuth,
    visible: Visible,
    query: Query,
    db: &State<Db>,
) -> Result<Json<ConversationDetail>> {
    let query = query.allow(&["cursor", "limit"])?;
    let pager = Pager::from_query(query, PAGE, thread_cursor)?;
    let (before, limit) = (pager.after, pager.limit);
    let contact = parse_contact(id)?;
    let view_db = db.inner().clone();
    let (conversation, messages) = db
        .read_async(move |conn| {
            let conversation =
                conversations::find(conn, view_db.keyring(), auth.account, contact, visible)?
                    .ok_or(Error::NotFound)?;
            let messages = thread_items(
                &view_db,
                conn,
                auth.account,
                &conversation,
                before,
                limit,
                visible,
            )?;
            Ok((conversation, messages))
        })
        .await?;
    let now = now_ms();
    let next_cursor = pager.next_cursor(&messages, |m| Some(m.cursor().to_owned()));
    Ok(Json(ConversationDetail {
        contact: conversation_view(&conversation, now),
        customer_service_window: window(&conversation, now).into(),
        messages,
        next_cursor,
    }))
}

/// Marks the customer's messages as seen.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/seen",
    tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id.")),
    responses(
        (status = 200, body = ConversationSeen, example = examples::conversation_seen),
        ReadErrors,
    ),
)]
#[post("/api/v1/conversations/<id>/seen")]
async fn mark_conversation_seen(
    id: &str,
    auth: ApiAuth,
    visible: Visible,
    db: &State<Db>,
) -> Result<Json<ConversationSeen>> {
    let contact = parse_contact(id)?;
    load(db, auth.account, contact, visible).await?;
    let marked = db
        .write_async(move |conn| conversations::mark_seen(conn, auth.account, contact, now_ms()))
        .await?;
    Ok(Json(ConversationSeen {
        id: contact.to_string(),
        marked_seen: marked,
        unread_count: 0,
    }))
}
