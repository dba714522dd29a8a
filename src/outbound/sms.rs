//! The SMS gateway one-time codes are sent through (`[sms]`): a generic HTTP provider filled from the
//! operator's template, or Twilio, Vonage or Unifonic in their documented shapes (`sms/request.rs`).
//!
//! It sends codes and nothing else: [`SmsGateway::send`] refuses a text that does not carry its code, and
//! the only other text is the fixed test message of `whatsapi sms test` ([`SmsGateway::send_test`]).
//! There is no way to send anything else by SMS.
//!
//! One `ureq::Agent` per gateway, with the configured timeout for the whole call; redirects are not
//! followed (a 3xx is a refusal). The address is the operator's (`https://`, or `http://` on this machine,
//! checked when the configuration is loaded). A failed send is logged once, here, with the provider, the
//! HTTP status and the provider's words: never the code, the text or a credential, and of the number only
//! its last two digits (a provider that echoes any of them has it masked).

mod request;

use crate::config::{self, Secret, SmsProvider};
use request::{Kind, Outgoing};
use std::sync::Arc;
use std::time::Duration;

/// One text to one number.
pub struct SmsMessage<'a> {
    /// E.164 with the leading + (already validated by the caller).
    pub to: &'a str,
    /// The whole text to send, in the person's language, with the code in it.
    pub text: &'a str,
    /// The code alone (4 to 10 digits), for a template's {code}.
    pub code: &'a str,
    /// "en" or "ar", for a template's {lang}.
    pub lang: &'a str,
}

/// Why a message was not sent. Its words never hold the text, the code, a credential or the number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsError {
    /// Not a message this gateway sends (a number that is not E.164, a text without its code); nothing
    /// was sent.
    Invalid(String),
    /// The provider did not answer within `[sms] timeout_secs`.
    Timeout { provider: &'static str, secs: u64 },
    /// No answer: the connection failed (refused, TLS, an unknown host) or the answer was unreadable.
    Unreachable {
        provider: &'static str,
        detail: String,
    },
    /// The provider answered without accepting the message: its HTTP status and its words.
    Refused {
        provider: &'static str,
        http_status: u16,
        detail: String,
    },
}

impl std::fmt::Display for SmsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmsError::Invalid(why) => write!(f, "the SMS was not sent: {why}"),
            SmsError::Timeout { provider, secs } => write!(
                f,
                "the SMS provider ({provider}) did not answer within {secs} s"
            ),
            SmsError::Unreachable { provider, detail } => write!(
                f,
                "the SMS provider ({provider}) could not be reached: {detail}"
            ),
            SmsError::Refused {
                provider,
                http_status,
                detail,
            } => write!(
                f,
                "the SMS provider ({provider}) did not accept the message (HTTP {http_status}): {detail}"
            ),
        }
    }
}

impl std::error::Error for SmsError {}

impl From<SmsError> for crate::error::Error {
    fn from(error: SmsError) -> crate::error::Error {
        crate::error::Error::Unavailable(error.to_string())
    }
}

/// The configured gateway. Cheap to clone (shared inside), so a send can move to a blocking thread.
#[derive(Clone)]
pub struct SmsGateway {
    inner: Arc<Inner>,
}

struct Inner {
    agent: ureq::Agent,
    provider: SmsProvider,
    kind: Kind,
    timeout_secs: u64,
    /// Every credential, masked out of anything logged or shown.
    secrets: Vec<Secret>,
}

impl std::fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsGateway")
            .field("provider", &self.provider_name())
            .field("timeout_secs", &self.inner.timeout_secs)
            .finish_non_exhaustive()
    }
}

/// The `{code}` of the test message, for templates that send the code alone.
const TEST_CODE: &str = "000000";

/// Most bytes of a provider's answer read.
const ANSWER_LIMIT: u64 = 256 * 1024;

