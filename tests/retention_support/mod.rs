//! What tests/retention.rs and tests/retention_bytes.rs share: a server with no scheduled retention run
//! during a test, messages and conversations aged by moving their times back in the SQLite file, and a
//! scene with something of every kind past its limit next to what is not, with what derives from each.
#![allow(dead_code)]

use crate::common;
use crate::common::api::{Api, account, count};
use crate::common::{Install, Server};
use serde_json::json;

pub const DAY_MS: i64 = 86_400_000;

// Not every test file that includes this module uses them.
#[allow(unused_imports)]
pub use crate::common::{serve_quick as serve, wait_until};

pub fn customer_writes(api: &Api, connection: &str, from: &str, text: &str) {
    let (status, body) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/sandbox/inbound"),
        Some(json!({"from": from, "name": "Customer", "text": text})),
        &[],
    );
    assert_eq!(status, 200, "{body}");
}

/// Sends a text with an Idempotency-Key and waits until the sandbox reported it read; its id.
pub fn send_read(api: &Api, connection: &str, to: &str, key: &str) -> String {
    let (status, answer) = api.call(
        "POST",
        "/api/v1/messages",
        Some(
            json!({"connection_id": connection, "to": to, "type": "text",
                    "text": {"body": format!("Your order {key} is ready")}}),
        ),
        &[("Idempotency-Key", key)],
    );
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().unwrap().to_owned();
    api.wait_for(&id, &["read"]);
    id
}

