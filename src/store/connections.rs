//! Connections: WhatsApp business numbers of an account. Secrets (access token, app secret, verify
//! token) are sealed with the account's data key, bound to their row and column, and never returned:
//! only their last four characters are.

use super::AccountId;
use super::keys::Keyring;
use super::states::ConnectionState;
use crate::crypto::Aad;
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use zeroize::Zeroizing;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ConnectionId(pub(in crate::store) i64);

impl ConnectionId {
    /// The number, as stored and as shown.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The id a request, a form or a test names. It grants nothing: every store function that takes it
    /// also takes the account, and finds nothing of another account's.
    pub fn from_raw(id: i64) -> ConnectionId {
        ConnectionId(id)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionInfo {
    pub id: ConnectionId,
    #[serde(skip)]
    pub account_id: AccountId,
    pub kind: String,
    pub name: String,
    pub phone_number_id: String,
    pub waba_id: String,
    pub access_token_last4: String,
    pub app_secret_last4: String,
    pub webhook_key: String,
    pub graph_version: String,
    pub graph_base_url: String,
    pub throughput_mps: i64,
    pub enforce_window: bool,
    pub state: ConnectionState,
    pub state_detail: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// What Meta's webhooks last said about the number and the business account.
    pub quality_rating: Option<String>,
    pub messaging_limit: Option<String>,
    pub account_notice: Option<String>,
    pub meta_updated_at: Option<i64>,
}

/// What the sender and the webhook receiver need, unsealed.
pub struct Secrets {
    pub access_token: Zeroizing<String>,
    pub app_secret: Zeroizing<String>,
    pub verify_token: Zeroizing<String>,
}

pub struct NewConnection {
    pub kind: String,
    pub name: String,
    pub phone_number_id: String,
    pub waba_id: String,
    pub access_token: Zeroizing<String>,
    pub app_secret: Zeroizing<String>,
    pub verify_token: Zeroizing<String>,
    pub graph_version: String,
    pub graph_base_url: String,
    pub throughput_mps: i64,
    pub enforce_window: bool,
}

const COLUMNS: &str = "id, account_id, kind, name, phone_number_id, waba_id, access_token_last4, app_secret_last4, \
                       webhook_key, graph_version, graph_base_url, throughput_mps, enforce_window, state, state_detail, \
                       created_at, updated_at, quality_rating, messaging_limit, account_notice, meta_updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ConnectionInfo> {
    Ok(ConnectionInfo {
        id: ConnectionId(r.get(0)?),
        account_id: AccountId(r.get(1)?),
        kind: r.get(2)?,
        name: r.get(3)?,
        phone_number_id: r.get(4)?,
        waba_id: r.get(5)?,
        access_token_last4: r.get(6)?,
        app_secret_last4: r.get(7)?,
        webhook_key: r.get(8)?,
        graph_version: r.get(9)?,
        graph_base_url: r.get(10)?,
        throughput_mps: r.get(11)?,
        enforce_window: r.get(12)?,
        state: r.get(13)?,
        state_detail: r.get(14)?,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
        quality_rating: r.get(17)?,
        messaging_limit: r.get(18)?,
        account_notice: r.get(19)?,
        meta_updated_at: r.get(20)?,
    })
}

fn place(account: AccountId, id: ConnectionId, column: &'static str) -> Aad<'static> {
    Aad {
        account: account.0,
        table: "connections",
        column,
        row: id.0,
    }
}

fn last4(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// Checks the fields that every connection needs.
pub fn validate(new: &NewConnection) -> Result<()> {
    if new.name.trim().is_empty() || new.name.chars().count() > 100 {
        return Err(Error::invalid(
            "name",
            "give the connection a name (at most 100 characters)",
        ));
    }
    for (field, value) in [
        ("phone_number_id", &new.phone_number_id),
        ("waba_id", &new.waba_id),
    ] {
        if value.is_empty() || value.len() > 64 || !value.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(Error::invalid(field, "Meta's ids are letters and digits"));
        }
    }
    if new.access_token.trim().is_empty() || new.access_token.len() > 4096 {
        return Err(Error::invalid(
            "access_token",
            "the access token is required",
        ));
    }
    if new.app_secret.trim().is_empty() || new.app_secret.len() > 512 {
        return Err(Error::invalid("app_secret", "the app secret is required"));
    }
    if !valid_graph_version(&new.graph_version) {
        return Err(Error::invalid(
            "graph_version",
            "use a Graph API version such as v25.0",
        ));
    }
    if !(new.graph_base_url.starts_with("https://") || new.graph_base_url.starts_with("http://")) {
        return Err(Error::invalid("graph_base_url", "must be an http(s) URL"));
    }
    if !(1..=1000).contains(&new.throughput_mps) {
        return Err(Error::invalid(
            "throughput_mps",
            "between 1 and 1000 messages per second",
        ));
    }
    Ok(())
}

/// `vNN.0`, any NN.
pub fn valid_graph_version(version: &str) -> bool {
    version
        .strip_prefix('v')
        .and_then(|v| v.strip_suffix(".0"))
        .is_some_and(|n| !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// How many numbers the account has (a plan may limit them).
pub fn count(conn: &Connection, account: AccountId) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM connections WHERE account_id = ?1",
        [account.0],
        |r| r.get(0),
    )?)
}

pub fn insert(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    new: &NewConnection,
) -> Result<ConnectionInfo> {
    validate(new)?;
    let id = ConnectionId(super::ids::time_ordered()?);
    let key = keyring.data_key(account)?;
    let webhook_key = hex::encode(crate::crypto::random_bytes::<16>()?);
    let now = super::now_ms();
    conn.execute(
        "INSERT INTO connections (id, account_id, kind, name, phone_number_id, waba_id, access_token, access_token_last4,
                                  app_secret, app_secret_last4, verify_token, webhook_key, graph_version, graph_base_url,
                                  throughput_mps, enforce_window, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17)",
        params![
            id.0,
            account.0,
            new.kind,
            new.name.trim(),
            new.phone_number_id,
            new.waba_id,
            key.seal(&place(account, id, "access_token"), new.access_token.as_bytes())?,
            last4(&new.access_token),
            key.seal(&place(account, id, "app_secret"), new.app_secret.as_bytes())?,
            last4(&new.app_secret),
            key.seal(&place(account, id, "verify_token"), new.verify_token.as_bytes())?,
            webhook_key,
            new.graph_version,
            new.graph_base_url.trim_end_matches('/'),
            new.throughput_mps,
            new.enforce_window,
            now
        ],
    )?;
    find(conn, account, id)?.ok_or(Error::NotFound)
}

