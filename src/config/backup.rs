//! `[backup]`: scheduled online backups of the database into a directory, the newest `keep` kept.

use super::{Config, ConfigError, invalid, parse_schedule, storage::is_inside};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The most backups `keep` may ask for.
pub const MAX_KEEP: u32 = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Backup {
    /// When the server writes a backup (cron, UTC). Empty: never (`whatsapi backup PATH` still works).
    pub schedule: String,
    /// Where the backups go, created with mode 0700. Outside the data directory, and holding neither the
    /// key file nor the keystore.
    pub dir: PathBuf,
    /// How many of the newest backups to keep; older ones (of the server's own naming only) are removed.
    pub keep: u32,
}

impl Default for Backup {
    fn default() -> Self {
        Backup {
            schedule: String::new(),
            dir: PathBuf::from("./whatsapi-backups"),
            keep: 7,
        }
    }
}

impl Backup {
    /// The schedule, or `None` when scheduled backups are off.
    pub fn schedule(&self) -> Option<cron::Schedule> {
        let expr = self.schedule.trim();
        if expr.is_empty() {
            return None;
        }
        Some(parse_schedule(expr).expect("schedules are validated when the config loads"))
    }
}

impl Config {
    pub(super) fn validate_backup(&self) -> Result<(), ConfigError> {
        let backup = &self.backup;
        if backup.schedule.trim().is_empty() {
            // Off: the directory is never used, so never checked.
            return Ok(());
        }
        parse_schedule(&backup.schedule).map_err(|m| invalid("backup.schedule", m))?;
        if backup.dir.as_os_str().is_empty() {
            return Err(invalid("backup.dir", "must name a directory"));
        }
        if backup.dir.exists() && !backup.dir.is_dir() {
            return Err(invalid(
                "backup.dir",
                format!("{} exists and is not a directory", backup.dir.display()),
            ));
        }
        // A backup beside the data is lost with its disk, and `whatsapi restore` replaces files there.
        if is_inside(&backup.dir.join("backup"), &self.storage.data_dir) {
            return Err(invalid(
                "backup.dir",
                format!(
                    "must be outside storage.data_dir ({}): backups kept with the database are lost with it",
                    self.storage.data_dir.display()
                ),
            ));
        }
        // Backups never carry the keys: a copy of the backups would open them, and deleting an account
        // (which destroys its data key in the keystore) could not reach them.
        let keystore = self.keystore_files();
        let keys = [("storage.key_file", &self.storage.key_file)]
            .into_iter()
            .chain(std::iter::once(("storage.keystore", &keystore.path)))
            .chain(
                keystore
                    .mirrors
                    .iter()
                    .map(|m| ("storage.keystore_mirrors", m)),
            );
        for (name, path) in keys {
            if is_inside(path, &backup.dir) {
                return Err(invalid(
                    "backup.dir",
                    format!(
                        "must not hold {name} ({}): backups must never carry the keys that open them",
                        path.display()
                    ),
                ));
            }
        }
        if !(1..=MAX_KEEP).contains(&backup.keep) {
            return Err(invalid(
                "backup.keep",
                format!("must be between 1 and {MAX_KEEP}"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(config: &mut Config) -> String {
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn off_by_default_and_checked_when_set() {
        let mut config = Config::default();
        config.validate().unwrap();
        assert!(config.backup.schedule().is_none());
        config.backup.schedule = "0 0 2 * * *".into();
        config.validate().unwrap();
        assert!(config.backup.schedule().is_some());
        config.backup.schedule = "nightly".into();
        let err = refused(&mut config);
        assert!(err.starts_with("backup.schedule"), "{err}");
    }

    #[test]
    fn the_directory_is_apart_from_the_data_and_the_keys() {
        let mut config = Config::default();
        // Off: the directory is not used, so it is not checked.
        config.backup.dir = PathBuf::from("./whatsapi-data/backups");
        config.validate().unwrap();
        config.backup.schedule = "0 0 2 * * *".into();
        config.backup.dir = PathBuf::from("./whatsapi-data/backups");
        let err = refused(&mut config);
        assert!(
            err.starts_with("backup.dir") && err.contains("outside storage.data_dir"),
            "{err}"
        );
        config.backup.dir = PathBuf::from("./whatsapi-data");
        assert!(refused(&mut config).starts_with("backup.dir"));
        // The key file (and the keystore beside it) in the current directory.
        config.backup.dir = PathBuf::from(".");
        let err = refused(&mut config);
        assert!(err.contains("storage.key_file"), "{err}");
        config.backup.dir = PathBuf::from("/srv/backups");
        config.storage.key_file = PathBuf::from("/etc/whatsapi/master.key");
        config.storage.keystore = PathBuf::from("/srv/backups/keys/master.keystore");
        let err = refused(&mut config);
        assert!(err.contains("storage.keystore"), "{err}");
        config.storage.keystore = PathBuf::from("/var/lib/whatsapi-keys/master.keystore");
        config.validate().unwrap();
    }

    #[test]
    fn keep_is_at_least_one() {
        let mut config = Config::default();
        config.backup.schedule = "0 0 2 * * *".into();
        config.backup.keep = 0;
        assert!(refused(&mut config).starts_with("backup.keep"));
        config.backup.keep = 1;
        config.validate().unwrap();
    }
}
