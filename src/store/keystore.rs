//! The keystore: every account's data key, sealed with the master key, in a small SQLite file of its own,
//! outside the data directory and outside what `whatsapi backup` copies.
//!
//! Keeping the data keys out of the database is what makes deleting an account reach its old backups: a
//! backup holds only ciphertext, and the one key that opens the account's part of it is deleted here. A
//! backup is restored with the live keystore (and the master key); what it holds of accounts deleted since
//! stays unreadable.
//!
//! Because the keystore is not backed up, it is mirrored instead: `storage.keystore_mirrors` names copies
//! (on another disk, say) that are brought up to date after every change and at every start. A mirror is
//! always the keystore's present state, never its history, so a key deleted here is deleted there too.
//! A new key must reach every mirror before the account it belongs to exists; a deletion is applied here
//! first and reaches a mirror that cannot be written at its next update.

use crate::error::{Error, Result};
use parking_lot::Mutex;
use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::AccountId;
pub use crate::config::KeystoreFiles;

/// A data key as the keystore holds it.
#[derive(Debug, Clone)]
pub struct SealedKey {
    pub account: AccountId,
    pub master_key_id: u32,
    pub sealed: Vec<u8>,
}

pub struct Keystore {
    files: KeystoreFiles,
    conn: Mutex<Connection>,
    /// Whether the file did not exist before this process opened it.
    created: bool,
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS data_keys (
        account_id    INTEGER PRIMARY KEY,
        key_id        INTEGER NOT NULL,
        master_key_id INTEGER NOT NULL,
        sealed        BLOB NOT NULL,
        created_at    INTEGER NOT NULL
    ) STRICT;
    -- Master keys replaced by a rotation: a database backed up before it still names one of them.
    CREATE TABLE IF NOT EXISTS retired_master_keys (
        key_id     INTEGER PRIMARY KEY,
        retired_at INTEGER NOT NULL
    ) STRICT;
    -- Accounts whose key was destroyed. With them the keystore knows every account id it ever held: an id
    -- is never handed out again, and a copy of the keystore older than its mirror is told apart.
    CREATE TABLE IF NOT EXISTS destroyed_keys (
        account_id   INTEGER PRIMARY KEY,
        destroyed_at INTEGER NOT NULL
    ) STRICT;
    PRAGMA user_version = 1;";

/// Opens a keystore file with the pragmas it needs: a rollback journal, so that at rest it is one file (easy
/// to mirror and to reason about), and secure_delete, so a deleted key is overwritten in the file. (The
/// journal held the page for the moment of the transaction; it is then removed like any deleted file, its
/// disk blocks freed, not overwritten.)
fn connect(path: &Path, create: bool) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;")?;
    Ok(conn)
}

/// Creates an empty file readable by its owner only, so the keystore is never readable by others, even for a
/// moment. An existing file is left as it is.
fn create_private_file(path: &Path) -> std::io::Result<bool> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

fn failed(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(anyhow::anyhow!("{}: {what}: {e}", path.display()))
}

impl Keystore {
    /// Opens the keystore, creating it (mode 0600) when it does not exist yet. Whether a new keystore may be
    /// used is for the caller to decide (see `created`); only then may it bring the mirrors up to date
    /// (`update_mirrors`), or a keystore lost and recreated empty would empty its mirrors too.
    pub fn open(files: &KeystoreFiles) -> Result<Keystore> {
        let path = &files.path;
        let created = create_private_file(path).map_err(|e| failed(path, "cannot create", e))?;
        let conn = connect(path, false)
            .and_then(|conn| conn.execute_batch(SCHEMA).map(|_| conn))
            .map_err(|e| failed(path, "cannot open", e))?;
        Ok(Keystore {
            files: files.clone(),
            conn: Mutex::new(conn),
            created,
        })
    }

    pub fn files(&self) -> &KeystoreFiles {
        &self.files
    }

    pub fn created(&self) -> bool {
        self.created
    }

