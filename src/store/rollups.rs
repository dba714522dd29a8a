//! Usage per account and UTC day: API calls, messages by what happened to them, customers' messages,
//! deliveries to customers' endpoints, sign-ins. Counted in memory (`Tally`, one per store) where they
//! happen and added to `usage_daily` in one transaction every few seconds (`Db::flush_usage`), so no
//! request writes for its own count. A stop flushes; a crash loses at most the last interval.
//!
//! The lines hold counts and what they are about (ids, a route's template, a type, a class), never a
//! person's number or words: the text fields take only short lowercase names.

use super::AccountId;
use super::api_keys::ApiKeyId;
use super::connections::ConnectionId;
use super::states::UsageEvent;
use crate::error::{Error, Result};
use parking_lot::Mutex;
use rusqlite::{Connection, params};
use std::collections::HashMap;

const DAY_MS: i64 = super::retention::DAY_MS;

/// The UTC day of a moment, in days since 1970-01-01.
pub fn day_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(DAY_MS)
}

/// One line of the roll-ups: an event of an account on a day, and what it was about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Line {
    pub account: AccountId,
    pub day: i64,
    pub event: UsageEvent,
    /// 0 when the event is not about a connection (an API call, a sign-in).
    pub connection: i64,
    pub api_key: i64,
    pub route: String,
    pub class: &'static str,
    pub kind: String,
    pub pricing: String,
    pub error_code: i64,
}

impl Line {
    /// An event of `account` at `now`, about nothing in particular yet.
    pub fn new(account: AccountId, event: UsageEvent, now: i64) -> Line {
        Line {
            account,
            day: day_of(now),
            event,
            connection: 0,
            api_key: 0,
            route: String::new(),
            class: "",
            kind: String::new(),
            pricing: String::new(),
            error_code: 0,
        }
    }

    pub fn connection(mut self, connection: ConnectionId) -> Line {
        self.connection = connection.0;
        self
    }

    /// An API call with this key, to the route with this template, answered with `status`.
    pub fn api_call(mut self, key: ApiKeyId, route: &str, status: u16) -> Line {
        self.api_key = key.0;
        self.route = route.chars().take(120).collect();
        self.class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self
    }

    /// The message's type (`text`, `template`, ...).
    pub fn kind(mut self, kind: &str) -> Line {
        self.kind = name(kind);
        self
    }

    /// Meta's pricing category of a status (`marketing`, `utility`, `service`, ...).
    pub fn pricing(mut self, category: &str) -> Line {
        self.pricing = name(category);
        self
    }

    pub fn error(mut self, code: i64) -> Line {
        self.error_code = code;
        self
    }
}

/// A short lowercase name, or nothing: what a webhook carries in a type's or category's place is kept only
/// when it looks like one.
fn name(text: &str) -> String {
    let plain = text.len() <= 40
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain {
        text.to_owned()
    } else {
        String::new()
    }
}

/// What was counted since the last flush; and, for each number, its sends of the last minute (its pace,
/// which the dashboard shows), whenever the messages were queued.
#[derive(Default)]
pub struct Tally {
    lines: Mutex<HashMap<Line, u64>>,
    paces: Mutex<HashMap<i64, Pace>>,
}

/// A number's sends by second over the last minute: slot `second % 60` holds that second's count.
type Pace = [(i64, u64); PACE_SECONDS];

const PACE_SECONDS: usize = 60;

impl Tally {
    pub fn add(&self, line: Line) {
        if line.event == UsageEvent::Sent {
            self.paced(line.connection, crate::store::now_ms());
        }
        *self.lines.lock().entry(line).or_default() += 1;
    }

    /// Counts a send of the number `connection` at `now` (milliseconds) in its pace.
    fn paced(&self, connection: i64, now: i64) {
        let second = now.div_euclid(1000);
        let mut paces = self.paces.lock();
        let slot = &mut paces.entry(connection).or_insert([(0, 0); PACE_SECONDS])
            [second.rem_euclid(PACE_SECONDS as i64) as usize];
        if slot.0 != second {
            *slot = (second, 0);
        }
        slot.1 += 1;
    }

