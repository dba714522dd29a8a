//! The dashboard's figures for an account, read at once: today's and this month's messages by status
//! (the usage roll-ups with what is not flushed yet), unread inbound messages, the last 14 days, each
//! number's quality and pace, the month's quota, the latest failures and the first steps still to take.
//! Days and months are UTC ones, as the roll-ups count them.

use crate::error::Result;
use crate::services::billing::Billing;
use crate::services::usage::{self, GroupBy, UsageReport, UsageRow};
use crate::store::connection_identity;
use crate::store::dashboard::{self, FirstSteps};
use crate::store::messages::{self, ListFilter, MessageId};
use crate::store::retention::Visible;
use crate::store::states::MessageStatus;
use crate::store::{AccountId, Db, connections};
use chrono::{Datelike, NaiveDate};

/// How many failures the dashboard lists.
pub const FAILURES_SHOWN: usize = 5;
/// How many days its chart covers, today included.
pub const CHART_DAYS: usize = 14;

/// Messages of a period by how they went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub sent: u64,
    pub delivered: u64,
    pub read: u64,
    pub failed: u64,
    pub received: u64,
    /// Received in the period and not yet seen in the inbox.
    pub unread: u64,
}

impl Counts {
    fn add(&mut self, row: &UsageRow) {
        self.sent += row.sent;
        self.delivered += row.delivered;
        self.read += row.read;
        self.failed += row.failed;
        self.received += row.inbound;
    }

    /// Delivered of sent, in percent; `None` before anything was sent.
    pub fn delivery_rate(&self) -> Option<f64> {
        rate(self.delivered, self.sent)
    }

    /// Read of delivered, in percent; `None` before anything was delivered.
    pub fn read_rate(&self) -> Option<f64> {
        rate(self.read, self.delivered)
    }
}

fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 100.0).min(100.0))
}

/// One number: what Meta says of it and how fast it sends.
#[derive(Debug, Clone)]
pub struct NumberPace {
    pub id: i64,
    pub name: String,
    pub display_number: Option<String>,
    pub quality: Option<String>,
    pub held: bool,
    /// Messages handed to Meta in the last minute, per second.
    pub per_second: f64,
    /// The number's cap, messages per second (`throughput_mps`).
    pub cap: i64,
}

/// A failed message, as the dashboard lists it.
#[derive(Debug, Clone)]
pub struct Failure {
    pub id: MessageId,
    pub to: String,
    pub kind: String,
    pub code: Option<i64>,
    pub title: Option<String>,
    pub details: Option<String>,
    pub at: i64,
}

pub struct Overview {
    pub today: Counts,
    pub month: Counts,
    /// The last `CHART_DAYS` days, oldest first, for the chart.
    pub days: UsageReport,
    pub numbers: Vec<NumberPace>,
    pub month_used: u64,
    pub quota: Option<u64>,
    pub failures: Vec<Failure>,
    pub first_steps: FirstSteps,
}

fn day_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map_or(0, |at| at.and_utc().timestamp_millis())
}

/// The account's dashboard at `now`.
pub async fn overview(
    db: &Db,
    billing: &Billing,
    account: AccountId,
    visible: Visible,
    now: i64,
) -> Result<Overview> {
    let today = chrono::DateTime::from_timestamp_millis(now)
        .unwrap_or_default()
        .date_naive();
    let month_start = today.with_day(1).unwrap_or(today);
    let chart_start = today - chrono::Duration::days(CHART_DAYS as i64 - 1);
    let from = month_start.min(chart_start);
    let report = usage::report(db, account, from, today, GroupBy::Day).await?;
    let (today_key, month_key) = (today.to_string(), month_start.to_string());
    let (mut today_counts, mut month_counts) = (Counts::default(), Counts::default());
    for row in &report.rows {
        if row.key >= month_key {
            month_counts.add(row);
        }
        if row.key == today_key {
            today_counts.add(row);
        }
    }
    // The chart's days only, with their own totals (the report may start earlier, on the 1st).
    let chart_key = chart_start.to_string();
    let rows: Vec<UsageRow> = report
        .rows
        .iter()
        .filter(|r| r.key >= chart_key)
        .cloned()
        .collect();
    let days = UsageReport {
        from: chart_key,
        totals: UsageRow::total_of(&rows),
        rows,
        ..report
    };

    let reader = db.clone();
    let (today_ms, month_ms) = (day_ms(today), day_ms(month_start));
    let (unread, first_steps, numbers, failures) = db
        .read_async(move |conn| {
            let unread = dashboard::unread(conn, account, today_ms, month_ms, visible)?;
            let first_steps = dashboard::first_steps(conn, account)?;
            let identities = connection_identity::list(conn, account)?;
            let numbers = connections::list_for_account(conn, account)?
                .into_iter()
                .map(|c| {
                    let sent = reader.tally().sent_last_minute(c.id, now);
                    let identity = identities
                        .iter()
                        .find(|(id, _)| *id == c.id)
                        .map(|(_, i)| i.clone())
                        .unwrap_or_default();
                    NumberPace {
                        id: c.id.get(),
                        name: c.name,
                        display_number: identity.display_phone_number,
                        quality: c.quality_rating,
                        held: c.state.is_held(),
                        per_second: sent as f64 / 60.0,
                        cap: c.throughput_mps,
                    }
                })
                .collect::<Vec<_>>();
            let filter = ListFilter {
                status: Some(MessageStatus::Failed),
                connection: None,
                recipient_index: None,
                kind: None,
                since: None,
                until: None,
                before: None,
                limit: FAILURES_SHOWN,
                visible,
            };
            let failures = messages::list(conn, account, &filter)?
                .iter()
                .map(|m| {
                    Ok(Failure {
                        id: m.id,
                        to: messages::open_recipient(reader.keyring(), m)?,
                        kind: m.kind.clone(),
                        code: m.error_code,
                        title: m.error_title.clone(),
                        details: m.error_details.clone(),
                        at: m.failed_at.unwrap_or(m.created_at),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((unread, first_steps, numbers, failures))
        })
        .await?;
    today_counts.unread = unread.0;
    month_counts.unread = unread.1;
    let month_used = billing.usage.this_month(db, account, now).await?;
    let quota = billing.standing(db, account).await?.plan.messages_per_month;
    Ok(Overview {
        today: today_counts,
        month: month_counts,
        days,
        numbers,
        month_used,
        quota,
        failures,
        first_steps,
    })
}
