//! The Billing page of an account, for its owner and admins (members are refused, as on every page that
//! manages the account): the plan and its subscription's status and dates, this month's messages against
//! the quota, what the plan's limits leave, the other plans, and with Stripe the forms that go to
//! Checkout and to the customer portal (their routes live with the Stripe integration, not here).

use super::Reply;
use super::context::Ctx;
use super::page::{Page, render};
use crate::config::{Plan, Provider};
use crate::error::Result;
use crate::http::auth::Admin;
use crate::services::billing::{Billing, Month, Sending, Standing};
use crate::store::states::SubscriptionStatus;
use crate::store::{AccountId, Db, connections, endpoints, now_ms, tokens, usage};
use askama::Template;
use rocket::http::Status;
use rocket::{get, routes};
use std::sync::Arc;

pub fn routes() -> Vec<rocket::Route> {
    routes![show_billing]
}

/// This month's messages against the plan's quota.
struct Meter {
    used: u64,
    /// `None`: the plan has no monthly limit (no bar, a sentence instead).
    quota: Option<u64>,
    text: String,
    resets: String,
    full: bool,
}

/// One of the plan's limits and how much of it is in use.
struct LimitRow {
    id: &'static str,
    label: String,
    text: String,
}

/// Another plan, as the page offers it.
struct Choice {
    id: String,
    name: String,
    price: Option<String>,
    messages: String,
    /// Bought through Stripe Checkout (the provider is Stripe and the plan has a price there).
    checkout: bool,
}

#[derive(Template)]
#[template(path = "billing.html")]
struct BillingPage<'a> {
    page: &'a Page,
    plan: &'a Plan,
    plan_name: &'a str,
    features: Vec<String>,
    api_rate: Option<String>,
    status: &'static str,
    badge: &'static str,
    dates: Vec<String>,
    meter: Meter,
    past_months: Vec<(String, String)>,
    limits: Vec<LimitRow>,
    choices: Vec<Choice>,
    stripe: bool,
    /// A plan cannot be bought here: the page says that operators move accounts between plans.
    operator_changes: bool,
}

/// What the account has of each thing a plan counts: numbers, people (open invitations included, as
/// the plan counts them) and webhook endpoints.
struct InUse {
    connections: usize,
    members: usize,
    endpoints: usize,
}

async fn in_use(db: &Db, account: AccountId, now: i64) -> Result<(InUse, Vec<(String, u64)>)> {
    db.read_async(move |conn| {
        // The same counts the limits are checked with.
        let counts = InUse {
            connections: connections::count(conn, account)? as usize,
            members: tokens::members_and_invited(conn, account, now)? as usize,
            endpoints: endpoints::count(conn, account)? as usize,
        };
        Ok((counts, usage::months(conn, account, 13)?))
    })
    .await
}

#[get("/billing")]
async fn show_billing(ctx: Ctx<'_>, admin: Admin<'_>) -> Result<Reply> {
    let billing = ctx.state::<Arc<Billing>>()?;
    let (page, db) = (&ctx.page, ctx.db);
    let (account, now) = (admin.account, now_ms());
    let standing = billing.standing(db, account).await?;
    let used = billing.usage.this_month(db, account, now).await?;
    let (counts, months) = in_use(db, account, now).await?;
    let lang = page.lang.code();
    let plan = &standing.plan;
    let stripe = billing.settings.provider == Provider::Stripe;
    let choices: Vec<Choice> = billing
        .plans()
        .iter()
        .filter(|p| p.id != plan.id)
        .map(|p| Choice {
            id: p.id.clone(),
            name: p.name_in(lang).to_owned(),
            price: p.price.clone(),
            messages: messages_per_month(page, p),
            checkout: stripe && p.stripe_price.is_some(),
        })
        .collect();
    let operator_changes = choices.iter().any(|c| !c.checkout);
    let this_month = Month::of(now).key();
    let html = render(BillingPage {
        page,
        plan,
        plan_name: plan.name_in(lang),
        features: plan
            .features
            .iter()
            .map(|f| page.t(&format!("feature_names.{}", f.as_str())).to_owned())
            .collect(),
        api_rate: plan
            .api_requests_per_minute
            .map(|n| page.number(&i64::from(n))),
        status: standing.subscription.status.as_str(),
        badge: badge(standing.subscription.status),
        dates: dates(page, &standing, billing.settings.grace_days, now),
        meter: meter(page, plan, used, now),
        past_months: months
            .into_iter()
            .filter(|(month, _)| *month != this_month)
            .take(12)
            .map(|(month, count)| (month, page.number(&to_i64(count))))
            .collect(),
        limits: limits(page, plan, &counts),
        choices,
        stripe,
        operator_changes,
    })?;
    Ok(Reply::Page((Status::Ok, html)))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn messages_per_month(page: &Page, plan: &Plan) -> String {
    match plan.messages_per_month {
        Some(n) => page
            .t("billing.per_month")
            .replace("{count}", &page.number(&to_i64(n))),
        None => page.t("billing.messages_unlimited").to_owned(),
    }
}

/// The badge's colour says how urgent the status is.
fn badge(status: SubscriptionStatus) -> &'static str {
    match status {
        SubscriptionStatus::Trialing => "",
        SubscriptionStatus::Active => "success",
        SubscriptionStatus::PastDue => "warning",
        SubscriptionStatus::Canceled => "danger",
    }
}

