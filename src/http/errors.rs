//! How an error is answered over HTTP: JSON `{"error": {"code", "message", "details"}}` for the API (and
//! the health check), a page in the visitor's language for people. Errors themselves and their codes are
//! `crate::error`; the catchers use the same answer, so every error looks alike.

use crate::error::{Code, Error};
use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use serde_json::{Value, json};
use std::io::Cursor;

/// True for requests that should be answered in JSON rather than with a page.
pub fn wants_json(req: &Request<'_>) -> bool {
    is_api(req) || req.uri().path() == "/healthz"
}

/// True for requests to the developer API.
fn is_api(req: &Request<'_>) -> bool {
    let path = req.uri().path();
    path == "/api" || path.starts_with("/api/")
}

impl<'r> Responder<'r, 'static> for Error {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        if self.status().code >= 500 && self.retry_after().is_none() {
            // The Debug form names the cause for the operator; the client only sees the generic message.
            tracing::error!(method = %req.method(), path = %req.uri().path(), error = ?self, "request failed");
        }
        Refusal::of(&self).respond_to(req)
    }
}

/// What an error answer says: everything of an `Error` that reaches the client.
struct Refusal {
    status: Status,
    code: Code,
    message: String,
    details: Value,
    retry_after: Option<u64>,
}

impl Refusal {
    fn of(error: &Error) -> Refusal {
        Refusal {
            status: error.status(),
            code: error.code(),
            message: error.to_string(),
            details: error.details(),
            retry_after: error.retry_after(),
        }
    }
}

impl<'r> Responder<'r, 'static> for Refusal {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let mut response =
            error_response(req, self.status, self.code, &self.message, self.details)?;
        if let Some(seconds) = self.retry_after {
            response.set_raw_header("Retry-After", seconds.to_string());
        }
        Ok(response)
    }
}

/// The answer of an error a request guard refused with, kept for the catcher: Rocket hands a catcher
/// only the status, and a refusal such as `rate_limited` or `plan_feature` has more to say (its message,
/// its details, `Retry-After`).
#[derive(Default)]
pub struct GuardRefusal(parking_lot::Mutex<Option<Refusal>>);

/// Refuses the request from a guard with this error, answered in full by the catcher.
pub fn refuse<T>(req: &Request<'_>, error: Error) -> rocket::request::Outcome<T, Error> {
    *req.local_cache(GuardRefusal::default).0.lock() = Some(Refusal::of(&error));
    rocket::request::Outcome::Error((error.status(), error))
}

/// The answer to a guard's refusal of this request, if a guard refused it with `refuse`.
pub fn guard_refusal<'r>(req: &Request<'_>) -> Option<impl Responder<'r, 'static> + use<'r>> {
    req.local_cache(GuardRefusal::default).0.lock().take()
}

/// Set by the API's key guard when the request carried a bearer token that is not a live key, so the 401
/// says so (RFC 6750 `error="invalid_token"`); a request with no token gets the bare challenge.
#[derive(Debug, Clone, Copy, Default)]
pub struct BearerTokenRejected(pub bool);

/// The `WWW-Authenticate` challenge of a 401 from the API (RFC 9110 section 11.6.1, RFC 6750).
fn bearer_challenge(req: &Request<'_>) -> &'static str {
    if req.local_cache(BearerTokenRejected::default).0 {
        r#"Bearer error="invalid_token""#
    } else {
        "Bearer"
    }
}

/// Builds the JSON or HTML body for an error; the catchers use it too, so every error looks alike.
pub fn error_response(
    req: &Request<'_>,
    status: Status,
    code: Code,
    message: &str,
    details: Value,
) -> response::Result<'static> {
    let (content_type, body) = if wants_json(req) {
        let body =
            json!({ "error": { "code": code.as_str(), "message": message, "details": details } });
        (ContentType::JSON, body.to_string())
    } else {
        (
            ContentType::HTML,
            super::web::error_page(req, status, message),
        )
    };
    let mut response = Response::build();
    response
        .status(status)
        .header(content_type)
        .sized_body(body.len(), Cursor::new(body));
    if status == Status::Unauthorized && is_api(req) {
        response.raw_header("WWW-Authenticate", bearer_challenge(req));
    }
    response.ok()
}
