//! What every command does before it touches the data: find the key, lock the data directory, open the store.

mod preflight;
pub mod tls;
pub use preflight::{cannot_listen, check_tls, preflight};

use crate::config::Config;
use crate::crypto::{self, Key, KeyFileError};
use crate::store::{Db, OpenError, StoreOptions};
use anyhow::{Context, Result, bail};
use std::fs::{self, File, TryLockError};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

pub fn store_options(config: &Config) -> StoreOptions {
    StoreOptions {
        synchronous: config.storage.synchronous,
        readers: config.storage.readers,
        write_queue: config.storage.write_queue,
        ..StoreOptions::default()
    }
}

/// Creates the data directory (mode 0700) if it does not exist.
pub fn ensure_data_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    Ok(())
}

/// Held while a process needs the data directory to itself (the server, a key rotation).
pub struct DataDirLock {
    _file: File,
}

pub fn lock_data_dir(config: &Config) -> Result<DataDirLock> {
    check_data_dir_owner(config)?;
    let dir = &config.storage.data_dir;
    ensure_data_dir(dir)?;
    let path = dir.join("whatsapi.lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(TryLockError::WouldBlock) => bail!(
            "another whatsapi process (a running server or a key rotation) is using {}; stop it first",
            dir.display()
        ),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Reads the master key. On a fresh install (no key and no database) with `create` set, makes one.
pub fn master_key(config: &Config, create: bool) -> Result<Key> {
    let key_file = &config.storage.key_file;
    let db_path = config.db_path();
    match crypto::read_key_file(key_file) {
        Ok(key) => Ok(key),
        Err(KeyFileError::Missing(_)) if db_path.exists() => bail!(
            "the master key file {} is missing, but the database {} exists; restore the key file \
             (a new key cannot read the existing data), or point storage.key_file at it",
            key_file.display(),
            db_path.display()
        ),
        Err(KeyFileError::Missing(_)) if create => {
            let key = crypto::create_key_file(key_file)?;
            tracing::warn!(
                "created a new master key in {} (mode 0600, key {:08x}); keep a copy of it in a safe place apart \
                 from backups of the data: without it the encrypted data cannot be read",
                key_file.display(),
                key.id()
            );
            Ok(key)
        }
        Err(e) => Err(e.into()),
    }
}

/// Refuses to touch another user's data directory as root: SQLite would leave root-owned `-wal`/`-shm`
/// files behind that the service user then cannot open.
pub fn check_data_dir_owner(config: &Config) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let dir = &config.storage.data_dir;
    let Ok(meta) = fs::metadata(dir) else {
        return Ok(());
    };
    if effective_uid() == 0 && meta.uid() != 0 {
        bail!(
            "{} belongs to another user (uid {}); run this command as that user, e.g. `sudo -u whatsapi whatsapi ...`, \
             so that the files it creates stay readable by the service",
            dir.display(),
            meta.uid()
        );
    }
    Ok(())
}

#[allow(unsafe_code)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Opens the store for a command: data directory, master key, migrations, writer.
pub fn open_store(config: &Config, create_key: bool) -> Result<Db> {
    check_data_dir_owner(config)?;
    ensure_data_dir(&config.storage.data_dir)?;
    let key = master_key(config, create_key)?;
    Db::open(
        &config.db_path(),
        &store_options(config),
        key,
        &config.keystore_files(),
    )
    .map_err(damaged)
}

/// A database file SQLite cannot read as one says so, with what SQLite said and what to do next.
fn damaged(error: OpenError) -> anyhow::Error {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match &error {
        OpenError::Sqlite { path, source }
            if matches!(
                source.sqlite_error_code(),
                Some(NotADatabase | DatabaseCorrupt)
            ) =>
        {
            anyhow::anyhow!(
                "the database {path} is damaged (SQLite says: {source}); run `whatsapi doctor` to see what \
                 can be read, then `whatsapi restore FILE` to put back your latest backup"
            )
        }
        _ => error.into(),
    }
}
