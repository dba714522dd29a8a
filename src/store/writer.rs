//! The one thread that writes to SQLite.
//!
//! Callers hand it closures. Whatever arrived while it was busy runs in one `BEGIN IMMEDIATE` transaction
//! (group commit): one fsync for the whole batch instead of one per caller. Each closure runs inside its own
//! savepoint, so a closure that fails (or panics) rolls back only its own changes; the others still commit.
//! A caller learns its result only after the commit, so "Ok" means durable.
//!
//! The queue to it is bounded: when it is full, a request's write (`write_async`) is refused at once
//! with `Error::Overloaded` (503 with Retry-After) instead of waiting in memory that grows without end;
//! the server's own threads (`write`) wait for room, and bookkeeping (`submit`) is refused the same way
//! (its callers, the last-used and last-seen stamps, let it go).

use super::health::{StorageHealth, Trouble, trouble_of};
use crate::error::{Error, Result};
use rocket::tokio::sync::oneshot;
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What the writer runs: does its work, says whether it succeeded, and returns how to answer the caller
/// once the outcome of the commit is known; or, when no transaction could be begun, answers at once.
trait Job: Send {
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Completion);
    fn refuse(self: Box<Self>, failure: &Failure);
}
/// Told how the transaction ended: committed, or why not.
type Completion = Box<dyn FnOnce(Option<&Failure>) + Send>;

/// Why a batch did not commit.
struct Failure {
    message: String,
    trouble: Option<Trouble>,
}

impl Failure {
    fn error(&self) -> Error {
        match &self.trouble {
            Some(trouble) => trouble.error(),
            None => Error::CommitFailed(self.message.clone()),
        }
    }
}

/// Counters for `/metrics`, the operators' health page and the benchmark.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub transactions: AtomicU64,
    pub jobs: AtomicU64,
    pub failed_commits: AtomicU64,
    pub largest_batch: AtomicU64,
    /// Writes handed to the writer (or waiting for room) and not taken yet.
    queued: AtomicU64,
    /// The last batch's transaction, from its BEGIN to its COMMIT's return (µs), and the sum over
    /// every batch, for the average.
    last_commit_us: AtomicU64,
    total_commit_us: AtomicU64,
}

impl WriterStats {
    /// Writes waiting for the writer now.
    pub fn queue_length(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// How long the last batch took to commit, once one did.
    pub fn last_commit(&self) -> Option<Duration> {
        (self.transactions.load(Ordering::Relaxed) > 0)
            .then(|| Duration::from_micros(self.last_commit_us.load(Ordering::Relaxed)))
    }

    /// How long a batch took to commit on average since the start, once one did.
    pub fn average_commit(&self) -> Option<Duration> {
        let batches = self.transactions.load(Ordering::Relaxed);
        (batches > 0)
            .then(|| Duration::from_micros(self.total_commit_us.load(Ordering::Relaxed) / batches))
    }

    /// Counts a write handed to the writer while `send` hands it; one that did not get there is not
    /// waiting.
    fn hand<T, E>(
        &self,
        send: impl FnOnce() -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.queued.fetch_add(1, Ordering::Relaxed);
        let sent = send();
        if sent.is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
        sent
    }

    fn taken(&self, jobs: usize) {
        self.queued.fetch_sub(jobs as u64, Ordering::Relaxed);
    }

    fn timed(&self, began: Instant) {
        let took = began.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
        self.last_commit_us.store(took, Ordering::Relaxed);
        self.total_commit_us.fetch_add(took, Ordering::Relaxed);
    }
}

#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::SyncSender<Box<dyn Job>>,
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

struct Work<F, T> {
    work: F,
    reply: Reply<T>,
}

impl<T, F> Job for Work<F, T>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Completion) {
        let Work { work, reply } = *self;
        let outcome = work(conn).map_err(|e| match &e {
            // A full disk or a file that cannot be written, met by the job itself, is told as such.
            Error::Db(db) => trouble_of(db).map_or(e, |t| t.error()),
            _ => e,
        });
        let ok = outcome.is_ok();
        let completion: Completion = Box::new(move |failure| {
            let result = match (outcome, failure) {
                (Ok(_), Some(failure)) => Err(failure.error()),
                (outcome, _) => outcome,
            };
            reply.send(result);
        });
        (ok, completion)
    }

    fn refuse(self: Box<Self>, failure: &Failure) {
        self.reply.send(Err(failure.error()));
    }
}

fn job<T, F>(work: F, reply: Reply<T>) -> Box<dyn Job>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    Box::new(Work { work, reply })
}

