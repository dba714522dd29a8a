//! The 24-hour customer-service window per contact: Meta allows free-form messages only within 24 hours
//! of the customer's last message. Messages received before a number was connected are unknown, so an
//! unknown window is "unknown", not "closed". A contact the business added itself has never written:
//! its `last_inbound_at` is 0. The address book (names, tags, opting out) is in `book.rs`.

use super::AccountId;
use super::connections::ConnectionId;
use super::keys::Keyring;
use crate::crypto::Aad;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};

mod book;
pub use book::{
    Contact, Cursor, Entry, Filter, OptedOutBy, batch, edit, exists, find, list, recipient_of,
    save, set_opt_out, tags_in_use,
};

/// Who wrote: the number (or the username id when Meta gives no number), its blind index, the profile name.
#[derive(Clone, Copy)]
pub struct Customer<'a> {
    pub identity: &'a str,
    pub index: &'a [u8],
    pub profile_name: Option<&'a str>,
}

/// Records a message from the customer: it opens (or extends) the window, and keeps the number and
/// profile name (sealed) for the inbox. Returns the contact's id.
pub fn record_inbound(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    connection: ConnectionId,
    customer: &Customer<'_>,
    at: i64,
) -> Result<i64> {
    let key = keyring.data_key(account)?;
    let Customer {
        identity: digits,
        index: phone_index,
        profile_name,
    } = *customer;
    let existing: Option<(i64, Option<Vec<u8>>)> = conn
        .prepare_cached(
            "SELECT id, phone FROM contacts WHERE connection_id = ?1 AND phone_index = ?2 AND account_id = ?3",
        )?
        .query_row(params![connection.0, phone_index, account.0], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let id = match existing {
        Some((id, _)) => id,
        None => {
            let id = super::ids::time_ordered()?;
            conn.prepare_cached(
                "INSERT INTO contacts (id, account_id, connection_id, phone_index, last_inbound_at, last_message_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?
            .execute(params![id, account.0, connection.0, phone_index, at])?;
            id
        }
    };
    if existing.as_ref().is_none_or(|(_, phone)| phone.is_none()) {
        let sealed = key.seal(&place(account, id, "phone"), digits.as_bytes())?;
        conn.prepare_cached("UPDATE contacts SET phone = ?2 WHERE id = ?1 AND account_id = ?3")?
            .execute(params![id, sealed, account.0])?;
    }
    if let Some(name) = profile_name {
        let sealed = key.seal(&place(account, id, "profile_name"), name.as_bytes())?;
        conn.prepare_cached(
            "UPDATE contacts SET profile_name = ?2 WHERE id = ?1 AND account_id = ?3",
        )?
        .execute(params![id, sealed, account.0])?;
    }
    conn.prepare_cached(
        "UPDATE contacts SET last_inbound_at = max(last_inbound_at, ?2),
                             last_message_at = max(coalesce(last_message_at, 0), ?2)
         WHERE id = ?1 AND account_id = ?3",
    )?
    .execute(params![id, at, account.0])?;
    Ok(id)
}

pub fn place(account: AccountId, id: i64, column: &'static str) -> Aad<'static> {
    Aad {
        account: account.0,
        table: "contacts",
        column,
        row: id,
    }
}

/// What a send to the customer on this number must know: when they last wrote (if we know), and since
/// when they opted out of its messages (if they did).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendingState {
    pub last_inbound: Option<i64>,
    pub opted_out_at: Option<i64>,
}

pub fn sending_state(
    conn: &Connection,
    account: AccountId,
    connection: ConnectionId,
    phone_index: &[u8],
) -> Result<SendingState> {
    Ok(conn
        .prepare_cached(
            "SELECT last_inbound_at, opted_out_at FROM contacts
             WHERE account_id = ?1 AND connection_id = ?2 AND phone_index = ?3",
        )?
        .query_row(params![account.0, connection.0, phone_index], |r| {
            let last: i64 = r.get(0)?;
            Ok(SendingState {
                last_inbound: (last > 0).then_some(last),
                opted_out_at: r.get(1)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// When the customer last wrote to this number, if we know.
pub fn last_inbound(
    conn: &Connection,
    account: AccountId,
    connection: ConnectionId,
    phone_index: &[u8],
) -> Result<Option<i64>> {
    Ok(sending_state(conn, account, connection, phone_index)?.last_inbound)
}
