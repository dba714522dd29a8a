//! The emails that tell people about a new version of the privacy policy, kept until they are sent: queued
//! in the transaction that publishes the version, claimed by a sender for a while, deleted once sent, tried
//! again later after a failure.

use super::consents::{PolicyVersion, Recipient};
use super::users::UserId;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};

/// How long a sender holds what it claimed: past it, another takes it over (the first one stopped).
pub const CLAIM_MS: i64 = 10 * 60 * 1000;

/// After this many failed tries an email is given up (the notice in the platform still shows).
pub const MAX_ATTEMPTS: i64 = 8;

/// The wait before the next try: 1, 2, 4 ... minutes, about four hours in all.
fn retry_delay_ms(attempts: i64) -> i64 {
    60_000 << attempts.clamp(0, 10)
}

/// One email to send.
#[derive(Debug, Clone)]
pub struct PolicyMail {
    pub recipient: Recipient,
    pub policy_id: i64,
    pub policy: PolicyVersion,
}

/// Queues the email about the published `version` for everyone but `except` (who published it); returns
/// how many were queued.
pub fn queue(conn: &Connection, version: &str, except: Option<UserId>, now: i64) -> Result<usize> {
    Ok(conn.execute(
        "INSERT INTO policy_mail (user_id, policy_id, due_at)
         SELECT users.id, policy_versions.id, ?3 FROM users, policy_versions
         WHERE policy_versions.version = ?1 AND users.id IS NOT ?2
         ON CONFLICT (user_id) DO UPDATE SET policy_id = excluded.policy_id, attempts = 0,
                                             due_at = excluded.due_at",
        params![version, except.map(|u| u.0), now],
    )?)
}

/// Claims up to `limit` emails that are due, for `CLAIM_MS`.
pub fn claim(conn: &Connection, now: i64, limit: i64) -> Result<Vec<PolicyMail>> {
    let mut stmt = conn.prepare_cached(
        "UPDATE policy_mail SET due_at = ?1 + ?2
         WHERE user_id IN (SELECT user_id FROM policy_mail WHERE due_at <= ?1 ORDER BY due_at LIMIT ?3)
         RETURNING user_id, policy_id,
                   (SELECT email FROM users WHERE id = user_id), (SELECT locale FROM users WHERE id = user_id),
                   (SELECT version FROM policy_versions WHERE id = policy_id),
                   (SELECT summary FROM policy_versions WHERE id = policy_id),
                   (SELECT published_at FROM policy_versions WHERE id = policy_id)",
    )?;
    let rows = stmt.query_map(params![now, CLAIM_MS, limit], |r| {
        Ok(PolicyMail {
            recipient: Recipient {
                user: UserId(r.get(0)?),
                email: r.get(2)?,
                locale: r.get(3)?,
            },
            policy_id: r.get(1)?,
            policy: PolicyVersion {
                version: r.get(4)?,
                summary: r.get(5)?,
                published_at: r.get(6)?,
            },
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The email went out (unless a newer version replaced it meanwhile, which is still to be sent).
pub fn sent(conn: &Connection, mail: &PolicyMail) -> Result<()> {
    conn.execute(
        "DELETE FROM policy_mail WHERE user_id = ?1 AND policy_id = ?2",
        params![mail.recipient.user.0, mail.policy_id],
    )?;
    Ok(())
}

/// The email could not be sent: it is tried again later, or given up after `MAX_ATTEMPTS`. Returns
/// whether it was given up.
pub fn failed(conn: &Connection, mail: &PolicyMail, now: i64) -> Result<bool> {
    let attempts: Option<i64> = conn
        .query_row(
            "UPDATE policy_mail SET attempts = attempts + 1
             WHERE user_id = ?1 AND policy_id = ?2 RETURNING attempts",
            params![mail.recipient.user.0, mail.policy_id],
            |r| r.get(0),
        )
        .optional()?;
    match attempts {
        Some(n) if n >= MAX_ATTEMPTS => {
            sent(conn, mail)?;
            Ok(true)
        }
        Some(n) => {
            conn.execute(
                "UPDATE policy_mail SET due_at = ?2 WHERE user_id = ?1",
                params![mail.recipient.user.0, now + retry_delay_ms(n - 1)],
            )?;
            Ok(false)
        }
        None => Ok(false),
    }
}

/// Gives back claimed emails that were not tried, due at once.
pub fn release(conn: &Connection, mails: &[PolicyMail], now: i64) -> Result<()> {
    for mail in mails {
        conn.execute(
            "UPDATE policy_mail SET due_at = ?3 WHERE user_id = ?1 AND policy_id = ?2",
            params![mail.recipient.user.0, mail.policy_id, now],
        )?;
    }
    Ok(())
}

/// How many emails are still to go out.
pub fn pending(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT count(*) FROM policy_mail", [], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_and_end_within_hours() {
        assert_eq!(retry_delay_ms(0), 60_000);
        assert_eq!(retry_delay_ms(1), 120_000);
        let total: i64 = (0..MAX_ATTEMPTS - 1).map(retry_delay_ms).sum();
        assert!(total > 2 * 3_600_000 && total < 5 * 3_600_000, "{total}");
    }
}