    /// The messages the number `connection` sent in the minute before `now` (milliseconds).
    pub fn sent_last_minute(&self, connection: ConnectionId, now: i64) -> u64 {
        let second = now.div_euclid(1000);
        self.paces.lock().get(&connection.0).map_or(0, |pace| {
            pace.iter()
                .filter(|(at, _)| second - at < PACE_SECONDS as i64 && *at <= second)
                .map(|(_, count)| count)
                .sum()
        })
    }

    pub fn add_all(&self, lines: impl IntoIterator<Item = Line>) {
        let mut counted = self.lines.lock();
        for line in lines {
            *counted.entry(line).or_default() += 1;
        }
    }

    /// Takes everything counted so far, for writing.
    pub(super) fn take(&self) -> Vec<(Line, u64)> {
        std::mem::take(&mut *self.lines.lock())
            .into_iter()
            .collect()
    }

    /// Gives back what could not be written, for the next flush.
    pub(super) fn put_back(&self, lines: Vec<(Line, u64)>) {
        let mut counted = self.lines.lock();
        for (line, count) in lines {
            *counted.entry(line).or_default() += count;
        }
    }

    /// An account's counts not written yet, as stored lines, so that what it reads is up to date.
    pub fn unwritten(&self, account: AccountId, from_day: i64, to_day: i64) -> Vec<Counted> {
        self.lines
            .lock()
            .iter()
            .filter(|(line, _)| line.account == account && (from_day..=to_day).contains(&line.day))
            .map(|(line, count)| Counted::of(line, *count))
            .collect()
    }
}

/// Adds counted lines to the roll-ups, in one statement. Lines of accounts deleted meanwhile are dropped.
pub fn add(conn: &Connection, lines: &[(Line, u64)]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = lines
        .iter()
        .map(|(l, count)| {
            serde_json::json!([
                l.account.0,
                l.day,
                l.event.as_str(),
                l.connection,
                l.api_key,
                l.route,
                l.class,
                l.kind,
                l.pricing,
                l.error_code,
                count
            ])
        })
        .collect();
    let rows = serde_json::to_string(&rows).map_err(|e| Error::Internal(e.into()))?;
    conn.prepare_cached(
        "INSERT INTO usage_daily (account_id, day, event, connection_id, api_key_id, route, class, kind,
                                  pricing, error_code, count)
         SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5,
                j.value ->> 6, j.value ->> 7, j.value ->> 8, j.value ->> 9, j.value ->> 10
         FROM json_each(?1) AS j
         WHERE EXISTS (SELECT 1 FROM accounts WHERE accounts.id = j.value ->> 0)
         ON CONFLICT (account_id, day, event, connection_id, api_key_id, route, class, kind, pricing,
                      error_code)
         DO UPDATE SET count = count + excluded.count",
    )?
    .execute([rows])?;
    Ok(())
}

/// A stored line and its count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub day: i64,
    pub event: UsageEvent,
    pub connection: i64,
    pub api_key: i64,
    pub route: String,
    pub class: String,
    pub kind: String,
    pub pricing: String,
    pub error_code: i64,
    pub count: u64,
}

impl Counted {
    fn of(line: &Line, count: u64) -> Counted {
        Counted {
            day: line.day,
            event: line.event,
            connection: line.connection,
            api_key: line.api_key,
            route: line.route.clone(),
            class: line.class.to_owned(),
            kind: line.kind.clone(),
            pricing: line.pricing.clone(),
            error_code: line.error_code,
            count,
        }
    }
}

