//! Backups into a directory, as the scheduled job makes them: one file per backup named after its UTC time
//! (`whatsapi-20261208T030000Z.db`), written under a hidden temporary name and renamed once whole and
//! checked, so a file of the final name is never half-written; then only the newest `keep` files of that
//! naming stay. Nothing else in the directory is touched. A server with scheduled backups holds the
//! directory's lock file (`.whatsapi-backup.lock`) while it runs: a second server given the same directory
//! refuses to start rather than remove the first one's backups.

use super::{BackupReport, backup};
use crate::store::keys::Keyring;
use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const PREFIX: &str = "whatsapi-";
const SUFFIX: &str = ".db";
/// A copy being written: `.whatsapi-<time>.db.partial` (hidden, and not of the final naming).
const PARTIAL_PREFIX: &str = ".whatsapi-";
const PARTIAL_SUFFIX: &str = ".db.partial";
/// The lock a server with scheduled backups holds on the directory.
const LOCK: &str = ".whatsapi-backup.lock";

/// The backup directory held by this server: no other server backs up into it or prunes it meanwhile.
#[derive(Debug)]
pub struct DirLock {
    _file: fs::File,
}

/// At start, with backups scheduled: makes `dir` (mode 0700) if missing, takes its lock (which also shows
/// the server can write there), and removes the copies a stop cut off. Refuses when another server holds
/// the directory, or when it cannot be made or written.
pub fn prepare(dir: &Path) -> Result<DirLock> {
    create_dir(dir)?;
    let path = dir.join(LOCK);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| {
            format!(
                "cannot write in the backup directory ([backup] dir): cannot create {}",
                path.display()
            )
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => bail!(
            "another whatsapi server makes its scheduled backups in {} ([backup] dir); give each server \
             its own directory, or it would remove the other's backups",
            dir.display()
        ),
        Err(fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    remove_cut_off_copies(dir)?;
    Ok(DirLock { _file: file })
}

fn create_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the backup directory {}", dir.display()))?;
    }
    Ok(())
}

/// The name of a backup made at `at`.
pub fn file_name(at: DateTime<Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", at.format("%Y%m%dT%H%M%SZ"))
}

/// Whether `name` is a backup's name (`whatsapi-YYYYMMDDTHHMMSSZ.db`): the only files `keep` removes.
pub fn is_backup_name(name: &str) -> bool {
    let Some(time) = name
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(SUFFIX))
    else {
        return false;
    };
    let bytes = time.as_bytes();
    bytes.len() == 16
        && bytes[8] == b'T'
        && bytes[15] == b'Z'
        && bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[9..15].iter().all(u8::is_ascii_digit)
}

/// Whether `name` is a copy that a stop cut off (or its SQLite journal files).
fn is_partial_name(name: &str) -> bool {
    let name = name
        .strip_suffix("-wal")
        .or_else(|| name.strip_suffix("-shm"))
        .or_else(|| name.strip_suffix("-journal"))
        .unwrap_or(name);
    name.strip_prefix(PARTIAL_PREFIX)
        .and_then(|rest| rest.strip_suffix(PARTIAL_SUFFIX))
        .is_some_and(|time| is_backup_name(&format!("{PREFIX}{time}{SUFFIX}")))
}

/// A backup written into the directory.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    pub report: BackupReport,
    /// Older backups removed to keep the newest `keep`, oldest first.
    pub removed: Vec<String>,
    /// Why an older backup could not be removed (the new one is written all the same).
    pub prune_error: Option<String>,
}

/// Writes a backup of the live database at `source` into `dir` (made with mode 0700 if missing), then
/// keeps the newest `keep` backups there. The server holds the directory (`prepare`).
pub fn write_into(
    source: &Path,
    dir: &Path,
    keep: usize,
    keyring: &Keyring,
    at: DateTime<Utc>,
) -> Result<Written> {
    create_dir(dir)?;
    remove_cut_off_copies(dir)?;
    let name = file_name(at);
    let path = dir.join(&name);
    if path.exists() {
        bail!("{} already exists", path.display());
    }
    let partial = dir.join(format!(
        "{PARTIAL_PREFIX}{}{PARTIAL_SUFFIX}",
        &name[PREFIX.len()..name.len() - SUFFIX.len()]
    ));
    let report = backup(source, &partial, keyring)?;
    let renamed = fs::File::open(&partial)
        .and_then(|file| file.sync_all())
        .and_then(|_| fs::rename(&partial, &path))
        .and_then(|_| fs::File::open(dir)?.sync_all());
    if let Err(e) = renamed {
        let _ = fs::remove_file(&partial);
        return Err(e)
            .with_context(|| format!("cannot put the backup in place as {}", path.display()));
    }
    let (removed, prune_error) = prune(dir, keep);
    Ok(Written {
        path,
        report,
        removed,
        prune_error,
    })
}

