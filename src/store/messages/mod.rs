//! The outbox and the message log. Recipient and body are sealed with the account's data key and bound
//! to the row; the sender claims due rows, and rows a process that died had claimed are handed back at the
//! next start. Status only moves forward: queued < sending < sent < delivered < read, and failed is final.

use super::AccountId;
use super::connections::ConnectionId;
use super::keys::Keyring;
use super::retention::Visible;
use super::states::{ConnectionState, MessageStatus, sql_list};
use crate::crypto::Aad;
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::sync::LazyLock;
use zeroize::Zeroizing;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageId(pub(in crate::store) i64);

impl MessageId {
    /// The number, as stored and as shown.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The id a request, a form or a test names. It grants nothing: every store function that takes it
    /// also takes the account, and finds nothing of another account's.
    pub fn from_raw(id: i64) -> MessageId {
        MessageId(id)
    }
}

pub(in crate::store) fn recipient_place(account: AccountId, id: MessageId) -> Aad<'static> {
    Aad {
        account: account.0,
        table: "messages",
        column: "recipient",
        row: id.0,
    }
}

pub(in crate::store) fn body_place(account: AccountId, id: MessageId) -> Aad<'static> {
    Aad {
        account: account.0,
        table: "messages",
        column: "body",
        row: id.0,
    }
}

/// A message as stored: recipient and body stay sealed until [`open_recipient`] or [`open_body`] opens them.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub id: MessageId,
    pub account_id: AccountId,
    pub connection_id: ConnectionId,
    recipient: Vec<u8>,
    pub kind: String,
    body: Vec<u8>,
    pub status: MessageStatus,
    pub wamid: Option<String>,
    pub attempts: i64,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub error_details: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub read_at: Option<i64>,
    pub failed_at: Option<i64>,
}

const COLUMNS: &str = "id, account_id, connection_id, recipient, type, body, status, wamid, attempts, error_code, \
                       error_title, error_details, created_at, sent_at, delivered_at, read_at, failed_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        id: MessageId(r.get(0)?),
        account_id: AccountId(r.get(1)?),
        connection_id: ConnectionId(r.get(2)?),
        recipient: r.get(3)?,
        kind: r.get(4)?,
        body: r.get(5)?,
        status: r.get(6)?,
        wamid: r.get(7)?,
        attempts: r.get(8)?,
        error_code: r.get(9)?,
        error_title: r.get(10)?,
        error_details: r.get(11)?,
        created_at: r.get(12)?,
        sent_at: r.get(13)?,
        delivered_at: r.get(14)?,
        read_at: r.get(15)?,
        failed_at: r.get(16)?,
    })
}

/// The recipient (E.164 digits) of a stored message, opened with the account's data key.
pub fn open_recipient(keyring: &Keyring, message: &StoredMessage) -> Result<String> {
    let plain = keyring.data_key(message.account_id)?.open(
        &recipient_place(message.account_id, message.id),
        &message.recipient,
    )?;
    Ok(String::from_utf8_lossy(&plain).into_owned())
}

/// The body of a stored message (the JSON sent to Meta), opened with the account's data key.
pub fn open_body(keyring: &Keyring, message: &StoredMessage) -> Result<Zeroizing<Vec<u8>>> {
    Ok(keyring
        .data_key(message.account_id)?
        .open(&body_place(message.account_id, message.id), &message.body)?)
}

/// A message to queue, in the clear.
pub struct NewMessage<'a> {
    pub id: MessageId,
    pub account_id: AccountId,
    pub connection_id: ConnectionId,
    /// E.164 digits.
    pub recipient: &'a str,
    /// The recipient's blind index (`Keyring::phone_index`), which the caller already needed to find
    /// the customer's window.
    pub recipient_index: &'a [u8],
    pub kind: &'a str,
    /// The JSON sent to Meta.
    pub body: &'a [u8],
    pub now: i64,
}

/// A message sealed for [`insert`]: recipient and body sealed with the account's data key, and the
/// recipient's blind index. Made by [`seal`] before the write, so the writer thread does no encryption.
pub struct SealedMessage {
    pub(in crate::store) id: MessageId,
    pub(in crate::store) account_id: AccountId,
    pub(in crate::store) connection_id: ConnectionId,
    pub(in crate::store) recipient: Vec<u8>,
    pub(in crate::store) recipient_index: Vec<u8>,
    pub(in crate::store) kind: String,
    pub(in crate::store) body: Vec<u8>,
    pub(in crate::store) now: i64,
}

impl SealedMessage {
    pub fn id(&self) -> MessageId {
        self.id
    }

    pub fn connection_id(&self) -> ConnectionId {
        self.connection_id
    }
}

