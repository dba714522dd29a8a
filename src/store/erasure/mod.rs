//! The right to deletion: an account with everything it holds, one member, or one end customer.
//!
//! An account is deleted in two steps. First one short transaction stops it: the account is suspended,
//! every API key revoked, every session and one-time link of its people deleted, its numbers' queues held,
//! its webhook endpoints paused, and its data key destroyed, so everything sealed for it is unreadable at
//! once. Then every row of the account is deleted, table by table, `BATCH` rows per write transaction so
//! the writer is never held for long. The tables are not listed here: they are found in the schema
//! (`holdings`), every table with an `account_id` column (or a foreign key to `accounts`) and every table
//! whose rows cascade from one of those (sessions, consents, ... of the account's people), so a table added
//! later is not forgotten. Rows that point at a row go before it. The account row goes last, which also
//! cascades anything written while the deletion ran. Running it again finishes an interrupted deletion.
//!
//! The data key lives in the keystore, not in the database, so backups of the database never hold it:
//! once it is destroyed, what any backup holds of the account's sealed data (message bodies, numbers,
//! profile names, credentials) cannot be opened, with any key file.

use super::api_keys::ApiKeyId;
use super::connections::ConnectionId;
use super::keys::Keyring;
use super::retention::{BATCH, Tally};
use super::states::ConnectionState;
use super::users::UserId;
use super::{AccountId, Db, now_ms};
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

mod customer;
mod holdings;
pub use customer::erase_customer;
pub use holdings::{Holding, count_account_rows, delete_batch, holdings};

/// Rows deleted per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(BTreeMap<String, u64>);

impl Tally for Counts {
    fn add(&mut self, table: &str, rows: u64) {
        Counts::add(self, table, rows);
    }
}

impl Counts {
    pub fn add(&mut self, table: &str, rows: u64) {
        if rows > 0 {
            *self.0.entry(table.to_owned()).or_default() += rows;
        }
    }

    pub fn get(&self, table: &str) -> u64 {
        self.0.get(table).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.0.iter().map(|(t, n)| (t.as_str(), *n))
    }

    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(t, n)| (t.clone(), json!(n)))
                .collect::<Map<_, _>>(),
        )
    }
}

/// What stopping an account changed, for the caller to forget in memory.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub account: AccountId,
    pub api_keys: Vec<ApiKeyId>,
    pub connections: Vec<ConnectionId>,
}

