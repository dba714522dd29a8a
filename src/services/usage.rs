//! An account's usage over a range of UTC days, as the API (`GET /api/v1/usage`) and the Usage page
//! show it: the daily roll-ups (`store::rollups`) with what was counted since their last flush, grouped
//! by day, by connection or by message type, with failures by Meta's error code, API calls by key, route
//! and class of answer, and deliveries by Meta's pricing category.

use crate::domain::meta::errors::explain;
use crate::error::{Error, Result};
use crate::store::rollups::{self, Counted};
use crate::store::states::UsageEvent;
use crate::store::{AccountId, Db};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The longest range one report covers, in days (the roll-ups are kept 13 months by default).
pub const MAX_DAYS: i64 = 400;

/// What the rows of a report are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// One row per UTC day of the range, days without anything included.
    Day,
    /// One row per connection (id) that had messages.
    Connection,
    /// One row per message type (`text`, `template`, ...).
    Type,
}

impl GroupBy {
    pub const NAMES: &'static [&'static str] = &["day", "connection", "type"];

    pub fn parse(text: &str) -> Option<GroupBy> {
        match text {
            "day" => Some(GroupBy::Day),
            "connection" => Some(GroupBy::Connection),
            "type" => Some(GroupBy::Type),
            _ => None,
        }
    }
}

/// One row of a report: what happened, by event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct UsageRow {
    /// The day (`YYYY-MM-DD`), the connection's id, the message type, or `total`.
    pub key: String,
    /// Messages accepted for sending.
    pub accepted: u64,
    /// Messages Meta took.
    pub sent: u64,
    pub delivered: u64,
    pub read: u64,
    /// Messages that failed for good.
    pub failed: u64,
    /// Customers' messages received.
    pub inbound: u64,
    /// Requests to `/api/v1` with the account's keys (by day and in the totals only: calls are not about a
    /// connection or a message type).
    pub api_calls: u64,
}

impl UsageRow {
    fn keyed(key: impl Into<String>) -> UsageRow {
        UsageRow {
            key: key.into(),
            ..UsageRow::default()
        }
    }

    /// The sum of `rows`, keyed `total` (the totals of a part of a report).
    pub fn total_of(rows: &[UsageRow]) -> UsageRow {
        rows.iter().fold(UsageRow::keyed("total"), |mut sum, row| {
            sum.accepted += row.accepted;
            sum.sent += row.sent;
            sum.delivered += row.delivered;
            sum.read += row.read;
            sum.failed += row.failed;
            sum.inbound += row.inbound;
            sum.api_calls += row.api_calls;
            sum
        })
    }

    fn add(&mut self, line: &Counted) {
        let slot = match line.event {
            UsageEvent::Accepted => &mut self.accepted,
            UsageEvent::Sent => &mut self.sent,
            UsageEvent::Delivered => &mut self.delivered,
            UsageEvent::Read => &mut self.read,
            UsageEvent::Failed => &mut self.failed,
            UsageEvent::Inbound => &mut self.inbound,
            UsageEvent::ApiCall => &mut self.api_calls,
            _ => return,
        };
        *slot += line.count;
    }
}

/// Failed messages with one of Meta's error codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FailureCount {
    /// Meta's error code (0: not sent within 24 hours, or unreadable).
    pub code: i64,
    pub count: u64,
    /// The error in words, when the code is a known one.
    pub meaning: Option<String>,
}

/// Requests with one key to one route, answered with one class of status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiCallCount {
    pub key_id: String,
    /// The route's template, such as `GET /api/v1/messages/<id>`.
    pub route: String,
    /// `2xx`, `4xx` or `5xx`.
    pub class: String,
    pub count: u64,
}

/// Deliveries in one of Meta's pricing categories, from the status webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PricingCount {
    /// `marketing`, `utility`, `authentication`, `service`, ... (empty when Meta named none).
    pub category: String,
    pub delivered: u64,
}

/// Deliveries of events to the account's webhook endpoints, and sign-ins to the web app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct OtherCounts {
    pub webhooks_delivered: u64,
    /// Attempts that failed and were tried again later.
    pub webhooks_retried: u64,
    /// Events given up after their last attempt.
    pub webhooks_failed: u64,
    pub sign_ins: u64,
    pub failed_sign_ins: u64,
}

/// `GET /api/v1/usage`: an account's usage from one UTC day to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UsageReport {
    /// The first day, `YYYY-MM-DD` (UTC).
    pub from: String,
    /// The last day, included.
    pub to: String,
    pub group_by: GroupBy,
    /// Oldest day first; connections and types by most messages.
    pub rows: Vec<UsageRow>,
    /// The whole range; `key` is `total`.
    pub totals: UsageRow,
    /// Failed messages by Meta's error code, most first.
    pub failures: Vec<FailureCount>,
    /// API calls by key, route and class of answer, most first.
    pub api_calls: Vec<ApiCallCount>,
    /// Deliveries by Meta's pricing category, most first.
    pub pricing: Vec<PricingCount>,
    pub other: OtherCounts,
}

