//! Every error answer of the API, `{"error": {"code", "message", "details"}}`, and the table of its codes
//! for the OpenAPI document: the codes `crate::error::Error::code` gives, and those of the catchers (a
//! request no route took). A unit test holds this table to the error type, so a new code cannot go
//! undocumented.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, PartialSchema, ToSchema};

/// An error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorObject {
    #[schema(value_type = ErrorCode)]
    pub code: String,
    /// For people; may change. Branch on `code`.
    pub message: String,
    /// More about the error, by code: `field` (invalid_field), `line` and `column` (invalid_json),
    /// `expected` (unsupported_media_type), `limit_bytes` (payload_too_large), `message_id`
    /// (idempotency_key_reused); null for the others.
    #[schema(value_type = Option<Object>)]
    pub details: Value,
}

/// One documented code: its HTTP status, what it means, and an example of its details.
pub struct Code {
    pub code: &'static str,
    pub status: u16,
    /// What the server says with it (its `message`), for the examples.
    pub message: &'static str,
    pub meaning: &'static str,
}

/// Every code, stable: clients branch on these.
pub const CODES: &[Code] = &[
    Code {
        code: "invalid_field",
        status: 400,
        message: "is required",
        meaning: "A field, query parameter or header is missing or wrong; `details.field` names it.",
    },
    Code {
        code: "invalid_json",
        status: 400,
        message: "the request body is not valid JSON: expected value (line 1, column 2)",
        meaning: "The body is not JSON (syntax, encoding, empty); `details` has the line and column.",
    },
    Code {
        code: "bad_request",
        status: 400,
        message: "The request could not be understood.",
        meaning: "The request could not be understood.",
    },
    Code {
        code: "unauthorized",
        status: 401,
        message: "authentication required",
        meaning: "No API key, or not a live one: send `Authorization: Bearer wapi_...`.",
    },
    Code {
        code: "forbidden",
        status: 403,
        message: "you are not allowed to do this",
        meaning: "The key may not do this.",
    },
    Code {
        code: "not_found",
        status: 404,
        message: "not found",
        meaning: "No such object in this account (or past retention), or no such route.",
    },
    Code {
        code: "method_not_allowed",
        status: 405,
        message: "This method is not allowed here.",
        meaning: "The route does not take this method.",
    },
    Code {
        code: "conflict",
        status: 409,
        message: "the request conflicts with the current state",
        meaning: "The request conflicts with the object's state.",
    },
    Code {
        code: "payload_too_large",
        status: 413,
        message: "the request body is larger than 1048576 bytes",
        meaning: "The body is over the size limit; `details.limit_bytes` says it.",
    },
    Code {
        code: "unsupported_media_type",
        status: 415,
        message: "send the request body as JSON, with the header Content-Type: application/json",
        meaning: "The body is not sent as `Content-Type: application/json` (UTF-8).",
    },
    Code {
        code: "idempotency_key_reused",
        status: 422,
        message: "this Idempotency-Key was already used for a different message (another body or connection_id); send a different message with a new key, or repeat the first request exactly to get its answer",
        meaning: "The Idempotency-Key answered a different message; `details.message_id` is that message.",
    },
    Code {
        code: "unprocessable_entity",
        status: 422,
        message: "The request body could not be read.",
        meaning: "The body could not be read.",
    },
    Code {
        code: "rate_limited",
        status: 429,
        message: "Too many requests; try again later.",
        meaning: "Too many requests; try again later.",
    },
    Code {
        code: "internal_error",
        status: 500,
        message: "internal error",
        meaning: "Something went wrong on the server; it is logged.",
    },
    Code {
        code: "database_error",
        status: 500,
        message: "database error",
        meaning: "The database failed; nothing was saved.",
    },
    Code {
        code: "encryption_error",
        status: 500,
        message: "encryption error",
        meaning: "Data could not be sealed or opened.",
    },
    Code {
        code: "unavailable",
        status: 503,
        message: "the service is not available",
        meaning: "A service the request needs is not available.",
    },
    Code {
        code: "store_unavailable",
        status: 503,
        message: "the data store is closed",
        meaning: "The data store is closed (the server is stopping).",
    },
    Code {
        code: "overloaded",
        status: 503,
        message: "the server is busy writing; try again in a moment",
        meaning: "The server is busy writing; try again after `Retry-After` seconds.",
    },
    Code {
        code: "storage_full",
        status: 503,
        message: "the server's disk is full, so nothing was saved; try again later",
        meaning: "The server's disk is full; nothing was saved. Try again after `Retry-After`.",
    },
    Code {
        code: "storage_failing",
        status: 503,
        message: "the server cannot write its data right now, so nothing was saved; try again later",
        meaning: "The server cannot write its data; nothing was saved. Try again after `Retry-After`.",
    },
    Code {
        code: "error",
        status: 0,
        message: "I'm a teapot",
        meaning: "Any other status no route answered (its reason phrase is the message).",
    },
];

/// The `code` of an error: one of [`CODES`], with the table in its description.
pub struct ErrorCode;

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        let mut table = String::from(
            "A stable code; clients branch on it.\n\n| code | status | meaning |\n|---|---|---|\n",
        );
        for c in CODES {
            let status = if c.status == 0 {
                "other".to_owned()
            } else {
                c.status.to_string()
            };
            table.push_str(&format!("| `{}` | {status} | {} |\n", c.code, c.meaning));
        }
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(CODES.iter().map(|c| c.code)))
            .description(Some(table))
            .into()
    }
}

impl ToSchema for ErrorCode {}

