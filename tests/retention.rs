//! Retention, as the privacy policy promises it, through the real server and the `purge` command: a
//! message older than `retention.message_days` is hidden at once and deleted by the retention job with
//! everything derived from it, and its bytes are gone from the database file and its write-ahead log;
//! `purge --dry-run` counts without deleting; a run missed while the server was down happens at the next
//! start. Rows are aged by moving their times back in the SQLite file. (The store and the pages:
//! tests/retention_store.rs.)

mod common;

use common::api::{Api, account, count};
use common::{Install, Server, stderr, stdout};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use whatsapi::store::retention::TABLES;

const DAY_MS: i64 = 86_400_000;

/// Retention at midnight of 29 February only, so no scheduled run happens during a test; statuses from
/// the sandbox within a fraction of a second; webhooks allowed to the test's own endpoint.
fn serve(install: &Install) -> Server {
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_RETENTION__SCHEDULE", "0 0 0 29 2 *")
        .env("WHATSAPI_WEBHOOKS__ALLOW_INSECURE_TARGETS", "true")
        .env("WHATSAPI_SANDBOX__SENT_AFTER_MS", "20")
        .env("WHATSAPI_SANDBOX__DELIVERED_AFTER_MS", "40")
        .env("WHATSAPI_SANDBOX__READ_AFTER_MS", "60");
    install.serve_with(cmd)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn customer_writes(api: &Api, connection: &str, from: &str, text: &str) {
    let (status, body) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/sandbox/inbound"),
        Some(json!({"from": from, "name": "Customer", "text": text})),
        &[],
    );
    assert_eq!(status, 200, "{body}");
}

/// Sends a text with an Idempotency-Key and waits until the sandbox reported it read; its id.
fn send_read(api: &Api, connection: &str, to: &str, key: &str) -> String {
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
fn contact_of(api: &Api, phone: &str) -> i64 {
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
fn open(install: &Install) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(install.db_path()).unwrap();
    conn.execute_batch("PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON;")
        .unwrap();
    conn
}

/// Moves a message `days` back in time, with its statuses and the raw webhooks they came in.
fn age_message(install: &Install, id: &str, days: i64) {
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
fn age_conversation(install: &Install, contact: i64, days: i64) {
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

fn table_counts(install: &Install) -> BTreeMap<&'static str, i64> {
    TABLES
        .iter()
        .map(|t| (*t, count(install, &format!("SELECT count(*) FROM {t}"))))
        .collect()
}

/// The per-table lines `purge` prints ("  messages   12").
fn printed_counts(output: &str) -> BTreeMap<String, i64> {
    output
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?.to_owned(), words.next()?.parse().ok()?))
        })
        .collect()
}

/// Everything of the account that derives from a message or a conversation: what must go with it.
#[derive(Debug, Default)]
struct Derived {
    statuses: i64,
    payloads: i64,
    inbound: i64,
    events: i64,
    deliveries: i64,
    attempts: i64,
    idempotency: i64,
    /// Sealed values stored for it (bodies, recipient, raw webhooks, events), as bytes in the file.
    sealed: Vec<Vec<u8>>,
}

