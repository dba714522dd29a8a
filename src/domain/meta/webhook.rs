//! Meta's webhook POSTs, before anything touches the store: the signature over the exact bytes received
//! (Meta signs its own serialisation, so the body is never re-serialised), then the parse into the few
//! things the appliance acts on. Pure functions, so the fuzz target runs exactly this path.

use hmac::{KeyInit, Mac};
use serde_json::Value;
use std::collections::BTreeSet;

/// Why a POST is not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `X-Hub-Signature-256`, or one that does not match: answered 401 before parsing.
    Signature,
    /// Signed correctly but not a WhatsApp Business Account payload.
    Malformed(String),
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under the app secret, compared in
/// constant time.
pub fn signature_valid(app_secret: &[u8], header: Option<&str>, body: &[u8]) -> bool {
    let Some(expected) = header
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(app_secret).expect("any key length works");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The value of `X-Hub-Signature-256` Meta would send for this body (the sandbox signs with it).
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(app_secret).expect("any key length works");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// An error Meta attached to a status or a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaError {
    pub code: i64,
    pub title: String,
    pub details: String,
}

/// One `statuses[]` item: what happened to a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub wamid: String,
    pub status: String,
    /// Meta's time of the event, in milliseconds.
    pub at: i64,
    /// Our message id, echoed back from `biz_opaque_callback_data`.
    pub callback: Option<String>,
    pub error: Option<MetaError>,
    /// Meta's pricing category of the conversation (`marketing`, `utility`, `service`, ...).
    pub pricing: Option<String>,
}

/// One `messages[]` item: something a customer sent to the number.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    pub meta_id: String,
    /// The customer's number, digits only (absent for customers known only by a username).
    pub from: Option<String>,
    pub profile_name: Option<String>,
    pub kind: String,
    pub at: i64,
    /// The whole item as Meta sent it: the inbox shows it and keeps media ids for fetching on demand.
    pub message: Value,
}

/// A template's review outcome (`message_template_status_update`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateStatus {
    pub name: String,
    pub language: String,
    pub status: String,
    pub reason: Option<String>,
}

/// What a payload asks the appliance to record.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub phone_number_ids: BTreeSet<String>,
    /// Business accounts named by events that carry no number (templates, quality, account updates).
    pub business_account_ids: BTreeSet<String>,
    pub statuses: Vec<StatusUpdate>,
    pub inbound: Vec<InboundMessage>,
    pub templates: Vec<TemplateStatus>,
    /// `phone_number_quality_update`: (quality or event, messaging limit).
    pub quality: Option<(String, Option<String>)>,
    /// `account_update`: the event and what it says, in a line.
    pub account_notice: Option<String>,
    /// Fields stored but not acted on.
    pub ignored_fields: Vec<String>,
}

/// Checks the signature, then parses. Nothing is parsed from an unsigned body.
pub fn verify_and_parse(
    app_secret: &[u8],
    signature: Option<&str>,
    body: &[u8],
) -> Result<Parsed, Refusal> {
    if !signature_valid(app_secret, signature, body) {
        return Err(Refusal::Signature);
    }
    parse(body)
}

pub fn parse(body: &[u8]) -> Result<Parsed, Refusal> {
    let payload: Value =
        serde_json::from_slice(body).map_err(|e| Refusal::Malformed(format!("not JSON: {e}")))?;
    if payload.get("object").and_then(Value::as_str) != Some("whatsapp_business_account") {
        return Err(Refusal::Malformed(
            "object is not whatsapp_business_account".into(),
        ));
    }
    let entries = payload
        .get("entry")
        .and_then(Value::as_array)
        .ok_or_else(|| Refusal::Malformed("entry is missing".into()))?;
    let mut parsed = Parsed::default();
    for entry in entries {
        let waba = id_text(entry.get("id"));
        for change in entry
            .get("changes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let field = change.get("field").and_then(Value::as_str).unwrap_or("");
            let value = change.get("value").unwrap_or(&Value::Null);
            // Message events name their number; the others only name the business account.
            if field != "messages" {
                let waba = waba.clone().unwrap_or_default();
                parsed.business_account_ids.insert(waba);
            }
            match field {
                "messages" => parse_messages(value, &mut parsed)?,
                "message_template_status_update" => parsed.templates.extend(template(value)),
                "phone_number_quality_update" => {
                    let quality = text(value, "current_quality_rating")
                        .or_else(|| text(value, "event"))
                        .unwrap_or_default();
                    parsed.quality = Some((quality, text(value, "current_limit")));
                }
                "account_update" => parsed.account_notice = Some(account_notice(value)),
                other => parsed.ignored_fields.push(other.to_owned()),
            }
        }
    }
    Ok(parsed)
}

