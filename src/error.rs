//! One error type for the whole server, mapped to an HTTP status and a stable snake_case code.
//! API callers get `{"error": {"code", "message", "details"}}`; people get a page.

use rocket::http::Status;
use serde_json::{Value, json};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error code the server answers with, in one table: its HTTP status, the message sent when the
/// server refuses a request by itself (an unknown path, a body it cannot read) rather than with an
/// `Error` of its own, whose message says more, and what the API's documentation says of it (its
/// meaning, an example message). Clients branch on these codes, so none is ever renamed; the OpenAPI
/// document and the API reference page are made from this table, and the README's API section documents
/// each code (a test keeps the two in step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidField,
    InvalidJson,
    BadRequest,
    UnprocessableEntity,
    Unauthorized,
    ApiKeyInvalid,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    IdempotencyKeyReused,
    RecipientOptedOut,
    RateLimited,
    QuotaExceeded,
    SubscriptionInactive,
    PlanLimit,
    PlanFeature,
    AccountSuspended,
    SendingHeld,
    InternalError,
    DatabaseError,
    EncryptionError,
    Unavailable,
    StoreUnavailable,
    Overloaded,
    StorageFull,
    StorageFailing,
}

impl Code {
    pub const ALL: [Code; 29] = [
        Code::InvalidField,
        Code::InvalidJson,
        Code::BadRequest,
        Code::UnprocessableEntity,
        Code::Unauthorized,
        Code::ApiKeyInvalid,
        Code::Forbidden,
        Code::NotFound,
        Code::MethodNotAllowed,
        Code::Conflict,
        Code::PayloadTooLarge,
        Code::UnsupportedMediaType,
        Code::IdempotencyKeyReused,
        Code::RecipientOptedOut,
        Code::RateLimited,
        Code::QuotaExceeded,
        Code::SubscriptionInactive,
        Code::PlanLimit,
        Code::PlanFeature,
        Code::AccountSuspended,
        Code::SendingHeld,
        Code::InternalError,
        Code::DatabaseError,
        Code::EncryptionError,
        Code::Unavailable,
        Code::StoreUnavailable,
        Code::Overloaded,
        Code::StorageFull,
        Code::StorageFailing,
    ];

