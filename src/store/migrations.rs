//! Ordered schema migrations, tracked by `PRAGMA user_version`. Each runs in its own transaction; a
//! database written by a newer version is refused rather than misread.

use super::OpenError;
use rusqlite::Connection;
use std::path::Path;

/// A migration's name (its file's, without `.sql`) and its SQL.
macro_rules! migration {
    ($name:literal) => {
        ($name, include_str!(concat!("migrations/", $name, ".sql")))
    };
}

/// Append only: never edit a migration that has shipped.
const MIGRATIONS: &[(&str, &str)] = &[
    migration!("0001_foundation"),
    migration!("0002_people"),
    migration!("0003_messaging"),
    migration!("0004_templates"),
    migration!("0005_contacts"),
    migration!("0006_webhooks"),
    migration!("0007_customer_webhooks"),
    migration!("0008_conversations"),
    migration!("0009_retention"),
    migration!("0010_policy_versions"),
    migration!("0011_sealed_idempotency"),
    migration!("0012_policy_mail"),
    migration!("0013_account_deletions"),
    migration!("0014_idempotency_digest"),
    migration!("0015_login_throttle"),
    migration!("0016_send_lanes"),
    migration!("0017_rare_status_indexes"),
    migration!("0018_billing"),
    migration!("0019_usage_rollups"),
    migration!("0020_account_holds"),
    migration!("0021_abuse_signals"),
    migration!("0022_payment_event_customer"),
    migration!("0023_two_step"),
    migration!("0024_inbox_workspace"),
    migration!("0025_contact_book"),
    migration!("0026_template_reviews"),
    migration!("0027_connection_identity"),
    migration!("0028_unread_index"),
];

pub const LATEST: i64 = MIGRATIONS.len() as i64;

pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings the schema up to date; returns how many migrations ran. Says in one line what it did (created
/// or migrated the database), and tells systemd each step while it works. A stop asked for by a signal
/// is honoured between two steps: each step is its own transaction, so none is ever half applied.
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
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let target = index as i64 + 1;
        #[cfg(debug_assertions)]
        hold_if_asked(target);
        crate::signals::check().map_err(OpenError::Stopped)?;
        // One step may take minutes on a large database: systemd's start timeout waits for it.
        crate::systemd::working(
            &format!("migrating the database: step {target} of {LATEST} ({name})"),
            std::time::Duration::from_secs(600),
        );
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
            tracing::debug!(version = target, name, "applied a database migration");
            applied += 1;
        }
    }
    if applied > 0 {
        let now = version(conn).map_err(OpenError::sqlite(path))?;
        let steps = match applied {
            1 => "1 migration".to_owned(),
            n => format!("{n} migrations"),
        };
        match found {
            0 => tracing::info!(
                "created the database {} at schema version {now} ({steps})",
                path.display()
            ),
            _ => tracing::info!(
                "migrated the database {} from schema version {found} to {now} ({steps})",
                path.display()
            ),
        }
    }
    Ok(applied)
}

/// Tests only (debug builds; not WHATSAPI_, which is configuration): start-up waits before the
/// migration step this variable names until a signal asks it to stop, so a test can stop it there.
#[cfg(debug_assertions)]
pub const HOLD_HOOK: &str = "DEBUG_WHATSAPI_HOLD_BEFORE_MIGRATION";

#[cfg(debug_assertions)]
fn hold_if_asked(step: i64) {
    let asked = std::env::var(HOLD_HOOK)
        .ok()
        .and_then(|v| v.parse::<i64>().ok());
    if asked == Some(step) {
        tracing::warn!("test hook: holding start-up before migration step {step}");
        while crate::signals::stop_requested().is_none() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
