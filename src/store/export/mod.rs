//! The rights of access and portability: everything an account holds, or everything about one person,
//! as one JSON document with a versioned schema (`assets/export-schema.json`).
//!
//! The document is written row by row to any `std::io::Write` as it is read, so an account of any size is
//! exported without holding it in memory. Sealed fields (numbers, message bodies) are opened with the
//! account's data key; secrets are never written: no password hash, access token, app secret, verify token,
//! webhook URL key, webhook signing secret, API key or session id. Everything is read in one read
//! transaction on a connection of its own, so the document is one consistent moment and the server's
//! reader pool is not held by a long export.
//!
//! Ids are strings (64-bit ids lose precision in JavaScript, as in the API); times are milliseconds since
//! the Unix epoch, UTC.

use super::keys::Keyring;
use super::states::{MessageStatus, sql_list};
use super::{AccountId, Db, contacts, inbound, messages};
use crate::crypto::Key;
use crate::error::{Error, Result};
use rusqlite::{Connection, Row};
use serde_json::{Value, json};
use std::io::Write;

mod download;
mod personal;

pub use download::{ChannelWriter, file_name};
pub use personal::write_personal;

/// `schema` of an account's export.
pub const ACCOUNT_SCHEMA: &str = "whatsapi-export";
/// `schema` of one person's export.
pub const PERSONAL_SCHEMA: &str = "whatsapi-personal-export";
/// Raised when a field is removed or changes meaning; adding a field keeps the version.
pub const VERSION: u32 = 1;

/// The JSON Schema both documents follow, as shipped.
pub const JSON_SCHEMA: &str = include_str!("../../../assets/export-schema.json");

/// A connection of its own, for reading: a long export holds none of the server's readers.
pub fn open_reader(db: &Db) -> Result<Connection> {
    let conn = super::connect(db.path(), crate::config::Synchronous::Full, false)?;
    conn.execute_batch("PRAGMA query_only = ON;")?;
    Ok(conn)
}

fn io(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Internal(anyhow::Error::new(e).context("writing the export"))
}

/// A JSON object written as it goes: fields, and arrays item by item (one item per line).
struct Doc<'a> {
    out: &'a mut dyn Write,
    progress: &'a mut dyn FnMut(u64),
    rows: u64,
    fields: usize,
    items: usize,
}

impl<'a> Doc<'a> {
    fn begin(out: &'a mut dyn Write, progress: &'a mut dyn FnMut(u64)) -> Result<Doc<'a>> {
        out.write_all(b"{").map_err(io)?;
        Ok(Doc {
            out,
            progress,
            rows: 0,
            fields: 0,
            items: 0,
        })
    }

    fn name(&mut self, name: &str) -> Result<()> {
        let comma = if self.fields == 0 { "" } else { "," };
        self.fields += 1;
        write!(self.out, "{comma}\n{}:", Value::from(name)).map_err(io)
    }

    fn field(&mut self, name: &str, value: &Value) -> Result<()> {
        self.name(name)?;
        serde_json::to_writer(&mut *self.out, value).map_err(io)
    }

    fn open(&mut self, name: &str) -> Result<()> {
        self.name(name)?;
        self.items = 0;
        self.out.write_all(b"[").map_err(io)
    }

    fn item(&mut self, value: &Value) -> Result<()> {
        let comma = if self.items == 0 { "" } else { "," };
        self.items += 1;
        writeln!(self.out, "{comma}").map_err(io)?;
        serde_json::to_writer(&mut *self.out, value).map_err(io)?;
        self.rows += 1;
        (self.progress)(self.rows);
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        self.out.write_all(b"]").map_err(io)
    }

    /// Writes every row `query` returns (bound to `params`) as one item of the array `name`.
    fn rows<P: rusqlite::Params>(
        &mut self,
        conn: &Connection,
        name: &str,
        query: &str,
        params: P,
        mut item: impl FnMut(&Row<'_>) -> Result<Value>,
    ) -> Result<()> {
        self.open(name)?;
        let mut stmt = conn.prepare(query)?;
        let mut rows = stmt.query(params)?;
        while let Some(row) = rows.next()? {
            let value = item(row)?;
            self.item(&value)?;
        }
        self.close()
    }

    fn end(self) -> Result<u64> {
        self.out.write_all(b"\n}\n").map_err(io)?;
        self.out.flush().map_err(io)?;
        Ok(self.rows)
    }
}

