//! Putting a backup back in place of the database (`whatsapi restore`). The backup is copied into the data
//! directory first, and that copy is checked (SQLite's integrity check, the schema, the master key and the
//! keystore that must read it) before anything is replaced; the database it replaces is kept aside, with
//! its write-ahead log, under a name that says when.

use super::directory;
use crate::crypto::{CryptoError, Key};
use crate::store::files::{sqlite_files, with_suffix};
use crate::store::keys::{self, unseal_data_key};
use crate::store::keystore::Known;
use crate::store::{AccountId, migrations};
use anyhow::{Context, Result};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why a backup is not put in place. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{file} cannot be read as a database; SQLite says: {message}")]
    Unreadable { file: String, message: String },
    #[error("{file} is damaged; SQLite's integrity check says: {report}")]
    Damaged { file: String, report: String },
    #[error("{file} is an SQLite database but not a whatsapi one (it has no accounts or settings)")]
    NotOurs { file: String },
    #[error(
        "{file} has schema version {found}, newer than this whatsapi supports ({supported}); restore it with the \
         newer whatsapi"
    )]
    NewerSchema {
        file: String,
        found: i64,
        supported: i64,
    },
    #[error(
        "{file} was made under another master key ({expected}) than the key file's ({found:08x}): this \
         installation cannot read it; restore it with the key file (and keystore) of the installation that made it"
    )]
    OtherMasterKey {
        file: String,
        expected: String,
        found: u32,
    },
    #[error(
        "{file} was made while a master key rotation was under way; restore a backup made before or after it"
    )]
    RotationPending { file: String },
    #[error("the keystore {keystore} cannot read {file}: {reason}")]
    Keystore {
        file: String,
        keystore: String,
        reason: String,
    },
}

/// What a checked backup holds, and what it lacks.
#[derive(Debug)]
pub struct Inspection {
    pub schema_version: i64,
    pub accounts: i64,
    /// The people directory is sealed (a backup): the first start unseals it.
    pub sealed_directory: bool,
    /// Accounts of the backup whose data key is not in the keystore (deleted since): what they hold that
    /// is sealed cannot be read.
    pub keyless: Vec<AccountId>,
    /// The master key that sealed it, when a rotation has replaced it since (the first start takes it over).
    pub retired_master: Option<u32>,
    /// The data keys are still inside (made before the keystore existed); the first start moves them out.
    pub keys_inside: bool,
}

/// Checks the copy at `path` (never the live database): that SQLite reads it whole, that it is a whatsapi
/// database this version can open, that `master` opens it and that `keystore` (`None`: no keystore file
/// yet) holds its data keys. Changes nothing but the copy's own write-ahead log, folded in.
pub fn inspect(
    path: &Path,
    shown: &str,
    master: &Key,
    keystore: (Option<&Known>, &Path),
) -> Result<Inspection, Refusal> {
    let file = shown.to_owned();
    let unreadable = |e: rusqlite::Error| Refusal::Unreadable {
        file: file.clone(),
        message: e.to_string(),
    };
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(unreadable)?;
    let report: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
        .map_err(unreadable)?;
    if report != ["ok"] {
        return Err(Refusal::Damaged {
            file,
            report: report.join("; "),
        });
    }
    // The copy becomes the database alone: a log copied with it is folded in now.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .map_err(unreadable)?;
    let table = |name: &str| -> rusqlite::Result<bool> {
        conn.query_row(
            "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [name],
            |r| r.get(0),
        )
    };
    if !table("settings").map_err(unreadable)? || !table("accounts").map_err(unreadable)? {
        return Err(Refusal::NotOurs { file });
    }
    let schema_version = migrations::version(&conn).map_err(unreadable)?;
    if schema_version > migrations::LATEST {
        return Err(Refusal::NewerSchema {
            file,
            found: schema_version,
            supported: migrations::LATEST,
        });
    }
    if keys::rotation_pending(&conn).map_err(unreadable)? {
        return Err(Refusal::RotationPending { file });
    }
    let (known, keystore_path) = keystore;
    let retired_master = check_master(&conn, &file, master, known)?;
    let keys_inside = table("data_keys").map_err(unreadable)?;
    let accounts: i64 = conn
        .query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))
        .map_err(unreadable)?;
    let refuse = |reason: String| Refusal::Keystore {
        file: file.clone(),
        keystore: keystore_path.display().to_string(),
        reason,
    };
    let empty = Known::default();
    let known = known.unwrap_or(&empty);
    if !known.keys.is_empty()
        && !known
            .keys
            .iter()
            .any(|(&account, sealed)| unseal_data_key(master, AccountId(account), sealed).is_ok())
    {
        return Err(refuse(format!(
            "its data keys do not open with the master key {:08x}: it belongs to another installation",
            master.id()
        )));
    }
    let sealed_directory = directory::is_sealed(&conn).map_err(unreadable)?;
    // Each data key the keystore holds for an account of the backup opens what the backup sealed with it:
    // the sealed directory's name of the account, and one of its sealed fields (sealed or not, a copy).
    for (&account, sealed) in &known.keys {
        let account = AccountId(account);
        let opens = match unseal_data_key(master, account, sealed) {
            Ok(key) => {
                directory::opens_with(&conn, account, &key).map_err(unreadable)?
                    && opens_a_sealed_field(&conn, account, &key).map_err(unreadable)?
            }
            Err(_) => false,
        };
        if !opens {
            return Err(refuse(format!(
                "its data key of account {} does not open what the backup holds of that account: the \
                 keystore and the backup are of different installations",
                account.get()
            )));
        }
    }
    let keyless = if known.knows_nothing() {
        if accounts > 0 && !keys_inside {
            return Err(refuse(format!(
                "it is missing or empty, but the backup has {accounts} account(s) whose data keys are in it; \
                 put the keystore (or a mirror of it) back first"
            )));
        }
        Vec::new()
    } else {
        keys::accounts_without_key(&conn, known).map_err(unreadable)?
    };
    Ok(Inspection {
        schema_version,
        accounts,
        sealed_directory,
        keyless,
        retired_master,
        keys_inside,
    })
}