    /// The code's row of the table.
    const fn row(self) -> Row {
        match self {
            Code::InvalidField => Row {
                code: "invalid_field",
                status: Status::BadRequest,
                message: "A field is missing or invalid.",
                meaning: "A field, query parameter or header is missing or wrong; `details.field` names it.",
                example: "is required",
            },
            Code::InvalidJson => Row {
                code: "invalid_json",
                status: Status::BadRequest,
                message: "The request body is not valid JSON.",
                meaning: "The body is not JSON (syntax, encoding, empty); `details` has the line and column.",
                example: "the request body is not valid JSON: expected value (line 1, column 2)",
            },
            Code::BadRequest => Row {
                code: "bad_request",
                status: Status::BadRequest,
                message: "The request could not be understood.",
                meaning: "The request could not be understood.",
                example: "The request could not be understood.",
            },
            Code::UnprocessableEntity => Row {
                code: "unprocessable_entity",
                status: Status::UnprocessableEntity,
                message: "The request body could not be read.",
                meaning: "The body could not be read.",
                example: "The request body could not be read.",
            },
            Code::Unauthorized => Row {
                code: "unauthorized",
                status: Status::Unauthorized,
                message: "Authentication is required.",
                meaning: "No API key, or not a live one: send `Authorization: Bearer wapi_...`.",
                example: "authentication required",
            },
            Code::ApiKeyInvalid => Row {
                code: "api_key_invalid",
                status: Status::Unauthorized,
                message: "The API key is not valid.",
                meaning: "Reserved for a key that was given but is unknown, malformed or revoked; today such a key is answered with `unauthorized`.",
                example: "The API key is not valid.",
            },
            Code::Forbidden => Row {
                code: "forbidden",
                status: Status::Forbidden,
                message: "You are not allowed to do this.",
                meaning: "The key may not do this.",
                example: "you are not allowed to do this",
            },
            Code::NotFound => Row {
                code: "not_found",
                status: Status::NotFound,
                message: "There is nothing here.",
                meaning: "No such object in this account (or past retention), or no such route.",
                example: "not found",
            },
            Code::MethodNotAllowed => Row {
                code: "method_not_allowed",
                status: Status::MethodNotAllowed,
                message: "This method is not allowed here.",
                meaning: "Reserved: a method a path does not take is answered 404, as for no such route.",
                example: "This method is not allowed here.",
            },
            Code::Conflict => Row {
                code: "conflict",
                status: Status::Conflict,
                message: "This conflicts with something that already exists.",
                meaning: "The request conflicts with the object's state.",
                example: "the request conflicts with the current state",
            },
            Code::PayloadTooLarge => Row {
                code: "payload_too_large",
                status: Status::PayloadTooLarge,
                message: "The request body is too large.",
                meaning: "The body is over the size limit; `details.limit_bytes` says it.",
                example: "the request body is larger than 1048576 bytes",
            },
            Code::UnsupportedMediaType => Row {
                code: "unsupported_media_type",
                status: Status::UnsupportedMediaType,
                message: "The request body has an unsupported content type.",
                meaning: "The body is not sent as `Content-Type: application/json` (UTF-8).",
                example: "send the request body as JSON, with the header Content-Type: application/json",
            },
            Code::IdempotencyKeyReused => Row {
                code: "idempotency_key_reused",
                status: Status::UnprocessableEntity,
                message: "This Idempotency-Key was already used for a different message.",
                meaning: "The Idempotency-Key answered a different message; `details.message_id` is that message.",
                example: "this Idempotency-Key was already used for a different message (another body or connection_id); send a different message with a new key, or repeat the first request exactly to get its answer",
            },
            Code::RecipientOptedOut => Row {
                code: "recipient_opted_out",
                status: Status::UnprocessableEntity,
                message: "The recipient asked for no more messages from this number.",
                meaning: "The customer opted out of messages from this connection's number (they wrote one of the opt-out words, such as STOP, or a person of the account opted them out on their contact page): nothing is sent to them from it, templates included, until they opt back in. `details.field` is `to`, `details.opted_out_at` since when.",
                example: "the customer asked for no more messages from this number (opted out); nothing was queued; send to them again only once they opt back in (they write START, or a person opts them in on the Contacts page)",
            },
            Code::RateLimited => Row {
                code: "rate_limited",
                status: Status::TooManyRequests,
                message: "Too many requests; try again later.",
                meaning: "The account's plan allows this many API requests a minute, all keys together; try again after `Retry-After` seconds. Every answer's `RateLimit` and `RateLimit-Policy` headers say what is left.",
                example: "the plan allows 600 API requests a minute; try again after 1 s (Retry-After)",
            },
            Code::QuotaExceeded => Row {
                code: "quota_exceeded",
                status: Status::PaymentRequired,
                message: "The account's plan allows no more of this now.",
                meaning: "The month's messages of the account's plan are used; nothing was saved. `details.limit` is the quota, `details.resets_at` when the count starts again (the first of next month, UTC).",
                example: "the plan's 10000 messages this month are used; the count starts again on 2027-01-01 00:00 UTC (or choose a larger plan)",
            },
            Code::SubscriptionInactive => Row {
                code: "subscription_inactive",
                status: Status::PaymentRequired,
                message: "The account's subscription does not allow sending.",
                meaning: "The subscription is canceled, or past due beyond its grace period: nothing is sent until it is paid or reactivated. `details.status` is the subscription's status; the data stays.",
                example: "the subscription is past_due and its grace period is over, so nothing is sent; pay on the Billing page to send again",
            },
            Code::PlanLimit => Row {
                code: "plan_limit",
                status: Status::Forbidden,
                message: "The account's plan allows no more of these.",
                meaning: "The account already has as many as its plan allows (`details.limit` names which: connections, members, webhook_endpoints; `details.allowed` the number).",
                example: "the plan allows 2 connections; remove one or choose a larger plan",
            },
            Code::PlanFeature => Row {
                code: "plan_feature",
                status: Status::Forbidden,
                message: "The account's plan does not include this.",
                meaning: "The account's plan does not include this part of the product (`details.feature`: api, inbox or webhooks).",
                example: "the plan does not include webhooks; choose a plan that does on the Billing page",
            },
            Code::AccountSuspended => Row {
                code: "account_suspended",
                status: Status::Forbidden,
                message: "The account is suspended.",
                meaning: "The operator of this service suspended the account: its keys, pages and sending are stopped until they reactivate it. The data stays.",
                example: "the account is suspended by the operator of this service; contact them to have it reactivated",
            },
            Code::SendingHeld => Row {
                code: "sending_held",
                status: Status::Forbidden,
                message: "The account's sending is held.",
                meaning: "The operator of this service held the account's sending: nothing new is accepted and queued messages wait (none is lost) until they release it. Everything else works.",
                example: "the account's sending is held by the operator of this service; queued messages wait and go out once they release it; contact them",
            },
            Code::InternalError => Row {
                code: "internal_error",
                status: Status::InternalServerError,
                message: "Something went wrong on our side.",
                meaning: "Something went wrong on the server; it is logged.",
                example: "internal error",
            },
            Code::DatabaseError => Row {
                code: "database_error",
                status: Status::InternalServerError,
                message: "Something went wrong on our side.",
                meaning: "The database failed; nothing was saved.",
                example: "database error",
            },
            Code::EncryptionError => Row {
                code: "encryption_error",
                status: Status::InternalServerError,
                message: "Something went wrong on our side.",
                meaning: "Data could not be sealed or opened.",
                example: "encryption error",
            },
            Code::Unavailable => Row {
                code: "unavailable",
                status: Status::ServiceUnavailable,
                message: "The service is unavailable for a moment.",
                meaning: "A service the request needs is not available.",
                example: "the service is not available",
            },
            Code::StoreUnavailable => Row {
                code: "store_unavailable",
                status: Status::ServiceUnavailable,
                message: "The data store is closed.",
                meaning: "The data store is closed (the server is stopping).",
                example: "the data store is closed",
            },
            Code::Overloaded => Row {
                code: "overloaded",
                status: Status::ServiceUnavailable,
                message: "The server is busy writing; try again in a moment.",
                meaning: "The server is busy writing; try again after `Retry-After` seconds.",
                example: "the server is busy writing; try again in a moment",
            },
            Code::StorageFull => Row {
                code: "storage_full",
                status: Status::ServiceUnavailable,
                message: "The server's disk is full; try again later.",
                meaning: "The server's disk is full; nothing was saved. Try again after `Retry-After`.",
                example: "the server's disk is full, so nothing was saved; try again later",
            },
            Code::StorageFailing => Row {
                code: "storage_failing",
                status: Status::ServiceUnavailable,
                message: "The server cannot write its data right now; try again later.",
                meaning: "The server cannot write its data; nothing was saved. Try again after `Retry-After`.",
                example: "the server cannot write its data right now, so nothing was saved; try again later",
            },
        }
    }

