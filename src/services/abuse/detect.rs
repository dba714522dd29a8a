//! The signals in what was recorded, against the thresholds of `[abuse]`: plain functions of the numbers,
//! so each rule can be read (and tested) on its own. Evidence holds numbers, the period, Meta's error
//! codes and ids, never a phone number or text.

use super::addresses::Spread;
use crate::config::Abuse;
use crate::store::AccountId;
use crate::store::abuse_signals::{Kind, NewSignal, RESTRICTING_NOTICES, Severity, Warned};
use crate::store::rollups::Counted;
use crate::store::states::UsageEvent;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub use crate::store::retention::DAY_MS;

/// Meta's errors of spam-like sending: undeliverable (131026), the number's spam rate limit (131048), not
/// delivered to keep the ecosystem healthy (131049), the person stopped marketing messages (131050).
pub const SPAM_CODES: [i64; 4] = [131026, 131048, 131049, 131050];

/// Days before the day looked at that make the account's own baseline.
pub const BASELINE_DAYS: i64 = 7;

/// A UTC day (days since 1970-01-01) as `YYYY-MM-DD`.
pub fn day_text(day: i64) -> String {
    chrono::DateTime::from_timestamp_millis(day * DAY_MS)
        .map(|at| at.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn day_period(day: i64) -> (i64, i64) {
    (day * DAY_MS, (day + 1) * DAY_MS)
}

/// High at twice the threshold or more.
fn severity(value: f64, threshold: f64, below: Severity) -> Severity {
    if value >= 2.0 * threshold {
        Severity::High
    } else {
        below
    }
}

/// What one account did on one day, from its roll-up lines.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Day {
    pub accepted: u64,
    pub failed: u64,
    /// Failures by Meta's error code.
    pub errors: BTreeMap<i64, u64>,
    pub failed_sign_ins: u64,
    /// Messages accepted on each of the `BASELINE_DAYS` days before.
    pub baseline: u64,
}

impl Day {
    /// Sums the account's lines of `day`, and of the days before it for the baseline.
    pub fn of(lines: &[Counted], day: i64) -> Day {
        let mut out = Day::default();
        for line in lines {
            if line.day < day {
                if line.day >= day - BASELINE_DAYS && line.event == UsageEvent::Accepted {
                    out.baseline += line.count;
                }
                continue;
            }
            if line.day != day {
                continue;
            }
            match line.event {
                UsageEvent::Accepted => out.accepted += line.count,
                UsageEvent::Failed => {
                    out.failed += line.count;
                    *out.errors.entry(line.error_code).or_default() += line.count;
                }
                UsageEvent::SignInFailed => out.failed_sign_ins += line.count,
                _ => {}
            }
        }
        out
    }
}

/// Error codes and their counts, most first (at most 10), as evidence.
fn error_list(errors: impl Iterator<Item = (i64, u64)>) -> Value {
    let mut list: Vec<(i64, u64)> = errors.filter(|(_, n)| *n > 0).collect();
    list.sort_by_key(|(code, n)| (std::cmp::Reverse(*n), *code));
    list.truncate(10);
    Value::Array(
        list.into_iter()
            .map(|(code, count)| json!({"code": code, "count": count}))
            .collect(),
    )
}

/// The signals in one account's day: failure rate, spam-like errors, volume, failed sign-ins.
pub fn from_day(account: AccountId, day: i64, seen: &Day, s: &Abuse) -> Vec<NewSignal> {
    let mut found = Vec::new();
    let signal = |kind, severity, evidence| NewSignal {
        account,
        kind,
        severity,
        connection: None,
        period: day_period(day),
        evidence,
    };
    let date = day_text(day);
    // Failures of messages accepted the day before count too, so the rate is kept to at most 1.
    let messages = seen.accepted.max(seen.failed);
    if messages >= s.failure_min_messages && messages > 0 {
        let rate = seen.failed as f64 / messages as f64;
        if rate >= s.failure_rate {
            found.push(signal(
                Kind::FailureRate,
                severity(rate, s.failure_rate.min(0.5), Severity::Medium),
                json!({"day": date, "messages": messages, "failed": seen.failed,
                       "rate": (rate * 1000.0).round() / 1000.0, "threshold": s.failure_rate,
                       "min_messages": s.failure_min_messages,
                       "errors": error_list(seen.errors.iter().map(|(c, n)| (*c, *n)))}),
            ));
        }
    }
    let spam: u64 = SPAM_CODES
        .iter()
        .map(|code| seen.errors.get(code).copied().unwrap_or(0))
        .sum();
    if spam >= s.spam_errors {
        found.push(signal(
            Kind::SpamErrors,
            severity(spam as f64, s.spam_errors as f64, Severity::Medium),
            json!({"day": date, "failures": spam, "threshold": s.spam_errors,
                   "errors": error_list(SPAM_CODES.iter().map(|c| (*c, seen.errors.get(c).copied().unwrap_or(0))))}),
        ));
    }
    let average = seen.baseline as f64 / BASELINE_DAYS as f64;
    let over = (s.volume_factor * average).max(s.volume_min_messages as f64);
    if seen.accepted as f64 >= over {
        found.push(signal(
            Kind::Volume,
            severity(seen.accepted as f64, over, Severity::Medium),
            json!({"day": date, "messages": seen.accepted, "baseline": (average * 10.0).round() / 10.0,
                   "baseline_days": BASELINE_DAYS, "factor": s.volume_factor,
                   "min_messages": s.volume_min_messages}),
        ));
    }
    if seen.failed_sign_ins >= s.failed_sign_ins {
        found.push(signal(
            Kind::FailedSignIns,
            severity(
                seen.failed_sign_ins as f64,
                s.failed_sign_ins as f64,
                Severity::Low,
            )
            .min(Severity::Medium),
            json!({"day": date, "failed": seen.failed_sign_ins, "threshold": s.failed_sign_ins}),
        ));
    }
    found
}

/// A signal for a connection Meta rated red or flagged (medium), or whose business account it
/// restricted or disabled (high), for the day Meta said so.
pub fn from_warned(warned: &Warned) -> NewSignal {
    let restricted = warned
        .account_notice
        .as_deref()
        .is_some_and(|n| RESTRICTING_NOTICES.iter().any(|r| n.starts_with(r)));
    let day = warned.at.div_euclid(DAY_MS);
    NewSignal {
        account: warned.account,
        kind: Kind::Quality,
        severity: if restricted {
            Severity::High
        } else {
            Severity::Medium
        },
        connection: Some(warned.connection),
        period: day_period(day),
        evidence: json!({"connection": warned.connection.get(),
                         "quality_rating": warned.quality_rating,
                         "account_notice": warned.account_notice.as_ref().filter(|_| restricted),
                         "at": warned.at}),
    }
}

/// One signal per account whose API keys were used from many addresses on `day`.
pub fn from_spread(day: i64, spread: &[Spread], s: &Abuse) -> Vec<NewSignal> {
    let mut by_account: BTreeMap<AccountId, Vec<&Spread>> = BTreeMap::new();
    for one in spread {
        by_account.entry(one.account).or_default().push(one);
    }
    by_account
        .into_iter()
        .map(|(account, keys)| {
            let most = keys.iter().map(|k| k.addresses).max().unwrap_or(0);
            NewSignal {
                account,
                kind: Kind::KeyAddresses,
                severity: severity(most as f64, s.key_addresses as f64, Severity::Medium),
                connection: None,
                period: day_period(day),
                evidence: json!({"day": day_text(day), "threshold": s.key_addresses,
                    "keys": keys.iter().map(|k| json!({"key_id": k.key.get(), "addresses": k.addresses}))
                                .collect::<Vec<_>>()}),
            }
        })
        .collect()
}

/// A signal for a young account (created at `created_at`) that wrote to `recipients` numbers that had
/// not written to it first, if they are enough.
pub fn from_recipients(
    account: AccountId,
    created_at: i64,
    recipients: u64,
    s: &Abuse,
) -> Option<NewSignal> {
    (recipients >= s.new_recipients).then(|| NewSignal {
        account,
        kind: Kind::NewRecipients,
        severity: severity(recipients as f64, s.new_recipients as f64, Severity::Medium),
        connection: None,
        period: (
            created_at,
            created_at + i64::from(s.new_account_days) * DAY_MS,
        ),
        evidence: json!({"recipients": recipients, "threshold": s.new_recipients,
                         "days": s.new_account_days, "account_created_at": created_at}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::connections::ConnectionId;

    fn line(day: i64, event: UsageEvent, error_code: i64, count: u64) -> Counted {
        Counted {
            day,
            event,
            connection: 1,
            api_key: 0,
            route: String::new(),
            class: String::new(),
            kind: "text".into(),
            pricing: String::new(),
            error_code,
            count,
        }
    }

    fn settings() -> Abuse {
        Abuse {
            failure_rate: 0.25,
            failure_min_messages: 20,
            spam_errors: 10,
            volume_factor: 5.0,
            volume_min_messages: 200,
            failed_sign_ins: 20,
            ..Abuse::default()
        }
    }

    fn a() -> AccountId {
        AccountId::from_operator(1)
    }

    fn kinds(found: &[NewSignal]) -> Vec<(Kind, Severity)> {
        found.iter().map(|s| (s.kind, s.severity)).collect()
    }

    #[test]
    fn a_day_of_failures_raises_the_rate_and_the_spam_errors_with_their_evidence() {
        let day = 20_000;
        let lines = [
            line(day, UsageEvent::Accepted, 0, 40),
            line(day, UsageEvent::Failed, 131048, 8),
            line(day, UsageEvent::Failed, 131026, 3),
            line(day, UsageEvent::Failed, 131000, 1),
            line(day - 1, UsageEvent::Failed, 131048, 50),
        ];
        let found = from_day(a(), day, &Day::of(&lines, day), &settings());
        assert_eq!(
            kinds(&found),
            vec![
                (Kind::FailureRate, Severity::Medium),
                (Kind::SpamErrors, Severity::Medium)
            ]
        );
        let rate = &found[0].evidence;
        assert_eq!(
            (rate["messages"].as_u64(), rate["failed"].as_u64()),
            (Some(40), Some(12))
        );
        assert_eq!(rate["rate"], 0.3);
        assert_eq!(rate["day"], day_text(day));
        assert_eq!(found[0].period, (day * DAY_MS, (day + 1) * DAY_MS));
        let spam = &found[1].evidence;
        assert_eq!(spam["failures"], 11);
        assert_eq!(
            spam["errors"],
            json!([{"code": 131048, "count": 8}, {"code": 131026, "count": 3}])
        );
        // Under the minimum of messages, or under the rate: nothing.
        let few = [
            line(day, UsageEvent::Accepted, 0, 10),
            line(day, UsageEvent::Failed, 1, 9),
        ];
        assert!(from_day(a(), day, &Day::of(&few, day), &settings()).is_empty());
        let healthy = [
            line(day, UsageEvent::Accepted, 0, 100),
            line(day, UsageEvent::Failed, 1, 24),
        ];
        assert!(from_day(a(), day, &Day::of(&healthy, day), &settings()).is_empty());
        let bad = [
            line(day, UsageEvent::Accepted, 0, 100),
            line(day, UsageEvent::Failed, 1, 50),
        ];
        assert_eq!(
            kinds(&from_day(a(), day, &Day::of(&bad, day), &settings())),
            vec![(Kind::FailureRate, Severity::High)]
        );
    }

    #[test]
    fn volume_is_measured_against_the_account_s_own_week() {
        let day = 20_000;
        let mut lines: Vec<Counted> = (1..=7)
            .map(|back| line(day - back, UsageEvent::Accepted, 0, 100))
            .collect();
        // Older than the week: not part of the baseline.
        lines.push(line(day - 8, UsageEvent::Accepted, 0, 100_000));
        lines.push(line(day, UsageEvent::Accepted, 0, 499));
        assert!(from_day(a(), day, &Day::of(&lines, day), &settings()).is_empty());
        lines.push(line(day, UsageEvent::Accepted, 0, 1));
        let found = from_day(a(), day, &Day::of(&lines, day), &settings());
        assert_eq!(kinds(&found), vec![(Kind::Volume, Severity::Medium)]);
        assert_eq!(found[0].evidence["baseline"], 100.0);
        assert_eq!(found[0].evidence["messages"], 500);
        lines.push(line(day, UsageEvent::Accepted, 0, 500));
        assert_eq!(
            kinds(&from_day(a(), day, &Day::of(&lines, day), &settings())),
            vec![(Kind::Volume, Severity::High)]
        );
        // Without a baseline, the minimum alone decides.
        let quiet = [line(day, UsageEvent::Accepted, 0, 199)];
        assert!(from_day(a(), day, &Day::of(&quiet, day), &settings()).is_empty());
    }

    #[test]
    fn failed_sign_ins_are_low_and_at_most_medium() {
        let day = 20_000;
        let at = |n| [line(day, UsageEvent::SignInFailed, 0, n)];
        assert!(from_day(a(), day, &Day::of(&at(19), day), &settings()).is_empty());
        assert_eq!(
            kinds(&from_day(a(), day, &Day::of(&at(20), day), &settings())),
            vec![(Kind::FailedSignIns, Severity::Low)]
        );
        assert_eq!(
            kinds(&from_day(a(), day, &Day::of(&at(500), day), &settings())),
            vec![(Kind::FailedSignIns, Severity::Medium)]
        );
    }

    #[test]
    fn a_restricted_business_account_is_high_and_a_red_number_medium() {
        let warned = |quality: Option<&str>, notice: Option<&str>| Warned {
            account: a(),
            connection: ConnectionId::from_raw(4),
            quality_rating: quality.map(str::to_owned),
            account_notice: notice.map(str::to_owned),
            at: 20_000 * DAY_MS + 5,
        };
        let red = from_warned(&warned(Some("RED"), None));
        assert_eq!((red.kind, red.severity), (Kind::Quality, Severity::Medium));
        assert_eq!(red.period.0, 20_000 * DAY_MS);
        assert_eq!(red.evidence["connection"], 4);
        let restricted = from_warned(&warned(
            Some("GREEN"),
            Some("ACCOUNT_RESTRICTION: RESTRICTED_BIZ_INITIATED_MESSAGING"),
        ));
        assert_eq!(restricted.severity, Severity::High);
        assert!(
            restricted.evidence["account_notice"]
                .as_str()
                .unwrap()
                .contains("RESTRICTED")
        );
    }

    #[test]
    fn keys_and_recipients_have_their_thresholds() {
        let s = Abuse {
            key_addresses: 10,
            new_recipients: 100,
            ..Abuse::default()
        };
        let spread = [
            Spread {
                account: a(),
                key: crate::store::api_keys::ApiKeyId::from_raw(3),
                addresses: 25,
            },
            Spread {
                account: a(),
                key: crate::store::api_keys::ApiKeyId::from_raw(4),
                addresses: 10,
            },
        ];
        let found = from_spread(20_000, &spread, &s);
        assert_eq!(kinds(&found), vec![(Kind::KeyAddresses, Severity::High)]);
        assert_eq!(
            found[0].evidence["keys"][1],
            json!({"key_id": 4, "addresses": 10})
        );
        assert!(from_recipients(a(), 0, 99, &s).is_none());
        let young = from_recipients(a(), 7, 100, &s).unwrap();
        assert_eq!(
            (young.severity, young.period),
            (Severity::Medium, (7, 7 + 3 * DAY_MS))
        );
    }
}
