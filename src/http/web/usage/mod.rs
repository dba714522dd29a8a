//! The Usage page of an account (`/usage`), for every member: a range of UTC days and how to group the
//! table, charts of the messages per day by status, the delivery and read rates, the failures by Meta's
//! error code, the API calls per day and this month against the plan's quota; the table of counts with
//! its totals, and the same table as CSV (`/usage.csv`). A new account that never sent anything sees
//! what to do first instead.

mod csv;
pub(super) mod figures;

use super::Reply;
use super::context::Ctx;
use super::i18n::normalise_digits;
use super::page::{Page, render};
use crate::error::{Error, Result};
use crate::http::auth::Member;
use crate::services::billing::Billing;
use crate::services::usage::{self, GroupBy, MAX_DAYS, UsageReport, UsageRow};
use crate::store::{self, AccountId, Db, connections, now_ms};
use askama::Template;
use chrono::NaiveDate;
use figures::{Figures, day_ms};
use rocket::form::FromForm;
use rocket::http::Status;
use rocket::{get, routes};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Vec<rocket::Route> {
    routes![show_usage, csv::usage_csv]
}

/// The range and grouping as the form (or a link) gives them; empty fields take their defaults.
#[derive(FromForm, Default)]
pub(super) struct Asked {
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
}

/// A range and grouping that can be reported.
struct Range {
    from: NaiveDate,
    to: NaiveDate,
    group_by: GroupBy,
}

/// Why the asked range cannot be reported, to be put in words on the page or answered to a download.
enum Refusal {
    BadFrom,
    BadTo,
    Order,
    TooLong,
    Group,
}

impl Refusal {
    fn words(&self, page: &Page) -> String {
        match self {
            Refusal::BadFrom => page.t("usage.bad_from").to_owned(),
            Refusal::BadTo => page.t("usage.bad_to").to_owned(),
            Refusal::Order => page.t("usage.bad_order").to_owned(),
            Refusal::TooLong => page
                .t("usage.too_long")
                .replace("{days}", &page.lang.days(MAX_DAYS)),
            Refusal::Group => page.t("usage.bad_group").to_owned(),
        }
    }

    fn error(&self) -> Error {
        match self {
            Refusal::BadFrom => Error::invalid("from", "must be a date, YYYY-MM-DD"),
            Refusal::BadTo => Error::invalid("to", "must be a date, YYYY-MM-DD"),
            Refusal::Order => Error::invalid("from", "must not be after to"),
            Refusal::TooLong => Error::invalid(
                "from",
                format!("the range may cover at most {MAX_DAYS} days"),
            ),
            Refusal::Group => Error::invalid("group_by", "must be day, connection or type"),
        }
    }
}

impl Asked {
    fn field(value: &Option<String>) -> Option<&str> {
        value.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }

    /// The range to report: `to` defaults to today (UTC), `from` to 29 days before it, at most
    /// `MAX_DAYS` days, grouped by day unless asked otherwise.
    fn check(&self, now: i64) -> std::result::Result<Range, Refusal> {
        let date = |value: &Option<String>, refusal: Refusal| {
            Asked::field(value)
                .map(|text| {
                    NaiveDate::parse_from_str(&normalise_digits(text), "%Y-%m-%d")
                        .map_err(|_| refusal)
                })
                .transpose()
        };
        let from = date(&self.from, Refusal::BadFrom)?;
        let to = date(&self.to, Refusal::BadTo)?;
        let group_by = match Asked::field(&self.group_by) {
            None => GroupBy::Day,
            Some(name) => GroupBy::parse(name).ok_or(Refusal::Group)?,
        };
        let (from, to) = usage::range(from, to, now).map_err(|_| {
            let today = chrono::DateTime::from_timestamp_millis(now)
                .map(|at| at.date_naive())
                .unwrap_or_default();
            match from {
                Some(from) if from > to.unwrap_or(today) => Refusal::Order,
                _ => Refusal::TooLong,
            }
        })?;
        Ok(Range { from, to, group_by })
    }
}

/// A grouping's name in links, in the form and in the CSV's header.
fn group_name(group_by: GroupBy) -> &'static str {
    match group_by {
        GroupBy::Day => "day",
        GroupBy::Connection => "connection",
        GroupBy::Type => "type",
    }
}

/// One row of the table, in the page's words and digits.
struct Line {
    key: String,
    /// The key is shown as stored (no words for it), laid out left to right.
    ltr: bool,
    /// Each count in words, and whether it is zero (shown fainter).
    cells: [(String, bool); 7],
}

/// One error code with its words and count.
struct Failure {
    code: i64,
    words: String,
    count: String,
}

/// What the page shows for a range that could be reported.
struct Report {
    period: String,
    figures: Figures,
    heading: &'static str,
    rows: Vec<Line>,
    totals: Line,
    failures: Vec<Failure>,
    /// Nothing at all happened in the range.
    quiet: bool,
}

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage<'a> {
    page: &'a Page,
    /// The form's fields as given (or their defaults), so a refused value can be corrected.
    from: String,
    to: String,
    group_by: &'static str,
    groups: [(&'static str, &'static str); 3],
    error: Option<String>,
    /// The account never sent, received or called anything: what to do first.
    empty: bool,
    report: Option<Report>,
    meter: String,
    csv: String,
}

