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

/// The setting that says since when a job has run on its schedule.
fn since_setting(job: &str) -> String {
    format!("schedule_since.{job}")
}

/// Notes that `job` runs on `schedule` from `now` on, unless it already did on that very schedule (a
/// restart keeps the first time; a new schedule starts again).
pub fn note_schedule(conn: &Connection, job: &str, schedule: &str, now: i64) -> Result<()> {
    let name = since_setting(job);
    let noted: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM settings WHERE name = ?1", [&name], |r| {
            r.get(0)
        })
        .optional()?;
    if parse_since(noted).is_some_and(|(_, on)| on == schedule) {
        return Ok(());
    }
    conn.execute(
        "INSERT INTO settings (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![name, format!("{now} {schedule}").into_bytes()],
    )?;
    Ok(())
}

/// `<ms> <schedule>` as `note_schedule` wrote it.
fn parse_since(value: Option<Vec<u8>>) -> Option<(i64, String)> {
    let value = String::from_utf8(value?).ok()?;
    let (at, schedule) = value.split_once(' ')?;
    Some((at.parse().ok()?, schedule.to_owned()))
}

/// A job's latest finished run, its latest successful one, and since when (and on which schedule) a
/// server has run it.
#[derive(Debug, Default)]
pub struct Latest {
    pub last: Option<JobRun>,
    pub last_success: Option<JobRun>,
    pub scheduled_since: Option<(i64, String)>,
}

/// What `Latest` holds, in one query.
pub fn latest(conn: &Connection, job: &str) -> Result<Latest> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.job, r.started_at, r.finished_at, r.outcome, r.error, s.since
         FROM (SELECT (SELECT value FROM settings WHERE name = ?2) AS since) AS s
         LEFT JOIN job_runs AS r ON r.id IN (
             (SELECT id FROM job_runs WHERE job = ?1 AND finished_at IS NOT NULL
              ORDER BY started_at DESC, id DESC LIMIT 1),
             (SELECT id FROM job_runs WHERE job = ?1 AND finished_at IS NOT NULL AND error IS NULL
              ORDER BY started_at DESC, id DESC LIMIT 1))
         ORDER BY r.started_at DESC, r.id DESC",
    )?;
    let mut latest = Latest::default();
    let mut rows = stmt.query(params![job, since_setting(job)])?;
    while let Some(row) = rows.next()? {
        latest.scheduled_since = parse_since(row.get(6)?);
        if row.get::<_, Option<i64>>(0)?.is_none() {
            continue;
        }
        let run = from_row(row)?;
        if latest.last_success.is_none() && run.error.is_none() {
            latest.last_success = Some(run.clone());
        }
        latest.last.get_or_insert(run);
    }
    Ok(latest)
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
        assert!(latest(&conn, "backup").unwrap().last.is_some());
    }

    #[test]
    fn the_latest_run_and_success_and_since_when_a_schedule_runs_come_from_one_query() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::test_file(dir.path(), "runs.db");
        let none = latest(&conn, "backup").unwrap();
        assert!(none.last.is_none() && none.last_success.is_none());
        assert_eq!(none.scheduled_since, None);

        note_schedule(&conn, "backup", "0 0 2 * * *", 1_000).unwrap();
        note_schedule(&conn, "backup", "0 0 2 * * *", 9_000).unwrap(); // a restart: kept
        let good = start(&conn, "backup", 2_000).unwrap();
        finish(&conn, good, 2_500, &serde_json::json!({}), None).unwrap();
        let noted = latest(&conn, "backup").unwrap();
        assert_eq!(noted.scheduled_since, Some((1_000, "0 0 2 * * *".into())));
        assert_eq!(noted.last.as_ref().unwrap().id, good);
        assert_eq!(noted.last_success.as_ref().unwrap().id, good);

        let bad = start(&conn, "backup", 3_000).unwrap();
        finish(&conn, bad, 3_500, &serde_json::json!({}), Some("disk full")).unwrap();
        start(&conn, "other", 4_000).unwrap();
        note_schedule(&conn, "backup", "0 0 3 * * *", 5_000).unwrap(); // a new schedule
        let both = latest(&conn, "backup").unwrap();
        assert_eq!(both.last.as_ref().unwrap().id, bad);
        assert_eq!(both.last_success.as_ref().unwrap().id, good);
        assert_eq!(both.scheduled_since, Some((5_000, "0 0 3 * * *".into())));
    }
}
