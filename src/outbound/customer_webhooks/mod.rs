//! Customers' own webhook endpoints (the webhooks we send; Meta's, which we receive, are
//! `http::meta_inbound`). Events for them: what each event type carries, how it is signed, and one
//! delivery attempt. Events are written by whatever causes them (in the same transaction); the delivery
//! workers in `jobs::customer_webhooks` send them.

pub mod emit;
pub mod signing;

use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The body of an event, as Standard Webhooks suggests: type, time, data.
pub fn body(kind: &str, data: Value) -> Vec<u8> {
    let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({ "type": kind, "timestamp": timestamp, "data": data })
        .to_string()
        .into_bytes()
}

/// How an attempt ended, for the retry decision.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<u16>,
    pub error: Option<String>,
    pub duration: Duration,
    /// Seconds the endpoint asked us to wait (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl Outcome {
    pub fn delivered(&self) -> bool {
        self.code.is_some_and(|c| (200..300).contains(&c))
    }

    pub fn gone(&self) -> bool {
        self.code == Some(410)
    }
}

/// One signed POST of an event to an endpoint.
pub fn attempt(
    agent: &ureq::Agent,
    url: &str,
    secret: &str,
    event_id: i64,
    body: &[u8],
) -> Outcome {
    let id = format!("msg_{event_id}");
    let timestamp = chrono::Utc::now().timestamp();
    let signature = signing::sign(secret, &id, timestamp, body);
    let started = Instant::now();
    let answer = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", &timestamp.to_string())
        .header("webhook-signature", &signature)
        .send(body);
    let duration = started.elapsed();
    match answer {
        Ok(response) => {
            let code = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            let error = match code {
                200..=299 => None,
                300..=399 => Some("redirects are not followed".to_owned()),
                _ => Some(format!("the endpoint answered {code}")),
            };
            Outcome {
                code: Some(code),
                error,
                duration,
                retry_after,
            }
        }
        Err(e) => Outcome {
            code: None,
            error: Some(describe(&e)),
            duration,
            retry_after: None,
        },
    }
}

fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => "no answer in time".to_owned(),
        ureq::Error::HostNotFound => "the host name does not resolve".to_owned(),
        ureq::Error::ConnectionFailed => "could not connect".to_owned(),
        other => other.to_string(),
    }
}
