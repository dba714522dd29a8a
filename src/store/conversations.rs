//! The inbox: one conversation per contact (a customer of one of the account's numbers), newest first,
//! with what the customer wrote and what was sent to them. Every query is bound to the account, so
//! another account's contact id finds nothing. Sealed columns are opened here with the account's key.

use super::AccountId;
use super::connections::ConnectionId;
use super::keys::Keyring;
use super::messages::MessageId;
use super::retention::Visible;
use super::users::UserId;
use super::{contacts, inbound};
use crate::crypto::Key;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

/// A contact as the inbox shows it, opened.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub contact_id: i64,
    pub connection_id: ConnectionId,
    /// Digits only (or, for a customer Meta names only by a username, that id).
    pub phone: String,
    /// The name the customer gave themselves on WhatsApp.
    pub profile_name: Option<String>,
    /// The name the business gave them (on the contact's page).
    pub name: Option<String>,
    pub phone_index: Vec<u8>,
    pub last_inbound_at: i64,
    pub last_message_at: i64,
    pub unread: i64,
    /// Resolved by the team (a new message from the customer opens it again).
    pub resolved: bool,
    /// The team member it is assigned to.
    pub assignee: Option<UserId>,
}

impl Conversation {
    /// The name the pages show: the business's name for the customer, else their WhatsApp profile name.
    pub fn display_name(&self) -> Option<&str> {
        self.name.as_deref().or(self.profile_name.as_deref())
    }
}

/// Which conversations a list shows (all by default).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// One number's conversations only.
    pub connection: Option<ConnectionId>,
    /// `Some(true)`: resolved only; `Some(false)`: open only.
    pub resolved: Option<bool>,
    /// Those assigned to this member only.
    pub assignee: Option<UserId>,
    /// The customer with this number's blind index only.
    pub phone_index: Option<Vec<u8>>,
}

/// Where a page of conversations starts: after this (last message time, contact id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: i64,
    pub id: i64,
}

impl Cursor {
    /// `<ms>_<id>`, as the API hands it out.
    pub fn parse(text: &str) -> Option<Cursor> {
        let (at, id) = text.split_once('_')?;
        Some(Cursor {
            at: at.parse().ok()?,
            id: id.parse().ok()?,
        })
    }

    pub fn text(&self) -> String {
        format!("{}_{}", self.at, self.id)
    }
}

/// The columns of a conversation; `visible` names the parameter holding where retention starts, so that
/// messages past it are not counted as unread.
fn columns(visible: &str) -> String {
    format!(
        "c.id, c.connection_id, c.phone, c.profile_name, c.phone_index, c.last_inbound_at,
         coalesce(c.last_message_at, c.last_inbound_at) AS recent,
         (SELECT count(*) FROM inbound_messages i
          WHERE i.contact_id = c.id AND i.seen_at IS NULL AND i.received_at >= {visible}) AS unread,
         (SELECT s.resolved_at FROM conversation_states s WHERE s.contact_id = c.id) AS resolved_at,
         (SELECT s.assignee_id FROM conversation_states s WHERE s.contact_id = c.id) AS assignee,
         c.name"
    )
}

/// The condition of a conversation being resolved (on the columns above).
const RESOLVED: &str = "(resolved_at IS NOT NULL)";

struct Sealed {
    contact_id: i64,
    connection_id: i64,
    phone: Option<Vec<u8>>,
    profile_name: Option<Vec<u8>>,
    phone_index: Vec<u8>,
    last_inbound_at: i64,
    recent: i64,
    unread: i64,
    resolved_at: Option<i64>,
    assignee: Option<i64>,
    name: Option<Vec<u8>>,
}

fn sealed(r: &Row<'_>) -> rusqlite::Result<Sealed> {
    Ok(Sealed {
        contact_id: r.get(0)?,
        connection_id: r.get(1)?,
        phone: r.get(2)?,
        profile_name: r.get(3)?,
        phone_index: r.get(4)?,
        last_inbound_at: r.get(5)?,
        recent: r.get(6)?,
        unread: r.get(7)?,
        resolved_at: r.get(8)?,
        assignee: r.get(9)?,
        name: r.get(10)?,
    })
}

