//! The states a row moves through: a message's status, a customer webhook delivery's status and a
//! connection's state. Each has one string form, used in the database (where a `CHECK` constraint allows
//! exactly these strings), in the API's JSON and on the pages.
//!
//! Queries that must name a state in their text (a partial index serves only a query that names its
//! state) take it from `sql()`; the others bind the state as a parameter.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use std::fmt;
use std::str::FromStr;

/// A string that names no state of the kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind}: {text}")]
pub struct UnknownState {
    pub kind: &'static str,
    pub text: String,
}

macro_rules! state {
    (
        $(#[$doc:meta])*
        $name:ident ($kind:literal) {
            $($(#[$variant_doc:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$variant_doc])* $variant),+
        }

        impl $name {
            /// Every state, in the order of the schema's `CHECK` list.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The string forms of `ALL`, in the same order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The one string form of the state.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The state as an SQL string literal, for a query that must name it in its text.
            pub const fn sql(self) -> &'static str {
                match self {
                    $($name::$variant => concat!("'", $text, "'")),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownState;

            fn from_str(text: &str) -> Result<$name, UnknownState> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownState {
                        kind: $kind,
                        text: text.to_owned(),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.as_str().as_bytes())))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<$name> {
                value
                    .as_str()?
                    .parse()
                    .map_err(|e: UnknownState| FromSqlError::Other(Box::new(e)))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

state! {
    /// Where an outgoing message stands. It only moves forward, in this order, except that `Failed` is
    /// final and may follow any state before `Delivered`.
    MessageStatus("message status") {
        /// Waiting in the outbox for its turn (or for a retry).
        Queued = "queued",
        /// Claimed by the sender, which is handing it to Meta now.
        Sending = "sending",
        /// Meta accepted it.
        Sent = "sent",
        Delivered = "delivered",
        Read = "read",
        Failed = "failed",
    }
}

impl MessageStatus {
    /// Not yet handed to Meta: the states the sender may still fail or record as sent.
    pub const UNSENT: [MessageStatus; 2] = [MessageStatus::Queued, MessageStatus::Sending];
}

state! {
    /// Where one delivery of an event to a customer's endpoint stands.
    DeliveryStatus("delivery status") {
        /// Waiting for its first attempt or for a retry.
        Pending = "pending",
        /// Leased by a worker that is posting it now.
        Delivering = "delivering",
        Delivered = "delivered",
        /// Dead-lettered after the last retry; it can be replayed.
        Failed = "failed",
    }
}

impl DeliveryStatus {
    /// Finished, one way or the other: such a delivery can be sent again from the start.
    pub const REPLAYABLE: [DeliveryStatus; 2] = [DeliveryStatus::Failed, DeliveryStatus::Delivered];

    pub fn replayable(self) -> bool {
        DeliveryStatus::REPLAYABLE.contains(&self)
    }
}

state! {
    /// Whether a connection's queue is sent.
    ConnectionState("connection state") {
        Active = "active",
        /// Held: Meta refused the credentials (or the account is being deleted); nothing is sent until
        /// someone changes them.
        Held = "held",
    }
}

impl ConnectionState {
    pub fn is_held(self) -> bool {
        self == ConnectionState::Held
    }
}

state! {
    /// Where an account's subscription stands.
    SubscriptionStatus("subscription status") {
        /// Trying the product until its trial ends.
        Trialing = "trialing",
        /// Paid, or set active by an operator.
        Active = "active",
        /// A payment failed or the trial ended unpaid: it still sends for the grace period.
        PastDue = "past_due",
        /// Ended: it sends nothing; its data stays until retention or deletion.
        Canceled = "canceled",
    }
}

state! {
    /// An email about billing; each goes once per period (`store::billing_notices`).
    NoticeKind("billing notice") {
        /// 80 % of the month's messages are used.
        Quota80 = "quota_80",
        /// All of the month's messages are used.
        Quota100 = "quota_100",
        /// The trial ends in three days.
        TrialEnding = "trial_ending",
        PaymentFailed = "payment_failed",
        /// The grace period is over (or the subscription was canceled): nothing is sent.
        SendingStopped = "sending_stopped",
    }
}

state! {
    /// What a line of the daily usage roll-ups counts (`store::rollups`).
    UsageEvent("usage event") {
        /// A request to `/api/v1` made with one of the account's keys, whatever its answer.
        ApiCall = "api_call",
        /// A message accepted for sending (committed as queued).
        Accepted = "accepted",
        /// Meta took a message.
        Sent = "sent",
        Delivered = "delivered",
        Read = "read",
        /// A message failed for good: refused by Meta, or reported failed by its status webhook.
        Failed = "failed",
        /// A customer's message came in.
        Inbound = "inbound",
        /// An event reached a customer's endpoint.
        WebhookDelivered = "webhook_delivered",
        /// An attempt to reach a customer's endpoint failed; it is tried again later.
        WebhookRetried = "webhook_retried",
        /// An event was given up after its last attempt.
        WebhookFailed = "webhook_failed",
        SignIn = "sign_in",
        /// A wrong password for one of the account's people.
        SignInFailed = "sign_in_failed",
    }
}

/// `('a', 'b', ...)`: the states as an SQL list, for `IN` and for the schema's `CHECK`.
pub fn sql_list<S: Copy>(states: &[S], sql: impl Fn(S) -> &'static str) -> String {
    let names: Vec<&str> = states.iter().map(|s| sql(*s)).collect();
    format!("({})", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, params};

    /// The `CHECK (column IN (...))` list of a table's column, as the schema holds it.
    fn check_list(conn: &Connection, table: &str, column: &str) -> String {
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        let start = sql
            .find(&format!("CHECK ({column} IN ("))
            .unwrap_or_else(|| panic!("{table}.{column} has no CHECK: {sql}"));
        let list = &sql[start + format!("CHECK ({column} IN ").len()..];
        list[..=list.find(')').unwrap()].to_owned()
    }

    #[test]
    fn each_state_has_one_string_form_that_round_trips_through_text_json_and_sqlite() {
        let conn = Connection::open_in_memory().unwrap();
        fn round_trip<S>(conn: &Connection, all: &[S], text: fn(S) -> &'static str)
        where
            S: Copy + PartialEq + fmt::Debug + FromStr + ToSql + FromSql,
            S: serde::Serialize + serde::de::DeserializeOwned,
            <S as FromStr>::Err: fmt::Debug,
        {
            for &state in all {
                assert_eq!(text(state).parse::<S>().unwrap(), state);
                let json = serde_json::to_string(&state).unwrap();
                assert_eq!(json, format!("\"{}\"", text(state)));
                assert_eq!(serde_json::from_str::<S>(&json).unwrap(), state);
                let (back, stored): (S, String) = conn
                    .query_row("SELECT ?1, ?1", params![state], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .unwrap();
                assert_eq!((back, stored.as_str()), (state, text(state)));
            }
            assert!("Queued".parse::<S>().is_err());
            assert!("".parse::<S>().is_err());
            assert!(serde_json::from_str::<S>("\"paused\"").is_err());
            let read: rusqlite::Result<S> = conn.query_row("SELECT 'paused'", [], |r| r.get(0));
            assert!(read.is_err());
        }
        round_trip(&conn, MessageStatus::ALL, MessageStatus::as_str);
        round_trip(&conn, DeliveryStatus::ALL, DeliveryStatus::as_str);
        round_trip(&conn, ConnectionState::ALL, ConnectionState::as_str);
        round_trip(&conn, SubscriptionStatus::ALL, SubscriptionStatus::as_str);
        round_trip(&conn, NoticeKind::ALL, NoticeKind::as_str);
        round_trip(&conn, UsageEvent::ALL, UsageEvent::as_str);
        assert_eq!(MessageStatus::Queued.sql(), "'queued'");
        assert_eq!(
            sql_list(&MessageStatus::UNSENT, MessageStatus::sql),
            "('queued', 'sending')"
        );
    }

    #[test]
    fn the_schema_allows_exactly_the_states_of_each_enum() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::test_file(dir.path(), "states.db");
        assert_eq!(
            check_list(&conn, "messages", "status"),
            sql_list(MessageStatus::ALL, MessageStatus::sql)
        );
        assert_eq!(
            check_list(&conn, "webhook_deliveries", "status"),
            sql_list(DeliveryStatus::ALL, DeliveryStatus::sql)
        );
        assert_eq!(
            check_list(&conn, "connections", "state"),
            sql_list(ConnectionState::ALL, ConnectionState::sql)
        );
        assert_eq!(
            check_list(&conn, "subscriptions", "status"),
            sql_list(SubscriptionStatus::ALL, SubscriptionStatus::sql)
        );
        assert_eq!(
            check_list(&conn, "billing_notices", "kind"),
            sql_list(NoticeKind::ALL, NoticeKind::sql)
        );
        assert_eq!(
            check_list(&conn, "usage_daily", "event"),
            sql_list(UsageEvent::ALL, UsageEvent::sql)
        );
    }

    #[test]
    fn a_state_outside_the_enum_written_with_sql_is_refused_and_one_inside_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::test_file(dir.path(), "refused.db");
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO connections (id, account_id, kind, name, phone_number_id, waba_id, access_token,
                                      access_token_last4, app_secret, app_secret_last4, verify_token, webhook_key,
                                      graph_version, graph_base_url, created_at, updated_at)
             VALUES (1, 1, 'sandbox', 'n', 'p', 'w', x'00', '', x'00', '', x'00', 'k', 'v', 'u', 0, 0);
             INSERT INTO webhook_events (id, account_id, type, body, created_at) VALUES (1, 1, 't', x'00', 0);",
        )
        .unwrap();
        let message = |id: i64, status: &str| {
            conn.execute(
                "INSERT INTO messages (id, account_id, connection_id, recipient, recipient_index, type, body, status,
                                       next_attempt_at, created_at)
                 VALUES (?1, 1, 1, x'00', x'00', 'text', x'00', ?2, 0, 0)",
                params![id, status],
            )
        };
        let delivery = |id: i64, status: &str| {
            conn.execute(
                "INSERT INTO webhook_deliveries (id, account_id, endpoint_id, event_id, status, next_attempt_at,
                                                 created_at)
                 VALUES (?1, 1, 1, 1, ?2, 0, 0)",
                params![id, status],
            )
        };
        let connection =
            |state: &str| conn.execute("UPDATE connections SET state = ?1 WHERE id = 1", [state]);
        let refused = |result: rusqlite::Result<usize>| {
            result.unwrap_err().sqlite_error_code()
                == Some(rusqlite::ErrorCode::ConstraintViolation)
        };
        assert!(refused(message(1, "done")));
        assert!(refused(message(1, "Queued")));
        assert!(refused(delivery(1, "sent")));
        assert!(refused(connection("paused")));
        // The enum's strings are stored.
        message(1, MessageStatus::Queued.as_str()).unwrap();
        delivery(1, DeliveryStatus::Pending.as_str()).unwrap();
        assert_eq!(connection(ConnectionState::Held.as_str()).unwrap(), 1);
    }
}
