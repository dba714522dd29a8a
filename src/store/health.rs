//! Whether the store can write. The writer reports what each transaction met, and checks before each one
//! that the database file is still the one it opened: SQLite goes on writing into a file that was deleted
//! under it, and everything written there would be lost at the next start, so such writes are refused.
//! A full disk is told apart (writes resume by themselves when space returns); other failures last until
//! the process is restarted (`[storage] fail_after_secs`). Each trouble is logged at most once a minute.

use super::files::identity;
use crate::error::Error;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const LOG_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trouble {
    /// The file system is full (SQLITE_FULL).
    Full,
    /// Anything else that stops writes: the file deleted or replaced, read-only, I/O errors.
    Failing(String),
}

impl Trouble {
    /// The error a request that must write gets meanwhile.
    pub fn error(&self) -> Error {
        match self {
            Trouble::Full => Error::StorageFull,
            Trouble::Failing(_) => Error::StorageFailing,
        }
    }

    /// In words, for `/healthz` and the log.
    pub fn describe(&self) -> String {
        match self {
            Trouble::Full => "the disk is full: nothing can be written until space is freed".into(),
            Trouble::Failing(reason) => reason.clone(),
        }
    }
}

/// The trouble a SQLite error means for writes, if it is one.
pub fn trouble_of(error: &rusqlite::Error) -> Option<Trouble> {
    use rusqlite::ErrorCode::*;
    match error.sqlite_error_code()? {
        DiskFull => Some(Trouble::Full),
        ReadOnly | CannotOpen | SystemIoFailure | DatabaseCorrupt | NotADatabase => Some(
            Trouble::Failing(format!("the database cannot be written: {error}")),
        ),
        _ => None,
    }
}

pub struct StorageHealth {
    path: PathBuf,
    /// The database file's device and inode when it was opened.
    identity: Option<(u64, u64)>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    trouble: Option<(Trouble, Instant)>,
    last_logged: Option<Instant>,
}

impl StorageHealth {
    pub fn new(path: &Path) -> StorageHealth {
        StorageHealth {
            path: path.to_owned(),
            identity: identity(path),
            state: Mutex::new(State::default()),
        }
    }

    /// Whether the database file is still the one opened; reports it when not.
    pub fn file_is_ours(&self) -> bool {
        if identity(&self.path) == self.identity {
            return true;
        }
        self.report(Trouble::Failing(format!(
            "the database file {} was deleted or replaced while the server ran; restart it (restore a \
             backup if the file is gone)",
            self.path.display()
        )));
        false
    }

    /// A transaction that wrote something committed: writes work.
    pub fn wrote(&self) {
        let mut state = self.state.lock();
        if let Some((trouble, since)) = state.trouble.take() {
            tracing::warn!(
                after_secs = since.elapsed().as_secs(),
                "writes to the database work again ({} before)",
                trouble.describe()
            );
            state.last_logged = None;
        }
    }

    /// Something stops writes; logged now if it was not in the last minute.
    pub fn report(&self, trouble: Trouble) {
        let mut state = self.state.lock();
        let now = Instant::now();
        let since = match &state.trouble {
            Some((same, since)) if *same == trouble => *since,
            _ => now,
        };
        if state.last_logged.is_none_or(|at| now - at >= LOG_EVERY) {
            tracing::error!("cannot write to the database: {}", trouble.describe());
            state.last_logged = Some(now);
        }
        state.trouble = Some((trouble, since));
    }

    /// The trouble writes have now, and for how long.
    pub fn trouble(&self) -> Option<(Trouble, Duration)> {
        self.state
            .lock()
            .trouble
            .as_ref()
            .map(|(trouble, since)| (trouble.clone(), since.elapsed()))
    }
}

/// Free space available to this user on the file system holding `path`, in bytes.
#[allow(unsafe_code)]
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: c_path is a valid NUL-terminated string and stats points to writable memory of the right type.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), stats.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let stats = unsafe { stats.assume_init() };
    // The field types differ between platforms (u32 on some), hence the casts.
    #[allow(clippy::unnecessary_cast)]
    Ok(stats.f_bavail as u64 * stats.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_or_replaced_file_is_noticed_and_a_write_clears_a_full_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("whatsapi.db");
        std::fs::write(&path, b"x").unwrap();
        let health = StorageHealth::new(&path);
        assert!(health.file_is_ours());
        assert_eq!(health.trouble(), None);

        health.report(Trouble::Full);
        assert_eq!(health.trouble().map(|t| t.0), Some(Trouble::Full));
        health.wrote();
        assert_eq!(health.trouble(), None);

        // A new file put in its place (made first, so it cannot get the old one's inode number).
        let other = dir.path().join("other.db");
        std::fs::write(&other, b"a new file").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert!(!health.file_is_ours());
        assert!(matches!(health.trouble(), Some((Trouble::Failing(_), _))));
    }
}