fn open(key: &Key, account: AccountId, row: Sealed) -> Result<Conversation> {
    let text = |column: &'static str, value: &Option<Vec<u8>>| -> Result<Option<String>> {
        value
            .as_ref()
            .map(|sealed| {
                let plain = key.open(&contacts::place(account, row.contact_id, column), sealed)?;
                Ok(String::from_utf8_lossy(&plain).into_owned())
            })
            .transpose()
    };
    Ok(Conversation {
        contact_id: row.contact_id,
        connection_id: ConnectionId(row.connection_id),
        phone: text("phone", &row.phone)?.unwrap_or_default(),
        profile_name: text("profile_name", &row.profile_name)?,
        name: text("name", &row.name)?,
        phone_index: row.phone_index.clone(),
        last_inbound_at: row.last_inbound_at,
        last_message_at: row.recent,
        unread: row.unread,
        resolved: row.resolved_at.is_some_and(|at| at >= row.last_inbound_at),
        assignee: row.assignee.map(UserId),
    })
}

/// The account's conversations, the most recent first, `limit` of them after `after`. A conversation
/// whose last message is past retention is not listed.
pub fn list(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    connection: Option<ConnectionId>,
    after: Option<Cursor>,
    limit: usize,
    visible: Visible,
) -> Result<Vec<Conversation>> {
    let filter = Filter {
        connection,
        ..Filter::default()
    };
    list_filtered(conn, keyring, account, &filter, after, limit, visible)
}

/// [`list`], only the conversations the filter lets through.
pub fn list_filtered(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    filter: &Filter,
    after: Option<Cursor>,
    limit: usize,
    visible: Visible,
) -> Result<Vec<Conversation>> {
    let key = keyring.data_key(account)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM contacts c
         WHERE c.account_id = ?1 AND (?2 IS NULL OR c.connection_id = ?2)
           AND (?3 IS NULL OR recent < ?3 OR (recent = ?3 AND c.id < ?4)) AND recent >= ?6
           AND (?7 IS NULL OR (?7 = 1) = {RESOLVED})
           AND (?8 IS NULL OR assignee = ?8)
           AND (?9 IS NULL OR c.phone_index = ?9)
         ORDER BY recent DESC, c.id DESC LIMIT ?5",
        columns("?6")
    ))?;
    let rows = stmt
        .query_map(
            params![
                account.0,
                filter.connection.map(|c| c.0),
                after.map(|c| c.at),
                after.map(|c| c.id),
                limit as i64,
                visible.from,
                filter.resolved,
                filter.assignee.map(|u| u.0),
                filter.phone_index,
            ],
            sealed,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(|r| open(&key, account, r)).collect()
}

/// One conversation of the account; `None` for another account's contact, or one whose last message is
/// past retention.
pub fn find(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    contact: i64,
    visible: Visible,
) -> Result<Option<Conversation>> {
    let key = keyring.data_key(account)?;
    let row = conn
        .prepare_cached(&format!(
            "SELECT {} FROM contacts c WHERE c.id = ?1 AND c.account_id = ?2 AND recent >= ?3",
            columns("?3")
        ))?
        .query_row(params![contact, account.0, visible.from], sealed)
        .optional()?;
    row.map(|r| open(&key, account, r)).transpose()
}

/// A message the customer sent, opened: `body` is the whole item as Meta sent it.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub id: i64,
    pub contact_id: i64,
    pub connection_id: ConnectionId,
    pub meta_id: String,
    pub kind: String,
    pub body: Value,
    pub sent_at: i64,
    pub received_at: i64,
    pub seen_at: Option<i64>,
}

const INBOUND_COLUMNS: &str =
    "id, contact_id, connection_id, meta_id, type, body, sent_at, received_at, seen_at";

fn open_inbound(key: &Key, account: AccountId, r: &Row<'_>) -> Result<Inbound> {
    let id: i64 = r.get(0)?;
    let sealed: Vec<u8> = r.get(5)?;
    let plain = key.open(&inbound::body_place(account, id), &sealed)?;
    Ok(Inbound {
        id,
        contact_id: r.get(1)?,
        connection_id: ConnectionId(r.get(2)?),
        meta_id: r.get(3)?,
        kind: r.get(4)?,
        body: serde_json::from_slice(&plain).unwrap_or(Value::Null),
        sent_at: r.get(6)?,
        received_at: r.get(7)?,
        seen_at: r.get(8)?,
    })
}

/// A point in a thread: items older than (time, id) come after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadCursor {
    pub at: i64,
    pub id: i64,
}

