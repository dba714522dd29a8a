//! What Meta says a number is: the number as people dial it and the business name Meta verified, fetched
//! when the number is saved and at each check. The business's own number, kept in clear.

use super::AccountId;
use super::connections::ConnectionId;
use crate::error::Result;
use rusqlite::{Connection, params};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub display_phone_number: Option<String>,
    pub verified_name: Option<String>,
}

/// Records what Meta answered; a field Meta left out keeps what was known.
pub fn record(
    conn: &Connection,
    account: AccountId,
    id: ConnectionId,
    identity: &Identity,
) -> Result<()> {
    conn.execute(
        "UPDATE connections SET display_phone_number = coalesce(?3, display_phone_number),
                                verified_name = coalesce(?4, verified_name)
         WHERE id = ?1 AND account_id = ?2",
        params![
            id.0,
            account.0,
            identity.display_phone_number,
            identity.verified_name
        ],
    )?;
    Ok(())
}

/// Every number of the account with what Meta said it is (empty fields until it was asked).
pub fn list(conn: &Connection, account: AccountId) -> Result<Vec<(ConnectionId, Identity)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, display_phone_number, verified_name FROM connections WHERE account_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([account.0], |r| {
        Ok((
            ConnectionId(r.get(0)?),
            Identity {
                display_phone_number: r.get(1)?,
                verified_name: r.get(2)?,
            },
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
