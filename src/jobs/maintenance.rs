//! Nightly upkeep of the database file: hand free pages back to the file system, refresh the query
//! planner's statistics and fold the write-ahead log back into the database.

use crate::store::{Db, upkeep};
use serde_json::json;

pub const JOB: &str = "maintenance";

pub fn maintenance_job(db: &Db) -> anyhow::Result<serde_json::Value> {
    let released = upkeep::release_free_pages(db)?;
    db.write(|conn| Ok(conn.execute_batch("PRAGMA optimize;")?))?;
    let checkpoint = upkeep::checkpoint(db)?;
    Ok(json!({
        "pages_released": released,
        "wal_pages": checkpoint.wal_pages,
        "wal_pages_checkpointed": checkpoint.checkpointed,
        "checkpoint_complete": checkpoint.complete,
    }))
}
