//! Sends the queued billing notices (`store::billing_notices`) to each account's owner, in the owner's
//! language, from the billing round (`jobs::billing`). A notice is marked sent only after the mail
//! server took it (or the outbox filed it): a mail server that is down leaves it for the next round,
//! and one marked is never sent again. A stop between sending and marking sends that one again at the
//! next start, which is the better side to err on.
//!
//! A notice that no longer holds when its turn comes (the trial it announced was paid for, the month
//! whose quota it reports is over) is marked without an email: it would tell the owner something false.

use super::lifecycle::CANCELED_PERIOD_PREFIX;
use super::{Billing, Month};
use crate::config::Plan;
use crate::domain::lang::Lang;
use crate::error::Result;
use crate::outbound::mail::Mailer;
use crate::services::notify;
use crate::store::billing_notices::{self, Unsent};
use crate::store::states::{NoticeKind, SubscriptionStatus};
use crate::store::subscriptions::{self, Subscription};
use crate::store::{AccountId, Db, now_ms, usage};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

/// Notices read at a time.
const BATCH: usize = 100;

/// Notices whose email failed in this process, tried after the others at the next round, so one that
/// a mail server refuses for good (a mailbox that does not exist) holds up nobody else's.
pub type FailedBefore = HashSet<(AccountId, NoticeKind, String)>;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub sent: usize,
    /// Marked without an email: no longer true, or nobody to send it to.
    pub dropped: usize,
    pub failed: usize,
}

/// Sends every unsent notice. The first failure ends the pass (the mail server is likely down, and each
/// try can take its whole timeout); `stop` ends it between two emails.
pub fn send_unsent(
    db: &Db,
    billing: &Billing,
    mailer: &Mailer,
    link: &str,
    failed_before: &mut FailedBefore,
    stop: &AtomicBool,
) -> Result<Sent> {
    let mut done = Sent::default();
    loop {
        let mut batch = db.read(|conn| billing_notices::unsent(conn, BATCH))?;
        if batch.is_empty() {
            return Ok(done);
        }
        // Stable: the oldest first, those that failed before after all the others.
        batch.sort_by_key(|n| failed_before.contains(&key(n)));
        for notice in batch {
            if stop.load(Ordering::Relaxed) {
                return Ok(done);
            }
            let now = now_ms();
            let outcome = match email_for(db, billing, &notice, link, now)? {
                Some((lang, to, replacements)) => {
                    let pairs: Vec<(&str, &str)> =
                        replacements.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    notify::billing_notice_blocking(mailer, lang, &to, notice.kind, &pairs)
                        .map(|()| true)
                }
                None => Ok(false),
            };
            match outcome {
                Ok(sent) => {
                    let (account, kind, period) = key(&notice);
                    failed_before.remove(&(account, kind, period.clone()));
                    db.write(move |conn| {
                        billing_notices::mark_sent(conn, account, kind, &period, now)
                    })?;
                    if sent {
                        done.sent += 1;
                    } else {
                        done.dropped += 1;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, account = notice.account.get(), kind = %notice.kind,
                        "could not send a billing notice; it is tried again at the next round");
                    done.failed += 1;
                    // Bounded: a long outage could otherwise gather every notice here.
                    if failed_before.len() >= 10_000 {
                        failed_before.clear();
                    }
                    failed_before.insert(key(&notice));
                    return Ok(done);
                }
            }
        }
    }
}

fn key(notice: &Unsent) -> (AccountId, NoticeKind, String) {
    (notice.account, notice.kind, notice.period.clone())
}

