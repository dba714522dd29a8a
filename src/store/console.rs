//! What the operators' console reads: the outbox and the deliveries to customers' webhooks across
//! accounts (the system's health), and for each account its month's outcomes, its last activity and its
//! people's last sign-in. Every query is served by an index of the rows it counts (a test checks their
//! plans): the rare statuses (queued, sending, failed) have partial indexes of their own, so counting
//! them costs what they are, not what the log holds.

use super::AccountId;
use super::states::MessageStatus;
use super::users::UserId;
use crate::error::Result;
use rusqlite::{Connection, params};
use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

/// The outbox across accounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outbox {
    /// Messages waiting to be sent (due or not, held or not).
    pub queued: i64,
    /// Messages handed to a sender, whose call to Meta is under way.
    pub sending: i64,
    /// When the earliest queued message that is due now came due.
    pub oldest_due: Option<i64>,
}

static OUTBOX_QUEUED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT count(*), min(CASE WHEN next_attempt_at <= ?1 THEN next_attempt_at END)
         FROM messages WHERE status = {}",
        MessageStatus::Queued.sql()
    )
});
static OUTBOX_SENDING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT count(*) FROM messages WHERE status = {}",
        MessageStatus::Sending.sql()
    )
});

pub fn outbox(conn: &Connection, now: i64) -> Result<Outbox> {
    let (queued, oldest_due) = conn
        .prepare_cached(&OUTBOX_QUEUED)?
        .query_row([now], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let sending = conn
        .prepare_cached(&OUTBOX_SENDING)?
        .query_row([], |r| r.get(0))?;
    Ok(Outbox {
        queued,
        sending,
        oldest_due,
    })
}

/// Deliveries to customers' webhooks not made yet, across accounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deliveries {
    /// Waiting for their first attempt or their next one.
    pub pending: i64,
    /// Being delivered now.
    pub delivering: i64,
    /// When the earliest pending delivery that is due now came due.
    pub oldest_due: Option<i64>,
}

const DELIVERIES_PENDING: &str =
    "SELECT count(*), min(CASE WHEN next_attempt_at <= ?1 THEN next_attempt_at END)
     FROM webhook_deliveries WHERE status = 'pending'";
const DELIVERIES_DELIVERING: &str =
    "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivering'";

pub fn deliveries(conn: &Connection, now: i64) -> Result<Deliveries> {
    let (pending, oldest_due) = conn
        .prepare_cached(DELIVERIES_PENDING)?
        .query_row([now], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let delivering = conn
        .prepare_cached(DELIVERIES_DELIVERING)?
        .query_row([], |r| r.get(0))?;
    Ok(Deliveries {
        pending,
        delivering,
        oldest_due,
    })
}

/// An account's messages since the start of a month that did not reach Meta, or have not yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonthOutcomes {
    /// Failed (Meta refused them, or reported them failed).
    pub failed: i64,
    /// Still queued or being sent.
    pub unsent: i64,
}

impl MonthOutcomes {
    /// Failed out of those that were sent or failed, given the month's count of messages accepted (the
    /// billing month's); `None` before any was sent or failed.
    pub fn failure_rate(&self, accepted: u64) -> Option<f64> {
        let accepted = i64::try_from(accepted).unwrap_or(i64::MAX);
        let settled = (accepted - self.unsent).max(self.failed);
        (settled > 0).then(|| self.failed as f64 / settled as f64)
    }
}

/// The messages of a status since an id, written into the query so its partial index serves it.
fn since_of(status: MessageStatus) -> String {
    format!(
        "SELECT count(*) FROM messages WHERE account_id = ?1 AND id >= ?2 AND status = {}",
        status.sql()
    )
}

static FAILED_SINCE: LazyLock<String> = LazyLock::new(|| since_of(MessageStatus::Failed));
static QUEUED_SINCE: LazyLock<String> = LazyLock::new(|| since_of(MessageStatus::Queued));
static SENDING_SINCE: LazyLock<String> = LazyLock::new(|| since_of(MessageStatus::Sending));

/// The account's messages accepted from `since` (ms) on that failed or are not sent yet. A message's id
/// starts with the millisecond it was accepted (`ids`).
pub fn month_outcomes(conn: &Connection, account: AccountId, since: i64) -> Result<MonthOutcomes> {
    let count = |sql: &str| -> Result<i64> {
        Ok(conn
            .prepare_cached(sql)?
            .query_row(params![account.0, since << 22], |r| r.get(0))?)
    };
    Ok(MonthOutcomes {
        failed: count(&FAILED_SINCE)?,
        unsent: count(&QUEUED_SINCE)? + count(&SENDING_SINCE)?,
    })
}

