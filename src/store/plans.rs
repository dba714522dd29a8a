//! The hot paths of a message (accepting it, the sender's claim and outcome, Meta's statuses, the log and
//! its filters) run against a store with rows in every table they read, while SQLite reports, per
//! statement, the rows it stepped through in full-table scans and the automatic indexes it had to build.
//! Each must be zero: a statement that scans gets slower with every message kept.

use super::connections::{self, ConnectionId};
use super::messages::{self, ListFilter, MessageId, SealedMessage};
use super::retention::Visible;
use super::states::MessageStatus;
use super::{AccountId, contacts, statuses};
use crate::domain::meta::webhook::StatusUpdate;
use parking_lot::Mutex;
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::{Connection, StatementStatus};
use std::sync::Arc;

const ACCOUNT: AccountId = AccountId(1);
const CONNECTION: ConnectionId = ConnectionId(1);

fn store(dir: &std::path::Path) -> Connection {
    let conn = super::test_file(dir, "plans.db");
    conn.execute_batch(
        "INSERT INTO accounts (id, company, created_at) VALUES (1, 'Shop', 0), (2, 'Other', 0);
         INSERT INTO connections (id, account_id, kind, name, phone_number_id, waba_id, access_token,
             access_token_last4, app_secret, app_secret_last4, verify_token, webhook_key, graph_version,
             graph_base_url, created_at, updated_at)
         VALUES (1, 1, 'sandbox', 'a', 'p1', 'w', x'00', '0000', x'00', '0000', x'00', 'k1', 'v21.0', 'http://x', 0, 0),
                (2, 2, 'sandbox', 'b', 'p2', 'w', x'00', '0000', x'00', '0000', x'00', 'k2', 'v21.0', 'http://x', 0, 0);",
    )
    .unwrap();
    conn
}

fn new_message(n: i64, connection: ConnectionId, account: AccountId) -> SealedMessage {
    SealedMessage {
        id: MessageId((1_700_000_000_000 + n) << 22),
        account_id: account,
        connection_id: connection,
        recipient: vec![1; 40],
        recipient_index: n.to_be_bytes().to_vec(),
        kind: "text".into(),
        body: vec![2; 120],
        now: 1_700_000_000_000 + n,
    }
}

fn status(wamid: &str, status: &str, callback: Option<MessageId>) -> StatusUpdate {
    StatusUpdate {
        wamid: wamid.into(),
        status: status.into(),
        at: 1_700_000_100_000,
        callback: callback.map(|id| id.0.to_string()),
        error: None,
        pricing: None,
    }
}

/// Rows in every table the paths read: two accounts' messages in every status, statuses, contacts.
fn fill(conn: &Connection) {
    for n in 0..400 {
        let (connection, account) = if n % 4 == 0 {
            (ConnectionId(2), AccountId(2))
        } else {
            (CONNECTION, ACCOUNT)
        };
        let message = new_message(n, connection, account);
        messages::insert(conn, &message).unwrap();
        conn.execute(
            "INSERT INTO contacts (account_id, connection_id, phone_index, last_inbound_at) VALUES (?1, ?2, ?3, 0)",
            rusqlite::params![account.0, connection.0, message.recipient_index],
        )
        .unwrap();
        if n % 5 != 0 {
            let wamid = format!("wamid.{n}");
            let sent = messages::Sent {
                account,
                id: message.id,
                wamid: wamid.clone(),
                at: 1,
            };
            messages::mark_all_sent(conn, &[sent]).unwrap();
            for s in ["sent", "delivered", "read"] {
                statuses::apply(conn, account, 0, &status(&wamid, s, Some(message.id)), 2).unwrap();
            }
        }
    }
    conn.execute_batch("ANALYZE").unwrap();
}

#[test]
fn no_statement_on_a_messages_path_scans_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = store(dir.path());
    // The payload ids statuses point at are not part of this test.
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    fill(&conn);
    let seen: Arc<Mutex<Vec<(String, i32, i32)>>> = Arc::default();
    let record = seen.clone();
    conn.trace_v2(
        TraceEventCodes::SQLITE_TRACE_PROFILE,
        Some(move |event: TraceEvent<'_>| {
            if let TraceEvent::Profile(stmt, _) = event {
                record.lock().push((
                    stmt.sql().into_owned(),
                    stmt.get_status(StatementStatus::FullscanStep),
                    stmt.get_status(StatementStatus::AutoIndex),
                ));
            }
        }),
    )
    .unwrap();

    // Accepting a message.
    connections::find(&conn, ACCOUNT, CONNECTION)
        .unwrap()
        .unwrap();
    contacts::last_inbound(&conn, ACCOUNT, CONNECTION, &7i64.to_be_bytes()).unwrap();
    let message = new_message(1_000, CONNECTION, ACCOUNT);
    messages::insert(&conn, &message).unwrap();
    // Sending it.
    let queued = messages::queued_connections(&conn).unwrap();
    assert!(queued.iter().any(|(c, _)| *c == CONNECTION));
    let claimed = messages::claim_for_connection(&conn, CONNECTION, i64::MAX, 10, 1).unwrap();
    assert!(!claimed.is_empty());
    let sent: Vec<_> = claimed
        .iter()
        .map(|m| messages::Sent {
            account: m.account_id,
            id: m.id,
            wamid: format!("wamid.new.{}", m.id.0),
            at: 3,
        })
        .collect();
    messages::mark_all_sent(&conn, &sent).unwrap();
    // Meta's statuses, found by our id and (without it) by wamid.
    let (id, wamid) = (&sent[0].id, &sent[0].wamid);
    statuses::apply(&conn, ACCOUNT, 0, &status(wamid, "delivered", Some(*id)), 4).unwrap();
    statuses::apply(&conn, ACCOUNT, 0, &status(wamid, "read", None), 4).unwrap();
    statuses::apply(&conn, ACCOUNT, 0, &status("wamid.unknown", "sent", None), 4).unwrap();
    // The log: one message, its statuses, the list with each filter.
    messages::find(&conn, ACCOUNT, *id, Visible { from: 0 })
        .unwrap()
        .unwrap();
    statuses::timeline(&conn, ACCOUNT, *id, Visible { from: 0 }).unwrap();
    for adjust in [
        &(|_: &mut ListFilter| {}) as &dyn Fn(&mut ListFilter),
        &|f| f.status = Some(MessageStatus::Queued),
        &|f| f.status = Some(MessageStatus::Failed),
        &|f| f.status = Some(MessageStatus::Read),
        &|f| f.connection = Some(CONNECTION),
        &|f| f.recipient_index = Some(7i64.to_be_bytes().to_vec()),
        &|f| (f.since, f.until) = (Some(1_700_000_000_100), Some(1_700_000_000_200)),
        &|f| f.before = Some(MessageId((1_700_000_000_200) << 22)),
    ] {
        let mut filter = ListFilter::everything();
        adjust(&mut filter);
        messages::list(&conn, ACCOUNT, &filter).unwrap();
    }

    let seen = seen.lock();
    assert!(seen.len() > 20, "the statements were traced: {seen:?}");
    let scanning: Vec<_> = seen
        .iter()
        .filter(|(_, full_scan_steps, auto_indexes)| *full_scan_steps > 0 || *auto_indexes > 0)
        .collect();
    assert!(scanning.is_empty(), "these scan: {scanning:#?}");
}
