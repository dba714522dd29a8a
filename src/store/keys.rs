//! Account data keys, sealed with the master key, and the check that the key file belongs to this database.

use super::{AccountId, OpenError};
use crate::crypto::{Aad, CryptoError, Header, Key};
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

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

/// Holds the master key and caches unsealed data keys.
pub struct Keyring {
    master: Key,
    cache: RwLock<HashMap<AccountId, Arc<Key>>>,
}

impl Keyring {
    pub fn new(master: Key) -> Keyring {
        Keyring {
            master,
            cache: RwLock::new(HashMap::new()),
        }
    }

    pub fn master_id(&self) -> u32 {
        self.master.id()
    }

    /// The account's data key. Only keys read outside a transaction are cached: a key read inside one
    /// might belong to an account whose creation is rolled back.
    pub fn data_key(&self, conn: &Connection, account: AccountId) -> Result<Arc<Key>> {
        if let Some(key) = self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&account)
        {
            return Ok(key.clone());
        }
        let sealed: Option<Vec<u8>> = conn
            .query_row(
                "SELECT sealed FROM data_keys WHERE account_id = ?1",
                [account.0],
                |r| r.get(0),
            )
            .optional()?;
        let sealed = sealed.ok_or(Error::NotFound)?;
        let key = Arc::new(unseal_data_key(&self.master, account, &sealed)?);
        if conn.is_autocommit() {
            self.cache
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(account, key.clone());
        }
        Ok(key)
    }

    pub fn create_data_key(&self, conn: &Connection, account: AccountId) -> Result<()> {
        let key = Key::generate()?;
        conn.execute(
            "INSERT INTO data_keys (account_id, key_id, master_key_id, sealed, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![account.0, key.id(), self.master.id(), seal_data_key(&self.master, account, &key)?, super::now_ms()],
        )?;
        Ok(())
    }

    pub fn forget(&self, account: AccountId) {
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&account);
    }

    /// Seals a field value of an account at the given place.
    pub fn seal(&self, conn: &Connection, aad: &Aad<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        Ok(self
            .data_key(conn, AccountId(aad.account))?
            .seal(aad, plaintext)?)
    }

    pub fn open(
        &self,
        conn: &Connection,
        aad: &Aad<'_>,
        envelope: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        Ok(self
            .data_key(conn, AccountId(aad.account))?
            .open(aad, envelope)?)
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

pub(crate) fn write_master_check(conn: &Connection, master: &Key) -> Result<()> {
    let check = master.seal(&check_aad(), CHECK_PLAINTEXT)?;
    conn.execute(
        "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![MASTER_CHECK, check],
    )?;
    Ok(())
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

/// Refuses a key file that is not this database's, and a database left in the middle of a rotation.
/// A new database is sealed with the given key.
pub fn check_master_key(conn: &Connection, master: &Key, path: &Path) -> Result<(), OpenError> {
    let sqlite = |source| OpenError::Sqlite {
        path: path.display().to_string(),
        source,
    };
    if rotation_pending(conn).map_err(sqlite)? {
        return Err(OpenError::RotationPending);
    }
    match setting(conn, MASTER_CHECK).map_err(sqlite)? {
        None => write_master_check(conn, master).map_err(|e| OpenError::Prepare {
            path: path.display().to_string(),
            message: format!("{e:?}"),
        }),
        Some(check) => {
            let expected = Header::parse(&check).map(|h| h.key_id).unwrap_or(0);
            if master.open(&check_aad(), &check).is_ok() {
                Ok(())
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

impl Keyring {
    /// A keyed hash of a phone number (E.164 digits) within an account: numbers can be looked up without
    /// being stored in the clear.
    pub fn phone_index(&self, account: AccountId, digits: &str) -> Vec<u8> {
        use hmac::{KeyInit, Mac};
        let key = self.derive(b"recipient index");
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length works");
        mac.update(&account.0.to_be_bytes());
        mac.update(digits.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A secret for another purpose (such as signing cookies), derived from the master key so there is
    /// only one secret to keep.
    pub fn derive(&self, purpose: &[u8]) -> [u8; 32] {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.master.expose())
            .expect("any key length works");
        mac.update(b"whatsapi/derive/");
        mac.update(purpose);
        mac.finalize().into_bytes().into()
    }
}
