//! API keys: `wapi_` and 48 hex characters, shown once. Only a SHA-256 of the key is stored (a key is
//! random, so a fast hash is enough; argon2 is for what people choose).

use super::AccountId;
use super::users::UserId;
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "wapi_";
const SECRET_HEX: usize = 48;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ApiKeyId(pub(in crate::store) i64);

impl ApiKeyId {
    /// The number, as stored and as shown.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The id a request, a form or a test names. It grants nothing: every store function that takes it
    /// also takes the account, and finds nothing of another account's.
    pub fn from_raw(id: i64) -> ApiKeyId {
        ApiKeyId(id)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub last4: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

fn hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// What identifies a key in memory: the same hash the database keeps, never the key itself.
pub fn fingerprint(key: &str) -> Vec<u8> {
    hash(key)
}

/// Whether `key` has the shape of one of ours (checked before touching the database).
pub fn looks_valid(key: &str) -> bool {
    key.strip_prefix(PREFIX)
        .is_some_and(|s| s.len() == SECRET_HEX && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Creates a key and returns it in full: the only time it exists outside the caller's hands.
pub fn create(
    conn: &Connection,
    account: AccountId,
    name: &str,
    created_by: Option<UserId>,
) -> Result<(ApiKeyId, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid(
            "name",
            "give the key a name (at most 100 characters)",
        ));
    }
    let key = format!(
        "{PREFIX}{}",
        hex::encode(crate::crypto::random_bytes::<24>()?)
    );
    conn.execute(
        "INSERT INTO api_keys (account_id, name, key_hash, last4, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![account.0, name, hash(&key), &key[key.len() - 4..], created_by.map(|u| u.0), super::now_ms()],
    )?;
    Ok((ApiKeyId(conn.last_insert_rowid()), key))
}

/// The account a live key belongs to. A suspended account's keys are still its keys: the API's door
/// refuses them with `account_suspended`, which says what to do (an account being deleted has its keys
/// revoked).
pub fn authenticate(conn: &Connection, key: &str) -> Result<Option<(ApiKeyId, AccountId)>> {
    if !looks_valid(key) {
        return Ok(None);
    }
    Ok(conn
        .query_row(
            "SELECT k.id, k.account_id FROM api_keys k WHERE k.key_hash = ?1 AND k.revoked_at IS NULL",
            [hash(key)],
            |r| Ok((ApiKeyId(r.get(0)?), AccountId(r.get(1)?))),
        )
        .optional()?)
}

pub fn list_for_account(conn: &Connection, account: AccountId) -> Result<Vec<ApiKey>> {
    let mut stmt = conn.prepare(
        "SELECT id, name, last4, created_at, last_used_at, revoked_at FROM api_keys WHERE account_id = ?1
         ORDER BY revoked_at IS NOT NULL, created_at DESC",
    )?;
    let rows = stmt.query_map([account.0], |r| {
        Ok(ApiKey {
            id: ApiKeyId(r.get(0)?),
            name: r.get(1)?,
            last4: r.get(2)?,
            created_at: r.get(3)?,
            last_used_at: r.get(4)?,
            revoked_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn revoke(conn: &Connection, account: AccountId, id: ApiKeyId) -> Result<()> {
    let changed = conn.execute(
        "UPDATE api_keys SET revoked_at = ?3 WHERE id = ?2 AND account_id = ?1 AND revoked_at IS NULL",
        params![account.0, id.0, super::now_ms()],
    )?;
    if changed == 0 {
        Err(Error::NotFound)
    } else {
        Ok(())
    }
}

/// Writes the last-used times gathered in memory (one write every few seconds, not one per request).
pub fn record_last_used(conn: &Connection, used: &[(ApiKeyId, i64)]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?2) WHERE id = ?1",
    )?;
    for (id, at) in used {
        stmt.execute(params![id.0, at])?;
    }
    Ok(())
}
