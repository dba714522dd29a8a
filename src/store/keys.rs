//! Account data keys, sealed with the master key, and the check that the key file belongs to this database.

use super::keystore::{Keystore, Known, SealedKey};
use super::{AccountId, OpenError};
use crate::crypto::{Aad, CryptoError, Header, Key};
use crate::error::{Error, Result};
use hmac::{Hmac, KeyInit, Mac};
use parking_lot::RwLock;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::Sha256;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

const MASTER_CHECK: &str = "master_key_check";
pub(crate) const ROTATION_TARGET: &str = "master_key_rotation";
const CHECK_PLAINTEXT: &[u8] = b"whatsapi master key check";

fn check_aad() -> Aad<'static> {
    Aad {
        account: 0,
        table: "settings",
        column: MASTER_CHECK,
        row: 0,
    }
}

fn data_key_aad(account: AccountId) -> Aad<'static> {
    Aad {
        account: account.0,
        table: "data_keys",
        column: "sealed",
        row: account.0,
    }
}

/// Holds the master key and the keystore, and caches unsealed data keys.
pub struct Keyring {
    master: Key,
    keystore: Keystore,
    cache: RwLock<HashMap<AccountId, Arc<Key>>>,
    /// Held while the installation's key is made, so two first uses cannot make two.
    making_installation_key: parking_lot::Mutex<()>,
}

/// The data key of the installation itself, under an id no account has (accounts start at 1): it seals
/// what belongs to no account, such as an operator's phone number and authenticator secret. In the
/// keystore like every data key, so a master key rotation reseals it with the others.
pub const INSTALLATION: AccountId = AccountId(0);

impl Keyring {
    pub fn new(master: Key, keystore: Keystore) -> Keyring {
        Keyring {
            master,
            keystore,
            cache: RwLock::new(HashMap::new()),
            making_installation_key: parking_lot::Mutex::new(()),
        }
    }

    pub fn master_id(&self) -> u32 {
        self.master.id()
    }

    pub fn keystore(&self) -> &Keystore {
        &self.keystore
    }

    /// The account's data key; `NotFound` when the account has none (never had, or it was destroyed).
    pub fn data_key(&self, account: AccountId) -> Result<Arc<Key>> {
        if let Some(key) = self.cache.read().get(&account) {
            return Ok(key.clone());
        }
        let sealed = self.keystore.get(account)?.ok_or(Error::NotFound)?;
        let key = Arc::new(unseal_data_key(&self.master, account, &sealed.sealed)?);
        self.cache.write().insert(account, key.clone());
        Ok(key)
    }