/// Seals a new message's recipient and body with its account's data key (cached by the keyring).
pub fn seal(keyring: &Keyring, new: &NewMessage<'_>) -> Result<SealedMessage> {
    let (account, id) = (new.account_id, new.id);
    let key = keyring.data_key(account)?;
    Ok(SealedMessage {
        id,
        account_id: account,
        connection_id: new.connection_id,
        recipient: key.seal(&recipient_place(account, id), new.recipient.as_bytes())?,
        recipient_index: new.recipient_index.to_vec(),
        kind: new.kind.to_owned(),
        body: key.seal(&body_place(account, id), new.body)?,
        now: new.now,
    })
}

pub fn insert(conn: &Connection, new: &SealedMessage) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO messages (id, account_id, connection_id, recipient, recipient_index, type, body, status,
                               next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9, ?8, ?8)",
    )?
    .execute(params![
        new.id.0,
        new.account_id.0,
        new.connection_id.0,
        new.recipient,
        new.recipient_index,
        new.kind,
        new.body,
        new.now,
        MessageStatus::Queued
    ])?;
    // Writing to a customer moves their conversation up in the inbox.
    conn.prepare_cached(
        "UPDATE contacts SET last_message_at = max(coalesce(last_message_at, 0), ?3)
         WHERE connection_id = ?1 AND phone_index = ?2 AND account_id = ?4",
    )?
    .execute(params![
        new.connection_id.0,
        new.recipient_index,
        new.now,
        new.account_id.0
    ])?;
    Ok(())
}

/// One message of the account, unless it is past retention (hidden before the job deletes it).
pub fn find(
    conn: &Connection,
    account: AccountId,
    id: MessageId,
    visible: Visible,
) -> Result<Option<StoredMessage>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM messages WHERE id = ?1 AND account_id = ?2 AND created_at >= ?3"
            ),
            params![id.0, account.0, visible.from],
            from_row,
        )
        .optional()?)
}

pub struct ListFilter {
    pub status: Option<MessageStatus>,
    pub connection: Option<ConnectionId>,
    pub recipient_index: Option<Vec<u8>>,
    /// Only messages of this type (`text`, `template`, ...).
    pub kind: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Only messages older than this id (the cursor of the previous page).
    pub before: Option<MessageId>,
    pub limit: usize,
    /// Messages past retention are never listed.
    pub visible: Visible,
}

#[cfg(test)]
impl ListFilter {
    /// A page of 50 with no condition, for tests to narrow.
    pub(crate) fn everything() -> ListFilter {
        ListFilter {
            status: None,
            connection: None,
            recipient_index: None,
            kind: None,
            since: None,
            until: None,
            before: None,
            limit: 50,
            visible: Visible { from: 0 },
        }
    }
}

/// The account's messages, newest first.
pub fn list(
    conn: &Connection,
    account: AccountId,
    filter: &ListFilter,
) -> Result<Vec<StoredMessage>> {
    let (sql, values) = list_query(account, filter);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(values), from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The list's query, with only the conditions the filter asks for, so that each is served by an index:
/// ids begin with their creation time in milliseconds, so a time range is also a range of ids (the
/// account's index, newest first); a rare status has a partial index of its own; a recipient has its own.
fn list_query(account: AccountId, filter: &ListFilter) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let from = filter.since.unwrap_or(i64::MIN).max(filter.visible.from);
    // A created_at at or after `from` belongs to an id made at or after `from - 1` ms.
    let lowest_id = from.saturating_sub(1).max(0).saturating_mul(1 << 22);
    let mut highest_id = filter.before.map_or(i64::MAX, |m| m.0);
    if let Some(until) = filter.until {
        highest_id = highest_id.min(until.saturating_add(1).max(0).saturating_mul(1 << 22));
    }
    // A customer has a handful of messages among the account's millions: walking the account's log newest
    // first until 50 of theirs turned up took seconds at 10 million messages (`bench send --data`), so
    // their index is named rather than left to the planner, which prefers the walk that needs no sort.
    let table = if filter.recipient_index.is_some() {
        "messages INDEXED BY messages_by_recipient"
    } else {
        "messages"
    };
    let mut sql = format!(
        "SELECT {COLUMNS} FROM {table} WHERE account_id = ?1 AND id >= ?2 AND id < ?3 AND created_at >= ?4"
    );
    let mut values = vec![
        Value::Integer(account.0),
        Value::Integer(lowest_id),
        Value::Integer(highest_id),
        Value::Integer(from),
    ];
    let mut condition = |clause: &str, value: Value| {
        values.push(value);
        sql.push_str(&format!(" AND {clause} ?{}", values.len()));
    };
    if let Some(until) = filter.until {
        condition("created_at <", Value::Integer(until));
    }
    if let Some(connection) = filter.connection {
        condition("connection_id =", Value::Integer(connection.0));
    }
    if let Some(index) = &filter.recipient_index {
        condition("recipient_index =", Value::Blob(index.clone()));
    }
    if let Some(kind) = &filter.kind {
        condition("type =", Value::Text(kind.clone()));
    }
    // Written into the query, so that the partial index of a rare status can serve it.
    if let Some(status) = filter.status {
        sql.push_str(&format!(" AND status = {}", status.sql()));
    }
    values.push(Value::Integer(filter.limit as i64));
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", values.len()));
    (sql, values)
}

