//! `/api/v1/conversations`: the inbox. One conversation per customer of each number, the most recent
//! first, with how many of the customer's messages nobody has seen yet and the 24-hour window; a
//! conversation's messages in both directions, each inbound one with Meta's type and item as received.

use super::ApiAuth;
use super::query::{PageSize, Query};
use crate::error::{Error, Result};
use crate::store::conversations::{self, Conversation, Cursor, ThreadCursor};
use crate::store::retention::Visible;
use crate::store::{AccountId, Db, connections::ConnectionId, contacts, messages, now_ms};
use rocket::serde::json::Json;
use rocket::{State, get, post, routes};
use serde_json::{Value, json};

pub fn routes() -> Vec<rocket::Route> {
    routes![list_conversations, get_conversation, mark_conversation_seen]
}

/// The customer-service window of a conversation: open until 24 hours after the customer last wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub open: bool,
    pub expires_at: i64,
}

impl Window {
    pub fn of(conversation: &Conversation, now: i64) -> Window {
        let expires_at = conversation.last_inbound_at + contacts::WINDOW_MS;
        Window {
            open: now < expires_at,
            expires_at,
        }
    }

    pub fn to_json(self) -> Value {
        json!({"state": if self.open { "open" } else { "closed" }, "expires_at": self.expires_at})
    }
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

pub(crate) fn conversation_json(conversation: &Conversation, now: i64) -> Value {
    json!({
        "id": conversation.contact_id.to_string(),
        "connection_id": conversation.connection_id.get().to_string(),
        "phone": display_phone(conversation),
        "name": conversation.profile_name,
        "last_message_at": conversation.last_message_at,
        "last_inbound_at": conversation.last_inbound_at,
        "unread_count": conversation.unread,
        "customer_service_window": Window::of(conversation, now).to_json(),
    })
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
        let key = key_db.keyring().data_key(account)?;
        conversations::find(conn, &key, account, contact, visible)?.ok_or(Error::NotFound)
    })
    .await
}

/// A thread cursor: `<ms>_<id>` of the oldest item of the previous page.
fn thread_cursor(text: &str) -> Option<ThreadCursor> {
    Cursor::parse(text).map(|c| ThreadCursor { at: c.at, id: c.id })
}

/// The newest `limit` messages of a conversation before `before`, both directions merged, newest first.
/// Each item has `direction` ("inbound" or "outbound") and `at` (Meta's time for inbound messages, the
/// time it was queued for outbound ones). Nothing past retention.
pub(crate) fn thread(
    db: &Db,
    conn: &rusqlite::Connection,
    account: AccountId,
    conversation: &Conversation,
    before: Option<ThreadCursor>,
    limit: usize,
    visible: Visible,
) -> Result<Vec<Value>> {
    let key = db.keyring().data_key(account)?;
    let mut items: Vec<(i64, i64, Value)> = conversations::inbound_messages(
        conn,
        &key,
        account,
        conversation.contact_id,
        before,
        limit,
        visible,
    )?
    .into_iter()
    .map(|m| {
        let item = json!({
            "direction": "inbound",
            "id": m.id.to_string(),
            "wamid": m.meta_id,
            "type": m.kind,
            "at": m.sent_at,
            "received_at": m.received_at,
            "seen_at": m.seen_at,
            "message": m.body,
        });
        (m.sent_at, m.id, item)
    })
    .collect();
    for id in conversations::outbound_ids(conn, account, conversation, before, limit, visible)? {
        let Some(stored) = messages::find(conn, account, id, visible)? else {
            continue;
        };
        let mut item = super::messages::to_json(db, &stored)?;
        item["direction"] = json!("outbound");
        item["at"] = json!(stored.created_at);
        items.push((stored.created_at, stored.id.get(), item));
    }
    items.sort_by_key(|item| std::cmp::Reverse((item.0, item.1)));
    items.truncate(limit);
    Ok(items
        .into_iter()
        .map(|(at, id, mut item)| {
            item["cursor"] = json!(Cursor { at, id }.text());
            item
        })
        .collect())
}

/// How many conversations, or messages of one, a page holds.
const PAGE: PageSize = PageSize {
    default: 50,
    max: 200,
};

fn not_a_cursor() -> Error {
    Error::invalid("cursor", "must be the next_cursor of an earlier page")
}

#[get("/api/v1/conversations")]
async fn list_conversations(
    auth: ApiAuth,
    visible: Visible,
    query: Query,
    db: &State<Db>,
) -> Result<Json<Value>> {
    let query = query.allow(&["connection_id", "cursor", "limit"])?;
    let connection = query.id("connection_id")?.map(ConnectionId::from_raw);
    let after = query
        .text("cursor")
        .map(|c| Cursor::parse(c).ok_or_else(not_a_cursor))
        .transpose()?;
    let limit = query.limit(PAGE)?;
    let key_db = db.inner().clone();
    let page = db
        .read_async(move |conn| {
            let key = key_db.keyring().data_key(auth.account)?;
            conversations::list(conn, &key, auth.account, connection, after, limit, visible)
        })
        .await?;
    let now = now_ms();
    let next = (page.len() == limit)
        .then(|| page.last())
        .flatten()
        .map(|c| {
            Cursor {
                at: c.last_message_at,
                id: c.contact_id,
            }
            .text()
        });
    let data: Vec<Value> = page.iter().map(|c| conversation_json(c, now)).collect();
    Ok(Json(json!({ "data": data, "next_cursor": next })))
}

#[get("/api/v1/conversations/<id>")]
async fn get_conversation(
    id: &str,
    auth: ApiAuth,
    visible: Visible,
    query: Query,
    db: &State<Db>,
) -> Result<Json<Value>> {
    let query = query.allow(&["cursor", "limit"])?;
    let before = query
        .text("cursor")
        .map(|c| thread_cursor(c).ok_or_else(not_a_cursor))
        .transpose()?;
    let limit = query.limit(PAGE)?;
    let contact = parse_contact(id)?;
    let view_db = db.inner().clone();
    let (conversation, messages) = db
        .read_async(move |conn| {
            let key = view_db.keyring().data_key(auth.account)?;
            let conversation = conversations::find(conn, &key, auth.account, contact, visible)?
                .ok_or(Error::NotFound)?;
            let messages = thread(
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
    let next = (messages.len() == limit)
        .then(|| messages.last().map(|m| m["cursor"].clone()))
        .flatten();
    Ok(Json(json!({
        "contact": conversation_json(&conversation, now),
        "customer_service_window": Window::of(&conversation, now).to_json(),
        "messages": messages,
        "next_cursor": next,
    })))
}

#[post("/api/v1/conversations/<id>/seen")]
async fn mark_conversation_seen(
    id: &str,
    auth: ApiAuth,
    visible: Visible,
    db: &State<Db>,
) -> Result<Json<Value>> {
    let contact = parse_contact(id)?;
    load(db, auth.account, contact, visible).await?;
    let marked = db
        .write_async(move |conn| conversations::mark_seen(conn, auth.account, contact, now_ms()))
        .await?;
    Ok(Json(
        json!({ "id": contact.to_string(), "marked_seen": marked, "unread_count": 0 }),
    ))
}
