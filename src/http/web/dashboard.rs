//! The home page of a signed-in member: today's and this month's messages with their rates, the last 14
//! days as a chart, each number's quality and pace, the plan's quota, the latest failures with Meta's
//! error in words, and, until all four are done, the first steps to take (ticked from the data).

use super::charts::{self, Chart};
use super::page::{Page, render};
use super::usage::figures::Figures;
use crate::config::Config;
use crate::domain::meta::errors;
use crate::error::{Error, Result};
use crate::http::auth::{AnySession, Gate};
use crate::services::billing::Billing;
use crate::services::dashboard::{self, Counts, Overview};
use crate::store::accounts::{self, Account};
use crate::store::retention::Visible;
use crate::store::{Db, now_ms};
use askama::Template;
use rocket::response::Redirect;
use rocket::response::content::RawHtml;
use rocket::{State, get, routes};
use std::sync::Arc;

pub fn routes() -> Vec<rocket::Route> {
    routes![home]
}

/// One figure of a period, in words.
struct Figure {
    key: &'static str,
    label: &'static str,
    value: String,
}

/// A period's figures and rates, ready to show.
struct Period {
    id: &'static str,
    title: &'static str,
    figures: Vec<Figure>,
    delivery_rate: String,
    read_rate: String,
}

/// A step of the getting-started checklist.
struct Step {
    id: &'static str,
    done: bool,
    label: &'static str,
    href: &'static str,
}

struct Number {
    id: i64,
    name: String,
    display_number: Option<String>,
    quality: Option<String>,
    held: bool,
    pace: String,
}

struct FailureRow {
    id: String,
    to: String,
    kind: String,
    code: String,
    words: String,
    meta: String,
    at: i64,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard<'a> {
    page: &'a Page,
    account: Account,
    /// The plan's name in the page's language, from the configuration.
    plan_name: String,
    /// `None` once every first step is done.
    steps: Option<Vec<Step>>,
    periods: Vec<Period>,
    chart: String,
    numbers: Vec<Number>,
    meter: String,
    failures: Vec<FailureRow>,
}

fn period(page: &Page, id: &'static str, title: &'static str, counts: &Counts) -> Period {
    let count = |n: u64| charts::count(page.lang, n);
    let rate = |r: Option<f64>| {
        r.map_or_else(
            || page.t("dashboard.no_rate").to_owned(),
            |r| charts::percent(page.lang, r),
        )
    };
    let figures = [
        ("sent", "dashboard.sent", counts.sent),
        ("delivered", "dashboard.delivered", counts.delivered),
        ("read", "dashboard.read", counts.read),
        ("failed", "dashboard.failed", counts.failed),
        ("received", "dashboard.received", counts.received),
        ("unread", "dashboard.unread", counts.unread),
    ]
    .into_iter()
    .map(|(key, label, n)| Figure {
        key,
        label: page.t(label),
        value: count(n),
    })
    .collect();
    Period {
        id,
        title: page.t(title),
        figures,
        delivery_rate: rate(counts.delivery_rate()),
        read_rate: rate(counts.read_rate()),
    }
}

/// Messages per second, with one decimal, in the page's language ("0.5", "12").
fn per_second(page: &Page, value: f64) -> String {
    let tenths = (value * 10.0).round() as i64;
    let whole = page.lang.number(tenths / 10);
    match tenths % 10 {
        0 => whole,
        rest => format!(
            "{whole}{}{}",
            page.t("dashboard.decimal"),
            page.lang.number(rest)
        ),
    }
}

fn steps(page: &Page, overview: &Overview) -> Option<Vec<Step>> {
    let first = overview.first_steps;
    let steps = vec![
        Step {
            id: "step-number",
            done: first.number,
            label: page.t("dashboard.step_number"),
            href: "/connections",
        },
        Step {
            id: "step-message",
            done: first.message,
            label: page.t("dashboard.step_message"),
            href: "/compose",
        },
        Step {
            id: "step-api-key",
            done: first.api_key,
            label: page.t("dashboard.step_api_key"),
            href: "/api-keys",
        },
        Step {
            id: "step-endpoint",
            done: first.endpoint,
            label: page.t("dashboard.step_endpoint"),
            href: "/webhook-endpoints",
        },
    ];
    steps.iter().any(|s| !s.done).then_some(steps)
}

fn meter(page: &Page, used: u64, quota: Option<u64>) -> String {
    let count = |n| charts::count(page.lang, n);
    let text = match quota {
        Some(quota) => page
            .t("usage.month_of")
            .replace("{used}", &count(used))
            .replace("{quota}", &count(quota)),
        None => page
            .t("usage.month_unlimited")
            .replace("{used}", &count(used)),
    };
    let chart = Chart {
        lang: page.lang,
        title: page.t("usage.month"),
        summary: &text,
    };
    charts::meter(&chart, used, quota, &text)
}

#[get("/")]
async fn home(
    page: Page,
    session: Option<AnySession<'_>>,
    db: &State<Db>,
    billing: &State<Arc<Billing>>,
    config: &State<Config>,
) -> Result<Result<RawHtml<String>, Redirect>> {
    let Some(AnySession(session)) = session else {
        return Ok(Err(Redirect::to("/login")));
    };
    // A session with a step to take first (the code, enrolment, the number) is sent to it.
    if session.gate != Gate::Open {
        return Ok(Err(Redirect::to(session.gate.page())));
    }
    let Some(account_id) = session.user.account_id else {
        return Ok(Err(Redirect::to("/admin")));
    };
    let account = db
        .read_async(move |conn| accounts::find(conn, account_id)?.ok_or(Error::NotFound))
        .await?;
    let now = now_ms();
    let visible = Visible::days(config.retention.message_days, now);
    let overview = dashboard::overview(db, billing, account_id, visible, now).await?;
    let plan_name = billing
        .plan(&account.plan)
        .map_or(account.plan.as_str(), |plan| plan.name_in(page.lang.code()))
        .to_owned();
    let periods = vec![
        period(&page, "today", "dashboard.today", &overview.today),
        period(&page, "month", "dashboard.this_month", &overview.month),
    ];
    let chart = Figures::messages(&page, &overview.days);
    let numbers = overview
        .numbers
        .iter()
        .map(|n| Number {
            id: n.id,
            name: n.name.clone(),
            display_number: n.display_number.clone(),
            quality: n.quality.clone(),
            held: n.held,
            pace: page
                .t("dashboard.pace")
                .replace("{now}", &per_second(&page, n.per_second))
                .replace("{cap}", &page.lang.number(n.cap)),
        })
        .collect();
    let failures = overview
        .failures
        .iter()
        .map(|f| FailureRow {
            id: f.id.get().to_string(),
            to: format!("+{}", f.to.trim_start_matches('+')),
            kind: page.term("message_type", &f.kind),
            code: f.code.map(|c| c.to_string()).unwrap_or_default(),
            words: f
                .code
                .map(|c| errors::words(page.lang, c))
                .unwrap_or_default(),
            meta: [f.title.as_deref(), f.details.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": "),
            at: f.at,
        })
        .collect();
    let steps = steps(&page, &overview);
    let meter = meter(&page, overview.month_used, overview.quota);
    Ok(Ok(render(Dashboard {
        page: &page,
        account,
        plan_name,
        steps,
        periods,
        chart,
        numbers,
        meter,
        failures,
    })?))
}
