//! Stripe's HTTP API, for the two things the Billing page's buttons need: a Checkout session for a plan
//! and a customer-portal session. Card data never passes through the appliance: the browser is sent to
//! Stripe's pages, and Stripe tells us the outcome by webhook.
//!
//! One `ureq::Agent` with timeouts, used from blocking threads. Its address is the operator's
//! `[billing] stripe_base_url` (Stripe's, or a local stand-in in tests); every request's URL is checked
//! to stay under it before it leaves, redirects are not followed. Requests are form-encoded, as Stripe's
//! API takes them, and each POST carries an `Idempotency-Key`. A Checkout session's key is derived from
//! what the session is for (account, plan, price, customer or email, return URLs) and the 10-minute slot
//! of the clock it is asked in: the same request again within the slot (a double click, a second tab, a
//! retry) gets the session Stripe made the first time, not a second one that could be paid too. Two
//! requests either side of a slot's end are two sessions; the webhook then refuses to link a second live
//! subscription. A portal session's key is random (a second one charges nothing).

use crate::config::{self, Secret, normalize_base_url, split_url};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// What went wrong with a call to Stripe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StripeError {
    /// `[billing]` has no Stripe secret key (or no usable base URL).
    NotConfigured(String),
    /// Stripe answered with its error object (`{"error": {"type", "code", "message", "param"}}`).
    Refused {
        http_status: u16,
        kind: String,
        code: String,
        message: String,
    },
    /// No usable answer: a connection failure, a timeout, an answer that is not Stripe's.
    Network(String),
    /// The call was not made: its URL is not under the configured base.
    NotAllowed(String),
}

impl std::fmt::Display for StripeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StripeError::NotConfigured(why) => write!(f, "Stripe is not configured: {why}"),
            StripeError::Refused {
                http_status,
                kind,
                code,
                message,
            } => {
                write!(f, "Stripe refused the request (HTTP {http_status}")?;
                for part in [kind, code].into_iter().filter(|p| !p.is_empty()) {
                    write!(f, ", {part}")?;
                }
                write!(f, "): {message}")
            }
            StripeError::Network(why) => write!(f, "Stripe could not be reached: {why}"),
            StripeError::NotAllowed(url) => write!(
                f,
                "{url} is not under [billing] stripe_base_url; the call was not made"
            ),
        }
    }
}

impl From<StripeError> for crate::error::Error {
    fn from(error: StripeError) -> crate::error::Error {
        crate::error::Error::Unavailable(error.to_string())
    }
}

/// The agent's own refusal of a URL, told apart from every other transport error.
#[derive(Debug)]
struct NotUnderBase(String);

impl std::fmt::Display for NotUnderBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not under [billing] stripe_base_url", self.0)
    }
}

impl std::error::Error for NotUnderBase {}

/// A session Stripe created: where the browser goes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Session {
    pub id: String,
    pub url: String,
}

/// What a Checkout session is for.
#[derive(Debug, Clone)]
pub struct CheckoutRequest<'a> {
    /// The plan's Stripe price (`price_...`).
    pub price: &'a str,
    /// Our plan's id, kept in the session's metadata so the completed session names it.
    pub plan: &'a str,
    /// Our account's id: Stripe gives it back as `client_reference_id` when the session completes.
    pub account: i64,
    /// The account's Stripe customer, when it has one; else the email Stripe makes a customer with.
    pub customer: Option<&'a str>,
    pub email: &'a str,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

/// Stripe's API as this installation reaches it. Cheap to clone (the agent is shared), so a call can be
/// moved to a blocking thread.
#[derive(Clone)]
pub struct Stripe {
    agent: ureq::Agent,
    /// `[billing] stripe_base_url`, normalised; `None` when it is not a usable URL.
    base: Option<String>,
    secret_key: Option<Secret>,
}

/// How long a call may take in all: the person waits on it before being sent to Stripe.
const CALL_LIMIT: Duration = Duration::from_secs(20);

impl Stripe {
    pub fn new(settings: &config::Billing) -> Stripe {
        let base = normalize_base_url(&settings.stripe_base_url).ok();
        let secret_key = settings
            .stripe_secret_key
            .clone()
            .filter(|key| !key.expose().trim().is_empty());
        Stripe {
            agent: agent(base.clone().unwrap_or_default()),
            base,
            secret_key,
        }
    }

    /// `POST /v1/checkout/sessions`: a subscription to one price, for our account.
    pub fn checkout_session(&self, request: &CheckoutRequest<'_>) -> Result<Session, StripeError> {
        let account = request.account.to_string();
        let mut form: Vec<(&str, &str)> = vec![
            ("mode", "subscription"),
            ("line_items[0][price]", request.price),
            ("line_items[0][quantity]", "1"),
            ("client_reference_id", &account),
            ("metadata[plan]", request.plan),
            ("metadata[account]", &account),
            ("success_url", request.success_url),
            ("cancel_url", request.cancel_url),
        ];
        match request.customer {
            Some(customer) => form.push(("customer", customer)),
            None => form.push(("customer_email", request.email)),
        }
        let key = checkout_idempotency_key(&form, crate::store::now_ms().div_euclid(1000));
        self.post("/v1/checkout/sessions", &form, &key)
    }

