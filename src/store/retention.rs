//! Retention: what is past its time, counted (`whatsapi purge --dry-run`) or deleted in small batches
//! (the retention job and `whatsapi purge`). A message past `message_days` goes with everything derived
//! from it: its status events, the raw webhooks Meta sent, what customers wrote, conversations idle that
//! long, and customers' webhook events (with their deliveries and attempts) that carried it. Idempotency
//! answers older than 24 hours, the activity log past `activity_days`, webhook events past
//! `webhook_delivery_days`, ended sessions and used or expired one-time links go too, the payment
//! provider's webhook events after 30 days (they may hold customers' emails), and the daily usage
//! roll-ups after `usage_months`.
//!
//! Every batch deletes the rows that point at a row before the row itself, so each table's count is exact
//! and no foreign-key cascade deletes anything uncounted. The dry run counts with the same conditions.

use crate::config::Config;
use crate::error::Result;
use rusqlite::{Connection, Statement};
use serde_json::{Map, Value, json};

pub const DAY_MS: i64 = 86_400_000;

/// How long an `Idempotency-Key` answer is given again (and kept).
pub const IDEMPOTENCY_MS: i64 = DAY_MS;

/// Parent rows deleted per write transaction (their dependent rows go in the same transaction), so the
/// writer is never held for long and sending goes on between batches. Measured purging one day of a
/// 10-million-message file while POSTing at 1,000/s (`bench send --data D --purge --rate 1000`): 500 held
/// POSTs for 175 ms (p50) meanwhile, 100 for 25 ms, and the day took as long (34 s) either way.
pub const BATCH: usize = 100;

/// The tables retention deletes from, in the order they are reported.
pub const TABLES: [&str; 14] = [
    "messages",
    "message_statuses",
    "idempotency_keys",
    "inbound_messages",
    "webhook_payloads",
    "contacts",
    "webhook_events",
    "webhook_deliveries",
    "webhook_attempts",
    "activity_log",
    "sessions",
    "one_time_tokens",
    "payment_events",
    "usage_daily",
];

/// Where the visible message history starts: messages (and what customers wrote) from before `from` are
/// past retention. They are hidden at once, before the job deletes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visible {
    pub from: i64,
}

impl Visible {
    pub fn days(message_days: u32, now: i64) -> Visible {
        Visible {
            from: now - i64::from(message_days) * DAY_MS,
        }
    }
}

/// What is kept how long, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub message_days: u32,
    pub activity_days: u32,
    pub webhook_delivery_days: u32,
    pub usage_months: u32,
    pub session_idle_ms: i64,
    pub session_absolute_ms: i64,
}

impl Policy {
    pub fn from_config(config: &Config) -> Policy {
        Policy {
            message_days: config.retention.message_days,
            activity_days: config.retention.activity_days,
            webhook_delivery_days: config.retention.webhook_delivery_days,
            usage_months: config.retention.usage_months,
            session_idle_ms: config.sessions.idle_ms(),
            session_absolute_ms: config.sessions.absolute_ms(),
        }
    }

    /// The moments before which each kind of row is deleted, for a run at `now`.
    pub fn cutoffs(&self, now: i64) -> Cutoffs {
        let days = |d: u32| now - i64::from(d) * DAY_MS;
        Cutoffs {
            now,
            messages: days(self.message_days),
            webhooks: days(self.webhook_delivery_days),
            activity: days(self.activity_days),
            idempotency: now - IDEMPOTENCY_MS,
            session_idle: now - self.session_idle_ms,
            session_absolute: now - self.session_absolute_ms,
            payments: now - super::payment_events::KEPT_MS,
            usage_day: usage_cutoff_day(now, self.usage_months),
        }
    }
}

/// Milliseconds since the epoch; a row older than its cutoff is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub now: i64,
    pub messages: i64,
    pub webhooks: i64,
    pub activity: i64,
    pub idempotency: i64,
    pub session_idle: i64,
    pub session_absolute: i64,
    /// The payment provider's webhook events (a fixed 30 days).
    pub payments: i64,
    /// The usage roll-ups: a UTC day (days since 1970-01-01), not a moment.
    pub usage_day: i64,
}