/// The backups in `dir`, oldest first (their names sort by time).
pub fn list(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(dir)?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| is_backup_name(name))
        .collect();
    names.sort();
    Ok(names)
}

/// Removes all but the newest `keep` backups; returns the names removed, and why the next could not be.
fn prune(dir: &Path, keep: usize) -> (Vec<String>, Option<String>) {
    let names = match list(dir) {
        Ok(names) => names,
        Err(e) => {
            return (
                Vec::new(),
                Some(format!("cannot list {}: {e}", dir.display())),
            );
        }
    };
    let excess = names.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for name in names.into_iter().take(excess) {
        if let Err(e) = fs::remove_file(dir.join(&name)) {
            let error = format!("cannot remove the older backup {name}: {e}");
            return (removed, Some(error));
        }
        removed.push(name);
    }
    (removed, None)
}

/// A copy cut off by a stop (or a crash) is never a backup: removed before the next one is written.
fn remove_cut_off_copies(dir: &Path) -> Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries.filter_map(|e| e.ok()) {
        if let Ok(name) = entry.file_name().into_string()
            && is_partial_name(&name)
        {
            tracing::info!(file = %entry.path().display(), "removing a backup copy a stop cut off");
            fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_carry_the_utc_time_and_only_they_are_backups() {
        let at = Utc.with_ymd_and_hms(2026, 12, 8, 3, 0, 0).unwrap();
        assert_eq!(file_name(at), "whatsapi-20261208T030000Z.db");
        assert!(is_backup_name("whatsapi-20261208T030000Z.db"));
        for other in [
            "whatsapi.db",
            "whatsapi-20261208T030000Z.db-wal",
            "whatsapi-20261208T030000.db",
            "whatsapi-2026120xT030000Z.db",
            "whatsapi-manual.db",
            "notes.txt",
            ".whatsapi-20261208T030000Z.db.partial",
        ] {
            assert!(!is_backup_name(other), "{other}");
        }
        assert!(is_partial_name(".whatsapi-20261208T030000Z.db.partial"));
        assert!(is_partial_name(".whatsapi-20261208T030000Z.db.partial-wal"));
        assert!(!is_partial_name(".whatsapi-notes.db.partial"));
    }

    #[test]
    fn keep_removes_the_oldest_backups_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "whatsapi-20260101T000000Z.db",
            "whatsapi-20260102T000000Z.db",
            "whatsapi-20260103T000000Z.db",
        ];
        for name in names.iter().chain(&["notes.txt", "whatsapi-manual.db"]) {
            fs::write(dir.path().join(name), name).unwrap();
        }
        assert_eq!(prune(dir.path(), 2), (vec![names[0].to_owned()], None));
        assert_eq!(list(dir.path()).unwrap(), names[1..].to_vec());
        assert!(dir.path().join("notes.txt").exists());
        assert!(dir.path().join("whatsapi-manual.db").exists());
        assert_eq!(prune(dir.path(), 2), (Vec::new(), None));
    }

    #[test]
    fn a_server_holds_its_directory_and_its_start_removes_cut_off_copies() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("backups");
        let kept = "whatsapi-20260101T000000Z.db";
        let cut_off = ".whatsapi-20260102T000000Z.db.partial";
        fs::create_dir(&dir).unwrap();
        for name in [kept, cut_off, "notes.txt"] {
            fs::write(dir.join(name), name).unwrap();
        }
        let held = prepare(&dir).unwrap();
        assert!(!dir.join(cut_off).exists());
        assert!(dir.join(kept).exists() && dir.join("notes.txt").exists());
        let err = format!("{:#}", prepare(&dir).unwrap_err());
        assert!(err.contains("another whatsapi server"), "{err}");
        drop(held);
        prepare(&dir).unwrap();
        // A directory that is not there yet is made.
        prepare(&parent.path().join("new")).unwrap();
        assert!(parent.path().join("new").is_dir());
    }
}
