//! The activity log: who did what, from which address and browser.

use super::AccountId;
use super::users::UserId;
use crate::error::Result;
use rusqlite::{Connection, params};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Activity {
    pub user_id: Option<UserId>,
    pub action: String,
    pub detail: String,
    pub ip: String,
    pub user_agent: String,
    pub created_at: i64,
}

#[derive(Clone, Copy)]
pub struct Actor<'a> {
    pub account: Option<AccountId>,
    pub user: Option<UserId>,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

pub fn record(
    conn: &Connection,
    actor: &Actor<'_>,
    action: &str,
    detail: &str,
    now: i64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO activity_log (account_id, user_id, action, detail, ip, user_agent, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            actor.account.map(|a| a.0),
            actor.user.map(|u| u.0),
            action,
            detail,
            actor.ip,
            actor.user_agent,
            now
        ],
    )?;
    Ok(())
}

pub fn list_for_account(
    conn: &Connection,
    account: AccountId,
    limit: usize,
) -> Result<Vec<Activity>> {
    let mut stmt = conn.prepare(
        "SELECT user_id, action, detail, ip, user_agent, created_at FROM activity_log
         WHERE account_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![account.0, limit as i64], |r| {
        Ok(Activity {
            user_id: r.get::<_, Option<i64>>(0)?.map(UserId),
            action: r.get(1)?,
            detail: r.get(2)?,
            ip: r.get(3)?,
            user_agent: r.get(4)?,
            created_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
