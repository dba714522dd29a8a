//! The people directory in backups. What the platform keeps in the clear because it looks it up or lists it
//! (company names and details, people's names and email addresses, the activity log's details, addresses and
//! browsers) is sealed in a backup with the data key of the account it belongs to, so a backup made before an
//! account was deleted holds nothing readable of it once its key is destroyed. Sessions and one-time links
//! are left out of backups altogether (a restored backup must not bring old sign-ins back), and so are the
//! answers to Idempotency-Keys kept in the clear before they were sealed.
//!
//! A restored backup is unsealed at its first start, for the accounts whose key the keystore still has; the
//! others stay sealed.

use crate::crypto::{Aad, Key};
use crate::error::Result;
use crate::store::keys::{self, Keyring};
use crate::store::{AccountId, each_row};
use rusqlite::{Connection, OptionalExtension, params};

/// Set in a backup whose directory is sealed; cleared once a restored copy is unsealed.
const MARK: &str = "backup_directory_sealed";
const PREFIX: &str = "sealed:";

/// The tables and columns sealed in backups, with the column naming each row's account (rows without one
/// stay clear: operators and the platform's own entries) and the table name the seal is bound to.
const COLUMNS: &[(&str, &str, &[&str], &str)] = &[
    (
        "accounts",
        "id",
        &["company", "country", "phone"],
        "backup:accounts",
    ),
    ("users", "account_id", &["email", "name"], "backup:users"),
    (
        "activity_log",
        "account_id",
        &["detail", "ip", "user_agent"],
        "backup:activity_log",
    ),
    // What the business typed as labels and addresses.
    ("connections", "account_id", &["name"], "backup:connections"),
    ("api_keys", "account_id", &["name"], "backup:api_keys"),
    (
        "webhook_endpoints",
        "account_id",
        &["url", "description"],
        "backup:webhook_endpoints",
    ),
    (
        "templates",
        "account_id",
        &["components"],
        "backup:templates",
    ),
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

/// Calls `change` with every value of the sealed columns that belongs to an account, with the account's data
/// key (`None`: destroyed) and where the value is; what it returns replaces the value.
fn rewrite(
    conn: &Connection,
    keyring: &Keyring,
    mut change: impl FnMut(Option<&Key>, &Aad<'static>, &str) -> Result<Option<String>>,
) -> Result<()> {
    let each_column = COLUMNS
        .iter()
        .flat_map(|&(table, owner, columns, aad_table)| {
            columns
                .iter()
                .map(move |&column| (table, owner, column, aad_table))
        });
    for (table, owner, column, aad_table) in each_column {
        let select = format!(
            "SELECT rowid, {owner}, {column} FROM {table}
             WHERE rowid > ?1 AND {owner} IS NOT NULL AND {column} != '' ORDER BY rowid LIMIT ?2"
        );
        let update = format!("UPDATE {table} SET {column} = ?2 WHERE rowid = ?1");
        each_row(
            conn,
            &select,
            |r| Ok((AccountId(r.get(1)?), r.get::<_, String>(2)?)),
            |rowid, (account, value)| {
                let key = keyring.kept_data_key(account)?;
                let place = place(aad_table, column, account, rowid);
                if let Some(new) = change(key.as_deref(), &place, &value)? {
                    conn.prepare_cached(&update)?.execute(params![rowid, new])?;
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}

/// Seals the directory of a backup copy (never the live database). An account without a data key (deleted
/// while its rows were still being removed) gets values nothing can open.
pub fn seal(copy: &Connection, keyring: &Keyring) -> Result<()> {
    let tx = copy.unchecked_transaction()?;
    // Answers kept for an Idempotency-Key before they were sealed (at most a day old at the upgrade) name
    // the customer's number; a backup goes without them. An account being deleted keeps whom to confirm
    // to in the clear until it is done; in a backup it is told nothing (its key is already destroyed).
    tx.execute_batch(
        "DELETE FROM sessions; DELETE FROM one_time_tokens; DELETE FROM one_time_codes;
         DELETE FROM idempotency_keys WHERE sealed_response IS NULL AND response != '';
         UPDATE account_deletions SET company = '', owner_email = NULL, owner_locale = NULL;",
    )?;
    rewrite(&tx, keyring, |key, place, value| {
        if value.starts_with(PREFIX) {
            return Ok(None);
        }
        let sealed = match key {
            Some(key) => hex::encode(key.seal(place, value.as_bytes())?),
            None => format!("destroyed:{}", place.row),
        };
        Ok(Some(format!("{PREFIX}{sealed}")))
    })?;
    keys::set_setting(&tx, MARK, &[1])?;
    tx.commit()?;
    Ok(())
}

/// Whether `key` opens what this sealed copy holds of `account` (its company's name, sealed with the
/// account's data key when the backup was made). True when there is nothing sealed to try.
pub fn opens_with(conn: &Connection, account: AccountId, key: &Key) -> rusqlite::Result<bool> {
    let company: Option<String> = conn
        .query_row(
            "SELECT company FROM accounts WHERE id = ?1",
            [account.0],
            |r| r.get(0),
        )
        .optional()?;
    let Some(sealed) = company.as_deref().and_then(|c| c.strip_prefix(PREFIX)) else {
        return Ok(true);
    };
    let place = place("backup:accounts", "company", account, account.0);
    Ok(hex::decode(sealed)
        .ok()
        .is_some_and(|bytes| key.open(&place, &bytes).is_ok()))
}

/// Whether the directory of this copy is sealed (a backup not yet started on).
pub fn is_sealed(conn: &Connection) -> rusqlite::Result<bool> {
    Ok(keys::setting(conn, MARK)?.is_some())
}

/// Unseals a restored backup's directory, for the accounts that still have their data key. Returns how
/// many values stayed sealed (their accounts were deleted after the backup was made).
pub fn unseal(conn: &Connection, keyring: &Keyring) -> Result<u64> {
    if keys::setting(conn, MARK)?.is_none() {
        return Ok(0);
    }
    let tx = conn.unchecked_transaction()?;
    let mut still_sealed = 0;
    rewrite(&tx, keyring, |key, place, value| {
        let Some(sealed) = value.strip_prefix(PREFIX) else {
            return Ok(None);
        };
        let opened = key.and_then(|key| {
            let plain = key.open(place, &hex::decode(sealed).ok()?).ok()?;
            String::from_utf8(plain.to_vec()).ok()
        });
        if opened.is_none() {
            still_sealed += 1;
        }
        Ok(opened)
    })?;
    tx.execute("DELETE FROM settings WHERE name = ?1", [MARK])?;
    tx.commit()?;
    Ok(still_sealed)
}