/// The subscription's dates in sentences: the trial's end, the renewal, since when payment is due and
/// when sending stops (or that it has).
fn dates(page: &Page, standing: &Standing, grace_days: u32, now: i64) -> Vec<String> {
    let s = &standing.subscription;
    let lang = page.lang;
    let mut out = Vec::new();
    let day = |key: &str, at: i64| page.t(key).replace("{date}", &lang.date(at));
    match s.status {
        SubscriptionStatus::Trialing => match s.trial_ends_at {
            Some(end) if end > now => out.push(day("billing.trial_ends", end)),
            Some(end) => out.push(day("billing.trial_ended", end)),
            None => {}
        },
        SubscriptionStatus::Active => out.extend(s.renews_at.map(|at| day("billing.renews", at))),
        SubscriptionStatus::PastDue => out.push(day(
            "billing.past_due_since",
            s.past_due_since.unwrap_or(s.changed_at),
        )),
        SubscriptionStatus::Canceled => out.push(page.t("billing.canceled").to_owned()),
    }
    if s.status != SubscriptionStatus::Canceled {
        match standing.sending(now, grace_days) {
            Sending::Allowed => {}
            Sending::InGrace { stops_at } => out.push(
                page.t("billing.sending_stops")
                    .replace("{when}", &lang.datetime(stops_at)),
            ),
            Sending::Stopped => out.push(page.t("billing.sending_stopped").to_owned()),
        }
    }
    out
}

fn meter(page: &Page, plan: &Plan, used: u64, now: i64) -> Meter {
    let resets = page
        .t("billing.usage_resets")
        .replace("{date}", &page.lang.date(Month::of(now).resets_at_ms()));
    let text = match plan.messages_per_month {
        Some(quota) => page
            .t("billing.usage_of")
            .replace("{used}", &page.number(&to_i64(used)))
            .replace("{quota}", &page.number(&to_i64(quota))),
        None => page
            .t("billing.usage_unlimited")
            .replace("{used}", &page.number(&to_i64(used))),
    };
    Meter {
        used,
        quota: plan.messages_per_month,
        text,
        resets,
        full: plan.messages_per_month.is_some_and(|quota| used >= quota),
    }
}

fn limits(page: &Page, plan: &Plan, counts: &InUse) -> Vec<LimitRow> {
    let row = |id: &'static str, allowed: Option<u32>, used: usize| {
        let used = page.number(&i64::try_from(used).unwrap_or(i64::MAX));
        let text = match allowed {
            Some(allowed) => page
                .t("billing.limit_of")
                .replace("{used}", &used)
                .replace("{allowed}", &page.number(&i64::from(allowed))),
            None => page.t("billing.limit_unlimited").replace("{used}", &used),
        };
        LimitRow {
            id,
            label: page.t(&format!("billing.limit_{id}")).to_owned(),
            text,
        }
    };
    vec![
        row("connections", plan.connections, counts.connections),
        row("members", plan.members, counts.members),
        row(
            "webhook_endpoints",
            plan.webhook_endpoints,
            counts.endpoints,
        ),
    ]
}
