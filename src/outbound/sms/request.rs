//! Each provider's request for one message, and how its answer says the message was accepted.
//!
//! - **http**: the operator's template. Placeholders are filled escaped for where they stand: inside the
//!   JSON body's strings as JSON string content, in a form body, the URL or a GET's query
//!   percent-encoded, in a header's value (only `{secret}`) as written.
//! - **Twilio**: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form `To` (E.164), `From`
//!   or `MessagingServiceSid`, `Body`, HTTP Basic auth with the account SID and auth token; accepted:
//!   a 2xx (201) whose JSON has a `sid`. Refused: its `code` and `message`.
//! - **Vonage** (SMS API): `POST {base}/sms/json`, form `api_key`, `api_secret`, `from`, `to` (digits, no
//!   +), `text`, and `type=unicode` when the text is not all GSM-7 (Arabic); HTTP 200 either way:
//!   accepted when every `messages[].status` is "0", else that message's `status` and `error-text`.
//! - **Unifonic**: `POST {base}/rest/SMS/messages`, form `AppSid`, `SenderID` (when set), `Recipient`
//!   (digits, no + or 00), `Body`; accepted when the JSON says `"success": true`, else its `errorCode`
//!   and `message`.

use super::SmsMessage;
use crate::config::{self, SMS_PLACEHOLDERS, Secret, SmsProvider};
use base64::Engine;
use serde_json::Value;

/// A request ready to go. It holds credentials: never printed.
pub(super) struct Outgoing {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub(super) enum Kind {
    Http(Template),
    Twilio {
        url: String,
        /// `Basic base64(sid:token)`.
        authorization: String,
        from: String,
        messaging_service: String,
    },
    Vonage {
        url: String,
        api_key: String,
        api_secret: Secret,
        from: String,
    },
    Unifonic {
        url: String,
        app_sid: Secret,
        sender: String,
    },
}

pub(super) struct Template {
    url: String,
    method: &'static str,
    json: bool,
    body: String,
    headers: Vec<(String, Secret)>,
    accepted_when: String,
    secret: Option<Secret>,
}

const FORM: &str = "application/x-www-form-urlencoded";

impl Kind {
    /// `None` for "none", or a preset without its credential (a configuration that was not validated).
    pub(super) fn new(config: &config::Sms) -> Option<Kind> {
        let base = config.preset_base().trim_end_matches('/');
        Some(match config.provider {
            SmsProvider::None => return None,
            SmsProvider::Http => Kind::Http(Template {
                url: config.url.clone(),
                method: match config.method.to_ascii_uppercase().as_str() {
                    "GET" => "GET",
                    "PUT" => "PUT",
                    _ => "POST",
                },
                json: !config.encoding.eq_ignore_ascii_case("form"),
                body: config.body.clone(),
                headers: config
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                accepted_when: config.accepted_when.clone(),
                secret: config.secret().cloned(),
            }),
            SmsProvider::Twilio => {
                let token = config.auth_token()?;
                let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    config.account_sid,
                    token.expose()
                ));
                Kind::Twilio {
                    url: format!(
                        "{base}/2010-04-01/Accounts/{}/Messages.json",
                        config.account_sid
                    ),
                    authorization: format!("Basic {basic}"),
                    from: config.from.clone(),
                    messaging_service: config.messaging_service_sid.clone(),
                }
            }
            SmsProvider::Vonage => Kind::Vonage {
                url: format!("{base}/sms/json"),
                api_key: config.api_key.clone(),
                api_secret: config.api_secret()?.clone(),
                from: config.from.clone(),
            },
            SmsProvider::Unifonic => Kind::Unifonic {
                url: format!("{base}/rest/SMS/messages"),
                app_sid: config.app_sid()?.clone(),
                sender: config.from.clone(),
            },
        })
    }

    pub(super) fn request(&self, message: &SmsMessage<'_>) -> Outgoing {
        let digits = message.to.trim_start_matches('+');
        let form = |fields: &[(&str, &str)]| {
            let pairs: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}={}", percent(k), percent(v)))
                .collect();
            pairs.join("&").into_bytes()
        };
        let form_headers = || {
            vec![
                ("Content-Type".to_owned(), FORM.to_owned()),
                ("Accept".to_owned(), "application/json".to_owned()),
            ]
        };
        match self {
            Kind::Http(template) => template.request(message),
            Kind::Twilio {
                url,
                authorization,
                from,
                messaging_service,
            } => {
                let sender = match from.is_empty() {
                    true => ("MessagingServiceSid", messaging_service.as_str()),
                    false => ("From", from.as_str()),
                };
                let mut headers = form_headers();
                headers.push(("Authorization".into(), authorization.clone()));
                Outgoing {
                    method: "POST",
                    url: url.clone(),
                    headers,
                    body: form(&[("To", message.to), sender, ("Body", message.text)]),
                }
            }
            Kind::Vonage {
                url,
                api_key,
                api_secret,
                from,
            } => {
                let mut fields = vec![
                    ("api_key", api_key.as_str()),
                    ("api_secret", api_secret.expose()),
                    ("from", from.as_str()),
                    ("to", digits),
                    ("text", message.text),
                ];
                if !is_gsm7(message.text) {
                    fields.push(("type", "unicode"));
                }
                Outgoing {
                    method: "POST",
                    url: url.clone(),
                    headers: form_headers(),
                    body: form(&fields),
                }
            }
            Kind::Unifonic {
                url,
                app_sid,
                sender,
            } => {
                let mut fields = vec![("AppSid", app_sid.expose())];
                if !sender.is_empty() {
                    fields.push(("SenderID", sender.as_str()));
                }
                fields.extend([("Recipient", digits), ("Body", message.text)]);
                Outgoing {
                    method: "POST",
                    url: url.clone(),
                    headers: form_headers(),
                    body: form(&fields),
                }
            }
        }
    }

    /// Whether an answer accepts the message; else the provider's words (still to be scrubbed).
    pub(super) fn judge(&self, status: u16, body: &str) -> Result<(), String> {
        let ok = (200..300).contains(&status);
        let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let text = |value: &Value| match value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let words = |code: String, message: String| match (code.is_empty(), message.is_empty()) {
            (true, true) => snippet(body),
            (true, false) => message,
            (false, true) => code,
            (false, false) => format!("{code}: {message}"),
        };
        match self {
            Kind::Http(template) => match (ok, template.accepted_when.as_str()) {
                (false, _) => Err(snippet(body)),
                (true, "") => Ok(()),
                (true, wanted) if body.contains(wanted) => Ok(()),
                (true, _) => Err(format!(
                    "the answer does not contain accepted_when: {}",
                    snippet(body)
                )),
            },
            Kind::Twilio { .. } => match json["sid"].as_str() {
                Some(sid) if ok && !sid.is_empty() => Ok(()),
                _ if ok => Err(format!("an answer without a sid: {}", snippet(body))),
                _ => Err(words(text(&json["code"]), text(&json["message"]))),
            },
            Kind::Vonage { .. } => {
                let messages = json["messages"].as_array().filter(|m| !m.is_empty());
                let Some(messages) = messages.filter(|_| ok) else {
                    return Err(snippet(body));
                };
                match messages.iter().find(|m| m["status"] != "0") {
                    None => Ok(()),
                    Some(m) => Err(format!(
                        "status {}: {}",
                        text(&m["status"]),
                        text(&m["error-text"])
                    )),
                }
            }
            Kind::Unifonic { .. } => {
                let success = json["success"] == true || json["success"] == "true";
                match ok && success {
                    true => Ok(()),
                    false => Err(words(text(&json["errorCode"]), text(&json["message"]))),
                }
            }
        }
    }
}

