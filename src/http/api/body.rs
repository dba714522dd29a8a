//! Request bodies of the API, read strictly: `Content-Type: application/json` (else 415), within the
//! `json` limit (else 413), UTF-8 and well-formed JSON (else 400 `invalid_json` with the line and
//! column), a JSON object, and then the operation's typed request, where a field of the wrong type or
//! one the operation does not take is a 400 `invalid_field` naming it. Nothing is coerced: `"yes"` is
//! not `true`, `"80"` is not `80`.
//!
//! [`parse`] is a pure function over bytes: the routes (through the [`ApiJson`] guard) and the fuzz
//! target run exactly it.

use crate::error::{Error, Result};
use rocket::data::{self, Data, FromData, Limits};
use rocket::http::ContentType;
use rocket::request::Request;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A request body parsed into `T`. A handler takes it as `Result<ApiJson<T>>`, so a refusal is answered
/// in JSON with its own status and code rather than by a bare catcher.
pub struct ApiJson<T>(pub T);

/// A typed request read from a JSON object: by serde ([`serde_bodies!`]) or, for a message, by Meta's
/// rules (`services::messages::SendMessage`).
pub trait FromBody: Sized {
    fn from_json(value: Value) -> Result<Self>;
}

/// Reads these request types with serde, naming the field of the first mismatch ([`typed`]).
macro_rules! serde_bodies {
    ($($request:ty),+ $(,)?) => {
        $(impl $crate::http::api::body::FromBody for $request {
            fn from_json(value: serde_json::Value) -> $crate::error::Result<Self> {
                $crate::http::api::body::typed(value)
            }
        })+
    };
}
pub(crate) use serde_bodies;

/// A JSON object whose reading as `T` is left to the handler: for a route that must do something (look
/// up an Idempotency-Key) before it refuses a body that is JSON but not a valid `T`.
impl<T: FromBody> FromBody for Result<T> {
    fn from_json(value: Value) -> Result<Self> {
        Ok(T::from_json(value))
    }
}

#[rocket::async_trait]
impl<'r, T: FromBody + Send + 'static> FromData<'r> for ApiJson<T> {
    type Error = Error;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let refuse = |e: Error| data::Outcome::Error((e.status(), e));
        if !is_json(req.content_type()) {
            return refuse(Error::UnsupportedMediaType);
        }
        let limit = req.limits().get("json").unwrap_or(Limits::JSON);
        let bytes = match data.open(limit).into_bytes().await {
            Ok(bytes) if bytes.is_complete() => bytes.into_inner(),
            Ok(_) => {
                return refuse(Error::PayloadTooLarge {
                    limit: limit.as_u64(),
                });
            }
            Err(e) => {
                return refuse(Error::BadRequest(format!(
                    "the request body could not be read: {e}"
                )));
            }
        };
        match json_object(&bytes).and_then(T::from_json) {
            Ok(value) => data::Outcome::Success(ApiJson(value)),
            Err(e) => refuse(e),
        }
    }
}

/// `application/json`, with no charset or UTF-8 (JSON is UTF-8, RFC 8259).
fn is_json(content_type: Option<&ContentType>) -> bool {
    content_type.is_some_and(|ct| {
        ct.is_json()
            && ct
                .params()
                .all(|(name, value)| name != "charset" || is_utf8_name(value))
    })
}

fn is_utf8_name(charset: &str) -> bool {
    charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8")
}

/// Bytes to a typed request: a JSON object, then `T` with every field checked for its type.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    typed(json_object(bytes)?)
}

/// Bytes to a JSON object, or why not (with the position for syntax and encoding errors).
pub fn json_object(bytes: &[u8]) -> Result<Value> {
    if let Err(e) = std::str::from_utf8(bytes) {
        let (line, column) = position(&bytes[..e.valid_up_to()]);
        return Err(Error::InvalidJson {
            reason: "the body is not UTF-8 text".into(),
            line,
            column,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::InvalidJson {
            reason: "the body is empty; send a JSON object".into(),
            line: 1,
            column: 1,
        });
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        // serde_json's message ends with " at line L column C": the position goes in the details.
        let text = e.to_string();
        let reason = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(reason, _)| reason)
            .to_owned();
        Error::InvalidJson {
            reason,
            line: e.line(),
            column: e.column().max(1),
        }
    })?;
    if !value.is_object() {
        return Err(Error::invalid("body", "must be a JSON object"));
    }
    Ok(value)
}

/// The 1-based line and column (in bytes) just after `before`.
fn position(before: &[u8]) -> (usize, usize) {
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |at| at + 1);
    (line, column + 1)
}

/// A JSON value to the typed request, naming the field of the first mismatch.
pub fn typed<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        field_error(&path, &e.into_inner().to_string())
    })
}

/// Longest field name echoed back: an unknown key is the caller's text, of any length.
const MAX_FIELD_NAME: usize = 100;

