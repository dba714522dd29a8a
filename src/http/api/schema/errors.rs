//! Every error answer of the API, `{"error": {"code", "message", "details"}}`, described for the OpenAPI
//! document from the one table of codes, `crate::error::Code`: each code's status, meaning and an
//! example. A code added to the table is documented with it.

use crate::error::{Code, Error};
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
    /// (idempotency_key_reused), `limit`, `window_secs` and `retry_after` (rate_limited), `limit` and
    /// `resets_at` (quota_exceeded), `status` (subscription_inactive), `limit`, `allowed` and `plan`
    /// (plan_limit), `feature` and `plan` (plan_feature), `field` and `opted_out_at`
    /// (recipient_opted_out); null for the others.
    #[schema(value_type = Option<Object>)]
    pub details: Value,
}

/// The `code` of an error: one of [`Code::ALL`], with the table in its description.
pub struct ErrorCode;

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        let mut table = String::from(
            "A stable code; clients branch on it.\n\n| code | status | meaning |\n|---|---|---|\n",
        );
        for code in Code::ALL {
            table.push_str(&format!(
                "| `{code}` | {} | {} |\n",
                code.status().code,
                code.meaning()
            ));
        }
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Code::ALL.iter().map(|c| c.as_str())))
            .description(Some(table))
            .into()
    }
}

impl ToSchema for ErrorCode {}

/// An example error answer with this code.
fn example(code: Code) -> Value {
    let details = match code {
        Code::InvalidField => serde_json::to_value(Field { field: "to" }),
        Code::InvalidJson => serde_json::to_value(Position { line: 1, column: 2 }),
        Code::UnsupportedMediaType => serde_json::to_value(Expected {
            expected: "application/json",
        }),
        Code::PayloadTooLarge => serde_json::to_value(Limit {
            limit_bytes: 1_048_576,
        }),
        Code::IdempotencyKeyReused => serde_json::to_value(Reused {
            message_id: "7392017443880812544",
        }),
        code => Ok(plan_refusal(code).map_or(Value::Null, |e| e.details())),
    };
    let body = ErrorBody {
        error: ErrorObject {
            code: code.as_str().to_owned(),
            message: code.example().to_owned(),
            details: details.unwrap_or(Value::Null),
        },
    };
    serde_json::to_value(body).unwrap_or(Value::Null)
}

/// A typical refusal of an account's plan (or of its operator's hold) with this code: the
/// documentation's example is the answer the server gives to it.
fn plan_refusal(code: Code) -> Option<Error> {
    let plan = || "starter".to_owned();
    Some(match code {
        Code::RateLimited => Error::RateLimited {
            limit: 600,
            retry_after: 1,
        },
        Code::QuotaExceeded => Error::QuotaExceeded {
            limit: 10_000,
            resets_at: 1_798_761_600_000,
        },
        Code::SubscriptionInactive => Error::SubscriptionInactive { status: "past_due" },
        Code::PlanLimit => Error::PlanLimit {
            limit: "connections",
            allowed: 2,
            plan: plan(),
        },
        Code::PlanFeature => Error::PlanFeature {
            feature: "webhooks",
            plan: plan(),
        },
        Code::AccountSuspended => Error::AccountSuspended,
        Code::SendingHeld => Error::SendingHeld,
        Code::RecipientOptedOut => Error::RecipientOptedOut {
            opted_out_at: 1_798_761_600_000,
        },
        _ => return None,
    })
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
            for code in Code::ALL.into_iter().filter(|c| c.status().code == *status) {
                described.push(format!("`{code}`: {}", code.meaning()));
                content = content.examples_from_iter([(
                    code.as_str(),
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
        responses(&[400, 401, 403, 404, 429, 500, 503])
    }
}

impl IntoResponses for WriteErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[400, 401, 403, 404, 413, 415, 429, 500, 503])
    }
}

impl IntoResponses for SendErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[400, 401, 402, 403, 413, 415, 422, 429, 500, 503])
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;
    use crate::error::{Code, Error};

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
            | Error::RecipientOptedOut { .. }
            | Error::RateLimited { .. }
            | Error::QuotaExceeded { .. }
            | Error::SubscriptionInactive { .. }
            | Error::PlanLimit { .. }
            | Error::PlanFeature { .. }
            | Error::AccountSuspended
            | Error::SendingHeld
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
        let mut all = all;
        all.extend(Code::ALL.into_iter().filter_map(super::plan_refusal));
        all.iter().for_each(sample);
        all
    }

    #[test]
    fn every_error_code_is_documented_with_its_status() {
        for error in one_of_each() {
            let documented = Code::ALL
                .into_iter()
                .find(|c| *c == error.code())
                .unwrap_or_else(|| panic!("{} is not in the documented codes", error.code()));
            assert_eq!(documented.status(), error.status(), "{}", error.code());
            assert!(!documented.meaning().is_empty(), "{}", error.code());
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
        ]
        .into_iter()
        .chain(Code::ALL.into_iter().filter_map(super::plan_refusal))
        {
            assert_eq!(
                error.code().example(),
                error.to_string(),
                "{}",
                error.code()
            );
        }
        // Refusals of the server's own (the catchers') say their message.
        for code in [
            Code::BadRequest,
            Code::UnprocessableEntity,
            Code::MethodNotAllowed,
        ] {
            assert_eq!(code.example(), code.message(), "{code}");
        }
        // Each documented once, in the document's enum and with an example.
        let schema = serde_json::to_value(<ErrorCode as utoipa::PartialSchema>::schema()).unwrap();
        let listed: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c.as_str())
            .collect();
        assert_eq!(listed, Code::ALL.map(Code::as_str));
        for (i, code) in listed.iter().enumerate() {
            assert!(!listed[..i].contains(code), "{code} twice");
        }
        let answers = super::responses(&[
            400, 401, 402, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503,
        ]);
        for code in Code::ALL {
            let answer = serde_json::to_value(&answers[&code.status().code.to_string()]).unwrap();
            let example =
                &answer["content"]["application/json"]["examples"][code.as_str()]["value"];
            assert_eq!(example["error"]["code"], code.as_str(), "{answer}");
        }
    }
}