/// The first day of usage kept: the same day of the month `months` months before `now`'s (or the month's
/// last day, when it is shorter).
fn usage_cutoff_day(now: i64, months: u32) -> i64 {
    let today = super::rollups::day_of(now);
    chrono::DateTime::from_timestamp_millis(today * DAY_MS)
        .and_then(|t| {
            t.date_naive()
                .checked_sub_months(chrono::Months::new(months))
        })
        .map_or(today - i64::from(months) * 31, |d| {
            d.signed_duration_since(chrono::DateTime::UNIX_EPOCH.date_naive())
                .num_days()
        })
}

impl Cutoffs {
    fn named(&self) -> [(&'static str, i64); 9] {
        [
            (":now", self.now),
            (":messages", self.messages),
            (":webhooks", self.webhooks),
            (":activity", self.activity),
            (":idempotency", self.idempotency),
            (":session_idle", self.session_idle),
            (":session_absolute", self.session_absolute),
            (":payments", self.payments),
            (":usage_day", self.usage_day),
        ]
    }
}

// Which rows are past their time. Named parameters are the `Cutoffs`.
const MESSAGE: &str = "created_at < :messages";
const INBOUND: &str = "received_at < :messages";
/// A contact the business saved (added, named, tagged) stays, as does one who opted out (so that the
/// opt-out is kept): only their messages go. Erasing the customer deletes them.
const CONTACT: &str = "coalesce(last_message_at, last_inbound_at) < :messages AND saved_at IS NULL AND opted_out_at IS NULL";
/// Statuses of wamids we did not send (no message row to go with).
const UNMATCHED_STATUS: &str = "message_id IS NULL AND received_at < :messages";
const PAYLOAD: &str = "received_at < :messages";
const EVENT: &str = "created_at < :webhooks";
const IDEMPOTENCY: &str = "created_at < :idempotency";
const ACTIVITY: &str = "created_at < :activity";
const USAGE: &str = "day < :usage_day";
const SESSION: &str = "last_seen_at <= :session_idle OR created_at <= :session_absolute";
const TOKEN: &str = "used_at IS NOT NULL OR expires_at <= :now";
const PAYMENT_EVENT: &str = "received_at < :payments";

/// Rows deleted (or that would be) per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts([u64; TABLES.len()]);

impl Counts {
    fn slot(table: &str) -> usize {
        TABLES
            .iter()
            .position(|t| *t == table)
            .expect("a table retention knows")
    }

    pub fn add(&mut self, table: &str, rows: u64) {
        self.0[Self::slot(table)] += rows;
    }

    pub fn get(&self, table: &str) -> u64 {
        self.0[Self::slot(table)]
    }

    pub fn merge(&mut self, other: &Counts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        TABLES.iter().copied().zip(self.0.iter().copied())
    }

    pub fn to_json(&self) -> Value {
        Value::Object(
            self.iter()
                .map(|(table, rows)| (table.to_owned(), json!(rows)))
                .collect::<Map<_, _>>(),
        )
    }

