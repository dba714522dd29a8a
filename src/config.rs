//! The configuration: built-in defaults, then the TOML file, then `WHATSAPI_<SECTION>__<KEY>` environment variables.
//! Unknown keys are errors (a typo must not silently fall back to a default), and everything is validated
//! before the server starts.

use rocket::figment::Figment;
use rocket::figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

mod abuse;
mod backup;
mod billing;
mod errors;
mod messaging;
mod meta;
mod metrics;
mod people;
mod proxies;
mod sms;
mod storage;
pub use abuse::Abuse;
pub use backup::Backup;
pub use billing::{Billing, Feature, Plan, Plans, Provider, STRIPE_API_URL};
pub use messaging::{Keyword, Messaging};
pub use meta::{META_GRAPH_URL, Meta, normalize_base_url, split_url};
pub use metrics::Metrics;
pub use people::{
    Accounts, Branding, Sandbox, SandboxDelays, Sender, Sessions, Smtp, SmtpSecurity, Webhooks,
};
pub use proxies::{Network, in_block};
pub use sms::{
    PLACEHOLDERS as SMS_PLACEHOLDERS, Sms, SmsProvider, TWILIO_API_URL, UNIFONIC_API_URL,
    VONAGE_API_URL,
};
pub use storage::{KeystoreFiles, MAX_RETENTION_DAYS, Retention, Storage, Synchronous};

/// Where packages install the configuration; read when present and no `--config` is given.
pub const SYSTEM_CONFIG: &str = "/etc/whatsapi/config.toml";
pub const ENV_PREFIX: &str = "WHATSAPI_";
/// `[server] shutdown_secs` unless set.
pub const SHUTDOWN_SECS: u64 = 10;
/// The commented example, shipped inside the binary so `whatsapi init` can write it.
pub const EXAMPLE: &str = include_str!("../config.example.toml");

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: Server,
    pub storage: Storage,
    pub log: Log,
    pub accounts: Accounts,
    pub sessions: Sessions,
    pub smtp: Smtp,
    pub branding: Branding,
    pub sender: Sender,
    pub sandbox: Sandbox,
    pub meta: Meta,
    pub webhooks: Webhooks,
    pub retention: Retention,
    /// `[backup]`: scheduled backups of the database (off by default).
    pub backup: Backup,
    pub metrics: Metrics,
    pub billing: Billing,
    /// `[abuse]`: the signals of abuse and fraud, and what to do about them.
    pub abuse: Abuse,
    /// `[sms]`: the gateway one-time codes are sent through (none by default).
    pub sms: Sms,
    /// `[messaging]`: the words customers opt out and back in with.
    pub messaging: Messaging,
    /// `[[plans]]`: what accounts may buy. Without any, one built-in plan without limits.
    pub plans: Plans,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub address: IpAddr,
    /// 0 picks a free port (the chosen one is logged).
    pub port: u16,
    /// The address people and Meta use to reach this server; derived from address and port when empty.
    pub public_url: String,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Header a trusted proxy sets to the client's address (e.g. "X-Real-IP"). Empty: X-Forwarded-For.
    /// Read only when the peer is one of `trusted_proxies`, since a header from anyone else could be forged.
    pub client_ip_header: String,
    /// Connections open at once; at the limit the longest idle one is closed to make room. Lowered to
    /// what the open-files limit allows after the server's own files (see `server_limits`).
    pub max_connections: usize,
    /// Seconds a connection may stay open with no request in progress (before its request head is
    /// complete, or between requests); slow or silent clients are cut off after it.
    pub idle_timeout_secs: u64,
    /// Reverse proxies (addresses or CIDR blocks) whose forwarding headers are believed. Empty: none, the
    /// client is the connecting peer.
    pub trusted_proxies: Vec<String>,
    /// Seconds a stop may take: requests, sends to Meta and deliveries to customers' webhooks in progress
    /// finish within it, or are put back in their queue for the next start.
    pub shutdown_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub level: LogLevel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            address: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            public_url: String::new(),
            tls_cert: None,
            tls_key: None,
            client_ip_header: String::new(),
            max_connections: 4096,
            idle_timeout_secs: 15,
            trusted_proxies: Vec::new(),
            shutdown_secs: SHUTDOWN_SECS,
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: LogLevel::Info,
        }
    }
}

/// A configuration secret: never printed, never logged.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"********\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("********")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    Missing(PathBuf),
    #[error("{0} is a directory; give the configuration file (e.g. {example})", example = SYSTEM_CONFIG)]
    Directory(PathBuf),
    #[error("{0}")]
    Parse(String),
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