    /// The account's data key, or `None` when it was destroyed (or never made).
    pub fn kept_data_key(&self, account: AccountId) -> Result<Option<Arc<Key>>> {
        match self.data_key(account) {
            Ok(key) => Ok(Some(key)),
            Err(Error::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the account has a data key (none when it was destroyed, or never made).
    pub fn has_data_key(&self, account: AccountId) -> Result<bool> {
        Ok(self.kept_data_key(account)?.is_some())
    }

    /// Makes the account's data key; it is in the keystore and its mirrors when this returns. Called in the
    /// transaction that creates the account: if that rolls back, the key is left without an account, and
    /// replaced when the id is given out again.
    pub fn create_data_key(&self, account: AccountId) -> Result<()> {
        let key = Key::generate()?;
        let sealed = SealedKey {
            account,
            master_key_id: self.master.id(),
            sealed: seal_data_key(&self.master, account, &key)?,
        };
        self.keystore.insert(&[(sealed, key.id())])?;
        self.forget(account);
        Ok(())
    }

    /// The data key that seals what belongs to `account`, or to the installation when `None`; the
    /// installation's is made at its first use.
    pub fn key_of(&self, account: Option<AccountId>) -> Result<Arc<Key>> {
        let Some(account) = account else {
            if let Some(key) = self.kept_data_key(INSTALLATION)? {
                return Ok(key);
            }
            let _making = self.making_installation_key.lock();
            if self.kept_data_key(INSTALLATION)?.is_none() {
                self.create_data_key(INSTALLATION)?;
            }
            return self.data_key(INSTALLATION);
        };
        self.data_key(account)
    }

    /// Destroys the account's data key: what is sealed for it, wherever a copy of it lies, is unreadable.
    pub fn destroy_data_key(&self, account: AccountId) -> Result<()> {
        self.keystore.destroy(account)?;
        self.forget(account);
        Ok(())
    }

    /// Seals a field value of an account at the given place.
    pub fn seal(&self, aad: &Aad<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        Ok(self
            .data_key(AccountId(aad.account))?
            .seal(aad, plaintext)?)
    }

    pub fn open(&self, aad: &Aad<'_>, envelope: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        Ok(self.data_key(AccountId(aad.account))?.open(aad, envelope)?)
    }

    pub fn forget(&self, account: AccountId) {
        self.cache.write().remove(&account);
    }

    /// Forgets the cached keys the keystore destroyed since they were cached: by another process, such as
    /// `whatsapi account delete` next to a running server. Returns how many.
    pub fn forget_destroyed(&self) -> Result<usize> {
        let destroyed = self.keystore.destroyed()?;
        let mut cache = self.cache.write();
        let before = cache.len();
        cache.retain(|account, _| !destroyed.contains(&account.0));
        Ok(before - cache.len())
    }
}

/// The data key's id travels inside the sealed value, so it is authenticated along with the key.
pub(crate) fn seal_data_key(
    master: &Key,
    account: AccountId,
    key: &Key,
) -> Result<Vec<u8>, CryptoError> {
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(36));
    plain.extend_from_slice(&key.id().to_be_bytes());
    plain.extend_from_slice(key.expose());
    master.seal(&data_key_aad(account), &plain)
}

pub(crate) fn unseal_data_key(
    master: &Key,
    account: AccountId,
    sealed: &[u8],
) -> Result<Key, CryptoError> {
    let plain = master.open(&data_key_aad(account), sealed)?;
    if plain.len() != 36 {
        return Err(CryptoError::Malformed);
    }
    let id = u32::from_be_bytes([plain[0], plain[1], plain[2], plain[3]]);
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&plain[4..]);
    Ok(Key::from_parts(id, bytes))
}

pub(crate) fn setting(conn: &Connection, name: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()
}

pub(crate) fn set_setting(conn: &Connection, name: &str, value: &[u8]) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO settings (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![name, value],
    )?;
    Ok(())
}

pub(crate) fn write_master_check(conn: &Connection, master: &Key) -> Result<()> {
    let check = master.seal(&check_aad(), CHECK_PLAINTEXT)?;
    Ok(set_setting(conn, MASTER_CHECK, &check)?)
}

/// Whether a `whatsapi keys rotate` was interrupted and must be run again.
pub fn rotation_pending(conn: &Connection) -> rusqlite::Result<bool> {
    Ok(setting(conn, ROTATION_TARGET)?.is_some())
}

/// Which master key sealed this database, if it has one yet.
pub fn database_master_key_id(conn: &Connection) -> rusqlite::Result<Option<u32>> {
    Ok(setting(conn, MASTER_CHECK)?
        .and_then(|check| Header::parse(&check).ok())
        .map(|h| h.key_id))
}

/// Whether `master` opens this database's check value.
pub(crate) fn master_matches(conn: &Connection, master: &Key) -> rusqlite::Result<bool> {
    Ok(match setting(conn, MASTER_CHECK)? {
        Some(check) => master.open(&check_aad(), &check).is_ok(),
        None => false,
    })
}