impl WriterHandle {
    /// Starts the writer thread on `conn`. It stops when every handle is dropped, after finishing what was queued.
    pub fn start(
        conn: Connection,
        options: &super::StoreOptions,
        health: Arc<StorageHealth>,
    ) -> (WriterHandle, thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::sync_channel::<Box<dyn Job>>(options.write_queue.max(1));
        let stats = Arc::new(WriterStats::default());
        let thread_stats = stats.clone();
        let max_batch = options.max_batch.max(1);
        let handle = thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(conn, rx, max_batch, &thread_stats, &health))
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
        self.queue(work)?.wait()
    }

    /// Queues `work` (waiting for room) without waiting for its commit: a thread can queue many writes,
    /// which the writer commits together, and then wait for each.
    pub fn queue<T, F>(&self, work: F) -> Result<Queued<T>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.stats
            .hand(|| self.tx.send(job(work, Reply::Blocking(tx))))
            .map_err(|_| Error::StoreClosed)?;
        Ok(Queued(rx))
    }

    /// Runs `work` in the writer; the future resolves after the commit without holding an executor thread.
    pub async fn write_async<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.try_hand(job(work, Reply::Async(tx)))?;
        rx.await.unwrap_or_else(|_| Err(lost()))
    }

    /// Queues a write that does nothing, without waiting for room: whether the writer answers
    /// (`store::checkup`). Refused at once (`Error::Overloaded`) when the queue is full.
    pub fn probe(&self) -> Result<Queued<()>> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.try_hand(job(|_| Ok(()), Reply::Blocking(tx)))?;
        Ok(Queued(rx))
    }

    /// Queues `work` without waiting; a failure is logged. For bookkeeping that may be lost in a crash
    /// (and is, when the queue is full).
    pub fn submit<F>(&self, work: F) -> Result<()>
    where
        F: FnOnce(&Connection) -> Result<()> + Send + 'static,
    {
        self.try_hand(job(work, Reply::Detached))
    }

    /// Hands `job` to the writer without waiting for room: a full queue is `Overloaded`.
    fn try_hand(&self, job: Box<dyn Job>) -> Result<()> {
        self.stats
            .hand(|| self.tx.try_send(job))
            .map_err(|e| match e {
                mpsc::TrySendError::Full(_) => Error::Overloaded,
                mpsc::TrySendError::Disconnected(_) => Error::StoreClosed,
            })
    }
}

/// A write handed to the writer; `wait` returns its result once it is committed.
pub struct Queued<T>(mpsc::Receiver<Result<T>>);

impl<T> Queued<T> {
    pub fn wait(self) -> Result<T> {
        self.0.recv().unwrap_or_else(|_| Err(lost()))
    }

    /// Its result if it is committed within `limit`; None while it is not.
    pub fn wait_for(&self, limit: Duration) -> Option<Result<T>> {
        match self.0.recv_timeout(limit) {
            Ok(result) => Some(result),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => Some(Err(lost())),
        }
    }
}

fn lost() -> Error {
    Error::Internal(anyhow::anyhow!(
        "the write did not happen: the writer could not run it (see the server log)"
    ))
}

/// How long the writer rests after a batch it could not commit, so a store that cannot write makes
/// nothing spin (callers are answered at once; those who retry come back later).
const REST_AFTER_FAILURE: Duration = Duration::from_millis(200);