/// Hands every message a dead process had claimed back to the queue. Only for start-up: the data
/// directory lock guarantees no other sender is alive, so no lease needs to run out first.
pub fn release_orphans(conn: &Connection, now: i64) -> Result<usize> {
    Ok(conn.execute(
        &format!(
            "UPDATE messages SET status = {queued}, lease_until = NULL, next_attempt_at = ?1 WHERE status = {sending}",
            queued = MessageStatus::Queued.sql(),
            sending = MessageStatus::Sending.sql(),
        ),
        [now],
    )?)
}

/// A claimed message whose call to Meta was not made (the server is stopping) goes back to the queue as
/// it was: due at once, its claim not counted as an attempt.
pub fn put_back(conn: &Connection, account: AccountId, id: MessageId) -> Result<()> {
    conn.prepare_cached(&format!(
        "UPDATE messages SET status = {queued}, lease_until = NULL, attempts = max(attempts - 1, 0)
         WHERE id = ?1 AND account_id = ?2 AND status = {sending}",
        queued = MessageStatus::Queued.sql(),
        sending = MessageStatus::Sending.sql(),
    ))?
    .execute(params![id.0, account.0])?;
    Ok(())
}

/// The first queued message of the next connection, in the order of the index of queued messages by
/// connection and due time: its connection and when it is due.
static NEXT_QUEUED_CONNECTION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT connection_id, next_attempt_at FROM messages
         WHERE status = {queued} AND connection_id > ?1
         ORDER BY connection_id, next_attempt_at LIMIT 1",
        queued = MessageStatus::Queued.sql()
    )
});

/// The connections with queued messages, each with when its earliest one is due: one index step per
/// connection.
pub fn queued_connections(conn: &Connection) -> Result<Vec<(ConnectionId, i64)>> {
    let mut next = conn.prepare_cached(&NEXT_QUEUED_CONNECTION)?;
    let mut found = Vec::new();
    let mut after = i64::MIN;
    while let Some((id, due)) = next
        .query_row([after], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)))
        .optional()?
    {
        found.push((ConnectionId(id), due));
        after = id;
    }
    Ok(found)
}

/// How many messages of every account are `queued` and how many `sending`, each counted on its
/// status's partial index.
pub fn outbox_depth(conn: &Connection) -> Result<(i64, i64)> {
    let count = |status: MessageStatus| -> Result<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM messages WHERE status = {}",
            status.sql()
        );
        Ok(conn.prepare_cached(&sql)?.query_row([], |r| r.get(0))?)
    };
    Ok((
        count(MessageStatus::Queued)?,
        count(MessageStatus::Sending)?,
    ))
}

