//! The developer API under /api/v1: JSON in, JSON out, `Authorization: Bearer wapi_...`.

pub mod body;
pub(crate) mod connections;
pub(crate) mod contacts;
pub(crate) mod conversations;
pub(crate) mod endpoints;
pub(crate) mod messages;
pub mod pager;
mod query;
pub mod requests;

use crate::config::Config;
use crate::error::{BearerTokenRejected, Error};
use crate::store::api_keys::{self, ApiKeyId};
use crate::store::retention::Visible;
use crate::store::{AccountId, Db, now_ms};
use parking_lot::Mutex;
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub fn routes() -> Vec<rocket::Route> {
    let mut all = connections::routes();
    all.extend(messages::routes());
    all.extend(endpoints::routes());
    all.extend(conversations::routes());
    all.extend(contacts::routes());
    all
}

/// Proof that the request carries a live API key, and the account it acts for.
#[derive(Debug, Clone, Copy)]
pub struct ApiAuth {
    pub key: ApiKeyId,
    pub account: AccountId,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ApiAuth {
    type Error = Error;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Error> {
        let presented = req
            .headers()
            .get_one("Authorization")
            .and_then(bearer_token);
        let refused = || {
            // A token that was given but is no live key is said to be invalid (RFC 6750); none at all
            // gets the bare challenge.
            req.local_cache(|| BearerTokenRejected(presented.is_some()));
            Outcome::Error((Status::Unauthorized, Error::Unauthorized))
        };
        let Some(key) = presented
            .filter(|k| api_keys::looks_valid(k))
            .map(str::to_owned)
        else {
            return refused();
        };
        let Some(db) = req.rocket().state::<Db>() else {
            return Outcome::Error((Status::ServiceUnavailable, Error::StoreClosed));
        };
        let book = req.rocket().state::<std::sync::Arc<KeysUsed>>();
        let fingerprint = api_keys::fingerprint(&key);
        if let Some(auth) = book.and_then(|b| b.recent(&fingerprint)) {
            return Outcome::Success(auth);
        }
        match db
            .read_async(move |conn| api_keys::authenticate(conn, &key))
            .await
        {
            Ok(Some((key, account))) => {
                let auth = ApiAuth { key, account };
                if let Some(book) = book {
                    book.remember(fingerprint, auth);
                }
                Outcome::Success(auth)
            }
            Ok(None) => refused(),
            Err(e) => Outcome::Error((Status::InternalServerError, e)),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header. The scheme's name is case-insensitive
/// (RFC 9110 section 11.1), so `bearer` and `BEARER` are the same; spaces may be more than one.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("Bearer") && !token.is_empty()).then_some(token)
}

/// Where the visible message history starts for this request: messages past `retention.message_days`
/// are hidden from every page and API answer at once, before the retention job deletes them.
#[rocket::async_trait]
impl<'r> FromRequest<'r> for Visible {
    type Error = Error;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Error> {
        match req.rocket().state::<Config>() {
            Some(config) => {
                Outcome::Success(Visible::days(config.retention.message_days, now_ms()))
            }
            None => Outcome::Error((
                Status::InternalServerError,
                Error::Internal(anyhow::anyhow!("the configuration is not loaded")),
            )),
        }
    }
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
}

impl KeysUsed {
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

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        for header in [
            "Bearer wapi_x",
            "bearer wapi_x",
            "BEARER  wapi_x",
            "bEaReR\twapi_x ",
        ] {
            assert_eq!(bearer_token(header), Some("wapi_x"), "{header}");
        }
        for header in ["Basic wapi_x", "Bearer", "Bearer   ", "Bearerwapi_x", ""] {
            assert_eq!(bearer_token(header), None, "{header}");
        }
    }
}
