//! Stripe's webhook contract, before anything touches the store: the `Stripe-Signature` check over the
//! exact bytes received, and the event's envelope. Pure functions, so they are tested without a server.
//!
//! Stripe signs `"{t}.{raw body}"` with HMAC-SHA256, the endpoint's signing secret (`whsec_...`, the whole
//! string as bytes) being the key, and sends `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`
//! (several `v1` while a secret is being rolled). A signature is only as fresh as its `t`: one older than
//! the tolerance is refused, so a captured request cannot be replayed later.

use hmac::{KeyInit, Mac};
use serde::Deserialize;
use serde_json::Value;

/// How far `t` may be from our clock, in seconds: Stripe's own libraries allow 300 s in the past. We also
/// refuse as far in the future, which no clock Stripe keeps would sign.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a `Stripe-Signature` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureRefusal {
    Missing,
    /// No `t=` with a number, or no `v1=`.
    Malformed,
    /// No `v1` is the signature of this body at this `t` with our secret.
    NoMatch,
    /// Signed correctly, but `t` is older than the tolerance.
    TooOld,
    /// Signed correctly, but `t` is further ahead of our clock than the tolerance.
    InFuture,
}

impl SignatureRefusal {
    /// What the sender is told (it says nothing about the secret or the expected value).
    pub fn message(self) -> &'static str {
        match self {
            SignatureRefusal::Missing => "the Stripe-Signature header is missing",
            SignatureRefusal::Malformed => {
                "the Stripe-Signature header is not t=<unix seconds>,v1=<hex signature>"
            }
            SignatureRefusal::NoMatch => {
                "no v1 signature matches this body with the endpoint's signing secret"
            }
            SignatureRefusal::TooOld => {
                "the signature's timestamp is more than 300 seconds old (replayed or delayed)"
            }
            SignatureRefusal::InFuture => {
                "the signature's timestamp is more than 300 seconds ahead of this server's clock"
            }
        }
    }
}

/// Checks `header` against `body`, with `now_secs` as our clock. The timestamp is judged only once a
/// signature matches (an unsigned request learns nothing about our clock). `Ok(t)` when accepted.
pub fn verify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<i64, SignatureRefusal> {
    let header = header.ok_or(SignatureRefusal::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        match key.trim() {
            // The first `t` counts, as in Stripe's libraries.
            "t" if timestamp.is_none() => timestamp = Some(value.trim()),
            // A `v1` that is not hex cannot match; the others may.
            "v1" => signatures.extend(hex::decode(value.trim()).ok()),
            // `v0` (test mode's old scheme) and anything newer are not ours to check.
            _ => {}
        }
    }
    let t: i64 = timestamp
        .and_then(|t| t.parse().ok())
        .ok_or(SignatureRefusal::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureRefusal::Malformed);
    }
    let mac = mac_of(secret, t, body);
    // `verify_slice` compares in constant time; every v1 is tried.
    if !signatures
        .iter()
        .any(|candidate| mac.clone().verify_slice(candidate).is_ok())
    {
        return Err(SignatureRefusal::NoMatch);
    }
    if now_secs.saturating_sub(t) > TOLERANCE_SECS {
        return Err(SignatureRefusal::TooOld);
    }
    if t.saturating_sub(now_secs) > TOLERANCE_SECS {
        return Err(SignatureRefusal::InFuture);
    }
    Ok(t)
}

fn mac_of(secret: &[u8], t: i64, body: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key length works");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Stripe-Signature` Stripe would send for this body at `t` (for the unit tests; the integration
/// tests' stand-in signs with its own code).
#[cfg(test)]
fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    format!(
        "t={t},v1={}",
        hex::encode(mac_of(secret, t, body).finalize().into_bytes())
    )
}

/// The envelope of every Stripe event: its id (what deduplicates), type, when Stripe created it, and the
/// object it is about (`data.object`).
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: Value,
}

impl Event {
    /// Reads a signed body. An event id is `evt_` and letters or digits in Stripe's API; anything else
    /// (empty, very long) is refused, since it becomes a primary key.
    pub fn parse(body: &[u8]) -> Result<Event, String> {
        let event: Event = serde_json::from_slice(body)
            .map_err(|e| format!("the body is not a Stripe event: {e}"))?;
        let id_ok = !event.id.is_empty()
            && event.id.len() <= 255
            && event
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !id_ok {
            return Err("the event's id is not a Stripe event id".into());
        }
        if event.kind.is_empty() || event.kind.len() > 100 {
            return Err("the event's type is missing".into());
        }
        Ok(event)
    }

