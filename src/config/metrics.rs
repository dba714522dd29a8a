//! `[metrics]`: the Prometheus endpoint `GET /metrics`.

use super::{Config, ConfigError, Secret, invalid};
use serde::{Deserialize, Serialize};

/// The shortest token accepted: a scraper's credential must not be guessable.
pub const MIN_TOKEN_CHARS: usize = 16;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// Serve `/metrics`. Off: the path answers 404.
    pub enabled: bool,
    /// The bearer token scrapers send (`Authorization: Bearer <token>`). Unset or empty: `/metrics` is
    /// served only to clients on this machine (loopback), which a reverse proxy in front hides, so a
    /// token is needed to scrape through one.
    pub token: Option<Secret>,
    /// Add an `account` label (the account's id, never its name) to the per-account families: sends and
    /// HTTP API requests. One series per account and route: only for installations with few accounts.
    pub per_account: bool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            enabled: true,
            token: None,
            per_account: false,
        }
    }
}

impl Metrics {
    /// The token scrapers must send, if one is set.
    pub fn token(&self) -> Option<&str> {
        self.token.as_ref().map(Secret::expose)
    }
}

impl Config {
    pub(super) fn validate_metrics(&mut self) -> Result<(), ConfigError> {
        let metrics = &mut self.metrics;
        if metrics.token().is_some_and(|t| t.trim().is_empty()) {
            metrics.token = None;
        }
        if let Some(token) = metrics.token() {
            if token.chars().count() < MIN_TOKEN_CHARS {
                return Err(invalid(
                    "metrics.token",
                    format!(
                        "at least {MIN_TOKEN_CHARS} characters (e.g. the output of `openssl rand -hex 32`)"
                    ),
                ));
            }
            if !token.chars().all(|c| c.is_ascii_graphic()) {
                return Err(invalid(
                    "metrics.token",
                    "printable ASCII characters without spaces, as an HTTP header carries them",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_long_and_printable_and_an_empty_one_is_none() {
        let mut config = Config::default();
        config.metrics.token = Some(Secret(String::new()));
        config.validate().unwrap();
        assert!(config.metrics.token().is_none());
        config.metrics.token = Some(Secret("short".into()));
        let err = config.validate().unwrap_err().to_string();
        assert!(err.starts_with("metrics.token"), "{err}");
        config.metrics.token = Some(Secret("a token with spaces in it".into()));
        assert!(config.validate().is_err());
        config.metrics.token = Some(Secret("0123456789abcdef".into()));
        config.validate().unwrap();
        assert_eq!(config.metrics.token(), Some("0123456789abcdef"));
    }
}
