//! Messages accepted per account and calendar month. The count lives in memory
//! (`services::billing::Usage`) and is written here in batches; after a stop, the messages accepted
//! since the last write are counted from the log.

use super::AccountId;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};

/// An account's count for a month, and up to when it was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub messages: u64,
    pub counted_at: i64,
}

/// The account's count for `month` ("2026-12") as written, plus the messages accepted since it was
/// written (or since `month_start` when nothing was), up to `now`.
pub fn month_count(
    conn: &Connection,
    account: AccountId,
    month: &str,
    month_start: i64,
) -> Result<u64> {
    let written: Option<Counted> = conn
        .prepare_cached(
            "SELECT messages, counted_at FROM usage_months WHERE account_id = ?1 AND month = ?2",
        )?
        .query_row(params![account.0, month], |r| {
            Ok(Counted {
                messages: r.get::<_, i64>(0)? as u64,
                counted_at: r.get(1)?,
            })
        })
        .optional()?;
    let (base, since) = match written {
        Some(c) => (c.messages, c.counted_at.max(month_start)),
        None => (0, month_start),
    };
    // A message's id starts with the millisecond it was accepted (`ids`): those from the write on were
    // not in it.
    let after: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM messages INDEXED BY messages_by_account
             WHERE account_id = ?1 AND id >= ?2",
        )?
        .query_row(params![account.0, since << 22], |r| r.get(0))?;
    Ok(base + after as u64)
}

/// Writes counts: each is the whole month's count, up to `counted_at`.
pub fn save(conn: &Connection, rows: &[(AccountId, String, Counted)]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO usage_months (account_id, month, messages, counted_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (account_id, month) DO UPDATE SET messages = excluded.messages,
                                                       counted_at = excluded.counted_at",
    )?;
    for (account, month, counted) in rows {
        // An account deleted meanwhile has no row to count for.
        match stmt.execute(params![
            account.0,
            month,
            counted.messages as i64,
            counted.counted_at
        ]) {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The account's months, newest first, for the Billing page and the export.
pub fn months(conn: &Connection, account: AccountId, limit: usize) -> Result<Vec<(String, u64)>> {
    let mut stmt = conn.prepare(
        "SELECT month, messages FROM usage_months WHERE account_id = ?1 ORDER BY month DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![account.0, limit as i64], |r| {
        Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
