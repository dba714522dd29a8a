//! The SQLite store: one file in WAL mode, a few reader connections, and one writer thread that
//! group-commits (see `writer`). Every function that touches tenant data takes the account it may touch.

pub mod abuse_signals;
pub mod accounts;
pub mod activity;
pub mod api_keys;
pub mod backup;
pub mod billing_notices;
pub mod checkup;
pub mod connection_identity;
pub mod connections;
pub mod consents;
pub mod console;
pub mod contacts;
pub mod conversations;
pub mod dashboard;
pub mod deliveries;
pub mod endpoints;
pub mod erasure;
pub mod export;
pub mod files;
pub mod health;
pub mod holds;
pub mod idempotency;
pub mod ids;
pub mod inbound;
pub mod job_runs;
pub mod keys;
pub mod keystore;
pub mod live;
pub mod login_throttle;
pub mod messages;
pub mod migrations;
pub mod payloads;
pub mod payment_events;
#[cfg(test)]
mod plans;
pub mod policy_mail;
mod readers;
pub mod reindex;
pub mod retention;
pub mod rollups;
pub mod rotation;
pub mod sessions;
pub mod states;
pub mod statuses;
pub mod subscriptions;
pub mod templates;
#[cfg(test)]
mod tenant_tests;
pub mod tokens;
pub mod two_step;
pub mod upkeep;
pub mod usage;
pub mod users;
pub mod workspace;
pub mod writer;

use crate::config::Synchronous;
use crate::crypto::Key;
pub use crate::domain::now_ms;
use crate::error::{Error, Result};
use keys::Keyring;
use keystore::{Keystore, KeystoreFiles};
use parking_lot::Mutex;
use readers::ReaderPool;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use writer::{WriterHandle, WriterStats};

pub use accounts::AccountId;

/// How long a connection waits for another one (possibly another process, such as the CLI) to finish writing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub synchronous: Synchronous,
    pub readers: usize,
    /// Most closures committed in one transaction. 1 turns group commit off (used to measure it).
    pub max_batch: usize,
    /// Writes waiting for the writer at most; beyond it requests are refused (503) until it catches up.
    pub write_queue: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            synchronous: Synchronous::Full,
            readers: 4,
            max_batch: 4096,
            write_queue: 10_000,
        }
    }
}

/// Why the store cannot be opened. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "the database {path} has schema version {found}, newer than this whatsapi supports ({supported}); \
         run the newer whatsapi or restore a backup made by this version"
    )]
    NewerSchema {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error(
        "the master key file does not match the database {path} (the database was sealed with key {expected:08x}, \
         the key file holds key {found:08x}); restore the key file that belongs to this database"
    )]
    WrongKey {
        path: String,
        expected: u32,
        found: u32,
    },
    #[error(
        "a master key rotation was interrupted; run `whatsapi keys rotate` again to finish it before starting"
    )]
    RotationPending,
    #[error("cannot use the keystore {path}: {message}")]
    Keystore { path: String, message: String },
    #[error("cannot prepare the database {path}: {message}")]
    Prepare { path: String, message: String },
    /// A signal asked the process to stop while it migrated (between two steps).
    #[error(transparent)]
    Stopped(crate::signals::Stopped),
    #[error("cannot open the database {path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
}

impl OpenError {
    pub(crate) fn keystore(path: &Path, e: &Error) -> OpenError {
        OpenError::Keystore {
            path: path.display().to_string(),
            message: e.detail(),
        }
    }

    fn sqlite(path: &Path) -> impl FnOnce(rusqlite::Error) -> OpenError + '_ {
        move |source| OpenError::Sqlite {
            path: path.display().to_string(),
            source,
        }
    }
}

#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    health: Arc<health::StorageHealth>,
    path: PathBuf,
    writer: Option<WriterHandle>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    readers: ReaderPool,
    keyring: Keyring,
    /// Usage counted since the last flush.
    tally: rollups::Tally,
    /// Committed changes of the inbox, for the pages watching it.
    live: live::Changes,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish what is queued; waiting for it means nothing is lost at exit.
        self.writer.take();
        if let Some(thread) = self.writer_thread.lock().take() {
            let _ = thread.join();
        }
    }
}

