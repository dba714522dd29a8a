//! The retention job: deletes what is past its time (see `store::retention`) batch by batch, each batch
//! its own short write so sending goes on in between; then gives the freed pages back to the file system
//! and empties the write-ahead log. With `secure_delete` on, the deleted rows are then gone from both
//! files. `whatsapi purge` runs the same code on demand, and `--dry-run` counts with the same conditions.

use super::scheduler::Partial;
use crate::store::retention::{self, Counts, Cutoffs, Policy, STEPS};
use crate::store::upkeep::{self, Checkpoint};
use crate::store::{Db, now_ms};
use anyhow::Context;
use serde_json::{Value, json};
use std::time::Instant;

pub const JOB: &str = crate::store::job_runs::RETENTION;

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    pub policy: Policy,
    pub cutoffs: Cutoffs,
    pub deleted: Counts,
    /// Write transactions used for deleting.
    pub batches: u64,
    pub elapsed_ms: u64,
    pub pages_released: i64,
    pub checkpoint: Option<Checkpoint>,
}

impl Report {
    pub fn to_json(&self) -> Value {
        json!({
            "message_days": self.policy.message_days,
            "activity_days": self.policy.activity_days,
            "webhook_delivery_days": self.policy.webhook_delivery_days,
            "messages_before": self.cutoffs.messages,
            "deleted": self.deleted.to_json(),
            "total": self.deleted.total(),
            "batches": self.batches,
            "ms": self.elapsed_ms,
            "pages_released": self.pages_released,
            "checkpoint_complete": self.checkpoint.map(|c| c.complete),
        })
    }
}

pub fn retention_job(db: &Db, policy: &Policy) -> anyhow::Result<Value> {
    Ok(run(db, policy)?.to_json())
}

/// Deletes everything past its time now. On an error, what was deleted before it is in the `Partial` error.
pub fn run(db: &Db, policy: &Policy) -> anyhow::Result<Report> {
    let started = Instant::now();
    let cutoffs = policy.cutoffs(now_ms());
    let mut report = Report {
        policy: *policy,
        cutoffs,
        deleted: Counts::default(),
        batches: 0,
        elapsed_ms: 0,
        pages_released: 0,
        checkpoint: None,
    };
    let result = purge(db, &mut report);
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(()) => Ok(report),
        Err(error) => Err(Partial {
            outcome: report.to_json(),
            error,
        }
        .into()),
    }
}

fn purge(db: &Db, report: &mut Report) -> anyhow::Result<()> {
    let cutoffs = report.cutoffs;
    for step in STEPS {
        loop {
            let (deleted, more) = db
                .write(move |conn| retention::delete_batch(conn, step, &cutoffs))
                .with_context(|| format!("retention step {step:?}"))?;
            report.deleted.merge(&deleted);
            report.batches += 1;
            if !more {
                break;
            }
        }
    }
    report.pages_released = upkeep::release_free_pages(db)?;
    report.checkpoint = Some(upkeep::checkpoint(db)?);
    Ok(())
}

/// What a run now would delete, without deleting anything.
pub fn dry_run(db: &Db, policy: &Policy) -> anyhow::Result<(Cutoffs, Counts)> {
    let cutoffs = policy.cutoffs(now_ms());
    let counts = db.read(|conn| retention::count(conn, &cutoffs))?;
    Ok((cutoffs, counts))
}
