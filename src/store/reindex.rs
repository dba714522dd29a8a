//! Moves the blind indexes of phone numbers (`messages.recipient_index`, `contacts.phone_index`) from a key
//! derived from the master key to one derived from each account's data key, once, when a database made
//! before that is opened. Numbers are read from their sealed copies; a contact whose number was never kept
//! is matched through the account's messages to the same number.

use super::keys::{self, Keyring};
use super::messages::{self, MessageId};
use super::{AccountId, contacts, each_row};
use crate::crypto::Aad;
use crate::error::Result;
use rusqlite::{Connection, params};
use std::collections::HashMap;

const MARK: &str = "phone_index_key";
const DATA_KEY: &[u8] = b"account data key";

/// What moving the indexes did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reindexed {
    pub messages: u64,
    pub contacts: u64,
    /// Rows left as they were: their account has no data key any more, or their number is unknown.
    pub skipped: u64,
}

/// Runs once per database, in one transaction, before the server takes requests.
pub fn run(conn: &Connection, keyring: &Keyring) -> Result<Reindexed> {
    if keys::setting(conn, MARK)?.as_deref() == Some(DATA_KEY) {
        return Ok(Reindexed::default());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = reindex(conn, keyring).and_then(|done| {
        keys::set_setting(conn, MARK, DATA_KEY)?;
        Ok(done)
    });
    match result {
        Ok(done) => {
            conn.execute_batch("COMMIT")?;
            if done != Reindexed::default() {
                tracing::info!(
                    ?done,
                    "phone number indexes now keyed by each account's data key"
                );
            }
            Ok(done)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// A row holding a number: its sealed copy (if kept) and its index.
struct Row {
    id: i64,
    account: AccountId,
    sealed: Option<Vec<u8>>,
    index: Vec<u8>,
}

impl Row {
    /// From a row of id, account, sealed number and index.
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok(Row {
            id: r.get(0)?,
            account: AccountId(r.get(1)?),
            sealed: r.get(2)?,
            index: r.get(3)?,
        })
    }
}

/// The number a row holds, opened with its account's key, and its new index; `None` when the account has
/// no key any more or the sealed number does not open.
fn number(keyring: &Keyring, row: &Row, place: Aad<'_>) -> Result<Option<(String, Vec<u8>)>> {
    let Some(sealed) = &row.sealed else {
        return Ok(None);
    };
    let Some(key) = keyring.kept_data_key(row.account)? else {
        return Ok(None);
    };
    let digits = key
        .open(&place, sealed)
        .ok()
        .and_then(|plain| String::from_utf8(plain.to_vec()).ok());
    Ok(digits.map(|digits| {
        let index = keys::phone_index_with(&key, &digits);
        (digits, index)
    }))
}

fn reindex(conn: &Connection, keyring: &Keyring) -> Result<Reindexed> {
    let mut done = Reindexed::default();
    // Old index -> new index, per account, for contacts that never had their number sealed: one entry per
    // distinct number (about 100 bytes), the one thing of this run that grows with the database.
    let mut moved: HashMap<(AccountId, Vec<u8>), Vec<u8>> = HashMap::new();
    each_row(
        conn,
        "SELECT id, account_id, recipient, recipient_index FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2",
        Row::read,
        |_, row| {
            let place = messages::recipient_place(row.account, MessageId(row.id));
            let Some((digits, index)) = number(keyring, &row, place)? else {
                done.skipped += 1;
                return Ok(());
            };
            conn.prepare_cached("UPDATE messages SET recipient_index = ?2 WHERE id = ?1")?
                .execute(params![row.id, index])?;
            let old = keyring.master_phone_index(row.account, &digits);
            moved.insert((row.account, old), index);
            done.messages += 1;
            Ok(())
        },
    )?;
    each_row(
        conn,
        "SELECT id, account_id, phone, phone_index FROM contacts WHERE id > ?1 ORDER BY id LIMIT ?2",
        Row::read,
        |_, row| {
            let place = contacts::place(row.account, row.id, "phone");
            let index = match number(keyring, &row, place)? {
                Some((_, index)) => Some(index),
                None => moved.get(&(row.account, row.index.clone())).cloned(),
            };
            let Some(index) = index else {
                done.skipped += 1;
                return Ok(());
            };
            conn.prepare_cached("UPDATE contacts SET phone_index = ?2 WHERE id = ?1")?
                .execute(params![row.id, index])?;
            done.contacts += 1;
            Ok(())
        },
    )?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::accounts::{self, NewAccount};
    use crate::store::keystore::KeystoreFiles;
    use crate::store::{Db, StoreOptions};

    #[test]
    fn indexes_under_the_master_key_move_to_the_data_key_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            &dir.path().join("whatsapi.db"),
            &StoreOptions::default(),
            crate::crypto::Key::master([3; 32]),
            &KeystoreFiles::beside(&dir.path().join("master.key")),
        )
        .unwrap();
        let keys = db.clone();
        let account = db
            .write(move |conn| {
                let new = NewAccount {
                    company: "Shop".into(),
                    ..Default::default()
                };
                accounts::create(conn, keys.keyring(), &new)
            })
            .unwrap();
        let keyring = db.keyring();
        let key = keyring.data_key(account).unwrap();
        let (to, other) = ("15550001111", "15550002222");
        let old = |digits: &str| keyring.master_phone_index(account, digits);
        let recipient = key
            .seal(
                &messages::recipient_place(account, MessageId(10)),
                to.as_bytes(),
            )
            .unwrap();
        let phone = key
            .seal(&contacts::place(account, 21, "phone"), other.as_bytes())
            .unwrap();
        let conn =
            crate::store::connect(db.path(), crate::config::Synchronous::Normal, false).unwrap();
        conn.execute(
            "INSERT INTO connections (id, account_id, kind, name, phone_number_id, waba_id, access_token,
                 access_token_last4, app_secret, app_secret_last4, verify_token, webhook_key, graph_version,
                 graph_base_url, created_at, updated_at)
             VALUES (1, ?1, 'sandbox', 'n', 'p', 'w', x'00', '0000', x'00', '0000', x'00', 'k', 'v21.0', 'http://x', 0, 0)",
            [account.0],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO messages (id, account_id, connection_id, recipient, recipient_index, type, body, status,
                 next_attempt_at, created_at)
             VALUES (10, ?1, 1, ?2, ?3, 'text', x'00', 'sent', 0, 0)",
            params![account.0, recipient, old(to)],
        )
        .unwrap();
        // One contact with its number sealed, one from before numbers were kept (found through the message).
        conn.execute(
            "INSERT INTO contacts (id, account_id, connection_id, phone_index, last_inbound_at, phone)
             VALUES (20, ?1, 1, ?2, 0, NULL), (21, ?1, 1, ?3, 0, ?4)",
            params![account.0, old(to), old(other), phone],
        )
        .unwrap();
        conn.execute("DELETE FROM settings WHERE name = ?1", [MARK])
            .unwrap();

        let done = run(&conn, keyring).unwrap();
        assert_eq!(
            done,
            Reindexed {
                messages: 1,
                contacts: 2,
                skipped: 0
            }
        );
        let index_of = |sql: &str| -> Vec<u8> { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        let new = |digits: &str| keyring.phone_index(account, digits).unwrap();
        assert_eq!(
            index_of("SELECT recipient_index FROM messages WHERE id = 10"),
            new(to)
        );
        assert_eq!(
            index_of("SELECT phone_index FROM contacts WHERE id = 20"),
            new(to)
        );
        assert_eq!(
            index_of("SELECT phone_index FROM contacts WHERE id = 21"),
            new(other)
        );
        assert_ne!(new(to), old(to));
        // Once only.
        assert_eq!(run(&conn, keyring).unwrap(), Reindexed::default());
    }
}
