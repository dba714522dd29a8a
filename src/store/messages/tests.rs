//! The outbox's queries: their plans use the indexes meant for them, and a batch of sends is recorded
//! whole or row by row.

use super::*;

/// What SQLite will do for `sql`: one line per step of its plan.
fn plan(conn: &Connection, sql: &str, values: Vec<rusqlite::types::Value>) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    stmt.query_map(rusqlite::params_from_iter(values), |r| {
        r.get::<_, String>(3)
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

#[test]
fn sends_are_recorded_together_and_one_taken_wamid_spoils_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let conn = crate::store::test_file(dir.path(), "sent.db");
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    for id in 1..=4 {
        let status = if id == 4 {
            MessageStatus::Sent
        } else {
            MessageStatus::Sending
        };
        conn.execute(
            "INSERT INTO messages (id, account_id, connection_id, recipient, recipient_index, type, body,
                                   status, wamid, next_attempt_at, created_at)
             VALUES (?1, 1, 1, x'00', x'00', 'text', x'00', ?2, ?3, 0, 0)",
            params![id, status, (id == 4).then_some("wamid.taken")],
        )
        .unwrap();
    }
    let sent = |rows: &[(i64, &str)]| {
        let rows: Vec<_> = rows
            .iter()
            .map(|(id, wamid)| Sent {
                account: AccountId(1),
                id: MessageId(*id),
                wamid: wamid.to_string(),
                at: 1000 + id,
            })
            .collect();
        mark_all_sent(&conn, &rows).unwrap();
    };
    let state = |id: i64| -> (MessageStatus, Option<String>, Option<i64>) {
        conn.query_row(
            "SELECT status, wamid, sent_at FROM messages WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    };
    sent(&[(1, "wamid.one")]);
    assert_eq!(
        state(1),
        (MessageStatus::Sent, Some("wamid.one".into()), Some(1001))
    );
    // Message 3 was given a wamid that message 4 already has: 2 is still recorded.
    sent(&[(2, "wamid.two"), (3, "wamid.taken")]);
    assert_eq!(
        state(2),
        (MessageStatus::Sent, Some("wamid.two".into()), Some(1002))
    );
    assert_eq!(state(3), (MessageStatus::Sending, None, None));
    // A send recorded again (a late answer) changes nothing.
    sent(&[(1, "wamid.other")]);
    assert_eq!(
        state(1),
        (MessageStatus::Sent, Some("wamid.one".into()), Some(1001))
    );
}

#[test]
fn a_claimed_message_put_back_is_queued_as_before_its_claim() {
    let dir = tempfile::tempdir().unwrap();
    let conn = crate::store::test_file(dir.path(), "back.db");
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    for (id, status) in [(1, MessageStatus::Sending), (2, MessageStatus::Sent)] {
        conn.execute(
            "INSERT INTO messages (id, account_id, connection_id, recipient, recipient_index, type, body,
                                   status, attempts, lease_until, next_attempt_at, created_at)
             VALUES (?1, 1, 1, x'00', x'00', 'text', x'00', ?2, 2, 99999, 500, 0)",
            params![id, status],
        )
        .unwrap();
    }
    let state = |id: i64| -> (MessageStatus, i64, Option<i64>, i64) {
        conn.query_row(
            "SELECT status, attempts, lease_until, next_attempt_at FROM messages WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
    };
    // Another account's message is not touched.
    put_back(&conn, AccountId(2), MessageId(1)).unwrap();
    assert_eq!(state(1), (MessageStatus::Sending, 2, Some(99999), 500));
    put_back(&conn, AccountId(1), MessageId(1)).unwrap();
    assert_eq!(state(1), (MessageStatus::Queued, 1, None, 500));
    // One Meta accepted stays sent.
    put_back(&conn, AccountId(1), MessageId(2)).unwrap();
    assert_eq!(state(2), (MessageStatus::Sent, 2, Some(99999), 500));
}

#[test]
fn the_log_and_the_sender_find_messages_through_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let conn = crate::store::test_file(dir.path(), "plans.db");
    conn.execute_batch("ANALYZE").unwrap();
    let account = AccountId(1);
    let filter = |adjust: &dyn Fn(&mut ListFilter)| {
        let mut filter = ListFilter::everything();
        adjust(&mut filter);
        filter
    };
    let filters = [
        filter(&|_| {}),
        filter(&|f| f.status = Some(MessageStatus::Queued)),
        filter(&|f| f.status = Some(MessageStatus::Failed)),
        filter(&|f| f.status = Some(MessageStatus::Sending)),
        filter(&|f| f.status = Some(MessageStatus::Read)),
        filter(&|f| f.connection = Some(ConnectionId(7))),
        filter(&|f| f.recipient_index = Some(vec![1, 2, 3])),
        filter(&|f| (f.since, f.until) = (Some(1_700_000_000_000), Some(1_800_000_000_000))),
        filter(&|f| f.before = Some(MessageId(1 << 62))),
    ];
    for f in &filters {
        let (sql, values) = list_query(account, f);
        let steps = plan(&conn, &sql, values);
        assert!(
            steps.iter().all(|s| !s.starts_with("SCAN")),
            "{sql}: {steps:?}"
        );
        if f.recipient_index.is_some() {
            assert!(
                steps.iter().any(|s| s.contains("messages_by_recipient")),
                "{steps:?}"
            );
        }
        if let Some(status) = f.status
            && status != MessageStatus::Read
        {
            assert!(
                steps
                    .iter()
                    .any(|s| s.contains(&format!("messages_{status}"))),
                "{status}: {steps:?}"
            );
        }
    }
    use rusqlite::types::Value::Integer;
    let steps = plan(&conn, &NEXT_QUEUED_CONNECTION, vec![Integer(0)]);
    assert!(
        steps
            .iter()
            .all(|s| !s.starts_with("SCAN") && !s.contains("TEMP B-TREE")),
        "{steps:?}"
    );
}
