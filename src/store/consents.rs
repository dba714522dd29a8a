//! Consents: what a person agreed to, which version, and when; withdrawals keep the record.

use super::users::UserId;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

pub const PRIVACY_POLICY: &str = "privacy_policy";
pub const PRODUCT_NEWS: &str = "product_news";

#[derive(Debug, Clone, Serialize)]
pub struct Consent {
    pub kind: String,
    pub version: String,
    pub given_at: i64,
    pub withdrawn_at: Option<i64>,
}

/// The version of the privacy policy in force; "1" until an operator publishes another.
pub fn privacy_policy_version(conn: &Connection) -> Result<String> {
    let stored = super::keys::setting(conn, "privacy_policy_version")?;
    Ok(stored
        .and_then(|v| String::from_utf8(v).ok())
        .unwrap_or_else(|| "1".to_owned()))
}

pub fn give(conn: &Connection, user: UserId, kind: &str, version: &str, now: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO consents (user_id, kind, version, given_at) VALUES (?1, ?2, ?3, ?4)",
        params![user.0, kind, version, now],
    )?;
    Ok(())
}

pub fn withdraw(conn: &Connection, user: UserId, kind: &str, now: i64) -> Result<()> {
    conn.execute(
        "UPDATE consents SET withdrawn_at = ?3 WHERE user_id = ?1 AND kind = ?2 AND withdrawn_at IS NULL",
        params![user.0, kind, now],
    )?;
    Ok(())
}

/// The consent in force (given and not withdrawn), newest first.
pub fn current(conn: &Connection, user: UserId, kind: &str) -> Result<Option<Consent>> {
    Ok(conn
        .query_row(
            "SELECT kind, version, given_at, withdrawn_at FROM consents
             WHERE user_id = ?1 AND kind = ?2 AND withdrawn_at IS NULL ORDER BY given_at DESC, id DESC LIMIT 1",
            params![user.0, kind],
            |r| Ok(Consent { kind: r.get(0)?, version: r.get(1)?, given_at: r.get(2)?, withdrawn_at: r.get(3)? }),
        )
        .optional()?)
}

pub fn list_for_user(conn: &Connection, user: UserId) -> Result<Vec<Consent>> {
    let mut stmt = conn.prepare(
        "SELECT kind, version, given_at, withdrawn_at FROM consents WHERE user_id = ?1 ORDER BY given_at, id",
    )?;
    let rows = stmt.query_map([user.0], |r| {
        Ok(Consent {
            kind: r.get(0)?,
            version: r.get(1)?,
            given_at: r.get(2)?,
            withdrawn_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
