//! Consents: what a person agreed to, which version, and when; withdrawals keep the record. Also the
//! versions of the privacy policy (`policy_versions`), and the signed links that withdraw a consent from
//! an email without signing in.

use super::keys::Keyring;
use super::users::UserId;
use crate::error::{Error, Result};
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
    Ok(policy_in_force(conn)?.version)
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

/// The version of the opt-in text for product news ("send me product news").
pub const PRODUCT_NEWS_VERSION: &str = "1";

/// A published version of the privacy policy.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyVersion {
    pub version: String,
    /// What changed, in the operator's words; may be empty.
    pub summary: String,
    pub published_at: i64,
}

fn policy_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PolicyVersion> {
    Ok(PolicyVersion {
        version: r.get(0)?,
        summary: r.get(1)?,
        published_at: r.get(2)?,
    })
}

/// The newest published version (migration 10 publishes the first one).
pub fn policy_in_force(conn: &Connection) -> Result<PolicyVersion> {
    let found = conn
        .query_row(
            "SELECT version, summary, published_at FROM policy_versions ORDER BY id DESC LIMIT 1",
            [],
            policy_from_row,
        )
        .optional()?;
    Ok(found.unwrap_or_else(|| PolicyVersion {
        version: "1".to_owned(),
        summary: String::new(),
        published_at: 0,
    }))
}

/// Published versions, newest first, each with how many people have accepted it (for operators, who
/// must be able to show who agreed to what).
pub fn policy_versions(conn: &Connection, limit: i64) -> Result<Vec<(PolicyVersion, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT v.version, v.summary, v.published_at,
                (SELECT count(DISTINCT c.user_id) FROM consents c
                 WHERE c.kind = 'privacy_policy' AND c.version = v.version)
         FROM policy_versions v ORDER BY v.id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| Ok((policy_from_row(r)?, r.get(3)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub const MAX_SUMMARY_CHARS: usize = 2000;

/// Publishes a new version of the privacy policy, which is then in force: everyone who has not accepted
/// it sees a notice until they do. A label that was used before is refused.
pub fn publish_policy(
    conn: &Connection,
    version: &str,
    summary: &str,
    by: Option<UserId>,
    now: i64,
) -> Result<PolicyVersion> {
    let version = version.trim();
    if version.is_empty() || version.chars().count() > 32 || version.chars().any(|c| c.is_control())
    {
        return Err(Error::invalid(
            "policy_version",
            "enter a version label of at most 32 characters",
        ));
    }
    let summary = summary.trim().replace("\r\n", "\n");
    if summary.chars().count() > MAX_SUMMARY_CHARS {
        return Err(Error::invalid(
            "policy_summary",
            "the summary of changes may have at most 2000 characters",
        ));
    }
    let taken: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM policy_versions WHERE version = ?1)",
        [version],
        |r| r.get(0),
    )?;
    if taken {
        return Err(Error::invalid(
            "policy_version_taken",
            "this version was already published; choose a new label",
        ));
    }
    conn.execute(
        "INSERT INTO policy_versions (version, summary, published_at, published_by) VALUES (?1, ?2, ?3, ?4)",
        params![version, summary, now, by.map(|u| u.0)],
    )?;
    Ok(PolicyVersion {
        version: version.to_owned(),
        summary,
        published_at: now,
    })
}

/// Records that the person accepted the version in force, unless they already had. Returns the version
/// when it was recorded now.
pub fn accept_policy_in_force(conn: &Connection, user: UserId, now: i64) -> Result<Option<String>> {
    let version = privacy_policy_version(conn)?;
    let accepted = current(conn, user, PRIVACY_POLICY)?.is_some_and(|c| c.version == version);
    if accepted {
        return Ok(None);
    }
    give(conn, user, PRIVACY_POLICY, &version, now)?;
    Ok(Some(version))
}

/// What the pages need to know about a signed-in person's consents.
#[derive(Debug, Clone, Default)]
pub struct PageConsents {
    /// The version in force, when the person has not accepted it yet.
    pub policy_to_accept: Option<PolicyVersion>,
    /// Since when the person gets product news, if they opted in.
    pub product_news_since: Option<i64>,
}

pub fn for_page(conn: &Connection, user: UserId) -> Result<PageConsents> {
    let policy = policy_in_force(conn)?;
    let accepted =
        current(conn, user, PRIVACY_POLICY)?.is_some_and(|c| c.version == policy.version);
    Ok(PageConsents {
        policy_to_accept: (!accepted).then_some(policy),
        product_news_since: current(conn, user, PRODUCT_NEWS)?.map(|c| c.given_at),
    })
}

/// Someone to write to: their address and language.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub user: UserId,
    pub email: String,
    pub locale: String,
}

fn recipients(
    conn: &Connection,
    sql: &str,
    param: impl rusqlite::Params,
) -> Result<Vec<Recipient>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(param, |r| {
        Ok(Recipient {
            user: UserId(r.get(0)?),
            email: r.get(1)?,
            locale: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Everyone who has a consent of `kind` in force (opted in and not withdrawn).
pub fn opted_in(conn: &Connection, kind: &str) -> Result<Vec<Recipient>> {
    recipients(
        conn,
        "SELECT id, email, locale FROM users u WHERE EXISTS
           (SELECT 1 FROM consents c WHERE c.user_id = u.id AND c.kind = ?1 AND c.withdrawn_at IS NULL)
         ORDER BY id",
        [kind],
    )
}

/// Turns product news on or off for a person; returns whether anything changed.
pub fn set_product_news(conn: &Connection, user: UserId, on: bool, now: i64) -> Result<bool> {
    let is_on = current(conn, user, PRODUCT_NEWS)?.is_some();
    match (is_on, on) {
        (false, true) => give(conn, user, PRODUCT_NEWS, PRODUCT_NEWS_VERSION, now)?,
        (true, false) => withdraw(conn, user, PRODUCT_NEWS, now)?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn link_mac(keyring: &Keyring, user: UserId, kind: &str) -> hmac::Hmac<sha2::Sha256> {
    use hmac::{KeyInit, Mac};
    let key = keyring.derive(b"unsubscribe links");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length works");
    mac.update(format!("{kind}\0{}", user.0).as_bytes());
    mac
}

/// The token of a person's link that withdraws `kind` without signing in: their id and a MAC over it and
/// the kind, under a key derived from the master key. It does not expire (an old email must still work)
/// and needs no storage.
pub fn withdrawal_token(keyring: &Keyring, user: UserId, kind: &str) -> String {
    use hmac::Mac;
    let tag = link_mac(keyring, user, kind).finalize().into_bytes();
    format!("{}.{}", user.0, hex::encode(&tag[..16]))
}

/// The person a withdrawal token was made for, if it is genuine.
pub fn check_withdrawal_token(keyring: &Keyring, token: &str, kind: &str) -> Option<UserId> {
    use hmac::Mac;
    let (id, tag) = token.split_once('.')?;
    if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let user = UserId(id.parse().ok()?);
    let tag = hex::decode(tag).ok().filter(|t| t.len() == 16)?;
    link_mac(keyring, user, kind)
        .verify_truncated_left(&tag)
        .ok()
        .map(|()| user)
}