impl Template {
    fn request(&self, message: &SmsMessage<'_>) -> Outgoing {
        let digits = message.to.trim_start_matches('+');
        let secret = self.secret.as_ref().map(Secret::expose).unwrap_or_default();
        let values = [
            message.to,
            digits,
            message.code,
            message.text,
            message.lang,
            secret,
        ];
        let mut url = fill(&self.url, &values, Escape::Percent);
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut body = Vec::new();
        if self.method == "GET" {
            let query = fill(self.body.trim(), &values, Escape::Percent);
            if !query.is_empty() {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&query);
            }
        } else {
            let escape = if self.json {
                Escape::Json
            } else {
                Escape::Percent
            };
            body = fill(&self.body, &values, escape).into_bytes();
            let content_type = if self.json { "application/json" } else { FORM };
            headers.push(("Content-Type".into(), content_type.into()));
        }
        for (name, value) in &self.headers {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            headers.push((name.clone(), fill(value.expose(), &values, Escape::None)));
        }
        Outgoing {
            method: self.method,
            url,
            headers,
            body,
        }
    }
}

#[derive(Clone, Copy)]
pub(super) enum Escape {
    /// Inside a JSON string: its content, escaped.
    Json,
    /// In a URL or a form: every byte but the unreserved ones as %XX.
    Percent,
    None,
}

/// The template with each placeholder (`SMS_PLACEHOLDERS`, in order, the values in the same order)
/// replaced, in one pass: a value holding a placeholder's name is not filled again.
pub(super) fn fill(template: &str, values: &[&str; 6], escape: Escape) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    'scan: while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        for (name, value) in SMS_PLACEHOLDERS.iter().zip(values) {
            if let Some(after) = rest
                .strip_prefix('{')
                .and_then(|r| r.strip_prefix(name))
                .and_then(|r| r.strip_prefix('}'))
            {
                match escape {
                    Escape::Json => {
                        let quoted = serde_json::to_string(value).unwrap_or_default();
                        out.push_str(&quoted[1..quoted.len() - 1]);
                    }
                    Escape::Percent => out.push_str(&percent(value)),
                    Escape::None => out.push_str(value),
                }
                rest = after;
                continue 'scan;
            }
        }
        out.push('{');
        rest = &rest[1..];
    }
    out.push_str(rest);
    out
}

/// Percent-encoding of everything but `A-Z a-z 0-9 - . _ ~` (RFC 3986's unreserved characters).
pub(super) fn percent(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether every character is in GSM 03.38's default alphabet or its extension table (else an SMS is
/// sent as UCS-2, "unicode" for Vonage).
pub(super) fn is_gsm7(text: &str) -> bool {
    const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                         ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const EXTENSION: &str = "\u{c}^{}\\[~]|€";
    text.chars()
        .all(|c| BASIC.contains(c) || EXTENSION.contains(c))
}

/// The start of an answer, for words when the provider gave no structured ones.
fn snippet(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return "an empty answer".into();
    }
    match body.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &body[..at]),
        None => body.to_owned(),
    }
}
