//! Signals of abuse and fraud (`services::abuse` raises them): one row per account, kind, period and
//! connection, so raising one again changes nothing, and a dismissed one stays dismissed. Also what the
//! abuse job reads that no other part of the store offers: the accounts with usage on a day, the
//! connections Meta warned about, young accounts and how many numbers they wrote to, and the operators
//! the signals are emailed to.
//!
//! Listing signals and the operators spans accounts: for operators only, by design.

use super::AccountId;
use super::connections::ConnectionId;
use super::users::UserId;
use crate::error::{Error, Result};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

macro_rules! named {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in the order of the schema's `CHECK` list.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.as_str().as_bytes())))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<$name> {
                let text = value.as_str()?;
                $name::parse(text).ok_or_else(|| FromSqlError::Other(
                    format!("unknown {}: {text}", stringify!($name)).into(),
                ))
            }
        }
    };
}

named! {
    /// What a signal is about.
    Kind {
        /// A large share of the day's messages failed.
        FailureRate = "failure_rate",
        /// Many failures with Meta's errors of spam-like sending (131026, 131048, 131049, 131050).
        SpamErrors = "spam_errors",
        /// Meta rated a number's quality red, flagged it, or restricted the business account.
        Quality = "quality",
        /// Far more messages than the account's own recent days.
        Volume = "volume",
        /// Many wrong passwords for the account's people.
        FailedSignIns = "failed_sign_ins",
        /// One API key used from many addresses.
        KeyAddresses = "key_addresses",
        /// A young account writing to many numbers that never wrote to it.
        NewRecipients = "new_recipients",
    }
}

named! {
    /// How much a signal matters; a high one may hold the account's sending (`[abuse] auto_hold`).
    Severity {
        Low = "low",
        Medium = "medium",
        High = "high",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct SignalId(pub(in crate::store) i64);

impl SignalId {
    pub fn get(self) -> i64 {
        self.0
    }

    /// The id a form names. It grants nothing: the store functions that take it also take the account.
    pub fn from_raw(id: i64) -> SignalId {
        SignalId(id)
    }
}

/// A signal to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSignal {
    pub account: AccountId,
    pub kind: Kind,
    pub severity: Severity,
    pub connection: Option<ConnectionId>,
    /// Milliseconds since the epoch, the end excluded.
    pub period: (i64, i64),
    /// Numbers, the period, codes and ids: never a phone number or text.
    pub evidence: serde_json::Value,
}

/// A raised signal, with its account's name.
#[derive(Debug, Clone, Serialize)]
pub struct Signal {
    pub id: SignalId,
    pub account: AccountId,
    pub company: String,
    pub kind: Kind,
    pub severity: Severity,
    pub connection: Option<i64>,
    pub period_start: i64,
    pub period_end: i64,
    pub evidence: serde_json::Value,
    pub raised_at: i64,
    pub emailed_at: Option<i64>,
    pub dismissed_at: Option<i64>,
    /// The email of the operator who dismissed it (none once that operator is gone).
    pub dismissed_by: Option<String>,
}

/// What raising a signal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raised {
    /// A new signal.
    New(SignalId),
    /// The account already had it for the period, open: its evidence now holds the latest numbers, and
    /// its severity rose to this one.
    Rose(SignalId),
    /// The account already had it for the period: open with the latest numbers and the same severity,
    /// or dismissed, which it stays (untouched).
    Known,
}

/// Raises the signal, unless this account already has one of its kind for the period (and connection):
/// an open one then takes the latest evidence, and the higher severity.
pub fn raise(conn: &Connection, signal: &NewSignal, now: i64) -> Result<Raised> {
    let evidence =
        serde_json::to_string(&signal.evidence).map_err(|e| Error::Internal(e.into()))?;
    let connection = signal.connection.map_or(0, |c| c.0);
    let known: Option<(i64, Severity, bool)> = conn
        .prepare_cached(
            "SELECT id, severity, dismissed_at IS NOT NULL FROM abuse_signals
             WHERE account_id = ?1 AND kind = ?2 AND period_start = ?3 AND connection_id = ?4",
        )?
        .query_row(
            params![signal.account.0, signal.kind, signal.period.0, connection],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    match known {
        Some((_, _, true)) => Ok(Raised::Known),
        Some((id, severity, false)) => {
            let higher = signal.severity.max(severity);
            conn.prepare_cached(
                "UPDATE abuse_signals SET evidence = ?2, severity = ?3
                 WHERE id = ?1 AND account_id = ?4 AND (evidence <> ?2 OR severity <> ?3)",
            )?
            .execute(params![id, evidence, higher, signal.account.0])?;
            Ok(if higher > severity {
                Raised::Rose(SignalId(id))
            } else {
                Raised::Known
            })
        }
        None => {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO abuse_signals (account_id, kind, severity, connection_id, period_start,
                                                period_end, evidence, raised_at)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?1)",
                )?
                .execute(params![
                    signal.account.0,
                    signal.kind,
                    signal.severity,
                    connection,
                    signal.period.0,
                    signal.period.1,
                    evidence,
                    now
                ])?;
            Ok(if inserted == 1 {
                Raised::New(SignalId(conn.last_insert_rowid()))
            } else {
                Raised::Known
            })
        }
    }
}

