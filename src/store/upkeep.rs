//! Upkeep of the database file, used by the nightly maintenance job, retention and account deletion:
//! hand free pages back to the file system and fold the write-ahead log into the database.

use super::Db;
use anyhow::Context;

/// Free pages released per transaction, so the writer is never held for long.
const VACUUM_STEP: i64 = 2_000;

/// Gives the free pages back to the file system (incremental vacuum), a few thousand per transaction;
/// how many.
pub fn release_free_pages(db: &Db) -> anyhow::Result<i64> {
    let mut released = 0i64;
    loop {
        let freed = db.write(|conn| {
            let before: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            conn.execute_batch(&format!("PRAGMA incremental_vacuum({VACUUM_STEP});"))?;
            let after: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            Ok(before - after)
        })?;
        released += freed;
        if freed < VACUUM_STEP {
            return Ok(released);
        }
    }
}

/// What a checkpoint did.
#[derive(Debug, Clone, Copy)]
pub struct Checkpoint {
    pub wal_pages: i64,
    pub checkpointed: i64,
    /// Every page was copied and the write-ahead log emptied (no reader held an older snapshot).
    pub complete: bool,
}

/// Copies the write-ahead log into the database and truncates it to nothing, so older versions of pages
/// (deleted rows included) no longer exist in it.
pub fn checkpoint(db: &Db) -> anyhow::Result<Checkpoint> {
    // A checkpoint cannot run inside the writer's transaction, so it gets a short-lived connection of its own.
    let conn = super::connect(db.path(), crate::config::Synchronous::Full, false)
        .context("opening for checkpoint")?;
    let (busy, wal_pages, checkpointed): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    Ok(Checkpoint {
        wal_pages,
        checkpointed,
        complete: busy == 0,
    })
}
