//! Ordered schema migrations, tracked by `PRAGMA user_version`. Each runs in its own transaction; a
//! database written by a newer version is refused rather than misread.

use super::OpenError;
use rusqlite::Connection;
use std::path::Path;

/// Append only: never edit a migration that has shipped.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_foundation.sql"),
    include_str!("migrations/0002_people.sql"),
    include_str!("migrations/0003_messaging.sql"),
    include_str!("migrations/0004_templates.sql"),
    include_str!("migrations/0005_contacts.sql"),
    include_str!("migrations/0006_webhooks.sql"),
    include_str!("migrations/0007_customer_webhooks.sql"),
    include_str!("migrations/0008_conversations.sql"),
    include_str!("migrations/0009_retention.sql"),
    include_str!("migrations/0010_policy_versions.sql"),
    include_str!("migrations/0011_sealed_idempotency.sql"),
    include_str!("migrations/0012_policy_mail.sql"),
    include_str!("migrations/0013_account_deletions.sql"),
    include_str!("migrations/0014_idempotency_digest.sql"),
    include_str!("migrations/0015_login_throttle.sql"),
    include_str!("migrations/0016_send_lanes.sql"),
    include_str!("migrations/0017_rare_status_indexes.sql"),
    include_str!("migrations/0018_billing.sql"),
    include_str!("migrations/0019_usage_rollups.sql"),
    include_str!("migrations/0020_account_holds.sql"),
    include_str!("migrations/0021_abuse_signals.sql"),
    include_str!("migrations/0022_payment_event_customer.sql"),
    include_str!("migrations/0023_two_step.sql"),
];

pub const LATEST: i64 = MIGRATIONS.len() as i64;

pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings the schema up to date; returns how many migrations ran.
pub fn run(conn: &Connection, path: &Path) -> Result<usize, OpenError> {
    let found = version(conn).map_err(OpenError::sqlite(path))?;
    if found > LATEST {
        return Err(OpenError::NewerSchema {
            path: path.display().to_string(),
            found,
            supported: LATEST,
        });
    }
    let mut applied = 0;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let target = index as i64 + 1;
        // IMMEDIATE, and the version read again inside: another process may have migrated meanwhile.
        let step = || -> rusqlite::Result<bool> {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let result = (|| {
                if version(conn)? >= target {
                    return Ok(false);
                }
                conn.execute_batch(sql)?;
                conn.execute_batch(&format!("PRAGMA user_version = {target}"))?;
                Ok(true)
            })();
            match result {
                Ok(ran) => conn.execute_batch("COMMIT").map(|_| ran),
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        };
        if step().map_err(OpenError::sqlite(path))? {
            tracing::info!(version = target, "applied database migration");
            applied += 1;
        }
    }
    Ok(applied)
}
