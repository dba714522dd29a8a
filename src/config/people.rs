//! Configuration of sign-up, sessions, email and branding.

use super::{Config, ConfigError, Secret, invalid, parse_schedule};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sender {
    /// Threads calling Meta at once, at least and at most. Each waits for Meta's answer, so the pool is
    /// sized to what the numbers with work may send times Meta's observed latency (Little's law), within
    /// these bounds.
    pub min_workers: usize,
    pub max_workers: usize,
    /// The older name of `max_workers`, still read: when set, it is the most.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// When every connection's message templates are fetched again from Meta (cron, UTC).
    pub template_sync_schedule: String,
    /// Seconds a message claimed for sending stays with its worker: longer than a call to Meta may take
    /// (30 s), so that only a stopped process leaves one behind (it is sent again at the next start).
    pub lease_secs: u64,
}

impl Default for Sender {
    fn default() -> Self {
        Sender {
            min_workers: 8,
            max_workers: 256,
            workers: None,
            template_sync_schedule: "0 15 * * * *".into(),
            lease_secs: 45,
        }
    }
}

/// Delivery of events to customers' own webhook endpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Webhooks {
    /// Allow plain http and private, loopback or link-local targets (development and tests only).
    pub allow_insecure_targets: bool,
    /// Seconds to wait for an endpoint's answer.
    pub timeout_secs: u64,
    /// Deliveries attempted at once.
    pub workers: usize,
    /// Seconds before each retry after a failed attempt; after the last, the delivery is dead-lettered.
    pub retry_delays_secs: Vec<u64>,
}

impl Default for Webhooks {
    fn default() -> Self {
        Webhooks {
            allow_insecure_targets: false,
            timeout_secs: 15,
            workers: 8,
            // About three days in all: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h, 24 h.
            retry_delays_secs: vec![5, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 50_400, 86_400],
        }
    }
}

/// The built-in Meta simulator: how long after accepting a message it posts each status webhook.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sandbox {
    pub sent_after_ms: u64,
    pub delivered_after_ms: u64,
    pub read_after_ms: u64,
    /// How long after a template is submitted the sandbox posts its review (approved, or rejected for a
    /// name starting with `reject_`).
    pub template_review_after_ms: u64,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox {
            sent_after_ms: 100,
            delivered_after_ms: 1_000,
            read_after_ms: 3_000,
            template_review_after_ms: 1_500,
        }
    }
}

impl Sandbox {
    pub fn delays(&self) -> SandboxDelays {
        SandboxDelays {
            sent: Duration::from_millis(self.sent_after_ms),
            delivered: Duration::from_millis(self.delivered_after_ms),
            read: Duration::from_millis(self.read_after_ms),
        }
    }
}

/// How long after the sandbox accepts a message each of its statuses is posted.
#[derive(Debug, Clone, Copy)]
pub struct SandboxDelays {
    pub sent: Duration,
    pub delivered: Duration,
    pub read: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Accounts {
    /// Anyone may register a business; when false, people join only through an invitation.
    pub registration: bool,
    /// Most password hashes computed at once (0: one per CPU core), so a burst of sign-ins cannot starve the API.
    pub password_hash_concurrency: usize,
    /// People of accounts verify a mobile number (a code by SMS) before they can use anything; the
    /// registration form asks for it. Needs `[sms]`.
    pub verify_phone: bool,
    /// Operators sign in with a second step (an authenticator app or SMS); one without is sent to set it up.
    pub require_two_step_for_operators: bool,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts {
            registration: true,
            password_hash_concurrency: 0,
            verify_phone: false,
            require_two_step_for_operators: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sessions {
    /// A session ends after this many minutes without a request.
    pub idle_minutes: u64,
    /// A session ends this many hours after sign-in, however active.
    pub absolute_hours: u64,
    /// Sessions one person may have at once; signing in once more ends the least recently used.
    pub max_per_person: usize,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            idle_minutes: 30,
            absolute_hours: 12,
            max_per_person: 20,
        }
    }
}

impl Sessions {
    pub fn idle_ms(&self) -> i64 {
        self.idle_minutes as i64 * 60_000
    }