    /// A string field of the object (`customer`, `subscription`, ...); an expanded object gives its `id`.
    pub fn object_ref(&self, field: &str) -> Option<&str> {
        reference(&self.data.object[field])
    }
}

/// A Stripe reference: a string id, or the `id` of an expanded object.
pub fn reference(value: &Value) -> Option<&str> {
    match value {
        Value::String(id) if !id.is_empty() => Some(id),
        Value::Object(object) => object
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid","created":1,"data":{"object":{}}}"#;

    #[test]
    fn a_fresh_signature_over_the_exact_body_is_accepted() {
        let now = 1_800_000_000;
        let header = sign(SECRET, now - 10, BODY);
        assert_eq!(verify(SECRET, Some(&header), BODY, now), Ok(now - 10));
        // Stripe's spacing and a second (rolled) secret's v1 before ours.
        let ours = header.split_once(",v1=").unwrap().1;
        let rolled = format!("t={}, v1={}, v1={ours}, v0=abc", now - 10, "00".repeat(32));
        assert_eq!(verify(SECRET, Some(&rolled), BODY, now), Ok(now - 10));
    }

    #[test]
    fn anything_else_is_refused_with_its_reason() {
        let now = 1_800_000_000;
        let header = sign(SECRET, now, BODY);
        assert_eq!(
            verify(SECRET, None, BODY, now),
            Err(SignatureRefusal::Missing)
        );
        assert_eq!(
            verify(b"whsec_other", Some(&header), BODY, now),
            Err(SignatureRefusal::NoMatch)
        );
        let mut changed = BODY.to_vec();
        changed[10] ^= 1;
        assert_eq!(
            verify(SECRET, Some(&header), &changed, now),
            Err(SignatureRefusal::NoMatch)
        );
        // The timestamp is part of what is signed: moving it breaks the signature.
        let moved = header.replacen(&format!("t={now}"), &format!("t={}", now + 1), 1);
        assert_eq!(
            verify(SECRET, Some(&moved), BODY, now),
            Err(SignatureRefusal::NoMatch)
        );
        for malformed in ["", "t=abc,v1=00", "v1=00", &format!("t={now}"), "garbage"] {
            assert_eq!(
                verify(SECRET, Some(malformed), BODY, now),
                Err(SignatureRefusal::Malformed),
                "{malformed}"
            );
        }
        let old = sign(SECRET, now - 301, BODY);
        assert_eq!(
            verify(SECRET, Some(&old), BODY, now),
            Err(SignatureRefusal::TooOld)
        );
        let edge = sign(SECRET, now - 300, BODY);
        assert!(verify(SECRET, Some(&edge), BODY, now).is_ok());
        let ahead = sign(SECRET, now + 301, BODY);
        assert_eq!(
            verify(SECRET, Some(&ahead), BODY, now),
            Err(SignatureRefusal::InFuture)
        );
        let far = sign(SECRET, i64::MIN, BODY);
        assert_eq!(
            verify(SECRET, Some(&far), BODY, now),
            Err(SignatureRefusal::TooOld)
        );
    }

    #[test]
    fn an_event_needs_a_stripe_id_and_a_type() {
        let event = Event::parse(BODY).unwrap();
        assert_eq!(
            (event.id.as_str(), event.kind.as_str()),
            ("evt_1", "invoice.paid")
        );
        for bad in [
            r#"{"id":"","type":"x","data":{"object":{}}}"#,
            r#"{"id":"evt_1'; --","type":"x","data":{"object":{}}}"#,
            r#"{"id":"evt_1","type":"","data":{"object":{}}}"#,
            r#"{"id":"evt_1","type":"x"}"#,
            "not json",
        ] {
            assert!(Event::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_reference_is_an_id_or_an_expanded_objects_id() {
        let event = Event::parse(
            br#"{"id":"evt_2","type":"x","data":{"object":{"customer":"cus_1","subscription":{"id":"sub_1"},"invoice":null}}}"#,
        )
        .unwrap();
        assert_eq!(event.object_ref("customer"), Some("cus_1"));
        assert_eq!(event.object_ref("subscription"), Some("sub_1"));
        assert_eq!(event.object_ref("invoice"), None);
        assert_eq!(event.object_ref("absent"), None);
    }
}
