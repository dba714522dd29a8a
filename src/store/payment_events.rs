//! The payment provider's webhook events (Stripe's), kept before they are answered: an event is stored
//! in its own commit first, so a crash afterwards loses nothing (the provider sends it again, and the
//! stored row says it was never applied); it is applied at most once, in the transaction that marks it
//! processed. Operator-wide: an event names a customer, not one of our accounts, until it is applied.
//! Retention deletes them after 30 days (`store::retention`), since they may hold customers' emails.

use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};

/// How long events are kept.
pub const KEPT_MS: i64 = 30 * super::retention::DAY_MS;

/// A received event, as it is stored.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    /// The customer the event's object names, if any.
    pub customer: Option<&'a str>,
    /// When the provider created the event (Unix seconds).
    pub created: i64,
    pub body: &'a [u8],
}

/// Stores a received event. False when an event with this id was stored before (a redelivery).
pub fn record(conn: &Connection, event: Received<'_>, now: i64) -> Result<bool> {
    Ok(conn.execute(
        "INSERT INTO payment_events (id, type, received_at, body, customer, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO NOTHING",
        params![
            event.id,
            event.kind,
            now,
            event.body,
            event.customer,
            event.created
        ],
    )? > 0)
}

/// Marks the event processed with its outcome, if it was not processed yet: true when this call did
/// (the caller applies the event in the same transaction), false when it was processed before.
pub fn claim(conn: &Connection, id: &str, outcome: &str, now: i64) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE payment_events SET processed_at = ?2, outcome = ?3 WHERE id = ?1 AND processed_at IS NULL",
        params![id, now, outcome],
    )? > 0)
}

/// Rewrites the outcome of an event this transaction claimed, once it is known.
pub fn set_outcome(conn: &Connection, id: &str, outcome: &str) -> Result<()> {
    conn.execute(
        "UPDATE payment_events SET outcome = ?2 WHERE id = ?1",
        params![id, outcome],
    )?;
    Ok(())
}

/// Outcomes of events that moved an account start with this.
pub const APPLIED: &str = "applied";

/// When Stripe created the newest event about this customer that was applied (Unix seconds), other than
/// `except`. Stripe may deliver events out of order: an event older than one already applied carries an
/// older state and must not move the account back. Reads the customer's own rows only (the columns
/// stored with each event, indexed), not the bodies: it runs in the writer's transaction.
pub fn newest_applied(conn: &Connection, customer: &str, except: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT max(created) FROM payment_events
             WHERE customer = ?1 AND id <> ?2 AND outcome LIKE ?3 || '%'",
            params![customer, except, APPLIED],
            |r| r.get::<_, Option<i64>>(0),
        )
        .optional()?
        .flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the tests read of a stored event.
    #[derive(Debug)]
    struct Stored {
        received_at: i64,
        processed_at: Option<i64>,
        outcome: Option<String>,
    }

    fn find(conn: &Connection, id: &str) -> Result<Option<Stored>> {
        Ok(conn
            .query_row(
                "SELECT received_at, processed_at, outcome FROM payment_events WHERE id = ?1",
                [id],
                |r| {
                    Ok(Stored {
                        received_at: r.get(0)?,
                        processed_at: r.get(1)?,
                        outcome: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    fn received<'a>(id: &'a str, created: i64, customer: &'a str) -> Received<'a> {
        Received {
            id,
            kind: "invoice.paid",
            customer: Some(customer),
            created,
            body: b"{}",
        }
    }

    #[test]
    fn an_event_is_stored_once_and_claimed_once() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::test_file(dir.path(), "events.db");
        assert!(record(&conn, received("evt_1", 5, "cus_1"), 1).unwrap());
        assert!(!record(&conn, received("evt_1", 6, "cus_2"), 2).unwrap());
        let stored = find(&conn, "evt_1").unwrap().unwrap();
        assert_eq!((stored.received_at, stored.processed_at), (1, None));
        assert!(claim(&conn, "evt_1", "applied: active", 3).unwrap());
        assert!(!claim(&conn, "evt_1", "applied: active", 4).unwrap());
        let stored = find(&conn, "evt_1").unwrap().unwrap();
        assert_eq!(stored.processed_at, Some(3));
        assert_eq!(stored.outcome.as_deref(), Some("applied: active"));
    }

    #[test]
    fn the_newest_applied_event_is_the_customers_own() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::test_file(dir.path(), "events.db");
        for (id, created, customer, outcome) in [
            ("evt_a", 10, "cus_1", "applied: active"),
            ("evt_b", 30, "cus_1", "ignored: no account"),
            ("evt_c", 40, "cus_2", "applied: past_due"),
            ("evt_d", 20, "cus_1", "applied: past_due"),
        ] {
            record(&conn, received(id, created, customer), 1).unwrap();
            claim(&conn, id, outcome, 2).unwrap();
        }
        assert_eq!(newest_applied(&conn, "cus_1", "evt_x").unwrap(), Some(20));
        assert_eq!(newest_applied(&conn, "cus_1", "evt_d").unwrap(), Some(10));
        assert_eq!(newest_applied(&conn, "cus_3", "evt_x").unwrap(), None);
        // The customer's rows are found through their index, not by reading every stored event.
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT max(created) FROM payment_events
                 WHERE customer = ?1 AND id <> ?2 AND outcome LIKE ?3 || '%'",
                params!["cus_1", "evt_x", APPLIED],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("payment_events_by_customer"), "{plan}");
    }
}