impl Db {
    /// Opens (creating if needed) the database and the keystore, runs migrations, checks that the master
    /// key and the keystore belong to the database, and starts the writer.
    pub fn open(
        path: &Path,
        options: &StoreOptions,
        master: Key,
        keystore: &KeystoreFiles,
    ) -> Result<Db, OpenError> {
        let conn = connect(path, options.synchronous, false).map_err(OpenError::sqlite(path))?;
        prepare_new_file(&conn).map_err(OpenError::sqlite(path))?;
        migrations::run(&conn, path)?;
        if keys::rotation_pending(&conn).map_err(OpenError::sqlite(path))? {
            return Err(OpenError::RotationPending);
        }
        let keystore =
            Keystore::open(keystore).map_err(|e| OpenError::keystore(&keystore.path, &e))?;
        let checked = keys::check_master_key(&conn, &master, &keystore, path)
            .and_then(|_| keys::attach_keystore(&conn, &master, &keystore))
            .and_then(|_| {
                keystore
                    .check_mirrors()
                    .map_err(|e| OpenError::keystore(&keystore.files().path, &e))
            });
        if let Err(e) = checked {
            // A keystore this start created must not stay behind empty: the next start would take it for
            // the real one.
            if keystore.created() && keystore.known().is_ok_and(|k| k.knows_nothing()) {
                let _ = std::fs::remove_file(&keystore.files().path);
            }
            return Err(e);
        }
        keystore
            .update_mirrors()
            .map_err(|e| OpenError::keystore(&keystore.files().path, &e))?;
        let keyring = Keyring::new(master, keystore);
        let unreadable =
            backup::directory::unseal(&conn, &keyring).map_err(|e| OpenError::Prepare {
                path: path.display().to_string(),
                message: e.detail(),
            })?;
        if unreadable > 0 {
            tracing::warn!(
                values = unreadable,
                "this restored backup holds people and companies of accounts deleted since; they stay sealed"
            );
        }
        reindex::run(&conn, &keyring).map_err(|e| OpenError::Prepare {
            path: path.display().to_string(),
            message: e.detail(),
        })?;
        let health = Arc::new(health::StorageHealth::new(path));
        let (writer, thread) = WriterHandle::start(conn, options, health.clone());
        Ok(Db {
            inner: Arc::new(Inner {
                health,
                path: path.to_owned(),
                writer: Some(writer),
                writer_thread: Mutex::new(Some(thread)),
                readers: ReaderPool::new(path.to_owned(), options.synchronous, options.readers),
                keyring,
                tally: rollups::Tally::default(),
                live: live::Changes::default(),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn keyring(&self) -> &Keyring {
        &self.inner.keyring
    }

    fn writer(&self) -> &WriterHandle {
        self.inner
            .writer
            .as_ref()
            .expect("the writer lives as long as the store")
    }

    pub fn writer_stats(&self) -> &WriterStats {
        self.writer().stats()
    }

    /// Where usage is counted until the next `flush_usage`.
    pub fn tally(&self) -> &rollups::Tally {
        &self.inner.tally
    }

    /// Committed changes of the inbox: published after a commit, heard by the pages watching.
    pub fn live(&self) -> &live::Changes {
        &self.inner.live
    }

    /// Adds the usage counted since the last flush to the daily roll-ups, in one transaction; what cannot
    /// be written is kept for the next flush.
    pub fn flush_usage(&self) {
        let lines = self.tally().take();
        if lines.is_empty() {
            return;
        }
        let written = Arc::new(lines);
        let rows = written.clone();
        if let Err(e) = self.write(move |conn| rollups::add(conn, &rows)) {
            tracing::warn!(error = %e, "cannot write the usage counts; they are kept for the next try");
            self.tally()
                .put_back(Arc::try_unwrap(written).unwrap_or_else(|shared| (*shared).clone()));
        }
    }

    /// Whether writes work, as the writer last found them.
    pub fn health(&self) -> &health::StorageHealth {
        &self.inner.health
    }

    /// Writes through the writer thread and waits for the commit (for plain threads).
    pub fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.writer().write(work)
    }

    /// Queues a write without waiting for its commit (see `WriterHandle::queue`).
    pub fn queue_write<T, F>(&self, work: F) -> Result<writer::Queued<T>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.writer().queue(work)
    }

    /// Writes through the writer thread; resolves after the commit (for async handlers).
    pub async fn write_async<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.writer().write_async(work).await
    }

    /// Queues a write without waiting for it (bookkeeping that may be lost in a crash).
    pub fn submit<F>(&self, work: F) -> Result<()>
    where
        F: FnOnce(&Connection) -> Result<()> + Send + 'static,
    {
        self.writer().submit(work)
    }

    /// Whether the writer answers: a write that does nothing, queued without waiting for room (see
    /// `WriterHandle::probe`).
    pub fn probe_writer(&self) -> Result<writer::Queued<()>> {
        self.writer().probe()
    }

    /// Reads on one of the reader connections (for plain threads).
    pub fn read<T>(&self, work: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.inner.readers.get()?;
        work(&conn)
    }

    /// Reads on a blocking thread, so a slow query never holds an executor thread.
    pub async fn read_async<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let db = self.clone();
        crate::blocking::run("read", move || db.read(work)).await?
    }
}

/// A migrated database file `name` in `dir`, for unit tests that work on the tables directly.
#[cfg(test)]
pub(crate) fn test_file(dir: &Path, name: &str) -> Connection {
    let path = dir.join(name);
    let conn = connect(&path, Synchronous::Normal, false).expect("a test database");
    migrations::run(&conn, &path).expect("migrations");
    conn
}

/// Pages in the write-ahead log before it is copied into the database (see `connect`).
const WAL_AUTOCHECKPOINT: u32 = 10_000;

/// Opens a connection with the pragmas every connection needs.
pub fn connect(
    path: &Path,
    synchronous: Synchronous,
    read_only: bool,
) -> rusqlite::Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let sync = match synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    // secure_delete overwrites deleted content, so text removed by retention or deletion is gone from the file.
    // SQLite's default page cache stays: a larger one makes every commit walk it (pcache1Truncate), which
    // cost more than the reads it saved (measured with perf under `bench send`).
    // The log is copied into the database every WAL_AUTOCHECKPOINT pages instead of SQLite's 1,000: a page
    // written by many commits in between (the newest page of a table or an index) is copied once. Measured
    // with `bench send --statuses`: 71 KB written per message at 1,000 pages, 53 KB at 10,000, 50 KB at
    // 30,000; the log then peaks near 40 MB, and maintenance and retention empty it.
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = {sync}; PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT};"
    ))?;
    // The writer runs every kind of write; with SQLite's default of 16 cached statements it would keep
    // preparing the same SQL again.
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

/// A brand-new file gets incremental auto-vacuum (only possible before the first table) and WAL.
fn prepare_new_file(conn: &Connection) -> rusqlite::Result<()> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    if pages == 0 {
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
    }
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode stayed {mode}"
        )));
    }
    Ok(())
}

/// Calls `each` with the id and the mapped row of every row `sql` selects, a page at a time, so a large table
/// is never held in memory. `sql` selects the id (a rowid) first, rows after the id ?1 in id order, at most
/// ?2 of them; `each` may write to the rows already read.
pub(crate) fn each_row<T>(
    conn: &Connection,
    sql: &str,
    map: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    mut each: impl FnMut(i64, T) -> crate::error::Result<()>,
) -> crate::error::Result<()> {
    const PAGE: i64 = 1000;
    let mut after = i64::MIN;
    loop {
        let rows: Vec<(i64, T)> = conn
            .prepare_cached(sql)?
            .query_map(rusqlite::params![after, PAGE], |r| Ok((r.get(0)?, map(r)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let Some(&(last, _)) = rows.last() else {
            return Ok(());
        };
        after = last;
        for (id, row) in rows {
            each(id, row)?;
        }
    }
}