#[get("/usage?<asked..>")]
async fn show_usage(ctx: Ctx<'_>, member: Member<'_>, asked: Asked) -> Result<Reply> {
    let billing = ctx.state::<Arc<Billing>>()?;
    let (page, db, account, now) = (&ctx.page, ctx.db, member.account, now_ms());
    let used = billing.usage.this_month(db, account, now).await?;
    let quota = billing.standing(db, account).await?.plan.messages_per_month;
    let meter = figures::month(page, used, quota);
    let groups = [
        ("day", "usage.group_day"),
        ("connection", "usage.group_connection"),
        ("type", "usage.group_type"),
    ];
    let range = match asked.check(now) {
        Ok(range) => range,
        Err(refusal) => {
            let html = render(UsagePage {
                page,
                from: Asked::field(&asked.from).unwrap_or_default().to_owned(),
                to: Asked::field(&asked.to).unwrap_or_default().to_owned(),
                group_by: Asked::field(&asked.group_by)
                    .and_then(GroupBy::parse)
                    .map_or("day", group_name),
                groups,
                error: Some(refusal.words(page)),
                empty: false,
                report: None,
                meter,
                csv: String::new(),
            })?;
            return Ok(Reply::Page((Status::BadRequest, html)));
        }
    };
    let (by_day, table) =
        usage::report_by_day_and(db, account, range.from, range.to, range.group_by).await?;
    let t = &by_day.totals;
    let quiet = t.accepted + t.sent + t.failed + t.inbound + t.api_calls == 0;
    // Calls that only set the account up (a key, a number) do not make a first message.
    let empty = t.accepted + t.sent + t.failed + t.inbound == 0
        && used == 0
        && !ever_sent(db, account).await?;
    let report = if empty {
        None
    } else {
        let names = names(db, account, range.group_by).await?;
        Some(report(page, &by_day, table.as_ref(), &names, quiet))
    };
    let query = format!(
        "from={}&to={}&group_by={}",
        range.from,
        range.to,
        group_name(range.group_by)
    );
    let html = render(UsagePage {
        page,
        from: range.from.to_string(),
        to: range.to.to_string(),
        group_by: group_name(range.group_by),
        groups,
        error: None,
        empty,
        report,
        meter,
        csv: format!("/usage.csv?{query}"),
    })?;
    Ok(Reply::Page((Status::Ok, html)))
}

/// Whether the account has sent anything in the months the counts are kept.
async fn ever_sent(db: &Db, account: AccountId) -> Result<bool> {
    let months = db
        .read_async(move |conn| store::usage::months(conn, account, 13))
        .await?;
    Ok(months.iter().any(|(_, count)| *count > 0))
}

/// The account's numbers by id, as its Numbers page names them ("Sales · 1234567890"), when the table
/// is by number.
async fn names(db: &Db, account: AccountId, group_by: GroupBy) -> Result<HashMap<String, String>> {
    if group_by != GroupBy::Connection {
        return Ok(HashMap::new());
    }
    let list = db
        .read_async(move |conn| connections::list_for_account(conn, account))
        .await?;
    Ok(list
        .into_iter()
        .map(|c| {
            let name = if c.phone_number_id.is_empty() {
                c.name
            } else {
                format!("{} · {}", c.name, c.phone_number_id)
            };
            (c.id.get().to_string(), name)
        })
        .collect())
}

/// A row's key in words: a day as a date, a number by its name, a message type by its name.
fn key_words(
    page: &Page,
    group_by: GroupBy,
    key: &str,
    names: &HashMap<String, String>,
) -> (String, bool) {
    match group_by {
        GroupBy::Day => match NaiveDate::parse_from_str(key, "%Y-%m-%d") {
            Ok(day) => (page.lang.date(day_ms(day)), false),
            Err(_) => (key.to_owned(), true),
        },
        GroupBy::Connection => match names.get(key) {
            Some(name) => (name.clone(), false),
            None => (page.t("usage.connection_gone").replace("{id}", key), false),
        },
        GroupBy::Type => (page.term("compose.kind", key), false),
    }
}

fn line(page: &Page, key: (String, bool), row: &UsageRow) -> Line {
    let n = |v: u64| (figures::count(page, v), v == 0);
    Line {
        key: key.0,
        ltr: key.1,
        cells: [
            n(row.accepted),
            n(row.sent),
            n(row.delivered),
            n(row.read),
            n(row.failed),
            n(row.inbound),
            n(row.api_calls),
        ],
    }
}

fn report(
    page: &Page,
    by_day: &UsageReport,
    table: Option<&UsageReport>,
    names: &HashMap<String, String>,
    quiet: bool,
) -> Report {
    let table = table.unwrap_or(by_day);
    let rows = table
        .rows
        .iter()
        .map(|row| line(page, key_words(page, table.group_by, &row.key, names), row))
        .collect();
    let totals = line(
        page,
        (page.t("usage.total").to_owned(), false),
        &table.totals,
    );
    let failures = by_day
        .failures
        .iter()
        .map(|f| Failure {
            code: f.code,
            words: figures::error_words(page, f.code),
            count: figures::count(page, f.count),
        })
        .collect();
    Report {
        period: figures::period(page, by_day),
        figures: Figures::of(page, by_day),
        heading: match table.group_by {
            GroupBy::Day => "usage.day",
            GroupBy::Connection => "usage.connection",
            GroupBy::Type => "usage.type",
        },
        rows,
        totals,
        failures,
        quiet,
    }
}
