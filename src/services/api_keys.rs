//! API keys as requests present them: which live key a bearer token is and the account it acts for,
//! with the keys checked in the last seconds and their last use kept in memory.

use crate::error::Result;
use crate::store::api_keys::{self, ApiKeyId};
use crate::store::{AccountId, Db, now_ms};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Proof that the request carries a live API key, and the account it acts for.
#[derive(Debug, Clone, Copy)]
pub struct ApiAuth {
    pub key: ApiKeyId,
    pub account: AccountId,
}

/// How long a checked key is trusted without asking the database again.
const KEY_TRUSTED_FOR: Duration = Duration::from_secs(5);

/// API keys in memory: when each was last used (written every few seconds: a write per request would cost
/// more than the request), and keys checked in the last seconds (a lookup per request would too). A key
/// revoked here is forgotten at once; one revoked by another process within `KEY_TRUSTED_FOR`.
#[derive(Default)]
pub struct KeysUsed {
    used: Mutex<HashMap<ApiKeyId, i64>>,
    checked: Mutex<HashMap<Vec<u8>, (ApiAuth, Instant)>>,
    /// The addresses each key was used from today, for the abuse job.
    pub addresses: crate::services::abuse::KeyAddresses,
}

impl KeysUsed {
    /// The live key a bearer token is, or `None` for a token that is no live key.
    pub async fn authenticate(&self, db: &Db, token: &str) -> Result<Option<ApiAuth>> {
        if !api_keys::looks_valid(token) {
            return Ok(None);
        }
        let fingerprint = api_keys::fingerprint(token);
        if let Some(auth) = self.recent(&fingerprint) {
            return Ok(Some(auth));
        }
        let token = token.to_owned();
        let found = db
            .read_async(move |conn| api_keys::authenticate(conn, &token))
            .await?;
        Ok(found.map(|(key, account)| {
            let auth = ApiAuth { key, account };
            self.remember(fingerprint, auth);
            auth
        }))
    }

    fn recent(&self, fingerprint: &[u8]) -> Option<ApiAuth> {
        let found = self.checked.lock().get(fingerprint).copied();
        let (auth, _) = found.filter(|(_, at)| at.elapsed() < KEY_TRUSTED_FOR)?;
        self.used.lock().insert(auth.key, now_ms());
        Some(auth)
    }

    fn remember(&self, fingerprint: Vec<u8>, auth: ApiAuth) {
        let mut checked = self.checked.lock();
        if checked.len() > 10_000 {
            checked.retain(|_, (_, at)| at.elapsed() < KEY_TRUSTED_FOR);
        }
        checked.insert(fingerprint, (auth, Instant::now()));
        self.used.lock().insert(auth.key, now_ms());
    }

    /// Stops trusting a revoked key at once.
    pub fn forget(&self, key: ApiKeyId) {
        self.checked.lock().retain(|_, (auth, _)| auth.key != key);
    }

    /// Writes what was gathered since the last flush.
    pub fn flush(&self, db: &Db) {
        let used: Vec<(ApiKeyId, i64)> = self.used.lock().drain().collect();
        if !used.is_empty() {
            let _ = db.submit(move |conn| api_keys::record_last_used(conn, &used));
        }
    }
}
