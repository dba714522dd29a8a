//! `Idempotency-Key` on `POST /api/v1/messages` as a client relies on it: a retry gets the first answer and
//! sends nothing twice, a key reused for another message is refused instead of dropping that message, a
//! race of retries makes one message, keys belong to one account and last 24 hours, and a malformed key is
//! refused by name.

mod common;

use common::Install;
use common::api::{Api, account, count};
use serde_json::{Value, json};
use std::sync::{Arc, Barrier};

/// POSTs `raw` exactly as written (key order and whitespace included) with `key` as Idempotency-Key.
/// The key goes as bytes so a non-ASCII key reaches the server unchanged.
fn post_raw(api: &Api, raw: &str, key: &str) -> (u16, Value) {
    let mut response = api
        .agent
        .post(format!("{}/api/v1/messages", api.base))
        .header("Authorization", &format!("Bearer {}", api.key))
        .header("Idempotency-Key", key.as_bytes())
        .content_type("application/json")
        .send(raw)
        .expect("request");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_json().unwrap_or(Value::Null),
    )
}

fn post(api: &Api, body: &Value, key: &str) -> (u16, Value) {
    post_raw(api, &body.to_string(), key)
}

fn text_to(connection: &str, text: &str) -> Value {
    json!({"connection_id": connection, "to": "+96550001234", "type": "text", "text": {"body": text}})
}

fn assert_reused(status: u16, answer: &Value, first_id: &str) {
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        answer["error"]["code"], "idempotency_key_reused",
        "{answer}"
    );
    assert_eq!(
        answer["error"]["details"]["message_id"], first_id,
        "{answer}"
    );
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("new key"), "says what to do: {message}");
}

#[test]
fn a_key_reused_for_another_message_is_refused_and_the_first_answer_stays() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let (status, second_connection) = api.call(
        "POST",
        "/api/v1/connections",
        Some(json!({"kind": "sandbox", "name": "Second number"})),
        &[],
    );
    assert_eq!(status, 201, "{second_connection}");
    let second_connection = second_connection["id"].as_str().unwrap();

    let first_raw = format!(
        r#"{{"connection_id": "{connection}", "to": "+96550001234", "type": "text", "text": {{"body": "Your order shipped", "preview_url": false}}}}"#
    );
    let (status, first) = post_raw(&api, &first_raw, "order-42");
    assert_eq!(status, 202, "{first}");
    let first_id = first["id"].as_str().unwrap().to_owned();

    // Another text under the same key.
    let (status, answer) = post(
        &api,
        &text_to(&connection, "Your order was cancelled"),
        "order-42",
    );
    assert_reused(status, &answer, &first_id);
    // The same message through another number.
    let mut elsewhere: Value = serde_json::from_str(&first_raw).unwrap();
    elsewhere["connection_id"] = json!(second_connection);
    let (status, answer) = post(&api, &elsewhere, "order-42");
    assert_reused(status, &answer, &first_id);

    // The same request again, keys in another order and spaced otherwise: the first answer, unchanged by
    // the refusals in between.
    let again_raw = format!(
        "{{\n  \"text\":{{\"preview_url\":false,\"body\":\"Your order shipped\"}},\n  \"type\":\"text\",\"to\":\"+96550001234\",\"connection_id\":\"{connection}\"\n}}"
    );
    assert_ne!(first_raw, again_raw);
    let (status, again) = post_raw(&api, &again_raw, "order-42");
    assert_eq!(status, 202, "{again}");
    assert_eq!(again, first);

    // One message, the first one, as it was sent.
    assert_eq!(count(&install, "SELECT count(*) FROM messages"), 1);
    let (status, stored) = api.call("GET", &format!("/api/v1/messages/{first_id}"), None, &[]);
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["connection_id"], connection.as_str());
    assert_eq!(stored["message"]["body"], "Your order shipped");
}

