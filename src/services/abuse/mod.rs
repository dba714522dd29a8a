//! Signals of abuse and fraud, computed by the abuse job (`jobs::abuse`) every `[abuse] every_secs`:
//! from the daily usage roll-ups (what the tally holds is flushed first) a high failure rate, bursts of
//! Meta's errors of spam-like sending and volume far above the account's own week, and many failed
//! sign-ins; from what Meta's webhooks recorded on the connections, a red or flagged number or a
//! restricted business account; from the messages table, a young account writing to many numbers that
//! never wrote to it; from memory (`KeyAddresses`), an API key used from many addresses.
//!
//! Each is raised once per account, kind and period (`store::abuse_signals`), emailed once to every
//! operator, shown on /admin until dismissed; with `[abuse] auto_hold`, a high one holds the account's
//! sending until an operator releases it.

pub mod addresses;
pub mod detect;
mod mail;
pub mod words;

pub use addresses::KeyAddresses;

use crate::config::Abuse;
use crate::error::Result;
use crate::outbound::mail::Mailer;
use crate::services::billing::Billing;
use crate::services::billing::holds::{self, Change};
use crate::store::abuse_signals::{self, NewSignal, Raised, Severity, SignalId};
use crate::store::activity::Actor;
use crate::store::{Db, rollups};
use detect::{BASELINE_DAYS, DAY_MS, Day};

/// What one run found and did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// Accounts whose day was looked at.
    pub accounts: usize,
    /// Signals raised now (those raised before are not counted again).
    pub raised: usize,
    /// Accounts whose sending a high signal held.
    pub held: usize,
    /// Signals the operators were emailed about.
    pub emailed: usize,
}

/// What a run works with besides the store and the settings.
pub struct Around<'a> {
    /// The addresses each API key was used from today.
    pub addresses: &'a KeyAddresses,
    /// The accounts' standing in memory, forgotten for an account whose sending a signal held, so its
    /// API refuses new messages at once.
    pub billing: &'a Billing,
    /// What the operators' emails are sent with.
    pub mailer: &'a Mailer,
    /// The operators' page, `<public url>/admin`, for the emails.
    pub link: &'a str,
}

/// One run: finds what crosses the thresholds now, raises it, holds the sending of accounts with a high
/// one (`auto_hold`), and emails the operators about every signal not emailed yet.
pub fn run(db: &Db, settings: &Abuse, around: &Around<'_>, now: i64) -> Result<Checked> {
    db.flush_usage();
    let (accounts, found) = detect_all(db, settings, around.addresses, now)?;
    let mut checked = Checked {
        accounts,
        ..Checked::default()
    };
    let auto_hold = settings.auto_hold;
    let (raised, held) = db.write(move |conn| {
        let (mut raised, mut held) = (Vec::new(), Vec::new());
        for signal in found {
            let high = signal.severity == Severity::High;
            let id = match abuse_signals::raise(conn, &signal, now)? {
                Raised::New(id) => {
                    raised.push((id, signal.clone()));
                    id
                }
                Raised::Rose(id) => id,
                Raised::Known => continue,
            };
            if auto_hold && high && hold(conn, &signal, id, now)? {
                held.push(signal.account);
            }
        }
        Ok((raised, held))
    })?;
    checked.raised = raised.len();
    checked.held = held.len();
    for account in held {
        around.billing.forget(account);
    }
    for (id, signal) in &raised {
        tracing::warn!(signal = id.get(), account = signal.account.get(), kind = signal.kind.as_str(),
            severity = signal.severity.as_str(), evidence = %signal.evidence, "abuse signal raised");
    }
    if settings.operator_emails {
        checked.emailed = mail::send_unemailed(db, around, now)?;
    }
    Ok(checked)
}

/// Every signal the records show now; and how many accounts' days were looked at.
fn detect_all(
    db: &Db,
    settings: &Abuse,
    addresses: &KeyAddresses,
    now: i64,
) -> Result<(usize, Vec<NewSignal>)> {
    let day = rollups::day_of(now);
    let young_since = now - i64::from(settings.new_account_days) * DAY_MS;
    let (accounts, mut found) = db.read(|conn| {
        let mut found = Vec::new();
        let accounts = abuse_signals::accounts_with_usage(conn, day)?;
        for account in &accounts {
            let lines = rollups::between(conn, *account, day - BASELINE_DAYS, day)?;
            found.extend(detect::from_day(
                *account,
                day,
                &Day::of(&lines, day),
                settings,
            ));
        }
        for warned in abuse_signals::warned_connections(conn)? {
            found.push(detect::from_warned(&warned));
        }
        for (account, created_at) in abuse_signals::young_accounts(conn, young_since)? {
            let up_to = settings.new_recipients.saturating_mul(2);
            let recipients = abuse_signals::new_recipients(conn, account, up_to)?;
            found.extend(detect::from_recipients(
                account, created_at, recipients, settings,
            ));
        }
        Ok((accounts.len(), found))
    })?;
    let threshold = usize::try_from(settings.key_addresses).unwrap_or(usize::MAX);
    found.extend(detect::from_spread(
        day,
        &addresses.spread(day, threshold),
        settings,
    ));
    Ok((accounts, found))
}

/// Holds the account's sending because of a high signal, through the one way holds are made
/// (`services::billing::holds`), with its line in the account's history of holds ("abuse check") and in
/// the operators' activity log; whether it was held now (false when it was held already). Its messages
/// stay queued until an operator releases the hold.
fn hold(conn: &rusqlite::Connection, signal: &NewSignal, id: SignalId, now: i64) -> Result<bool> {
    let change = Change::HoldSending {
        reason: hold_reason(signal, id),
    };
    holds::apply(
        conn,
        signal.account,
        &change,
        (&Actor::nobody(None), HELD_BY),
        now,
    )
}

/// Who the account's history of holds names for a hold the abuse job made.
pub const HELD_BY: &str = "abuse check";

/// Why the sending was held, in the account's record: the signal by number and kind.
pub fn hold_reason(signal: &NewSignal, id: SignalId) -> String {
    format!(
        "abuse signal {}: {} ({} severity)",
        id.get(),
        signal.kind.as_str(),
        signal.severity.as_str()
    )
}
