//! One thread that sleeps until the next cron fire time and runs the job that is due. Each run is recorded
//! in `job_runs`. A run missed while the server was down (the last recorded run is older than the latest
//! fire time) happens right after start.

use crate::store::{Db, job_runs, now_ms};
use chrono::{DateTime, TimeZone, Utc};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A job's work; its outcome (counts and the like) is recorded with the run.
pub type JobFn = Box<dyn Fn(&Db) -> anyhow::Result<serde_json::Value> + Send>;

/// A job that failed part-way: what it did before the error is recorded with the error.
#[derive(Debug)]
pub struct Partial {
    pub outcome: serde_json::Value,
    pub error: anyhow::Error,
}

impl std::fmt::Display for Partial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Partial {}

pub struct ScheduledJob {
    pub name: &'static str,
    pub schedule: cron::Schedule,
    pub run: JobFn,
}

pub struct Scheduler {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Scheduler {
    pub fn start(db: Db, jobs: Vec<ScheduledJob>) -> Scheduler {
        let (stop, stopped) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("scheduler".into())
            .spawn(move || run(&db, &jobs, &stopped))
            .expect("cannot start the scheduler thread");
        Scheduler { stop, thread }
    }

    /// Tells the scheduler to start no other job and end once the running one finishes.
    pub fn tell(&self) {
        let _ = self.stop.send(());
    }

    /// Waits for a running job to finish (until `deadline` at most: a job still running then ends with
    /// the process, its transaction not committed, and runs again at the next start); `tell` first.
    pub fn join(self, deadline: std::time::Instant) {
        if !super::join_by(self.thread, deadline) {
            tracing::warn!("a scheduled job was still running when the time to stop ran out");
        }
    }
}

fn run(db: &Db, jobs: &[ScheduledJob], stopped: &mpsc::Receiver<()>) {
    note_schedules(db, jobs);
    let mut next: Vec<DateTime<Utc>> = jobs.iter().map(|job| first_due(db, job)).collect();
    loop {
        let Some((index, due)) = next.iter().copied().enumerate().min_by_key(|(_, due)| *due)
        else {
            // No jobs: just wait to be stopped.
            let _ = stopped.recv();
            return;
        };
        let wait = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        match stopped.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let job = &jobs[index];
        // A failure is logged and recorded; the next fire time is as usual.
        let _ = run_once(db, job);
        next[index] = job
            .schedule
            .after(&Utc::now())
            .next()
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
    }
}

/// Notes since when each job runs on its schedule (kept across restarts on the same schedule), so that a
/// job never run is said to be behind only once one of its fire times passed (`services::backups`).
fn note_schedules(db: &Db, jobs: &[ScheduledJob]) {
    let schedules: Vec<(&'static str, String)> = jobs
        .iter()
        .map(|job| (job.name, job.schedule.source().to_owned()))
        .collect();
    let now = now_ms();
    let noted = db.write(move |conn| {
        for (job, schedule) in &schedules {
            job_runs::note_schedule(conn, job, schedule, now)?;
        }
        Ok(())
    });
    if let Err(e) = noted {
        tracing::warn!(error = %e, "cannot note the scheduled jobs' schedules");
    }
}

/// Now, if a fire time passed since the last finished run (one a stop cut off runs again); else the next
/// fire time.
fn first_due(db: &Db, job: &ScheduledJob) -> DateTime<Utc> {
    let last = db
        .read(|conn| job_runs::last_finished_start(conn, job.name))
        .ok()
        .flatten();
    let now = Utc::now();
    let due = due_after(&job.schedule, last, now);
    if due == now {
        tracing::info!(
            job = job.name,
            "running a scheduled job that was missed (or cut off) while the server was down"
        );
    }
    due
}

/// `now` when a fire time of `schedule` passed since `last` (milliseconds); else the next fire time.
fn due_after(schedule: &cron::Schedule, last: Option<i64>, now: DateTime<Utc>) -> DateTime<Utc> {
    let missed = last
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .and_then(|last| schedule.after(&last).next())
        .is_some_and(|fire| fire <= now);
    if missed {
        return now;
    }
    schedule
        .after(&now)
        .next()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Runs a job now and records the run; used by the scheduler and by commands that run a job on demand.
/// Returns the outcome, or why the job failed or could not start.
pub fn run_once(db: &Db, job: &ScheduledJob) -> anyhow::Result<serde_json::Value> {
    let name = job.name;
    let id = match db.write(move |conn| job_runs::start(conn, name, now_ms())) {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(job = name, error = %e, "cannot record the start of a job; skipping it");
            return Err(anyhow::Error::new(e).context("cannot record the start of the job"));
        }
    };
    let result = (job.run)(db);
    crate::metrics::job_run(name, result.is_ok());
    let (outcome, error) = match &result {
        Ok(outcome) => {
            tracing::info!(job = name, %outcome, "scheduled job finished");
            (outcome.clone(), None)
        }
        Err(e) => {
            tracing::error!(job = name, error = %format!("{e:#}"), "scheduled job failed");
            let done = e
                .downcast_ref::<Partial>()
                .map(|p| p.outcome.clone())
                .unwrap_or_else(|| serde_json::Value::Object(Default::default()));
            (done, Some(format!("{e:#}")))
        }
    };
    let recorded =
        db.write(move |conn| job_runs::finish(conn, id, now_ms(), &outcome, error.as_deref()));
    if let Err(e) = recorded {
        tracing::error!(job = name, error = %e, "cannot record the end of a job");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn a_fire_time_since_the_last_finished_run_is_due_at_once() {
        let nightly = cron::Schedule::from_str("0 0 2 * * *").unwrap();
        let at = |h: u32, d: u32| Utc.with_ymd_and_hms(2026, 1, d, h, 0, 0).unwrap();
        let ms = |t: DateTime<Utc>| Some(t.timestamp_millis());
        // The last finished run was the night before: today's is due.
        assert_eq!(due_after(&nightly, ms(at(2, 1)), at(9, 2)), at(9, 2));
        // Today's finished: the next is tomorrow night.
        assert_eq!(due_after(&nightly, ms(at(2, 2)), at(9, 2)), at(2, 3));
        // Never ran: the next fire time, not now.
        assert_eq!(due_after(&nightly, None, at(9, 2)), at(2, 3));
    }
}
