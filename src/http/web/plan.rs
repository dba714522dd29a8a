//! What an account's plan changes on its pages besides the Billing page: the banner of a subscription
//! that is not paid (on every page, through `Page`), the page that stands in for a part of the product
//! the plan does not include, and the plan's refusals in words next to a form.

use super::Reply;
use super::i18n::Lang;
use super::page::{Page, render};
use crate::config::Feature;
use crate::error::{Error, Result};
use crate::services::billing::{Billing, Sending, Standing};
use crate::store::states::SubscriptionStatus;
use crate::store::{AccountId, Db};
use askama::Template;
use rocket::http::Status;

/// The banner for an account whose sending the operator held, or whose subscription does not allow
/// sending for good, in words; `None` while it does (trialing with time left, or active).
pub fn banner(lang: Lang, standing: &Standing, grace_days: u32, now: i64) -> Option<String> {
    if standing.holds.sending_held.is_some() {
        return Some(lang.t("errors.sending_held").to_owned());
    }
    let status = standing.subscription.status;
    let text = match (status, standing.sending(now, grace_days)) {
        (SubscriptionStatus::Canceled, _) => lang.t("billing.banner_canceled").to_owned(),
        (_, Sending::Allowed) => return None,
        // A trial that ended and that the billing job has not moved to past due yet reads as what it is.
        (SubscriptionStatus::Trialing, Sending::InGrace { stops_at }) => lang
            .t("billing.banner_trial_ended")
            .replace("{when}", &lang.datetime(stops_at)),
        (_, Sending::InGrace { stops_at }) => lang
            .t("billing.banner_past_due")
            .replace("{when}", &lang.datetime(stops_at)),
        (_, Sending::Stopped) => lang.t("billing.banner_stopped").to_owned(),
    };
    Some(text)
}

/// The banner of the signed-in person's account, read through the billing state's few-seconds memory so a
/// page costs no extra query most of the time. A failure to read it leaves the banner out: the page itself
/// matters more.
pub async fn banner_of(
    req: &rocket::Request<'_>,
    lang: Lang,
    account: AccountId,
) -> Option<String> {
    let rocket = req.rocket();
    let billing = rocket.state::<std::sync::Arc<Billing>>()?;
    let db = rocket.state::<Db>()?;
    match billing.standing(db, account).await {
        Ok(standing) => banner(
            lang,
            &standing,
            billing.settings.grace_days,
            crate::store::now_ms(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the account's subscription for a page");
            None
        }
    }
}

#[derive(Template)]
#[template(path = "plan_feature.html")]
struct LackingPage<'a> {
    page: &'a Page,
    title: &'a str,
    text: String,
}

/// The page shown instead of a part of the product the account's plan does not include (403, as the
/// API's `plan_feature`), or `None` when the plan includes it.
pub async fn lacking(
    page: &Page,
    db: &Db,
    billing: &Billing,
    account: AccountId,
    feature: Feature,
) -> Result<Option<Reply>> {
    let standing = billing.standing(db, account).await?;
    if standing.plan.has(feature) {
        return Ok(None);
    }
    let text = page
        .t("plan_feature.text")
        .replace("{plan}", standing.plan.name_in(page.lang.code()))
        .replace(
            "{feature}",
            page.t(&format!("features.{}", feature.as_str())),
        );
    let title_key = format!("plan_feature.title_{}", feature.as_str());
    let html = render(LackingPage {
        page,
        title: page.t(&title_key),
        text,
    })?;
    Ok(Some(Reply::Page((Status::Forbidden, html))))
}

