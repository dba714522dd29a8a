//! Nightly upkeep of the database file: hand free pages back to the file system, refresh the query
//! planner's statistics and fold the write-ahead log back into the database.

use crate::store::{self, Db};
use anyhow::Context;
use serde_json::json;

pub const JOB: &str = "maintenance";

/// Free pages released per transaction, so the writer is never held for long.
const VACUUM_STEP: i64 = 2_000;

pub fn maintenance_job(db: &Db) -> anyhow::Result<serde_json::Value> {
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
            break;
        }
    }
    db.write(|conn| Ok(conn.execute_batch("PRAGMA optimize;")?))?;
    // A checkpoint cannot run inside the writer's transaction, so it gets a short-lived connection of its own.
    let conn = store::connect(db.path(), crate::config::Synchronous::Full, false)
        .context("opening for checkpoint")?;
    let (busy, wal_pages, checkpointed): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    Ok(json!({
        "pages_released": released,
        "wal_pages": wal_pages,
        "wal_pages_checkpointed": checkpointed,
        "checkpoint_complete": busy == 0,
    }))
}
