//! `GET /metrics` for Prometheus, and the fairing that times every request for it.
//!
//! With `[metrics] token` set, a scrape must carry `Authorization: Bearer <token>`; without one, only a
//! client on this machine (loopback) is served. The client is the one `auth::client` works out, so a
//! request a trusted reverse proxy forwards for someone elsewhere is refused even though its peer is
//! local. Refusals are the server's JSON errors.

use crate::config::Config;
use crate::error::Error;
use crate::http::auth::client::ClientInfo;
use crate::metrics::{self, Present};
use crate::services::meta_events::{IngestError, Ingested};
use crate::store::{AccountId, Db, messages};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Header, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Responder, Response};
use rocket::{Data, State, get, routes};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Cursor;
use std::net::IpAddr;
use std::time::Instant;

pub fn routes() -> Vec<rocket::Route> {
    routes![scrape]
}

/// The `Authorization` header as sent, if any.
struct Authorization(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Authorization {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(Authorization(
            req.headers().get_one("Authorization").map(str::to_owned),
        ))
    }
}

#[get("/metrics")]
async fn scrape(
    authorization: Authorization,
    client: ClientInfo,
    config: &State<Config>,
    db: &State<Db>,
) -> Result<Exposition, Refused> {
    admit(config.metrics.token(), authorization.0.as_deref(), &client)?;
    let (queued, sending) = db
        .read_async(messages::outbox_depth)
        .await
        .map_err(Refused)?;
    let text = metrics::render(Present {
        queued,
        sending,
        writer_queue: db.writer_stats().queue_length(),
    });
    Ok(Exposition(text))
}

/// Whether this request may read the metrics.
fn admit(
    token: Option<&str>,
    authorization: Option<&str>,
    client: &ClientInfo,
) -> Result<(), Refused> {
    match token {
        Some(token) => {
            let given = authorization.and_then(bearer).unwrap_or_default();
            // Compared as digests, so neither the contents nor the length of the token leak by timing.
            let matches = crate::crypto::constant_time_eq(
                &Sha256::digest(given.as_bytes()),
                &Sha256::digest(token.as_bytes()),
            );
            if matches {
                Ok(())
            } else {
                Err(Refused(Error::Unauthorized))
            }
        }
        None if is_loopback(&client.ip) => Ok(()),
        None => Err(Refused(Error::Forbidden)),
    }
}

fn is_loopback(ip: &str) -> bool {
    ip.parse::<IpAddr>()
        .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// The token of `Bearer <token>` (the scheme in any case).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("Bearer") && !token.is_empty()).then_some(token)
}

/// The metrics in the text exposition format.
struct Exposition(String);

impl<'r> Responder<'r, 'static> for Exposition {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Response::build()
            .header(
                ContentType::new("application", "openmetrics-text")
                    .with_params([("version", "1.0.0"), ("charset", "utf-8")]),
            )
            .header(Header::new("Cache-Control", "no-store"))
            .sized_body(self.0.len(), Cursor::new(self.0))
            .ok()
    }
}

/// A refused scrape, answered with the server's JSON error (and the Bearer challenge on a 401).
#[derive(Debug)]
struct Refused(Error);

impl<'r> Responder<'r, 'static> for Refused {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let error = self.0;
        let body = json!({"error": {
            "code": error.code().as_str(),
            "message": error.to_string(),
            "details": error.details(),
        }})
        .to_string();
        let status = error.status();
        let mut response = Response::build();
        response
            .status(status)
            .header(ContentType::JSON)
            .sized_body(body.len(), Cursor::new(body));
        if status == Status::Unauthorized {
            response.raw_header("WWW-Authenticate", "Bearer");
        }
        response.ok()
    }
}

/// Counts a webhook POST from Meta by what became of it, and what a stored one carried.
pub fn meta_webhook(result: &Result<Ingested, IngestError>) {
    let (outcome, statuses, inbound) = match result {
        Ok(ingested) => ("stored", ingested.statuses, ingested.inbound),
        Err(refused) => {
            let outcome = match refused {
                IngestError::UnknownKey => "unknown_key",
                IngestError::Signature => "bad_signature",
                IngestError::Malformed(_) => "malformed",
                IngestError::Foreign(_) => "foreign_number",
                IngestError::Store(_) => "not_stored",
            };
            (outcome, 0, 0)
        }
    };
    metrics::meta_webhook(outcome, statuses, inbound);
}

/// The account an API request acted for, set by the API key's guard, for the `account` label.
#[derive(Default)]
struct RequestAccount(Option<i64>);

/// Notes the account an authenticated API request acts for (used only with `[metrics] per_account`).
pub fn mark_account(req: &Request<'_>, account: AccountId) {
    req.local_cache(|| RequestAccount(Some(account.get())));
}

/// When the request arrived.
struct Arrived(Instant);

/// Counts and times every request by its route's template (`/api/v1/messages/<id>`; "unmatched" when no
/// route took it), never by the path a client sent, which may carry ids or anything else.
pub struct RequestMetrics;

#[rocket::async_trait]
impl Fairing for RequestMetrics {
    fn info(&self) -> Info {
        Info {
            name: "request metrics",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        req.local_cache(|| Arrived(Instant::now()));
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let elapsed = req.local_cache(|| Arrived(Instant::now())).0.elapsed();
        let route = req.route().map_or("unmatched", |r| r.uri.path());
        let account = req.local_cache(RequestAccount::default).0;
        metrics::http_request(
            req.method().as_str(),
            route,
            res.status().code,
            account,
            elapsed,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(ip: &str) -> ClientInfo {
        ClientInfo {
            ip: ip.into(),
            user_agent: String::new(),
        }
    }

    #[test]
    fn without_a_token_only_loopback_clients_are_served() {
        for ip in ["127.0.0.1", "127.8.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(admit(None, None, &from(ip)).is_ok(), "{ip}");
        }
        for ip in ["203.0.113.9", "10.0.0.1", "unknown", ""] {
            let refused = admit(None, None, &from(ip)).unwrap_err();
            assert_eq!(refused.0.status(), Status::Forbidden, "{ip}");
        }
    }

    #[test]
    fn with_a_token_the_token_decides_wherever_the_client_is() {
        let token = Some("0123456789abcdef-token");
        let remote = from("203.0.113.9");
        assert!(admit(token, Some("Bearer 0123456789abcdef-token"), &remote).is_ok());
        assert!(admit(token, Some("bearer  0123456789abcdef-token "), &remote).is_ok());
        for wrong in [
            None,
            Some("Bearer 0123456789abcdef-tokex"),
            Some("Bearer 0123456789abcdef-token2"),
            Some("Basic 0123456789abcdef-token"),
            Some("0123456789abcdef-token"),
            Some("Bearer "),
        ] {
            let refused = admit(token, wrong, &from("127.0.0.1")).unwrap_err();
            assert_eq!(refused.0.status(), Status::Unauthorized, "{wrong:?}");
        }
    }
}