/// A refusal because of the plan, in words (`None` for any other error). The words never name a code:
/// they say what the plan allows and what to do; the form's message then links to the Billing page.
pub fn refusal(lang: Lang, error: &Error) -> Option<String> {
    Some(match error {
        Error::PlanLimit { limit, allowed, .. } => {
            let key = format!("billing.limit_reached_{limit}");
            let text = match lang.t(&key) {
                same if same == key => lang.t("billing.limit_reached"),
                text => text,
            };
            text.replace("{allowed}", &lang.number(i64::from(*allowed)))
        }
        Error::QuotaExceeded { limit, resets_at } => lang
            .t("billing.quota_used")
            .replace(
                "{limit}",
                &lang.number(i64::try_from(*limit).unwrap_or(i64::MAX)),
            )
            .replace("{date}", &lang.date(*resets_at)),
        Error::SubscriptionInactive { status } => match *status {
            "past_due" => lang.t("billing.inactive_past_due"),
            "canceled" => lang.t("billing.inactive_canceled"),
            _ => lang.t("billing.inactive"),
        }
        .to_owned(),
        Error::PlanFeature { feature, .. } => lang
            .t("billing.feature_missing")
            .replace("{feature}", lang.t(&format!("features.{feature}"))),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Plan;
    use crate::store::subscriptions::Subscription;

    const DAY: i64 = 86_400_000;

    fn standing(status: SubscriptionStatus, trial_ends_at: Option<i64>) -> Standing {
        Standing {
            plan: Plan::unlimited("p", "P"),
            subscription: Subscription {
                plan: "p".into(),
                status,
                trial_ends_at,
                past_due_since: Some(10 * DAY),
                customer_ref: None,
                subscription_ref: None,
                renews_at: None,
                changed_at: 10 * DAY,
            },
            holds: Default::default(),
        }
    }

    #[test]
    fn the_banner_says_when_sending_stops_and_that_it_stopped() {
        let past_due = standing(SubscriptionStatus::PastDue, None);
        let text = banner(Lang::En, &past_due, 7, 11 * DAY).unwrap();
        assert!(
            text.contains("Payment is due") && text.contains("18 Jan 1970"),
            "{text}"
        );
        let text = banner(Lang::En, &past_due, 7, 17 * DAY).unwrap();
        assert!(text.contains("sending has stopped"), "{text}");
        let text = banner(Lang::Ar, &past_due, 7, 11 * DAY).unwrap();
        assert!(text.contains("الدفع مستحق"), "{text}");
        let canceled = standing(SubscriptionStatus::Canceled, None);
        assert!(
            banner(Lang::En, &canceled, 7, 0)
                .unwrap()
                .contains("canceled")
        );
        // Active, and a trial with time left: no banner.
        assert_eq!(
            banner(Lang::En, &standing(SubscriptionStatus::Active, None), 7, 0),
            None
        );
        let trial = standing(SubscriptionStatus::Trialing, Some(20 * DAY));
        assert_eq!(banner(Lang::En, &trial, 7, 19 * DAY), None);
        let text = banner(Lang::En, &trial, 7, 21 * DAY).unwrap();
        assert!(text.contains("trial has ended"), "{text}");
    }

    #[test]
    fn every_plan_refusal_is_in_words_in_both_languages() {
        let refusals = [
            Error::PlanLimit {
                limit: "connections",
                allowed: 2,
                plan: "starter".into(),
            },
            Error::PlanLimit {
                limit: "members",
                allowed: 5,
                plan: "starter".into(),
            },
            Error::PlanLimit {
                limit: "webhook_endpoints",
                allowed: 3,
                plan: "starter".into(),
            },
            Error::QuotaExceeded {
                limit: 10_000,
                resets_at: 31 * DAY,
            },
            Error::SubscriptionInactive { status: "past_due" },
            Error::SubscriptionInactive { status: "canceled" },
            Error::PlanFeature {
                feature: "webhooks",
                plan: "starter".into(),
            },
        ];
        for lang in Lang::ALL {
            for error in &refusals {
                let text = refusal(lang, error).unwrap();
                let code = error.code().as_str();
                assert!(
                    !text.contains(code) && !text.contains('{') && !text.contains("billing."),
                    "{lang:?} {error:?}: {text}"
                );
            }
        }
        let quota = refusal(Lang::En, &refusals[3]).unwrap();
        assert!(
            quota.contains("10,000") && quota.contains("1 Feb 1970"),
            "{quota}"
        );
        let limit = refusal(Lang::En, &refusals[0]).unwrap();
        assert!(
            limit.contains("WhatsApp numbers") && limit.contains("(2)"),
            "{limit}"
        );
        assert_eq!(refusal(Lang::En, &Error::NotFound), None);
    }
}
