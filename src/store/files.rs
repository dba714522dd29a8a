//! The database's files on disk: the names beside a file, and whether two names are the same file.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// `path` with `suffix` appended to its file name (`whatsapi.db` → `whatsapi.db-wal`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A database file and its write-ahead log, shared memory and rollback journal.
pub fn sqlite_files(path: &Path) -> [PathBuf; 4] {
    [
        path.to_owned(),
        with_suffix(path, "-wal"),
        with_suffix(path, "-shm"),
        with_suffix(path, "-journal"),
    ]
}

/// The device and inode of the file at `path`, if there is one.
pub fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Whether two paths name the same existing file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    matches!((identity(a), identity(b)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_beside_a_database_and_the_same_file_under_two_names() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("whatsapi.db");
        assert_eq!(sqlite_files(&db)[1], dir.path().join("whatsapi.db-wal"));
        assert!(!same_file(&db, &db), "no file there yet");
        std::fs::write(&db, b"x").unwrap();
        std::fs::write(dir.path().join("other.db"), b"x").unwrap();
        assert!(same_file(&db, &dir.path().join(".").join("whatsapi.db")));
        assert!(!same_file(&db, &dir.path().join("other.db")));
    }
}