const LAST_LOGGED: &str = "SELECT max(created_at) FROM activity_log WHERE account_id = ?1";
const LAST_KEY_USE: &str = "SELECT max(last_used_at) FROM api_keys WHERE account_id = ?1";
const LAST_SEEN: &str =
    "SELECT max(s.last_seen_at) FROM users u JOIN sessions s ON s.user_id = u.id
                         WHERE u.account_id = ?1";

/// The last sign of life of the account: its latest line in the activity log, the last use of one of
/// its API keys, or the last page one of its people saw, whichever is latest.
pub fn last_activity(conn: &Connection, account: AccountId) -> Result<Option<i64>> {
    let mut latest = None;
    for sql in [LAST_LOGGED, LAST_KEY_USE, LAST_SEEN] {
        let at: Option<i64> = conn
            .prepare_cached(sql)?
            .query_row([account.0], |r| r.get(0))?;
        latest = latest.max(at);
    }
    Ok(latest)
}

const LAST_SIGN_INS: &str = "SELECT user_id, max(created_at) FROM activity_log
                             WHERE account_id = ?1 AND action = 'signed_in' AND user_id IS NOT NULL
                             GROUP BY user_id";

/// When each person of the account last signed in, as the activity log still has it.
pub fn last_sign_ins(conn: &Connection, account: AccountId) -> Result<HashMap<UserId, i64>> {
    let mut stmt = conn.prepare_cached(LAST_SIGN_INS)?;
    let rows = stmt.query_map([account.0], |r| Ok((UserId(r.get(0)?), r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The sizes of the database file and of its write-ahead log, in bytes (0 for a file not there).
pub fn file_sizes(db_path: &Path) -> (u64, u64) {
    let size = |path: &Path| std::fs::metadata(path).map_or(0, |m| m.len());
    (
        size(db_path),
        size(&super::files::with_suffix(db_path, "-wal")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What SQLite will do for `sql`: one line per step of its plan.
    fn plan(conn: &Connection, sql: &str, values: usize) -> Vec<String> {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let values = vec![0_i64; values];
        stmt.query_map(rusqlite::params_from_iter(values), |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    #[test]
    fn the_consoles_counts_are_read_through_indexes_of_what_they_count() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::test_file(dir.path(), "console.db");
        conn.execute_batch("ANALYZE").unwrap();
        // Each with the indexes that may serve it: a scan is only of a partial index of what it counts.
        for (sql, values, indexes) in [
            (
                OUTBOX_QUEUED.as_str(),
                1,
                &["messages_queued_by_connection", "messages_queued"][..],
            ),
            (OUTBOX_SENDING.as_str(), 0, &["messages_sending"]),
            (DELIVERIES_PENDING, 1, &["webhook_deliveries_due"]),
            (DELIVERIES_DELIVERING, 0, &["webhook_deliveries_leased"]),
            (FAILED_SINCE.as_str(), 2, &["messages_failed"]),
            (QUEUED_SINCE.as_str(), 2, &["messages_queued"]),
            (SENDING_SINCE.as_str(), 2, &["messages_sending"]),
            (LAST_LOGGED, 1, &["activity_log_by_account"]),
            (LAST_KEY_USE, 1, &["api_keys_by_account"]),
            (LAST_SEEN, 1, &["users_by_account", "sessions_by_user"]),
            (LAST_SIGN_INS, 1, &["activity_log_by_account"]),
        ] {
            let steps = plan(&conn, sql, values);
            let served = |s: &String| {
                indexes.iter().any(|i| {
                    s.contains(&format!("INDEX {i} ")) || s.ends_with(&format!("INDEX {i}"))
                })
            };
            assert!(
                steps.iter().any(served)
                    && steps.iter().all(|s| !s.starts_with("SCAN") || served(s)),
                "{sql}: {steps:?}"
            );
        }
    }

    #[test]
    fn the_failure_rate_counts_only_what_was_sent_or_failed() {
        let month = MonthOutcomes {
            failed: 1,
            unsent: 2,
        };
        assert_eq!(month.failure_rate(6), Some(0.25));
        assert_eq!(MonthOutcomes::default().failure_rate(0), None);
        assert_eq!(
            MonthOutcomes {
                failed: 0,
                unsent: 3
            }
            .failure_rate(3),
            None
        );
        // A month's count behind its rows (a count not yet read) never makes it over 100 %.
        assert_eq!(
            MonthOutcomes {
                failed: 2,
                unsent: 0
            }
            .failure_rate(1),
            Some(1.0)
        );
    }
}
