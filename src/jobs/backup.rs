//! The scheduled backup (`[backup]`): an online copy of the database into `[backup] dir`, named after its
//! UTC time, then only the newest `keep` there. Its result (file, size, duration, integrity check, or the
//! error) is the run's outcome in `job_runs`, which `/admin` and `whatsapi doctor` read back.

use crate::config::Backup;
use crate::store::Db;
use crate::store::backup::scheduled;
use serde_json::json;
use std::time::Instant;

pub use crate::services::backups::JOB;

/// At start, with backups scheduled: the backup directory made, written and held by this server, and the
/// copies a stop cut off removed (`scheduled::prepare`); `None` when backups are off.
pub fn prepare(settings: &Backup) -> anyhow::Result<Option<scheduled::DirLock>> {
    if settings.schedule().is_none() {
        return Ok(None);
    }
    scheduled::prepare(&settings.dir).map(Some)
}

pub fn backup_job(db: &Db, settings: &Backup) -> anyhow::Result<serde_json::Value> {
    let started = Instant::now();
    let keep = settings.keep as usize;
    let written = scheduled::write_into(
        db.path(),
        &settings.dir,
        keep,
        db.keyring(),
        chrono::Utc::now(),
    )?;
    let outcome = json!({
        "file": written.path.display().to_string(),
        "bytes": written.report.bytes,
        "pages": written.report.pages,
        "integrity": written.report.integrity,
        "duration_ms": started.elapsed().as_millis() as i64,
        "removed": written.removed,
    });
    // The new backup is made: a failure to remove an older one is said beside it, not as a failed backup.
    let mut outcome = outcome;
    if let Some(error) = written.prune_error {
        tracing::warn!(%error, "a backup was made, but an older one could not be removed");
        outcome["prune_error"] = error.into();
    }
    Ok(outcome)
}
