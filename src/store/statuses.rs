//! Statuses Meta reports for the messages we sent. Each (wamid, status) is stored once, so Meta's
//! retries and duplicates change nothing; a message only moves forward (a late `delivered` leaves a
//! `read` message read), and `failed` keeps Meta's error.

use super::AccountId;
use super::messages::MessageId;
use super::retention::Visible;
use super::states::{MessageStatus, sql_list};
use crate::domain::meta::webhook::StatusUpdate;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::LazyLock;

/// The status a message moves to for a status Meta reported (in Meta's words); statuses we do not act on
/// have none.
fn reported(status: &str) -> Option<MessageStatus> {
    match status {
        "sent" => Some(MessageStatus::Sent),
        "delivered" => Some(MessageStatus::Delivered),
        // A voice message played has been read.
        "read" | "played" => Some(MessageStatus::Read),
        "failed" => Some(MessageStatus::Failed),
        _ => None,
    }
}

/// Where a status stands in a message's life: the order of `MessageStatus`.
fn rank(status: MessageStatus) -> i64 {
    status as i64
}

/// Fails a message Meta has not delivered yet, keeping Meta's error.
static FAIL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE messages SET status = {failed}, error_code = ?2, error_title = ?3, error_details = ?4,
                             failed_at = ?5, lease_until = NULL
         WHERE id = ?1 AND account_id = ?6 AND status IN {before}",
        failed = MessageStatus::Failed.sql(),
        before = sql_list(
            &[MessageStatus::Queued, MessageStatus::Sending, MessageStatus::Sent],
            MessageStatus::sql
        ),
    )
});

/// Moves a message forward to status ?3 of rank ?2 (never back), with the times it implies.
static MOVE: LazyLock<String> = LazyLock::new(|| {
    let ranks: String = MessageStatus::ALL
        .iter()
        .map(|s| format!("WHEN {} THEN {} ", s.sql(), rank(*s)))
        .collect();
    format!(
        "UPDATE messages SET
            status = CASE WHEN (CASE status {ranks}END) < ?2 THEN ?3 ELSE status END,
            lease_until = CASE WHEN status IN {unsent} THEN NULL ELSE lease_until END,
            wamid = coalesce(wamid, (SELECT ?4 WHERE NOT EXISTS (SELECT 1 FROM messages WHERE wamid = ?4))),
            sent_at = coalesce(sent_at, ?5),
            delivered_at = CASE WHEN ?2 = {delivered} THEN min(coalesce(delivered_at, ?5), ?5)
                                WHEN ?2 > {delivered} THEN coalesce(delivered_at, ?5) ELSE delivered_at END,
            read_at = CASE WHEN ?2 >= {read} THEN coalesce(read_at, ?5) ELSE read_at END
         WHERE id = ?1 AND account_id = ?6 AND status != {failed}",
        unsent = sql_list(&MessageStatus::UNSENT, MessageStatus::sql),
        delivered = rank(MessageStatus::Delivered),
        read = rank(MessageStatus::Read),
        failed = MessageStatus::Failed.sql(),
    )
});

/// The message a status belongs to, and its type: by the id we gave Meta in `biz_opaque_callback_data`,
/// else by wamid.
fn our_message(
    conn: &Connection,
    account: AccountId,
    update: &StatusUpdate,
) -> Result<Option<(i64, String)>> {
    let row = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?));
    if let Some(id) = update
        .callback
        .as_deref()
        .and_then(|c| c.parse::<i64>().ok())
    {
        let found = conn
            .prepare_cached("SELECT id, type FROM messages WHERE id = ?1 AND account_id = ?2")?
            .query_row(params![id, account.0], row)
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(conn
        .prepare_cached("SELECT id, type FROM messages WHERE wamid = ?1 AND account_id = ?2")?
        .query_row(params![update.wamid, account.0], row)
        .optional()?)
}

/// A status that moved one of our messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub message: MessageId,
    /// The message's type (`text`, `template`, ...).
    pub kind: String,
}

/// Records one status. A read implies delivered; a `delivered` that arrives after the `read` still gives
/// the true delivery time. Returns the message it moved, or None for a duplicate or a wamid we did not send.
pub fn apply(
    conn: &Connection,
    account: AccountId,
    payload: i64,
    update: &StatusUpdate,
    now: i64,
) -> Result<Option<Applied>> {
    let (message, kind) = our_message(conn, account, update)?.unzip();
    let error = update.error.as_ref();
    let inserted = conn
        .prepare_cached(
            "INSERT INTO message_statuses (id, account_id, message_id, payload_id, wamid, status, at,
                                           error_code, error_title, error_details, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (account_id, wamid, status) DO NOTHING",
        )?
        .execute(params![
            super::ids::time_ordered()?,
            account.0,
            message,
            payload,
            update.wamid,
            update.status,
            update.at,
            error.map(|e| e.code),
            error.map(|e| e.title.as_str()),
            error.map(|e| e.details.as_str()),
            now
        ])?;
    let Some(message) = message.filter(|_| inserted == 1) else {
        return Ok(None);
    };
    match reported(&update.status) {
        Some(MessageStatus::Failed) => {
            let (code, title, details) = error.map_or((0, "", ""), |e| {
                (e.code, e.title.as_str(), e.details.as_str())
            });
            conn.prepare_cached(&FAIL)?
                .execute(params![message, code, title, details, update.at, account.0])?;
        }
        Some(status) => {
            conn.prepare_cached(&MOVE)?.execute(params![
                message,
                rank(status),
                status,
                update.wamid,
                update.at,
                account.0
            ])?;
        }
        None => {}
    }
    Ok(Some(Applied {
        message: MessageId(message),
        kind: kind.unwrap_or_default(),
    }))
}

/// A message's statuses as Meta reported them, oldest first: (status, at, error code). None for a message
/// past retention.
pub fn timeline(
    conn: &Connection,
    account: AccountId,
    message: MessageId,
    visible: Visible,
) -> Result<Vec<(String, i64, Option<i64>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.status, s.at, s.error_code FROM message_statuses s JOIN messages m ON m.id = s.message_id
         WHERE s.account_id = ?1 AND s.message_id = ?2 AND m.created_at >= ?3
         ORDER BY s.at, s.id",
    )?;
    let rows = stmt.query_map(params![account.0, message.0, visible.from], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
