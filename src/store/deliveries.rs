//! Events for customers' endpoints and their durable delivery queue. An event is written in the same
//! transaction as what caused it, so it exists exactly when its cause does; each (event, endpoint) row
//! is retried until delivered or dead-lettered.

use super::AccountId;
use super::endpoints::EndpointId;
use super::keys::Keyring;
use super::states::DeliveryStatus;
use crate::crypto::Aad;
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::sync::LazyLock;

fn place(account: AccountId, event: i64) -> Aad<'static> {
    Aad {
        account: account.0,
        table: "webhook_events",
        column: "body",
        row: event,
    }
}

/// What an event is about, so deleting that deletes the event too.
#[derive(Debug, Clone, Copy, Default)]
pub struct About {
    pub message: Option<i64>,
    pub inbound: Option<i64>,
}

/// An account's endpoints with the event types each asked for (paused ones included: they get their
/// events when resumed).
pub fn subscribers(conn: &Connection, account: AccountId) -> Result<Vec<(i64, String)>> {
    Ok(conn
        .prepare_cached("SELECT id, event_types FROM webhook_endpoints WHERE account_id = ?1")?
        .query_map([account.0], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

/// An event to record, with what it is about.
pub struct Event<'a> {
    pub kind: &'a str,
    pub body: &'a [u8],
    pub about: About,
    pub at: i64,
}

/// Records an event and a delivery of it to each of `endpoints`.
pub fn record(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    event: &Event<'_>,
    endpoints: &[i64],
) -> Result<()> {
    let key = keyring.data_key(account)?;
    let Event {
        kind,
        body,
        about,
        at: now,
    } = *event;
    let event = super::ids::time_ordered()?;
    let sealed = key.seal(&place(account, event), body)?;
    conn.prepare_cached(
        "INSERT INTO webhook_events (id, account_id, type, message_id, inbound_id, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![event, account.0, kind, about.message, about.inbound, sealed, now])?;
    for &endpoint in endpoints {
        conn.prepare_cached(
            "INSERT INTO webhook_deliveries (id, account_id, endpoint_id, event_id, status, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?6, ?5, ?5)",
        )?
        .execute(params![
            super::ids::time_ordered()?,
            account.0,
            endpoint,
            event,
            now,
            DeliveryStatus::Pending
        ])?;
    }
    Ok(())
}

/// A delivery claimed for an attempt, with its account: the attempt is recorded for that account only.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub account_id: AccountId,
    pub endpoint_id: EndpointId,
    pub event_id: i64,
    pub attempts: i64,
    pub url: String,
}

/// Deliveries that were being attempted when the process stopped go back to the queue.
pub fn release_orphans(conn: &Connection) -> Result<usize> {
    release(conn, None)
}

/// Deliveries claimed and not attempted (the server is stopping) go back to the queue as they were:
/// the next start takes them up at once.
pub fn put_back(conn: &Connection, claimed: &[Due]) -> Result<usize> {
    let mut put = 0;
    for due in claimed {
        put += release(conn, Some((due.id, due.account_id)))?;
    }
    Ok(put)
}

/// Leased deliveries back to `pending`: every one, or only this one of this account.
fn release(conn: &Connection, only: Option<(i64, AccountId)>) -> Result<usize> {
    static RELEASE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE webhook_deliveries SET status = {pending}, lease_until = NULL
             WHERE status = {delivering} AND (?1 IS NULL OR (id = ?1 AND account_id = ?2))",
            pending = DeliveryStatus::Pending.sql(),
            delivering = DeliveryStatus::Delivering.sql(),
        )
    });
    let (id, account) = only.map_or((None, None), |(id, account)| (Some(id), Some(account.0)));
    Ok(conn
        .prepare_cached(&RELEASE)?
        .execute(params![id, account])?)
}

