//! Accounts: the businesses using the platform. Creating one also creates its data key.

use super::keys::Keyring;
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AccountId(pub(in crate::store) i64);

impl AccountId {
    /// The number, as stored and as shown.
    pub fn get(self) -> i64 {
        self.0
    }

    /// An account the operator named (on the command line) or a test set up: the store hands every
    /// other account id out only from what proves access to it (an API key, a session, a job's claim).
    pub fn from_operator(id: i64) -> AccountId {
        AccountId(id)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub id: AccountId,
    pub company: String,
    pub country: String,
    pub phone: String,
    /// From its subscription.
    pub plan: String,
    pub status: super::states::SubscriptionStatus,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    pub company: String,
    pub country: String,
    pub phone: String,
    /// Its plan, and its trial if it has one.
    pub start: super::subscriptions::Start,
}

/// Inserts the account in the caller's transaction, and its data key in the keystore.
pub fn create(conn: &Connection, keyring: &Keyring, new: &NewAccount) -> Result<AccountId> {
    let company = new.company.trim();
    if company.is_empty() {
        return Err(Error::invalid("company", "the company name is required"));
    }
    conn.execute(
        "INSERT INTO accounts (company, country, phone, plan, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            company,
            new.country.trim(),
            new.phone.trim(),
            new.start.plan,
            super::now_ms()
        ],
    )?;
    let id = AccountId(conn.last_insert_rowid());
    super::subscriptions::start(conn, id, &new.start, super::now_ms())?;
    keyring.create_data_key(id)?;
    Ok(id)
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: AccountId(r.get(0)?),
        company: r.get(1)?,
        country: r.get(2)?,
        phone: r.get(3)?,
        plan: r.get(4)?,
        status: r.get(5)?,
        created_at: r.get(6)?,
    })
}

pub fn find(conn: &Connection, id: AccountId) -> Result<Option<Account>> {
    Ok(conn
        .query_row(
            "SELECT a.id, a.company, a.country, a.phone, s.plan, s.status, a.created_at
             FROM accounts a JOIN subscriptions s ON s.account_id = a.id WHERE a.id = ?1",
            [id.0],
            from_row,
        )
        .optional()?)
}

/// Corrects the company details (the owner's and admins' right of correction).
pub fn update_details(
    conn: &Connection,
    id: AccountId,
    company: &str,
    country: &str,
    phone: &str,
) -> Result<()> {
    let company = company.trim();
    if company.is_empty() || company.chars().count() > 200 {
        return Err(Error::invalid(
            "company",
            "the company name is required (at most 200 characters)",
        ));
    }
    let (country, phone) = (country.trim(), phone.trim());
    if country.chars().count() > 100 {
        return Err(Error::invalid("country", "at most 100 characters"));
    }
    if !phone.is_empty()
        && !phone
            .chars()
            .all(|c| c.is_ascii_digit() || "+-() ".contains(c))
    {
        return Err(Error::invalid("phone", "digits, spaces and + - ( ) only"));
    }
    conn.execute(
        "UPDATE accounts SET company = ?2, country = ?3, phone = ?4 WHERE id = ?1",
        params![id.0, company, country, phone],
    )?;
    Ok(())
}

/// Deletes the account row (its rows cascade) and destroys its data key, so what was sealed for it is
/// unreadable.
pub fn delete(conn: &Connection, keyring: &Keyring, id: AccountId) -> Result<bool> {
    let deleted = conn.execute("DELETE FROM accounts WHERE id = ?1", [id.0])? > 0;
    keyring.destroy_data_key(id)?;
    Ok(deleted)
}

/// A row of the operators' list of accounts.
#[derive(Debug, Clone, Serialize)]
pub struct AccountSummary {
    pub account: Account,
    pub members: i64,
}

/// Every account, newest first: for operators only (the one query that spans accounts, by design).
pub fn list_all(conn: &Connection, limit: usize) -> Result<Vec<AccountSummary>> {
    let mut stmt = conn.prepare(
        "SELECT a.id, a.company, a.country, a.phone, s.plan, s.status, a.created_at,
                (SELECT count(*) FROM users u WHERE u.account_id = a.id)
         FROM accounts a JOIN subscriptions s ON s.account_id = a.id ORDER BY a.created_at DESC, a.id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(AccountSummary {
            account: from_row(r)?,
            members: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
