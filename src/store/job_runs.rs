//! The record of scheduled job runs.

use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// The retention job's name in the record, which the admin page reads back.
pub const RETENTION: &str = "retention";

#[derive(Debug, Clone, Serialize)]
pub struct JobRun {
    pub id: i64,
    pub job: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub outcome: serde_json::Value,
    pub error: Option<String>,
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRun> {
    let outcome: String = r.get(4)?;
    Ok(JobRun {
        id: r.get(0)?,
        job: r.get(1)?,
        started_at: r.get(2)?,
        finished_at: r.get(3)?,
        outcome: serde_json::from_str(&outcome).unwrap_or(serde_json::Value::Null),
        error: r.get(5)?,
    })
}

pub fn start(conn: &Connection, job: &str, now: i64) -> Result<i64> {
    conn.execute(
        "INSERT INTO job_runs (job, started_at) VALUES (?1, ?2)",
        params![job, now],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn finish(
    conn: &Connection,
    id: i64,
    now: i64,
    outcome: &serde_json::Value,
    error: Option<&str>,
) -> Result<()> {
    conn.execute(
        "UPDATE job_runs SET finished_at = ?2, outcome = ?3, error = ?4 WHERE id = ?1",
        params![id, now, outcome.to_string(), error],
    )?;
    Ok(())
}

/// When the job's last finished run started, in milliseconds since the epoch; a run a stop cut off (never
/// finished) does not count.
pub fn last_finished_start(conn: &Connection, job: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT max(started_at) FROM job_runs WHERE job = ?1 AND finished_at IS NOT NULL",
            [job],
            |r| r.get::<_, Option<i64>>(0),
        )
        .optional()?
        .flatten())
}

pub fn recent(conn: &Connection, limit: usize) -> Result<Vec<JobRun>> {
    let mut stmt = conn.prepare(
        "SELECT id, job, started_at, finished_at, outcome, error FROM job_runs ORDER BY started_at DESC, id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The latest runs of one job, newest first.
pub fn recent_of(conn: &Connection, job: &str, limit: usize) -> Result<Vec<JobRun>> {
    let mut stmt = conn.prepare(
        "SELECT id, job, started_at, finished_at, outcome, error FROM job_runs WHERE job = ?1
         ORDER BY started_at DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![job, limit as i64], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The latest run of every job that ever ran, by job name.
pub fn latest_of_each(conn: &Connection) -> Result<Vec<JobRun>> {
    // One step of the index per job: its names, then each one's latest run.
    let mut stmt = conn.prepare(
        "SELECT r.id, r.job, r.started_at, r.finished_at, r.outcome, r.error
         FROM (SELECT DISTINCT job FROM job_runs) j
         JOIN job_runs r ON r.id = (SELECT id FROM job_runs WHERE job = j.job ORDER BY started_at DESC, id DESC LIMIT 1)
         ORDER BY r.job",
    )?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The latest finished run of one job; with `succeeded`, the latest that finished without an error.
pub fn last_finished(conn: &Connection, job: &str, succeeded: bool) -> Result<Option<JobRun>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, job, started_at, finished_at, outcome, error FROM job_runs
         WHERE job = ?1 AND finished_at IS NOT NULL AND (?2 = 0 OR error IS NULL)
         ORDER BY started_at DESC, id DESC LIMIT 1",
    )?;
    Ok(stmt
        .query_row(params![job, succeeded], from_row)
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_cut_off_by_a_stop_is_not_the_last_run() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::test_file(dir.path(), "runs.db");
        assert_eq!(last_finished_start(&conn, "backup").unwrap(), None);
        let done = start(&conn, "backup", 1_000).unwrap();
        finish(&conn, done, 2_000, &serde_json::json!({}), None).unwrap();
        // Cut off: started, never finished.
        start(&conn, "backup", 5_000).unwrap();
        start(&conn, "other", 9_000).unwrap();
        assert_eq!(last_finished_start(&conn, "backup").unwrap(), Some(1_000));
        assert!(last_finished(&conn, "backup", false).unwrap().is_some());
    }
}
