//! A signal in words, in English or Arabic, for the operators' page and their emails: its kind, its
//! severity, and its evidence with the language's digits.

use crate::domain::lang::Lang;
use crate::store::abuse_signals::{Kind, Severity, Signal};
use serde_json::Value;

pub fn kind(lang: Lang, kind: Kind) -> &'static str {
    lang.t(match kind {
        Kind::FailureRate => "abuse_kind.failure_rate",
        Kind::SpamErrors => "abuse_kind.spam_errors",
        Kind::Quality => "abuse_kind.quality",
        Kind::Volume => "abuse_kind.volume",
        Kind::FailedSignIns => "abuse_kind.failed_sign_ins",
        Kind::KeyAddresses => "abuse_kind.key_addresses",
        Kind::NewRecipients => "abuse_kind.new_recipients",
    })
}

pub fn severity(lang: Lang, severity: Severity) -> &'static str {
    lang.t(match severity {
        Severity::Low => "abuse_severity.low",
        Severity::Medium => "abuse_severity.medium",
        Severity::High => "abuse_severity.high",
    })
}

fn count(lang: Lang, evidence: &Value, field: &str) -> String {
    lang.number(evidence[field].as_i64().unwrap_or(0))
}

/// A number with at most one decimal ("2.5", in both languages).
fn decimal(lang: Lang, value: f64) -> String {
    let tenths = (value * 10.0).round() as i64;
    let whole = lang.number(tenths / 10);
    match tenths % 10 {
        0 => whole,
        fraction => format!("{whole}{}{}", lang.decimal_point(), fraction.abs()),
    }
}

/// A share as a percentage ("30%").
fn percent(lang: Lang, share: f64) -> String {
    let number = decimal(lang, share * 100.0);
    format!("{number}{}", lang.percent_sign())
}

/// Meta's error codes and their counts: "131048 × 8, 131026 × 3".
fn errors(lang: Lang, list: &Value) -> String {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            format!(
                "{} × {}",
                e["code"].as_i64().unwrap_or(0),
                lang.number(e["count"].as_i64().unwrap_or(0))
            )
        })
        .collect::<Vec<_>>()
        .join(lang.t("abuse.list_separator"))
}

/// A UTC day of the evidence (`YYYY-MM-DD`) as the language writes dates.
fn day(lang: Lang, evidence: &Value) -> String {
    evidence["day"]
        .as_str()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|at| lang.date(at.and_utc().timestamp_millis()))
        .unwrap_or_default()
}

fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

/// The signal's evidence in words.
pub fn evidence(lang: Lang, signal: &Signal) -> String {
    let e = &signal.evidence;
    let n = |field: &str| count(lang, e, field);
    match signal.kind {
        Kind::FailureRate => {
            let mut text = fill(
                lang.t("abuse_evidence.failure_rate"),
                &[
                    ("failed", n("failed")),
                    ("messages", n("messages")),
                    ("rate", percent(lang, e["rate"].as_f64().unwrap_or(0.0))),
                    ("day", day(lang, e)),
                    (
                        "threshold",
                        percent(lang, e["threshold"].as_f64().unwrap_or(0.0)),
                    ),
                    ("min", n("min_messages")),
                ],
            );
            if e["errors"].as_array().is_some_and(|l| !l.is_empty()) {
                text.push(' ');
                text.push_str(&fill(
                    lang.t("abuse_evidence.errors"),
                    &[("errors", errors(lang, &e["errors"]))],
                ));
            }
            text
        }
        Kind::SpamErrors => fill(
            lang.t("abuse_evidence.spam_errors"),
            &[
                ("failures", n("failures")),
                ("day", day(lang, e)),
                ("threshold", n("threshold")),
                ("errors", errors(lang, &e["errors"])),
            ],
        ),
        Kind::Quality => {
            let connection = n("connection");
            let when = lang.datetime(e["at"].as_i64().unwrap_or(0));
            let mut parts = Vec::new();
            if let Some(rating) = e["quality_rating"]
                .as_str()
                .filter(|r| matches!(*r, "RED" | "FLAGGED"))
            {
                let key = if rating == "RED" {
                    "abuse_evidence.quality_red"
                } else {
                    "abuse_evidence.quality_flagged"
                };
                parts.push(fill(
                    lang.t(key),
                    &[("connection", connection.clone()), ("when", when.clone())],
                ));
            }
            if let Some(notice) = e["account_notice"].as_str() {
                parts.push(fill(
                    lang.t("abuse_evidence.quality_restricted"),
                    &[
                        ("connection", connection),
                        ("when", when),
                        ("notice", notice.to_owned()),
                    ],
                ));
            }
            parts.join(" ")
        }
        Kind::Volume => fill(
            lang.t("abuse_evidence.volume"),
            &[
                ("messages", n("messages")),
                ("day", day(lang, e)),
                (
                    "baseline",
                    decimal(lang, e["baseline"].as_f64().unwrap_or(0.0)),
                ),
                ("days", lang.days(e["baseline_days"].as_i64().unwrap_or(7))),
                ("factor", decimal(lang, e["factor"].as_f64().unwrap_or(0.0))),
                ("min", n("min_messages")),
            ],
        ),
        Kind::FailedSignIns => fill(
            lang.t("abuse_evidence.failed_sign_ins"),
            &[
                ("failed", n("failed")),
                ("day", day(lang, e)),
                ("threshold", n("threshold")),
            ],
        ),
        Kind::KeyAddresses => {
            let keys = e["keys"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|k| {
                    fill(
                        lang.t("abuse_evidence.key"),
                        &[
                            ("key", k["key_id"].as_i64().unwrap_or(0).to_string()),
                            ("addresses", count(lang, k, "addresses")),
                        ],
                    )
                })
                .collect::<Vec<_>>()
                .join(lang.t("abuse.list_separator"));
            fill(
                lang.t("abuse_evidence.key_addresses"),
                &[
                    ("keys", keys),
                    ("day", day(lang, e)),
                    ("threshold", n("threshold")),
                ],
            )
        }
        Kind::NewRecipients => fill(
            lang.t("abuse_evidence.new_recipients"),
            &[
                ("recipients", n("recipients")),
                ("days", lang.days(e["days"].as_i64().unwrap_or(0))),
                ("threshold", n("threshold")),
            ],
        ),
    }
}

