//! People: operators and account members.

use super::AccountId;
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct UserId(pub(in crate::store) i64);

impl UserId {
    /// The number, as stored and as shown.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The id a request, a form or a test names. It grants nothing: every store function that takes it
    /// also takes the account, and finds nothing of another account's.
    pub fn from_raw(id: i64) -> UserId {
        UserId(id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Admin,
    Owner,
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
            Role::Operator => "operator",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Some(match text {
            "member" => Role::Member,
            "admin" => Role::Admin,
            "owner" => Role::Owner,
            "operator" => Role::Operator,
            _ => return None,
        })
    }

    /// Owners and admins manage the team, connections and API keys.
    pub fn manages_account(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: UserId,
    pub account_id: Option<AccountId>,
    pub role: Role,
    pub email: String,
    pub name: String,
    pub locale: String,
    pub created_at: i64,
    pub password_changed_at: i64,
    /// The second steps this person has, read with the row (`store::two_step` changes them).
    pub two_step: TwoStep,
}

/// Which second steps a person signs in with, and whether their mobile number is verified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TwoStep {
    /// An authenticator app, confirmed with a first code.
    pub authenticator: bool,
    /// A code by SMS to the verified number.
    pub sms: bool,
    pub phone_verified: bool,
}

impl TwoStep {
    /// Whether signing in asks for a second step.
    pub fn on(&self) -> bool {
        self.authenticator || self.sms
    }
}

pub struct NewUser<'a> {
    pub account_id: Option<AccountId>,
    pub role: Role,
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub locale: &'a str,
}

const COLUMNS: &str = "id, account_id, role, email, name, locale, created_at, password_changed_at,
    totp_enabled_at IS NOT NULL, sms_two_step = 1 AND phone_verified_at IS NOT NULL, phone_verified_at IS NOT NULL";

fn from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(2)?;
    Ok(User {
        id: UserId(r.get(0)?),
        account_id: r.get::<_, Option<i64>>(1)?.map(AccountId),
        role: Role::parse(&role).unwrap_or(Role::Member),
        email: r.get(3)?,
        name: r.get(4)?,
        locale: r.get(5)?,
        created_at: r.get(6)?,
        password_changed_at: r.get(7)?,
        two_step: TwoStep {
            authenticator: r.get(8)?,
            sms: r.get(9)?,
            phone_verified: r.get(10)?,
        },
    })
}

/// Normalises an email address for storage and lookup; refuses what cannot be an address.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    if valid {
        Ok(email.to_owned())
    } else {
        Err(Error::invalid("email", "enter a valid email address"))
    }
}

pub fn insert(conn: &Connection, new: &NewUser<'_>) -> Result<UserId> {
    let email = normalize_email(new.email)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid(
            "name",
            "enter your name (at most 100 characters)",
        ));
    }
    if find_by_email(conn, &email)?.is_some() {
        return Err(Error::Conflict(
            "an account with this email address already exists".into(),
        ));
    }
    let now = super::now_ms();
    conn.execute(
        "INSERT INTO users (account_id, role, email, name, password_hash, locale, created_at, password_changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![new.account_id.map(|a| a.0), new.role.as_str(), email, name, new.password_hash, new.locale, now],
    )?;
    Ok(UserId(conn.last_insert_rowid()))
}

pub fn find(conn: &Connection, id: UserId) -> Result<Option<User>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
            [id.0],
            from_row,
        )
        .optional()?)
}

pub fn find_by_email(conn: &Connection, email: &str) -> Result<Option<User>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM users WHERE email = ?1"),
            [email.trim()],
            from_row,
        )
        .optional()?)
}

/// The user and their password hash, for signing in.
pub fn find_credentials(conn: &Connection, email: &str) -> Result<Option<(User, String)>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS}, password_hash FROM users WHERE email = ?1"),
            [email.trim()],
            |r| Ok((from_row(r)?, r.get(11)?)),
        )
        .optional()?)
}

pub fn password_hash(conn: &Connection, id: UserId) -> Result<String> {
    Ok(conn.query_row(
        "SELECT password_hash FROM users WHERE id = ?1",
        [id.0],
        |r| r.get(0),
    )?)
}

pub fn list_for_account(conn: &Connection, account: AccountId) -> Result<Vec<User>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM users WHERE account_id = ?1 ORDER BY role = 'owner' DESC, role = 'admin' DESC, name"
    ))?;
    Ok(stmt
        .query_map([account.0], from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn operator_exists(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'operator')",
        [],
        |r| r.get(0),
    )?)
}

pub fn set_password(conn: &Connection, id: UserId, hash: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET password_hash = ?2, password_changed_at = ?3 WHERE id = ?1",
        params![id.0, hash, super::now_ms()],
    )?;
    Ok(())
}

pub fn set_name(conn: &Connection, id: UserId, name: &str) -> Result<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid(
            "name",
            "enter your name (at most 100 characters)",
        ));
    }
    conn.execute(
        "UPDATE users SET name = ?2 WHERE id = ?1",
        params![id.0, name],
    )?;
    Ok(())
}

pub fn set_email(conn: &Connection, id: UserId, email: &str) -> Result<()> {
    let email = normalize_email(email)?;
    if find_by_email(conn, &email)?.is_some_and(|u| u.id != id) {
        return Err(Error::Conflict(
            "an account with this email address already exists".into(),
        ));
    }
    conn.execute(
        "UPDATE users SET email = ?2 WHERE id = ?1",
        params![id.0, email],
    )?;
    Ok(())
}

pub fn set_locale(conn: &Connection, id: UserId, locale: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET locale = ?2 WHERE id = ?1",
        params![id.0, locale],
    )?;
    Ok(())
}

/// Changes a member's role within the account. The owner's role is not changed here.
pub fn set_role(conn: &Connection, account: AccountId, id: UserId, role: Role) -> Result<()> {
    if !matches!(role, Role::Admin | Role::Member) {
        return Err(Error::invalid("role", "choose admin or member"));
    }
    let changed = conn.execute(
        "UPDATE users SET role = ?3 WHERE id = ?2 AND account_id = ?1 AND role != 'owner'",
        params![account.0, id.0, role.as_str()],
    )?;
    if changed == 0 {
        Err(Error::NotFound)
    } else {
        Ok(())
    }
}

/// Removes a member from the account (their sessions go with them). Never the owner.
pub fn remove_member(conn: &Connection, account: AccountId, id: UserId) -> Result<()> {
    let removed = conn.execute(
        "DELETE FROM users WHERE id = ?2 AND account_id = ?1 AND role != 'owner'",
        params![account.0, id.0],
    )?;
    if removed == 0 {
        Err(Error::NotFound)
    } else {
        Ok(())
    }
}

/// Adds a person who just chose their password (registration, invitation): the user, their acceptance of
/// the privacy policy in force, the activity entry, and their browser as a known one. One transaction.
pub fn admit(
    conn: &Connection,
    new: &NewUser<'_>,
    actor: &super::activity::Actor<'_>,
    action: &str,
) -> Result<User> {
    let now = super::now_ms();
    let user = insert(conn, new)?;
    let version = super::consents::privacy_policy_version(conn)?;
    super::consents::give(conn, user, super::consents::PRIVACY_POLICY, &version, now)?;
    let actor = super::activity::Actor {
        account: new.account_id,
        user: Some(user),
        ..*actor
    };
    super::activity::record(conn, &actor, action, "", now)?;
    super::sessions::remember_browser(conn, user, actor.user_agent, now)?;
    find(conn, user)?.ok_or(Error::NotFound)
}
