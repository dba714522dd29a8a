//! One error type for the whole server, mapped to an HTTP status and a stable snake_case code.
//! API callers get `{"error": {"code", "message", "details"}}`; people get a page.

use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use serde_json::{Value, json};
use std::io::Cursor;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    BadRequest(String),
    /// A request body that is not JSON at all (syntax, encoding, emptiness); `line` and `column` are 1-based.
    #[error("the request body is not valid JSON: {reason} (line {line}, column {column})")]
    InvalidJson {
        reason: String,
        line: usize,
        column: usize,
    },
    #[error("send the request body as JSON, with the header Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    #[error("authentication required")]
    Unauthorized,
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
    /// An Idempotency-Key already answered for another request body or connection.
    #[error(
        "this Idempotency-Key was already used for a different message (another body or connection_id); send a different message with a new key, or repeat the first request exactly to get its answer"
    )]
    IdempotencyKeyReused { message_id: Option<String> },
    #[error("the server is busy writing; try again in a moment")]
    Overloaded,
    #[error("the server's disk is full, so nothing was saved; try again later")]
    StorageFull,
    #[error("the server cannot write its data right now, so nothing was saved; try again later")]
    StorageFailing,
    #[error("the data store is closed")]
    StoreClosed,
    #[error("database error")]
    Db(#[from] rusqlite::Error),
    #[error("the transaction could not be committed")]
    CommitFailed(String),
    #[error("encryption error")]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The whole message with its causes, for operators (logs, the command line); never for clients.
    pub fn detail(&self) -> String {
        match self {
            Error::Internal(e) => format!("{e:#}"),
            Error::Db(e) => format!("database error: {e}"),
            e => e.to_string(),
        }
    }

    pub fn status(&self) -> Status {
        match self {
            Error::Invalid { .. } | Error::BadRequest(_) | Error::InvalidJson { .. } => {
                Status::BadRequest
            }
            Error::UnsupportedMediaType => Status::UnsupportedMediaType,
            Error::PayloadTooLarge { .. } => Status::PayloadTooLarge,
            Error::Unauthorized => Status::Unauthorized,
            Error::Forbidden => Status::Forbidden,
            Error::NotFound => Status::NotFound,
            Error::Conflict(_) => Status::Conflict,
            Error::Unavailable(_)
            | Error::StoreClosed
            | Error::Overloaded
            | Error::StorageFull
            | Error::StorageFailing => Status::ServiceUnavailable,
            Error::IdempotencyKeyReused { .. } => Status::UnprocessableEntity,
            Error::Db(_) | Error::CommitFailed(_) | Error::Crypto(_) | Error::Internal(_) => {
                Status::InternalServerError
            }
        }
    }

    /// Stable, documented codes: clients branch on these, so never rename one.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "invalid_field",
            Error::BadRequest(_) => "bad_request",
            Error::InvalidJson { .. } => "invalid_json",
            Error::UnsupportedMediaType => "unsupported_media_type",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::Unauthorized => "unauthorized",
            Error::Forbidden => "forbidden",
            Error::NotFound => "not_found",
            Error::Conflict(_) => "conflict",
            Error::Unavailable(_) => "unavailable",
            Error::IdempotencyKeyReused { .. } => "idempotency_key_reused",
            Error::StoreClosed => "store_unavailable",
            Error::Overloaded => "overloaded",
            Error::StorageFull => "storage_full",
            Error::StorageFailing => "storage_failing",
            Error::Db(_) | Error::CommitFailed(_) => "database_error",
            Error::Crypto(_) => "encryption_error",
            Error::Internal(_) => "internal_error",
        }
    }

    fn details(&self) -> Value {
        match self {
            Error::Invalid { field, .. } => json!({ "field": field }),
            Error::IdempotencyKeyReused { message_id } => json!({ "message_id": message_id }),
            Error::InvalidJson { line, column, .. } => json!({ "line": line, "column": column }),
            Error::UnsupportedMediaType => json!({ "expected": "application/json" }),
            Error::PayloadTooLarge { limit } => json!({ "limit_bytes": limit }),
            _ => Value::Null,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({ "error": { "code": self.code(), "message": self.to_string(), "details": self.details() } })
    }
}

/// True for requests that should be answered in JSON rather than with a page.
pub fn wants_json(req: &Request<'_>) -> bool {
    is_api(req) || req.uri().path() == "/healthz"
}

/// True for requests to the developer API.
fn is_api(req: &Request<'_>) -> bool {
    let path = req.uri().path();
    path == "/api" || path.starts_with("/api/")
}

impl Error {
    /// Seconds after which the same request may succeed, for `Retry-After`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::Overloaded => Some(1),
            Error::StorageFull | Error::StorageFailing => Some(60),
            _ => None,
        }
    }
}

impl<'r> Responder<'r, 'static> for Error {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let status = self.status();
        if status.code >= 500 && self.retry_after().is_none() {
            // The Debug form names the cause for the operator; the client only sees the generic message.
            tracing::error!(method = %req.method(), path = %req.uri().path(), error = ?self, "request failed");
        }
        let mut response =
            error_response(req, status, self.code(), &self.to_string(), self.details())?;
        if let Some(seconds) = self.retry_after() {
            response.set_raw_header("Retry-After", seconds.to_string());
        }
        Ok(response)
    }
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
    code: &str,
    message: &str,
    details: Value,
) -> response::Result<'static> {
    let (content_type, body) = if wants_json(req) {
        let body = json!({ "error": { "code": code, "message": message, "details": details } });
        (ContentType::JSON, body.to_string())
    } else {
        (
            ContentType::HTML,
            crate::http::web::error_page(req, status, message),
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