/// The period a signal is about: a day, or from one moment to another.
pub fn period(lang: Lang, signal: &Signal) -> String {
    if signal.period_end - signal.period_start == super::detect::DAY_MS
        && signal.period_start.rem_euclid(super::detect::DAY_MS) == 0
    {
        return lang.date(signal.period_start);
    }
    fill(
        lang.t("abuse.period_range"),
        &[
            ("from", lang.datetime(signal.period_start)),
            ("to", lang.datetime(signal.period_end)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Abuse;
    use crate::services::abuse::detect;
    use crate::store::AccountId;
    use crate::store::abuse_signals::{NewSignal, SignalId};
    use serde_json::json;

    fn signal(new: NewSignal) -> Signal {
        Signal {
            id: SignalId::from_raw(1),
            account: new.account,
            company: "Co".into(),
            kind: new.kind,
            severity: new.severity,
            connection: None,
            period_start: new.period.0,
            period_end: new.period.1,
            evidence: new.evidence,
            raised_at: 0,
            emailed_at: None,
            dismissed_at: None,
            dismissed_by: None,
        }
    }

    fn every_kind() -> Vec<Signal> {
        let a = AccountId::from_operator(1);
        let day = 20_000;
        let mut all: Vec<Signal> = [
            json!({"day": "2024-10-04", "messages": 40, "failed": 12, "rate": 0.3, "threshold": 0.25,
                   "min_messages": 20, "errors": [{"code": 131048, "count": 8}]}),
            json!({"day": "2024-10-04", "failures": 11, "threshold": 10,
                   "errors": [{"code": 131048, "count": 8}, {"code": 131026, "count": 3}]}),
            json!({"connection": 4, "quality_rating": "RED", "account_notice": "ACCOUNT_RESTRICTION: X",
                   "at": 0}),
            json!({"day": "2024-10-04", "messages": 1500, "baseline": 2.5, "baseline_days": 7,
                   "factor": 5.0, "min_messages": 200}),
            json!({"day": "2024-10-04", "failed": 21, "threshold": 20}),
            json!({"day": "2024-10-04", "threshold": 10, "keys": [{"key_id": 3, "addresses": 12}]}),
            json!({"recipients": 120, "threshold": 100, "days": 3, "account_created_at": 0}),
        ]
        .into_iter()
        .zip(Kind::ALL)
        .map(|(evidence, kind)| {
            signal(NewSignal {
                account: a,
                kind: *kind,
                severity: Severity::Medium,
                connection: None,
                period: (day * detect::DAY_MS, (day + 1) * detect::DAY_MS),
                evidence,
            })
        })
        .collect();
        all.push(signal(
            detect::from_recipients(a, 5, 150, &Abuse::default()).unwrap(),
        ));
        all
    }

    #[test]
    fn every_kind_is_worded_in_both_languages_without_placeholders() {
        for signal in every_kind() {
            let (en, ar) = (evidence(Lang::En, &signal), evidence(Lang::Ar, &signal));
            for text in [&en, &ar] {
                assert!(
                    !text.is_empty() && !text.contains('{'),
                    "{:?}: {text}",
                    signal.kind
                );
                assert!(!text.contains("abuse_"), "{:?}: {text}", signal.kind);
            }
            assert_ne!(en, ar);
            for lang in Lang::ALL {
                assert!(!kind(lang, signal.kind).starts_with("abuse_kind"));
                assert!(!severity(lang, signal.severity).starts_with("abuse_severity"));
                assert!(!period(lang, &signal).contains('{'));
            }
        }
        let rate = &every_kind()[0];
        assert_eq!(
            evidence(Lang::En, rate),
            "12 of 40 messages failed (30%) on 4 Oct 2024; the threshold is 25% once an account sent 20. \
             Meta's errors: 131048 × 8."
        );
        assert!(evidence(Lang::Ar, rate).contains("30%"));
        assert_eq!(decimal(Lang::Ar, 2.5), "2.5");
        assert_eq!(decimal(Lang::En, 100.0), "100");
    }
}