/// An example error answer with this code.
fn example(code: &Code) -> Value {
    let details = match code.code {
        "invalid_field" => serde_json::to_value(Field { field: "to" }),
        "invalid_json" => serde_json::to_value(Position { line: 1, column: 2 }),
        "unsupported_media_type" => serde_json::to_value(Expected {
            expected: "application/json",
        }),
        "payload_too_large" => serde_json::to_value(Limit {
            limit_bytes: 1_048_576,
        }),
        "idempotency_key_reused" => serde_json::to_value(Reused {
            message_id: "7392017443880812544",
        }),
        _ => Ok(Value::Null),
    };
    let body = ErrorBody {
        error: ErrorObject {
            code: code.code.to_owned(),
            message: code.message.to_owned(),
            details: details.unwrap_or(Value::Null),
        },
    };
    serde_json::to_value(body).unwrap_or(Value::Null)
}

#[derive(Serialize)]
struct Field {
    field: &'static str,
}
#[derive(Serialize)]
struct Position {
    line: usize,
    column: usize,
}
#[derive(Serialize)]
struct Expected {
    expected: &'static str,
}
#[derive(Serialize)]
struct Limit {
    limit_bytes: u64,
}
#[derive(Serialize)]
struct Reused {
    message_id: &'static str,
}

/// The error answers of a route: each status it can give, with an example of each code of that status.
fn responses(statuses: &[u16]) -> BTreeMap<String, RefOr<Response>> {
    statuses
        .iter()
        .map(|status| {
            let mut content =
                ContentBuilder::new().schema(Some(Ref::from_schema_name(ErrorBody::name())));
            let mut described = Vec::new();
            for code in CODES.iter().filter(|c| c.status == *status) {
                described.push(format!("`{}`: {}", code.code, code.meaning));
                content = content.examples_from_iter([(
                    code.code,
                    ExampleBuilder::new().value(Some(example(code))).build(),
                )]);
            }
            let response = ResponseBuilder::new()
                .description(described.join("\n\n"))
                .content("application/json", content.build())
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// The errors of a route that takes no body.
pub struct ReadErrors;
/// The errors of a route that takes a JSON body.
pub struct WriteErrors;
/// The errors of `POST /api/v1/messages`: a body, and the Idempotency-Key.
pub struct SendErrors;

impl IntoResponses for ReadErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[400, 401, 404, 500, 503])
    }
}

impl IntoResponses for WriteErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[400, 401, 404, 413, 415, 500, 503])
    }
}

impl IntoResponses for SendErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[400, 401, 413, 415, 422, 500, 503])
    }
}

#[cfg(test)]
mod tests {
    use super::CODES;
    use crate::error::Error;

    /// One error of each kind. The match has no catch-all: a new kind of error does not compile here
    /// until it is added, and so to the documented table.
    fn one_of_each() -> Vec<Error> {
        let sample = |e: &Error| match e {
            Error::Invalid { .. }
            | Error::BadRequest(_)
            | Error::InvalidJson { .. }
            | Error::UnsupportedMediaType
            | Error::PayloadTooLarge { .. }
            | Error::Unauthorized
            | Error::Forbidden
            | Error::NotFound
            | Error::Conflict(_)
            | Error::Unavailable(_)
            | Error::IdempotencyKeyReused { .. }
            | Error::Overloaded
            | Error::StorageFull
            | Error::StorageFailing
            | Error::StoreClosed
            | Error::Db(_)
            | Error::CommitFailed(_)
            | Error::Crypto(_)
            | Error::Internal(_) => (),
        };
        let all = vec![
            Error::invalid("to", "is required"),
            Error::BadRequest("x".into()),
            Error::InvalidJson {
                reason: "x".into(),
                line: 1,
                column: 1,
            },
            Error::UnsupportedMediaType,
            Error::PayloadTooLarge { limit: 1 },
            Error::Unauthorized,
            Error::Forbidden,
            Error::NotFound,
            Error::Conflict("x".into()),
            Error::Unavailable("x".into()),
            Error::IdempotencyKeyReused { message_id: None },
            Error::Overloaded,
            Error::StorageFull,
            Error::StorageFailing,
            Error::StoreClosed,
            Error::Db(rusqlite::Error::InvalidQuery),
            Error::CommitFailed("x".into()),
            Error::Crypto(crate::crypto::CryptoError::Malformed),
            Error::Internal(anyhow::anyhow!("x")),
        ];
        all.iter().for_each(sample);
        all
    }

    #[test]
    fn every_error_code_is_documented_with_its_status() {
        for error in one_of_each() {
            let documented = CODES
                .iter()
                .find(|c| c.code == error.code().as_str())
                .unwrap_or_else(|| panic!("{} is not in the documented codes", error.code()));
            assert_eq!(documented.status, error.status().code, "{}", error.code());
        }
        // The examples say what the server says, for the errors whose message is fixed.
        for error in [
            Error::UnsupportedMediaType,
            Error::Unauthorized,
            Error::Forbidden,
            Error::NotFound,
            Error::IdempotencyKeyReused { message_id: None },
            Error::Overloaded,
            Error::StorageFull,
            Error::StorageFailing,
            Error::StoreClosed,
            Error::Internal(anyhow::anyhow!("x")),
        ] {
            let documented = CODES
                .iter()
                .find(|c| c.code == error.code().as_str())
                .unwrap();
            assert_eq!(documented.message, error.to_string(), "{}", error.code());
        }
        // Each documented once.
        for (i, code) in CODES.iter().enumerate() {
            assert!(
                CODES[..i].iter().all(|c| c.code != code.code),
                "{} twice",
                code.code
            );
        }
    }
}