    fn conn(&self) -> parking_lot::MutexGuard<'_, Connection> {
        self.conn.lock()
    }

    pub fn get(&self, account: AccountId) -> Result<Option<SealedKey>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT master_key_id, sealed FROM data_keys WHERE account_id = ?1")?
            .query_row([account.0], |r| {
                Ok(SealedKey {
                    account,
                    master_key_id: r.get(0)?,
                    sealed: r.get(1)?,
                })
            })
            .optional()?)
    }

    /// Which accounts it holds a key of and which ones it destroyed the key of.
    pub fn known(&self) -> Result<Known> {
        Ok(Known::read(&self.conn())?)
    }

    /// Refuses to go on when a mirror knows accounts the keystore does not (keys it lacks, or keys it holds
    /// that the mirror has destroyed): the keystore is then an older copy (restored from somewhere, or
    /// a file left empty), and bringing the mirrors up to date would lose keys or bring deleted ones back.
    /// A mirror is only ever behind the keystore, never ahead of it: every change is made here first.
    pub fn check_mirrors(&self) -> Result<()> {
        let here = self.known()?;
        // A mirror not written yet (none, or the empty file of a first copy that was cut off) is behind.
        let written = |m: &&PathBuf| m.metadata().is_ok_and(|m| m.len() > 0);
        for mirror in self.files.mirrors.iter().filter(written) {
            let there = Known::read_file(mirror)
                .map_err(|e| failed(mirror, "cannot read this mirror", e))?;
            let ahead = there.ahead_of(&here);
            if !ahead.is_empty() {
                return Err(Error::Internal(anyhow::anyhow!(
                    "it is older than its mirror {}, which has a newer key or a newer deletion for the \
                     accounts {ahead:?}: if the mirror is right, copy it over the keystore; if it belongs \
                     to another installation, remove it from storage.keystore_mirrors",
                    mirror.display()
                )));
            }
        }
        Ok(())
    }

    /// The accounts whose key it destroyed (without reading the keys).
    pub fn destroyed(&self) -> Result<BTreeSet<i64>> {
        Ok(ids(&self.conn(), "SELECT account_id FROM destroyed_keys")?)
    }

    /// Stores new keys (replacing a key left by an account whose creation was rolled back, since account
    /// ids are only final once committed) and copies them to every mirror: until every copy holds a key, the
    /// account it belongs to must not be created. The id of a deleted account is refused.
    pub fn insert(&self, keys: &[(SealedKey, u32)]) -> Result<()> {
        {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            for (key, key_id) in keys {
                let destroyed: bool = tx
                    .prepare_cached(
                        "SELECT count(*) > 0 FROM destroyed_keys WHERE account_id = ?1",
                    )?
                    .query_row([key.account.0], |r| r.get(0))?;
                if destroyed {
                    return Err(Error::Internal(anyhow::anyhow!(
                        "the account id {} belonged to a deleted account and is not given out again",
                        key.account.0
                    )));
                }
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO data_keys (account_id, key_id, master_key_id, sealed, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    key.account.0,
                    key_id,
                    key.master_key_id,
                    key.sealed,
                    super::now_ms()
                ])?;
            }
            tx.commit()?;
        }
        self.update_mirrors()
    }

    /// Destroys an account's key here, then in the mirrors. Failing to reach a mirror is logged, not returned:
    /// the key is already gone from the keystore, and the mirror is brought up to date at its next update
    /// (the next change or start).
    pub fn destroy(&self, account: AccountId) -> Result<()> {
        {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            tx.execute("DELETE FROM data_keys WHERE account_id = ?1", [account.0])?;
            tx.execute(
                "INSERT OR IGNORE INTO destroyed_keys (account_id, destroyed_at) VALUES (?1, ?2)",
                params![account.0, super::now_ms()],
            )?;
            tx.commit()?;
        }
        if let Err(e) = self.update_mirrors() {
            tracing::error!(error = %e, account = account.0, "a keystore mirror still holds the key of a deleted account");
        }
        Ok(())
    }

    /// One key sealed with the given master key, if any is.
    pub fn first_sealed_with(&self, master_key_id: u32) -> Result<Option<SealedKey>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT account_id, sealed FROM data_keys WHERE master_key_id = ?1 LIMIT 1",
                [master_key_id],
                |r| {
                    Ok(SealedKey {
                        account: AccountId(r.get(0)?),
                        master_key_id,
                        sealed: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Keys not sealed with the given master key (for a rotation), at most `limit`.
    pub fn sealed_with_other_than(
        &self,
        master_key_id: u32,
        limit: usize,
    ) -> Result<Vec<SealedKey>> {
        Ok(self
            .conn()
            .prepare(
                "SELECT account_id, master_key_id, sealed FROM data_keys WHERE master_key_id != ?1
                 ORDER BY account_id LIMIT ?2",
            )?
            .query_map(params![master_key_id, limit as i64], |r| {
                Ok(SealedKey {
                    account: AccountId(r.get(0)?),
                    master_key_id: r.get(1)?,
                    sealed: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Replaces the sealed form of existing keys (a rotation), in one transaction, then the mirrors.
    pub fn reseal(&self, keys: &[SealedKey]) -> Result<()> {
        {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            for key in keys {
                tx.prepare_cached(
                    "UPDATE data_keys SET sealed = ?2, master_key_id = ?3 WHERE account_id = ?1",
                )?
                .execute(params![key.account.0, key.sealed, key.master_key_id])?;
            }
            tx.commit()?;
        }
        self.update_mirrors()
    }

    /// Records that a rotation replaced this master key (after its keys are resealed with the new one).
    pub fn retire_master(&self, key_id: u32) -> Result<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO retired_master_keys (key_id, retired_at) VALUES (?1, ?2)",
            params![key_id, super::now_ms()],
        )?;
        self.update_mirrors()
    }

    /// Whether a rotation replaced this master key: a database naming it was backed up before the rotation.
    pub fn is_retired_master(&self, key_id: u32) -> Result<bool> {
        Ok(self.conn().query_row(
            "SELECT count(*) FROM retired_master_keys WHERE key_id = ?1",
            [key_id],
            |r| r.get::<_, i64>(0),
        )? > 0)
    }

    /// Makes every mirror an exact copy of the keystore (keys deleted here are deleted there), each in one
    /// transaction so a mirror is never half written. The first mirror that cannot be written is the error.
    pub fn update_mirrors(&self) -> Result<()> {
        let source = self.conn();
        let mut first_error = None;
        for mirror in &self.files.mirrors {
            if let Err(e) = copy_to(&source, mirror) {
                tracing::error!(mirror = %mirror.display(), error = %e, "cannot update a keystore mirror");
                first_error.get_or_insert(failed(mirror, "cannot update this mirror", e));
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn ids(conn: &Connection, sql: &str) -> rusqlite::Result<BTreeSet<i64>> {
    conn.prepare(sql)?.query_map([], |r| r.get(0))?.collect()
}

/// What a keystore (or a mirror) holds, apart from its connection.
#[derive(Debug, Default, PartialEq)]
pub struct Known {
    /// Account id → the sealed data key.
    pub keys: BTreeMap<i64, Vec<u8>>,
    /// Accounts whose key was destroyed.
    pub destroyed: BTreeSet<i64>,
    /// Master keys a rotation replaced.
    pub retired_masters: BTreeSet<u32>,
}

impl Known {
    /// Reads a keystore file without creating or changing it.
    pub fn read_file(path: &Path) -> rusqlite::Result<Known> {
        Known::read(&Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?)
    }

    fn read(conn: &Connection) -> rusqlite::Result<Known> {
        let rows = |sql: &str| ids(conn, sql);
        Ok(Known {
            keys: conn
                .prepare("SELECT account_id, sealed FROM data_keys")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?,
            destroyed: rows("SELECT account_id FROM destroyed_keys")?,
            retired_masters: rows("SELECT key_id FROM retired_master_keys")?
                .into_iter()
                .map(|id| id as u32)
                .collect(),
        })
    }

    /// The highest account id it ever held a key of.
    pub fn highest_account(&self) -> Option<AccountId> {
        self.keys
            .keys()
            .chain(&self.destroyed)
            .max()
            .copied()
            .map(AccountId)
    }

    pub fn knows_nothing(&self) -> bool {
        self.keys.is_empty() && self.destroyed.is_empty()
    }

    /// Accounts whose state `self` has and `other` has not reached yet: a key `other` never held, or a
    /// deletion of a key `other` still holds.
    pub fn ahead_of(&self, other: &Known) -> Vec<i64> {
        let new_keys = self
            .keys
            .keys()
            .filter(|a| !other.keys.contains_key(a) && !other.destroyed.contains(a));
        let new_deletions = self.destroyed.iter().filter(|a| other.keys.contains_key(a));
        new_keys.chain(new_deletions).copied().collect()
    }
}

/// How a mirror stands against the keystore: what `whatsapi doctor` and the operators' health page say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorState {
    UpToDate,
    /// Not there yet, in a directory that is: the next start writes it.
    NotYet,
    /// Its directory does not exist: the server will not start.
    NoDirectory,
    /// Empty, its first copy cut off: the next start writes it.
    Empty,
    /// Behind the keystore: the next start brings it up to date.
    Behind,
    /// A newer key or deletion for these accounts than the keystore: the keystore is an older copy, and
    /// the server will not start.
    Ahead(Vec<i64>),
    /// It cannot be read: the server will not start until it can.
    Unreadable(String),
}

impl MirrorState {
    /// Whether the server refuses to start with the mirror so.
    pub fn fails(&self) -> bool {
        matches!(
            self,
            MirrorState::NoDirectory | MirrorState::Ahead(_) | MirrorState::Unreadable(_)
        )
    }
}

/// A mirror is the keystore's copy: behind it is fine (the next start brings it up to date), ahead of it
/// means the keystore is an older copy.
pub fn mirror_state(mirror: &Path, keystore: &Known) -> MirrorState {
    if !mirror.exists() {
        return match mirror.parent().is_some_and(Path::is_dir) {
            true => MirrorState::NotYet,
            false => MirrorState::NoDirectory,
        };
    }
    if mirror.metadata().is_ok_and(|m| m.len() == 0) {
        return MirrorState::Empty;
    }
    match Known::read_file(mirror) {
        Ok(copy) if &copy == keystore => MirrorState::UpToDate,
        Ok(copy) => match copy.ahead_of(keystore) {
            ahead if ahead.is_empty() => MirrorState::Behind,
            ahead => MirrorState::Ahead(ahead),
        },
        Err(e) => MirrorState::Unreadable(e.to_string()),
    }
}

fn copy_to(source: &Connection, mirror: &Path) -> anyhow::Result<()> {
    create_private_file(mirror)?;
    let mut target = connect(mirror, false)?;
    Backup::new(source, &mut target)?.run_to_completion(
        i32::MAX,
        Duration::from_millis(10),
        None,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn key(account: i64, sealed: &[u8]) -> (SealedKey, u32) {
        (
            SealedKey {
                account: AccountId(account),
                master_key_id: 7,
                sealed: sealed.to_vec(),
            },
            1,
        )
    }

    fn holds(path: &Path, needle: &[u8]) -> bool {
        std::fs::read(path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
    }

    #[test]
    fn mirrors_follow_every_change_and_deleted_keys_leave_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = KeystoreFiles {
            path: dir.path().join("master.keystore"),
            mirrors: vec![dir.path().join("mirror.keystore")],
        };
        let keystore = Keystore::open(&files).unwrap();
        assert!(keystore.created());
        keystore.update_mirrors().unwrap();
        let (alpha, beta) = (
            b"alpha-sealed-key-bytes".as_slice(),
            b"beta-sealed-key-bytes".as_slice(),
        );
        keystore.insert(&[key(1, alpha), key(2, beta)]).unwrap();
        for file in [&files.path, &files.mirrors[0]] {
            assert!(holds(file, alpha) && holds(file, beta));
            let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }

        keystore.destroy(AccountId(1)).unwrap();
        for file in [&files.path, &files.mirrors[0]] {
            assert!(
                !holds(file, alpha),
                "{} still holds the key",
                file.display()
            );
            assert!(holds(file, beta));
        }
        drop(keystore);

        // The mirror alone opens as a keystore with the same keys.
        let from_mirror = Keystore::open(&KeystoreFiles {
            path: files.mirrors[0].clone(),
            mirrors: Vec::new(),
        })
        .unwrap();
        assert!(!from_mirror.created());
        assert_eq!(
            from_mirror.known().unwrap().keys,
            BTreeMap::from([(2, beta.to_vec())])
        );
        assert_eq!(from_mirror.get(AccountId(2)).unwrap().unwrap().sealed, beta);
    }

    #[test]
    fn a_mirror_that_cannot_be_written_refuses_a_new_key_but_not_a_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = KeystoreFiles::beside(&dir.path().join("master.key"));
        assert_eq!(files.path, dir.path().join("master.keystore"));
        let keystore = Keystore::open(&files).unwrap();
        keystore.insert(&[key(1, b"one")]).unwrap();
        drop(keystore);

        files.mirrors = vec![dir.path().join("missing-disk/mirror.keystore")];
        let keystore = Keystore::open(&files).unwrap();
        let err = keystore.update_mirrors().unwrap_err();
        assert!(format!("{err:?}").contains("missing-disk"), "{err:?}");
        let err = keystore.insert(&[key(2, b"two")]).unwrap_err();
        assert!(format!("{err:?}").contains("missing-disk"), "{err:?}");
        keystore.destroy(AccountId(1)).unwrap();
        assert!(keystore.get(AccountId(1)).unwrap().is_none());
    }

    #[test]
    fn an_older_copy_is_refused_by_its_mirror_and_an_empty_mirror_is_only_behind() {
        let dir = tempfile::tempdir().unwrap();
        let files = KeystoreFiles {
            path: dir.path().join("master.keystore"),
            mirrors: vec![dir.path().join("mirror.keystore")],
        };
        // A first copy to the mirror cut off after its file was made.
        std::fs::write(&files.mirrors[0], b"").unwrap();
        let keystore = Keystore::open(&files).unwrap();
        keystore.check_mirrors().unwrap();
        keystore.insert(&[key(1, b"one")]).unwrap();
        let older = dir.path().join("older.keystore");
        std::fs::copy(&files.path, &older).unwrap();
        keystore.insert(&[key(2, b"two")]).unwrap();
        keystore.destroy(AccountId(1)).unwrap();
        keystore.check_mirrors().unwrap();
        assert!(
            keystore.insert(&[key(1, b"again")]).is_err(),
            "a deleted id came back"
        );
        assert_eq!(
            keystore.known().unwrap().highest_account(),
            Some(AccountId(2))
        );
        drop(keystore);

        std::fs::copy(&older, &files.path).unwrap();
        let err = Keystore::open(&files).unwrap().check_mirrors().unwrap_err();
        assert!(format!("{err:?}").contains("accounts [2, 1]"), "{err:?}");
    }
}
