//! The 24-hour customer-service window per contact: Meta allows free-form messages only within 24 hours
//! of the customer's last message. Messages received before a number was connected are unknown, so an
//! unknown window is "unknown", not "closed".

use super::AccountId;
use super::connections::ConnectionId;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};

pub const WINDOW_MS: i64 = 24 * 3_600_000;

/// Records a message from the customer: it opens (or extends) the window.
pub fn record_inbound(
    conn: &Connection,
    account: AccountId,
    connection: ConnectionId,
    phone_index: &[u8],
    at: i64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO contacts (id, account_id, connection_id, phone_index, last_inbound_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (connection_id, phone_index) DO UPDATE SET last_inbound_at = max(last_inbound_at, excluded.last_inbound_at)",
        params![super::ids::time_ordered()?, account.0, connection.0, phone_index, at],
    )?;
    Ok(())
}

/// When the customer last wrote to this number, if we know.
pub fn last_inbound(
    conn: &Connection,
    account: AccountId,
    connection: ConnectionId,
    phone_index: &[u8],
) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT last_inbound_at FROM contacts WHERE account_id = ?1 AND connection_id = ?2 AND phone_index = ?3",
            params![account.0, connection.0, phone_index],
            |r| r.get(0),
        )
        .optional()?)
}
