//! The writes that follow a job's claim (or a webhook from Meta) take the account of the row they
//! change and name it in their SQL: called with another account's id they change nothing, and called
//! with the owner's they do.

use super::AccountId;
use super::connections::{self, ConnectionId};
use super::deliveries::{self, Attempted, Due, Next};
use super::endpoints::{self, EndpointId};
use super::messages::{self, MessageId, Sent};
use super::states::{ConnectionState, DeliveryStatus, MessageStatus};
use super::templates;
use rusqlite::{Connection, params};

const OWNER: AccountId = AccountId(1);
const OTHER: AccountId = AccountId(2);
const CONNECTION: ConnectionId = ConnectionId(10);
const ENDPOINT: EndpointId = EndpointId(20);

/// A file with both accounts, a connection, a template and an endpoint of the owner, and one message
/// being sent (`sending`) for each of `messages`.
fn file(dir: &std::path::Path, messages: &[i64]) -> Connection {
    let conn = super::test_file(dir, "tenants.db");
    conn.execute_batch(
        "INSERT INTO accounts (id, company, country, created_at) VALUES (1, 'Owner', 'DE', 0), (2, 'Other', 'DE', 0);
         INSERT INTO connections (id, account_id, kind, name, phone_number_id, waba_id, access_token,
                                  access_token_last4, app_secret, app_secret_last4, verify_token, webhook_key,
                                  graph_version, graph_base_url, created_at, updated_at)
         VALUES (10, 1, 'sandbox', 'n', 'p', 'w', x'00', '', x'00', '', x'00', 'k', 'v21.0', 'http://x', 0, 0);
         INSERT INTO templates (id, account_id, connection_id, name, language, status, synced_at)
         VALUES (30, 1, 10, 'order', 'en', 'PENDING', 0);
         INSERT INTO webhook_endpoints (id, account_id, url, event_types, secret, created_at, updated_at)
         VALUES (20, 1, 'https://hooks.test/h', '[]', x'00', 0, 0);
         INSERT INTO webhook_events (id, account_id, type, body, created_at) VALUES (40, 1, 'message.status', x'00', 0);
         INSERT INTO webhook_deliveries (id, account_id, endpoint_id, event_id, status, next_attempt_at, created_at)
         VALUES (50, 1, 20, 40, 'delivering', 0, 0);",
    )
    .unwrap();
    for id in messages {
        conn.execute(
            "INSERT INTO messages (id, account_id, connection_id, recipient, recipient_index, type, body, status,
                                   next_attempt_at, created_at)
             VALUES (?1, 1, 10, x'00', x'00', 'text', x'00', ?2, 0, 0)",
            params![id, MessageStatus::Sending],
        )
        .unwrap();
    }
    conn
}

fn status(conn: &Connection, id: i64) -> MessageStatus {
    conn.query_row("SELECT status FROM messages WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .unwrap()
}

#[test]
fn a_send_recorded_for_another_account_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let conn = file(dir.path(), &[1]);
    let sent = |account| Sent {
        account,
        id: MessageId(1),
        wamid: "wamid.1".into(),
        at: 5,
    };
    messages::mark_all_sent(&conn, &[sent(OTHER)]).unwrap();
    assert_eq!(status(&conn, 1), MessageStatus::Sending);
    messages::mark_all_sent(&conn, &[sent(OWNER)]).unwrap();
    assert_eq!(status(&conn, 1), MessageStatus::Sent);
}

#[test]
fn a_message_failed_or_requeued_for_another_account_stays_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let conn = file(dir.path(), &[1, 2]);
    let fail = |account| messages::mark_failed(&conn, account, MessageId(1), 131026, "t", "d", 5);
    assert!(!fail(OTHER).unwrap());
    assert_eq!(status(&conn, 1), MessageStatus::Sending);
    assert!(fail(OWNER).unwrap());
    assert_eq!(status(&conn, 1), MessageStatus::Failed);

    messages::retry_at(&conn, OTHER, MessageId(2), 9, None).unwrap();
    assert_eq!(status(&conn, 2), MessageStatus::Sending);
    messages::retry_at(&conn, OWNER, MessageId(2), 9, None).unwrap();
    assert_eq!(status(&conn, 2), MessageStatus::Queued);
}