/// Days since 1970-01-01 of a date.
fn day_number(date: NaiveDate) -> i64 {
    date.signed_duration_since(chrono::DateTime::UNIX_EPOCH.date_naive())
        .num_days()
}

fn date_of(day: i64) -> NaiveDate {
    chrono::DateTime::UNIX_EPOCH.date_naive() + chrono::Duration::days(day)
}

/// A `YYYY-MM-DD` date of a request, or the error naming `field`.
pub fn parse_date(field: &str, text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| Error::invalid(field, "must be a date, YYYY-MM-DD"))
}

/// The range a request asks for, checked: `to` defaults to today (UTC), `from` to 29 days before `to`.
pub fn range(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    now: i64,
) -> Result<(NaiveDate, NaiveDate)> {
    let to = to.unwrap_or_else(|| date_of(rollups::day_of(now)));
    let from = from.unwrap_or(to - chrono::Duration::days(29));
    if from > to {
        return Err(Error::invalid("from", "must not be after to"));
    }
    if day_number(to) - day_number(from) >= MAX_DAYS {
        return Err(Error::invalid(
            "from",
            format!("the range may cover at most {MAX_DAYS} days"),
        ));
    }
    Ok((from, to))
}

/// The account's usage from `from` to `to` (UTC days, both included).
pub async fn report(
    db: &Db,
    account: AccountId,
    from: NaiveDate,
    to: NaiveDate,
    group_by: GroupBy,
) -> Result<UsageReport> {
    let (lines, days) = lines(db, account, from, to).await?;
    Ok(build(&lines, days, group_by))
}

/// The account's usage by day, and grouped by `group_by` too when that is not by day, from one read.
pub async fn report_by_day_and(
    db: &Db,
    account: AccountId,
    from: NaiveDate,
    to: NaiveDate,
    group_by: GroupBy,
) -> Result<(UsageReport, Option<UsageReport>)> {
    let (lines, days) = lines(db, account, from, to).await?;
    let grouped = (group_by != GroupBy::Day).then(|| build(&lines, days, group_by));
    Ok((build(&lines, days, GroupBy::Day), grouped))
}

