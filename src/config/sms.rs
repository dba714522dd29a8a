//! `[sms]`: the gateway one-time codes are sent through. A generic HTTP provider described by a request
//! template, or a preset (Twilio, Vonage, Unifonic) that needs only its credentials. Without it
//! (`provider = "none"`, the default) nothing is ever sent by SMS.
//!
//! Credentials are `Secret`s (masked wherever the configuration is printed) written in the file or the
//! environment, or each read from a file of its own (`auth_token_file = "/etc/whatsapi/sms-token"`) that
//! only the service's user may read: a file group or others could read is refused at start.

use super::{ConfigError, Secret, invalid, split_url};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const TWILIO_API_URL: &str = "https://api.twilio.com";
pub const VONAGE_API_URL: &str = "https://rest.nexmo.com";
pub const UNIFONIC_API_URL: &str = "https://el.cloud.unifonic.com";

/// The placeholders a template may use. `{secret}` is `sms.secret` (or the content of `sms.secret_file`).
pub const PLACEHOLDERS: [&str; 6] = ["to", "to_digits", "code", "text", "lang", "secret"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    /// No gateway: nothing is sent by SMS.
    None,
    /// Any HTTP gateway, described by `url`, `method`, `encoding`, `body`, `headers`, `accepted_when`.
    Http,
    Twilio,
    Vonage,
    Unifonic,
}

impl SmsProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsProvider::None => "none",
            SmsProvider::Http => "http",
            SmsProvider::Twilio => "twilio",
            SmsProvider::Vonage => "vonage",
            SmsProvider::Unifonic => "unifonic",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sms {
    pub provider: SmsProvider,
    /// Seconds a send may take in all (connecting, sending, the provider's answer), 1 to 60.
    pub timeout_secs: u64,

    // The generic provider ("http").
    /// Where the request goes; may hold placeholders (filled percent-encoded).
    pub url: String,
    /// POST, PUT or GET (GET sends the filled `body` as the query string).
    pub method: String,
    /// "json" (the body is JSON with the placeholders inside its strings) or "form".
    pub encoding: String,
    /// The request's body, with placeholders: {to} {to_digits} {code} {text} {lang} {secret}.
    pub body: String,
    /// Headers sent with each request; their values may use {secret}.
    pub headers: BTreeMap<String, Secret>,
    /// When not empty, a 2xx answer counts as accepted only if its body contains this.
    pub accepted_when: String,
    /// The value of {secret}, or a file holding it.
    pub secret: Option<Secret>,
    pub secret_file: Option<PathBuf>,

    // The presets.
    /// Where the preset's API is; empty: the provider's own. `https://`, or `http://` on this machine only.
    pub base_url: String,
    /// The sender: Twilio's `From` number, Vonage's `from`, Unifonic's `SenderID`.
    pub from: String,
    /// Twilio: the account SID (`AC...`), its auth token, and a messaging service instead of `from`.
    pub account_sid: String,
    pub auth_token: Option<Secret>,
    pub auth_token_file: Option<PathBuf>,
    pub messaging_service_sid: String,
    /// Vonage: the API key and secret.
    pub api_key: String,
    pub api_secret: Option<Secret>,
    pub api_secret_file: Option<PathBuf>,
    /// Unifonic: the application's AppSid.
    pub app_sid: Option<Secret>,
    pub app_sid_file: Option<PathBuf>,

    /// The secrets read from their files at validation.
    #[serde(skip)]
    from_files: FromFiles,
}

#[derive(Debug, Clone, Default)]
struct FromFiles {
    secret: Option<Secret>,
    auth_token: Option<Secret>,
    api_secret: Option<Secret>,
    app_sid: Option<Secret>,
}

impl Default for Sms {
    fn default() -> Self {
        Sms {
            provider: SmsProvider::None,
            timeout_secs: 10,
            url: String::new(),
            method: "POST".into(),
            encoding: "json".into(),
            body: String::new(),
            headers: BTreeMap::new(),
            accepted_when: String::new(),
            secret: None,
            secret_file: None,
            base_url: String::new(),
            from: String::new(),
            account_sid: String::new(),
            auth_token: None,
            auth_token_file: None,
            messaging_service_sid: String::new(),
            api_key: String::new(),
            api_secret: None,
            api_secret_file: None,
            app_sid: None,
            app_sid_file: None,
            from_files: FromFiles::default(),
        }
    }
}

