//! Erasing one end customer of an account: everything sent to or received from one number.

use super::{Counts, id_list, ids};
use crate::error::Result;
use crate::store::retention::{BATCH, delete_events, delete_in};
use crate::store::{AccountId, Db};
use rusqlite::params;
use std::collections::BTreeSet;

/// Erases one end customer of an account (their number's blind index, `Keyring::phone_index`), on every
/// number of the account: the messages sent to them with their statuses, idempotency answers and webhook
/// events (deliveries and attempts too); what they wrote, with its events; their contact (number and
/// profile name); and Meta's raw webhook payloads that concerned only them. A payload that also carried
/// another customer's message or status stays until retention deletes it (`retention.message_days`), as do
/// statuses Meta reports later for the deleted messages (they name only Meta's message id). Blocking; one
/// short write per batch.
pub fn erase_customer(db: &Db, account: AccountId, index: Vec<u8>) -> Result<Counts> {
    let mut counts = Counts::default();
    let mut payloads = BTreeSet::new();
    loop {
        let index = index.clone();
        let (batch, found) = db.write(move |conn| {
            let mut counts = Counts::default();
            let messages = ids(
                conn,
                &format!(
                    "SELECT id FROM messages WHERE account_id = ?1 AND recipient_index = ?2 LIMIT {BATCH}"
                ),
                params![account.0, index],
            )?;
            let list = id_list(&messages);
            let found = ids(
                conn,
                "SELECT DISTINCT payload_id FROM message_statuses
                 WHERE message_id IN (SELECT value FROM json_each(?1)) AND payload_id IS NOT NULL",
                [&list],
            )?;
            delete_events(conn, "message_id", &list, &mut counts)?;
            for table in ["message_statuses", "idempotency_keys"] {
                counts.add(table, delete_in(conn, table, "message_id", &list)?);
            }
            counts.add("messages", delete_in(conn, "messages", "id", &list)?);
            Ok((counts, (found, messages.len())))
        })?;
        merge(&mut counts, &batch);
        payloads.extend(found.0);
        if found.1 < BATCH {
            break;
        }
    }
    let contacts = {
        let index = index.clone();
        db.read(move |conn| {
            ids(
                conn,
                "SELECT id FROM contacts WHERE account_id = ?1 AND phone_index = ?2",
                params![account.0, index],
            )
        })?
    };
    for contact in contacts {
        loop {
            let (batch, (found, n)) = db.write(move |conn| {
                let mut counts = Counts::default();
                let written = ids(
                    conn,
                    &format!(
                        "SELECT id FROM inbound_messages WHERE contact_id = ?1 AND account_id = ?2 LIMIT {BATCH}"
                    ),
                    params![contact, account.0],
                )?;
                let list = id_list(&written);
                let found = ids(
                    conn,
                    "SELECT DISTINCT payload_id FROM inbound_messages
                     WHERE id IN (SELECT value FROM json_each(?1)) AND payload_id IS NOT NULL",
                    [&list],
                )?;
                delete_events(conn, "inbound_id", &list, &mut counts)?;
                counts.add(
                    "inbound_messages",
                    delete_in(conn, "inbound_messages", "id", &list)?,
                );
                if written.len() < BATCH {
                    counts.add(
                        "contacts",
                        conn.execute(
                            "DELETE FROM contacts WHERE id = ?1 AND account_id = ?2",
                            params![contact, account.0],
                        )? as u64,
                    );
                }
                Ok((counts, (found, written.len())))
            })?;
            merge(&mut counts, &batch);
            payloads.extend(found);
            if n < BATCH {
                break;
            }
        }
    }
    let payloads: Vec<i64> = payloads.into_iter().collect();
    for chunk in payloads.chunks(BATCH) {
        let list = id_list(chunk);
        let n = db.write(move |conn| {
            Ok(conn
                .prepare_cached(
                    "DELETE FROM webhook_payloads AS p
                     WHERE p.account_id = ?1 AND p.id IN (SELECT value FROM json_each(?2))
                       AND NOT EXISTS (SELECT 1 FROM message_statuses s WHERE s.payload_id = p.id)
                       AND NOT EXISTS (SELECT 1 FROM inbound_messages i WHERE i.payload_id = p.id)",
                )?
                .execute(params![account.0, list])? as u64)
        })?;
        counts.add("webhook_payloads", n);
    }
    Ok(counts)
}

fn merge(into: &mut Counts, from: &Counts) {
    for (table, n) in from.iter() {
        into.add(table, n);
    }
}