/// The account's lines from `from_day` to `to_day`, both included, oldest first.
pub fn between(
    conn: &Connection,
    account: AccountId,
    from_day: i64,
    to_day: i64,
) -> Result<Vec<Counted>> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, event, connection_id, api_key_id, route, class, kind, pricing, error_code, count
         FROM usage_daily WHERE account_id = ?1 AND day BETWEEN ?2 AND ?3 ORDER BY day",
    )?;
    let rows = stmt.query_map(params![account.0, from_day, to_day], |r| {
        Ok(Counted {
            day: r.get(0)?,
            event: r.get(1)?,
            connection: r.get(2)?,
            api_key: r.get(3)?,
            route: r.get(4)?,
            class: r.get(5)?,
            kind: r.get(6)?,
            pricing: r.get(7)?,
            error_code: r.get(8)?,
            count: r.get::<_, i64>(9)? as u64,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_numbers_pace_counts_its_sends_of_the_last_minute_only() {
        let tally = Tally::default();
        let number = ConnectionId(7);
        for at in [1_000, 30_500, 30_900, 61_200] {
            tally.paced(7, at);
        }
        tally.paced(8, 61_000);
        // At 61.5 s: the sends at 30.5, 30.9 and 61.2 s; the one at 1 s is more than a minute old.
        assert_eq!(tally.sent_last_minute(number, 61_500), 3);
        assert_eq!(tally.sent_last_minute(number, 95_000), 1);
        assert_eq!(tally.sent_last_minute(ConnectionId(9), 61_500), 0);
    }

    fn account(conn: &Connection, id: i64) -> AccountId {
        conn.execute(
            "INSERT INTO accounts (id, company, created_at) VALUES (?1, 'Co', 0)",
            [id],
        )
        .unwrap();
        AccountId(id)
    }

    #[test]
    fn counts_add_up_across_flushes_and_days_and_stay_with_their_account() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::test_file(dir.path(), "rollups.db");
        let (a, b) = (account(&conn, 1), account(&conn, 2));
        let day = 20_000 * DAY_MS;
        let tally = Tally::default();
        let sent = |who, at| Line::new(who, UsageEvent::Sent, at).kind("text");
        tally.add_all([sent(a, day), sent(a, day + 5), sent(b, day)]);
        tally.add(sent(a, day + DAY_MS));
        add(&conn, &tally.take()).unwrap();
        tally.add(sent(a, day + 10));
        assert_eq!(tally.unwritten(a, 20_000, 20_000).len(), 1);
        add(&conn, &tally.take()).unwrap();
        assert!(tally.take().is_empty());
        let lines = between(&conn, a, 20_000, 20_001).unwrap();
        let counts: Vec<(i64, u64)> = lines.iter().map(|l| (l.day, l.count)).collect();
        assert_eq!(counts, vec![(20_000, 3), (20_001, 1)]);
        assert_eq!(between(&conn, b, 0, i64::MAX).unwrap()[0].count, 1);
        assert!(between(&conn, a, 20_002, 20_100).unwrap().is_empty());
    }

    #[test]
    fn names_that_are_not_plain_are_not_kept() {
        let line = Line::new(AccountId(1), UsageEvent::Delivered, 0)
            .pricing("Call me at +1 555 0100")
            .kind("text");
        assert_eq!((line.pricing.as_str(), line.kind.as_str()), ("", "text"));
        assert_eq!(
            Line::new(AccountId(1), UsageEvent::ApiCall, 0)
                .api_call(ApiKeyId(2), "POST /api/v1/messages", 429)
                .class,
            "4xx"
        );
    }

    #[test]
    fn lines_of_a_deleted_account_are_dropped_not_failing_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::test_file(dir.path(), "gone.db");
        let a = account(&conn, 1);
        let gone = AccountId(a.0 + 100);
        let lines = vec![
            (Line::new(gone, UsageEvent::Sent, 0), 2),
            (Line::new(a, UsageEvent::Sent, 0), 3),
        ];
        add(&conn, &lines).unwrap();
        assert_eq!(between(&conn, a, 0, 0).unwrap()[0].count, 3);
        assert!(between(&conn, gone, 0, 0).unwrap().is_empty());
    }
}
