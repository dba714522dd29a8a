//! What `POST /api/v1/messages` answers to a body that is no valid message, with and without an
//! Idempotency-Key: the message is checked as a typed request, but a key that already answered still
//! says so first (as for any other request under a used key), and a body that is not JSON at all is
//! refused before the key is looked at.

mod common;

use common::Install;
use common::api::{Api, account, count};
use serde_json::{Value, json};

fn post_raw(api: &Api, raw: &str, key: Option<&str>) -> (u16, Value) {
    let mut request = api
        .agent
        .post(format!("{}/api/v1/messages", api.base))
        .header("Authorization", &format!("Bearer {}", api.key));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let mut response = request
        .content_type("application/json")
        .send(raw)
        .expect("request");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_json().unwrap_or(Value::Null),
    )
}

#[test]
fn an_invalid_message_under_a_used_key_is_told_the_key_was_used() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let valid =
        json!({"connection_id": connection, "to": "+96550001234", "text": {"body": "Shipped"}});
    let invalid = json!({"connection_id": connection, "to": "+96550001234", "text": {"body": ""}});

    // No key, or a fresh one: the field is named.
    for key in [None, Some("fresh-key")] {
        let (status, answer) = post_raw(&api, &invalid.to_string(), key);
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["code"], "invalid_field", "{answer}");
        assert_eq!(answer["error"]["details"]["field"], "text.body", "{answer}");
    }

    // A key that answered a message: the key's reuse, naming the first message.
    let (status, first) = post_raw(&api, &valid.to_string(), Some("order-7"));
    assert_eq!(status, 202, "{first}");
    let (status, answer) = post_raw(&api, &invalid.to_string(), Some("order-7"));
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        answer["error"]["code"], "idempotency_key_reused",
        "{answer}"
    );
    assert_eq!(answer["error"]["details"]["message_id"], first["id"]);

    // Not JSON at all: refused as such, whatever the key.
    let (status, answer) = post_raw(&api, "{\"to\": ", Some("order-7"));
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_json", "{answer}");

    // The first request again still gets its answer; one message in all.
    let (status, again) = post_raw(&api, &valid.to_string(), Some("order-7"));
    assert_eq!((status, &again), (202, &first));
    assert_eq!(count(&install, "SELECT count(*) FROM messages"), 1);
}