/// Fields sealed with an account's data key that most accounts have one of: (table, column), the row
/// being the table's `id` and the account its `account_id`.
const SEALED_FIELDS: [(&str, &str); 3] = [
    ("connections", "access_token"),
    ("messages", "recipient"),
    ("webhook_endpoints", "secret"),
];

/// Whether `key` opens the first of `SEALED_FIELDS` the copy holds of `account`; true when it holds
/// none (nothing to try), or when the value is no envelope this version reads.
fn opens_a_sealed_field(
    conn: &Connection,
    account: AccountId,
    key: &Key,
) -> rusqlite::Result<bool> {
    for (table, column) in SEALED_FIELDS {
        let exists: bool = conn.query_row(
            "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )?;
        if !exists {
            continue;
        }
        let first: Option<(i64, Vec<u8>)> = conn
            .query_row(
                &format!(
                    "SELECT id, {column} FROM {table} WHERE account_id = ?1 AND typeof({column}) = 'blob' \
                     ORDER BY id LIMIT 1"
                ),
                [account.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((row, sealed)) = first else {
            continue;
        };
        let place = crate::crypto::Aad {
            account: account.0,
            table,
            column,
            row,
        };
        return Ok(match key.open(&place, &sealed) {
            Ok(_) => true,
            Err(CryptoError::UnknownKey(_) | CryptoError::Forged) => false,
            Err(_) => true,
        });
    }
    Ok(true)
}

/// Refuses a backup the master key cannot open; `Some(id)` when it was sealed with a key a rotation
/// retired since, which the first start replaces.
fn check_master(
    conn: &Connection,
    file: &str,
    master: &Key,
    known: Option<&Known>,
) -> Result<Option<u32>, Refusal> {
    let unreadable = |e: rusqlite::Error| Refusal::Unreadable {
        file: file.to_owned(),
        message: e.to_string(),
    };
    let expected = keys::database_master_key_id(conn).map_err(unreadable)?;
    if keys::master_matches(conn, master).map_err(unreadable)? {
        return Ok(None);
    }
    match expected {
        Some(id) if known.is_some_and(|k| k.retired_masters.contains(&id)) => Ok(Some(id)),
        _ => Err(Refusal::OtherMasterKey {
            file: file.to_owned(),
            expected: expected
                .map(|id| format!("key {id:08x}"))
                .unwrap_or_else(|| "none that can be read".to_owned()),
            found: master.id(),
        }),
    }
}

/// A copy of the backup inside the data directory, beside the database it is to replace; removed when
/// dropped unless it was put in place.
pub struct Staged {
    path: PathBuf,
    placed: bool,
}

impl Staged {
    /// Copies `backup` to `<database>.restoring` (mode 0600) and writes it to disk.
    pub fn copy(backup: &Path, database: &Path) -> Result<Staged> {
        let path = with_suffix(database, ".restoring");
        for leftover in sqlite_files(&path) {
            let _ = fs::remove_file(leftover);
        }
        let staged = Staged {
            path: path.clone(),
            placed: false,
        };
        let mut from =
            fs::File::open(backup).with_context(|| format!("cannot read {}", backup.display()))?;
        let mut to = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        std::io::copy(&mut from, &mut to)
            .and_then(|_| to.flush())
            .and_then(|_| to.sync_all())
            .with_context(|| format!("cannot copy {} to {}", backup.display(), path.display()))?;
        // A database kept with its write-ahead log (one `restore` set aside, say): the log holds its latest
        // commits, and goes with it; checking the copy folds it in.
        let log = with_suffix(backup, "-wal");
        if log.is_file() {
            let to = with_suffix(&path, "-wal");
            fs::copy(&log, &to)
                .with_context(|| format!("cannot copy {} to {}", log.display(), to.display()))?;
        }
        Ok(staged)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the database at `database` (with its write-ahead log) aside as `<database>.replaced-<stamp>`
    /// (`-2`, `-3`, … after it when that name is taken),
    /// and puts the copy in its place. Returns the files kept aside (the database first), none when there
    /// was no database.
    pub fn put_in_place(mut self, database: &Path, stamp: &str) -> Result<Vec<PathBuf>> {
        // Checking the copy opened it: no log of it may be left to pair with the database it becomes.
        for journal in sqlite_files(&self.path).into_iter().skip(1) {
            if journal.exists() {
                fs::remove_file(&journal)
                    .with_context(|| format!("cannot remove {}", journal.display()))?;
            }
        }
        // A name no earlier restore took (two within the same second get `-2`, `-3`, …).
        let aside = (1..)
            .map(|n| match n {
                1 => with_suffix(database, &format!(".replaced-{stamp}")),
                n => with_suffix(database, &format!(".replaced-{stamp}-{n}")),
            })
            .find(|name| sqlite_files(name).iter().all(|file| !file.exists()))
            .expect("a free name");
        let mut replaced = Vec::new();
        if database.exists() {
            // Its log folded into it first (no server holds it): the database is whole on its own, and no
            // moment below leaves it without its log. A database SQLite cannot open keeps its log, moved
            // beside the kept name; the restored copy is never put beside a log not its own.
            fold_log(database);
            // A second name for the database first: it is never without one, even if this stops midway.
            fs::hard_link(database, &aside).with_context(|| {
                format!("cannot keep {} as {}", database.display(), aside.display())
            })?;
            replaced.push(aside.clone());
            for (from, to) in sqlite_files(database)
                .into_iter()
                .zip(sqlite_files(&aside))
                .skip(1)
            {
                if from.exists() {
                    fs::rename(&from, &to).with_context(|| {
                        format!("cannot keep {} as {}", from.display(), to.display())
                    })?;
                    replaced.push(to);
                }
            }
        }
        fs::rename(&self.path, database).with_context(|| {
            format!(
                "cannot put {} in place of {}",
                self.path.display(),
                database.display()
            )
        })?;
        self.placed = true;
        if let Some(dir) = database.parent() {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .with_context(|| format!("cannot write {} to disk", dir.display()))?;
        }
        Ok(replaced)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.placed {
            for file in sqlite_files(&self.path) {
                let _ = fs::remove_file(file);
            }
        }
    }
}

/// Copies the write-ahead log of the database at `path` into it and removes it, when SQLite can; a
/// database it cannot open is left as it is.
fn fold_log(path: &Path) {
    if !with_suffix(path, "-wal").exists() {
        return;
    }
    let folded = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .and_then(|conn| {
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                .map(|_| conn)
        })
        .and_then(|conn| conn.close().map_err(|(_, e)| e));
    if let Err(e) = folded {
        tracing::warn!(error = %e, "cannot fold the replaced database's log into it; it is kept beside it");
    }
}