/// Claims due deliveries of endpoints that are not paused, leasing them until `lease_until`.
pub fn claim(conn: &Connection, now: i64, lease_until: i64, limit: usize) -> Result<Vec<Due>> {
    static CLAIM: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE webhook_deliveries SET status = {delivering}, lease_until = ?2
             WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                          WHERE ((d.status = {pending} AND d.next_attempt_at <= ?1)
                                 OR (d.status = {delivering} AND d.lease_until < ?1))
                            AND e.paused_at IS NULL
                          ORDER BY d.next_attempt_at LIMIT ?3)
             RETURNING id, account_id, endpoint_id, event_id, attempts,
                       (SELECT url FROM webhook_endpoints WHERE id = endpoint_id)",
            pending = DeliveryStatus::Pending.sql(),
            delivering = DeliveryStatus::Delivering.sql(),
        )
    });
    let mut stmt = conn.prepare_cached(&CLAIM)?;
    let rows = stmt.query_map(params![now, lease_until, limit as i64], |r| {
        Ok(Due {
            id: r.get(0)?,
            account_id: AccountId(r.get(1)?),
            endpoint_id: EndpointId(r.get(2)?),
            event_id: r.get(3)?,
            attempts: r.get(4)?,
            url: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The event's body as it is sent, and its type.
pub fn event_body(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    event: i64,
) -> Result<Vec<u8>> {
    let key = keyring.data_key(account)?;
    let sealed: Vec<u8> = conn
        .prepare_cached("SELECT body FROM webhook_events WHERE id = ?1 AND account_id = ?2")?
        .query_row(params![event, account.0], |r| r.get(0))
        .optional()?
        .ok_or(Error::NotFound)?;
    Ok(key.open(&place(account, event), &sealed)?.to_vec())
}

/// What one attempt got.
#[derive(Debug, Clone)]
pub struct Attempted {
    pub code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// What happens to the delivery next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Delivered,
    RetryAt(i64),
    DeadLetter,
}

pub fn record_attempt(
    conn: &Connection,
    due: &Due,
    attempted: &Attempted,
    next: Next,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO webhook_attempts (id, account_id, delivery_id, at, code, error, duration_ms)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 FROM webhook_deliveries WHERE id = ?3 AND account_id = ?2",
    )?
    .execute(params![
        super::ids::time_ordered()?,
        due.account_id.0,
        due.id,
        now,
        attempted.code,
        attempted.error,
        attempted.duration_ms
    ])?;
    let (status, next_at, delivered_at) = match next {
        Next::Delivered => (DeliveryStatus::Delivered, now, Some(now)),
        Next::RetryAt(at) => (DeliveryStatus::Pending, at, None),
        Next::DeadLetter => (DeliveryStatus::Failed, now, None),
    };
    conn.prepare_cached(
        "UPDATE webhook_deliveries SET status = ?2, attempts = attempts + 1, next_attempt_at = ?3, lease_until = NULL,
                                       last_code = ?4, last_error = ?5, last_attempt_at = ?6,
                                       delivered_at = coalesce(?7, delivered_at)
         WHERE id = ?1 AND account_id = ?9 AND status = ?8",
    )?
    .execute(params![
        due.id,
        status,
        next_at,
        attempted.code,
        attempted.error,
        now,
        delivered_at,
        DeliveryStatus::Delivering,
        due.account_id.0
    ])?;
    Ok(())
}

/// A delivery as people see it.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_code: Option<i64>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
}

/// An endpoint's deliveries, newest first (optionally only those with one status).
pub fn list(
    conn: &Connection,
    account: AccountId,
    endpoint: EndpointId,
    status: Option<DeliveryStatus>,
    limit: usize,
) -> Result<Vec<DeliveryView>> {
    select(conn, account, endpoint, status, None, limit)
}

pub fn find(
    conn: &Connection,
    account: AccountId,
    endpoint: EndpointId,
    delivery: i64,
) -> Result<Option<DeliveryView>> {
    Ok(select(conn, account, endpoint, None, Some(delivery), 1)?.pop())
}

fn select(
    conn: &Connection,
    account: AccountId,
    endpoint: EndpointId,
    status: Option<DeliveryStatus>,
    delivery: Option<i64>,
    limit: usize,
) -> Result<Vec<DeliveryView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.event_id, e.type, d.status, d.attempts, d.next_attempt_at, d.last_code, d.last_error,
                d.last_attempt_at, d.delivered_at, d.created_at
         FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
         WHERE d.account_id = ?1 AND d.endpoint_id = ?2 AND (?3 IS NULL OR d.status = ?3)
           AND (?5 IS NULL OR d.id = ?5)
         ORDER BY d.id DESC LIMIT ?4",
    )?;
    let rows = stmt.query_map(
        params![account.0, endpoint.0, status, limit as i64, delivery],
        |r| {
            let status: DeliveryStatus = r.get(3)?;
            Ok(DeliveryView {
                id: r.get::<_, i64>(0)?.to_string(),
                event_id: format!("msg_{}", r.get::<_, i64>(1)?),
                event_type: r.get(2)?,
                next_attempt_at: (status == DeliveryStatus::Pending)
                    .then(|| r.get(5))
                    .transpose()?,
                status,
                attempts: r.get(4)?,
                last_code: r.get(6)?,
                last_error: r.get(7)?,
                last_attempt_at: r.get(8)?,
                delivered_at: r.get(9)?,
                created_at: r.get(10)?,
            })
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One attempt as people see it.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptView {
    pub at: i64,
    pub code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

pub fn attempts(conn: &Connection, account: AccountId, delivery: i64) -> Result<Vec<AttemptView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, code, error, duration_ms FROM webhook_attempts WHERE account_id = ?1 AND delivery_id = ?2
         ORDER BY at, id",
    )?;
    let rows = stmt.query_map(params![account.0, delivery], |r| {
        Ok(AttemptView {
            at: r.get(0)?,
            code: r.get(1)?,
            error: r.get(2)?,
            duration_ms: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Sends a delivery (or, with `None`, every dead-lettered one of the endpoint) again from the start of
/// the retry schedule. Returns how many were queued.
pub fn replay(
    conn: &Connection,
    account: AccountId,
    endpoint: EndpointId,
    delivery: Option<i64>,
    now: i64,
) -> Result<usize> {
    let changed = match delivery {
        Some(id) => conn.execute(
            "UPDATE webhook_deliveries SET status = ?5, attempts = 0, next_attempt_at = ?4, lease_until = NULL
             WHERE id = ?1 AND account_id = ?2 AND endpoint_id = ?3 AND status IN (?6, ?7)",
            params![
                id,
                account.0,
                endpoint.0,
                now,
                DeliveryStatus::Pending,
                DeliveryStatus::REPLAYABLE[0],
                DeliveryStatus::REPLAYABLE[1]
            ],
        )?,
        None => conn.execute(
            "UPDATE webhook_deliveries SET status = ?4, attempts = 0, next_attempt_at = ?3, lease_until = NULL
             WHERE account_id = ?1 AND endpoint_id = ?2 AND status = ?5",
            params![
                account.0,
                endpoint.0,
                now,
                DeliveryStatus::Pending,
                DeliveryStatus::Failed
            ],
        )?,
    };
    Ok(changed)
}

/// Whether any delivery is due, so the workers know to look.
pub fn any_due(conn: &Connection, now: i64) -> Result<bool> {
    static DUE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT 1 FROM webhook_deliveries WHERE status = {pending} AND next_attempt_at <= ?1 LIMIT 1",
            pending = DeliveryStatus::Pending.sql()
        )
    });
    Ok(conn
        .prepare_cached(&DUE)?
        .query_row([now], |_| Ok(()))
        .optional()?
        .is_some())
}
