//! The personal export: what the platform holds about one person (any signed-in person's own download).

use super::{Doc, PERSONAL_SCHEMA, VERSION, activity_item, id};
use crate::error::{Error, Result};
use crate::store::keys::Keyring;
use crate::store::users::UserId;
use rusqlite::{Connection, params};
use serde_json::{Value, json};
use std::io::Write;

/// How the person signs in beyond the password: their mobile number and second steps (never a secret or a
/// code).
fn sign_in(conn: &Connection, keyring: &Keyring, user: UserId) -> Result<Value> {
    let Some(person) = crate::store::users::find(conn, user)? else {
        return Ok(Value::Null);
    };
    let phone = crate::store::two_step::phone(conn, keyring, &person)?;
    Ok(json!({
        "phone": phone.as_ref().map(|(number, _)| number),
        "phone_verified": phone.is_some_and(|(_, verified)| verified),
        "authenticator": person.two_step.authenticator,
        "sms": person.two_step.sms,
        "recovery_codes_left": crate::store::two_step::recovery_codes_left(conn, user)?,
    }))
}

/// Writes what the platform holds about one person: their user, the sessions they are signed in with
/// (`current` marks the one asking), what they did, what they agreed to. How many rows it holds.
pub fn write_personal(
    conn: &Connection,
    keyring: &Keyring,
    user: UserId,
    current_session: Option<&[u8]>,
    now: i64,
    out: &mut dyn Write,
) -> Result<u64> {
    let tx = conn.unchecked_transaction()?;
    let (me, account): (Value, Option<i64>) = tx
        .query_row(
            "SELECT id, role, email, name, locale, created_at, password_changed_at, account_id FROM users
             WHERE id = ?1",
            [user.0],
            |r| {
                Ok((
                    json!({
                        "id": id(r, 0)?, "role": r.get::<_, String>(1)?, "email": r.get::<_, String>(2)?,
                        "name": r.get::<_, String>(3)?, "locale": r.get::<_, String>(4)?,
                        "created_at": r.get::<_, i64>(5)?, "password_changed_at": r.get::<_, i64>(6)?,
                    }),
                    r.get(7)?,
                ))
            },
        )
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Error::NotFound,
            e => e.into(),
        })?;
    let account = match account {
        Some(account) => tx.query_row(
            "SELECT id, company FROM accounts WHERE id = ?1",
            [account],
            |r| Ok(json!({"id": id(r, 0)?, "company": r.get::<_, String>(1)?})),
        )?,
        None => Value::Null,
    };
    let mut progress = |_| {};
    let mut doc = Doc::begin(out, &mut progress)?;
    doc.field("schema", &json!(PERSONAL_SCHEMA))?;
    doc.field("version", &json!(VERSION))?;
    doc.field("exported_at", &json!(now))?;
    doc.field("user", &me)?;
    doc.field("account", &account)?;
    doc.field("sign_in", &sign_in(&tx, keyring, user)?)?;
    let current = current_session.map(<[u8]>::to_vec);
    doc.rows(
        &tx,
        "sessions",
        "SELECT id_hash, created_at, last_seen_at, ip, user_agent FROM sessions WHERE user_id = ?1
         ORDER BY created_at",
        [user.0],
        |r| {
            let hash: Vec<u8> = r.get(0)?;
            Ok(json!({
                "created_at": r.get::<_, i64>(1)?, "last_seen_at": r.get::<_, i64>(2)?,
                "ip": r.get::<_, String>(3)?, "user_agent": r.get::<_, String>(4)?,
                "current": current.as_deref() == Some(hash.as_slice()),
            }))
        },
    )?;
    doc.rows(
        &tx,
        "activity",
        "SELECT id, user_id, action, detail, ip, user_agent, created_at FROM activity_log
         WHERE user_id = ?1 ORDER BY created_at, id",
        params![user.0],
        activity_item,
    )?;
    doc.rows(
        &tx,
        "consents",
        "SELECT user_id, kind, version, given_at, withdrawn_at FROM consents WHERE user_id = ?1
         ORDER BY given_at, id",
        [user.0],
        |r| {
            Ok(json!({
                "user_id": id(r, 0)?, "kind": r.get::<_, String>(1)?, "version": r.get::<_, String>(2)?,
                "given_at": r.get::<_, i64>(3)?, "withdrawn_at": r.get::<_, Option<i64>>(4)?,
            }))
        },
    )?;
    let rows = doc.end()?;
    tx.finish()?;
    Ok(rows)
}