    /// `POST /v1/billing_portal/sessions`: Stripe's page where the customer manages cards and invoices.
    pub fn portal_session(&self, customer: &str, return_url: &str) -> Result<Session, StripeError> {
        self.post(
            "/v1/billing_portal/sessions",
            &[("customer", customer), ("return_url", return_url)],
            &random_idempotency_key()?,
        )
    }

    /// `DELETE /v1/subscriptions/{id}`: ends the subscription at once, so nothing more is charged (an
    /// account being deleted). One Stripe has no more (already ended) is no error.
    pub fn cancel_subscription(&self, subscription: &str) -> Result<(), StripeError> {
        // Stripe's ids are letters, digits and `_`: anything else would change the path.
        if subscription.is_empty()
            || !subscription
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(StripeError::NotAllowed(format!(
                "{subscription:?} is not a Stripe subscription id"
            )));
        }
        let (base, key) = self.configured()?;
        let response = self
            .agent
            .delete(format!("{base}/v1/subscriptions/{subscription}"))
            .header("Authorization", &format!("Bearer {}", key.expose()))
            .call();
        let (status, answer) = answered(response)?;
        match status {
            200..300 => Ok(()),
            404 if answer["error"]["code"] == "resource_missing" => Ok(()),
            _ => Err(refusal(status, &answer)),
        }
    }

    /// The base URL and the secret key, or why Stripe cannot be called.
    fn configured(&self) -> Result<(&str, &Secret), StripeError> {
        let base = self.base.as_deref().ok_or_else(|| {
            StripeError::NotConfigured("[billing] stripe_base_url is not a URL".into())
        })?;
        let key = self.secret_key.as_ref().ok_or_else(|| {
            StripeError::NotConfigured("[billing] stripe_secret_key is not set".into())
        })?;
        Ok((base, key))
    }

    fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<Session, StripeError> {
        let (base, key) = self.configured()?;
        let response = self
            .agent
            .post(format!("{base}{path}"))
            .header("Authorization", &format!("Bearer {}", key.expose()))
            .header("Idempotency-Key", idempotency_key)
            .send_form(form.iter().copied());
        let (status, answer) = answered(response)?;
        if !(200..300).contains(&status) {
            return Err(refusal(status, &answer));
        }
        serde_json::from_value::<Session>(answer)
            .ok()
            .filter(|s| s.url.starts_with("https://") || s.url.starts_with("http://"))
            .ok_or_else(|| StripeError::Network(format!("HTTP {status} without a session URL")))
    }
}

/// Stripe's answer: its HTTP status and JSON body (null when there is none), or why there is none.
fn answered(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<(u16, Value), StripeError> {
    let mut response = match response {
        Ok(response) => response,
        Err(ureq::Error::Other(e)) if e.is::<NotUnderBase>() => {
            return Err(StripeError::NotAllowed(e.to_string()));
        }
        Err(e) => return Err(StripeError::Network(e.to_string())),
    };
    let status = response.status().as_u16();
    let answer = response
        .body_mut()
        .with_config()
        .limit(1024 * 1024)
        .read_json()
        .unwrap_or(Value::Null);
    Ok((status, answer))
}

/// Reads Stripe's error object; a non-2xx without one names only its status.
fn refusal(http_status: u16, answer: &Value) -> StripeError {
    let error = &answer["error"];
    let text = |field: &str| error[field].as_str().unwrap_or_default().to_owned();
    match error["message"].as_str() {
        Some(message) => StripeError::Refused {
            http_status,
            kind: text("type"),
            code: text("code"),
            message: message.to_owned(),
        },
        None => StripeError::Network(format!("HTTP {http_status} without Stripe's error body")),
    }
}

/// How long a repeated Checkout request gets the first one's session.
const CHECKOUT_SLOT_SECS: i64 = 600;

/// The `Idempotency-Key` of a Checkout request: SHA-256, in hex, of its form (which names the account,
/// the plan, the price and the customer or email) and the 10-minute slot `now_secs` falls in. Stripe
/// answers a key it has seen (within 24 hours) with its first answer, and refuses one sent with other
/// parameters: every field is in the key, so a changed request is a new one.
fn checkout_idempotency_key(form: &[(&str, &str)], now_secs: i64) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(b"checkout\0");
    hash.update(now_secs.div_euclid(CHECKOUT_SLOT_SECS).to_be_bytes());
    for (name, value) in form {
        for part in [name, value] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
    }
    hex::encode(hash.finalize())
}

