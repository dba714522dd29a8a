//! Customers' webhook endpoints: where an account wants its events, which types, and the sealed secret
//! they are signed with.

use super::AccountId;
use super::keys::Keyring;
use crate::crypto::Aad;
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use zeroize::Zeroizing;

/// The events an endpoint can ask for.
pub const EVENT_TYPES: [&str; 4] = [
    "message.status",
    "message.received",
    "template.status",
    "connection.updated",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct EndpointId(pub(in crate::store) i64);

impl EndpointId {
    /// The number, as stored and as shown.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The id a request, a form or a test names. It grants nothing: every store function that takes it
    /// also takes the account, and finds nothing of another account's.
    pub fn from_raw(id: i64) -> EndpointId {
        EndpointId(id)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub id: EndpointId,
    pub account_id: AccountId,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub paused_at: Option<i64>,
    pub pause_reason: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, account_id, url, description, event_types, paused_at, pause_reason, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Endpoint> {
    let types: String = r.get(4)?;
    Ok(Endpoint {
        id: EndpointId(r.get(0)?),
        account_id: AccountId(r.get(1)?),
        url: r.get(2)?,
        description: r.get(3)?,
        event_types: types.split(',').map(str::to_owned).collect(),
        paused_at: r.get(5)?,
        pause_reason: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

fn place(account: AccountId, id: EndpointId) -> Aad<'static> {
    Aad {
        account: account.0,
        table: "webhook_endpoints",
        column: "secret",
        row: id.0,
    }
}

/// Checks the chosen event types: at least one, each known.
pub fn check_event_types(types: &[String]) -> Result<()> {
    if types.is_empty() {
        return Err(Error::invalid(
            "event_types",
            format!("choose at least one of {}", EVENT_TYPES.join(", ")),
        ));
    }
    if let Some(unknown) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
        return Err(Error::invalid(
            "event_types",
            format!("{unknown:?} is not one of {}", EVENT_TYPES.join(", ")),
        ));
    }
    Ok(())
}

pub struct NewEndpoint<'a> {
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: &'a [String],
    pub secret: &'a str,
}

/// How many webhook endpoints the account has (a plan may limit them).
pub fn count(conn: &Connection, account: AccountId) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM webhook_endpoints WHERE account_id = ?1",
        [account.0],
        |r| r.get(0),
    )?)
}

pub fn insert(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    new: &NewEndpoint<'_>,
    now: i64,
) -> Result<Endpoint> {
    let key = keyring.data_key(account)?;
    check_event_types(new.event_types)?;
    let id = EndpointId(super::ids::time_ordered()?);
    let sealed = key.seal(&place(account, id), new.secret.as_bytes())?;
    conn.execute(
        "INSERT INTO webhook_endpoints (id, account_id, url, description, event_types, secret, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![id.0, account.0, new.url, new.description, new.event_types.join(","), sealed, now],
    )?;
    find(conn, account, id)?.ok_or(Error::NotFound)
}

pub fn find(conn: &Connection, account: AccountId, id: EndpointId) -> Result<Option<Endpoint>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = ?1 AND account_id = ?2"),
            params![id.0, account.0],
            from_row,
        )
        .optional()?)
}

pub fn list(conn: &Connection, account: AccountId) -> Result<Vec<Endpoint>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE account_id = ?1 ORDER BY id"
    ))?;
    Ok(stmt
        .query_map([account.0], from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// The signing secret, for the delivery worker.
pub fn secret(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    id: EndpointId,
) -> Result<Zeroizing<String>> {
    let key = keyring.data_key(account)?;
    let sealed: Vec<u8> = conn
        .prepare_cached("SELECT secret FROM webhook_endpoints WHERE id = ?1 AND account_id = ?2")?
        .query_row(params![id.0, account.0], |r| r.get(0))
        .optional()?
        .ok_or(Error::NotFound)?;
    let plain = key.open(&place(account, id), &sealed)?;
    Ok(Zeroizing::new(String::from_utf8_lossy(&plain).into_owned()))
}

#[derive(Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// Some(true) pauses, Some(false) resumes.
    pub paused: Option<bool>,
}

pub fn update(
    conn: &Connection,
    account: AccountId,
    id: EndpointId,
    change: &EndpointChange,
    now: i64,
) -> Result<Endpoint> {
    let current = find(conn, account, id)?.ok_or(Error::NotFound)?;
    if let Some(types) = &change.event_types {
        check_event_types(types)?;
    }
    let (paused_at, reason) = match change.paused {
        Some(true) if current.paused_at.is_none() => (Some(now), "paused by a person".to_owned()),
        Some(false) => (None, String::new()),
        _ => (current.paused_at, current.pause_reason.clone()),
    };
    conn.execute(
        "UPDATE webhook_endpoints SET url = ?3, description = ?4, event_types = ?5, paused_at = ?6,
                                      pause_reason = ?7, updated_at = ?8
         WHERE id = ?1 AND account_id = ?2",
        params![
            id.0,
            account.0,
            change.url.as_deref().unwrap_or(&current.url),
            change
                .description
                .as_deref()
                .unwrap_or(&current.description),
            change
                .event_types
                .as_ref()
                .map_or_else(|| current.event_types.join(","), |t| t.join(",")),
            paused_at,
            reason,
            now
        ],
    )?;
    find(conn, account, id)?.ok_or(Error::NotFound)
}

/// Pauses an endpoint that said it is gone (410); its deliveries wait until someone resumes it.
pub fn pause_gone(conn: &Connection, account: AccountId, id: EndpointId, now: i64) -> Result<()> {
    conn.execute(
        "UPDATE webhook_endpoints SET paused_at = ?2, pause_reason = 'the endpoint answered 410 Gone', updated_at = ?2
         WHERE id = ?1 AND account_id = ?3 AND paused_at IS NULL",
        params![id.0, now, account.0],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, account: AccountId, id: EndpointId) -> Result<()> {
    let deleted = conn.execute(
        "DELETE FROM webhook_endpoints WHERE id = ?1 AND account_id = ?2",
        params![id.0, account.0],
    )?;
    if deleted == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}