    /// Reads back `to_json` (a missing table counts 0).
    pub fn from_json(value: &Value) -> Counts {
        let mut counts = Counts::default();
        for table in TABLES {
            counts.add(table, value[table].as_u64().unwrap_or(0));
        }
        counts
    }
}

fn bind(stmt: &mut Statement<'_>, cut: &Cutoffs) -> Result<()> {
    for (name, value) in cut.named() {
        if let Some(index) = stmt.parameter_index(name)? {
            stmt.raw_bind_parameter(index, value)?;
        }
    }
    Ok(())
}

fn count_where(conn: &Connection, table: &str, condition: &str, cut: &Cutoffs) -> Result<u64> {
    let mut stmt = conn.prepare(&format!("SELECT count(*) FROM {table} WHERE {condition}"))?;
    bind(&mut stmt, cut)?;
    let mut rows = stmt.raw_query();
    let count: i64 = match rows.next()? {
        Some(row) => row.get(0)?,
        None => 0,
    };
    Ok(count as u64)
}

/// What a run at these cutoffs would delete, table by table (the dry run). Counted in one read
/// transaction, so the numbers agree with each other.
pub fn count(conn: &Connection, cut: &Cutoffs) -> Result<Counts> {
    let messages = format!("SELECT id FROM messages WHERE {MESSAGE}");
    let inbound = format!("({INBOUND}) OR contact_id IN (SELECT id FROM contacts WHERE {CONTACT})");
    let events = format!(
        "message_id IN ({messages}) OR inbound_id IN (SELECT id FROM inbound_messages WHERE {inbound}) OR ({EVENT})"
    );
    let deliveries = format!("event_id IN (SELECT id FROM webhook_events WHERE {events})");
    let conditions: [(&str, String); 14] = [
        ("messages", MESSAGE.to_owned()),
        (
            "message_statuses",
            format!("message_id IN ({messages}) OR ({UNMATCHED_STATUS})"),
        ),
        (
            "idempotency_keys",
            format!("message_id IN ({messages}) OR ({IDEMPOTENCY})"),
        ),
        ("inbound_messages", inbound.clone()),
        ("webhook_payloads", PAYLOAD.to_owned()),
        ("contacts", CONTACT.to_owned()),
        ("webhook_events", events.clone()),
        ("webhook_deliveries", deliveries.clone()),
        (
            "webhook_attempts",
            format!("delivery_id IN (SELECT id FROM webhook_deliveries WHERE {deliveries})"),
        ),
        ("activity_log", ACTIVITY.to_owned()),
        ("sessions", SESSION.to_owned()),
        ("one_time_tokens", TOKEN.to_owned()),
        ("payment_events", PAYMENT_EVENT.to_owned()),
        ("usage_daily", USAGE.to_owned()),
    ];
    let tx = conn.unchecked_transaction()?;
    let mut counts = Counts::default();
    for (table, condition) in &conditions {
        counts.add(table, count_where(&tx, table, condition, cut)?);
    }
    tx.finish()?;
    Ok(counts)
}

/// The steps of a run, each repeated batch by batch until nothing of its kind is left. Rows that others
/// point at come last: payloads after the statuses and messages parsed from them, contacts after the
/// messages customers wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Messages,
    Inbound,
    Contacts,
    UnmatchedStatuses,
    Payloads,
    Events,
    Idempotency,
    Activity,
    Sessions,
    Tokens,
    PaymentEvents,
    Usage,
}

pub const STEPS: [Step; 12] = [
    Step::Messages,
    Step::Inbound,
    Step::Contacts,
    Step::UnmatchedStatuses,
    Step::Payloads,
    Step::Events,
    Step::Idempotency,
    Step::Activity,
    Step::Sessions,
    Step::Tokens,
    Step::PaymentEvents,
    Step::Usage,
];

/// Up to `BATCH` keys (`key`, an integer or text expression) of the rows of `table` matching `condition`,
/// as a JSON array for `json_each`, and whether there may be more; None when there are none.
fn select_batch(
    conn: &Connection,
    key: &str,
    table: &str,
    condition: &str,
    cut: &Cutoffs,
) -> Result<Option<(String, bool)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {key} FROM {table} WHERE {condition} LIMIT {BATCH}"
    ))?;
    bind(&mut stmt, cut)?;
    let mut rows = stmt.raw_query();
    let mut keys = Vec::new();
    while let Some(row) = rows.next()? {
        keys.push(match row.get::<_, rusqlite::types::Value>(0)? {
            rusqlite::types::Value::Integer(n) => json!(n),
            rusqlite::types::Value::Text(text) => json!(text),
            other => {
                return Err(crate::error::Error::Internal(anyhow::anyhow!(
                    "unexpected key {other:?} in {table}"
                )));
            }
        });
    }
    let more = keys.len() == BATCH;
    Ok((!keys.is_empty()).then(|| (Value::Array(keys).to_string(), more)))
}