/// A fresh key per call: 128 random bits in hex.
fn random_idempotency_key() -> Result<String, StripeError> {
    crate::crypto::random_bytes::<16>()
        .map(hex::encode)
        .map_err(|e| StripeError::Network(format!("no randomness for the Idempotency-Key: {e}")))
}

/// Whether `url` is one of Stripe's API paths (`/v1/...`) under `base` (both normalised the same way; an
/// empty base permits nothing).
fn permits(base: &str, url: &str) -> bool {
    let Ok((origin, path, _)) = split_url(url) else {
        return false;
    };
    let full = format!("{origin}{path}");
    !base.is_empty()
        && full
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with("/v1/"))
}

fn agent(base: String) -> ureq::Agent {
    let base = Arc::new(base);
    let guard = move |request: ureq::http::Request<ureq::SendBody>,
                      next: ureq::middleware::MiddlewareNext| {
        let url = request.uri().to_string();
        if !permits(&base, &url) {
            return Err(ureq::Error::Other(Box::new(NotUnderBase(url))));
        }
        next.handle(request)
    };
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_global(Some(CALL_LIMIT))
        .user_agent(concat!("whatsapi/", env!("CARGO_PKG_VERSION")))
        .middleware(guard)
        .build()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_stay_under_the_configured_base() {
        let base = normalize_base_url("https://API.stripe.com/").unwrap();
        assert!(permits(
            &base,
            "https://api.stripe.com/v1/checkout/sessions"
        ));
        assert!(permits(
            &base,
            "https://api.stripe.com:443/v1/billing_portal/sessions"
        ));
        for refused in [
            "https://api.stripe.com.evil.test/v1/checkout/sessions",
            "http://api.stripe.com/v1/checkout/sessions",
            "https://api.stripe.com:8443/v1",
            "https://user@api.stripe.com/v1",
            "https://api.stripe.com/v1/../../x",
            "ftp://api.stripe.com/v1",
            "https://api.stripe.com",
            "https://api.stripe.com/v2/x",
        ] {
            assert!(!permits(&base, refused), "{refused}");
        }
        assert!(!permits("", "https://api.stripe.com/v1"));
        let local = normalize_base_url("http://127.0.0.1:4242").unwrap();
        assert!(permits(
            &local,
            "http://127.0.0.1:4242/v1/checkout/sessions"
        ));
        assert!(!permits(
            &local,
            "http://127.0.0.1:4243/v1/checkout/sessions"
        ));
    }

    #[test]
    fn stripes_error_object_is_read_and_anything_else_is_a_network_failure() {
        let answer = serde_json::json!({"error": {"type": "invalid_request_error", "code": "resource_missing",
            "message": "No such price: 'price_x'", "param": "line_items[0][price]"}});
        let error = refusal(400, &answer);
        assert_eq!(
            error.to_string(),
            "Stripe refused the request (HTTP 400, invalid_request_error, resource_missing): No such price: 'price_x'"
        );
        let error = refusal(502, &Value::Null);
        assert_eq!(
            error,
            StripeError::Network("HTTP 502 without Stripe's error body".into())
        );
        let error: crate::error::Error = error.into();
        assert_eq!(error.code().as_str(), "unavailable");
    }

    #[test]
    fn a_checkout_requests_key_is_the_same_within_its_ten_minutes_and_names_what_it_is_for() {
        let form = [
            ("client_reference_id", "7"),
            ("metadata[plan]", "pro"),
            ("customer", "cus_1"),
        ];
        let slot_start = 1_800_000_000 - 1_800_000_000 % CHECKOUT_SLOT_SECS;
        let key = checkout_idempotency_key(&form, slot_start);
        assert_eq!(key.len(), 64);
        assert_eq!(
            checkout_idempotency_key(&form, slot_start + CHECKOUT_SLOT_SECS - 1),
            key
        );
        assert_ne!(
            checkout_idempotency_key(&form, slot_start + CHECKOUT_SLOT_SECS),
            key
        );
        assert_ne!(checkout_idempotency_key(&form, slot_start - 1), key);
        for (i, other) in ["8", "max", "cus_2"].into_iter().enumerate() {
            let mut changed = form;
            changed[i].1 = other;
            assert_ne!(
                checkout_idempotency_key(&changed, slot_start),
                key,
                "{other}"
            );
        }
        // Fields are length-prefixed: moving a boundary is another request.
        assert_ne!(
            checkout_idempotency_key(&[("ab", "c")], slot_start),
            checkout_idempotency_key(&[("a", "bc")], slot_start)
        );
    }

    #[test]
    fn without_a_key_nothing_is_sent() {
        let settings = config::Billing::default();
        let stripe = Stripe::new(&settings);
        let error = stripe
            .portal_session("cus_1", "https://x.test/billing")
            .unwrap_err();
        assert!(matches!(error, StripeError::NotConfigured(_)), "{error}");
    }
}
