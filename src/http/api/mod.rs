//! The developer API under /api/v1: JSON in, JSON out, `Authorization: Bearer wapi_...`.

pub mod body;
mod connections;
mod contacts;
mod context;
mod conversations;
mod endpoints;
mod examples;
mod limits;
mod messages;
pub mod openapi;
mod query;
pub mod requests;
pub mod schema;
mod usage;

pub use context::ApiCtx;
pub use limits::RateLimitHeaders;

use crate::config::Config;
use crate::error::Error;
use crate::http::errors::BearerTokenRejected;
pub use crate::services::api_keys::{ApiAuth, KeysUsed};
use crate::store::retention::Visible;
use crate::store::{Db, now_ms};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};

pub fn routes() -> Vec<rocket::Route> {
    let mut all = connections::routes();
    all.extend(messages::routes());
    all.extend(endpoints::routes());
    all.extend(conversations::routes());
    all.extend(contacts::routes());
    all.extend(usage::routes());
    all.extend(openapi::routes());
    all
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
        let Some(key) = presented else {
            return refused();
        };
        let (Some(db), Some(keys)) = (
            req.rocket().state::<Db>(),
            req.rocket().state::<std::sync::Arc<KeysUsed>>(),
        ) else {
            return Outcome::Error((Status::ServiceUnavailable, Error::StoreClosed));
        };
        let authenticated = keys.authenticate(db, key).await;
        if let Ok(Some(auth)) = &authenticated {
            crate::http::metrics::mark_account(req, auth.account);
            if let Ok(address) = crate::http::auth::ClientInfo::of(req).ip.parse() {
                keys.addresses
                    .seen(auth.account, auth.key, address, now_ms());
            }
        }
        match authenticated {
            Ok(Some(auth)) => match limits::admit(req, db, auth).await {
                Ok(()) => Outcome::Success(auth),
                Err(e) => crate::http::errors::refuse(req, e),
            },
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
