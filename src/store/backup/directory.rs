//! The people directory in backups. What the platform keeps in the clear because it looks it up or lists it
//! (company names and details, people's names and email addresses, the activity log's details, addresses and
//! browsers) is sealed in a backup with the data key of the account it belongs to, so a backup made before an
//! account was deleted holds nothing readable of it once its key is destroyed. Sessions and one-time links
//! are left out of backups altogether (a restored backup must not bring old sign-ins back).
//!
//! A restored backup is unsealed at its first start, for the accounts whose key the keystore still has; the
//! others stay sealed.

use crate::crypto::Aad;
use crate::error::{Error, Result};
use crate::store::AccountId;
use crate::store::keys::{self, Keyring};
use rusqlite::{Connection, params};

/// Set in a backup whose directory is sealed; cleared once a restored copy is unsealed.
const MARK: &str = "backup_directory_sealed";
const PREFIX: &str = "sealed:";

/// The columns sealed in backups, with the column naming each row's account (rows without one stay clear:
/// operators and the platform's own entries) and the table name the seal is bound to.
const COLUMNS: &[(&str, &str, &str, &str)] = &[
    ("accounts", "id", "company", "backup:accounts"),
    ("accounts", "id", "country", "backup:accounts"),
    ("accounts", "id", "phone", "backup:accounts"),
    ("users", "account_id", "email", "backup:users"),
    ("users", "account_id", "name", "backup:users"),
    (
        "activity_log",
        "account_id",
        "detail",
        "backup:activity_log",
    ),
    ("activity_log", "account_id", "ip", "backup:activity_log"),
    (
        "activity_log",
        "account_id",
        "user_agent",
        "backup:activity_log",
    ),
    // What the business typed as labels and addresses.
    ("connections", "account_id", "name", "backup:connections"),
    ("api_keys", "account_id", "name", "backup:api_keys"),
    (
        "webhook_endpoints",
        "account_id",
        "url",
        "backup:webhook_endpoints",
    ),
    (
        "webhook_endpoints",
        "account_id",
        "description",
        "backup:webhook_endpoints",
    ),
    ("templates", "account_id", "components", "backup:templates"),
];

fn place(
    aad_table: &'static str,
    column: &'static str,
    account: AccountId,
    row: i64,
) -> Aad<'static> {
    Aad {
        account: account.0,
        table: aad_table,
        column,
        row,
    }
}

/// Every value of one column that belongs to an account: (rowid, account, value).
fn values(
    conn: &Connection,
    table: &str,
    owner: &str,
    column: &str,
) -> Result<Vec<(i64, AccountId, String)>> {
    let sql = format!(
        "SELECT rowid, {owner}, {column} FROM {table} WHERE {owner} IS NOT NULL AND {column} != ''"
    );
    Ok(conn
        .prepare(&sql)?
        .query_map([], |r| Ok((r.get(0)?, AccountId(r.get(1)?), r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

fn update(conn: &Connection, table: &str, column: &str, rowid: i64, value: &str) -> Result<()> {
    conn.prepare_cached(&format!(
        "UPDATE {table} SET {column} = ?2 WHERE rowid = ?1"
    ))?
    .execute(params![rowid, value])?;
    Ok(())
}

/// Seals the directory of a backup copy (never the live database). An account without a data key (deleted
/// while its rows were still being removed) gets values nothing can open.
pub fn seal(copy: &Connection, keyring: &Keyring) -> Result<()> {
    let tx = copy.unchecked_transaction()?;
    tx.execute_batch("DELETE FROM sessions; DELETE FROM one_time_tokens;")?;
    for &(table, owner, column, aad_table) in COLUMNS {
        for (rowid, account, value) in values(&tx, table, owner, column)? {
            if value.starts_with(PREFIX) {
                continue;
            }
            let sealed = match keyring.data_key(account) {
                Ok(key) => hex::encode(
                    key.seal(&place(aad_table, column, account, rowid), value.as_bytes())?,
                ),
                Err(Error::NotFound) => format!("destroyed:{rowid}"),
                Err(e) => return Err(e),
            };
            update(&tx, table, column, rowid, &format!("{PREFIX}{sealed}"))?;
        }
    }
    tx.execute(
        "INSERT INTO settings (name, value) VALUES (?1, x'01')
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [MARK],
    )?;
    tx.commit()?;
    Ok(())
}

/// Unseals a restored backup's directory, for the accounts that still have their data key. Returns how
/// many values stayed sealed (their accounts were deleted after the backup was made).
pub fn unseal(conn: &Connection, keyring: &Keyring) -> Result<u64> {
    if keys::setting(conn, MARK)?.is_none() {
        return Ok(0);
    }
    let tx = conn.unchecked_transaction()?;
    let mut still_sealed = 0;
    for &(table, owner, column, aad_table) in COLUMNS {
        for (rowid, account, value) in values(&tx, table, owner, column)? {
            let Some(sealed) = value.strip_prefix(PREFIX) else {
                continue;
            };
            let opened = match keyring.data_key(account) {
                Ok(key) => hex::decode(sealed)
                    .ok()
                    .and_then(|bytes| {
                        key.open(&place(aad_table, column, account, rowid), &bytes)
                            .ok()
                    })
                    .and_then(|plain| String::from_utf8(plain.to_vec()).ok()),
                Err(Error::NotFound) => None,
                Err(e) => return Err(e),
            };
            match opened {
                Some(plain) => update(&tx, table, column, rowid, &plain)?,
                None => still_sealed += 1,
            }
        }
    }
    tx.execute("DELETE FROM settings WHERE name = ?1", [MARK])?;
    tx.commit()?;
    Ok(still_sealed)
}