pub fn find(
    conn: &Connection,
    account: AccountId,
    id: ConnectionId,
) -> Result<Option<ConnectionInfo>> {
    // Every message sent through the API reads its connection: the statement is kept prepared.
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM connections WHERE id = ?1 AND account_id = ?2"
        ))?
        .query_row(params![id.0, account.0], from_row)
        .optional()?)
}

/// The sandbox connection with this phone number id or business account id (the simulator authenticates
/// its callers with the connection's token).
pub fn find_sandbox(conn: &Connection, meta_id: &str) -> Result<Option<ConnectionInfo>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM connections WHERE kind = 'sandbox' AND (phone_number_id = ?1 OR waba_id = ?1)"
        ))?
        .query_row([meta_id], from_row)
        .optional()?)
}

pub fn list_for_account(conn: &Connection, account: AccountId) -> Result<Vec<ConnectionInfo>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM connections WHERE account_id = ?1 ORDER BY id"
    ))?;
    Ok(stmt
        .query_map([account.0], from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn secrets(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    id: ConnectionId,
) -> Result<Secrets> {
    let (token, secret, verify): (Vec<u8>, Vec<u8>, Vec<u8>) = conn
        .query_row(
            "SELECT access_token, app_secret, verify_token FROM connections WHERE id = ?1 AND account_id = ?2",
            params![id.0, account.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or(Error::NotFound)?;
    let key = keyring.data_key(account)?;
    let open = |column: &'static str, sealed: &[u8]| -> Result<Zeroizing<String>> {
        let plain = key.open(&place(account, id, column), sealed)?;
        Ok(Zeroizing::new(String::from_utf8_lossy(&plain).into_owned()))
    };
    Ok(Secrets {
        access_token: open("access_token", &token)?,
        app_secret: open("app_secret", &secret)?,
        verify_token: open("verify_token", &verify)?,
    })
}

pub fn delete(conn: &Connection, account: AccountId, id: ConnectionId) -> Result<()> {
    let deleted = conn.execute(
        "DELETE FROM connections WHERE id = ?1 AND account_id = ?2",
        params![id.0, account.0],
    )?;
    if deleted == 0 {
        Err(Error::NotFound)
    } else {
        Ok(())
    }
}

/// The connection whose Meta webhook URL ends in this key.
pub fn find_by_webhook_key(conn: &Connection, key: &str) -> Result<Option<ConnectionInfo>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM connections WHERE webhook_key = ?1"
        ))?
        .query_row([key], from_row)
        .optional()?)
}

/// Records what Meta's `phone_number_quality_update` and `account_update` said.
pub fn record_meta_update(
    conn: &Connection,
    account: AccountId,
    id: ConnectionId,
    quality: Option<(&str, Option<&str>)>,
    account_notice: Option<&str>,
    at: i64,
) -> Result<()> {
    conn.execute(
        "UPDATE connections SET quality_rating = coalesce(?2, quality_rating),
                                messaging_limit = coalesce(?3, messaging_limit),
                                account_notice = coalesce(?4, account_notice), meta_updated_at = ?5
         WHERE id = ?1 AND account_id = ?6",
        params![
            id.0,
            quality.map(|q| q.0),
            quality.and_then(|q| q.1),
            account_notice,
            at,
            account.0
        ],
    )?;
    Ok(())
}