fn parse_messages(value: &Value, parsed: &mut Parsed) -> Result<(), Refusal> {
    let phone_number_id = value
        .pointer("/metadata/phone_number_id")
        .and_then(|v| id_text(Some(v)))
        .ok_or_else(|| Refusal::Malformed("metadata.phone_number_id is missing".into()))?;
    parsed.phone_number_ids.insert(phone_number_id);
    for status in array(value, "statuses") {
        let (Some(wamid), Some(state)) = (text(status, "id"), text(status, "status")) else {
            return Err(Refusal::Malformed("a status has no id or status".into()));
        };
        parsed.statuses.push(StatusUpdate {
            wamid,
            status: state,
            at: timestamp_ms(status),
            callback: text(status, "biz_opaque_callback_data"),
            error: array(status, "errors").next().map(meta_error),
            pricing: status.pointer("/pricing/category").and_then(as_text),
        });
    }
    let names: Vec<(Option<String>, Option<String>)> = array(value, "contacts")
        .map(|c| {
            (
                text(c, "wa_id"),
                c.pointer("/profile/name").and_then(as_text),
            )
        })
        .collect();
    for message in array(value, "messages") {
        let Some(meta_id) = text(message, "id") else {
            return Err(Refusal::Malformed("a message has no id".into()));
        };
        let from = text(message, "from");
        let profile_name = names
            .iter()
            .find(|(wa_id, _)| wa_id.is_some() && *wa_id == from)
            .or(names.first().filter(|_| names.len() == 1))
            .and_then(|(_, name)| name.clone());
        parsed.inbound.push(InboundMessage {
            meta_id,
            from,
            profile_name,
            kind: text(message, "type").unwrap_or_else(|| "unsupported".into()),
            at: timestamp_ms(message),
            message: message.clone(),
        });
    }
    Ok(())
}

fn template(value: &Value) -> Option<TemplateStatus> {
    Some(TemplateStatus {
        name: text(value, "message_template_name")?,
        language: text(value, "message_template_language")?,
        status: text(value, "event")?,
        reason: review_reason(value),
    })
}

/// A rejection's reason: Meta's code (`INVALID_FORMAT`, ...), with its recommendation when the newer
/// `rejection_info` gives one.
fn review_reason(value: &Value) -> Option<String> {
    let code = text(value, "reason").filter(|r| r != "NONE");
    let info = value.get("rejection_info");
    let advice = info
        .and_then(|i| text(i, "recommendation"))
        .or_else(|| info.and_then(|i| text(i, "reason")))
        .filter(|a| !a.is_empty() && a != "NONE");
    match (code, advice) {
        (Some(code), Some(advice)) if advice != code => Some(format!("{code}: {advice}")),
        (code, advice) => code.or(advice),
    }
}

fn account_notice(value: &Value) -> String {
    let event = text(value, "event").unwrap_or_else(|| "UPDATE".into());
    let restrictions: Vec<String> = array(value, "restriction_info")
        .filter_map(|r| text(r, "restriction_type"))
        .collect();
    if restrictions.is_empty() {
        event
    } else {
        format!("{event}: {}", restrictions.join(", "))
    }
}

fn meta_error(error: &Value) -> MetaError {
    MetaError {
        code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
        title: text(error, "title")
            .or_else(|| text(error, "message"))
            .unwrap_or_default(),
        details: error
            .pointer("/error_data/details")
            .and_then(as_text)
            .unwrap_or_default(),
    }
}

fn array<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn as_text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(as_text)
}

/// Meta's ids are strings, but a few payloads carry them as numbers.
fn id_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Meta's `timestamp` is Unix seconds as a string; an item without one is taken as "now".
fn timestamp_ms(item: &Value) -> i64 {
    item.get("timestamp")
        .and_then(|t| match t {
            Value::String(s) => s.parse::<i64>().ok(),
            other => other.as_i64(),
        })
        .and_then(|s| s.checked_mul(1000))
        .unwrap_or_else(crate::domain::now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_over_the_exact_bytes() {
        let body = br#"{"text":"\u0645\u0631\u062d\u0628\u0627 \ud83d\ude00"}"#;
        let header = sign(b"secret", body);
        assert!(signature_valid(b"secret", Some(&header), body));
        assert!(!signature_valid(b"other", Some(&header), body));
        assert!(!signature_valid(b"secret", None, body));
        assert!(!signature_valid(b"secret", Some("sha256=zz"), body));
        let mut changed = body.to_vec();
        changed[3] ^= 1;
        assert!(!signature_valid(b"secret", Some(&header), &changed));
    }

    #[test]
    fn unknown_fields_are_kept_aside() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"security","value":{}}]}]}"#;
        let parsed = parse(body).unwrap();
        assert_eq!(parsed.ignored_fields, vec!["security".to_string()]);
        assert!(parsed.statuses.is_empty());
    }

    #[test]
    fn non_whatsapp_payloads_are_refused() {
        assert!(matches!(parse(b"[]"), Err(Refusal::Malformed(_))));
        assert!(matches!(
            parse(br#"{"object":"page","entry":[]}"#),
            Err(Refusal::Malformed(_))
        ));
    }

    /// What the fuzz target (tests/fuzz) does, bounded, on every build: mutated and truncated copies
    /// of Meta's payloads, signed, must be parsed or refused, never panic.
    #[test]
    fn mutated_payloads_never_panic() {
        let seeds: [&[u8]; 3] = [
            br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"2"},"contacts":[{"profile":{"name":"S"},"wa_id":"3"}],"messages":[{"from":"3","id":"w","timestamp":"1749416383","type":"text","text":{"body":"hi"}}]}}]}]}"#,
            br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"2"},"statuses":[{"id":"w","status":"failed","timestamp":"99999999999999999","errors":[{"code":131047,"title":"t","error_data":{"details":"d"}}]}]}}]}]}"#,
            br#"{"object":"whatsapp_business_account","entry":[{"id":1,"time":2,"changes":[{"field":"message_template_status_update","value":{"event":"APPROVED","message_template_name":"n","message_template_language":"en"}},{"field":"phone_number_quality_update","value":{"event":"FLAGGED"}},{"field":"account_update","value":{"restriction_info":[{}]}}]}]}"#,
        ];
        crate::mutation::mutations(&seeds, 20_000, |_, body| {
            let _ = verify_and_parse(b"k", Some(&sign(b"k", body)), body);
        });
    }
}