const SELECT: &str = "SELECT s.id, s.account_id, a.company, s.kind, s.severity, s.connection_id, s.period_start,
                             s.period_end, s.evidence, s.raised_at, s.emailed_at, s.dismissed_at, u.email
                      FROM abuse_signals s JOIN accounts a ON a.id = s.account_id
                      LEFT JOIN users u ON u.id = s.dismissed_by";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Signal> {
    let evidence: String = r.get(8)?;
    let connection: i64 = r.get(5)?;
    Ok(Signal {
        id: SignalId(r.get(0)?),
        account: AccountId(r.get(1)?),
        company: r.get(2)?,
        kind: r.get(3)?,
        severity: r.get(4)?,
        connection: (connection != 0).then_some(connection),
        period_start: r.get(6)?,
        period_end: r.get(7)?,
        evidence: serde_json::from_str(&evidence).unwrap_or(serde_json::Value::Null),
        raised_at: r.get(9)?,
        emailed_at: r.get(10)?,
        dismissed_at: r.get(11)?,
        dismissed_by: r.get(12)?,
    })
}

fn list(conn: &Connection, filter: &str, limit: usize) -> Result<Vec<Signal>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} WHERE {filter} LIMIT ?1"))?;
    let rows = stmt.query_map([limit as i64], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Signals nobody dismissed, newest first.
pub fn open(conn: &Connection, limit: usize) -> Result<Vec<Signal>> {
    list(
        conn,
        "s.dismissed_at IS NULL ORDER BY s.raised_at DESC, s.id DESC",
        limit,
    )
}

/// Dismissed signals, the latest dismissed first.
pub fn dismissed(conn: &Connection, limit: usize) -> Result<Vec<Signal>> {
    list(
        conn,
        "s.dismissed_at IS NOT NULL ORDER BY s.dismissed_at DESC, s.id DESC",
        limit,
    )
}

/// How many signals of each account nobody dismissed (accounts without any are left out).
pub fn open_counts(conn: &Connection) -> Result<Vec<(AccountId, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT account_id, count(*) FROM abuse_signals WHERE dismissed_at IS NULL GROUP BY account_id",
    )?;
    let rows = stmt.query_map([], |r| Ok((AccountId(r.get(0)?), r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Dismisses one of the account's signals; whether it was open.
pub fn dismiss(
    conn: &Connection,
    account: AccountId,
    id: SignalId,
    by: UserId,
    now: i64,
) -> Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE abuse_signals SET dismissed_at = ?3, dismissed_by = ?4
             WHERE id = ?1 AND account_id = ?2 AND dismissed_at IS NULL",
        )?
        .execute(params![id.0, account.0, now, by.get()])?;
    Ok(changed == 1)
}

/// One of the account's signals.
pub fn find(conn: &Connection, account: AccountId, id: SignalId) -> Result<Option<Signal>> {
    let mut stmt =
        conn.prepare_cached(&format!("{SELECT} WHERE s.id = ?1 AND s.account_id = ?2"))?;
    let mut rows = stmt.query_map(params![id.0, account.0], from_row)?;
    Ok(rows.next().transpose()?)
}

/// Signals the operators were not told about yet, oldest first.
pub fn unemailed(conn: &Connection, limit: usize) -> Result<Vec<Signal>> {
    list(conn, "s.emailed_at IS NULL ORDER BY s.id", limit)
}

/// Records that the operators were told about these signals.
pub fn mark_emailed(conn: &Connection, signals: &[(AccountId, SignalId)], now: i64) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE abuse_signals SET emailed_at = ?3 WHERE id = ?1 AND account_id = ?2 AND emailed_at IS NULL",
    )?;
    for (account, id) in signals {
        stmt.execute(params![id.0, account.0, now])?;
    }
    Ok(())
}

