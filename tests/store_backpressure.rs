//! Backpressure instead of unbounded memory: while the one writer cannot keep up (here: the database is
//! locked by another process), requests that must write are refused at once with 503 "overloaded" and
//! Retry-After, and nothing of a refused request is written; the rest are written when the writer can.

mod common;

use common::Install;
use common::api::{account, count};
use serde_json::{Value, json};
use std::sync::{Arc, Barrier};

#[test]
fn a_full_write_queue_answers_503_with_retry_after_and_writes_nothing_of_it() {
    let mut install = Install::new();
    install
        .env
        .push(("WHATSAPI_STORAGE__WRITE_QUEUE".into(), "2".into()));
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let before = count(&install, "SELECT count(*) FROM messages");

    // Another process holds the database's write lock: the writer waits, and its queue fills.
    let lock = rusqlite::Connection::open(install.db_path()).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let start = Arc::new(Barrier::new(12));
    let answers: Vec<_> = (0..12)
        .map(|n| {
            let (api, connection, start) = (api.clone(), connection.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut response = api
                    .agent
                    .post(format!("{}/api/v1/messages", api.base))
                    .header("Authorization", &format!("Bearer {}", api.key))
                    .send_json(
                        json!({"connection_id": connection, "to": format!("+9655{n:07}"),
                        "type": "text", "text": {"body": "Hello"}}),
                    )
                    .unwrap();
                let retry = response
                    .headers()
                    .get("Retry-After")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
                (response.status().as_u16(), retry, body)
            })
        })
        .collect();
    // The refusals come at once; the accepted requests wait for the lock.
    common::wait_until("a request is refused", || {
        answers.iter().any(|a| a.is_finished())
    });
    lock.execute_batch("ROLLBACK").unwrap();
    let answers: Vec<(u16, Option<String>, Value)> =
        answers.into_iter().map(|a| a.join().unwrap()).collect();

    let refused: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 503).collect();
    let accepted = answers.iter().filter(|(s, _, _)| *s == 202).count();
    assert!(!refused.is_empty(), "{answers:?}");
    assert_eq!(refused.len() + accepted, 12, "{answers:?}");
    for (_, retry, body) in &refused {
        assert_eq!(retry.as_deref(), Some("1"));
        assert_eq!(body["error"]["code"], "overloaded", "{body}");
    }
    // Nothing of a refused request was written; every accepted one was.
    assert_eq!(
        count(&install, "SELECT count(*) FROM messages"),
        before + accepted as i64
    );
    // And once the writer caught up, the same request is accepted. The writer caught up when what the
    // accepted messages set off has been written too: their sends, and the sandbox's sent, delivered and
    // read webhooks, which share the queue of two.
    common::wait_until("every accepted message is read", || {
        count(
            &install,
            "SELECT count(*) FROM messages WHERE status NOT IN ('read', 'failed')",
        ) == 0
    });
    let (status, answer) = api.send(json!({"connection_id": connection, "to": "+96550000999",
        "type": "text", "text": {"body": "Hello"}}));
    assert_eq!(status, 202, "{answer}");
}
