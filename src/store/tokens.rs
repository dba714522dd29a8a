//! Single-use tokens for links: password reset, invitation, email change, first operator setup.
//! The link carries 128 random bits; the table keeps their SHA-256, and a token works once, before it expires.

use super::AccountId;
use super::users::UserId;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    Invite,
    EmailChange,
    OperatorSetup,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::PasswordReset => "password_reset",
            Purpose::Invite => "invite",
            Purpose::EmailChange => "email_change",
            Purpose::OperatorSetup => "operator_setup",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Token {
    pub account_id: Option<AccountId>,
    pub user_id: Option<UserId>,
    pub email: String,
    pub role: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub struct NewToken<'a> {
    pub purpose: Purpose,
    pub account_id: Option<AccountId>,
    pub user_id: Option<UserId>,
    pub email: &'a str,
    pub role: &'a str,
    pub now: i64,
    pub ttl_ms: i64,
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Token> {
    Ok(Token {
        account_id: r.get::<_, Option<i64>>(0)?.map(AccountId),
        user_id: r.get::<_, Option<i64>>(1)?.map(UserId),
        email: r.get(2)?,
        role: r.get(3)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
    })
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new random token (hex), ready to put in a link.
pub fn generate() -> Result<String> {
    Ok(hex::encode(crate::crypto::random_bytes::<16>()?))
}

pub fn insert(conn: &Connection, token: &str, new: &NewToken<'_>) -> Result<()> {
    conn.execute(
        "INSERT INTO one_time_tokens (token_hash, purpose, account_id, user_id, email, role, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            hash(token),
            new.purpose.as_str(),
            new.account_id.map(|a| a.0),
            new.user_id.map(|u| u.0),
            new.email,
            new.role,
            new.now,
            new.now + new.ttl_ms
        ],
    )?;
    Ok(())
}

/// The token's data if it is unused and unexpired, without using it (to show the form).
pub fn peek(conn: &Connection, purpose: Purpose, token: &str, now: i64) -> Result<Option<Token>> {
    Ok(conn
        .query_row(
            "SELECT account_id, user_id, email, role, created_at, expires_at FROM one_time_tokens
             WHERE token_hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3",
            params![hash(token), purpose.as_str(), now],
            from_row,
        )
        .optional()?)
}

/// Uses the token: returns its data once; every later call (or after expiry) returns None.
pub fn consume(
    conn: &Connection,
    purpose: Purpose,
    token: &str,
    now: i64,
) -> Result<Option<Token>> {
    let found = peek(conn, purpose, token, now)?;
    if found.is_some() {
        conn.execute(
            "UPDATE one_time_tokens SET used_at = ?2 WHERE token_hash = ?1",
            params![hash(token), now],
        )?;
    }
    Ok(found)
}

/// Invalidates every open token of this purpose for the user (a new reset link replaces the old ones).
pub fn revoke_for_user(conn: &Connection, purpose: Purpose, user: UserId, now: i64) -> Result<()> {
    conn.execute(
        "UPDATE one_time_tokens SET used_at = ?3 WHERE purpose = ?1 AND user_id = ?2 AND used_at IS NULL",
        params![purpose.as_str(), user.0, now],
    )?;
    Ok(())
}

pub fn revoke_all(conn: &Connection, purpose: Purpose, now: i64) -> Result<()> {
    conn.execute(
        "UPDATE one_time_tokens SET used_at = ?2 WHERE purpose = ?1 AND used_at IS NULL",
        params![purpose.as_str(), now],
    )?;
    Ok(())
}

/// The account's people and the addresses invited to join it (a plan's `members` counts both, so that
/// invitations cannot outnumber the seats).
pub fn members_and_invited(conn: &Connection, account: AccountId, now: i64) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT (SELECT count(*) FROM users WHERE account_id = ?1)
              + (SELECT count(DISTINCT email) FROM one_time_tokens
                 WHERE account_id = ?1 AND purpose = 'invite' AND used_at IS NULL AND expires_at > ?2)",
        params![account.0, now],
        |r| r.get(0),
    )?)
}

/// Open invitations of an account, for the team page.
pub fn open_invites(conn: &Connection, account: AccountId, now: i64) -> Result<Vec<Token>> {
    let mut stmt = conn.prepare(
        "SELECT account_id, user_id, email, role, created_at, expires_at FROM one_time_tokens
         WHERE account_id = ?1 AND purpose = 'invite' AND used_at IS NULL AND expires_at > ?2 ORDER BY created_at DESC",
    )?;
    let rows = stmt.query_map(params![account.0, now], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
