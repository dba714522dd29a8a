//! Configuration of where data and keys are kept, how SQLite writes, and how long data is kept.

use super::{Config, ConfigError, invalid, parse_schedule};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    pub data_dir: PathBuf,
    pub key_file: PathBuf,
    /// Each account's data key, sealed with the master key. Empty: beside the key file (`<key file
    /// without extension>.keystore`).
    pub keystore: PathBuf,
    /// Copies of the keystore kept up to date after every change (on another disk, say).
    pub keystore_mirrors: Vec<PathBuf>,
    pub synchronous: Synchronous,
    pub readers: usize,
    /// Writes that may wait for the writer; beyond it requests are answered 503 until it catches up.
    pub write_queue: usize,
    /// Seconds the database may be unwritable (deleted, failing; a full disk does not count) before the
    /// server stops with a failure so the service manager restarts it or alerts.
    pub fail_after_secs: u64,
    /// Free space (MiB) under which the server, `doctor` and `/admin` warn.
    pub min_free_mb: u64,
    pub maintenance_schedule: String,
}

/// How long data is kept. Messages past `message_days` are hidden at once and deleted by the retention job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// When the retention job runs (cron, UTC).
    pub schedule: String,
    /// Messages, their statuses, raw webhooks, what customers wrote and conversations idle this long.
    pub message_days: u32,
    /// The activity log (who did what, from which address).
    pub activity_days: u32,
    /// Events and deliveries to customers' webhook endpoints.
    pub webhook_delivery_days: u32,
    /// The daily usage roll-ups (counts only), in months.
    pub usage_months: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            schedule: "0 0 3 * * *".into(),
            // The privacy policy promises message logs are deleted after 90 days.
            message_days: 90,
            activity_days: 365,
            webhook_delivery_days: 30,
            usage_months: 13,
        }
    }
}

/// Every retention period lies in 1..=MAX_RETENTION_DAYS (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    #[default]
    /// fsync on every commit: a commit that was acknowledged survives a power cut.
    Full,
    /// Survives a crash of the process, may lose the last commits on a power cut.
    Normal,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            data_dir: PathBuf::from("./whatsapi-data"),
            key_file: PathBuf::from("./whatsapi-master.key"),
            keystore: PathBuf::new(),
            keystore_mirrors: Vec::new(),
            synchronous: Synchronous::Full,
            readers: 4,
            write_queue: 10_000,
            fail_after_secs: 60,
            min_free_mb: 200,
            maintenance_schedule: "0 30 3 * * *".into(),
        }
    }
}

impl Config {
    pub(super) fn validate_storage(&self) -> Result<(), ConfigError> {
        let storage = &self.storage;
        if storage.data_dir.as_os_str().is_empty() {
            return Err(invalid("storage.data_dir", "must not be empty"));
        }
        if storage.data_dir.exists() && !storage.data_dir.is_dir() {
            return Err(invalid(
                "storage.data_dir",
                format!("{} is not a directory", storage.data_dir.display()),
            ));
        }
        if storage.key_file.as_os_str().is_empty() || storage.key_file.is_dir() {
            return Err(invalid("storage.key_file", "must name a file"));
        }
        if is_inside(&storage.key_file, &storage.data_dir) {
            return Err(invalid(
                "storage.key_file",
                "must be outside storage.data_dir, so that copies of the data never carry the key",
            ));
        }
        let keystore = self.keystore_files();
        for (name, path) in std::iter::once(("storage.keystore", &keystore.path)).chain(
            keystore
                .mirrors
                .iter()
                .map(|m| ("storage.keystore_mirrors", m)),
        ) {
            if path.is_dir() {
                return Err(invalid(name, format!("{} is a directory", path.display())));
            }
            if is_inside(path, &storage.data_dir) {
                return Err(invalid(
                    name,
                    "must be outside storage.data_dir: backups of the data must not hold the data keys, \
                     or deleting an account could not reach them",
                ));
            }
            if path == &storage.key_file {
                return Err(invalid(name, "must not be the key file"));
            }
        }
        if keystore.mirrors.iter().any(|m| m == &keystore.path) {
            return Err(invalid(
                "storage.keystore_mirrors",
                "a mirror must be another file than the keystore",
            ));
        }
        if !(1..=64).contains(&storage.readers) {
            return Err(invalid("storage.readers", "must be between 1 and 64"));
        }
        if !(1..=86_400).contains(&storage.fail_after_secs) {
            return Err(invalid(
                "storage.fail_after_secs",
                "must be between 1 and 86400",
            ));
        }
        if !(1..=1_000_000).contains(&storage.write_queue) {
            return Err(invalid(
                "storage.write_queue",
                "must be between 1 and 1000000",
            ));
        }
        parse_schedule(&storage.maintenance_schedule)
            .map_err(|m| invalid("storage.maintenance_schedule", m))?;
        Ok(())
    }

    pub(super) fn validate_retention(&self) -> Result<(), ConfigError> {
        let retention = &self.retention;
        parse_schedule(&retention.schedule).map_err(|m| invalid("retention.schedule", m))?;
        for (key, days) in [
            ("retention.message_days", retention.message_days),
            ("retention.activity_days", retention.activity_days),
            (
                "retention.webhook_delivery_days",
                retention.webhook_delivery_days,
            ),
        ] {
            if !(1..=MAX_RETENTION_DAYS).contains(&days) {
                return Err(invalid(
                    key,
                    format!("must be between 1 and {MAX_RETENTION_DAYS} days"),
                ));
            }
        }
        if !(1..=MAX_RETENTION_DAYS / 30).contains(&retention.usage_months) {
            return Err(invalid(
                "retention.usage_months",
                format!("must be between 1 and {} months", MAX_RETENTION_DAYS / 30),
            ));
        }
        Ok(())
    }

    pub fn db_path(&self) -> PathBuf {
        self.storage.data_dir.join("whatsapi.db")
    }

    pub fn keystore_files(&self) -> KeystoreFiles {
        let mut files = KeystoreFiles::beside(&self.storage.key_file);
        if !self.storage.keystore.as_os_str().is_empty() {
            files.path = self.storage.keystore.clone();
        }
        files.mirrors = self.storage.keystore_mirrors.clone();
        files
    }
}

/// Where the keystore (every account's data key, sealed with the master key) and its mirrors are.
#[derive(Debug, Clone)]
pub struct KeystoreFiles {
    pub path: PathBuf,
    pub mirrors: Vec<PathBuf>,
}

impl KeystoreFiles {
    /// The keystore beside a key file, without mirrors: `master.key` keeps its data keys in `master.keystore`.
    pub fn beside(key_file: &Path) -> KeystoreFiles {
        KeystoreFiles {
            path: key_file.with_extension("keystore"),
            mirrors: Vec::new(),
        }
    }
}

/// Whether `path` lies inside `dir`, comparing absolute paths (resolving symlinks where the paths exist).
pub(super) fn is_inside(path: &Path, dir: &Path) -> bool {
    let resolve = |p: &Path| -> PathBuf {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
        abs.canonicalize().unwrap_or(abs)
    };
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_dir = resolve(parent);
    file_dir.starts_with(resolve(dir))
}