impl Sms {
    /// Whether a gateway is configured (`provider` is not "none").
    pub fn enabled(&self) -> bool {
        self.provider != SmsProvider::None
    }

    /// `{secret}` of the generic provider (from `secret` or `secret_file`).
    pub fn secret(&self) -> Option<&Secret> {
        self.from_files.secret.as_ref().or(self.secret.as_ref())
    }

    /// Twilio's auth token (from `auth_token` or `auth_token_file`).
    pub fn auth_token(&self) -> Option<&Secret> {
        self.from_files
            .auth_token
            .as_ref()
            .or(self.auth_token.as_ref())
    }

    /// Vonage's API secret (from `api_secret` or `api_secret_file`).
    pub fn api_secret(&self) -> Option<&Secret> {
        self.from_files
            .api_secret
            .as_ref()
            .or(self.api_secret.as_ref())
    }

    /// Unifonic's AppSid (from `app_sid` or `app_sid_file`).
    pub fn app_sid(&self) -> Option<&Secret> {
        self.from_files.app_sid.as_ref().or(self.app_sid.as_ref())
    }

    /// The preset's API address: `base_url` when set, else the provider's own (normalised, no final /).
    pub fn preset_base(&self) -> &str {
        match (self.base_url.is_empty(), self.provider) {
            (false, _) => &self.base_url,
            (true, SmsProvider::Twilio) => TWILIO_API_URL,
            (true, SmsProvider::Vonage) => VONAGE_API_URL,
            (true, SmsProvider::Unifonic) => UNIFONIC_API_URL,
            (true, _) => "",
        }
    }