/// Every active connection of an account that may send (`holds::MAY_SEND`), with its account and pace
/// (messages per second), for the sender: the others' messages wait.
pub fn active_paces(conn: &Connection) -> Result<Vec<(ConnectionId, AccountId, i64)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT c.id, c.account_id, c.throughput_mps FROM connections c JOIN accounts a ON a.id = c.account_id
         WHERE c.state = ?1 AND {}",
        super::holds::MAY_SEND
    ))?;
    let rows = stmt.query_map([ConnectionState::Active], |r| {
        Ok((ConnectionId(r.get(0)?), AccountId(r.get(1)?), r.get(2)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The accounts with an active connection, for jobs that work on every account.
pub fn accounts_with_active(conn: &Connection) -> Result<Vec<AccountId>> {
    let mut stmt = conn.prepare("SELECT DISTINCT account_id FROM connections WHERE state = ?1")?;
    let rows = stmt.query_map([ConnectionState::Active], |r| r.get(0).map(AccountId))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Holds (credentials broken) or releases a connection's queue.
pub fn set_state(
    conn: &Connection,
    account: AccountId,
    id: ConnectionId,
    state: ConnectionState,
    detail: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE connections SET state = ?2, state_detail = ?3, updated_at = ?4 WHERE id = ?1 AND account_id = ?5",
        params![id.0, state, detail, super::now_ms(), account.0],
    )?;
    Ok(())
}

/// A change to a connection; `None` leaves a field as it is.
#[derive(Default)]
pub struct ConnectionChange {
    pub name: Option<String>,
    pub access_token: Option<Zeroizing<String>>,
    pub app_secret: Option<Zeroizing<String>>,
    pub graph_version: Option<String>,
    pub graph_base_url: Option<String>,
    pub throughput_mps: Option<i64>,
    pub enforce_window: Option<bool>,
}

/// Applies a change. A new access token or Graph API address releases a queue held for the old one
/// (if the new one is refused too, the next send holds it again).
pub fn update(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    id: ConnectionId,
    change: &ConnectionChange,
) -> Result<ConnectionInfo> {
    let current = find(conn, account, id)?.ok_or(Error::NotFound)?;
    let checked = NewConnection {
        kind: current.kind.clone(),
        name: change.name.clone().unwrap_or(current.name),
        phone_number_id: current.phone_number_id,
        waba_id: current.waba_id,
        access_token: change
            .access_token
            .clone()
            .unwrap_or_else(|| Zeroizing::new("unchanged".into())),
        app_secret: change
            .app_secret
            .clone()
            .unwrap_or_else(|| Zeroizing::new("unchanged".into())),
        verify_token: Zeroizing::new(String::new()),
        graph_version: change
            .graph_version
            .clone()
            .unwrap_or(current.graph_version),
        graph_base_url: change
            .graph_base_url
            .clone()
            .unwrap_or(current.graph_base_url),
        throughput_mps: change.throughput_mps.unwrap_or(current.throughput_mps),
        enforce_window: change.enforce_window.unwrap_or(current.enforce_window),
    };
    validate(&checked)?;
    let now = super::now_ms();
    conn.execute(
        "UPDATE connections SET name = ?3, graph_version = ?4, graph_base_url = ?5, throughput_mps = ?6,
                                enforce_window = ?7, updated_at = ?8
         WHERE id = ?1 AND account_id = ?2",
        params![
            id.0,
            account.0,
            checked.name.trim(),
            checked.graph_version,
            checked.graph_base_url.trim_end_matches('/'),
            checked.throughput_mps,
            checked.enforce_window,
            now
        ],
    )?;
    if change.graph_base_url.is_some() {
        conn.execute(
            "UPDATE connections SET state = ?2, state_detail = '' WHERE id = ?1 AND account_id = ?3",
            params![id.0, ConnectionState::Active, account.0],
        )?;
    }
    let key = keyring.data_key(account)?;
    if let Some(token) = &change.access_token {
        conn.execute(
            "UPDATE connections SET access_token = ?2, access_token_last4 = ?3, state = ?4, state_detail = ''
             WHERE id = ?1 AND account_id = ?5",
            params![
                id.0,
                key.seal(&place(account, id, "access_token"), token.as_bytes())?,
                last4(token),
                ConnectionState::Active,
                account.0
            ],
        )?;
    }
    if let Some(secret) = &change.app_secret {
        conn.execute(
            "UPDATE connections SET app_secret = ?2, app_secret_last4 = ?3 WHERE id = ?1 AND account_id = ?4",
            params![
                id.0,
                key.seal(&place(account, id, "app_secret"), secret.as_bytes())?,
                last4(secret),
                account.0
            ],
        )?;
    }
    find(conn, account, id)?.ok_or(Error::NotFound)
}