/// Serde's message about a field, in the API's words. Values are never echoed: a wrongly placed
/// secret must not come back in an error.
fn field_error(path: &str, serde_message: &str) -> Error {
    let mut field: String = match path {
        "" | "." => "body".to_owned(),
        path => path.to_owned(),
    };
    if let Some(rest) = serde_message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        field = if field == "body" {
            name.to_owned()
        } else {
            format!("{field}.{name}")
        };
        return Error::invalid(shorten(field), "is required");
    }
    let message = if let Some(rest) = serde_message.strip_prefix("unknown field `") {
        let expected = rest.split_once(", ").map_or("", |(_, known)| known);
        let known = expected
            .trim_start_matches("expected one of ")
            .trim_start_matches("expected ")
            .replace('`', "");
        if known.is_empty() || known == "there are no fields" {
            "is not a field of this request".to_owned()
        } else {
            format!("is not a field of this request (its fields are {known})")
        }
    } else if let Some((got, expected)) = serde_message
        .strip_prefix("invalid type: ")
        .and_then(|rest| rest.split_once(", expected "))
    {
        format!(
            "must be {}, not {}",
            expected_words(expected),
            got_words(got)
        )
    } else if let Some((_, expected)) = serde_message
        .strip_prefix("invalid value: ")
        .and_then(|rest| rest.split_once(", expected "))
    {
        format!("must be {}", expected_words(expected))
    } else {
        serde_message.to_owned()
    };
    Error::invalid(shorten(field), message)
}

fn shorten(mut field: String) -> String {
    if field.chars().count() > MAX_FIELD_NAME {
        field = field.chars().take(MAX_FIELD_NAME).collect::<String>() + "…";
    }
    field
}

/// What serde expected, as an API user would say it.
fn expected_words(expected: &str) -> String {
    match expected {
        "a boolean" => "true or false".into(),
        "a string" => "a string".into(),
        "a sequence" => "an array".into(),
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" => {
            "a whole number".into()
        }
        "f32" | "f64" => "a number".into(),
        other if other.starts_with("struct ") || other == "a map" => "an object".into(),
        other => other.to_owned(),
    }
}

/// The JSON type of what was given, from serde's description of it (without the value).
fn got_words(got: &str) -> &'static str {
    match got.split([' ', '`', '"']).next().unwrap_or_default() {
        "string" => "a string",
        "integer" => "a whole number",
        "floating" => "a number with a fraction",
        "boolean" => "true or false",
        "null" => "null",
        "map" => "an object",
        "sequence" => "an array",
        _ => "another type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: Option<String>,
        enabled: Option<bool>,
        count: Option<i64>,
        tags: Option<Vec<String>>,
    }

    fn refusal(body: &str) -> (String, String, String) {
        match parse::<Sample>(body.as_bytes()) {
            Err(e) => {
                let field = match &e {
                    Error::Invalid { field, .. } => field.clone(),
                    _ => String::new(),
                };
                (e.code().as_str().to_owned(), field, e.to_string())
            }
            Ok(sample) => panic!("{body} was accepted as {sample:?}"),
        }
    }

    #[test]
    fn each_wrong_type_names_its_field_without_echoing_the_value() {
        let (code, field, message) = refusal(r#"{"enabled": "yes-secret"}"#);
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("invalid_field", "enabled")
        );
        assert_eq!(message, "must be true or false, not a string");
        assert_eq!(refusal(r#"{"count": 1.5}"#).1, "count");
        assert_eq!(
            refusal(r#"{"count": "80"}"#).2,
            "must be a whole number, not a string"
        );
        assert_eq!(
            refusal(r#"{"name": 123}"#).2,
            "must be a string, not a whole number"
        );
        assert_eq!(refusal(r#"{"tags": ["a", 3]}"#).1, "tags[1]");
        assert_eq!(
            refusal(r#"{"tags": "a"}"#).2,
            "must be an array, not a string"
        );
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let (code, field, message) = refusal(r#"{"name": "x", "nmae": "y"}"#);
        assert_eq!((code.as_str(), field.as_str()), ("invalid_field", "nmae"));
        assert!(message.contains("name, enabled, count, tags"), "{message}");
        let long = format!(r#"{{"{}": 1}}"#, "k".repeat(5000));
        assert!(refusal(&long).1.chars().count() <= MAX_FIELD_NAME + 1);
    }

    #[test]
    fn broken_json_says_where() {
        match parse::<Sample>(b"{\n  \"name\": \"x\",\n  oops\n}") {
            Err(Error::InvalidJson { line, column, .. }) => assert_eq!((line, column), (3, 3)),
            other => panic!("{other:?}"),
        }
        match parse::<Sample>(b"{\"name\": \"caf\xe9\"}") {
            Err(Error::InvalidJson {
                line,
                column,
                reason,
            }) => {
                assert_eq!((line, column), (1, 14));
                assert!(reason.contains("UTF-8"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(refusal("  ").0, "invalid_json");
        assert_eq!(refusal("[]").1, "body");
        assert_eq!(refusal("{\"name\": \"x\"} trailing").0, "invalid_json");
    }

    #[test]
    fn the_content_type_must_be_json_in_utf8() {
        let parse = |s: &str| ContentType::parse_flexible(s);
        assert!(is_json(parse("application/json").as_ref()));
        assert!(is_json(parse("application/json; charset=UTF-8").as_ref()));
        assert!(!is_json(parse("application/json; charset=latin1").as_ref()));
        assert!(!is_json(parse("text/plain").as_ref()));
        assert!(!is_json(None));
    }
}
