//! Emails about billing waiting to be sent, each once per period: a quota's month, a trial, an episode
//! of a failed payment. Queued in the transaction (or right after the event) that calls for them; the
//! mail round sends them and marks them sent.

use super::AccountId;
use super::states::NoticeKind;
use crate::error::Result;
use rusqlite::{Connection, params};

/// Queues the notice unless this account already has it for this period. True when it was queued now.
pub fn queue(
    conn: &Connection,
    account: AccountId,
    kind: NoticeKind,
    period: &str,
    now: i64,
) -> Result<bool> {
    Ok(conn.execute(
        "INSERT INTO billing_notices (account_id, kind, period, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
        params![account.0, kind, period, now],
    )? > 0)
}
