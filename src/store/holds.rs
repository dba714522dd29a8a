//! An operator's suspension of an account and hold of its sending. A suspended account cannot sign in,
//! use its pages or its API, and sends nothing; an account whose sending is held works as before but
//! sends nothing: its messages stay queued (the sender's claim skips them) and go out once the hold is
//! released. Each change function changes one thing and says whether it changed anything; the service
//! (`services::billing::holds`) writes the history and the activity line with it, and is the one way
//! in for the pages, the command line and automatic checks alike.

use super::AccountId;
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// A suspension or a hold: since when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    pub at: i64,
    pub reason: String,
}

/// What holds an account now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Holds {
    /// Suspended by an operator (or being deleted: then with the time 0 and no reason).
    pub suspended: Option<Hold>,
    pub sending_held: Option<Hold>,
}

impl Holds {
    /// Whether the account may send now (neither suspended nor held).
    pub fn may_send(&self) -> bool {
        self.suspended.is_none() && self.sending_held.is_none()
    }
}

/// The SQL condition, on the `accounts` row aliased `a`, of an account that may send: what the sender's
/// claim and its look at the outbox ask.
pub const MAY_SEND: &str = "a.status = 'active' AND a.sending_held_at IS NULL";

/// The account's holds; `NotFound` when there is no such account.
pub fn find(conn: &Connection, account: AccountId) -> Result<Holds> {
    conn.prepare_cached(
        "SELECT status = 'suspended', suspended_at, suspended_reason, sending_held_at, sending_held_reason
         FROM accounts WHERE id = ?1",
    )?
    .query_row([account.0], |r| {
        let suspended: bool = r.get(0)?;
        let held_at: Option<i64> = r.get(3)?;
        Ok(Holds {
            suspended: match suspended {
                true => Some(Hold {
                    at: r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                    reason: r.get(2)?,
                }),
                false => None,
            },
            sending_held: match held_at {
                Some(at) => Some(Hold {
                    at,
                    reason: r.get(4)?,
                }),
                None => None,
            },
        })
    })
    .optional()?
    .ok_or(Error::NotFound)
}

/// Whether the account is suspended (false for no such account): the sign-in and every page ask.
pub fn is_suspended(conn: &Connection, account: AccountId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT status = 'suspended' FROM accounts WHERE id = ?1")?
        .query_row([account.0], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

/// A reason as kept: trimmed, at most 500 characters.
fn reason_of(reason: &str) -> Result<&str> {
    let reason = reason.trim();
    if reason.chars().count() > 500 {
        return Err(Error::invalid(
            "reason",
            "a reason has at most 500 characters",
        ));
    }
    Ok(reason)
}

/// Suspends the account. False when it was suspended already (or is being deleted).
pub fn suspend(conn: &Connection, account: AccountId, reason: &str, now: i64) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE accounts SET status = 'suspended', suspended_at = ?2, suspended_reason = ?3
         WHERE id = ?1 AND status = 'active'",
        params![account.0, now, reason_of(reason)?],
    )? > 0)
}

/// Lifts the account's suspension and any hold of its sending. False when neither held it. An account
/// being deleted stays suspended: that is refused.
pub fn reactivate(conn: &Connection, account: AccountId) -> Result<bool> {
    let deleting: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM account_deletions WHERE account = ?1)",
        [account.0],
        |r| r.get(0),
    )?;
    if deleting {
        return Err(Error::invalid(
            "account",
            "the account is being deleted and cannot be reactivated",
        ));
    }
    Ok(conn.execute(
        "UPDATE accounts SET status = 'active', suspended_at = NULL, suspended_reason = '',
                             sending_held_at = NULL, sending_held_reason = ''
         WHERE id = ?1 AND (status = 'suspended' OR sending_held_at IS NOT NULL)",
        [account.0],
    )? > 0)
}

/// Holds the account's sending. False when it was held already.
pub fn hold_sending(conn: &Connection, account: AccountId, reason: &str, now: i64) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE accounts SET sending_held_at = ?2, sending_held_reason = ?3
         WHERE id = ?1 AND sending_held_at IS NULL",
        params![account.0, now, reason_of(reason)?],
    )? > 0)
}

/// Releases the hold of the account's sending (a suspension stays). False when it was not held.
pub fn release_hold(conn: &Connection, account: AccountId) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE accounts SET sending_held_at = NULL, sending_held_reason = ''
         WHERE id = ?1 AND sending_held_at IS NOT NULL",
        [account.0],
    )? > 0)
}

/// One line of an account's history of suspensions and holds.
#[derive(Debug, Clone, Serialize)]
pub struct HoldChange {
    pub at: i64,
    /// suspended, reactivated, sending_held or hold_released.
    pub change: String,
    pub reason: String,
    pub by: String,
}

/// Writes a line of the account's history.
pub fn record(conn: &Connection, account: AccountId, line: &HoldChange) -> Result<()> {
    conn.execute(
        "INSERT INTO account_hold_changes (account_id, at, change, reason, by) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![account.0, line.at, line.change, line.reason.trim(), line.by],
    )?;
    Ok(())
}

/// The account's history, newest first.
pub fn history(conn: &Connection, account: AccountId, limit: usize) -> Result<Vec<HoldChange>> {
    let mut stmt = conn.prepare(
        "SELECT at, change, reason, by FROM account_hold_changes WHERE account_id = ?1
         ORDER BY at DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![account.0, limit as i64], |r| {
        Ok(HoldChange {
            at: r.get(0)?,
            change: r.get(1)?,
            reason: r.get(2)?,
            by: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_says_whether_it_changed_anything_and_reactivation_lifts_both() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::test_file(dir.path(), "holds.db");
        conn.execute(
            "INSERT INTO accounts (company, created_at) VALUES ('Shop', 0)",
            [],
        )
        .unwrap();
        let account = AccountId(conn.last_insert_rowid());
        assert_eq!(find(&conn, account).unwrap(), Holds::default());
        assert!(find(&conn, AccountId(999)).is_err());

        assert!(hold_sending(&conn, account, " spam reports ", 10).unwrap());
        assert!(!hold_sending(&conn, account, "again", 11).unwrap());
        let holds = find(&conn, account).unwrap();
        assert_eq!(
            holds.sending_held,
            Some(Hold {
                at: 10,
                reason: "spam reports".into()
            })
        );
        assert!(!holds.may_send() && holds.suspended.is_none());
        assert!(release_hold(&conn, account).unwrap());
        assert!(!release_hold(&conn, account).unwrap());
        assert!(find(&conn, account).unwrap().may_send());

        assert!(suspend(&conn, account, "unpaid", 20).unwrap());
        assert!(!suspend(&conn, account, "unpaid", 21).unwrap());
        assert!(is_suspended(&conn, account).unwrap());
        assert!(hold_sending(&conn, account, "", 22).unwrap());
        assert!(reactivate(&conn, account).unwrap());
        assert_eq!(find(&conn, account).unwrap(), Holds::default());
        assert!(!reactivate(&conn, account).unwrap());
        assert!(!is_suspended(&conn, AccountId(999)).unwrap());

        let long = "x".repeat(501);
        assert!(suspend(&conn, account, &long, 30).is_err());
        conn.execute(
            "INSERT INTO account_deletions (account, company, started_at) VALUES (?1, 'Shop', 0)",
            [account.0],
        )
        .unwrap();
        assert!(suspend(&conn, account, "", 31).unwrap());
        assert!(reactivate(&conn, account).is_err());
    }
}