/// The conversation id of a customer's number.
pub fn contact_of(api: &Api, phone: &str) -> i64 {
    let (status, page) = api.call("GET", "/api/v1/conversations", None, &[]);
    assert_eq!(status, 200, "{page}");
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phone"] == phone)
        .unwrap_or_else(|| panic!("no conversation with {phone}: {page}"))["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The SQLite file opened directly, overwriting what it changes as the server's connections do.
pub fn open(install: &Install) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(install.db_path()).unwrap();
    conn.execute_batch("PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON;")
        .unwrap();
    conn
}

/// Moves a message `days` back in time, with its statuses and the raw webhooks they came in.
pub fn age_message(install: &Install, id: &str, days: i64) {
    let conn = open(install);
    let shift = days * DAY_MS;
    let id: i64 = id.parse().unwrap();
    conn.execute(
        "UPDATE messages SET created_at = created_at - ?2 WHERE id = ?1",
        [id, shift],
    )
    .unwrap();
    conn.execute(
        "UPDATE webhook_payloads SET received_at = received_at - ?2
         WHERE id IN (SELECT payload_id FROM message_statuses WHERE message_id = ?1)",
        [id, shift],
    )
    .unwrap();
    conn.execute(
        "UPDATE message_statuses SET received_at = received_at - ?2 WHERE message_id = ?1",
        [id, shift],
    )
    .unwrap();
}

/// Moves a conversation `days` back in time: what the customer wrote, its raw webhook, the last message.
pub fn age_conversation(install: &Install, contact: i64, days: i64) {
    let conn = open(install);
    let shift = days * DAY_MS;
    conn.execute(
        "UPDATE webhook_payloads SET received_at = received_at - ?2
         WHERE id IN (SELECT payload_id FROM inbound_messages WHERE contact_id = ?1)",
        [contact, shift],
    )
    .unwrap();
    conn.execute(
        "UPDATE inbound_messages SET received_at = received_at - ?2, sent_at = sent_at - ?2 WHERE contact_id = ?1",
        [contact, shift],
    )
    .unwrap();
    conn.execute(
        "UPDATE contacts SET last_inbound_at = last_inbound_at - ?2, last_message_at = last_message_at - ?2
         WHERE id = ?1",
        [contact, shift],
    )
    .unwrap();
}

/// Everything of the account that derives from a message or a conversation: what must go with it.
#[derive(Debug, Default)]
pub struct Derived {
    pub statuses: i64,
    pub payloads: i64,
    pub inbound: i64,
    pub events: i64,
    pub deliveries: i64,
    pub attempts: i64,
    pub idempotency: i64,
    /// Sealed values stored for it (bodies, recipient, raw webhooks, events), as bytes in the file.
    pub sealed: Vec<Vec<u8>>,
}

pub fn derived_from_message(install: &Install, id: &str) -> Derived {
    let conn = open(install);
    let one = |sql: &str| -> i64 { conn.query_row(sql, [id], |r| r.get(0)).unwrap() };
    let events = "SELECT id FROM webhook_events WHERE message_id = ?1";
    let deliveries = format!("SELECT id FROM webhook_deliveries WHERE event_id IN ({events})");
    let mut sealed = blobs(
        &conn,
        "SELECT body FROM messages WHERE id = ?1 UNION ALL SELECT recipient FROM messages WHERE id = ?1
         UNION ALL SELECT body FROM webhook_events WHERE message_id = ?1",
        id,
    );
    sealed.extend(blobs(
        &conn,
        "SELECT body FROM webhook_payloads WHERE id IN (SELECT payload_id FROM message_statuses WHERE message_id = ?1)",
        id,
    ));
    Derived {
        statuses: one("SELECT count(*) FROM message_statuses WHERE message_id = ?1"),
        payloads: one(
            "SELECT count(DISTINCT payload_id) FROM message_statuses WHERE message_id = ?1",
        ),
        inbound: 0,
        events: one(&format!("SELECT count(*) FROM ({events})")),
        deliveries: one(&format!("SELECT count(*) FROM ({deliveries})")),
        attempts: one(&format!(
            "SELECT count(*) FROM webhook_attempts WHERE delivery_id IN ({deliveries})"
        )),
        idempotency: one("SELECT count(*) FROM idempotency_keys WHERE message_id = ?1"),
        sealed,
    }
}

pub fn derived_from_conversation(install: &Install, contact: i64) -> Derived {
    let conn = open(install);
    let id = contact.to_string();
    let one = |sql: &str| -> i64 { conn.query_row(sql, [&id], |r| r.get(0)).unwrap() };
    let events = "SELECT id FROM webhook_events WHERE inbound_id IN (SELECT id FROM inbound_messages WHERE contact_id = ?1)";
    let deliveries = format!("SELECT id FROM webhook_deliveries WHERE event_id IN ({events})");
    let mut sealed = blobs(
        &conn,
        "SELECT body FROM inbound_messages WHERE contact_id = ?1 UNION ALL SELECT phone FROM contacts WHERE id = ?1",
        &id,
    );
    sealed.extend(blobs(
        &conn,
        &format!("SELECT body FROM webhook_events WHERE id IN ({events})"),
        &id,
    ));
    sealed.extend(blobs(
        &conn,
        "SELECT body FROM webhook_payloads WHERE id IN (SELECT payload_id FROM inbound_messages WHERE contact_id = ?1)",
        &id,
    ));
    Derived {
        statuses: 0,
        payloads: one(
            "SELECT count(DISTINCT payload_id) FROM inbound_messages WHERE contact_id = ?1",
        ),
        inbound: one("SELECT count(*) FROM inbound_messages WHERE contact_id = ?1"),
        events: one(&format!("SELECT count(*) FROM ({events})")),
        deliveries: one(&format!("SELECT count(*) FROM ({deliveries})")),
        attempts: one(&format!(
            "SELECT count(*) FROM webhook_attempts WHERE delivery_id IN ({deliveries})"
        )),
        idempotency: 0,
        sealed,
    }
}

fn blobs(conn: &rusqlite::Connection, sql: &str, id: &str) -> Vec<Vec<u8>> {
    conn.prepare(sql)
        .unwrap()
        .query_map([id], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// An installation with an account that has a webhook endpoint, two conversations and two sent messages
/// (each with statuses, raw webhooks, events, deliveries and attempts, and an idempotency key). The
/// `old` ones are aged 91 days, the `recent` ones 89; plus a status for a wamid we did not send, an
/// activity entry, an ended session, a used-up link, a stale idempotency key, a webhook event and a
/// payment event that are all past their limits (and a payment event within its limit).
pub struct Scene {
    pub install: Install,
    pub server: Server,
    pub api: Api,
    pub old_message: String,
    pub recent_message: String,
    pub old_contact: i64,
    pub recent_contact: i64,
}

pub fn scene() -> Scene {
    let install = Install::new();
    let server = serve(&install);
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let (status, created) = api.call(
        "POST",
        "/api/v1/webhook-endpoints",
        Some(json!({"url": common::ok_endpoint(), "event_types": ["message.status", "message.received"]})),
        &[],
    );
    assert_eq!(status, 201, "{created}");

    customer_writes(&api, &connection, "+96550000091", "words of long ago");
    customer_writes(
        &api,
        &connection,
        "+96550000089",
        "words of not so long ago",
    );
    let old_message = send_read(&api, &connection, "+96551110091", "order-91");
    let recent_message = send_read(&api, &connection, "+96551110089", "order-89");
    wait_until("every event is delivered", || {
        count(
            &install,
            "SELECT count(*) FROM webhook_deliveries WHERE status != 'delivered'",
        ) == 0
            && count(&install, "SELECT count(*) FROM webhook_attempts") > 0
    });
    let old_contact = contact_of(&api, "+96550000091");
    let recent_contact = contact_of(&api, "+96550000089");

    age_message(&install, &old_message, 91);
    age_conversation(&install, old_contact, 91);
    age_message(&install, &recent_message, 89);
    age_conversation(&install, recent_contact, 89);

    let conn = open(&install);
    let now = whatsapi::store::now_ms();
    let account: i64 = conn
        .query_row("SELECT id FROM accounts", [], |r| r.get(0))
        .unwrap();
    let user: i64 = conn
        .query_row("SELECT id FROM users", [], |r| r.get(0))
        .unwrap();
    conn.execute(
        "INSERT INTO message_statuses (id, account_id, message_id, wamid, status, at, received_at)
         VALUES (1, ?1, NULL, 'wamid.sent-from-elsewhere', 'delivered', ?2, ?2)",
        [account, now - 91 * DAY_MS],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO activity_log (account_id, action, ip, created_at) VALUES (?1, 'signed_in', '203.0.113.9', ?2)",
        [account, now - 366 * DAY_MS],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, ip, user_agent)
         VALUES (x'00aa', ?1, 'csrf', ?2, ?2, '203.0.113.9', 'browser')",
        [user, now - 2 * DAY_MS],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO one_time_tokens (token_hash, purpose, account_id, created_at, expires_at)
         VALUES (x'00bb', 'invite', ?1, ?2, ?3)",
        [account, now - 8 * DAY_MS, now - DAY_MS],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO idempotency_keys (account_id, key, message_id, status, response, created_at)
         VALUES (?1, 'stale', NULL, 202, '{}', ?2)",
        [account, now - 2 * DAY_MS],
    )
    .unwrap();
    let endpoint: i64 = conn
        .query_row("SELECT id FROM webhook_endpoints", [], |r| r.get(0))
        .unwrap();
    conn.execute(
        "INSERT INTO webhook_events (id, account_id, type, body, created_at) VALUES (7, ?1, 'connection.updated', x'0102', ?2)",
        [account, now - 31 * DAY_MS],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO webhook_deliveries (id, account_id, endpoint_id, event_id, status, next_attempt_at, created_at)
         VALUES (7, ?1, ?2, 7, 'delivered', ?3, ?3)",
        [account, endpoint, now - 31 * DAY_MS],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO webhook_attempts (account_id, delivery_id, at, code, duration_ms) VALUES (?1, 7, ?2, 200, 5)",
        [account, now - 31 * DAY_MS],
    )
    .unwrap();
    // Stripe's webhook events are kept 30 days: one of 31 days goes, one of 29 stays.
    for (id, days) in [("evt_31_days", 31), ("evt_29_days", 29)] {
        conn.execute(
            "INSERT INTO payment_events (id, type, received_at, body) VALUES (?1, 'invoice.paid', ?2, x'7b7d')",
            rusqlite::params![id, now - days * DAY_MS],
        )
        .unwrap();
    }
    // The daily usage counts are kept 13 months: a day of 400 days ago goes, one of 380 stays.
    for days in [400, 380] {
        conn.execute(
            "INSERT INTO usage_daily (account_id, day, event, count) VALUES (?1, ?2, 'sent', 3)",
            [account, (now - days * DAY_MS) / DAY_MS],
        )
        .unwrap();
    }
    Scene {
        install,
        server,
        api,
        old_message,
        recent_message,
        old_contact,
        recent_contact,
    }
}
