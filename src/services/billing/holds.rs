//! Suspending an account and holding its sending: the one way in, for the operators' pages, the command
//! line and automatic checks alike. Each change is written with its line in the account's history of
//! holds (who or what made it, and why) and its line in the activity log, in one transaction; the
//! server's billing state follows at once when the change is made through it (`Billing::change_hold`),
//! and within the few seconds it trusts an account's standing otherwise (another process, a job).

use super::Billing;
use crate::error::Result;
use crate::store::activity::{self, Actor};
use crate::store::holds::{self, HoldChange};
use crate::store::{AccountId, Db};
use rusqlite::Connection;

/// A change of an account's suspension or hold of sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Suspends the account: no sign-in, no pages, no API, nothing sent.
    Suspend { reason: String },
    /// Lifts a suspension and a hold of sending.
    Reactivate,
    /// Holds the account's sending: its messages stay queued until the hold is released.
    HoldSending { reason: String },
    /// Releases the hold of sending (a suspension stays).
    ReleaseHold,
}

impl Change {
    /// The change as the history names it.
    pub fn name(&self) -> &'static str {
        match self {
            Change::Suspend { .. } => "suspended",
            Change::Reactivate => "reactivated",
            Change::HoldSending { .. } => "sending_held",
            Change::ReleaseHold => "hold_released",
        }
    }

    /// The activity log's action for it.
    pub fn action(&self) -> &'static str {
        match self {
            Change::Suspend { .. } => "account_suspended",
            Change::Reactivate => "account_reactivated",
            Change::HoldSending { .. } => "sending_held",
            Change::ReleaseHold => "sending_released",
        }
    }

    fn reason(&self) -> &str {
        match self {
            Change::Suspend { reason } | Change::HoldSending { reason } => reason.trim(),
            Change::Reactivate | Change::ReleaseHold => "",
        }
    }
}

/// Makes the change in the caller's transaction. When it changed anything, writes the account's history
/// line (`by`: "admin ann@example.com", "command line", the name of an automatic check) and the activity
/// line of `actor` (an operator's own line, without the account: their address and browser stay out of
/// the customer's log and export). False when the account was so already.
pub fn apply(
    conn: &Connection,
    account: AccountId,
    change: &Change,
    (actor, by): (&Actor<'_>, &str),
    now: i64,
) -> Result<bool> {
    let reason = change.reason();
    let changed = match change {
        Change::Suspend { .. } => holds::suspend(conn, account, reason, now)?,
        Change::Reactivate => holds::reactivate(conn, account)?,
        Change::HoldSending { .. } => holds::hold_sending(conn, account, reason, now)?,
        Change::ReleaseHold => holds::release_hold(conn, account)?,
    };
    if !changed {
        return Ok(false);
    }
    let line = HoldChange {
        at: now,
        change: change.name().to_owned(),
        reason: reason.to_owned(),
        by: by.to_owned(),
    };
    holds::record(conn, account, &line)?;
    let detail = match reason {
        "" => format!("account {}", account.get()),
        reason => format!("account {}: {reason}", account.get()),
    };
    let actor = Actor {
        account: None,
        ..*actor
    };
    activity::record(conn, &actor, change.action(), &detail, now)?;
    Ok(true)
}

impl Billing {
    /// Makes the change (see `apply`; `write` runs it in the writer's transaction, building the actor
    /// there) and forgets what memory held of the account, so its pages, API and sending follow at once.
    pub async fn change_hold(
        &self,
        db: &Db,
        account: AccountId,
        write: impl FnOnce(&Connection) -> Result<bool> + Send + 'static,
    ) -> Result<bool> {
        let changed = db.write_async(write).await;
        self.forget(account);
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::holds::{find, history};

    #[test]
    fn a_change_is_written_with_its_history_and_activity_lines_and_only_when_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::test_file(dir.path(), "holds.db");
        conn.execute(
            "INSERT INTO accounts (company, created_at) VALUES ('Shop', 0)",
            [],
        )
        .unwrap();
        let account = AccountId::from_operator(conn.last_insert_rowid());
        let actor = Actor {
            account: Some(account),
            user: None,
            ip: "",
            user_agent: "",
        };
        let hold = Change::HoldSending {
            reason: " many failures ".into(),
        };
        assert!(apply(&conn, account, &hold, (&actor, "abuse check"), 5).unwrap());
        assert!(!apply(&conn, account, &hold, (&actor, "abuse check"), 6).unwrap());
        assert!(
            apply(
                &conn,
                account,
                &Change::Reactivate,
                (&actor, "command line"),
                7
            )
            .unwrap()
        );
        assert!(find(&conn, account).unwrap().may_send());
        let lines = history(&conn, account, 10).unwrap();
        let seen: Vec<(&str, &str, &str)> = lines
            .iter()
            .map(|l| (l.change.as_str(), l.reason.as_str(), l.by.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("reactivated", "", "command line"),
                ("sending_held", "many failures", "abuse check")
            ]
        );
        let logged: Vec<(Option<i64>, String, String)> = conn
            .prepare("SELECT account_id, action, detail FROM activity_log ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let id = account.get();
        assert_eq!(
            logged,
            [
                (
                    None,
                    "sending_held".into(),
                    format!("account {id}: many failures")
                ),
                (None, "account_reactivated".into(), format!("account {id}")),
            ]
        );
    }
}