/// Stops the account in one transaction (see the module's documentation). Safe to run again.
/// The data key is destroyed last, in the keystore, before the transaction commits: if the commit then
/// fails the account's data is unreadable but its rows remain, and running the deletion again finishes it.
pub fn stop_account(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    now: i64,
) -> Result<Stopped> {
    let a = account.0;
    let company: String = conn
        .query_row("SELECT company FROM accounts WHERE id = ?1", [a], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or(Error::NotFound)?;
    // Whom to confirm to: the owner, unless their address is sealed for good (a restored backup's account
    // deleted since). Kept from the first try when a deletion is run again.
    let readable = keyring.kept_data_key(account)?.is_some();
    conn.execute(
        "INSERT INTO account_deletions (account, company, owner_email, owner_locale, started_at)
         SELECT ?1, ?2, u.email, u.locale, ?3 FROM (SELECT 1) LEFT JOIN users u
             ON u.id = (SELECT id FROM users WHERE account_id = ?1 AND role = 'owner' AND ?4 ORDER BY id LIMIT 1)
         WHERE true -- (an upsert's SELECT needs a WHERE, or ON CONFLICT may be read as a join's ON)
         ON CONFLICT (account) DO NOTHING",
        params![a, company, now, readable],
    )?;
    conn.execute(
        "UPDATE accounts SET status = 'suspended' WHERE id = ?1",
        [a],
    )?;
    let api_keys = conn
        .prepare(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE account_id = ?1 RETURNING id",
        )?
        .query_map(params![a, now], |r| r.get(0).map(ApiKeyId))?
        .collect::<rusqlite::Result<_>>()?;
    conn.execute(
        "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE account_id = ?1)",
        [a],
    )?;
    conn.execute(
        "DELETE FROM one_time_tokens
         WHERE account_id = ?1 OR user_id IN (SELECT id FROM users WHERE account_id = ?1)",
        [a],
    )?;
    let connections = conn
        .prepare(
            "UPDATE connections SET state = ?2, state_detail = 'the account is being deleted'
             WHERE account_id = ?1 RETURNING id",
        )?
        .query_map(params![a, ConnectionState::Held], |r| {
            r.get(0).map(ConnectionId)
        })?
        .collect::<rusqlite::Result<_>>()?;
    conn.execute(
        "UPDATE webhook_endpoints SET paused_at = coalesce(paused_at, ?2),
                                      pause_reason = 'the account is being deleted'
         WHERE account_id = ?1",
        params![a, now],
    )?;
    keyring.destroy_data_key(account)?;
    Ok(Stopped {
        account,
        api_keys,
        connections,
    })
}

/// Whom a deletion is confirmed to, and what about.
#[derive(Debug, Clone)]
pub struct Confirmation {
    pub company: String,
    pub email: String,
    pub locale: String,
}

/// Whom the deletion under way of this account is to be confirmed to, if anyone.
fn confirmation_of(conn: &Connection, account: AccountId) -> Result<Option<Confirmation>> {
    Ok(conn
        .query_row(
            "SELECT company, owner_email, owner_locale FROM account_deletions
             WHERE account = ?1 AND owner_email IS NOT NULL AND owner_locale IS NOT NULL",
            [account.0],
            |r| {
                Ok(Confirmation {
                    company: r.get(0)?,
                    email: r.get(1)?,
                    locale: r.get(2)?,
                })
            },
        )
        .optional()?)
}

/// The deletions that were started and not finished (cut off by a stop), oldest first.
pub fn unfinished(conn: &Connection) -> Result<Vec<AccountId>> {
    Ok(conn
        .prepare("SELECT account FROM account_deletions ORDER BY started_at")?
        .query_map([], |r| r.get(0).map(AccountId))?
        .collect::<rusqlite::Result<_>>()?)
}

/// The deletion is over: every row is gone and the owner was told.
pub fn deletion_done(conn: &Connection, account: AccountId) -> Result<()> {
    conn.execute(
        "DELETE FROM account_deletions WHERE account = ?1",
        [account.0],
    )?;
    Ok(())
}

/// Deletes an account and everything it holds, from a process other than the server (the command line):
/// stops it, then finishes the deletion (see `finish_deletion`). Returns the rows deleted per table and the
/// write transactions used.
pub fn delete_account(
    db: &Db,
    account: AccountId,
    progress: &mut dyn FnMut(&str, u64),
    confirm: impl FnOnce(&Confirmation),
) -> Result<(Counts, u64)> {
    let keys = db.clone();
    db.write(move |conn| stop_account(conn, keys.keyring(), account, now_ms()))?;
    finish_deletion(db, account, progress, confirm)
}

/// Finishes the deletion of a stopped account: deletes every row of it (`purge_account`), has the owner
/// told (`confirm`), then forgets the deletion. Safe to run again: it is also what finishes, at the next
/// start, a deletion that a stop cut off.
pub fn finish_deletion(
    db: &Db,
    account: AccountId,
    progress: &mut dyn FnMut(&str, u64),
    confirm: impl FnOnce(&Confirmation),
) -> Result<(Counts, u64)> {
    let confirmation = db.read(move |conn| confirmation_of(conn, account))?;
    let purged = purge_account(db, account, progress)?;
    if let Some(to) = confirmation {
        confirm(&to);
    }
    db.write(move |conn| deletion_done(conn, account))?;
    Ok(purged)
}

/// The second step, after `stop_account`: deletes every row of the account, batch by batch, then the
/// account itself. Returns the rows deleted per table and the write transactions used.
pub fn purge_account(
    db: &Db,
    account: AccountId,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<(Counts, u64)> {
    let holdings = db.read(holdings)?;
    let mut deleted = Counts::default();
    let mut batches = 0;
    // Rows written while this runs (a webhook already past its checks) are caught by another pass, and at
    // the end by the account row's cascade.
    for _ in 0..3 {
        for holding in &holdings {
            loop {
                let h = holding.clone();
                let n = db.write(move |conn| delete_batch(conn, &h, account))?;
                batches += 1;
                deleted.add(&holding.table, n);
                progress(&holding.table, deleted.total());
                if n < BATCH as u64 {
                    break;
                }
            }
        }
        if db.read(|conn| count_account_rows(conn, account))?.total() == 0 {
            break;
        }
    }
    let cascaded = db.write(move |conn| {
        let before = conn.total_changes();
        let gone = conn.execute("DELETE FROM accounts WHERE id = ?1", [account.0])?;
        let cascaded = conn.total_changes() - before - gone as u64;
        let operator = super::activity::Actor {
            account: None,
            user: None,
            ip: "",
            user_agent: "",
        };
        super::activity::record(
            conn,
            &operator,
            "account_deleted",
            &format!("account {}", account.0),
            now_ms(),
        )?;
        Ok((gone as u64, cascaded))
    })?;
    batches += 1;
    deleted.add("accounts", cascaded.0);
    deleted.add("(cascaded)", cascaded.1);
    progress("accounts", deleted.total());
    // A reader that unsealed the key just before it was destroyed may have cached it since.
    db.keyring().forget(account);
    // The deleted rows' pages go back to the file system and the write-ahead log is emptied, so with
    // secure_delete nothing of the account is left in either file.
    if let Err(e) =
        super::upkeep::release_free_pages(db).and_then(|_| super::upkeep::checkpoint(db))
    {
        tracing::warn!(error = %e, "after deleting an account: could not release pages or checkpoint");
    }
    Ok((deleted, batches))
}

/// Deletes one member of an account (not its owner, not an operator), with their sessions, consents,
/// known browsers and links. What they did stays in the account's activity log without them: the entries
/// lose their address, browser and author, and entries naming their email address ("m@x.test",
/// "m@x.test: admin") lose it.
pub fn delete_member(conn: &Connection, account: AccountId, user: UserId) -> Result<()> {
    let found: Option<(String, String)> = conn
        .query_row(
            "SELECT role, email FROM users WHERE id = ?1 AND account_id = ?2",
            params![user.0, account.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((role, email)) = found else {
        return Err(Error::NotFound);
    };
    if role == "owner" {
        return Err(Error::invalid(
            "delete_user",
            "the owner deletes the whole account instead",
        ));
    }
    conn.execute(
        "UPDATE activity_log SET ip = '', user_agent = '' WHERE user_id = ?1",
        [user.0],
    )?;
    conn.execute(
        "UPDATE activity_log SET detail = '' WHERE account_id = ?1
         AND (detail = ?2 COLLATE NOCASE OR substr(detail, 1, length(?2) + 2) = ?2 || ': ' COLLATE NOCASE)",
        params![account.0, email],
    )?;
    conn.execute(
        "DELETE FROM one_time_tokens WHERE account_id = ?1 AND email = ?2 COLLATE NOCASE",
        params![account.0, email],
    )?;
    conn.execute("DELETE FROM users WHERE id = ?1", [user.0])?;
    Ok(())
}

/// A JSON array of ids, for `json_each`.
fn id_list(ids: &[i64]) -> String {
    json!(ids).to_string()
}

fn ids(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<i64>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_map(params, |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_leave_out_empty_tables() {
        let mut counts = Counts::default();
        counts.add("messages", 2);
        counts.add("contacts", 0);
        counts.add("messages", 1);
        assert_eq!(counts.get("messages"), 3);
        assert_eq!(counts.to_json(), json!({"messages": 3}));
    }
}