/// Rows deleted per table, as retention and erasure each keep them.
pub(super) trait Tally {
    fn add(&mut self, table: &str, rows: u64);
}

impl Tally for Counts {
    fn add(&mut self, table: &str, rows: u64) {
        Counts::add(self, table, rows);
    }
}

/// Deletes from `table` the rows whose `column` is in the JSON array `ids`; how many.
pub(super) fn delete_in(conn: &Connection, table: &str, column: &str, ids: &str) -> Result<u64> {
    Ok(conn
        .prepare_cached(&format!(
            "DELETE FROM {table} WHERE {column} IN (SELECT value FROM json_each(?1))"
        ))?
        .execute([ids])? as u64)
}

/// Deletes customers' webhook events whose `column` is in `ids`, with their deliveries and attempts.
pub(super) fn delete_events(
    conn: &Connection,
    column: &str,
    ids: &str,
    counts: &mut impl Tally,
) -> Result<()> {
    let events = format!(
        "SELECT id FROM webhook_events WHERE {column} IN (SELECT value FROM json_each(?1))"
    );
    let attempts = conn
        .prepare_cached(&format!(
            "DELETE FROM webhook_attempts WHERE delivery_id IN
                 (SELECT id FROM webhook_deliveries WHERE event_id IN ({events}))"
        ))?
        .execute([ids])?;
    counts.add("webhook_attempts", attempts as u64);
    let deliveries = conn
        .prepare_cached(&format!(
            "DELETE FROM webhook_deliveries WHERE event_id IN ({events})"
        ))?
        .execute([ids])?;
    counts.add("webhook_deliveries", deliveries as u64);
    counts.add(
        "webhook_events",
        delete_in(conn, "webhook_events", column, ids)?,
    );
    Ok(())
}

/// Deletes what customers wrote (ids in the JSON array), with the webhook events that carried it.
fn delete_inbound(conn: &Connection, ids: &str, counts: &mut Counts) -> Result<()> {
    delete_events(conn, "inbound_id", ids, counts)?;
    counts.add(
        "inbound_messages",
        delete_in(conn, "inbound_messages", "id", ids)?,
    );
    Ok(())
}