/// Starts `bodies.len()` POSTs with one key at the same moment; their answers in order.
fn race(api: &Api, key: &str, bodies: Vec<Value>) -> Vec<(u16, Value)> {
    let start = Arc::new(Barrier::new(bodies.len()));
    let threads: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let (api, start, key) = (api.clone(), start.clone(), key.to_owned());
            std::thread::spawn(move || {
                start.wait();
                post(&api, &body, &key)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn eight_concurrent_retries_with_one_key_make_one_message() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let answers = race(&api, "retry-7", vec![text_to(&connection, "Once"); 8]);
    for (status, answer) in &answers {
        assert_eq!(*status, 202, "{answer}");
        assert_eq!(
            answer, &answers[0].1,
            "every retry gets the winner's answer"
        );
    }
    assert_eq!(count(&install, "SELECT count(*) FROM messages"), 1);
    assert_eq!(count(&install, "SELECT count(*) FROM idempotency_keys"), 1);
}

#[test]
fn a_race_of_two_messages_under_one_key_sends_one_and_refuses_the_other() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let bodies: Vec<Value> = (0..8)
        .map(|i| text_to(&connection, if i % 2 == 0 { "Blue" } else { "Red" }))
        .collect();
    let answers = race(&api, "colour", bodies.clone());
    let winners: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 202)
        .map(|(_, answer)| answer)
        .collect();
    assert!(!winners.is_empty(), "{answers:?}");
    let winner_id = winners[0]["id"].as_str().unwrap();
    let (_, stored) = api.call("GET", &format!("/api/v1/messages/{winner_id}"), None, &[]);
    let sent_text = stored["message"]["body"].clone();
    for (body, (status, answer)) in bodies.iter().zip(&answers) {
        if body["text"]["body"] == sent_text {
            assert_eq!(*status, 202, "{answer}");
            assert_eq!(answer, winners[0]);
        } else {
            assert_reused(*status, answer, winner_id);
        }
    }
    assert_eq!(count(&install, "SELECT count(*) FROM messages"), 1);
}

#[test]
fn the_same_key_in_another_account_makes_that_accounts_own_message() {
    let install = Install::new();
    let server = install.serve();
    let (a, a_connection) = account(&install, &server, "a@shop.test");
    let (b, b_connection) = account(&install, &server, "b@other.test");
    let (status, from_a) = post(&a, &text_to(&a_connection, "Hello"), "invoice-1");
    assert_eq!(status, 202, "{from_a}");
    let (status, from_b) = post(&b, &text_to(&b_connection, "Hello"), "invoice-1");
    assert_eq!(status, 202, "{from_b}");
    assert_ne!(from_a["id"], from_b["id"]);
    assert_eq!(count(&install, "SELECT count(*) FROM messages"), 2);
    assert_eq!(
        count(&install, "SELECT count(DISTINCT account_id) FROM messages"),
        2
    );
    for (api, answer) in [(&a, &from_a), (&b, &from_b)] {
        let id = answer["id"].as_str().unwrap();
        let (status, _) = api.call("GET", &format!("/api/v1/messages/{id}"), None, &[]);
        assert_eq!(status, 200, "each account sees its own message");
    }
}

#[test]
fn a_key_is_forgotten_after_24_hours() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let (status, first) = post(&api, &text_to(&connection, "Monday"), "weekly");
    assert_eq!(status, 202, "{first}");
    // Within the 24 hours the key still answers.
    let (status, repeated) = post(&api, &text_to(&connection, "Monday"), "weekly");
    assert_eq!((status, &repeated), (202, &first));

    // A day and a second later, as far as the stored key can tell.
    let aged = rusqlite::Connection::open(install.db_path())
        .unwrap()
        .execute(
            "UPDATE idempotency_keys SET created_at = created_at - 86401000",
            [],
        )
        .unwrap();
    assert_eq!(aged, 1);

    // The key is free again, even for another text: a new message.
    let (status, next) = post(&api, &text_to(&connection, "Tuesday"), "weekly");
    assert_eq!(status, 202, "{next}");
    assert_ne!(next["id"], first["id"]);
    assert_eq!(count(&install, "SELECT count(*) FROM messages"), 2);
    // And it now answers for the new message.
    let (status, repeated) = post(&api, &text_to(&connection, "Tuesday"), "weekly");
    assert_eq!((status, &repeated), (202, &next));
}

#[test]
fn an_over_long_or_non_ascii_key_is_a_400_naming_the_header() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let message = text_to(&connection, "Hello");
    for key in ["k".repeat(256), "طلب-٤٢".to_owned(), "café".to_owned()] {
        let (status, answer) = post(&api, &message, &key);
        assert_eq!(status, 400, "{key}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_field", "{key}: {answer}");
        assert_eq!(answer["error"]["details"]["field"], "Idempotency-Key");
    }
    // The longest key allowed works, and only it wrote a message.
    let (status, answer) = post(&api, &message, &"k".repeat(255));
    assert_eq!(status, 202, "{answer}");
    assert_eq!(count(&install, "SELECT count(*) FROM messages"), 1);
}
