//! The billing round's changes of state (`jobs::billing`, every minute and at start): trials that
//! ended without payment become past due, and the notices the dates call for are queued: the trial
//! ends in three days, sending stopped. The emails themselves go out from `notices`.
//!
//! Every step is idempotent (a status already moved is not moved again, a notice is queued once per
//! period), so a round cut off by a stop, or a server that was off for days, only catches up.

use super::{Billing, DAY_MS};
use crate::error::Result;
use crate::store::billing_notices;
use crate::store::states::{NoticeKind, SubscriptionStatus};
use crate::store::subscriptions::{self, StatusChange};
use crate::store::{AccountId, Db};
use rusqlite::Connection;

/// How long before a trial's end its owner is told.
pub const TRIAL_ENDING_NOTICE_MS: i64 = 3 * DAY_MS;

/// Who the history says moved an ended trial to past due.
pub const TRIAL_ENDED_BY: &str = "trial ended";

/// The period of a cancellation's sending-stopped notice: "canceled-" and the moment it was canceled,
/// apart from a past-due episode's (the plain `past_due_since`).
pub const CANCELED_PERIOD_PREFIX: &str = "canceled-";

/// What one round changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Advanced {
    pub trials_ended: usize,
    pub trial_notices: usize,
    pub stopped_notices: usize,
}

/// Moves ended trials to past due and queues the notices due at `now`, in one transaction (what it
/// reads cannot change before it writes); forgets the moved accounts' standing, so requests see it.
pub fn advance(db: &Db, billing: &Billing, now: i64) -> Result<Advanced> {
    let grace_ms = i64::from(billing.settings.grace_days) * DAY_MS;
    let (done, moved) = db.write(move |conn| advance_in(conn, now, grace_ms))?;
    for account in moved {
        billing.forget(account);
    }
    Ok(done)
}