    pub const fn as_str(self) -> &'static str {
        self.row().code
    }

    pub const fn status(self) -> Status {
        self.row().status
    }

    /// What the server says with this code when the refusal is its own and no `Error` says more.
    pub const fn message(self) -> &'static str {
        self.row().message
    }

    /// What the code means and what the answer's `details` hold, in English, for the API's documentation
    /// (the OpenAPI document and the reference page, which has it in every language).
    pub const fn meaning(self) -> &'static str {
        self.row().meaning
    }

    /// A `message` the server answers with this code, for the documentation's examples: the error's own
    /// message where it is fixed, else a typical one.
    pub const fn example(self) -> &'static str {
        self.row().example
    }

    /// The code of a refusal Rocket makes by itself (no route, a guard's or a body's refusal), by status.
    /// Each status has one; a status nothing here answers with is a plain bad request or internal error.
    pub fn of_status(status: Status) -> Code {
        match status.code {
            400 => Code::BadRequest,
            401 => Code::Unauthorized,
            403 => Code::Forbidden,
            404 => Code::NotFound,
            405 => Code::MethodNotAllowed,
            409 => Code::Conflict,
            413 => Code::PayloadTooLarge,
            415 => Code::UnsupportedMediaType,
            422 => Code::UnprocessableEntity,
            429 => Code::RateLimited,
            503 => Code::Unavailable,
            code if code < 500 => Code::BadRequest,
            _ => Code::InternalError,
        }
    }
}