type Replacements = Vec<(&'static str, String)>;

/// The email a notice is now, with its language and recipient; `None` when it is to be dropped (the
/// reason is logged).
fn email_for(
    db: &Db,
    billing: &Billing,
    notice: &Unsent,
    link: &str,
    now: i64,
) -> Result<Option<(Lang, String, Replacements)>> {
    let Some(to) = notice.owner_email.clone() else {
        tracing::warn!(account = notice.account.get(), kind = %notice.kind,
            "a billing notice has nobody to go to (the account has no owner); dropped");
        return Ok(None);
    };
    let lang = notice
        .owner_locale
        .as_deref()
        .and_then(Lang::from_code)
        .unwrap_or(Lang::En);
    let account = notice.account;
    let quota_month = quota_month(notice);
    let (subscription, used) = db.read(|conn| {
        let subscription = subscriptions::find(conn, account)?;
        let used = match quota_month {
            Some(month) => usage::month_count(conn, account, &month.key(), month.start_ms())?,
            None => 0,
        };
        Ok((subscription, used))
    })?;
    let facts = Facts {
        plan: billing.plan(&subscription.plan),
        subscription: &subscription,
        used,
        grace_days: billing.settings.grace_days,
        now,
    };
    match replacements(notice, &facts, lang, link) {
        Ok(replacements) => Ok(Some((lang, to, replacements))),
        Err(reason) => {
            tracing::info!(account = account.get(), kind = %notice.kind, reason,
                "a billing notice no longer holds; dropped");
            Ok(None)
        }
    }
}

/// What a notice's email is written from, as it is when the email is sent.
struct Facts<'a> {
    plan: Option<&'a Plan>,
    subscription: &'a Subscription,
    /// The month's messages, for the quota notices.
    used: u64,
    grace_days: u32,
    now: i64,
}

/// The month a quota notice is about ("2026-12").
fn quota_month(notice: &Unsent) -> Option<Month> {
    if !matches!(notice.kind, NoticeKind::Quota80 | NoticeKind::Quota100) {
        return None;
    }
    let (year, month) = notice.period.split_once('-')?;
    let month = Month {
        year: year.parse().ok()?,
        month: month.parse().ok()?,
    };
    (1..=12).contains(&month.month).then_some(month)
}