/// Refuses a key file that is not this database's. A new database is sealed with the given key. A database
/// sealed with a master key that a rotation has since replaced (a backup made before the rotation, restored)
/// is taken over by the current key: it holds nothing else sealed with the master key, its data keys being
/// in the keystore.
pub fn check_master_key(
    conn: &Connection,
    master: &Key,
    keystore: &Keystore,
    path: &Path,
) -> Result<(), OpenError> {
    let sqlite = |source| OpenError::Sqlite {
        path: path.display().to_string(),
        source,
    };
    let prepare = |e: Error| OpenError::Prepare {
        path: path.display().to_string(),
        message: e.detail(),
    };
    match setting(conn, MASTER_CHECK).map_err(sqlite)? {
        None => write_master_check(conn, master).map_err(prepare),
        Some(check) => {
            let expected = Header::parse(&check).map(|h| h.key_id).unwrap_or(0);
            if master.open(&check_aad(), &check).is_ok() {
                Ok(())
            } else if keystore.is_retired_master(expected).map_err(prepare)? {
                tracing::info!(
                    "this database was sealed with the master key {expected:08x}, which a rotation replaced \
                     (a backup made before it); it now uses the key {:08x}",
                    master.id()
                );
                write_master_check(conn, master).map_err(prepare)
            } else {
                Err(OpenError::WrongKey {
                    path: path.display().to_string(),
                    expected,
                    found: master.id(),
                })
            }
        }
    }
}

/// Why a keystore cannot be used with this database.
fn keystore_refused(keystore: &Keystore, message: String) -> OpenError {
    OpenError::Keystore {
        path: keystore.files().path.display().to_string(),
        message,
    }
}

/// Makes the keystore this database's: refuses a keystore that cannot be this database's (sealed with
/// another master key; empty while the database has accounts), moves the data keys out of a database that
/// still holds them (made before the keystore existed), and keeps account ids from being handed out again.
pub fn attach_keystore(
    conn: &Connection,
    master: &Key,
    keystore: &Keystore,
) -> Result<(), OpenError> {
    let sqlite = |e: rusqlite::Error| keystore_refused(keystore, e.to_string());
    let internal = |e: Error| OpenError::keystore(&keystore.files().path, &e);
    let known = keystore.known().map_err(internal)?;
    // Checked before anything is moved or dropped: a keystore sealed with another master key is another
    // installation's.
    if !known.keys.is_empty() {
        let key = keystore.first_sealed_with(master.id()).map_err(internal)?;
        if key.is_none_or(|key| unseal_data_key(master, key.account, &key.sealed).is_err()) {
            return Err(keystore_refused(
                keystore,
                format!(
                    "its data keys do not open with the master key {:08x}: it belongs to another installation",
                    master.id()
                ),
            ));
        }
    }
    let knows_nothing = known.knows_nothing();
    let in_database: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'data_keys'",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite)?;
    if in_database {
        // Only into a keystore that never held a key: a backup from before the keystore, restored later,
        // must not bring back the keys of accounts deleted since.
        if knows_nothing {
            move_keys_out(conn, keystore)?;
        }
        // With secure_delete the dropped table's pages are overwritten; the maintenance job returns them.
        conn.execute_batch("DROP TABLE data_keys; PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(sqlite)?;
    } else if knows_nothing {
        let accounts: i64 = conn
            .query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))
            .map_err(sqlite)?;
        if accounts > 0 {
            let state = if keystore.created() {
                "it does not exist"
            } else {
                "it is empty"
            };
            return Err(keystore_refused(
                keystore,
                format!(
                    "{state}, but the database has {accounts} account(s) whose data keys are in it; \
                     restore it (or a mirror of it) there, or point storage.keystore at it"
                ),
            ));
        }
    }
    let keyless = accounts_without_key(conn, &known).map_err(sqlite)?;
    if !keyless.is_empty() {
        tracing::warn!(
            accounts = ?keyless.iter().map(|a| a.0).collect::<Vec<_>>(),
            "these accounts have no data key: they were deleted after this copy of the database was made, and \
             what they hold cannot be read; `whatsapi account delete --account ID` removes their rows"
        );
    }
    keep_account_ids_unique(conn, &known).map_err(sqlite)
}

fn move_keys_out(conn: &Connection, keystore: &Keystore) -> Result<(), OpenError> {
    let rows: Vec<(SealedKey, u32)> = conn
        .prepare("SELECT account_id, master_key_id, sealed, key_id FROM data_keys")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| {
                Ok((
                    SealedKey {
                        account: AccountId(r.get(0)?),
                        master_key_id: r.get(1)?,
                        sealed: r.get(2)?,
                    },
                    r.get(3)?,
                ))
            })?
            .collect()
        })
        .map_err(|e| keystore_refused(keystore, e.to_string()))?;
    keystore
        .insert(&rows)
        .map_err(|e| OpenError::keystore(&keystore.files().path, &e))?;
    if !rows.is_empty() {
        tracing::info!(keys = rows.len(), keystore = %keystore.files().path.display(), "moved the data keys out of the database into the keystore");
    }
    Ok(())
}