fn advance_in(conn: &Connection, now: i64, grace_ms: i64) -> Result<(Advanced, Vec<AccountId>)> {
    let mut done = Advanced::default();
    let mut moved = Vec::new();
    // A trial whose end has come (`Standing::sending` already counts its grace from there): past due
    // since that end, not since this round, so a server that was off does not lengthen the grace.
    for (account, end) in subscriptions::trials_ending_before(conn, now + 1)? {
        let change = StatusChange {
            status: SubscriptionStatus::PastDue,
            trial_ends_at: None,
            past_due_since: Some(end),
        };
        if subscriptions::set_status(conn, account, change, TRIAL_ENDED_BY, now)? {
            moved.push(account);
            done.trials_ended += 1;
        }
    }
    // The trials left all end after `now`. Their end is the period: a trial extended to another date
    // is told again about the new one.
    for (account, end) in subscriptions::trials_ending_before(conn, now + TRIAL_ENDING_NOTICE_MS)? {
        if billing_notices::queue(
            conn,
            account,
            NoticeKind::TrialEnding,
            &end.to_string(),
            now,
        )? {
            done.trial_notices += 1;
        }
    }
    // Past due for the whole grace period (`Standing::sending` is `Stopped` from `since + grace` on).
    // The period is `past_due_since`, which stays while the account is past due: once per episode.
    for (account, since) in subscriptions::past_due_since_before(conn, now - grace_ms + 1)? {
        let period = since.to_string();
        if billing_notices::queue(conn, account, NoticeKind::SendingStopped, &period, now)? {
            done.stopped_notices += 1;
        }
    }
    for (account, canceled_at) in billing_notices::canceled_untold(conn)? {
        let period = format!("{CANCELED_PERIOD_PREFIX}{canceled_at}");
        if billing_notices::queue(conn, account, NoticeKind::SendingStopped, &period, now)? {
            done.stopped_notices += 1;
        }
    }
    Ok((done, moved))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = DAY_MS;

    fn account() -> AccountId {
        AccountId::from_operator(1)
    }

    fn store(dir: &std::path::Path, trial_ends_at: Option<i64>) -> Connection {
        let conn = crate::store::test_file(dir, "lifecycle.db");
        // As `store::accounts::create` leaves them, without the data key these tests do not need.
        let status = if trial_ends_at.is_some() {
            "trialing"
        } else {
            "active"
        };
        conn.execute_batch(&format!(
            "INSERT INTO accounts (id, company, created_at) VALUES (1, 'Shop', 0);
             UPDATE subscriptions SET status = '{status}', trial_ends_at = {} WHERE account_id = 1;
             INSERT INTO subscription_changes (account_id, at, plan, status, by)
             VALUES (1, 0, 'free', '{status}', 'account created');",
            trial_ends_at.map_or("NULL".to_owned(), |t| t.to_string())
        ))
        .unwrap();
        conn
    }

    fn notices(conn: &Connection) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare("SELECT kind, period FROM billing_notices ORDER BY created_at, kind")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn a_trial_is_told_then_ends_then_its_grace_ends_each_once() {
        let dir = tempfile::tempdir().unwrap();
        let conn = store(dir.path(), Some(14 * DAY));
        let grace = 7 * DAY;
        assert_eq!(
            advance_in(&conn, 10 * DAY, grace).unwrap().0,
            Advanced::default()
        );
        let (done, _) = advance_in(&conn, 11 * DAY + 1, grace).unwrap();
        assert_eq!(done.trial_notices, 1);
        assert_eq!(
            advance_in(&conn, 12 * DAY, grace).unwrap().0,
            Advanced::default()
        );
        assert_eq!(
            notices(&conn),
            vec![("trial_ending".into(), (14 * DAY).to_string())]
        );

        let (done, moved) = advance_in(&conn, 15 * DAY, grace).unwrap();
        assert_eq!((done.trials_ended, moved), (1, vec![account()]));
        let sub = subscriptions::find(&conn, account()).unwrap();
        assert_eq!(sub.status, SubscriptionStatus::PastDue);
        assert_eq!(sub.past_due_since, Some(14 * DAY), "since the trial's end");
        let history = subscriptions::history(&conn, account(), 1).unwrap();
        assert_eq!(history[0].by, TRIAL_ENDED_BY);
        assert_eq!(
            advance_in(&conn, 20 * DAY, grace).unwrap().0,
            Advanced::default()
        );

        // The grace ends at 21 days, exactly.
        assert_eq!(
            advance_in(&conn, 21 * DAY - 1, grace).unwrap().0,
            Advanced::default()
        );
        assert_eq!(
            advance_in(&conn, 21 * DAY, grace)
                .unwrap()
                .0
                .stopped_notices,
            1
        );
        assert_eq!(
            advance_in(&conn, 30 * DAY, grace).unwrap().0,
            Advanced::default()
        );
        assert_eq!(
            notices(&conn).last().unwrap(),
            &("sending_stopped".into(), (14 * DAY).to_string())
        );
    }

    #[test]
    fn a_server_off_past_the_trial_and_the_grace_catches_up_in_one_round() {
        let dir = tempfile::tempdir().unwrap();
        let conn = store(dir.path(), Some(14 * DAY));
        let (done, _) = advance_in(&conn, 40 * DAY, 7 * DAY).unwrap();
        assert_eq!(
            done,
            Advanced {
                trials_ended: 1,
                trial_notices: 0,
                stopped_notices: 1
            }
        );
    }

    #[test]
    fn a_cancellation_is_told_once_and_again_after_a_reactivation() {
        let dir = tempfile::tempdir().unwrap();
        let conn = store(dir.path(), None);
        let set = |status, now| {
            subscriptions::set_status(&conn, account(), StatusChange::to(status), "test", now)
                .unwrap()
        };
        set(SubscriptionStatus::Canceled, 5 * DAY);
        assert_eq!(advance_in(&conn, 6 * DAY, 0).unwrap().0.stopped_notices, 1);
        assert_eq!(advance_in(&conn, 7 * DAY, 0).unwrap().0.stopped_notices, 0);
        set(SubscriptionStatus::Active, 8 * DAY);
        set(SubscriptionStatus::Canceled, 9 * DAY);
        assert_eq!(advance_in(&conn, 10 * DAY, 0).unwrap().0.stopped_notices, 1);
        assert_eq!(advance_in(&conn, 11 * DAY, 0).unwrap().0.stopped_notices, 0);
        let periods: Vec<String> = notices(&conn).into_iter().map(|(_, p)| p).collect();
        assert_eq!(
            periods,
            vec![
                format!("canceled-{}", 5 * DAY),
                format!("canceled-{}", 9 * DAY)
            ]
        );
    }
}