#[test]
fn a_connection_changed_for_another_account_stays_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let conn = file(dir.path(), &[]);
    let state = || -> (ConnectionState, Option<String>) {
        conn.query_row(
            "SELECT state, quality_rating FROM connections WHERE id = 10",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    connections::set_state(&conn, OTHER, CONNECTION, ConnectionState::Held, "x").unwrap();
    connections::record_meta_update(&conn, OTHER, CONNECTION, Some(("RED", None)), None, 5)
        .unwrap();
    assert_eq!(state(), (ConnectionState::Active, None));
    connections::set_state(&conn, OWNER, CONNECTION, ConnectionState::Held, "x").unwrap();
    connections::record_meta_update(&conn, OWNER, CONNECTION, Some(("RED", None)), None, 5)
        .unwrap();
    assert_eq!(state(), (ConnectionState::Held, Some("RED".into())));
}

#[test]
fn a_template_status_for_another_account_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let conn = file(dir.path(), &[]);
    let status = || -> String {
        conn.query_row("SELECT status FROM templates WHERE id = 30", [], |r| {
            r.get(0)
        })
        .unwrap()
    };
    let review = templates::Review {
        name: "order",
        language: "en",
        status: "APPROVED",
        reason: None,
    };
    assert_eq!(
        templates::set_status(&conn, OTHER, CONNECTION, &review).unwrap(),
        0
    );
    assert_eq!(status(), "PENDING");
    templates::set_status(&conn, OWNER, CONNECTION, &review).unwrap();
    assert_eq!(status(), "APPROVED");
    // Nor do a submission or a deletion in another account's name.
    let submitted = templates::Submitted {
        name: "order",
        language: "en",
        category: "UTILITY",
        status: "PENDING",
        meta_id: "1",
        components: &serde_json::json!([]),
    };
    templates::insert_submitted(&conn, OTHER, CONNECTION, &submitted).unwrap();
    assert_eq!(status(), "APPROVED");
    let elsewhere = templates::Submitted {
        name: "another",
        ..submitted
    };
    templates::insert_submitted(&conn, OTHER, CONNECTION, &elsewhere).unwrap();
    let rows: i64 = conn
        .query_row(
            "SELECT count(*) FROM templates WHERE name = 'another'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 0, "no row on another account's connection");
    assert_eq!(
        templates::delete_named(&conn, OTHER, CONNECTION, "order").unwrap(),
        0
    );
    assert_eq!(status(), "APPROVED");
}

#[test]
fn an_endpoint_paused_or_a_delivery_recorded_for_another_account_stays_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let conn = file(dir.path(), &[]);
    let paused = || -> Option<i64> {
        conn.query_row(
            "SELECT paused_at FROM webhook_endpoints WHERE id = 20",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    endpoints::pause_gone(&conn, OTHER, ENDPOINT, 5).unwrap();
    assert_eq!(paused(), None);
    endpoints::pause_gone(&conn, OWNER, ENDPOINT, 5).unwrap();
    assert_eq!(paused(), Some(5));

    let delivery = || -> (DeliveryStatus, i64) {
        conn.query_row(
            "SELECT status, attempts FROM webhook_deliveries WHERE id = 50",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let due = |account| Due {
        id: 50,
        account_id: account,
        endpoint_id: ENDPOINT,
        event_id: 40,
        attempts: 0,
        url: "https://hooks.test/h".into(),
    };
    let attempted = Attempted {
        code: Some(200),
        error: None,
        duration_ms: 3,
    };
    let attempts = || -> i64 {
        conn.query_row("SELECT count(*) FROM webhook_attempts", [], |r| r.get(0))
            .unwrap()
    };
    deliveries::record_attempt(&conn, &due(OTHER), &attempted, Next::Delivered, 5).unwrap();
    assert_eq!(
        (delivery(), attempts()),
        ((DeliveryStatus::Delivering, 0), 0)
    );
    deliveries::record_attempt(&conn, &due(OWNER), &attempted, Next::Delivered, 5).unwrap();
    assert_eq!(
        (delivery(), attempts()),
        ((DeliveryStatus::Delivered, 1), 1)
    );
}