/// Raises the accounts' id counter above every account the keystore ever held a key of. A restored backup's
/// counter is behind: a new account would take the id (and the keystore entry) of one created after the
/// backup was made.
fn keep_account_ids_unique(conn: &Connection, keystore: &Known) -> rusqlite::Result<()> {
    if let Some(highest) = keystore.highest_account() {
        conn.execute(
            "INSERT INTO sqlite_sequence (name, seq)
             SELECT 'accounts', ?1 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'accounts')",
            [highest.0],
        )?;
        conn.execute(
            "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'accounts' AND seq < ?1",
            [highest.0],
        )?;
    }
    Ok(())
}

/// Accounts of the database whose data key is not in the keystore: deleted after this copy of the database
/// was made (or while their deletion was interrupted). What they hold that is sealed cannot be read.
pub fn accounts_without_key(
    conn: &Connection,
    keystore: &Known,
) -> rusqlite::Result<Vec<AccountId>> {
    let accounts: Vec<AccountId> = conn
        .prepare("SELECT id FROM accounts ORDER BY id")?
        .query_map([], |r| r.get(0).map(AccountId))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(accounts
        .into_iter()
        .filter(|a| !keystore.keys.contains_key(&a.0))
        .collect())
}

impl Keyring {
    /// A keyed hash of a phone number (E.164 digits) within an account: numbers can be looked up without
    /// being stored in the clear. Keyed by the account's data key, so destroying that key also takes away
    /// any way of testing guessed numbers against an old backup, and a master key rotation changes nothing.
    pub fn phone_index(&self, account: AccountId, digits: &str) -> Result<Vec<u8>> {
        Ok(phone_index_with(&*self.data_key(account)?, digits))
    }

    /// The blind index as it was before it was keyed by the data key, for moving old rows to the new one.
    pub(crate) fn master_phone_index(&self, account: AccountId, digits: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.derive(b"recipient index"))
            .expect("any key length works");
        mac.update(&account.0.to_be_bytes());
        mac.update(digits.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A secret for another purpose (such as signing cookies), derived from the master key so there is
    /// only one secret to keep.
    pub fn derive(&self, purpose: &[u8]) -> [u8; 32] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.master.expose()).expect("any key length works");
        mac.update(b"whatsapi/derive/");
        mac.update(purpose);
        mac.finalize().into_bytes().into()
    }
}

/// The blind index of a number under an account's data key (a subkey of it, kept apart from sealing).
pub fn phone_index_with(data_key: &Key, digits: &str) -> Vec<u8> {
    let mut subkey =
        Hmac::<Sha256>::new_from_slice(data_key.expose()).expect("any key length works");
    subkey.update(b"whatsapi/recipient index");
    let mut mac = Hmac::<Sha256>::new_from_slice(&subkey.finalize().into_bytes())
        .expect("any key length works");
    mac.update(digits.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keystore::KeystoreFiles;

    #[test]
    fn keys_destroyed_by_another_process_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let files = KeystoreFiles::beside(&dir.path().join("master.key"));
        let keyring = Keyring::new(Key::master([7; 32]), Keystore::open(&files).unwrap());
        keyring.create_data_key(AccountId(1)).unwrap();
        keyring.create_data_key(AccountId(2)).unwrap();
        keyring.data_key(AccountId(1)).unwrap();
        keyring.data_key(AccountId(2)).unwrap();

        // `whatsapi account delete` in another process, with a keystore handle of its own.
        Keystore::open(&files)
            .unwrap()
            .destroy(AccountId(1))
            .unwrap();
        assert!(keyring.data_key(AccountId(1)).is_ok(), "still cached");
        assert_eq!(keyring.forget_destroyed().unwrap(), 1);
        assert!(matches!(
            keyring.data_key(AccountId(1)),
            Err(Error::NotFound)
        ));
        assert!(keyring.data_key(AccountId(2)).is_ok());
    }
}
