//! `[abuse]`: the signals of abuse and fraud the abuse job looks for, their thresholds, what it does when
//! it finds one (tell the operators, hold the account's sending).

use super::{Config, ConfigError, invalid};
use serde::{Deserialize, Serialize};

/// The thresholds count what happened in one UTC day, the day the job runs in (the daily usage roll-ups
/// are its record). Twice a threshold (or more) makes a signal's severity high.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Abuse {
    pub enabled: bool,
    /// Seconds between two runs of the job.
    pub every_secs: u64,
    /// Share of the day's messages that failed (0 to 1) ...
    pub failure_rate: f64,
    /// ... once the account sent at least this many that day.
    pub failure_min_messages: u64,
    /// Failures with Meta's errors of spam-like sending (131026, 131048, 131049, 131050) in a day.
    pub spam_errors: u64,
    /// The day's messages over the account's average day of the 7 before ...
    pub volume_factor: f64,
    /// ... once the day has at least this many.
    pub volume_min_messages: u64,
    /// Wrong passwords typed for the account's people in a day.
    pub failed_sign_ins: u64,
    /// Distinct client addresses one API key was used from in a day.
    pub key_addresses: u64,
    /// An account this young (days) ...
    pub new_account_days: u32,
    /// ... that sent to this many numbers that had not written to it first.
    pub new_recipients: u64,
    /// A high signal holds the account's sending until an operator releases it.
    pub auto_hold: bool,
    /// Each new signal is emailed to every operator, once.
    pub operator_emails: bool,
}

impl Default for Abuse {
    fn default() -> Self {
        Abuse {
            enabled: true,
            every_secs: 300,
            failure_rate: 0.25,
            failure_min_messages: 20,
            spam_errors: 10,
            volume_factor: 5.0,
            volume_min_messages: 200,
            failed_sign_ins: 20,
            key_addresses: 10,
            new_account_days: 3,
            new_recipients: 100,
            auto_hold: false,
            operator_emails: true,
        }
    }
}

/// The largest count threshold.
pub const MAX_COUNT: u64 = 1_000_000;

impl Config {
    pub(super) fn validate_abuse(&self) -> Result<(), ConfigError> {
        let abuse = &self.abuse;
        if !(1..=86_400).contains(&abuse.every_secs) {
            return Err(invalid(
                "abuse.every_secs",
                "must be between 1 and 86400 seconds",
            ));
        }
        if !(abuse.failure_rate > 0.0 && abuse.failure_rate <= 1.0) {
            return Err(invalid(
                "abuse.failure_rate",
                "a share of the messages: more than 0, at most 1 (0.25 is a quarter)",
            ));
        }
        if !(abuse.volume_factor >= 1.0 && abuse.volume_factor <= 1000.0) {
            return Err(invalid(
                "abuse.volume_factor",
                "must be between 1 and 1000 (times the daily average)",
            ));
        }
        for (key, count) in [
            ("abuse.failure_min_messages", abuse.failure_min_messages),
            ("abuse.spam_errors", abuse.spam_errors),
            ("abuse.volume_min_messages", abuse.volume_min_messages),
            ("abuse.failed_sign_ins", abuse.failed_sign_ins),
            ("abuse.new_recipients", abuse.new_recipients),
        ] {
            if !(1..=MAX_COUNT).contains(&count) {
                return Err(invalid(key, format!("must be between 1 and {MAX_COUNT}")));
            }
        }
        // The addresses of a key are kept in memory up to twice this (`services::abuse::addresses`).
        if !(2..=10_000).contains(&abuse.key_addresses) {
            return Err(invalid(
                "abuse.key_addresses",
                "must be between 2 and 10000",
            ));
        }
        if !(1..=365).contains(&abuse.new_account_days) {
            return Err(invalid(
                "abuse.new_account_days",
                "must be between 1 and 365 days",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(change: impl FnOnce(&mut Abuse)) -> String {
        let mut config = Config::default();
        change(&mut config.abuse);
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn thresholds_out_of_range_are_refused_by_name() {
        let mut config = Config::default();
        config.validate().unwrap();
        assert_eq!(config.abuse.every_secs, 300);
        assert!(!config.abuse.auto_hold && config.abuse.operator_emails);
        type Change = fn(&mut Abuse);
        let cases: [(&str, Change); 8] = [
            ("abuse.every_secs", |a| a.every_secs = 0),
            ("abuse.failure_rate", |a| a.failure_rate = 0.0),
            ("abuse.failure_rate", |a| a.failure_rate = 1.5),
            ("abuse.failure_rate", |a| a.failure_rate = f64::NAN),
            ("abuse.volume_factor", |a| a.volume_factor = 0.5),
            ("abuse.spam_errors", |a| a.spam_errors = 0),
            ("abuse.key_addresses", |a| a.key_addresses = 1),
            ("abuse.new_account_days", |a| a.new_account_days = 0),
        ];
        for (key, change) in cases {
            let error = refused(change);
            assert!(error.starts_with(key), "{key}: {error}");
        }
        // The positive control: the edges themselves are accepted.
        config.abuse.every_secs = 1;
        config.abuse.failure_rate = 1.0;
        config.abuse.volume_factor = 1.0;
        config.abuse.key_addresses = 2;
        config.validate().unwrap();
    }
}