/// Deletes one batch of `step`: what was deleted, and whether the step may have more to do.
pub fn delete_batch(conn: &Connection, step: Step, cut: &Cutoffs) -> Result<(Counts, bool)> {
    let mut counts = Counts::default();
    let batch =
        |key: &str, table: &str, condition: &str| select_batch(conn, key, table, condition, cut);
    let more = match step {
        Step::Messages => {
            let Some((ids, more)) = batch("id", "messages", MESSAGE)? else {
                return Ok((counts, false));
            };
            delete_events(conn, "message_id", &ids, &mut counts)?;
            counts.add(
                "message_statuses",
                delete_in(conn, "message_statuses", "message_id", &ids)?,
            );
            counts.add(
                "idempotency_keys",
                delete_in(conn, "idempotency_keys", "message_id", &ids)?,
            );
            counts.add("messages", delete_in(conn, "messages", "id", &ids)?);
            more
        }
        Step::Inbound => {
            let Some((ids, more)) = batch("id", "inbound_messages", INBOUND)? else {
                return Ok((counts, false));
            };
            delete_inbound(conn, &ids, &mut counts)?;
            more
        }
        Step::Contacts => {
            let Some((ids, more)) = batch("id", "contacts", CONTACT)? else {
                return Ok((counts, false));
            };
            // What these customers wrote is normally gone already: it is older than their last message.
            let written: Vec<i64> = conn
                .prepare_cached(
                    "SELECT id FROM inbound_messages WHERE contact_id IN (SELECT value FROM json_each(?1))",
                )?
                .query_map([&ids], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if !written.is_empty() {
                delete_inbound(conn, &json!(written).to_string(), &mut counts)?;
            }
            counts.add("contacts", delete_in(conn, "contacts", "id", &ids)?);
            more
        }
        Step::Events => {
            let Some((ids, more)) = batch("id", "webhook_events", EVENT)? else {
                return Ok((counts, false));
            };
            delete_events(conn, "id", &ids, &mut counts)?;
            more
        }
        Step::UnmatchedStatuses | Step::Payloads | Step::Activity | Step::PaymentEvents => {
            let (table, condition) = match step {
                Step::UnmatchedStatuses => ("message_statuses", UNMATCHED_STATUS),
                Step::Payloads => ("webhook_payloads", PAYLOAD),
                Step::PaymentEvents => ("payment_events", PAYMENT_EVENT),
                _ => ("activity_log", ACTIVITY),
            };
            let Some((ids, more)) = batch("id", table, condition)? else {
                return Ok((counts, false));
            };
            counts.add(table, delete_in(conn, table, "id", &ids)?);
            more
        }
        Step::Sessions | Step::Tokens => {
            let (table, key, condition) = match step {
                Step::Sessions => ("sessions", "id_hash", SESSION),
                _ => ("one_time_tokens", "token_hash", TOKEN),
            };
            // The keys are hashes (BLOBs): carried as hex.
            let Some((ids, more)) = batch(&format!("hex({key})"), table, condition)? else {
                return Ok((counts, false));
            };
            let deleted = conn
                .prepare_cached(&format!(
                    "DELETE FROM {table} WHERE {key} IN (SELECT unhex(value) FROM json_each(?1))"
                ))?
                .execute([&ids])?;
            counts.add(table, deleted as u64);
            more
        }
        Step::Usage => {
            // No rowid: a batch is whole days of a few accounts, chosen and deleted in one statement.
            let mut stmt = conn.prepare_cached(&format!(
                "DELETE FROM usage_daily WHERE {USAGE} AND (account_id, day) IN
                     (SELECT DISTINCT account_id, day FROM usage_daily WHERE {USAGE} LIMIT {BATCH})"
            ))?;
            bind(&mut stmt, cut)?;
            let deleted = stmt.raw_execute()?;
            counts.add("usage_daily", deleted as u64);
            deleted > 0
        }
        Step::Idempotency => {
            // No rowid and a two-column key: the batch is chosen and deleted in one statement.
            let mut stmt = conn.prepare_cached(&format!(
                "DELETE FROM idempotency_keys WHERE (account_id, key) IN
                     (SELECT account_id, key FROM idempotency_keys WHERE {IDEMPOTENCY} LIMIT {BATCH})"
            ))?;
            bind(&mut stmt, cut)?;
            let deleted = stmt.raw_execute()?;
            counts.add("idempotency_keys", deleted as u64);
            deleted == BATCH
        }
    };
    Ok((counts, more))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_back_what_they_wrote() {
        let mut counts = Counts::default();
        counts.add("messages", 3);
        counts.add("webhook_attempts", 2);
        counts.add("messages", 1);
        assert_eq!(counts.get("messages"), 4);
        assert_eq!(counts.total(), 6);
        assert_eq!(Counts::from_json(&counts.to_json()), counts);
    }

    #[test]
    fn cutoffs_follow_the_policy() {
        let policy = Policy {
            message_days: 90,
            activity_days: 365,
            webhook_delivery_days: 30,
            usage_months: 13,
            session_idle_ms: 60_000,
            session_absolute_ms: 3_600_000,
        };
        let now = 1_800_000_000_000;
        let cut = policy.cutoffs(now);
        assert_eq!(cut.messages, now - 90 * DAY_MS);
        assert_eq!(cut.webhooks, now - 30 * DAY_MS);
        assert_eq!(cut.activity, now - 365 * DAY_MS);
        assert_eq!(cut.idempotency, now - DAY_MS);
        assert_eq!(cut.payments, now - 30 * DAY_MS);
        assert_eq!(Visible::days(90, now).from, cut.messages);
        // 2027-01-15: usage from 2025-12-15 on is kept.
        assert_eq!(cut.usage_day, 20_437);
        // 2024-03-31, a month back: February's last day.
        assert_eq!(usage_cutoff_day(19_813 * DAY_MS + 5, 1), 19_782);
    }
}
