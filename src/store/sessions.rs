//! Server-side sessions. The cookie carries 128 random bits; the table keeps only their SHA-256.

use super::users::{User, UserId};
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub fn hash_id(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

/// How far a session has come: past the password and any second step (`Full`), or past the password only
/// (`SecondStep`): then it may enter a code or sign out, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Full,
    SecondStep,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Full => "full",
            Stage::SecondStep => "second_step",
        }
    }
}

/// A session past the password only ends this long after it began, whatever the idle limit.
pub const SECOND_STEP_MS: i64 = 10 * 60_000;

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id_hash: Vec<u8>,
    pub user: User,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub stage: Stage,
}

/// What the "active sessions" page shows.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    /// A short public handle (hex of the first bytes of the hash) used to revoke a session.
    pub handle: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ip: String,
    pub user_agent: String,
}

pub struct NewSession<'a> {
    pub id: &'a str,
    pub user: UserId,
    pub csrf_token: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub now: i64,
    pub stage: Stage,
}

pub fn insert(conn: &Connection, new: &NewSession<'_>) -> Result<()> {
    conn.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, ip, user_agent, stage)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)",
        params![
            hash_id(new.id),
            new.user.0,
            new.csrf_token,
            new.now,
            new.ip,
            truncate(new.user_agent, 300),
            new.stage.as_str()
        ],
    )?;
    Ok(())
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// The session for a cookie value, if it is still valid at `now` under the given limits.
pub fn find_valid(
    conn: &Connection,
    id: &str,
    now: i64,
    idle_ms: i64,
    absolute_ms: i64,
) -> Result<Option<SessionRow>> {
    let row = conn
        .query_row(
            "SELECT s.id_hash, s.user_id, s.csrf_token, s.created_at, s.last_seen_at, s.stage
             FROM sessions s
             WHERE s.id_hash = ?1 AND s.last_seen_at > ?2 AND s.created_at > ?3
               AND (s.stage = 'full' OR s.created_at > ?4)",
            params![
                hash_id(id),
                now - idle_ms,
                now - absolute_ms,
                now - SECOND_STEP_MS
            ],
            |r| {
                let stage = match r.get_ref(5)?.as_str()? {
                    "second_step" => Stage::SecondStep,
                    _ => Stage::Full,
                };
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    UserId(r.get(1)?),
                    r.get::<_, String>(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    stage,
                ))
            },
        )
        .optional()?;
    let Some((id_hash, user_id, csrf_token, created_at, last_seen_at, stage)) = row else {
        return Ok(None);
    };
    let Some(user) = super::users::find(conn, user_id)? else {
        return Ok(None);
    };
    Ok(Some(SessionRow {
        id_hash,
        user,
        csrf_token,
        created_at,
        last_seen_at,
        stage,
    }))
}

pub fn touch(conn: &Connection, id_hash: &[u8], now: i64) -> Result<()> {
    conn.execute(
        "UPDATE sessions SET last_seen_at = ?2 WHERE id_hash = ?1",
        params![id_hash, now],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, id_hash: &[u8]) -> Result<()> {
    conn.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
    Ok(())
}

/// Ends every session of the user except `keep` (the one making the change).
pub fn delete_others(conn: &Connection, user: UserId, keep: Option<&[u8]>) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND id_hash IS NOT ?2",
        params![user.0, keep.map(|k| k.to_vec())],
    )?)
}

/// Revokes one of the user's own sessions by its handle.
pub fn delete_by_handle(conn: &Connection, user: UserId, handle: &str) -> Result<bool> {
    let sessions = list_for_user(conn, user)?;
    let Some(target) = sessions.iter().find(|s| s.handle == handle) else {
        return Ok(false);
    };
    let full: Vec<u8> = conn.query_row(
        "SELECT id_hash FROM sessions WHERE user_id = ?1 AND hex(substr(id_hash, 1, 8)) = upper(?2)",
        params![user.0, target.handle],
        |r| r.get(0),
    )?;
    delete(conn, &full)?;
    Ok(true)
}

pub fn list_for_user(conn: &Connection, user: UserId) -> Result<Vec<SessionInfo>> {
    let mut stmt = conn.prepare(
        "SELECT lower(hex(substr(id_hash, 1, 8))), created_at, last_seen_at, ip, user_agent FROM sessions
         WHERE user_id = ?1 ORDER BY last_seen_at DESC",
    )?;
    let rows = stmt.query_map([user.0], |r| {
        Ok(SessionInfo {
            handle: r.get(0)?,
            created_at: r.get(1)?,
            last_seen_at: r.get(2)?,
            ip: r.get(3)?,
            user_agent: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// What identifies a browser among a person's browsers: a hash of its user agent.
pub fn browser_fingerprint(user_agent: &str) -> Vec<u8> {
    Sha256::digest(user_agent.as_bytes()).to_vec()
}

/// Whether this user has signed in from this browser before; records it if not.
pub fn remember_browser(
    conn: &Connection,
    user: UserId,
    user_agent: &str,
    now: i64,
) -> Result<bool> {
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO known_browsers (user_id, fingerprint, first_seen_at) VALUES (?1, ?2, ?3)",
        params![user.0, browser_fingerprint(user_agent), now],
    )?;
    Ok(inserted == 0)
}

/// Ends the user's sessions beyond the `keep` most recently used (ties: the most recently started stay).
/// Returns how many ended.
pub fn end_beyond(conn: &Connection, user: UserId, keep: usize) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM sessions WHERE user_id = ?1 AND id_hash NOT IN (
                 SELECT id_hash FROM sessions WHERE user_id = ?1
                 ORDER BY last_seen_at DESC, created_at DESC LIMIT ?2)",
        )?
        .execute(params![user.0, keep as i64])?)
}

/// Ends the person's password-only sessions beyond the `keep` most recent: however often the password is
/// typed, the sessions waiting for a code stay few.
pub fn end_waiting_beyond(conn: &Connection, user: UserId, keep: usize) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM sessions WHERE user_id = ?1 AND stage = 'second_step' AND id_hash NOT IN (
                 SELECT id_hash FROM sessions WHERE user_id = ?1 AND stage = 'second_step'
                 ORDER BY created_at DESC LIMIT ?2)",
        )?
        .execute(params![user.0, keep as i64])?)
}

/// "New sign-in" alerts one person gets per hour at most.
pub const ALERTS_PER_HOUR: i64 = 3;
const HOUR_MS: i64 = 3_600_000;

/// Whether a "new sign-in" alert may go to `user` now; if so, it is counted. A burst of sign-ins from
/// new browsers (a script, a leaked password in many hands) would otherwise be a burst of emails.
pub fn claim_alert(conn: &Connection, user: UserId, now: i64) -> Result<bool> {
    conn.prepare_cached("DELETE FROM sign_in_alerts WHERE user_id = ?1 AND sent_at <= ?2")?
        .execute(params![user.0, now - HOUR_MS])?;
    let sent: i64 = conn
        .prepare_cached("SELECT count(*) FROM sign_in_alerts WHERE user_id = ?1")?
        .query_row([user.0], |r| r.get(0))?;
    if sent >= ALERTS_PER_HOUR {
        return Ok(false);
    }
    conn.prepare_cached("INSERT INTO sign_in_alerts (user_id, sent_at) VALUES (?1, ?2)")?
        .execute(params![user.0, now])?;
    Ok(true)
}