fn id(row: &Row<'_>, index: usize) -> rusqlite::Result<Value> {
    Ok(match row.get::<_, Option<i64>>(index)? {
        Some(id) => Value::String(id.to_string()),
        None => Value::Null,
    })
}

fn text(key: &Key, place: &crate::crypto::Aad<'_>, sealed: Option<Vec<u8>>) -> Result<Value> {
    match sealed {
        Some(sealed) => Ok(Value::String(
            String::from_utf8_lossy(&key.open(place, &sealed)?).into_owned(),
        )),
        None => Ok(Value::Null),
    }
}

fn json_body(key: &Key, place: &crate::crypto::Aad<'_>, sealed: &[u8]) -> Result<Value> {
    Ok(serde_json::from_slice(&key.open(place, sealed)?).unwrap_or(Value::Null))
}

fn error(code: Option<i64>, title: Option<String>, details: Option<String>) -> Value {
    match code {
        Some(code) => json!({"code": code, "title": title, "details": details}),
        None => Value::Null,
    }
}

/// Writes the whole account as one document; how many rows (array items) it holds. `progress` hears the
/// running count after each row.
pub fn write_account(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    now: i64,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    let tx = conn.unchecked_transaction()?;
    let a = account.0;
    let details = tx
        .query_row(
            // The plan is the subscription's (the account row's own column is no longer kept up to date).
            "SELECT a.id, a.company, a.country, a.phone, s.plan, a.status, a.created_at
             FROM accounts a JOIN subscriptions s ON s.account_id = a.id WHERE a.id = ?1",
            [a],
            |r| {
                Ok(json!({
                    "id": id(r, 0)?, "company": r.get::<_, String>(1)?, "country": r.get::<_, String>(2)?,
                    "phone": r.get::<_, String>(3)?, "plan": r.get::<_, String>(4)?,
                    "status": r.get::<_, String>(5)?, "created_at": r.get::<_, i64>(6)?,
                }))
            },
        )
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Error::NotFound,
            e => e.into(),
        })?;
    let key = keyring.data_key(account)?;
    let mut doc = Doc::begin(out, progress)?;
    doc.field("schema", &json!(ACCOUNT_SCHEMA))?;
    doc.field("version", &json!(VERSION))?;
    doc.field("exported_at", &json!(now))?;
    doc.field("account", &details)?;
    doc.field("subscription", &subscription(&tx, account)?)?;
    doc.rows(
        &tx,
        "subscription_changes",
        "SELECT at, plan, status, by FROM subscription_changes WHERE account_id = ?1 ORDER BY at, id",
        [a],
        |r| {
            Ok(json!({
                "at": r.get::<_, i64>(0)?, "plan": r.get::<_, String>(1)?,
                "status": r.get::<_, String>(2)?, "by": r.get::<_, String>(3)?,
            }))
        },
    )?;
    doc.rows(
        &tx,
        "plan_usage",
        "SELECT month, messages FROM usage_months WHERE account_id = ?1 ORDER BY month",
        [a],
        |r| Ok(json!({"month": r.get::<_, String>(0)?, "messages": r.get::<_, i64>(1)?})),
    )?;
    doc.rows(
        &tx,
        "daily_usage",
        "SELECT date(day * 86400, 'unixepoch'), event, connection_id, api_key_id, route, class, kind,
                pricing, error_code, count
         FROM usage_daily WHERE account_id = ?1 ORDER BY day, event",
        [a],
        |r| {
            Ok(json!({
                "day": r.get::<_, String>(0)?, "event": r.get::<_, String>(1)?,
                "connection_id": r.get::<_, i64>(2)?, "api_key_id": r.get::<_, i64>(3)?,
                "route": r.get::<_, String>(4)?, "class": r.get::<_, String>(5)?,
                "type": r.get::<_, String>(6)?, "pricing": r.get::<_, String>(7)?,
                "error_code": r.get::<_, i64>(8)?, "count": r.get::<_, i64>(9)?,
            }))
        },
    )?;
    doc.rows(
        &tx,
        "members",
        "SELECT id, role, email, name, locale, created_at, password_changed_at FROM users
         WHERE account_id = ?1 ORDER BY id",
        [a],
        |r| {
            Ok(json!({
                "id": id(r, 0)?, "role": r.get::<_, String>(1)?, "email": r.get::<_, String>(2)?,
                "name": r.get::<_, String>(3)?, "locale": r.get::<_, String>(4)?,
                "created_at": r.get::<_, i64>(5)?, "password_changed_at": r.get::<_, i64>(6)?,
            }))
        },
    )?;
    doc.rows(
        &tx,
        "api_keys",
        "SELECT id, name, last4, created_by, created_at, last_used_at, revoked_at FROM api_keys
         WHERE account_id = ?1 ORDER BY id",
        [a],
        |r| {
            Ok(json!({
                "id": id(r, 0)?, "name": r.get::<_, String>(1)?, "last4": r.get::<_, String>(2)?,
                "created_by": id(r, 3)?, "created_at": r.get::<_, i64>(4)?,
                "last_used_at": r.get::<_, Option<i64>>(5)?, "revoked_at": r.get::<_, Option<i64>>(6)?,
            }))
        },
    )?;
    doc.rows(
        &tx,
        "connections",
        "SELECT id, kind, name, phone_number_id, waba_id, access_token_last4, app_secret_last4, graph_version,
                graph_base_url, throughput_mps, enforce_window, state, state_detail, quality_rating,
                messaging_limit, account_notice, meta_updated_at, templates_synced_at, created_at, updated_at
         FROM connections WHERE account_id = ?1 ORDER BY id",
        [a],
        |r| {
            Ok(json!({
                "id": id(r, 0)?, "kind": r.get::<_, String>(1)?, "name": r.get::<_, String>(2)?,
                "phone_number_id": r.get::<_, String>(3)?, "waba_id": r.get::<_, String>(4)?,
                "access_token_last4": r.get::<_, String>(5)?, "app_secret_last4": r.get::<_, String>(6)?,
                "graph_version": r.get::<_, String>(7)?, "graph_base_url": r.get::<_, String>(8)?,
                "throughput_mps": r.get::<_, i64>(9)?, "enforce_window": r.get::<_, bool>(10)?,
                "state": r.get::<_, String>(11)?, "state_detail": r.get::<_, String>(12)?,
                "quality_rating": r.get::<_, Option<String>>(13)?,
                "messaging_limit": r.get::<_, Option<String>>(14)?,
                "account_notice": r.get::<_, Option<String>>(15)?,
                "meta_updated_at": r.get::<_, Option<i64>>(16)?,
                "templates_synced_at": r.get::<_, Option<i64>>(17)?,
                "created_at": r.get::<_, i64>(18)?, "updated_at": r.get::<_, i64>(19)?,
            }))
        },
    )?;
    doc.rows(
        &tx,
        "templates",
        "SELECT id, connection_id, name, language, category, status, body_params, header_params, components,
                synced_at
         FROM templates WHERE account_id = ?1 ORDER BY id",
        [a],
        |r| {
            let components: String = r.get(8)?;
            Ok(json!({
                "id": id(r, 0)?, "connection_id": id(r, 1)?, "name": r.get::<_, String>(2)?,
                "language": r.get::<_, String>(3)?, "category": r.get::<_, String>(4)?,
                "status": r.get::<_, String>(5)?, "body_params": r.get::<_, i64>(6)?,
                "header_params": r.get::<_, i64>(7)?,
                "components": serde_json::from_str::<Value>(&components).unwrap_or(Value::Null),
                "synced_at": r.get::<_, i64>(9)?,
            }))
        },
    )?;
    doc.rows(
        &tx,
        "contacts",
        "SELECT id, connection_id, phone, profile_name, last_inbound_at, last_message_at, name,
                opted_out_at, opted_out_by,
                (SELECT json_group_array(tag) FROM (SELECT tag FROM contact_tags t
                                                    WHERE t.contact_id = contacts.id ORDER BY tag))
         FROM contacts WHERE account_id = ?1 ORDER BY id",
        [a],
        |r| {
            let contact: i64 = r.get(0)?;
            Ok(json!({
                "id": id(r, 0)?, "connection_id": id(r, 1)?,
                "phone": text(&key, &contacts::place(account, contact, "phone"), r.get(2)?)?,
                "profile_name": text(&key, &contacts::place(account, contact, "profile_name"), r.get(3)?)?,
                "last_inbound_at": r.get::<_, i64>(4)?,
                "last_message_at": r.get::<_, Option<i64>>(5)?,
                "name": text(&key, &contacts::place(account, contact, "name"), r.get(6)?)?,
                "opted_out_at": r.get::<_, Option<i64>>(7)?,
                "opted_out_by": r.get::<_, Option<String>>(8)?,
                "tags": serde_json::from_str::<Value>(&r.get::<_, String>(9)?).unwrap_or(json!([])),
            }))
        },
    )?;
    let mut statuses = tx.prepare(
        "SELECT status, at, error_code, error_title, error_details, received_at FROM message_statuses
         WHERE message_id = ?1 ORDER BY at, id",
    )?;
    doc.rows(
        &tx,
        "messages",
        "SELECT id, connection_id, recipient, type, body, status, wamid, attempts, error_code, error_title,
                error_details, created_at, sent_at, delivered_at, read_at, failed_at
         FROM messages WHERE account_id = ?1 ORDER BY id",
        [a],
        |r| {
            let message = messages::MessageId(r.get(0)?);
            let to = text(
                &key,
                &messages::recipient_place(account, message),
                r.get(2)?,
            )?;
            let body: Vec<u8> = r.get(4)?;
            let kind: String = r.get(3)?;
            let body = json_body(&key, &messages::body_place(account, message), &body)?;
            let events = statuses
                .query_map([message.0], |s| {
                    Ok(json!({
                        "status": s.get::<_, String>(0)?, "at": s.get::<_, i64>(1)?,
                        "error": error(s.get(2)?, s.get(3)?, s.get(4)?),
                        "received_at": s.get::<_, i64>(5)?,
                    }))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(json!({
                "id": id(r, 0)?, "connection_id": id(r, 1)?,
                "to": to.as_str().map_or(Value::Null, |to| json!(format!("+{to}"))),
                "type": kind, "message": body.get(&kind).cloned().unwrap_or(Value::Null),
                "status": r.get::<_, String>(5)?, "wamid": r.get::<_, Option<String>>(6)?,
                "attempts": r.get::<_, i64>(7)?,
                "error": error(r.get(8)?, r.get(9)?, r.get(10)?),
                "created_at": r.get::<_, i64>(11)?, "sent_at": r.get::<_, Option<i64>>(12)?,
                "delivered_at": r.get::<_, Option<i64>>(13)?, "read_at": r.get::<_, Option<i64>>(14)?,
                "failed_at": r.get::<_, Option<i64>>(15)?,
                "status_events": events,
            }))
        },
    )?;
    doc.rows(
        &tx,
        "inbound_messages",
        "SELECT id, connection_id, contact_id, meta_id, type, body, sent_at, received_at, seen_at
         FROM inbound_messages WHERE account_id = ?1 ORDER BY id",
        [a],
        |r| {
            let message: i64 = r.get(0)?;
            let body: Vec<u8> = r.get(5)?;
            Ok(json!({
                "id": id(r, 0)?, "connection_id": id(r, 1)?, "contact_id": id(r, 2)?,
                "wamid": r.get::<_, String>(3)?, "type": r.get::<_, String>(4)?,
                "message": json_body(&key, &inbound::body_place(account, message), &body)?,
                "sent_at": r.get::<_, i64>(6)?, "received_at": r.get::<_, i64>(7)?,
                "seen_at": r.get::<_, Option<i64>>(8)?,
            }))
        },
    )?;
    let usage = format!(
        "WITH sent AS (
             SELECT strftime('%Y-%m', created_at / 1000, 'unixepoch') AS month, count(*) AS messages,
                    sum(status IN {sent}) AS sent,
                    sum(status IN {delivered}) AS delivered, sum(status = {read}) AS read,
                    sum(status = {failed}) AS failed
             FROM messages WHERE account_id = ?1 GROUP BY month),
         received AS (
             SELECT strftime('%Y-%m', received_at / 1000, 'unixepoch') AS month, count(*) AS inbound
             FROM inbound_messages WHERE account_id = ?1 GROUP BY month),
         months AS (SELECT month FROM sent UNION SELECT month FROM received)
         SELECT m.month, coalesce(s.messages, 0), coalesce(s.sent, 0), coalesce(s.delivered, 0),
                coalesce(s.read, 0), coalesce(s.failed, 0), coalesce(r.inbound, 0)
         FROM months m LEFT JOIN sent s ON s.month = m.month LEFT JOIN received r ON r.month = m.month
         ORDER BY m.month",
        sent = sql_list(
            &[MessageStatus::Sent, MessageStatus::Delivered, MessageStatus::Read],
            MessageStatus::sql
        ),
        delivered = sql_list(
            &[MessageStatus::Delivered, MessageStatus::Read],
            MessageStatus::sql
        ),
        read = MessageStatus::Read.sql(),
        failed = MessageStatus::Failed.sql(),
    );
    doc.rows(&tx, "usage", &usage, [a], |r| {
        Ok(json!({
            "month": r.get::<_, String>(0)?, "messages": r.get::<_, i64>(1)?,
            "sent": r.get::<_, i64>(2)?, "delivered": r.get::<_, i64>(3)?,
            "read": r.get::<_, i64>(4)?, "failed": r.get::<_, i64>(5)?,
            "inbound": r.get::<_, i64>(6)?,
        }))
    })?;
    doc.rows(
        &tx,
        "activity",
        "SELECT id, user_id, action, detail, ip, user_agent, created_at FROM activity_log
         WHERE account_id = ?1 ORDER BY created_at, id",
        [a],
        activity_item,
    )?;
    doc.rows(
        &tx,
        "consents",
        "SELECT c.user_id, c.kind, c.version, c.given_at, c.withdrawn_at FROM consents c
         JOIN users u ON u.id = c.user_id WHERE u.account_id = ?1 ORDER BY c.given_at, c.id",
        [a],
        |r| {
            Ok(json!({
                "user_id": id(r, 0)?, "kind": r.get::<_, String>(1)?, "version": r.get::<_, String>(2)?,
                "given_at": r.get::<_, i64>(3)?, "withdrawn_at": r.get::<_, Option<i64>>(4)?,
            }))
        },
    )?;
    doc.rows(
        &tx,
        "webhook_endpoints",
        "SELECT id, url, description, event_types, paused_at, pause_reason, created_at, updated_at
         FROM webhook_endpoints WHERE account_id = ?1 ORDER BY id",
        [a],
        |r| {
            let types: String = r.get(3)?;
            Ok(json!({
                "id": id(r, 0)?, "url": r.get::<_, String>(1)?, "description": r.get::<_, String>(2)?,
                "event_types": types.split(',').filter(|t| !t.is_empty()).collect::<Vec<_>>(),
                "paused_at": r.get::<_, Option<i64>>(4)?, "pause_reason": r.get::<_, String>(5)?,
                "created_at": r.get::<_, i64>(6)?, "updated_at": r.get::<_, i64>(7)?,
            }))
        },
    )?;
    drop(statuses);
    let rows = doc.end()?;
    tx.finish()?;
    Ok(rows)
}