impl SmsGateway {
    /// The gateway of a validated `[sms]`; `None` when none is configured (or, for a configuration that
    /// was not validated, when the preset lacks a credential).
    pub fn new(config: &config::Sms) -> Option<SmsGateway> {
        if !config.enabled() {
            return None;
        }
        let kind = Kind::new(config)?;
        let secrets = [
            config.secret(),
            config.auth_token(),
            config.api_secret(),
            config.app_sid(),
        ]
        .into_iter()
        .flatten()
        .chain(config.headers.values())
        .cloned()
        .collect();
        let timeout = Duration::from_secs(config.timeout_secs);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("whatsapi/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Some(SmsGateway {
            inner: Arc::new(Inner {
                agent,
                provider: config.provider,
                kind,
                timeout_secs: config.timeout_secs,
                secrets,
            }),
        })
    }

    /// "http", "twilio", "vonage" or "unifonic".
    pub fn provider_name(&self) -> &'static str {
        self.inner.provider.as_str()
    }

    /// Sends one code. Blocking (the caller runs it on a blocking thread); `Ok` once the provider
    /// accepted the message. A failure is logged here (without the code, the text or the number).
    pub fn send(&self, message: &SmsMessage<'_>) -> Result<(), SmsError> {
        let code = message.code;
        if !(4..=10).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SmsError::Invalid("a code is 4 to 10 digits".into()));
        }
        if !message.text.contains(code) {
            return Err(SmsError::Invalid(
                "the text does not hold its code (SMS carries codes only)".into(),
            ));
        }
        self.deliver(message)
    }

    /// Sends the fixed test message of `whatsapi sms test` (`{code}` is 000000).
    pub fn send_test(&self, to: &str, product_name: &str) -> Result<(), SmsError> {
        let text = test_text(product_name);
        self.deliver(&SmsMessage {
            to,
            text: &text,
            code: TEST_CODE,
            lang: "en",
        })
    }

    fn deliver(&self, message: &SmsMessage<'_>) -> Result<(), SmsError> {
        if !is_e164(message.to) {
            return Err(SmsError::Invalid(
                "the number is not E.164 (+ and 8 to 15 digits)".into(),
            ));
        }
        let provider = self.provider_name();
        let masked = mask_number(message.to);
        let scrub = Scrub::new(message, &self.inner.secrets);
        let outgoing = self.inner.kind.request(message);
        let result = self
            .call(outgoing)
            .map_err(|detail| detail.into_error(provider, self.inner.timeout_secs, &scrub))
            .and_then(|(status, body)| {
                self.inner
                    .kind
                    .judge(status, &body)
                    .map_err(|detail| SmsError::Refused {
                        provider,
                        http_status: status,
                        detail: scrub.clean(&detail),
                    })
            });
        match &result {
            Ok(()) => tracing::info!(provider, to = %masked, "SMS accepted by the provider"),
            Err(error) => tracing::warn!(provider, to = %masked, "SMS not sent: {error}"),
        }
        result
    }

    /// Makes the call: the answer's status and body, or why there is none.
    fn call(&self, outgoing: Outgoing) -> Result<(u16, String), Failure> {
        let agent = &self.inner.agent;
        let Outgoing {
            method,
            url,
            headers,
            body,
        } = outgoing;
        let response = match method {
            "GET" => {
                let mut request = agent.get(&url);
                for (name, value) in &headers {
                    request = request.header(name.as_str(), value.as_str());
                }
                request.call()
            }
            _ => {
                let mut request = if method == "PUT" {
                    agent.put(&url)
                } else {
                    agent.post(&url)
                };
                for (name, value) in &headers {
                    request = request.header(name.as_str(), value.as_str());
                }
                request.send(&body[..])
            }
        };
        let mut response = response.map_err(Failure::from)?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(ANSWER_LIMIT)
            .read_to_vec()
            .map_err(Failure::from)?;
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }
}

/// The text of `whatsapi sms test`.
pub fn test_text(product_name: &str) -> String {
    format!("{product_name}: a test message from your server. No action needed.")
}

/// `+` and 8 to 15 digits, the first not 0 (the shape of E.164; the caller checks the number's plan).
pub fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// The number for logs: its last two digits only (`+**********67`).
pub fn mask_number(number: &str) -> String {
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    number
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen + 2 <= digits { '*' } else { c }
            } else {
                c
            }
        })
        .collect()
}

/// Why a call has no answer, before it is put in words.
enum Failure {
    Timeout,
    Other(String),
}

impl From<ureq::Error> for Failure {
    fn from(error: ureq::Error) -> Failure {
        match error {
            ureq::Error::Timeout(_) => Failure::Timeout,
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => Failure::Timeout,
            other => Failure::Other(other.to_string()),
        }
    }
}

impl Failure {
    fn into_error(self, provider: &'static str, secs: u64, scrub: &Scrub) -> SmsError {
        match self {
            Failure::Timeout => SmsError::Timeout { provider, secs },
            Failure::Other(detail) => SmsError::Unreachable {
                provider,
                detail: scrub.clean(&detail),
            },
        }
    }
}

/// Every run of 7 or more digits masked but its last two.
fn mask_long_digit_runs(words: &str) -> String {
    let mut out = String::with_capacity(words.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 7 {
            out.push_str(&mask_number(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in words.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Masks what must not be logged out of a provider's words or a transport error: the text, the code,
/// every credential, the number's digits but the last two (and those of any run of 7 digits or more, the
/// number perhaps written otherwise). Control characters become spaces (one log
/// line), and the words are cut at 300 characters.
struct Scrub {
    /// What to replace, longest first, and with what.
    needles: Vec<(String, String)>,
}

impl Scrub {
    fn new(message: &SmsMessage<'_>, secrets: &[Secret]) -> Scrub {
        let digits: String = message.to.chars().filter(char::is_ascii_digit).collect();
        let mut needles = vec![
            (message.text.to_owned(), "[text]".to_owned()),
            (message.code.to_owned(), "[code]".to_owned()),
            (digits.clone(), mask_number(&digits)),
        ];
        for secret in secrets {
            needles.push((secret.expose().to_owned(), "********".into()));
        }
        needles.retain(|(needle, _)| needle.len() >= 4);
        needles.sort_by_key(|(needle, _)| std::cmp::Reverse(needle.len()));
        Scrub { needles }
    }

    fn clean(&self, words: &str) -> String {
        let mut clean: String = words
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        for (needle, mask) in &self.needles {
            clean = clean.replace(needle.as_str(), mask);
        }
        // Any other run of 7 digits or more may be the number in another form (national, with 00).
        let clean = mask_long_digit_runs(&clean);
        let clean = clean.trim();
        match clean.char_indices().nth(300) {
            Some((at, _)) => format!("{}…", &clean[..at]),
            None => clean.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests;