/// The customer's messages in a conversation, newest first (by the time Meta stated), before `before`;
/// none past retention.
pub fn inbound_messages(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    contact: i64,
    before: Option<ThreadCursor>,
    limit: usize,
    visible: Visible,
) -> Result<Vec<Inbound>> {
    let key = keyring.data_key(account)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {INBOUND_COLUMNS} FROM inbound_messages
         WHERE account_id = ?1 AND contact_id = ?2
           AND (?3 IS NULL OR sent_at < ?3 OR (sent_at = ?3 AND id < ?4)) AND received_at >= ?6
         ORDER BY sent_at DESC, id DESC LIMIT ?5"
    ))?;
    let mut rows = stmt.query(params![
        account.0,
        contact,
        before.map(|c| c.at),
        before.map(|c| c.id),
        limit as i64,
        visible.from
    ])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(open_inbound(&key, account, r)?);
    }
    Ok(out)
}

/// One message a customer sent, if it is the account's and not past retention.
pub fn find_inbound(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    id: i64,
    visible: Visible,
) -> Result<Option<Inbound>> {
    let key = keyring.data_key(account)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {INBOUND_COLUMNS} FROM inbound_messages WHERE id = ?1 AND account_id = ?2 AND received_at >= ?3"
    ))?;
    let mut rows = stmt.query(params![id, account.0, visible.from])?;
    match rows.next()? {
        Some(r) => Ok(Some(open_inbound(&key, account, r)?)),
        None => Ok(None),
    }
}

/// The ids of the messages sent to the conversation's customer from its number, newest first (by the
/// time they were queued), before `before`; none past retention. The recipient's blind index is the
/// contact's.
pub fn outbound_ids(
    conn: &Connection,
    account: AccountId,
    conversation: &Conversation,
    before: Option<ThreadCursor>,
    limit: usize,
    visible: Visible,
) -> Result<Vec<MessageId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM messages
         WHERE account_id = ?1 AND connection_id = ?2 AND recipient_index = ?3
           AND (?4 IS NULL OR created_at < ?4 OR (created_at = ?4 AND id < ?5)) AND created_at >= ?7
         ORDER BY created_at DESC, id DESC LIMIT ?6",
    )?;
    let ids = stmt
        .query_map(
            params![
                account.0,
                conversation.connection_id.0,
                conversation.phone_index,
                before.map(|c| c.at),
                before.map(|c| c.id),
                limit as i64,
                visible.from
            ],
            |r| r.get(0).map(MessageId),
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// Marks everything the customer wrote as seen; how many messages were unread.
pub fn mark_seen(conn: &Connection, account: AccountId, contact: i64, now: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE inbound_messages SET seen_at = ?3
             WHERE account_id = ?1 AND contact_id = ?2 AND seen_at IS NULL",
        )?
        .execute(params![account.0, contact, now])?)
}

/// The customer's unread messages in a conversation.
pub fn unread(conn: &Connection, account: AccountId, contact: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM inbound_messages
             WHERE account_id = ?1 AND contact_id = ?2 AND seen_at IS NULL",
        )?
        .query_row(params![account.0, contact], |r| r.get(0))?)
}

/// The conversation (contact id) a message to a customer belongs to: the contact of its number and
/// recipient, if the customer ever wrote.
pub fn contact_of_message(
    conn: &Connection,
    account: AccountId,
    message: MessageId,
) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT c.id FROM messages m
             JOIN contacts c ON c.account_id = m.account_id AND c.connection_id = m.connection_id
                            AND c.phone_index = m.recipient_index
             WHERE m.id = ?1 AND m.account_id = ?2",
        )?
        .query_row(params![message.0, account.0], |r| r.get(0))
        .optional()?)
}

/// The media id an inbound message carries (image, video, audio, document, sticker), if any.
pub fn media_id(message: &Value) -> Option<&str> {
    let kind = message.get("type")?.as_str()?;
    if !matches!(kind, "image" | "video" | "audio" | "document" | "sticker") {
        return None;
    }
    message.get(kind)?.get("id")?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cursors_read_back_what_they_wrote() {
        let cursor = Cursor {
            at: 1_760_000_000_000,
            id: 42,
        };
        assert_eq!(Cursor::parse(&cursor.text()), Some(cursor));
        assert_eq!(Cursor::parse("12"), None);
        assert_eq!(Cursor::parse("a_b"), None);
    }

    #[test]
    fn only_media_messages_carry_a_media_id() {
        let image = json!({"type": "image", "image": {"id": "1037543291543636", "mime_type": "image/jpeg"}});
        assert_eq!(media_id(&image), Some("1037543291543636"));
        let text = json!({"type": "text", "text": {"body": "hi", "id": "1"}});
        assert_eq!(media_id(&text), None);
        assert_eq!(media_id(&json!({"type": "document"})), None);
    }
}