/// The values of the email's placeholders, or why the notice no longer holds.
fn replacements(
    notice: &Unsent,
    facts: &Facts<'_>,
    lang: Lang,
    link: &str,
) -> std::result::Result<Replacements, &'static str> {
    const DAY_MS: i64 = super::DAY_MS;
    let s = facts.subscription;
    let grace_ms = i64::from(facts.grace_days) * DAY_MS;
    let mut values: Replacements = vec![
        ("company", notice.company.clone()),
        ("link", link.to_owned()),
    ];
    match notice.kind {
        NoticeKind::Quota80 | NoticeKind::Quota100 => {
            let month = quota_month(notice).ok_or("its period is not a month")?;
            if Month::of(facts.now) != month {
                return Err("its month is over: the count started again");
            }
            let plan = facts.plan.ok_or("the plan is not in the configuration")?;
            let limit = plan
                .messages_per_month
                .ok_or("the plan has no monthly limit any more")?;
            let name = plan.names.get(lang.code()).unwrap_or(&plan.name);
            values.extend([
                ("plan", name.clone()),
                ("used", lang.number(facts.used as i64)),
                ("limit", lang.number(limit as i64)),
                ("resets", lang.datetime(month.resets_at_ms())),
            ]);
        }
        NoticeKind::TrialEnding => {
            let end = notice.period.parse::<i64>().ok().or(s.trial_ends_at);
            if s.status != SubscriptionStatus::Trialing || s.trial_ends_at != end {
                return Err("the trial it announced is over or changed");
            }
            let end = end.ok_or("the trial has no end")?;
            values.extend([
                ("when", lang.datetime(end)),
                ("grace", lang.days(i64::from(facts.grace_days))),
            ]);
        }
        NoticeKind::PaymentFailed => {
            // The grace counts from when the account became past due, or from the failure if it is not
            // yet. Once it is over, the sending-stopped notice says what is true then.
            if matches!(
                s.status,
                SubscriptionStatus::Active | SubscriptionStatus::Trialing
            ) {
                return Err("the account was paid for since");
            }
            let until = s.past_due_since.unwrap_or(notice.created_at) + grace_ms;
            if until <= facts.now {
                return Err("its grace period is over");
            }
            values.push(("until", lang.datetime(until)));
        }
        NoticeKind::SendingStopped => {
            if matches!(
                s.status,
                SubscriptionStatus::Active | SubscriptionStatus::Trialing
            ) {
                return Err("the account sends again");
            }
            let (reason, when) = match notice.period.strip_prefix(CANCELED_PERIOD_PREFIX) {
                Some(at) => ("mail.billing_stopped_canceled", at.parse().ok()),
                None => (
                    "mail.billing_stopped_past_due",
                    notice
                        .period
                        .parse::<i64>()
                        .ok()
                        .map(|since| since + grace_ms),
                ),
            };
            values.extend([
                ("reason", lang.t(reason).to_owned()),
                ("when", lang.datetime(when.unwrap_or(notice.created_at))),
            ]);
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = super::super::DAY_MS;

    fn notice(kind: NoticeKind, period: &str) -> Unsent {
        Unsent {
            account: AccountId::from_operator(1),
            kind,
            period: period.into(),
            created_at: 3 * DAY,
            company: "Shop".into(),
            owner_email: Some("owner@shop.test".into()),
            owner_locale: Some("en".into()),
        }
    }

    fn subscription(status: SubscriptionStatus) -> Subscription {
        Subscription {
            plan: "small".into(),
            status,
            trial_ends_at: Some(14 * DAY),
            past_due_since: None,
            customer_ref: None,
            subscription_ref: None,
            renews_at: None,
            changed_at: 0,
        }
    }

    fn plan() -> Plan {
        let mut plan = Plan::unlimited("small", "Small");
        plan.messages_per_month = Some(1000);
        plan.names.insert("ar".into(), "صغيرة".into());
        plan
    }

    fn value<'a>(values: &'a Replacements, name: &str) -> &'a str {
        values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} in {values:?}"))
    }

    #[test]
    fn a_quota_notice_says_how_many_of_how_many_until_when_in_the_owners_language() {
        let plan = plan();
        let s = subscription(SubscriptionStatus::Active);
        let now = Month {
            year: 2026,
            month: 12,
        }
        .start_ms()
            + DAY;
        let facts = Facts {
            plan: Some(&plan),
            subscription: &s,
            used: 800,
            grace_days: 7,
            now,
        };
        let n = notice(NoticeKind::Quota80, "2026-12");
        let en = replacements(&n, &facts, Lang::En, "https://x/billing").unwrap();
        assert_eq!(value(&en, "used"), "800");
        assert_eq!(value(&en, "limit"), "1,000");
        assert_eq!(value(&en, "plan"), "Small");
        assert_eq!(value(&en, "resets"), "1 Jan 2027, 00:00 UTC");
        assert_eq!(value(&en, "link"), "https://x/billing");
        let ar = replacements(&n, &facts, Lang::Ar, "https://x/billing").unwrap();
        assert_eq!(value(&ar, "limit"), "1,000");
        assert_eq!(value(&ar, "plan"), "صغيرة");

        // The next month, it would be false.
        let later = Facts {
            now: Month {
                year: 2027,
                month: 1,
            }
            .start_ms(),
            ..facts
        };
        assert!(replacements(&n, &later, Lang::En, "l").is_err());
        let unlimited = Plan::unlimited("small", "Small");
        let no_limit = Facts {
            plan: Some(&unlimited),
            ..facts
        };
        assert!(replacements(&n, &no_limit, Lang::En, "l").is_err());
        assert!(quota_month(&notice(NoticeKind::Quota100, "2026-13")).is_none());
    }

    #[test]
    fn a_trial_notice_holds_only_while_that_trial_runs() {
        let n = notice(NoticeKind::TrialEnding, &(14 * DAY).to_string());
        let trialing = subscription(SubscriptionStatus::Trialing);
        let facts = |s| Facts {
            plan: None,
            subscription: s,
            used: 0,
            grace_days: 7,
            now: 12 * DAY,
        };
        let values = replacements(&n, &facts(&trialing), Lang::En, "l").unwrap();
        assert_eq!(value(&values, "when"), "15 Jan 1970, 00:00 UTC");
        assert_eq!(value(&values, "grace"), "7 days");
        let paid = subscription(SubscriptionStatus::Active);
        assert!(replacements(&n, &facts(&paid), Lang::En, "l").is_err());
        let mut extended = subscription(SubscriptionStatus::Trialing);
        extended.trial_ends_at = Some(30 * DAY);
        assert!(replacements(&n, &facts(&extended), Lang::En, "l").is_err());
    }

    #[test]
    fn sending_stopped_says_why_and_since_when_unless_it_sends_again() {
        let mut past_due = subscription(SubscriptionStatus::PastDue);
        past_due.past_due_since = Some(14 * DAY);
        let facts = |s| Facts {
            plan: None,
            subscription: s,
            used: 0,
            grace_days: 7,
            now: 22 * DAY,
        };
        let n = notice(NoticeKind::SendingStopped, &(14 * DAY).to_string());
        let values = replacements(&n, &facts(&past_due), Lang::En, "l").unwrap();
        assert_eq!(value(&values, "when"), "22 Jan 1970, 00:00 UTC");
        assert_eq!(
            value(&values, "reason"),
            Lang::En.t("mail.billing_stopped_past_due")
        );
        let canceled = subscription(SubscriptionStatus::Canceled);
        let n = notice(NoticeKind::SendingStopped, &format!("canceled-{}", 2 * DAY));
        let values = replacements(&n, &facts(&canceled), Lang::En, "l").unwrap();
        assert_eq!(value(&values, "when"), "3 Jan 1970, 00:00 UTC");
        assert_eq!(
            value(&values, "reason"),
            Lang::En.t("mail.billing_stopped_canceled")
        );
        let active = subscription(SubscriptionStatus::Active);
        assert!(replacements(&n, &facts(&active), Lang::En, "l").is_err());
    }

    #[test]
    fn a_failed_payment_gives_the_end_of_the_grace() {
        let mut past_due = subscription(SubscriptionStatus::PastDue);
        past_due.past_due_since = Some(10 * DAY);
        let facts = Facts {
            plan: None,
            subscription: &past_due,
            used: 0,
            grace_days: 7,
            now: 11 * DAY,
        };
        let n = notice(NoticeKind::PaymentFailed, "in_123");
        let values = replacements(&n, &facts, Lang::En, "l").unwrap();
        assert_eq!(value(&values, "until"), "18 Jan 1970, 00:00 UTC");
        let later = Facts {
            now: 17 * DAY - 1,
            ..facts
        };
        assert!(replacements(&n, &later, Lang::En, "l").is_ok());
        let over = Facts {
            now: 18 * DAY,
            ..facts
        };
        assert!(replacements(&n, &over, Lang::En, "l").is_err());
        // Paid meanwhile: the email would be false.
        let active = subscription(SubscriptionStatus::Active);
        let paid = Facts {
            subscription: &active,
            ..facts
        };
        assert!(replacements(&n, &paid, Lang::En, "l").is_err());
    }

    #[test]
    fn every_placeholder_of_every_notice_is_filled_in_both_languages() {
        let plan = plan();
        let mut s = subscription(SubscriptionStatus::Trialing);
        let now = 12 * DAY;
        s.past_due_since = Some(now);
        let cases = [
            (NoticeKind::Quota80, Month::of(now).key()),
            (NoticeKind::Quota100, Month::of(now).key()),
            (NoticeKind::TrialEnding, (14 * DAY).to_string()),
            (NoticeKind::PaymentFailed, "x".to_owned()),
            (NoticeKind::SendingStopped, "canceled-5".to_owned()),
        ];
        for (kind, period) in cases {
            match kind {
                NoticeKind::PaymentFailed => s.status = SubscriptionStatus::PastDue,
                NoticeKind::SendingStopped => s.status = SubscriptionStatus::Canceled,
                _ => {}
            }
            let facts = Facts {
                plan: Some(&plan),
                subscription: &s,
                used: 1,
                grace_days: 7,
                now,
            };
            for lang in [Lang::En, Lang::Ar] {
                let values = replacements(&notice(kind, &period), &facts, lang, "l").unwrap();
                for part in ["subject", "text"] {
                    let key = format!("mail.billing_{}_{part}", kind.as_str());
                    let mut text = lang.t(&key).to_owned();
                    assert_ne!(text, key, "{key} is in the {lang:?} catalog");
                    for (name, value) in &values {
                        text = text.replace(&format!("{{{name}}}"), value);
                    }
                    assert!(
                        !text.contains('{'),
                        "{key} ({lang:?}) left a placeholder: {text}"
                    );
                }
            }
        }
    }
}
