//! Conversations, for the API and the inbox: one per customer of each number, its 24-hour window, the
//! customer's number as shown, and a conversation's messages in both directions, newest first.

use crate::domain::meta::message::MessageType;
use crate::domain::meta::window::Window;
use crate::error::{Error, Result};
use crate::services::messages::{MessageError, MessageView, Timestamps, view};
use crate::store::connections::ConnectionId;
use crate::store::conversations::{self, Conversation, Cursor, Filter, ThreadCursor};
use crate::store::live::Change;
use crate::store::messages::MessageId;
use crate::store::retention::Visible;
use crate::store::states::MessageStatus;
use crate::store::users::UserId;
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

/// Tells the pages watching the inbox that messages moved to `status` (after the commit that moved
/// them): each with its conversation, when the customer ever wrote. A failed read only costs the live
/// view its tick (the page shows the status when read again).
pub fn publish_statuses(db: &Db, moved: &[(AccountId, MessageId)], status: MessageStatus) {
    let found = db.read(|conn| {
        moved
            .iter()
            .map(|(account, id)| {
                Ok((
                    *account,
                    *id,
                    conversations::contact_of_message(conn, *account, *id)?,
                ))
            })
            .collect::<Result<Vec<_>>>()
    });
    match found {
        Ok(found) => {
            for (account, id, contact) in found {
                db.live().publish(
                    account,
                    [Change::Status {
                        contact,
                        message: id.get(),
                        status: status.as_str().to_owned(),
                    }],
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot tell the inbox of a status"),
    }
}

/// Marks a conversation's messages seen (the thread is being read), and tells the pages watching.
pub async fn mark_seen(db: &Db, account: AccountId, contact: i64) -> Result<()> {
    let now = crate::store::now_ms();
    db.write_async(move |conn| conversations::mark_seen(conn, account, contact, now))
        .await?;
    db.live()
        .publish(account, [Change::Unread { contact, unread: 0 }]);
    Ok(())
}

/// Conversations a name search looks through: the most recent ones (names are sealed, so they are
/// opened and compared here rather than searched in SQL).
pub const NAME_SEARCH_SCOPE: usize = 500;

/// Which conversations the inbox lists.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// `Some(true)`: resolved only; `Some(false)`: open only.
    pub resolved: Option<bool>,
    /// Assigned to this member only.
    pub assignee: Option<UserId>,
    /// A number (found through its blind index), or part of a name or number (among the
    /// `NAME_SEARCH_SCOPE` most recent conversations).
    pub search: String,
    pub after: Option<Cursor>,
    pub limit: usize,
}

/// A conversation in the list, with its newest message (as `thread` gives it).
pub struct Listed {
    pub conversation: Conversation,
    pub last: Option<Value>,
}

/// The inbox's list: the account's conversations the query asks for, most recent first, each with its
/// newest message; and whether the list may go on after its last one (a search answers one page).
pub async fn list_page(
    db: &Db,
    account: AccountId,
    query: ListQuery,
    visible: Visible,
) -> Result<(Vec<Listed>, bool)> {
    let list_db = db.clone();
    db.read_async(move |conn| {
        let keyring = list_db.keyring();
        let mut filter = Filter {
            resolved: query.resolved,
            assignee: query.assignee,
            ..Filter::default()
        };
        let search = query.search.trim();
        let number = (!search.is_empty())
            .then(|| crate::domain::meta::validate::normalize_phone(search))
            .flatten();
        let (list, pages) = if let Some(digits) = number {
            filter.phone_index = Some(keyring.phone_index(account, &digits)?);
            let list = conversations::list_filtered(
                conn,
                keyring,
                account,
                &filter,
                None,
                query.limit,
                visible,
            )?;
            (list, false)
        } else if !search.is_empty() {
            let words = search.to_lowercase();
            let digits: String = search.chars().filter(char::is_ascii_digit).collect();
            let list = conversations::list_filtered(
                conn,
                keyring,
                account,
                &filter,
                None,
                NAME_SEARCH_SCOPE,
                visible,
            )?
            .into_iter()
            .filter(|c| {
                c.display_name()
                    .is_some_and(|n| n.to_lowercase().contains(&words))
                    || (digits.len() >= 3 && c.phone.contains(&digits))
            })
            .take(query.limit)
            .collect();
            (list, false)
        } else {
            let list = conversations::list_filtered(
                conn,
                keyring,
                account,
                &filter,
                query.after,
                query.limit,
                visible,
            )?;
            (list, true)
        };
        let listed = list
            .into_iter()
            .map(|conversation| {
                let last = thread(&list_db, conn, account, &conversation, None, 1, visible)?
                    .into_iter()
                    .next();
                Ok(Listed { conversation, last })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((listed, pages))
    })
    .await
}

/// The largest file the inbox sends: Meta's limit for video and audio (images take 5 MB, documents
/// 100 MB, of which the inbox sends up to this).
pub const UPLOAD_LIMIT: u64 = 16 * 1024 * 1024;

/// The message type Meta sends a file of this type as, and the most bytes it takes; None for a type
/// WhatsApp does not take.
pub fn media_rules(mime: &str) -> Option<(MessageType, u64)> {
    const MB: u64 = 1024 * 1024;
    let rule = match mime {
        "image/jpeg" | "image/png" => (MessageType::Image, 5 * MB),
        "video/mp4" | "video/3gpp" => (MessageType::Video, 16 * MB),
        "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/mp4" | "audio/ogg" => {
            (MessageType::Audio, 16 * MB)
        }
        "text/plain"
        | "application/pdf"
        | "application/msword"
        | "application/vnd.ms-excel"
        | "application/vnd.ms-powerpoint"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
            (MessageType::Document, 100 * MB)
        }
        _ => return None,
    };
    Some((rule.0, rule.1.min(UPLOAD_LIMIT)))
}

/// Uploads a file to Meta's media endpoint for the conversation's number (`POST /{phone_number_id}/media`);
/// Meta's media id, to send it by.
pub async fn upload_media(
    db: &Db,
    agent: &ureq::Agent,
    account: AccountId,
    connection_id: ConnectionId,
    file: Attachment,
) -> Result<String> {
    let secrets_db = db.clone();
    let (connection, token) = db
        .read_async(move |conn| {
            let connection = crate::store::connections::find(conn, account, connection_id)?
                .ok_or(Error::NotFound)?;
            let token = crate::store::connections::secrets(
                conn,
                secrets_db.keyring(),
                account,
                connection.id,
            )?
            .access_token;
            Ok((connection, token))
        })
        .await?;
    let agent = agent.clone();
    crate::blocking::run("media upload", move || {
        crate::outbound::graph::Graph::of(&agent, &connection, &token)
            .upload_media(
                &connection.phone_number_id,
                &file.mime,
                &file.filename,
                &file.bytes,
            )
            .map_err(|e| e.unavailable("the upload"))
    })
    .await?
}

/// A file to send: its type, name and bytes.
pub struct Attachment {
    pub mime: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// Tells the pages watching the inbox that a message to the conversation's customer was queued (after
/// its commit).
pub fn tell_queued(db: &Db, account: AccountId, contact: i64, message_id: &str) {
    if let Ok(message) = message_id.parse() {
        db.live().publish(
            account,
            [Change::Message {
                contact,
                message,
                direction: crate::store::live::Direction::Outbound,
                unread: None,
            }],
        );
    }
}