    pub fn absolute_ms(&self) -> i64 {
        self.absolute_hours as i64 * 3_600_000
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same machine.
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    /// SMTP server. Empty: emails are written as .eml files to <data_dir>/outbox instead of sent.
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: String,
    pub password: Option<Secret>,
    /// The sender, e.g. "WhatsAPI Pro <no-reply@example.com>".
    pub from: String,
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp {
            host: String::new(),
            port: 587,
            security: SmtpSecurity::Starttls,
            username: String::new(),
            password: None,
            from: "WhatsAPI Pro <no-reply@localhost>".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Branding {
    /// The name shown on every page and email.
    pub product_name: String,
    /// Who runs this installation (named in the privacy page). Empty by default: the product names no
    /// company until one is configured.
    pub operator_name: String,
    /// Where people write for help (footer, privacy page). Empty by default: no address is shown.
    pub support_email: String,
    /// Main colour of buttons and links (#rrggbb).
    pub primary_color: String,
    /// A directory whose files replace the built-in static files of the same name (logo.svg, app.css, ...).
    pub static_dir: Option<PathBuf>,
}

impl Default for Branding {
    fn default() -> Self {
        Branding {
            product_name: "WhatsAPI Pro".into(),
            operator_name: String::new(),
            support_email: String::new(),
            primary_color: "#0f766e".into(),
            static_dir: None,
        }
    }
}

impl Config {
    pub(super) fn validate_people(&mut self) -> Result<(), ConfigError> {
        parse_schedule(&self.sender.template_sync_schedule)
            .map_err(|m| invalid("sender.template_sync_schedule", m))?;
        if let Some(workers) = self.sender.workers.take() {
            self.sender.max_workers = workers;
            self.sender.min_workers = self.sender.min_workers.min(workers);
        }
        if !(1..=1024).contains(&self.sender.max_workers) {
            return Err(invalid("sender.max_workers", "must be between 1 and 1024"));
        }
        if !(1..=self.sender.max_workers).contains(&self.sender.min_workers) {
            return Err(invalid(
                "sender.min_workers",
                "must be between 1 and sender.max_workers",
            ));
        }
        if !(1..=3600).contains(&self.sender.lease_secs) {
            return Err(invalid("sender.lease_secs", "must be between 1 and 3600"));
        }
        if !(1..=300).contains(&self.webhooks.timeout_secs) {
            return Err(invalid(
                "webhooks.timeout_secs",
                "must be between 1 and 300",
            ));
        }
        if !(1..=64).contains(&self.webhooks.workers) {
            return Err(invalid("webhooks.workers", "must be between 1 and 64"));
        }
        let delays = &self.webhooks.retry_delays_secs;
        if delays.len() > 50 || delays.iter().any(|d| *d > 7 * 86_400) {
            return Err(invalid(
                "webhooks.retry_delays_secs",
                "at most 50 delays, each at most 604800 (a week)",
            ));
        }
        let day_ms = 24 * 3_600_000;
        for (key, value) in [
            ("sandbox.sent_after_ms", self.sandbox.sent_after_ms),
            (
                "sandbox.delivered_after_ms",
                self.sandbox.delivered_after_ms,
            ),
            ("sandbox.read_after_ms", self.sandbox.read_after_ms),
            (
                "sandbox.template_review_after_ms",
                self.sandbox.template_review_after_ms,
            ),
        ] {
            if value > day_ms {
                return Err(invalid(key, "must be at most 86400000 (a day)"));
            }
        }
        if self.sessions.idle_minutes == 0 || self.sessions.idle_minutes > 24 * 60 {
            return Err(invalid(
                "sessions.idle_minutes",
                "must be between 1 and 1440",
            ));
        }
        if self.sessions.absolute_hours == 0 || self.sessions.absolute_hours > 24 * 30 {
            return Err(invalid(
                "sessions.absolute_hours",
                "must be between 1 and 720",
            ));
        }
        if !(1..=1000).contains(&self.sessions.max_per_person) {
            return Err(invalid(
                "sessions.max_per_person",
                "must be between 1 and 1000",
            ));
        }
        let color = &self.branding.primary_color;
        if !(color.len() == 7
            && color.starts_with('#')
            && color[1..].chars().all(|c| c.is_ascii_hexdigit()))
        {
            return Err(invalid(
                "branding.primary_color",
                "must be a colour like #0f766e",
            ));
        }
        if self.branding.product_name.trim().is_empty() {
            return Err(invalid("branding.product_name", "must not be empty"));
        }
        if let Some(dir) = &self.branding.static_dir
            && !dir.is_dir()
        {
            let message = format!("{} is not a directory", dir.display());
            return Err(invalid("branding.static_dir", message));
        }
        if self.accounts.verify_phone && !self.sms.enabled() {
            return Err(invalid(
                "accounts.verify_phone",
                "needs an SMS gateway: configure [sms] (see `whatsapi sms test`)",
            ));
        }
        if self.smtp.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid(
                "smtp.from",
                "must be an address such as \"Shop <no-reply@example.com>\"",
            ));
        }
        Ok(())
    }
}
