//! Conversations, for the API and the inbox: one per customer of each number, its 24-hour window, the
//! customer's number as shown, and a conversation's messages in both directions, newest first.

use crate::domain::meta::window::Window;
use crate::error::{Error, Result};
use crate::services::messages::{MessageError, MessageView, Timestamps, view};
use crate::store::conversations::{self, Conversation, Cursor, ThreadCursor};
use crate::store::retention::Visible;
use crate::store::states::MessageStatus;
use crate::store::{AccountId, Db, messages};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The customer-service window of a conversation: open until 24 hours after the customer last wrote;
/// unknown for a contact the business added that never wrote (`last_inbound_at` 0).
pub fn window(conversation: &Conversation, now: i64) -> Window {
    let last = conversation.last_inbound_at;
    Window::at((last > 0).then_some(last), now)
}

/// The customer's number for sending (`+<digits>`), or the username id Meta gave instead of one.
pub fn display_phone(conversation: &Conversation) -> String {
    let phone = &conversation.phone;
    if !phone.is_empty() && phone.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{phone}")
    } else {
        phone.clone()
    }
}

/// A conversation of the account, or 404 (another account's id, or one past retention, included).
pub async fn load(
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

/// [`thread_items`] as JSON, for the inbox page.
pub fn thread(
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
pub fn thread_items(
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
            view(db, &stored)?,
            stored.created_at,
            cursor(stored.created_at, stored.id.get()),
        )));
        items.push((stored.created_at, stored.id.get(), item));
    }
    items.sort_by_key(|item| std::cmp::Reverse((item.0, item.1)));
    items.truncate(limit);
    Ok(items.into_iter().map(|(_, _, item)| item).collect())
}

/// A message of a conversation, in either direction.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ThreadItem {
    Inbound(InboundItem),
    Outbound(Box<OutboundItem>),
}

impl ThreadItem {
    pub fn cursor(&self) -> &str {
        match self {
            ThreadItem::Inbound(item) => &item.cursor,
            ThreadItem::Outbound(item) => &item.cursor,
        }
    }
}

/// Direction of a message in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// A message from the customer, with Meta's type and item as received.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboundItem {
    /// Meta's time for the message.
    pub at: i64,
    /// Where the next page starts, when this is the page's last item.
    pub cursor: String,
    /// `inbound`.
    pub direction: Direction,
    pub id: String,
    /// Meta's object of the message's type.
    #[schema(value_type = Object)]
    pub message: Value,
    pub received_at: i64,
    pub seen_at: Option<i64>,
    #[serde(rename = "type")]
    pub kind: String,
    pub wamid: String,
}

/// A message to the customer: the message as `GET /api/v1/messages/<id>` shows it, and where it sits.
/// (Written out rather than flattened, to keep the keys in order.)
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutboundItem {
    /// When it was queued.
    pub at: i64,
    pub attempts: i64,
    pub connection_id: String,
    pub cursor: String,
    /// `outbound`.
    pub direction: Direction,
    pub error: Option<MessageError>,
    pub id: String,
    #[schema(value_type = Object)]
    pub message: Value,
    pub status: MessageStatus,
    pub timestamps: Timestamps,
    pub to: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub wamid: Option<String>,
}

impl OutboundItem {
    pub fn new(view: MessageView, at: i64, cursor: String) -> Self {
        OutboundItem {
            at,
            attempts: view.attempts,
            connection_id: view.connection_id,
            cursor,
            direction: Direction::Outbound,
            error: view.error,
            id: view.id,
            message: view.message,
            status: view.status,
            timestamps: view.timestamps,
            to: view.to,
            kind: view.kind,
            wamid: view.wamid,
        }
    }
}