/// Claims up to `limit` of the connection's due messages, earliest first, if the connection is active
/// and its account may send (neither suspended nor held: `holds::MAY_SEND`; the messages then wait,
/// queued): they are `sending` until `lease_until`, each about to be handed to a sender that calls Meta
/// now. Each carries its account, which the writes that follow (`mark_all_sent`, `mark_failed`,
/// `retry_at`) take.
pub fn claim_for_connection(
    conn: &Connection,
    connection: ConnectionId,
    now: i64,
    limit: usize,
    lease_until: i64,
) -> Result<Vec<StoredMessage>> {
    let mut stmt = conn.prepare_cached(&format!(
        "UPDATE messages SET status = {sending}, lease_until = ?3, attempts = attempts + 1
         WHERE id IN (
             SELECT id FROM messages
             WHERE connection_id = ?1 AND status = {queued} AND next_attempt_at <= ?2
               AND EXISTS (SELECT 1 FROM connections c JOIN accounts a ON a.id = c.account_id
                           WHERE c.id = ?1 AND c.state = {active} AND {may_send})
             ORDER BY next_attempt_at LIMIT ?4)
         RETURNING {COLUMNS}",
        sending = MessageStatus::Sending.sql(),
        queued = MessageStatus::Queued.sql(),
        active = ConnectionState::Active.sql(),
        may_send = super::holds::MAY_SEND,
    ))?;
    let rows = stmt.query_map(
        params![connection.0, now, lease_until, limit as i64],
        from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A send Meta accepted: the claimed message (with its account), Meta's id for it, and when.
#[derive(Debug, Clone)]
pub struct Sent {
    pub account: AccountId,
    pub id: MessageId,
    pub wamid: String,
    pub at: i64,
}

/// Records the sends Meta accepted with one statement for all of them. Should one row fail (a wamid
/// already taken), each is written on its own so that the others are still recorded. A send whose
/// account is not the message's changes nothing.
pub fn mark_all_sent(conn: &Connection, sent: &[Sent]) -> Result<()> {
    let rows = serde_json::to_string(
        &sent
            .iter()
            .map(|s| (s.id.0, &s.wamid, s.at, s.account.0))
            .collect::<Vec<_>>(),
    )
    .map_err(|e| Error::Internal(e.into()))?;
    static ALL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE messages SET status = {sent}, wamid = s.value ->> 1, sent_at = s.value ->> 2,
                                 lease_until = NULL
             FROM json_each(?1) AS s
             WHERE messages.id = s.value ->> 0 AND messages.account_id = s.value ->> 3
               AND messages.status IN {unsent}",
            sent = MessageStatus::Sent.sql(),
            unsent = sql_list(&MessageStatus::UNSENT, MessageStatus::sql),
        )
    });
    static ONE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE messages SET status = {sent}, wamid = ?2, sent_at = ?3, lease_until = NULL
             WHERE id = ?1 AND account_id = ?4 AND status IN {unsent}",
            sent = MessageStatus::Sent.sql(),
            unsent = sql_list(&MessageStatus::UNSENT, MessageStatus::sql),
        )
    });
    let all = conn.prepare_cached(&ALL)?.execute([rows]);
    match all {
        Ok(_) => return Ok(()),
        Err(e) if !is_constraint(&e) => return Err(e.into()),
        Err(_) => {}
    }
    let mut one = conn.prepare_cached(&ONE)?;
    for s in sent {
        match one.execute(params![s.id.0, s.wamid, s.at, s.account.0]) {
            Err(e) if is_constraint(&e) => {
                tracing::error!(error = %e, message = s.id.0, "cannot record a send: its wamid is taken");
            }
            other => drop(other?),
        }
    }
    Ok(())
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}

/// Fails a message of the account that has not been sent yet; whether it did.
pub fn mark_failed(
    conn: &Connection,
    account: AccountId,
    id: MessageId,
    code: i64,
    title: &str,
    details: &str,
    now: i64,
) -> Result<bool> {
    static FAIL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE messages SET status = {failed}, error_code = ?2, error_title = ?3, error_details = ?4,
                                 failed_at = ?5, lease_until = NULL
             WHERE id = ?1 AND account_id = ?6 AND status IN {unsent}",
            failed = MessageStatus::Failed.sql(),
            unsent = sql_list(&MessageStatus::UNSENT, MessageStatus::sql),
        )
    });
    let changed = conn
        .prepare_cached(&FAIL)?
        .execute(params![id.0, code, title, details, now, account.0])?;
    Ok(changed == 1)
}

/// Fails every message of the account still waiting in the queue for one recipient on one number (a
/// customer who opted out): those not handed to Meta yet. Their ids.
pub fn fail_queued_to(
    conn: &Connection,
    account: AccountId,
    connection: ConnectionId,
    recipient_index: &[u8],
    (code, title, details): (i64, &str, &str),
    now: i64,
) -> Result<Vec<MessageId>> {
    let mut statement = conn.prepare_cached(
        "UPDATE messages SET status = ?7, error_code = ?4, error_title = ?5, error_details = ?6,
                             failed_at = ?8, lease_until = NULL
         WHERE account_id = ?1 AND connection_id = ?2 AND recipient_index = ?3 AND status = ?9
         RETURNING id",
    )?;
    let ids = statement
        .query_map(
            params![
                account.0,
                connection.0,
                recipient_index,
                code,
                title,
                details,
                MessageStatus::Failed,
                now,
                MessageStatus::Queued
            ],
            |r| r.get(0).map(MessageId),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ids)
}

/// Puts a message of the account back in the queue for a later attempt, keeping the last error for
/// people to see.
pub fn retry_at(
    conn: &Connection,
    account: AccountId,
    id: MessageId,
    at: i64,
    error: Option<(i64, &str, &str)>,
) -> Result<()> {
    let (code, title, details) =
        error.map_or((None, None, None), |(c, t, d)| (Some(c), Some(t), Some(d)));
    conn.prepare_cached(
        "UPDATE messages SET status = ?6, next_attempt_at = ?2, lease_until = NULL,
                             error_code = coalesce(?3, error_code), error_title = coalesce(?4, error_title),
                             error_details = coalesce(?5, error_details)
         WHERE id = ?1 AND account_id = ?8 AND status = ?7",
    )?
    .execute(params![
        id.0,
        at,
        code,
        title,
        details,
        MessageStatus::Queued,
        MessageStatus::Sending,
        account.0
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests;