    /// Checks `[sms]` and reads the secrets kept in files. Run again, it reads them again.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        self.from_files = FromFiles::default();
        if !(1..=60).contains(&self.timeout_secs) {
            return Err(invalid("sms.timeout_secs", "must be between 1 and 60"));
        }
        self.refuse_other_providers_keys()?;
        self.method = self.method.trim().to_ascii_uppercase();
        self.encoding = self.encoding.trim().to_ascii_lowercase();
        if !matches!(self.method.as_str(), "POST" | "PUT" | "GET") {
            return Err(invalid("sms.method", "must be POST, PUT or GET"));
        }
        if !matches!(self.encoding.as_str(), "json" | "form") {
            return Err(invalid("sms.encoding", "must be \"json\" or \"form\""));
        }
        self.from_files.secret = secret_from(
            ("sms.secret", &self.secret),
            ("sms.secret_file", &self.secret_file),
        )?;
        self.from_files.auth_token = secret_from(
            ("sms.auth_token", &self.auth_token),
            ("sms.auth_token_file", &self.auth_token_file),
        )?;
        self.from_files.api_secret = secret_from(
            ("sms.api_secret", &self.api_secret),
            ("sms.api_secret_file", &self.api_secret_file),
        )?;
        self.from_files.app_sid = secret_from(
            ("sms.app_sid", &self.app_sid),
            ("sms.app_sid_file", &self.app_sid_file),
        )?;
        match self.provider {
            SmsProvider::None => Ok(()),
            SmsProvider::Http => self.validate_http(),
            _ => self.validate_preset(),
        }
    }

    /// A key of another provider is a mistake (a preset's key under "http", a template under "twilio"):
    /// refused, rather than silently unused.
    fn refuse_other_providers_keys(&self) -> Result<(), ConfigError> {
        use SmsProvider::*;
        let set: [(&'static str, bool, &[SmsProvider]); 17] = [
            ("sms.url", !self.url.is_empty(), &[Http]),
            ("sms.method", self.method != "POST", &[Http]),
            ("sms.encoding", self.encoding != "json", &[Http]),
            ("sms.body", !self.body.is_empty(), &[Http]),
            ("sms.headers", !self.headers.is_empty(), &[Http]),
            ("sms.accepted_when", !self.accepted_when.is_empty(), &[Http]),
            ("sms.secret", self.secret.is_some(), &[Http]),
            ("sms.secret_file", self.secret_file.is_some(), &[Http]),
            (
                "sms.base_url",
                !self.base_url.is_empty(),
                &[Twilio, Vonage, Unifonic],
            ),
            (
                "sms.from",
                !self.from.is_empty(),
                &[Twilio, Vonage, Unifonic],
            ),
            ("sms.account_sid", !self.account_sid.is_empty(), &[Twilio]),
            ("sms.auth_token", self.auth_token.is_some(), &[Twilio]),
            (
                "sms.auth_token_file",
                self.auth_token_file.is_some(),
                &[Twilio],
            ),
            (
                "sms.messaging_service_sid",
                !self.messaging_service_sid.is_empty(),
                &[Twilio],
            ),
            ("sms.api_key", !self.api_key.is_empty(), &[Vonage]),
            (
                "sms.api_secret",
                self.api_secret.is_some() || self.api_secret_file.is_some(),
                &[Vonage],
            ),
            (
                "sms.app_sid",
                self.app_sid.is_some() || self.app_sid_file.is_some(),
                &[Unifonic],
            ),
        ];
        for (key, is_set, providers) in set {
            if is_set && !providers.contains(&self.provider) {
                let names: Vec<String> = providers
                    .iter()
                    .map(|p| format!("\"{}\"", p.as_str()))
                    .collect();
                return Err(invalid(
                    key,
                    format!(
                        "is for provider = {} (this one is \"{}\"); remove it",
                        names.join(" or "),
                        self.provider.as_str()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_http(&mut self) -> Result<(), ConfigError> {
        if self.url.trim().is_empty() {
            return Err(invalid("sms.url", "is needed when sms.provider = \"http\""));
        }
        self.url = self.url.trim().to_owned();
        unknown_placeholder("sms.url", &self.url)?;
        check_address("sms.url", &fill_for_check(&self.url, "x"))?;
        unknown_placeholder("sms.body", &self.body)?;
        let url_has_placeholders = PLACEHOLDERS
            .iter()
            .any(|p| self.url.contains(&format!("{{{p}}}")));
        if self.body.trim().is_empty() && !(self.method == "GET" && url_has_placeholders) {
            return Err(invalid(
                "sms.body",
                "is needed: the request's template, e.g. '{\"to\": \"{to}\", \"message\": \"{text}\"}'",
            ));
        }
        if self.method == "GET" && self.encoding == "json" && !self.body.trim().is_empty() {
            return Err(invalid(
                "sms.encoding",
                "with method = \"GET\" the body is the query string: set encoding = \"form\"",
            ));
        }
        if self.encoding == "json" && !self.body.trim().is_empty() {
            // Filled with a quote, a placeholder outside a JSON string leaves invalid JSON.
            let filled = fill_for_check(&self.body, "\\\"x");
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&filled) {
                return Err(invalid(
                    "sms.body",
                    format!(
                        "is not JSON once filled ({e}); write the placeholders inside strings, e.g. \"{{code}}\""
                    ),
                ));
            }
        }
        for (name, value) in &self.headers {
            let name_ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !name_ok {
                return Err(invalid(
                    "sms.headers",
                    format!("{name:?} is not a header name"),
                ));
            }
            if value.expose().chars().any(char::is_control) {
                return Err(invalid(
                    "sms.headers",
                    format!("the value of {name} must be one line"),
                ));
            }
            let others = PLACEHOLDERS.iter().filter(|p| **p != "secret");
            if let Some(p) = others
                .into_iter()
                .find(|p| value.expose().contains(&format!("{{{p}}}")))
            {
                return Err(invalid(
                    "sms.headers",
                    format!("the value of {name} may use {{secret}} only, not {{{p}}}"),
                ));
            }
        }
        let used = self.url.contains("{secret}")
            || self.body.contains("{secret}")
            || self
                .headers
                .values()
                .any(|v| v.expose().contains("{secret}"));
        match (used, self.secret().is_some()) {
            (true, false) => Err(invalid(
                "sms.secret",
                "a template uses {secret}: set sms.secret or sms.secret_file",
            )),
            (false, true) => Err(invalid(
                "sms.secret",
                "is set but no template uses {secret} (in url, body or a header's value)",
            )),
            _ => Ok(()),
        }
    }

    fn validate_preset(&mut self) -> Result<(), ConfigError> {
        if !self.base_url.is_empty() {
            let normalized = super::normalize_base_url(&self.base_url)
                .map_err(|why| invalid("sms.base_url", why))?;
            check_address("sms.base_url", &normalized)?;
            self.base_url = normalized;
        }
        let provider = self.provider.as_str();
        let need = |key: &'static str, present: bool| {
            if present {
                Ok(())
            } else {
                Err(invalid(
                    key,
                    format!("is needed when sms.provider = \"{provider}\""),
                ))
            }
        };
        match self.provider {
            SmsProvider::Twilio => {
                need("sms.account_sid", !self.account_sid.trim().is_empty())?;
                // It goes in the request's path.
                if !self.account_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(invalid(
                        "sms.account_sid",
                        "must be Twilio's account SID (AC followed by letters and digits)",
                    ));
                }
                need("sms.auth_token", self.auth_token().is_some())?;
                if self.from.is_empty() == self.messaging_service_sid.is_empty() {
                    return Err(invalid(
                        "sms.from",
                        "Twilio needs sms.from (a number or sender id) or sms.messaging_service_sid, one of them",
                    ));
                }
            }
            SmsProvider::Vonage => {
                need("sms.api_key", !self.api_key.trim().is_empty())?;
                need("sms.api_secret", self.api_secret().is_some())?;
                need("sms.from", !self.from.trim().is_empty())?;
            }
            _ => need("sms.app_sid", self.app_sid().is_some())?,
        }
        Ok(())
    }
}

/// The secret written inline, or read from its file; both is a mistake. Returns what the file holds.
fn secret_from(
    (inline_key, inline): (&'static str, &Option<Secret>),
    (file_key, file): (&'static str, &Option<PathBuf>),
) -> Result<Option<Secret>, ConfigError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(invalid(
            inline_key,
            format!("set {inline_key} or {file_key}, not both"),
        )),
        (Some(value), None) if value.expose().trim().is_empty() => {
            Err(invalid(inline_key, "is empty"))
        }
        (_, Some(path)) => read_secret_file(file_key, path).map(Some),
        _ => Ok(None),
    }
}

/// A secret's file: owned by the service's user and readable by it only, one line.
fn read_secret_file(key: &'static str, path: &Path) -> Result<Secret, ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta =
        std::fs::metadata(path).map_err(|e| invalid(key, format!("cannot read {shown}: {e}")))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(invalid(
            key,
            format!(
                "{shown} is readable by others (mode {mode:o}); chmod 600 it and make it owned by the user that runs whatsapi"
            ),
        ));
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| invalid(key, format!("cannot read {shown}: {e}")))?,
    );
    let value = text.trim();
    if value.is_empty() {
        return Err(invalid(key, format!("{shown} is empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(key, format!("{shown} must hold one line")));
    }
    Ok(Secret(value.to_owned()))
}

/// `https://`, or `http://` only to this machine (a stand-in): codes and credentials go with each call.
fn check_address(key: &'static str, url: &str) -> Result<(), ConfigError> {
    let (origin, _, _) = split_url(url).map_err(|why| invalid(key, why))?;
    let refused = match origin.strip_prefix("http://") {
        Some(authority) => !super::billing::is_this_machine(authority),
        None => !origin.starts_with("https://"),
    };
    if refused {
        return Err(invalid(
            key,
            "must start with https:// (http:// only for a stand-in on 127.0.0.1, ::1 or localhost: credentials and codes go with every call)",
        ));
    }
    Ok(())
}

/// Refuses `{name}` that is not one of the placeholders (a typo would be sent as written).
fn unknown_placeholder(key: &'static str, template: &str) -> Result<(), ConfigError> {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        rest = &rest[start + 1..];
        let Some(end) = rest.find('}') else { break };
        let name = &rest[..end];
        let looks_like_one =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if looks_like_one && !PLACEHOLDERS.contains(&name) {
            return Err(invalid(
                key,
                format!(
                    "{{{name}}} is not a placeholder; they are {{to}} {{to_digits}} {{code}} {{text}} {{lang}} {{secret}}"
                ),
            ));
        }
    }
    Ok(())
}

/// The template with every placeholder replaced by `sample`, to check what it becomes.
fn fill_for_check(template: &str, sample: &str) -> String {
    PLACEHOLDERS.iter().fold(template.to_owned(), |t, p| {
        t.replace(&format!("{{{p}}}"), sample)
    })
}

#[cfg(test)]
mod tests;
