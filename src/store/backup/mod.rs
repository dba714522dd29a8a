//! Online backups with SQLite's backup API: a consistent copy while the server keeps writing, whose people
//! directory is then sealed per account (see `directory`) and whose file is rewritten so nothing of what
//! was sealed is left in the clear.

pub mod directory;
pub mod restore;
pub mod scheduled;

use super::keys::Keyring;

use anyhow::{Context, Result, bail};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

#[derive(Debug)]
pub struct BackupReport {
    pub pages: i64,
    pub bytes: u64,
    pub integrity: String,
}

/// Copies the live database at `source` to a new file `dest`, seals its directory and checks the copy.
pub fn backup(source: &Path, dest: &Path, keyring: &Keyring) -> Result<BackupReport> {
    if !source.is_file() {
        bail!("there is no database at {}", source.display());
    }
    // Created here, empty and private, so the copy is never readable by others, even for a moment.
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .with_context(|| format!("cannot create {} (it must not exist yet)", dest.display()))?;
    let result = copy_and_check(source, dest, keyring);
    if result.is_err() {
        // A half-written or failed copy must not pass for a backup, nor block the next attempt; its
        // write-ahead log may hold pages copied before the directory was sealed.
        for file in super::files::sqlite_files(dest) {
            let _ = std::fs::remove_file(file);
        }
    }
    result
}

fn copy_and_check(source: &Path, dest: &Path, keyring: &Keyring) -> Result<BackupReport> {
    let src = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", source.display()))?;
    src.busy_timeout(Duration::from_secs(10))?;
    let mut dst = Connection::open(dest)?;
    {
        let backup = Backup::new(&src, &mut dst)?;
        // All pages in one step: the copy is one read transaction, a consistent snapshot that WAL lets the
        // writer work beside. Copying in small steps would restart on every commit of a busy server.
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => continue,
                StepResult::Busy | StepResult::Locked => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    directory::seal(&dst, keyring)
        .map_err(|e| anyhow::anyhow!("cannot seal the backup's directory: {}", e.detail()))?;
    // VACUUM rewrites the file from its live content: the clear text the sealing replaced is not left in
    // free pages or the write-ahead log.
    dst.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")?;
    let integrity: String = dst.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    let pages: i64 = dst.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    dst.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    drop(dst);
    let bytes = std::fs::metadata(dest)?.len();
    if integrity != "ok" {
        bail!(
            "the backup at {} failed its integrity check: {integrity}",
            dest.display()
        );
    }
    Ok(BackupReport {
        pages,
        bytes,
        integrity,
    })
}