/// The account's plan and subscription as they are now (the privacy policy says both are kept).
fn subscription(conn: &Connection, account: AccountId) -> Result<Value> {
    let s = super::subscriptions::find(conn, account)?;
    Ok(json!({
        "plan": s.plan, "status": s.status.as_str(), "trial_ends_at": s.trial_ends_at,
        "past_due_since": s.past_due_since, "renews_at": s.renews_at, "changed_at": s.changed_at,
        "customer_ref": s.customer_ref, "subscription_ref": s.subscription_ref,
    }))
}

fn activity_item(r: &Row<'_>) -> Result<Value> {
    Ok(json!({
        "id": id(r, 0)?, "user_id": id(r, 1)?, "action": r.get::<_, String>(2)?,
        "detail": r.get::<_, String>(3)?, "ip": r.get::<_, String>(4)?,
        "user_agent": r.get::<_, String>(5)?, "created_at": r.get::<_, i64>(6)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_schema_names_both_documents() {
        let schema: Value = serde_json::from_str(JSON_SCHEMA).expect("valid JSON");
        let text = schema.to_string();
        assert!(text.contains(ACCOUNT_SCHEMA) && text.contains(PERSONAL_SCHEMA));
    }

    #[test]
    fn a_document_is_valid_json_item_by_item() {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        let mut progress = |n| seen.push(n);
        let mut doc = Doc::begin(&mut out, &mut progress).unwrap();
        doc.field("schema", &json!("x")).unwrap();
        doc.open("empty").unwrap();
        doc.close().unwrap();
        doc.open("rows").unwrap();
        doc.item(&json!({"a": 1})).unwrap();
        doc.item(&json!({"a": "\"quoted\""})).unwrap();
        doc.close().unwrap();
        assert_eq!(doc.end().unwrap(), 2);
        let parsed: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            parsed,
            json!({"schema": "x", "empty": [], "rows": [{"a": 1}, {"a": "\"quoted\""}]})
        );
        assert_eq!(seen, [1, 2]);
    }

    #[test]
    fn file_names_carry_the_day() {
        assert_eq!(
            file_name("account", 7, 1_767_225_600_000),
            "whatsapi-account-7-2026-01-01.json"
        );
    }
}
