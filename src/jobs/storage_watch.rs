//! Watches the store while the server runs: the database file is still the one opened, and the disk has
//! room. A store that cannot write for `[storage] fail_after_secs` (the file deleted, an I/O error) ends
//! the process with a failure, so the service manager restarts it or alerts; a full disk does not (writes
//! resume by themselves when space returns). Free space under `[storage] min_free_mb` is warned about.

use crate::store::Db;
use crate::store::health::Trouble;
use std::path::Path;
use std::time::{Duration, Instant};

pub const EVERY: Duration = Duration::from_secs(5);
/// How often the low-space warning may be repeated.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// What the process exits with when its store cannot write.
pub const EXIT_STORAGE: i32 = 70;

/// One look; `last_warning` keeps the low-space warning to once a minute.
pub fn round(db: &Db, fail_after: Duration, min_free_mb: u64, last_warning: &mut Option<Instant>) {
    db.health().file_is_ours();
    if let Some((Trouble::Failing(reason), for_how_long)) = db.health().trouble()
        && for_how_long >= fail_after
    {
        tracing::error!(
            "stopping: the database could not be written for {} s ({reason}); the service manager \
             restarts the server",
            for_how_long.as_secs()
        );
        std::process::exit(EXIT_STORAGE);
    }
    let dir = db.path().parent().unwrap_or(Path::new("."));
    if let Ok(free) = crate::store::health::free_bytes(dir).map(|b| b >> 20)
        && free < min_free_mb
        && last_warning.is_none_or(|at| at.elapsed() >= WARN_EVERY)
    {
        tracing::warn!(
            free_mb = free,
            "little free space left for the database in {} ([storage] min_free_mb = {min_free_mb})",
            dir.display()
        );
        *last_warning = Some(Instant::now());
    }
}
