//! Meta's webhook POSTs as received, sealed with the account's key (they hold customers' messages).

use super::AccountId;
use super::connections::ConnectionId;
use super::keys::Keyring;
use crate::crypto::Aad;
use crate::error::Result;
use rusqlite::{Connection, params};

pub fn place(account: AccountId, id: i64) -> Aad<'static> {
    Aad {
        account: account.0,
        table: "webhook_payloads",
        column: "body",
        row: id,
    }
}

/// Stores a payload already sealed at `place(account, id)`.
pub fn insert(
    conn: &Connection,
    id: i64,
    account: AccountId,
    connection: ConnectionId,
    sealed: &[u8],
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO webhook_payloads (id, account_id, connection_id, body, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, account.0, connection.0, sealed, now])?;
    Ok(())
}

/// Seals a payload for `insert` (done before the write, so the writer thread does no encryption).
pub fn seal(keyring: &Keyring, account: AccountId, id: i64, body: &[u8]) -> Result<Vec<u8>> {
    Ok(keyring.data_key(account)?.seal(&place(account, id), body)?)
}
