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

/// A notice not sent yet, with whom to send it to: the account's owner, when it still has one.
#[derive(Debug, Clone)]
pub struct Unsent {
    pub account: AccountId,
    pub kind: NoticeKind,
    pub period: String,
    pub created_at: i64,
    pub company: String,
    pub owner_email: Option<String>,
    pub owner_locale: Option<String>,
}

/// Up to `limit` notices not sent yet, oldest first (operator-wide: for the billing round).
pub fn unsent(conn: &Connection, limit: usize) -> Result<Vec<Unsent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT n.account_id, n.kind, n.period, n.created_at, a.company, u.email, u.locale
         FROM billing_notices n
         JOIN accounts a ON a.id = n.account_id
         LEFT JOIN users u ON u.id = (SELECT id FROM users WHERE account_id = n.account_id
                                      AND role = 'owner' ORDER BY id LIMIT 1)
         WHERE n.sent_at IS NULL ORDER BY n.created_at LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(Unsent {
            account: AccountId(r.get(0)?),
            kind: r.get(1)?,
            period: r.get(2)?,
            created_at: r.get(3)?,
            company: r.get(4)?,
            owner_email: r.get(5)?,
            owner_locale: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Marks the notice done: sent, or dropped because it no longer held. False when it already was.
pub fn mark_sent(
    conn: &Connection,
    account: AccountId,
    kind: NoticeKind,
    period: &str,
    now: i64,
) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE billing_notices SET sent_at = ?4
         WHERE account_id = ?1 AND kind = ?2 AND period = ?3 AND sent_at IS NULL",
        params![account.0, kind, period, now],
    )? > 0)
}

/// Canceled accounts that have not been told that sending stopped since they were last active or
/// trialing, each with the moment it was canceled (the first `canceled` row of its history after the
/// last active or trialing one). "Once" is per episode: an account past due whose grace ended was told
/// already and is not told again when it is canceled next; one reactivated and canceled again is.
/// Operator-wide: for the billing round.
pub fn canceled_untold(conn: &Connection) -> Result<Vec<(AccountId, i64)>> {
    let mut stmt = conn.prepare_cached(
        "WITH canceled AS (
             SELECT s.account_id, s.changed_at,
                    (SELECT max(c.id) FROM subscription_changes c WHERE c.account_id = s.account_id
                       AND c.status IN ('active', 'trialing')) AS good_id
             FROM subscriptions s WHERE s.status = 'canceled')
         SELECT account_id,
                coalesce((SELECT min(c.at) FROM subscription_changes c
                          WHERE c.account_id = canceled.account_id AND c.status = 'canceled'
                            AND c.id > coalesce(good_id, 0)), changed_at)
         FROM canceled
         WHERE NOT EXISTS (
             SELECT 1 FROM billing_notices n
             WHERE n.account_id = canceled.account_id AND n.kind = 'sending_stopped'
               AND n.created_at >= coalesce((SELECT at FROM subscription_changes WHERE id = good_id), 0))",
    )?;
    let rows = stmt.query_map([], |r| Ok((AccountId(r.get(0)?), r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::states::SubscriptionStatus;
    use crate::store::subscriptions::{self, Start, StatusChange};

    const ACCOUNT: AccountId = AccountId(1);

    fn store(dir: &std::path::Path) -> Connection {
        let conn = crate::store::test_file(dir, "notices.db");
        conn.execute_batch(
            "INSERT INTO accounts (id, company, created_at) VALUES (1, 'Shop', 0);
             INSERT INTO users (account_id, role, email, name, password_hash, locale, created_at,
                                password_changed_at)
             VALUES (1, 'admin', 'admin@shop.test', 'A', 'x', 'en', 0, 0),
                    (1, 'owner', 'owner@shop.test', 'O', 'x', 'ar', 0, 0);",
        )
        .unwrap();
        subscriptions::start(&conn, ACCOUNT, &Start::default(), 0).unwrap();
        conn
    }

    fn set(conn: &Connection, status: SubscriptionStatus, now: i64) {
        assert!(
            subscriptions::set_status(conn, ACCOUNT, StatusChange::to(status), "test", now)
                .unwrap()
        );
    }

    #[test]
    fn a_notice_is_sent_to_the_owner_in_their_language_and_marked_once() {
        let dir = tempfile::tempdir().unwrap();
        let conn = store(dir.path());
        assert!(queue(&conn, ACCOUNT, NoticeKind::Quota80, "2026-12", 5).unwrap());
        assert!(!queue(&conn, ACCOUNT, NoticeKind::Quota80, "2026-12", 6).unwrap());
        let unsent = unsent(&conn, 10).unwrap();
        assert_eq!(unsent.len(), 1);
        let notice = &unsent[0];
        assert_eq!(
            (notice.kind, notice.period.as_str(), notice.created_at),
            (NoticeKind::Quota80, "2026-12", 5)
        );
        assert_eq!(notice.company, "Shop");
        assert_eq!(notice.owner_email.as_deref(), Some("owner@shop.test"));
        assert_eq!(notice.owner_locale.as_deref(), Some("ar"));
        assert!(mark_sent(&conn, ACCOUNT, NoticeKind::Quota80, "2026-12", 7).unwrap());
        assert!(!mark_sent(&conn, ACCOUNT, NoticeKind::Quota80, "2026-12", 8).unwrap());
        assert!(super::unsent(&conn, 10).unwrap().is_empty());
        // Sent, it still counts as queued for its period: never twice.
        assert!(!queue(&conn, ACCOUNT, NoticeKind::Quota80, "2026-12", 9).unwrap());
    }

    #[test]
    fn a_cancellation_is_told_once_per_episode_of_not_sending() {
        let dir = tempfile::tempdir().unwrap();
        let conn = store(dir.path());
        assert!(canceled_untold(&conn).unwrap().is_empty(), "active");
        set(&conn, SubscriptionStatus::Canceled, 100);
        assert_eq!(canceled_untold(&conn).unwrap(), vec![(ACCOUNT, 100)]);
        queue(
            &conn,
            ACCOUNT,
            NoticeKind::SendingStopped,
            "canceled-100",
            110,
        )
        .unwrap();
        assert!(canceled_untold(&conn).unwrap().is_empty(), "told");
        // A change of plan while canceled is the same episode.
        subscriptions::set_plan(&conn, ACCOUNT, "big", "test", 120).unwrap();
        assert!(canceled_untold(&conn).unwrap().is_empty(), "same episode");

        // Reactivated, then canceled again: a new episode, told again.
        set(&conn, SubscriptionStatus::Active, 200);
        set(&conn, SubscriptionStatus::Canceled, 300);
        assert_eq!(canceled_untold(&conn).unwrap(), vec![(ACCOUNT, 300)]);
        queue(
            &conn,
            ACCOUNT,
            NoticeKind::SendingStopped,
            "canceled-300",
            310,
        )
        .unwrap();

        // Past due and told that sending stopped, then canceled: sending stopped already, not told again.
        set(&conn, SubscriptionStatus::Active, 400);
        set(&conn, SubscriptionStatus::PastDue, 500);
        queue(&conn, ACCOUNT, NoticeKind::SendingStopped, "500", 600).unwrap();
        set(&conn, SubscriptionStatus::Canceled, 700);
        assert!(
            canceled_untold(&conn).unwrap().is_empty(),
            "stopped already"
        );
    }
}
