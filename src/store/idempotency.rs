//! The first answer to each `Idempotency-Key`: a request sent again with the same key and the same body gets
//! that answer again (sealed, as it names the customer's number); the same key with another body is refused.
//! The request is kept as a keyed digest of its canonical JSON, never in the clear.

use super::AccountId;
use super::keys::Keyring;
use super::messages::MessageId;
use super::retention::IDEMPOTENCY_MS;
use crate::crypto::{Aad, constant_time_eq};
use crate::error::{Error, Result};
use hmac::{Hmac, KeyInit, Mac};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use sha2::Sha256;

/// Where the first answer to an Idempotency-Key is sealed: it names the customer's number.
fn answer_place(account: AccountId, message: MessageId) -> Aad<'static> {
    Aad {
        account: account.0,
        table: "idempotency_keys",
        column: "response",
        row: message.0,
    }
}

pub fn seal_answer(
    keyring: &Keyring,
    account: AccountId,
    message: MessageId,
    response: &str,
) -> Result<Vec<u8>> {
    Ok(keyring
        .data_key(account)?
        .seal(&answer_place(account, message), response.as_bytes())?)
}

/// A keyed digest of what a request asks for, whatever the spelling of its JSON: object keys sorted, no
/// whitespace. Keyed with a subkey of the account's data key, like the recipient index: a plain hash of a
/// short text and a phone number could be confirmed by guessing.
pub fn request_digest(keyring: &Keyring, account: AccountId, request: &Value) -> Result<Vec<u8>> {
    let data_key = keyring.data_key(account)?;
    let mut subkey =
        Hmac::<Sha256>::new_from_slice(data_key.expose()).expect("any key length works");
    subkey.update(b"whatsapi/idempotency request");
    let mut mac = Hmac::<Sha256>::new_from_slice(&subkey.finalize().into_bytes())
        .expect("any key length works");
    let mut canonical = Vec::new();
    write_canonical(request, &mut canonical);
    mac.update(&canonical);
    Ok(mac.finalize().into_bytes().to_vec())
}

/// Compact JSON with every object's keys in byte order, so equal requests give equal bytes.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (name, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(name, out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

fn write_scalar(value: &impl serde::Serialize, out: &mut Vec<u8>) {
    // Writing a string, number, bool or null into memory cannot fail.
    let _ = serde_json::to_writer(out, value);
}

/// The first answer given to an Idempotency-Key, if any (keys are kept 24 hours). The key reused for a
/// request with another digest is refused, naming the message it was first used for; keys kept before
/// digests were stored answer whatever comes.
pub fn idempotent_answer(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    key: &str,
    digest: &[u8],
    now: i64,
) -> Result<Option<(u16, String)>> {
    // status, the answer in the clear (kept so before answers were sealed), sealed, message, digest
    type Kept = (i64, String, Option<Vec<u8>>, Option<i64>, Option<Vec<u8>>);
    let found: Option<Kept> = conn
        .prepare_cached(
            "SELECT status, response, sealed_response, message_id, request_digest FROM idempotency_keys
             WHERE account_id = ?1 AND key = ?2 AND created_at > ?3",
        )?
        .query_row(params![account.0, key, now - IDEMPOTENCY_MS], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((status, clear, sealed, message, first_digest)) = found else {
        return Ok(None);
    };
    if first_digest.is_some_and(|first| !constant_time_eq(&first, digest)) {
        return Err(Error::IdempotencyKeyReused {
            message_id: message.map(|id| id.to_string()),
        });
    }
    let response = match (sealed, message) {
        (Some(sealed), Some(message)) => {
            let plain = keyring
                .data_key(account)?
                .open(&answer_place(account, MessageId(message)), &sealed)?;
            String::from_utf8_lossy(&plain).into_owned()
        }
        _ => clear,
    };
    Ok(Some((status as u16, response)))
}

/// What an Idempotency-Key keeps: the first answer (sealed with `seal_answer`) and the digest of the
/// request it answered.
pub struct KeptAnswer<'a> {
    pub key: &'a str,
    pub message: MessageId,
    pub status: u16,
    pub sealed_response: &'a [u8],
    pub request_digest: &'a [u8],
}

/// Keeps the first answer to an Idempotency-Key (replacing one that expired).
pub fn remember_answer(
    conn: &Connection,
    account: AccountId,
    kept: &KeptAnswer<'_>,
    now: i64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO idempotency_keys (account_id, key, message_id, status, response, sealed_response,
                                       request_digest, created_at)
         VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, ?7)
         ON CONFLICT (account_id, key) DO UPDATE SET message_id = ?3, status = ?4, response = '',
                                                   sealed_response = ?5, request_digest = ?6,
                                                   created_at = ?7",
        params![
            account.0,
            kept.key,
            kept.message.0,
            kept.status,
            kept.sealed_response,
            kept.request_digest,
            now
        ],
    )?;
    Ok(())
}