fn derived_from_message(install: &Install, id: &str) -> Derived {
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

fn derived_from_conversation(install: &Install, contact: i64) -> Derived {
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

/// The bytes of the database file and of its write-ahead log, if there is one.
fn file_bytes(install: &Install) -> Vec<u8> {
    let mut bytes = std::fs::read(install.db_path()).unwrap();
    let wal = install.data_dir().join("whatsapi.db-wal");
    if let Ok(more) = std::fs::read(wal) {
        bytes.extend(more);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// An installation with an account that has a webhook endpoint, two conversations and two sent messages
/// (each with statuses, raw webhooks, events, deliveries and attempts, and an idempotency key). The
/// `old` ones are aged 91 days, the `recent` ones 89; plus a status for a wamid we did not send, an
/// activity entry, an ended session, a used-up link, a stale idempotency key and a webhook event that are
/// all past their limits.
struct Scene {
    install: Install,
    server: Server,
    api: Api,
    old_message: String,
    recent_message: String,
    old_contact: i64,
    recent_contact: i64,
}

fn scene() -> Scene {
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

/// What a run must delete in the scene, table by table.
fn expected(message: &Derived, conversation: &Derived) -> BTreeMap<String, i64> {
    [
        ("messages", 1),
        ("message_statuses", message.statuses + 1),
        ("idempotency_keys", message.idempotency + 1),
        ("inbound_messages", conversation.inbound),
        ("webhook_payloads", message.payloads + conversation.payloads),
        ("contacts", 1),
        ("webhook_events", message.events + conversation.events + 1),
        (
            "webhook_deliveries",
            message.deliveries + conversation.deliveries + 1,
        ),
        (
            "webhook_attempts",
            message.attempts + conversation.attempts + 1,
        ),
        ("activity_log", 1),
        ("sessions", 1),
        ("one_time_tokens", 1),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_owned(), n))
    .collect()
}

#[test]
fn messages_of_91_days_go_with_everything_derived_and_those_of_89_days_stay() {
    let scene = scene();
    let install = &scene.install;
    let old = derived_from_message(install, &scene.old_message);
    let old_conversation = derived_from_conversation(install, scene.old_contact);
    let recent = derived_from_message(install, &scene.recent_message);
    let recent_conversation = derived_from_conversation(install, scene.recent_contact);
    // The scene has something of every kind to lose.
    assert!(
        old.statuses >= 3 && old.payloads >= 1 && old.events >= 3,
        "{old:?}"
    );
    assert!(
        old.deliveries >= 3 && old.attempts >= 3 && old.idempotency == 1,
        "{old:?}"
    );
    assert!(
        old_conversation.inbound == 1 && old_conversation.events == 1,
        "{old_conversation:?}"
    );

    let before = table_counts(install);
    let output = install.run(&["purge"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let reported = printed_counts(&stdout(&output));
    let wanted = expected(&old, &old_conversation);
    for (table, n) in &wanted {
        assert_eq!(reported.get(table), Some(n), "{table}: {}", stdout(&output));
    }
    let after = table_counts(install);
    for table in TABLES {
        assert_eq!(
            before[table] - after[table],
            wanted[table],
            "{table} lost exactly what was reported"
        );
    }

    assert_eq!(
        count(
            install,
            &format!(
                "SELECT count(*) FROM messages WHERE id = {}",
                scene.old_message
            )
        ),
        0
    );
    let gone = derived_from_message(install, &scene.old_message);
    assert_eq!(
        (
            gone.statuses,
            gone.events,
            gone.deliveries,
            gone.attempts,
            gone.idempotency
        ),
        (0, 0, 0, 0, 0)
    );
    let gone = derived_from_conversation(install, scene.old_contact);
    assert_eq!((gone.inbound, gone.events, gone.payloads), (0, 0, 0));
    assert_eq!(
        count(
            install,
            &format!(
                "SELECT count(*) FROM contacts WHERE id = {}",
                scene.old_contact
            )
        ),
        0
    );

    // The 89-day-old message and conversation keep everything.
    let kept = derived_from_message(install, &scene.recent_message);
    assert_eq!(
        (
            kept.statuses,
            kept.payloads,
            kept.events,
            kept.deliveries,
            kept.attempts,
            kept.idempotency
        ),
        (
            recent.statuses,
            recent.payloads,
            recent.events,
            recent.deliveries,
            recent.attempts,
            recent.idempotency
        )
    );
    let kept = derived_from_conversation(install, scene.recent_contact);
    assert_eq!(
        (kept.inbound, kept.events, kept.payloads),
        (
            recent_conversation.inbound,
            recent_conversation.events,
            recent_conversation.payloads
        )
    );
    let (status, message) = scene.api.call(
        "GET",
        &format!("/api/v1/messages/{}", scene.recent_message),
        None,
        &[],
    );
    assert_eq!(status, 200, "{message}");
    assert_eq!(
        message["status_events"].as_array().unwrap().len() as i64,
        recent.statuses
    );

    // The run is recorded with what it deleted.
    let outcome: String = open(install)
        .query_row(
            "SELECT outcome FROM job_runs WHERE job = 'retention' AND finished_at IS NOT NULL AND error IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let outcome: Value = serde_json::from_str(&outcome).unwrap();
    assert_eq!(outcome["deleted"]["messages"], 1, "{outcome}");
    assert_eq!(outcome["checkpoint_complete"], true, "{outcome}");
    drop(scene.server);
}

#[test]
fn deleted_rows_leave_no_bytes_in_the_database_file_or_its_write_ahead_log() {
    let scene = scene();
    let install = &scene.install;
    let mut doomed = derived_from_message(install, &scene.old_message).sealed;
    doomed.extend(derived_from_conversation(install, scene.old_contact).sealed);
    let kept = derived_from_message(install, &scene.recent_message).sealed;
    assert!(doomed.len() >= 8, "{} sealed values", doomed.len());
    let before = file_bytes(install);
    for sealed in doomed.iter().chain(&kept) {
        assert!(contains(&before, sealed), "the search finds what is stored");
    }

    let output = install.run(&["purge"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("write-ahead log emptied"),
        "{}",
        stdout(&output)
    );
    let after = file_bytes(install);
    for sealed in &doomed {
        assert!(
            !contains(&after, sealed),
            "{} bytes of a deleted row are still in the files",
            sealed.len()
        );
    }
    for sealed in &kept {
        assert!(contains(&after, sealed), "kept rows are still there");
    }
    drop(scene.server);
}

#[test]
fn purge_dry_run_changes_nothing_and_reports_what_a_run_deletes() {
    let scene = scene();
    let install = &scene.install;
    let old = derived_from_message(install, &scene.old_message);
    let old_conversation = derived_from_conversation(install, scene.old_contact);
    let before = table_counts(install);

    let dry = install.run(&["purge", "--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains("nothing was deleted"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(table_counts(install), before, "a dry run deletes nothing");
    assert_eq!(
        count(
            install,
            "SELECT count(*) FROM job_runs WHERE job = 'retention'"
        ),
        0,
        "a dry run is not a run"
    );
    let predicted = printed_counts(&stdout(&dry));
    let wanted = expected(&old, &old_conversation);
    for (table, n) in &wanted {
        assert_eq!(predicted.get(table), Some(n), "{table}: {}", stdout(&dry));
    }

    let real = install.run(&["purge"]);
    assert!(real.status.success(), "{}", stderr(&real));
    assert_eq!(
        printed_counts(&stdout(&real)),
        predicted,
        "the run deletes what the dry run said"
    );
    drop(scene.server);
}

#[test]
fn a_message_past_the_limit_is_hidden_before_the_job_runs() {
    let install = Install::new();
    let server = serve(&install);
    let (api, connection) = account(&install, &server, "owner@shop.test");
    customer_writes(&api, &connection, "+96550000091", "long ago");
    customer_writes(&api, &connection, "+96550000089", "not so long ago");
    let old = send_read(&api, &connection, "+96550000091", "order-91");
    let recent = send_read(&api, &connection, "+96550000089", "order-89");
    let old_contact = contact_of(&api, "+96550000091");
    let recent_contact = contact_of(&api, "+96550000089");
    let old_inbound: i64 = count(
        &install,
        &format!("SELECT id FROM inbound_messages WHERE contact_id = {old_contact}"),
    );
    age_message(&install, &old, 91);
    age_conversation(&install, old_contact, 91);
    age_message(&install, &recent, 89);
    age_conversation(&install, recent_contact, 89);

    let (status, _) = api.call("GET", &format!("/api/v1/messages/{old}"), None, &[]);
    assert_eq!(status, 404, "a message past the limit is not found");
    let (status, _) = api.call("GET", &format!("/api/v1/messages/{recent}"), None, &[]);
    assert_eq!(status, 200);
    let (status, list) = api.call("GET", "/api/v1/messages", None, &[]);
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![recent.as_str()],
        "only the recent message is listed"
    );

    let (_, conversations) = api.call("GET", "/api/v1/conversations", None, &[]);
    let listed: Vec<&str> = conversations["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["phone"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec!["+96550000089"], "{conversations}");
    let (status, _) = api.call(
        "GET",
        &format!("/api/v1/conversations/{old_contact}"),
        None,
        &[],
    );
    assert_eq!(status, 404);
    let (status, thread) = api.call(
        "GET",
        &format!("/api/v1/conversations/{recent_contact}"),
        None,
        &[],
    );
    assert_eq!(status, 200, "{thread}");
    assert_eq!(thread["messages"].as_array().unwrap().len(), 2, "{thread}");
    let (status, _) = api.call(
        "POST",
        &format!("/api/v1/conversations/{old_contact}/seen"),
        None,
        &[],
    );
    assert_eq!(status, 404);
    assert!(old_inbound > 0);

    // Hidden, not yet deleted: the job has not run.
    assert_eq!(
        count(
            &install,
            &format!("SELECT count(*) FROM messages WHERE id = {old}")
        ),
        1
    );
    assert_eq!(
        count(
            &install,
            "SELECT count(*) FROM job_runs WHERE job = 'retention'"
        ),
        0
    );
    drop(server);
}

#[test]
fn a_retention_run_missed_while_down_happens_at_the_next_start() {
    let install = Install::new();
    assert!(install.run(&["migrate"]).status.success());
    let now = whatsapi::store::now_ms();
    let conn = open(&install);
    conn.execute(
        "INSERT INTO job_runs (job, started_at, finished_at) VALUES ('retention', ?1, ?1)",
        [now - 2 * DAY_MS],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO activity_log (action, created_at) VALUES ('signed_in', ?1)",
        [now - 400 * DAY_MS],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO activity_log (action, created_at) VALUES ('signed_in', ?1)",
        [now - 300 * DAY_MS],
    )
    .unwrap();
    // The default schedule: 03:00 every day, so a run fell due since the last one two days ago.
    let _server = install.serve();
    wait_until("the missed retention run", || {
        count(
            &install,
            &format!(
                "SELECT count(*) FROM job_runs WHERE job = 'retention' AND started_at > {}
                 AND finished_at IS NOT NULL AND error IS NULL",
                now - 2 * DAY_MS
            ),
        ) == 1
    });
    assert_eq!(
        count(&install, "SELECT count(*) FROM activity_log"),
        1,
        "the entry past 365 days is gone, the other stays"
    );
}
