//! The one thread that writes to SQLite.
//!
//! Callers hand it closures. Whatever arrived while it was busy runs in one `BEGIN IMMEDIATE` transaction
//! (group commit): one fsync for the whole batch instead of one per caller. Each closure runs inside its own
//! savepoint, so a closure that fails (or panics) rolls back only its own changes; the others still commit.
//! A caller learns its result only after the commit, so "Ok" means durable.
//!
//! The queue to it is bounded: when it is full, a request's write (`write_async`) is refused at once
//! with `Error::Overloaded` (503 with Retry-After) instead of waiting in memory that grows without end;
//! the server's own threads (`write`) wait for room, and bookkeeping (`submit`) is dropped with a warning.

use crate::error::{Error, Result};
use rocket::tokio::sync::oneshot;
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;

/// What the writer runs: does its work, says whether it succeeded, and returns how to answer the caller
/// once the outcome of the commit is known.
type Job = Box<dyn FnOnce(&Connection) -> (bool, Completion) + Send>;
type Completion = Box<dyn FnOnce(Option<&str>) + Send>;

/// Counters for `/metrics` and the benchmark.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub transactions: AtomicU64,
    pub jobs: AtomicU64,
    pub failed_commits: AtomicU64,
    pub largest_batch: AtomicU64,
}

#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::SyncSender<Job>,
    stats: Arc<WriterStats>,
}

enum Reply<T> {
    Blocking(mpsc::SyncSender<Result<T>>),
    Async(oneshot::Sender<Result<T>>),
    Detached,
}

impl<T> Reply<T> {
    fn send(self, result: Result<T>) {
        match self {
            Reply::Blocking(tx) => drop(tx.send(result)),
            Reply::Async(tx) => drop(tx.send(result)),
            Reply::Detached => {
                if let Err(e) = result {
                    tracing::error!(error = ?e, "a background write failed");
                }
            }
        }
    }
}

fn job<T, F>(work: F, reply: Reply<T>) -> Job
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    Box::new(move |conn| {
        let outcome = work(conn);
        let ok = outcome.is_ok();
        let completion: Completion = Box::new(move |commit_error| {
            let result = match (outcome, commit_error) {
                (Ok(_), Some(e)) => Err(Error::CommitFailed(e.to_owned())),
                (outcome, _) => outcome,
            };
            reply.send(result);
        });
        (ok, completion)
    })
}

impl WriterHandle {
    /// Starts the writer thread on `conn`. It stops when every handle is dropped, after finishing what was queued.
    pub fn start(
        conn: Connection,
        max_batch: usize,
        queue: usize,
    ) -> (WriterHandle, thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::sync_channel::<Job>(queue.max(1));
        let stats = Arc::new(WriterStats::default());
        let thread_stats = stats.clone();
        let handle = thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(conn, rx, max_batch.max(1), &thread_stats))
            .expect("cannot start the store writer thread");
        (WriterHandle { tx, stats }, handle)
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Runs `work` in the writer and waits for its commit. For threads, not for async handlers.
    pub fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.tx
            .send(job(work, Reply::Blocking(tx)))
            .map_err(|_| Error::StoreClosed)?;
        rx.recv().unwrap_or_else(|_| Err(lost()))
    }

    /// Runs `work` in the writer; the future resolves after the commit without holding an executor thread.
    pub async fn write_async<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.tx
            .try_send(job(work, Reply::Async(tx)))
            .map_err(|e| match e {
                mpsc::TrySendError::Full(_) => Error::Overloaded,
                mpsc::TrySendError::Disconnected(_) => Error::StoreClosed,
            })?;
        rx.await.unwrap_or_else(|_| Err(lost()))
    }

    /// Queues `work` without waiting; a failure is logged. For bookkeeping that may be lost in a crash
    /// (and is, when the queue is full).
    pub fn submit<F>(&self, work: F) -> Result<()>
    where
        F: FnOnce(&Connection) -> Result<()> + Send + 'static,
    {
        self.tx
            .try_send(job(work, Reply::Detached))
            .map_err(|e| match e {
                mpsc::TrySendError::Full(_) => Error::Overloaded,
                mpsc::TrySendError::Disconnected(_) => Error::StoreClosed,
            })
    }
}

fn lost() -> Error {
    Error::Internal(anyhow::anyhow!(
        "the write did not happen: the writer could not run it (see the server log)"
    ))
}

fn run(conn: Connection, rx: mpsc::Receiver<Job>, max_batch: usize, stats: &WriterStats) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch.min(4096));
    let mut completions: Vec<Completion> = Vec::with_capacity(batch.capacity());
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        stats
            .largest_batch
            .fetch_max(batch.len() as u64, Ordering::Relaxed);
        stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);

        if let Err(e) = control(&conn, "BEGIN IMMEDIATE") {
            let message = e.to_string();
            tracing::error!(error = %message, "cannot start a write transaction");
            // Dropping a job unanswered tells its caller the write did not happen.
            batch.clear();
            stats.failed_commits.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        for job in batch.drain(..) {
            completions.push(run_in_savepoint(&conn, job));
        }
        let commit = control(&conn, "COMMIT").map_err(|e| e.to_string());
        if let Err(message) = &commit {
            tracing::error!(error = %message, "commit failed; the batch was rolled back");
            if !conn.is_autocommit() {
                let _ = control(&conn, "ROLLBACK");
            }
            stats.failed_commits.fetch_add(1, Ordering::Relaxed);
        }
        stats.transactions.fetch_add(1, Ordering::Relaxed);
        let error = commit.err();
        for completion in completions.drain(..) {
            completion(error.as_deref());
        }
    }
}

/// Runs a transaction-control statement. They run several times per batch, so they are prepared once
/// and cached rather than parsed again each time.
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_in_savepoint(conn: &Connection, job: Job) -> Completion {
    if let Err(e) = control(conn, "SAVEPOINT job") {
        let message = e.to_string();
        drop(job);
        tracing::error!(error = %message, "cannot open a savepoint");
        return Box::new(|_| {});
    }
    match catch_unwind(AssertUnwindSafe(|| job(conn))) {
        Ok((true, completion)) => {
            if let Err(e) = control(conn, "RELEASE job") {
                tracing::error!(error = %e, "cannot release a savepoint");
            }
            completion
        }
        Ok((false, completion)) => {
            undo_savepoint(conn);
            completion
        }
        Err(_) => {
            tracing::error!("a write job panicked; its changes were rolled back");
            undo_savepoint(conn);
            Box::new(|_| {})
        }
    }
}

fn undo_savepoint(conn: &Connection) {
    if let Err(e) = control(conn, "ROLLBACK TO job").and_then(|()| control(conn, "RELEASE job")) {
        tracing::error!(error = %e, "cannot roll back a savepoint");
    }
}