fn run(
    conn: Connection,
    rx: mpsc::Receiver<Box<dyn Job>>,
    max_batch: usize,
    stats: &WriterStats,
    health: &StorageHealth,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(max_batch.min(4096));
    let mut completions: Vec<Completion> = Vec::with_capacity(batch.capacity());
    #[cfg(debug_assertions)]
    let wedge = std::env::var_os(WEDGE_HOOK).map(std::path::PathBuf::from);
    while let Ok(first) = rx.recv() {
        #[cfg(debug_assertions)]
        wedge_if_asked(wedge.as_deref());
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        stats.taken(batch.len());
        let began = Instant::now();
        stats
            .largest_batch
            .fetch_max(batch.len() as u64, Ordering::Relaxed);
        stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
        crate::metrics::writer_batch(batch.len());

        // Nothing is written into a file that is no longer the database: it would be lost.
        let begun = if health.file_is_ours() {
            control(&conn, "BEGIN IMMEDIATE").map_err(|e| failure(&e, health))
        } else {
            Err(Failure {
                message: "the database file was deleted or replaced".into(),
                trouble: health.trouble().map(|(t, _)| t),
            })
        };
        if let Err(failure) = begun {
            // The jobs are answered without running; nothing of them was written.
            for job in batch.drain(..) {
                job.refuse(&failure);
            }
            stats.failed_commits.fetch_add(1, Ordering::Relaxed);
            thread::sleep(REST_AFTER_FAILURE);
            continue;
        }
        let changes_before = conn.total_changes();
        for job in batch.drain(..) {
            completions.push(run_in_savepoint(&conn, job));
        }
        let committing = std::time::Instant::now();
        let commit = control(&conn, "COMMIT").map_err(|e| failure(&e, health));
        crate::metrics::writer_commit(committing.elapsed());
        match &commit {
            Err(_) => {
                if !conn.is_autocommit() {
                    let _ = control(&conn, "ROLLBACK");
                }
                stats.failed_commits.fetch_add(1, Ordering::Relaxed);
            }
            // Only a commit that wrote proves writes work (an empty one touches no file).
            Ok(()) if conn.total_changes() > changes_before => health.wrote(),
            Ok(()) => {}
        }
        stats.timed(began);
        stats.transactions.fetch_add(1, Ordering::Relaxed);
        let failed = commit.err();
        for completion in completions.drain(..) {
            completion(failed.as_ref());
        }
        if failed.is_some() {
            thread::sleep(REST_AFTER_FAILURE);
        }
    }
}

/// Tests only (debug builds; not WHATSAPI_, which is configuration): while the file this variable names
/// exists, the writer answers nothing, as a writer stuck on a dead disk would (the systemd watchdog must
/// then stop its pings, and a start must not say READY=1); once it is removed, the writer goes on.
#[cfg(debug_assertions)]
pub const WEDGE_HOOK: &str = "DEBUG_WHATSAPI_WEDGE_WRITER_FILE";

#[cfg(debug_assertions)]
fn wedge_if_asked(file: Option<&std::path::Path>) {
    let Some(file) = file.filter(|f| f.exists()) else {
        return;
    };
    tracing::warn!("test hook: the store's writer is wedged and answers no more");
    while file.exists() {
        thread::park_timeout(Duration::from_millis(20));
    }
    tracing::warn!("test hook: the store's writer is no longer wedged");
}

/// A failure of the transaction, reported to the store's health (which logs it at most once a minute)
/// or, when it is not about the storage, logged here.
fn failure(error: &rusqlite::Error, health: &StorageHealth) -> Failure {
    let trouble = trouble_of(error);
    match &trouble {
        Some(trouble) => health.report(trouble.clone()),
        None => tracing::error!(error = %error, "a write transaction failed; it was rolled back"),
    }
    Failure {
        message: error.to_string(),
        trouble,
    }
}

/// Runs a transaction-control statement. They run several times per batch, so they are prepared once
/// and cached rather than parsed again each time.
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_in_savepoint(conn: &Connection, job: Box<dyn Job>) -> Completion {
    if let Err(e) = control(conn, "SAVEPOINT job") {
        tracing::error!(error = %e, "cannot open a savepoint");
        job.refuse(&Failure {
            message: e.to_string(),
            trouble: trouble_of(&e),
        });
        return Box::new(|_| {});
    }
    match catch_unwind(AssertUnwindSafe(|| job.run(conn))) {
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

#[cfg(test)]
mod stats_tests {
    use super::*;

    #[test]
    fn the_queue_counts_writes_waiting_and_each_batch_times_its_commit() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::test_file(dir.path(), "writer.db");
        let health = Arc::new(StorageHealth::new(&dir.path().join("writer.db")));
        let (writer, thread) =
            WriterHandle::start(conn, &crate::store::StoreOptions::default(), health);
        assert_eq!(writer.stats().queue_length(), 0);
        assert_eq!(writer.stats().last_commit(), None);
        // The writer is held in a first write while three more wait for it.
        let (started, start) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let first = writer
            .queue(move |_| {
                started.send(()).unwrap();
                released.recv().unwrap();
                Ok(())
            })
            .unwrap();
        start.recv().unwrap();
        let waiting: Vec<_> = (0..3).map(|_| writer.queue(|_| Ok(())).unwrap()).collect();
        assert_eq!(writer.stats().queue_length(), 3);
        release.send(()).unwrap();
        first.wait().unwrap();
        for write in waiting {
            write.wait().unwrap();
        }
        assert_eq!(writer.stats().queue_length(), 0);
        let last = writer.stats().last_commit().unwrap();
        let average = writer.stats().average_commit().unwrap();
        assert!(last <= Duration::from_secs(60) && average <= Duration::from_secs(60));
        drop(writer);
        thread.join().unwrap();
    }
}
