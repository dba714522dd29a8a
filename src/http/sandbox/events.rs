//! The webhook payloads the sandbox sends, shaped like Meta's (reference section 4.5), serialised as Meta
//! does (non-ASCII escaped as `\uXXXX`), so the receiver's signature check sees what Meta would send.

use serde_json::{Value, json};

/// A status of a message the sandbox accepted.
#[derive(Debug, Clone)]
pub struct StatusEvent {
    pub wamid: String,
    pub status: &'static str,
    pub recipient: String,
    pub callback: Option<String>,
    pub at_seconds: i64,
}

fn envelope(waba_id: &str, phone_number_id: &str, value: Value) -> Value {
    let mut value = value;
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] = json!({
        "display_phone_number": display_number(phone_number_id),
        "phone_number_id": phone_number_id,
    });
    json!({"object": "whatsapp_business_account", "entry": [{"id": waba_id, "changes": [
        {"field": "messages", "value": value}
    ]}]})
}

fn display_number(phone_number_id: &str) -> String {
    format!(
        "1555{}",
        &phone_number_id[phone_number_id.len().saturating_sub(7)..]
    )
}

/// Statuses of one number, batched in one POST as Meta does.
pub fn statuses_payload(waba_id: &str, phone_number_id: &str, events: &[StatusEvent]) -> Vec<u8> {
    let statuses: Vec<Value> = events
        .iter()
        .map(|e| {
            let mut status = json!({
                "id": e.wamid, "status": e.status, "timestamp": e.at_seconds.to_string(),
                "recipient_id": e.recipient,
            });
            if e.status != "read" {
                status["pricing"] = json!({"billable": false, "pricing_model": "PMP",
                                           "category": "service", "type": "free_customer_service"});
            }
            if let Some(callback) = &e.callback {
                status["biz_opaque_callback_data"] = json!(callback);
            }
            status
        })
        .collect();
    meta_bytes(&envelope(
        waba_id,
        phone_number_id,
        json!({ "statuses": statuses }),
    ))
}

/// A customer writing a text to the number.
pub fn inbound_text_payload(
    waba_id: &str,
    phone_number_id: &str,
    from: &str,
    name: &str,
    text: &str,
    at_seconds: i64,
) -> Vec<u8> {
    let id = format!(
        "wamid.SBXIN{}",
        hex::encode(crate::crypto::random_bytes::<16>().unwrap_or_default()).to_uppercase()
    );
    meta_bytes(&envelope(
        waba_id,
        phone_number_id,
        json!({
            "contacts": [{"profile": {"name": name}, "wa_id": from}],
            "messages": [{"from": from, "id": id, "timestamp": at_seconds.to_string(),
                          "type": "text", "text": {"body": text}}],
        }),
    ))
}

/// JSON as Meta serialises it: every non-ASCII character escaped as `\uXXXX` (lowercase hex, UTF-16).
pub fn meta_bytes(value: &Value) -> Vec<u8> {
    let plain = value.to_string();
    let mut out = String::with_capacity(plain.len());
    for c in plain.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_is_escaped_as_meta_does() {
        let bytes = meta_bytes(&json!({"t": "مر😀"}));
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"t":"\u0645\u0631\ud83d\ude00"}"#
        );
        let back: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back["t"], "مر😀");
    }
}