/// One row of the table of codes.
struct Row {
    code: &'static str,
    status: Status,
    message: &'static str,
    meaning: &'static str,
    example: &'static str,
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    /// The customer opted out of messages from the connection's number (since `opted_out_at`).
    #[error(
        "the customer asked for no more messages from this number (opted out); nothing was queued; send to them again only once they opt back in (they write START, or a person opts them in on the Contacts page)"
    )]
    RecipientOptedOut { opted_out_at: i64 },
    #[error(
        "the plan allows {limit} API requests a minute; try again after {retry_after} s (Retry-After)"
    )]
    RateLimited { limit: u32, retry_after: u64 },
    #[error(
        "the plan's {limit} messages this month are used; the count starts again on {} (or choose a larger plan)",
        utc_minute(*resets_at)
    )]
    QuotaExceeded { limit: u64, resets_at: i64 },
    #[error(
        "the subscription is {status}{}, so nothing is sent; pay on the Billing page to send again",
        if *status == "past_due" { " and its grace period is over" } else { "" }
    )]
    SubscriptionInactive { status: &'static str },
    #[error("the plan allows {allowed} {}; remove one or choose a larger plan", limit.replace('_', " "))]
    PlanLimit {
        limit: &'static str,
        allowed: u32,
        plan: String,
    },
    #[error("the plan does not include {feature}; choose a plan that does on the Billing page")]
    PlanFeature { feature: &'static str, plan: String },
    #[error(
        "the account is suspended by the operator of this service; contact them to have it reactivated"
    )]
    AccountSuspended,
    #[error(
        "the account's sending is held by the operator of this service; queued messages wait and go out once they release it; contact them"
    )]
    SendingHeld,
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
        self.code().status()
    }

    /// The error's code in the one table (`Code`); its status comes with it.
    pub fn code(&self) -> Code {
        match self {
            Error::Invalid { .. } => Code::InvalidField,
            Error::BadRequest(_) => Code::BadRequest,
            Error::InvalidJson { .. } => Code::InvalidJson,
            Error::UnsupportedMediaType => Code::UnsupportedMediaType,
            Error::PayloadTooLarge { .. } => Code::PayloadTooLarge,
            Error::Unauthorized => Code::Unauthorized,
            Error::Forbidden => Code::Forbidden,
            Error::NotFound => Code::NotFound,
            Error::Conflict(_) => Code::Conflict,
            Error::Unavailable(_) => Code::Unavailable,
            Error::IdempotencyKeyReused { .. } => Code::IdempotencyKeyReused,
            Error::RecipientOptedOut { .. } => Code::RecipientOptedOut,
            Error::RateLimited { .. } => Code::RateLimited,
            Error::QuotaExceeded { .. } => Code::QuotaExceeded,
            Error::SubscriptionInactive { .. } => Code::SubscriptionInactive,
            Error::PlanLimit { .. } => Code::PlanLimit,
            Error::PlanFeature { .. } => Code::PlanFeature,
            Error::AccountSuspended => Code::AccountSuspended,
            Error::SendingHeld => Code::SendingHeld,
            Error::StoreClosed => Code::StoreUnavailable,
            Error::Overloaded => Code::Overloaded,
            Error::StorageFull => Code::StorageFull,
            Error::StorageFailing => Code::StorageFailing,
            Error::Db(_) | Error::CommitFailed(_) => Code::DatabaseError,
            Error::Crypto(_) => Code::EncryptionError,
            Error::Internal(_) => Code::InternalError,
        }
    }

    /// What the answer says besides the code and message (the field of an `invalid_field`, ...).
    pub fn details(&self) -> Value {
        match self {
            Error::Invalid { field, .. } => json!({ "field": field }),
            Error::IdempotencyKeyReused { message_id } => json!({ "message_id": message_id }),
            Error::RecipientOptedOut { opted_out_at } => {
                json!({ "field": "to", "opted_out_at": rfc3339(*opted_out_at) })
            }
            Error::InvalidJson { line, column, .. } => json!({ "line": line, "column": column }),
            Error::UnsupportedMediaType => json!({ "expected": "application/json" }),
            Error::PayloadTooLarge { limit } => json!({ "limit_bytes": limit }),
            Error::RateLimited { limit, retry_after } => {
                json!({ "limit": limit, "window_secs": 60, "retry_after": retry_after })
            }
            Error::QuotaExceeded { limit, resets_at } => {
                json!({ "limit": limit, "resets_at": rfc3339(*resets_at) })
            }
            Error::SubscriptionInactive { status } => json!({ "status": status }),
            Error::PlanLimit {
                limit,
                allowed,
                plan,
            } => json!({ "limit": limit, "allowed": allowed, "plan": plan }),
            Error::PlanFeature { feature, plan } => json!({ "feature": feature, "plan": plan }),
            _ => Value::Null,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({ "error": { "code": self.code().as_str(), "message": self.to_string(), "details": self.details() } })
    }
}

impl Error {
    /// Seconds after which the same request may succeed, for `Retry-After`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::Overloaded => Some(1),
            Error::RateLimited { retry_after, .. } => Some((*retry_after).max(1)),
            Error::StorageFull | Error::StorageFailing => Some(60),
            _ => None,
        }
    }
}

/// "2027-01-01 00:00 UTC", for messages.
pub fn utc_minute(at_ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

/// "2027-01-01T00:00:00Z", for the answers' details.
fn rfc3339(at_ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_each_is_documented_in_the_readme() {
        let readme = include_str!("../README.md");
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "{name} twice");
            assert!(
                !name.is_empty()
                    && name.starts_with(|c: char| c.is_ascii_lowercase())
                    && !name.ends_with('_')
                    && !name.contains("__")
                    && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name} is not snake_case"
            );
            let row = format!("| {} | `{name}` |", code.status().code);
            assert!(
                readme.contains(&row),
                "the README's API section has no row {row}"
            );
        }
    }

    #[test]
    fn every_error_and_every_refusal_of_rockets_own_has_a_code_of_the_table() {
        for status in [
            400, 401, 403, 404, 405, 409, 413, 415, 418, 422, 429, 500, 502, 503,
        ] {
            let code = Code::of_status(Status::new(status));
            assert!(Code::ALL.contains(&code));
            if ![418, 502].contains(&status) {
                assert_eq!(code.status().code, status, "{code}");
            }
        }
        assert_eq!(Error::invalid("to", "x").code(), Code::InvalidField);
        assert_eq!(Error::Overloaded.status(), Status::ServiceUnavailable);
    }
}
