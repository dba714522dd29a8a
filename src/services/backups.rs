//! The scheduled backups as operators see them (`/admin` and `whatsapi doctor`): the last result, the
//! last success, and whether either calls for attention.

use crate::error::Result;
use crate::store::job_runs::{self, JobRun};
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;

/// The scheduled backup's name in the record of job runs.
pub const JOB: &str = "backup";

/// One finished run of the backup job.
#[derive(Debug, Clone)]
pub struct Run {
    pub started_at: i64,
    pub finished_at: i64,
    /// The backup's path (also on a failure after it was written, when old ones could not be removed).
    pub file: Option<String>,
    pub bytes: Option<u64>,
    pub duration_ms: Option<i64>,
    /// SQLite's integrity check of the copy ("ok").
    pub integrity: Option<String>,
    pub error: Option<String>,
}

impl Run {
    fn of(run: JobRun) -> Run {
        let outcome = &run.outcome;
        Run {
            started_at: run.started_at,
            finished_at: run.finished_at.unwrap_or(run.started_at),
            file: outcome["file"].as_str().map(str::to_owned),
            bytes: outcome["bytes"].as_u64(),
            duration_ms: outcome["duration_ms"].as_i64(),
            integrity: outcome["integrity"].as_str().map(str::to_owned),
            error: run.error,
        }
    }

    /// The file's name, without its directory.
    pub fn file_name(&self) -> Option<&str> {
        self.file
            .as_deref()
            .map(|f| f.rsplit('/').next().unwrap_or(f))
    }
}

/// The last finished backup and the last that succeeded (the same run when the last one did).
#[derive(Debug, Clone, Default)]
pub struct Backups {
    pub last: Option<Run>,
    pub last_success: Option<Run>,
    /// Since when a server has run the backups, and on which schedule (its cron expression).
    pub scheduled_since: Option<(i64, String)>,
}

/// The backups' state, in one query.
pub fn read(conn: &Connection) -> Result<Backups> {
    let latest = job_runs::latest(conn, JOB)?;
    Ok(Backups {
        last: latest.last.map(Run::of),
        last_success: latest.last_success.map(Run::of),
        scheduled_since: latest.scheduled_since,
    })
}

/// Where the backups stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// No schedule (`[backup] schedule` is empty).
    Off,
    /// Scheduled, and the last one succeeded within two periods of the schedule.
    Ok,
    /// Scheduled, none was made yet, and none was due yet: no server has run this schedule up to one of
    /// its fire times (`Backups::first_due` says when).
    Waiting,
    /// Scheduled, and none was made although one was due.
    Never,
    /// The last one failed.
    Failed,
    /// Scheduled, and the last success is older than two periods: runs were missed.
    Stale,
}

impl Standing {
    /// Whether an operator should look.
    pub fn warns(self) -> bool {
        matches!(self, Standing::Never | Standing::Failed | Standing::Stale)
    }
}

impl Backups {
    pub fn standing(&self, schedule: Option<&cron::Schedule>, now: DateTime<Utc>) -> Standing {
        let Some(schedule) = schedule else {
            return match &self.last {
                Some(last) if last.error.is_some() => Standing::Failed,
                _ => Standing::Off,
            };
        };
        if self.last.as_ref().is_some_and(|last| last.error.is_some()) {
            return Standing::Failed;
        }
        let Some(success) = &self.last_success else {
            return match self.first_due(schedule) {
                Some(due) if due <= now => Standing::Never,
                _ => Standing::Waiting,
            };
        };
        // Two fire times have passed since the last success without another one.
        let Some(since) = Utc.timestamp_millis_opt(success.started_at).single() else {
            return Standing::Stale;
        };
        match schedule.after(&since).nth(1) {
            Some(second) if second <= now => Standing::Stale,
            _ => Standing::Ok,
        }
    }
}

impl Backups {
    /// The first fire time of `schedule` after a server started running it; `None` when no server has
    /// run this schedule yet.
    pub fn first_due(&self, schedule: &cron::Schedule) -> Option<DateTime<Utc>> {
        let (since, on) = self.scheduled_since.as_ref()?;
        if on != schedule.source() {
            return None;
        }
        let since = Utc.timestamp_millis_opt(*since).single()?;
        schedule.after(&since).next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn run(started_at: i64, error: Option<&str>) -> Run {
        Run {
            started_at,
            finished_at: started_at + 1_000,
            file: Some("/b/whatsapi-20260101T020000Z.db".into()),
            bytes: Some(4096),
            duration_ms: Some(1_000),
            integrity: error.is_none().then(|| "ok".into()),
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn a_backup_is_stale_after_two_periods_without_success() {
        let nightly = cron::Schedule::from_str("0 0 2 * * *").unwrap();
        let day = 86_400_000;
        let at = |ms: i64| Utc.timestamp_millis_opt(ms).unwrap();
        // 2026-01-01 02:00 UTC.
        let two_am = 1_767_232_800_000;
        let ok = Backups {
            last: Some(run(two_am, None)),
            last_success: Some(run(two_am, None)),
            scheduled_since: None,
        };
        assert_eq!(
            ok.standing(Some(&nightly), at(two_am + day + 60_000)),
            Standing::Ok
        );
        assert_eq!(
            ok.standing(Some(&nightly), at(two_am + 2 * day + 60_000)),
            Standing::Stale
        );
        assert_eq!(ok.standing(None, at(two_am + 30 * day)), Standing::Off);
        let failed = Backups {
            last: Some(run(two_am + day, Some("disk full"))),
            ..ok.clone()
        };
        assert_eq!(
            failed.standing(Some(&nightly), at(two_am + day + 60_000)),
            Standing::Failed
        );
        // Never made: a warning only once a run was due since a server started on the schedule.
        assert_eq!(
            Backups::default().standing(Some(&nightly), at(two_am)),
            Standing::Waiting
        );
        let fresh = Backups {
            scheduled_since: Some((two_am + 3_600_000, nightly.source().to_owned())),
            ..Backups::default()
        };
        assert_eq!(
            fresh.first_due(&nightly),
            Some(at(two_am + day)),
            "the next night"
        );
        assert_eq!(
            fresh.standing(Some(&nightly), at(two_am + day - 60_000)),
            Standing::Waiting
        );
        assert_eq!(
            fresh.standing(Some(&nightly), at(two_am + day + 60_000)),
            Standing::Never
        );
        let other = cron::Schedule::from_str("0 0 3 * * *").unwrap();
        assert_eq!(
            fresh.standing(Some(&other), at(two_am + 30 * day)),
            Standing::Waiting,
            "no server ran that schedule yet"
        );
        assert!(!Standing::Waiting.warns() && Standing::Never.warns());
        assert_eq!(Backups::default().standing(None, at(two_am)), Standing::Off);
        assert_eq!(
            ok.last.unwrap().file_name(),
            Some("whatsapi-20260101T020000Z.db")
        );
    }
}
