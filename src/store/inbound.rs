//! Messages customers sent to an account's numbers, sealed, stored once per Meta id (Meta delivers
//! webhooks more than once).

use super::AccountId;
use super::connections::ConnectionId;
use super::keys::Keyring;
use crate::crypto::Aad;
use crate::domain::meta::webhook::InboundMessage;
use crate::error::Result;
use rusqlite::{Connection, params};

pub fn body_place(account: AccountId, id: i64) -> Aad<'static> {
    Aad {
        account: account.0,
        table: "inbound_messages",
        column: "body",
        row: id,
    }
}

/// Where an inbound message came from and in which payload.
#[derive(Clone, Copy)]
pub struct Origin {
    pub account: AccountId,
    pub connection: ConnectionId,
    pub contact: i64,
    pub payload: i64,
}

/// Stores an inbound message; its id, or None when it was already stored.
pub fn insert(
    conn: &Connection,
    keyring: &Keyring,
    origin: Origin,
    message: &InboundMessage,
    now: i64,
) -> Result<Option<i64>> {
    let Origin {
        account,
        connection,
        contact,
        payload,
    } = origin;
    let key = keyring.data_key(account)?;
    let id = super::ids::time_ordered()?;
    let body = serde_json::to_vec(&message.message)
        .map_err(|e| crate::error::Error::Internal(e.into()))?;
    let sealed = key.seal(&body_place(account, id), &body)?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO inbound_messages (id, account_id, connection_id, contact_id, payload_id, meta_id, type,
                                           body, sent_at, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (account_id, meta_id) DO NOTHING",
        )?
        .execute(params![
            id,
            account.0,
            connection.0,
            contact,
            payload,
            message.meta_id,
            message.kind,
            sealed,
            message.at,
            now
        ])?;
    Ok((inserted == 1).then_some(id))
}
