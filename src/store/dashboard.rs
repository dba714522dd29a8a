//! What the dashboard reads besides the usage roll-ups, each in one query: the first steps an account has
//! taken (the getting-started checklist, ticked from the data) and its unread inbound messages. Each
//! number's pace is counted in memory (`rollups::Tally::sent_last_minute`).

use super::AccountId;
use super::retention::Visible;
use crate::error::Result;
use rusqlite::{Connection, params};

/// Whether the account has done each first step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FirstSteps {
    pub number: bool,
    pub message: bool,
    pub api_key: bool,
    pub endpoint: bool,
}

/// The first steps, from what exists: a number, a message ever sent (kept or counted in a month past
/// retention), an API key not revoked, a webhook endpoint.
pub fn first_steps(conn: &Connection, account: AccountId) -> Result<FirstSteps> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM connections WHERE account_id = ?1),
                EXISTS (SELECT 1 FROM messages WHERE account_id = ?1)
                  OR EXISTS (SELECT 1 FROM usage_months WHERE account_id = ?1 AND messages > 0),
                EXISTS (SELECT 1 FROM api_keys WHERE account_id = ?1 AND revoked_at IS NULL),
                EXISTS (SELECT 1 FROM webhook_endpoints WHERE account_id = ?1)",
        [account.0],
        |r| {
            Ok(FirstSteps {
                number: r.get(0)?,
                message: r.get(1)?,
                api_key: r.get(2)?,
                endpoint: r.get(3)?,
            })
        },
    )?)
}

/// Inbound messages not yet seen in the inbox (as the inbox counts them): received since `today` and since
/// `month`, within retention.
pub fn unread(
    conn: &Connection,
    account: AccountId,
    today: i64,
    month: i64,
    visible: Visible,
) -> Result<(u64, u64)> {
    // The month starts no later than today; nothing before retention's start counts.
    let (from, today) = (month.max(visible.from), today.max(visible.from));
    let (today, month): (i64, i64) = conn.query_row(
        "SELECT coalesce(sum(received_at >= ?3), 0), count(*) FROM inbound_messages
         WHERE account_id = ?1 AND seen_at IS NULL AND received_at >= ?2",
        params![account.0, from, today],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((today.max(0) as u64, month.max(0) as u64))
}