impl Config {
    /// Loads and validates the configuration. `path` is `--config`; without it the system file is read when present.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match path {
            Some(path) if path.is_dir() => return Err(ConfigError::Directory(path.to_owned())),
            Some(path) if !path.is_file() => return Err(ConfigError::Missing(path.to_owned())),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(SYSTEM_CONFIG).is_file() => {
                figment = figment.merge(Toml::file_exact(SYSTEM_CONFIG))
            }
            None => {}
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        let mut config: Config = figment
            .extract()
            .map_err(|errors| ConfigError::Parse(errors::describe(errors)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks everything that can be checked before start, and fills in derived values.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        let tls = match (&self.server.tls_cert, &self.server.tls_key) {
            (None, None) => false,
            (Some(cert), Some(key)) => {
                for (name, path) in [("server.tls_cert", cert), ("server.tls_key", key)] {
                    if !path.is_file() {
                        return Err(invalid(
                            name,
                            format!("{} is not a readable file", path.display()),
                        ));
                    }
                }
                true
            }
            _ => {
                return Err(invalid(
                    "server.tls_cert",
                    "set both server.tls_cert and server.tls_key, or neither",
                ));
            }
        };
        self.server.public_url = normalize_public_url(&self.server, tls)?;
        if self.server.max_connections == 0 {
            return Err(invalid("server.max_connections", "must be at least 1"));
        }
        if !(1..=3600).contains(&self.server.idle_timeout_secs) {
            return Err(invalid(
                "server.idle_timeout_secs",
                "between 1 and 3600 seconds",
            ));
        }
        if !(1..=3600).contains(&self.server.shutdown_secs) {
            return Err(invalid(
                "server.shutdown_secs",
                "between 1 and 3600 seconds",
            ));
        }
        self.server.validate_proxies()?;

        self.validate_storage()?;
        self.validate_people()?;
        self.validate_meta()?;
        self.validate_retention()?;
        self.validate_backup()?;
        self.validate_metrics()?;
        self.validate_abuse()?;
        self.sms.validate()?;
        self.validate_messaging()?;
        self.validate_billing()
    }

    pub fn uses_tls(&self) -> bool {
        self.server.tls_cert.is_some()
    }

    /// Port 0 asks for any free port. Links in emails and logs need the real one, so the port is chosen
    /// here, before the server starts, and a derived public URL follows it.
    pub fn choose_free_port(&mut self) -> std::io::Result<()> {
        if self.server.port != 0 {
            return Ok(());
        }
        let derived = normalize_public_url(
            &Server {
                public_url: String::new(),
                ..self.server.clone()
            },
            self.uses_tls(),
        )
        .ok();
        let port = std::net::TcpListener::bind((self.server.address, 0))?
            .local_addr()?
            .port();
        self.server.port = port;
        if derived.as_deref() == Some(self.server.public_url.as_str()) {
            self.server.public_url.clear();
            self.server.public_url =
                normalize_public_url(&self.server, self.uses_tls()).unwrap_or_default();
        }
        Ok(())
    }

    /// Cookies get `Secure` and the `__Host-` prefix when browsers reach us over https.
    pub fn secure_cookies(&self) -> bool {
        self.uses_tls() || self.server.public_url.starts_with("https://")
    }

    /// The privacy page's address, for emails.
    pub fn privacy_link(&self) -> String {
        format!("{}/privacy", self.server.public_url)
    }

    /// The effective configuration as TOML, with secrets masked.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self)
            .unwrap_or_else(|e| format!("# could not render the configuration: {e}\n"))
    }
}

