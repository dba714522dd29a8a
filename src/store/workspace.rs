//! The inbox as the team's workspace: a conversation's state (resolved, assigned to a member), the team's
//! internal notes on a conversation (sealed with the account's data key, never sent to the customer) and
//! the account's saved replies (sealed too). Every function takes the account; a contact, note, reply or
//! member of another account is not found and nothing changes.

use super::AccountId;
use super::keys::Keyring;
use super::users::UserId;
use crate::crypto::Aad;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};

fn place(account: AccountId, table: &'static str, column: &'static str, row: i64) -> Aad<'static> {
    Aad {
        account: account.0,
        table,
        column,
        row,
    }
}

/// Whether the contact is the account's.
fn contact_is_own(conn: &Connection, account: AccountId, contact: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM contacts WHERE id = ?1 AND account_id = ?2")?
        .query_row(params![contact, account.0], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Marks a conversation resolved (`true`) or open again; false when it is not the account's.
pub fn set_resolved(
    conn: &Connection,
    account: AccountId,
    contact: i64,
    resolved: bool,
    now: i64,
) -> Result<bool> {
    if !contact_is_own(conn, account, contact)? {
        return Ok(false);
    }
    conn.prepare_cached(
        "INSERT INTO conversation_states (contact_id, account_id, resolved_at, updated_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (contact_id) DO UPDATE SET resolved_at = ?3, updated_at = ?4",
    )?
    .execute(params![contact, account.0, resolved.then_some(now), now])?;
    Ok(true)
}

/// Opens a resolved conversation again: the customer wrote.
pub fn reopen(conn: &Connection, account: AccountId, contact: i64, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE conversation_states SET resolved_at = NULL, updated_at = ?3
         WHERE contact_id = ?1 AND account_id = ?2 AND resolved_at IS NOT NULL",
    )?
    .execute(params![contact, account.0, now])?;
    Ok(())
}

/// Assigns a conversation to a member of the account (or to nobody); false when the conversation or the
/// member is not the account's.
pub fn assign(
    conn: &Connection,
    account: AccountId,
    contact: i64,
    member: Option<UserId>,
    now: i64,
) -> Result<bool> {
    if !contact_is_own(conn, account, contact)? {
        return Ok(false);
    }
    if let Some(member) = member {
        let own = conn
            .prepare_cached("SELECT 1 FROM users WHERE id = ?1 AND account_id = ?2")?
            .query_row(params![member.0, account.0], |_| Ok(()))
            .optional()?;
        if own.is_none() {
            return Ok(false);
        }
    }
    conn.prepare_cached(
        "INSERT INTO conversation_states (contact_id, account_id, assignee_id, updated_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (contact_id) DO UPDATE SET assignee_id = ?3, updated_at = ?4",
    )?
    .execute(params![contact, account.0, member.map(|m| m.0), now])?;
    Ok(true)
}

/// A note of the team, opened.
#[derive(Debug, Clone)]
pub struct Note {
    pub id: i64,
    pub author: Option<String>,
    pub body: String,
    pub created_at: i64,
}

/// Adds a note to a conversation; its id, or None when the conversation is not the account's.
pub fn add_note(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    contact: i64,
    author: UserId,
    body: &str,
    now: i64,
) -> Result<Option<i64>> {
    if !contact_is_own(conn, account, contact)? {
        return Ok(None);
    }
    let key = keyring.data_key(account)?;
    let id = super::ids::time_ordered()?;
    let sealed = key.seal(
        &place(account, "conversation_notes", "body", id),
        body.as_bytes(),
    )?;
    conn.prepare_cached(
        "INSERT INTO conversation_notes (id, account_id, contact_id, author_id, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![id, account.0, contact, author.0, sealed, now])?;
    Ok(Some(id))
}

/// A conversation's notes, oldest first (at most `limit`, the newest ones).
pub fn notes(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    contact: i64,
    limit: usize,
) -> Result<Vec<Note>> {
    let key = keyring.data_key(account)?;
    let mut stmt = conn.prepare_cached(
        "SELECT n.id, u.name, n.body, n.created_at FROM conversation_notes n
         LEFT JOIN users u ON u.id = n.author_id AND u.account_id = n.account_id
         WHERE n.account_id = ?1 AND n.contact_id = ?2
         ORDER BY n.created_at DESC, n.id DESC LIMIT ?3",
    )?;
    let rows: Vec<(i64, Option<String>, Vec<u8>, i64)> = stmt
        .query_map(params![account.0, contact, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut notes = rows
        .into_iter()
        .map(|(id, author, sealed, created_at)| {
            let plain = key.open(&place(account, "conversation_notes", "body", id), &sealed)?;
            Ok(Note {
                id,
                author,
                body: String::from_utf8_lossy(&plain).into_owned(),
                created_at,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    notes.reverse();
    Ok(notes)
}

/// Deletes a note of the account's; whether there was one.
pub fn delete_note(conn: &Connection, account: AccountId, contact: i64, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM conversation_notes WHERE id = ?1 AND account_id = ?2 AND contact_id = ?3",
        )?
        .execute(params![id, account.0, contact])?
        > 0)
}

/// A saved reply, opened.
#[derive(Debug, Clone)]
pub struct SavedReply {
    pub id: i64,
    pub title: String,
    pub body: String,
}

/// Most saved replies an account keeps.
pub const MOST_SAVED_REPLIES: i64 = 200;

/// Saves a reply; its id, or None when the account has `MOST_SAVED_REPLIES` already.
pub fn add_saved_reply(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    title: &str,
    body: &str,
    now: i64,
) -> Result<Option<i64>> {
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM saved_replies WHERE account_id = ?1")?
        .query_row(params![account.0], |r| r.get(0))?;
    if count >= MOST_SAVED_REPLIES {
        return Ok(None);
    }
    let key = keyring.data_key(account)?;
    let id = super::ids::time_ordered()?;
    let title = key.seal(
        &place(account, "saved_replies", "title", id),
        title.as_bytes(),
    )?;
    let body = key.seal(
        &place(account, "saved_replies", "body", id),
        body.as_bytes(),
    )?;
    conn.prepare_cached(
        "INSERT INTO saved_replies (id, account_id, title, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, account.0, title, body, now])?;
    Ok(Some(id))
}

/// The account's saved replies, in the order they were saved.
pub fn saved_replies(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
) -> Result<Vec<SavedReply>> {
    let key = keyring.data_key(account)?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, title, body FROM saved_replies WHERE account_id = ?1 ORDER BY id",
    )?;
    let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = stmt
        .query_map(params![account.0], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(id, title, body)| {
            let title = key.open(&place(account, "saved_replies", "title", id), &title)?;
            let body = key.open(&place(account, "saved_replies", "body", id), &body)?;
            Ok(SavedReply {
                id,
                title: String::from_utf8_lossy(&title).into_owned(),
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        })
        .collect()
}

/// Deletes a saved reply of the account's; whether there was one.
pub fn delete_saved_reply(conn: &Connection, account: AccountId, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM saved_replies WHERE id = ?1 AND account_id = ?2")?
        .execute(params![id, account.0])?
        > 0)
}