/// The stored lines of the range with what is not flushed yet, and the range as day numbers.
async fn lines(
    db: &Db,
    account: AccountId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(Vec<Counted>, (i64, i64))> {
    let (first, last) = (day_number(from), day_number(to));
    let mut lines = db
        .read_async(move |conn| rollups::between(conn, account, first, last))
        .await?;
    lines.extend(db.tally().unwritten(account, first, last));
    Ok((lines, (first, last)))
}

/// The report of counted lines.
fn build(lines: &[Counted], (first, last): (i64, i64), group_by: GroupBy) -> UsageReport {
    let mut rows: BTreeMap<String, UsageRow> = BTreeMap::new();
    if group_by == GroupBy::Day {
        for day in first..=last {
            let key = date_of(day).to_string();
            rows.insert(key.clone(), UsageRow::keyed(key));
        }
    }
    let mut totals = UsageRow::keyed("total");
    let mut failures: BTreeMap<i64, u64> = BTreeMap::new();
    let mut calls: BTreeMap<(i64, &str, &str), u64> = BTreeMap::new();
    let mut pricing: BTreeMap<&str, u64> = BTreeMap::new();
    let mut other = OtherCounts::default();
    for line in lines {
        totals.add(line);
        let key = match group_by {
            GroupBy::Day => Some(date_of(line.day).to_string()),
            _ if line.event == UsageEvent::ApiCall => None,
            GroupBy::Connection => (line.connection != 0).then(|| line.connection.to_string()),
            GroupBy::Type => (!line.kind.is_empty()).then(|| line.kind.clone()),
        };
        if let Some(key) = key {
            rows.entry(key.clone())
                .or_insert_with(|| UsageRow::keyed(key))
                .add(line);
        }
        match line.event {
            UsageEvent::Failed => *failures.entry(line.error_code).or_default() += line.count,
            UsageEvent::ApiCall => {
                *calls
                    .entry((line.api_key, &line.route, &line.class))
                    .or_default() += line.count
            }
            UsageEvent::Delivered => *pricing.entry(&line.pricing).or_default() += line.count,
            UsageEvent::WebhookDelivered => other.webhooks_delivered += line.count,
            UsageEvent::WebhookRetried => other.webhooks_retried += line.count,
            UsageEvent::WebhookFailed => other.webhooks_failed += line.count,
            UsageEvent::SignIn => other.sign_ins += line.count,
            UsageEvent::SignInFailed => other.failed_sign_ins += line.count,
            _ => {}
        }
    }
    let mut rows: Vec<UsageRow> = rows.into_values().collect();
    if group_by != GroupBy::Day {
        rows.sort_by(|a, b| {
            (b.accepted + b.sent + b.inbound).cmp(&(a.accepted + a.sent + a.inbound))
        });
    }
    let mut failures: Vec<FailureCount> = failures
        .into_iter()
        .map(|(code, count)| FailureCount {
            code,
            count,
            meaning: explain(code).map(str::to_owned),
        })
        .collect();
    failures.sort_by_key(|f| std::cmp::Reverse(f.count));
    let mut api_calls: Vec<ApiCallCount> = calls
        .into_iter()
        .map(|((key, route, class), count)| ApiCallCount {
            key_id: key.to_string(),
            route: route.to_owned(),
            class: class.to_owned(),
            count,
        })
        .collect();
    api_calls.sort_by_key(|c| std::cmp::Reverse(c.count));
    let mut pricing: Vec<PricingCount> = pricing
        .into_iter()
        .map(|(category, delivered)| PricingCount {
            category: category.to_owned(),
            delivered,
        })
        .collect();
    pricing.sort_by_key(|p| std::cmp::Reverse(p.delivered));
    UsageReport {
        from: date_of(first).to_string(),
        to: date_of(last).to_string(),
        group_by,
        rows,
        totals,
        failures,
        api_calls,
        pricing,
        other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(day: i64, event: UsageEvent, count: u64) -> Counted {
        Counted {
            day,
            event,
            connection: 7,
            api_key: 0,
            route: String::new(),
            class: String::new(),
            kind: "text".into(),
            pricing: String::new(),
            error_code: 0,
            count,
        }
    }

    #[test]
    fn the_total_of_some_rows_adds_only_those() {
        let row = |key: &str, sent| UsageRow {
            key: key.into(),
            sent,
            read: 1,
            ..UsageRow::default()
        };
        let rows = [
            row("2026-12-01", 5),
            row("2026-12-14", 2),
            row("2026-12-20", 3),
        ];
        let total = UsageRow::total_of(&rows[1..]);
        assert_eq!(
            (total.key.as_str(), total.sent, total.read),
            ("total", 5, 2)
        );
    }

    #[test]
    fn days_without_anything_are_rows_and_totals_add_every_row() {
        let lines = vec![
            line(10, UsageEvent::Sent, 3),
            line(12, UsageEvent::Sent, 2),
            Counted {
                error_code: 131026,
                ..line(12, UsageEvent::Failed, 1)
            },
            Counted {
                api_key: 4,
                route: "POST /api/v1/messages".into(),
                class: "2xx".into(),
                ..line(12, UsageEvent::ApiCall, 5)
            },
        ];
        let by_day = build(&lines, (10, 12), GroupBy::Day);
        let sent: Vec<(String, u64)> = by_day
            .rows
            .iter()
            .map(|r| (r.key.clone(), r.sent))
            .collect();
        assert_eq!(
            sent,
            vec![
                ("1970-01-11".into(), 3),
                ("1970-01-12".into(), 0),
                ("1970-01-13".into(), 2)
            ]
        );
        assert_eq!(
            (
                by_day.totals.sent,
                by_day.totals.failed,
                by_day.totals.api_calls
            ),
            (5, 1, 5)
        );
        assert_eq!(by_day.failures[0].code, 131026);
        assert!(by_day.failures[0].meaning.is_some());
        assert_eq!(by_day.api_calls[0].key_id, "4");

        let by_connection = build(&lines, (10, 12), GroupBy::Connection);
        assert_eq!(by_connection.rows.len(), 1);
        assert_eq!(
            (
                by_connection.rows[0].key.as_str(),
                by_connection.rows[0].sent
            ),
            ("7", 5)
        );
        assert_eq!(
            by_connection.rows[0].api_calls, 0,
            "calls are about no connection"
        );
        assert_eq!(by_connection.totals.api_calls, 5);
    }

    #[test]
    fn ranges_default_to_thirty_days_and_are_bounded() {
        let now = 20_000 * 86_400_000 + 5;
        let (from, to) = range(None, None, now).unwrap();
        assert_eq!((day_number(from), day_number(to)), (19_971, 20_000));
        let late = parse_date("to", "2026-01-01").unwrap();
        let early = parse_date("from", "2026-01-02").unwrap();
        assert!(range(Some(early), Some(late), now).is_err());
        assert!(range(Some(late - chrono::Duration::days(400)), Some(late), now).is_err());
        assert!(range(Some(late - chrono::Duration::days(399)), Some(late), now).is_ok());
        assert!(parse_date("from", "2026-13-01").is_err());
    }
}