/// The accounts with anything counted in the daily roll-ups on `day` (days since 1970-01-01).
pub fn accounts_with_usage(conn: &Connection, day: i64) -> Result<Vec<AccountId>> {
    let mut stmt =
        conn.prepare_cached("SELECT DISTINCT account_id FROM usage_daily WHERE day = ?1")?;
    let rows = stmt.query_map([day], |r| r.get(0).map(AccountId))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A connection Meta warned about, as its webhooks were recorded (`connections::record_meta_update`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warned {
    pub account: AccountId,
    pub connection: ConnectionId,
    pub quality_rating: Option<String>,
    pub account_notice: Option<String>,
    /// When Meta last said anything about it.
    pub at: i64,
}

/// Account notices (Meta's `account_update` events) that mean the business account was restricted,
/// found in violation of a policy, or disabled.
pub const RESTRICTING_NOTICES: [&str; 3] = [
    "ACCOUNT_RESTRICTION",
    "ACCOUNT_VIOLATION",
    "DISABLED_UPDATE",
];

/// Connections whose quality Meta rated red or flagged, or whose business account it restricted.
pub fn warned_connections(conn: &Connection) -> Result<Vec<Warned>> {
    let mut stmt = conn.prepare_cached(
        "SELECT account_id, id, quality_rating, account_notice, coalesce(meta_updated_at, updated_at)
         FROM connections
         WHERE quality_rating IN ('RED', 'FLAGGED')
            OR account_notice LIKE 'ACCOUNT_RESTRICTION%' OR account_notice LIKE 'ACCOUNT_VIOLATION%'
            OR account_notice LIKE 'DISABLED_UPDATE%'",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Warned {
            account: AccountId(r.get(0)?),
            connection: ConnectionId(r.get(1)?),
            quality_rating: r.get(2)?,
            account_notice: r.get(3)?,
            at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Accounts created at `since` or later, with when.
pub fn young_accounts(conn: &Connection, since: i64) -> Result<Vec<(AccountId, i64)>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, created_at FROM accounts WHERE created_at >= ?1")?;
    let rows = stmt.query_map([since], |r| Ok((AccountId(r.get(0)?), r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many distinct numbers the account sent messages to that had not written to it on that
/// connection first, counting up to `up_to` (the query stops there). Numbers are compared by their
/// blind index (`messages_by_recipient`); a customer who wrote first has a contact row.
pub fn new_recipients(conn: &Connection, account: AccountId, up_to: u64) -> Result<u64> {
    let found: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM (
                 SELECT DISTINCT m.recipient_index FROM messages m
                 WHERE m.account_id = ?1
                   AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.connection_id = m.connection_id
                                                              AND c.phone_index = m.recipient_index)
                 LIMIT ?2)",
        )?
        .query_row(
            params![account.0, i64::try_from(up_to).unwrap_or(i64::MAX)],
            |r| r.get(0),
        )?;
    Ok(found as u64)
}

/// Who the signals are emailed to: every operator's email and language.
pub fn operators(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT email, locale FROM users WHERE role = 'operator' AND account_id IS NULL ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn account(conn: &Connection, id: i64) -> AccountId {
        conn.execute(
            "INSERT INTO accounts (id, company, created_at) VALUES (?1, 'Co', 0)",
            [id],
        )
        .unwrap();
        AccountId(id)
    }

    fn signal(account: AccountId, kind: Kind, period: i64) -> NewSignal {
        NewSignal {
            account,
            kind,
            severity: Severity::Medium,
            connection: None,
            period: (period, period + 10),
            evidence: json!({"failed": 3}),
        }
    }

    #[test]
    fn a_signal_is_raised_once_per_account_kind_and_period_and_stays_dismissed() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::test_file(dir.path(), "signals.db");
        let (a, b) = (account(&conn, 1), account(&conn, 2));
        let Raised::New(first) = raise(&conn, &signal(a, Kind::FailureRate, 0), 5).unwrap() else {
            panic!("a new signal")
        };
        let again = || raise(&conn, &signal(a, Kind::FailureRate, 0), 6).unwrap();
        assert_eq!(again(), Raised::Known);
        // The same signal with more evidence and a higher severity: one row, the latest numbers.
        let worse = NewSignal {
            severity: Severity::High,
            evidence: json!({"failed": 9}),
            ..signal(a, Kind::FailureRate, 0)
        };
        assert_eq!(raise(&conn, &worse, 6).unwrap(), Raised::Rose(first));
        assert_eq!(again(), Raised::Known);
        let updated = find(&conn, a, first).unwrap().unwrap();
        assert_eq!(
            (updated.severity, &updated.evidence, updated.raised_at),
            (Severity::High, &json!({"failed": 3}), 5),
            "the latest numbers, and a severity that never falls"
        );
        // Another period, kind, account or connection is another signal.
        let new = |s: &NewSignal| matches!(raise(&conn, s, 6).unwrap(), Raised::New(_));
        assert!(new(&signal(a, Kind::FailureRate, 10)));
        assert!(new(&signal(a, Kind::Volume, 0)));
        assert!(new(&signal(b, Kind::FailureRate, 0)));
        let on_connection = NewSignal {
            connection: Some(ConnectionId(7)),
            ..signal(a, Kind::FailureRate, 0)
        };
        assert!(new(&on_connection));
        assert_eq!(open(&conn, 100).unwrap().len(), 5);
        let counts = open_counts(&conn).unwrap();
        assert!(
            counts.contains(&(a, 4)) && counts.contains(&(b, 1)),
            "{counts:?}"
        );

        conn.execute(
            "INSERT INTO users (id, account_id, role, email, name, password_hash, locale, created_at,
                                password_changed_at)
             VALUES (9, NULL, 'operator', 'op@host.test', 'Op', 'x', 'ar', 0, 0)",
            [],
        )
        .unwrap();
        assert!(
            !dismiss(&conn, b, first, UserId(9), 7).unwrap(),
            "another account's"
        );
        assert!(dismiss(&conn, a, first, UserId(9), 7).unwrap());
        assert!(!dismiss(&conn, a, first, UserId(9), 8).unwrap(), "once");
        assert_eq!(raise(&conn, &worse, 9).unwrap(), Raised::Known);
        assert_eq!(
            find(&conn, a, first).unwrap().unwrap().evidence,
            json!({"failed": 3}),
            "a dismissed signal is left as it was"
        );
        let gone = &dismissed(&conn, 10).unwrap()[0];
        assert_eq!(
            (gone.id, gone.dismissed_at, gone.dismissed_by.as_deref()),
            (first, Some(7), Some("op@host.test"))
        );
        assert_eq!(open(&conn, 100).unwrap().len(), 4);
        assert_eq!(
            operators(&conn).unwrap(),
            vec![("op@host.test".to_owned(), "ar".to_owned())]
        );
    }

    #[test]
    fn each_is_emailed_once_and_a_deleted_account_takes_its_signals() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::test_file(dir.path(), "emailed.db");
        let a = account(&conn, 1);
        let Raised::New(id) = raise(&conn, &signal(a, Kind::Quality, 0), 5).unwrap() else {
            panic!("a new signal")
        };
        assert_eq!(
            raise(&conn, &signal(AccountId(99), Kind::Quality, 0), 5).unwrap(),
            Raised::Known,
            "no such account"
        );
        assert_eq!(unemailed(&conn, 10).unwrap().len(), 1);
        mark_emailed(&conn, &[(a, id)], 6).unwrap();
        mark_emailed(&conn, &[(a, id)], 7).unwrap();
        assert!(unemailed(&conn, 10).unwrap().is_empty());
        assert_eq!(find(&conn, a, id).unwrap().unwrap().emailed_at, Some(6));
        assert!(find(&conn, AccountId(2), id).unwrap().is_none());
        conn.execute("DELETE FROM accounts WHERE id = 1", [])
            .unwrap();
        assert!(open(&conn, 10).unwrap().is_empty());
    }

    #[test]
    fn the_schema_allows_exactly_the_kinds_and_severities() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::test_file(dir.path(), "kinds.db");
        let a = account(&conn, 1);
        for (n, kind) in Kind::ALL.iter().enumerate() {
            for severity in Severity::ALL {
                let new = NewSignal {
                    severity: *severity,
                    ..signal(a, *kind, n as i64 * 100 + *severity as i64)
                };
                assert!(matches!(raise(&conn, &new, 1).unwrap(), Raised::New(_)));
            }
        }
        let refused = conn.execute(
            "INSERT INTO abuse_signals (account_id, kind, severity, period_start, period_end, evidence,
                                        raised_at) VALUES (1, 'spam', 'low', 0, 1, '{}', 0)",
            [],
        );
        assert!(refused.is_err());
        let read: Vec<Signal> = open(&conn, 100).unwrap();
        assert_eq!(read.len(), Kind::ALL.len() * Severity::ALL.len());
    }
}