fn normalize_public_url(server: &Server, tls: bool) -> Result<String, ConfigError> {
    let url = server.public_url.trim().trim_end_matches('/');
    if url.is_empty() {
        let scheme = if tls { "https" } else { "http" };
        let host = match server.address {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        return Ok(format!("{scheme}://{host}:{}", server.port));
    }
    let not_absolute = || {
        invalid(
            "server.public_url",
            format!(
                "{url:?} must be an absolute URL that starts with http:// or https:// and names a host \
                 (e.g. https://wa.example.com)"
            ),
        )
    };
    let parsed = rocket::http::uri::Absolute::parse(url).map_err(|_| not_absolute())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.authority().is_none() {
        return Err(not_absolute());
    }
    if parsed.query().is_some() {
        return Err(invalid("server.public_url", "must not have a query string"));
    }
    Ok(url.to_owned())
}

/// Parses a cron expression: six fields with seconds first ("0 0 3 * * *"), or a classic five-field
/// crontab line, which runs at second 0.
pub fn parse_schedule(expr: &str) -> Result<cron::Schedule, String> {
    let expr = expr.trim();
    let full = if expr.split_whitespace().count() == 5 {
        format!("0 {expr}")
    } else {
        expr.to_owned()
    };
    cron::Schedule::from_str(&full).map_err(|e| {
        format!("{expr:?} is not a cron expression ({e}); write six fields with seconds first, e.g. \"0 0 3 * * *\"")
    })
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        };
        f.write_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_documents_every_key() {
        let defaults = toml::Value::try_from(Config::default()).unwrap();
        let mut section = String::new();
        let mut documented = std::collections::HashSet::new();
        for line in EXAMPLE.lines() {
            let line = line.trim_start_matches('#').trim();
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                // `[[plans]]` documents the keys of every plan.
                section = name.trim_matches(['[', ']']).to_owned();
            } else if let Some((key, _)) = line.split_once(" = ") {
                documented.insert(format!("{section}.{key}"));
            }
        }
        for (name, value) in defaults.as_table().unwrap() {
            let tables = match value {
                toml::Value::Array(items) => items.iter().collect(),
                table => vec![table],
            };
            for key in tables.iter().flat_map(|t| t.as_table().unwrap().keys()) {
                assert!(
                    documented.contains(&format!("{name}.{key}")),
                    "{name}.{key} is not in config.example.toml"
                );
            }
        }
        for optional in [
            "server.tls_cert",
            "server.tls_key",
            "smtp.password",
            "branding.static_dir",
            "billing.stripe_secret_key",
            "billing.stripe_webhook_secret",
            "metrics.token",
            "sms.secret",
            "sms.secret_file",
            "sms.auth_token",
            "sms.auth_token_file",
            "sms.api_secret",
            "sms.api_secret_file",
            "sms.app_sid",
            "sms.app_sid_file",
            "plans.messages_per_month",
            "plans.api_requests_per_minute",
            "plans.connections",
            "plans.members",
            "plans.webhook_endpoints",
            "plans.names",
            "plans.price",
            "plans.stripe_price",
        ] {
            assert!(
                documented.contains(optional),
                "{optional} is not in config.example.toml"
            );
        }
    }

    #[test]
    fn five_field_crontab_lines_are_accepted() {
        assert!(parse_schedule("0 3 * * *").is_ok());
        assert!(parse_schedule("0 0 3 * * *").is_ok());
        let err = parse_schedule("every night").unwrap_err();
        assert!(err.contains("six fields"), "{err}");
    }

    #[test]
    fn retention_periods_and_schedule_are_checked() {
        let mut config = Config::default();
        config.validate().unwrap();
        assert_eq!(config.retention.message_days, 90);
        config.retention.activity_days = 0;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.starts_with("retention.activity_days"), "{err}");
        config.retention.activity_days = 3651;
        assert!(config.validate().is_err());
        config.retention.activity_days = 3650;
        config.retention.schedule = "at three".into();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.starts_with("retention.schedule"), "{err}");
    }

    #[test]
    fn key_file_inside_data_dir_is_refused() {
        let mut config = Config::default();
        config.storage.key_file = PathBuf::from("./whatsapi-data/master.key");
        let err = config.validate().unwrap_err().to_string();
        assert!(err.starts_with("storage.key_file"), "{err}");
    }

    #[test]
    fn public_url_is_derived_and_checked() {
        let mut config = Config::default();
        config.validate().unwrap();
        assert_eq!(config.server.public_url, "http://127.0.0.1:8080");
        config.server.public_url = "ftp://example.com".into();
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("server.public_url")
        );
        config.server.public_url = "https://wa.example.com/".into();
        config.validate().unwrap();
        assert_eq!(config.server.public_url, "https://wa.example.com");
    }

    #[test]
    fn secrets_are_masked_when_printed() {
        #[derive(Serialize, Debug)]
        struct Section {
            password: Secret,
        }
        let section = Section {
            password: Secret("s3cret-token".into()),
        };
        assert!(!toml::to_string(&section).unwrap().contains("s3cret"));
        assert!(!format!("{section:?}").contains("s3cret"));
        assert_eq!(section.password.expose(), "s3cret-token");
    }
}
