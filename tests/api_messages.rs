//! Sending through the real server and the built-in sandbox: every message type, each class of Meta
//! error, idempotency, validation, tenant isolation, and secrets sealed in the file.

mod common;

use common::api::{Api, account, count};
use common::{Install, Sandbox};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[test]
fn every_message_type_is_accepted_and_sent() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let to = "+965 5000 1234";
    let bodies = [
        json!({"type": "text", "text": {"body": "مرحبا 👋", "preview_url": false}}),
        json!({"type": "template", "template": {"name": "order_update", "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "860198"}]}]}}),
        json!({"type": "image", "image": {"link": "https://example.com/a.jpg", "caption": "Your order"}}),
        json!({"type": "audio", "audio": {"id": "1037543291543636"}}),
        json!({"type": "video", "video": {"link": "https://example.com/v.mp4"}}),
        json!({"type": "document", "document": {"id": "1037543291543637", "filename": "invoice.pdf"}}),
        json!({"type": "sticker", "sticker": {"id": "1037543291543638"}}),
        json!({"type": "location", "location": {"latitude": 29.3759, "longitude": 47.9774, "name": "Kuwait City"}}),
        json!({"type": "contacts", "contacts": [{"name": {"formatted_name": "Sara Ali"}, "phones": [{"phone": "+96550002222"}]}]}),
        json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": "Confirm?"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                                   {"type": "reply", "reply": {"id": "no", "title": "No"}}]}}}),
        json!({"type": "interactive", "interactive": {"type": "list", "body": {"text": "Pick a size"},
            "action": {"button": "Sizes", "sections": [{"title": "All", "rows": [{"id": "s", "title": "Small"}, {"id": "l", "title": "Large"}]}]}}}),
        json!({"type": "interactive", "interactive": {"type": "cta_url", "body": {"text": "Track it"},
            "action": {"name": "cta_url", "parameters": {"display_text": "Track", "url": "https://example.com/t/1"}}}}),
        json!({"type": "reaction", "reaction": {"message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", "emoji": "👍"}}),
        json!({"type": "text", "text": {"body": "A reply"}, "context": {"message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="}}),
    ];
    let mut ids = Vec::new();
    for mut body in bodies {
        body["to"] = json!(to);
        body["connection_id"] = json!(connection);
        let (status, answer) = api.send(body.clone());
        assert_eq!(status, 202, "{body}: {answer}");
        assert_eq!(answer["status"], "queued");
        assert_eq!(answer["to"], "+96550001234");
        ids.push((answer["id"].as_str().unwrap().to_owned(), body));
    }
    for (id, body) in ids {
        let sent = api.wait_for(&id, &["sent", "failed"]);
        assert_eq!(sent["status"], "sent", "{body}: {sent}");
        assert!(sent["wamid"].as_str().unwrap().starts_with("wamid."));
        let kind = body["type"].as_str().unwrap();
        assert_eq!(
            sent["message"], body[kind],
            "the stored message is what was asked for"
        );
    }
}

#[test]
fn each_class_of_meta_error_ends_in_the_right_state() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let send = |to: &str| -> String {
        let (status, answer) = api.send(
            json!({"connection_id": connection, "to": to, "type": "text", "text": {"body": "hi"}}),
        );
        assert_eq!(status, 202, "{answer}");
        answer["id"].as_str().unwrap().to_owned()
    };
    // Final: failed with Meta's code, title and an explanation in words.
    let undeliverable = api.wait_for(&send("+15550199131026"), &["failed", "sent"]);
    assert_eq!(undeliverable["status"], "failed");
    assert_eq!(undeliverable["error"]["code"], 131026);
    assert_eq!(undeliverable["error"]["title"], "Message undeliverable");
    let window = api.wait_for(&send("+15550199131047"), &["failed", "sent"]);
    assert_eq!(
        window["error"]["explanation"],
        "More than 24 hours since the customer last wrote: send a template."
    );
    // Outside the reserved test range a number that merely ends in a code is a customer's: delivered.
    for to in ["+96550131026", "+9655000190"] {
        let delivered = api.wait_for(&send(to), &["failed", "sent"]);
        assert_eq!(delivered["status"], "sent", "{to}: {delivered}");
    }
    // Passing errors: retried, then sent; the attempt count shows it.
    for to in ["+15550199131000", "+15550199130429"] {
        let retried = api.wait_for(&send(to), &["sent", "failed"]);
        assert_eq!(retried["status"], "sent", "{to}: {retried}");
        assert!(
            retried["attempts"].as_i64().unwrap() >= 2,
            "{to}: {retried}"
        );
    }
    // Broken credentials: the connection is held and its messages wait, neither sent nor failed.
    let held = send("+15550199190");
    std::thread::sleep(Duration::from_millis(1500));
    let (_, message) = api.call("GET", &format!("/api/v1/messages/{held}"), None, &[]);
    assert_eq!(message["status"], "queued", "{message}");
    let (_, connection) = api.call(
        "GET",
        &format!("/api/v1/connections/{connection}"),
        None,
        &[],
    );
    assert_eq!(connection["state"], "held", "{connection}");
    assert!(
        connection["state_detail"]
            .as_str()
            .unwrap()
            .contains("access token")
    );
}

#[test]
fn an_idempotency_key_returns_the_first_answer_and_sends_once() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let body = json!({"connection_id": connection, "to": "+96550001234", "type": "text", "text": {"body": "once"}});
    let (first_status, first) = api.call(
        "POST",
        "/api/v1/messages",
        Some(body.clone()),
        &[("Idempotency-Key", "order-42")],
    );
    // A retry of the same request (a key reused for another message is refused: api_idempotency.rs).
    let (second_status, second) = api.call(
        "POST",
        "/api/v1/messages",
        Some(body),
        &[("Idempotency-Key", "order-42")],
    );
    assert_eq!((first_status, second_status), (202, 202));
    assert_eq!(first, second);
    assert_eq!(count(&install, "SELECT count(*) FROM messages"), 1);
    api.wait_for(first["id"].as_str().unwrap(), &["sent"]);
    // The kept answer names the customer, so it is sealed like the message: the number is nowhere in the
    // database file or its write-ahead log.
    let mut bytes = std::fs::read(install.db_path()).unwrap();
    bytes.extend(std::fs::read(install.data_dir().join("whatsapi.db-wal")).unwrap_or_default());
    assert!(!bytes.windows(11).any(|w| w == b"96550001234"));
}

#[test]
fn bad_requests_get_a_field_level_400_and_write_nothing() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let cases = [
        (
            json!({"to": "+96550001234", "type": "text", "text": {"body": "x"}}),
            "connection_id",
        ),
        (
            json!({"connection_id": "12345", "to": "+96550001234", "type": "text", "text": {"body": "x"}}),
            "connection_id",
        ),
        (
            json!({"connection_id": connection, "to": "not a number", "type": "text", "text": {"body": "x"}}),
            "to",
        ),
        (
            json!({"connection_id": connection, "to": "+96550001234", "type": "text", "text": {"body": "x".repeat(4097)}}),
            "text.body",
        ),
        (
            json!({"connection_id": connection, "to": "+96550001234", "type": "image", "image": {"link": "ftp://x"}}),
            "image.link",
        ),
        (
            json!({"connection_id": connection, "to": "+96550001234", "type": "template", "template": {"name": "t"}}),
            "template.language",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = api.send(body.clone());
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_field");
        assert_eq!(answer["error"]["details"]["field"], field, "{body}");
    }
    let (status, answer) = api.call("POST", "/api/v1/messages", Some(json!([1, 2])), &[]);
    assert_eq!(status, 400, "{answer}");
    assert_eq!(count(&install, "SELECT count(*) FROM messages"), 0);
    let (status, _) = Api {
        key: "wapi_nope".into(),
        ..api
    }
    .send(json!({}));
    assert_eq!(status, 401);
}

#[test]
fn another_accounts_key_reaches_none_of_its_connections_or_messages() {
    let install = Install::new();
    let server = install.serve();
    let (a, a_connection) = account(&install, &server, "a@shop.test");
    let (b, _) = account(&install, &server, "b@other.test");
    let (_, sent) = a.send(json!({"connection_id": a_connection, "to": "+96550001234", "type": "text", "text": {"body": "mine"}}));
    let message = sent["id"].as_str().unwrap();
    assert_eq!(
        b.call("GET", &format!("/api/v1/messages/{message}"), None, &[])
            .0,
        404
    );
    assert_eq!(
        b.call(
            "GET",
            &format!("/api/v1/connections/{a_connection}"),
            None,
            &[]
        )
        .0,
        404
    );
    assert_eq!(
        b.call(
            "DELETE",
            &format!("/api/v1/connections/{a_connection}"),
            None,
            &[]
        )
        .0,
        404
    );
    let (status, answer) = b.send(json!({"connection_id": a_connection, "to": "+96550001234", "type": "text", "text": {"body": "x"}}));
    assert_eq!(
        (status, answer["error"]["details"]["field"].as_str()),
        (400, Some("connection_id"))
    );
    let (_, list) = b.call("GET", "/api/v1/messages", None, &[]);
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let (_, connections) = b.call("GET", "/api/v1/connections", None, &[]);
    assert_eq!(
        connections["data"].as_array().unwrap().len(),
        1,
        "only its own"
    );
    assert_eq!(
        a.call("GET", &format!("/api/v1/messages/{message}"), None, &[])
            .0,
        200
    );
}

#[test]
fn access_tokens_never_appear_in_the_database_file() {
    let install = Install::new();
    let server = install.serve();
    let (api, _) = account(&install, &server, "owner@shop.test");
    let token = "EAAGmarkerTOKEN0123456789abcdefSECRET";
    let (status, connection) = api.call(
        "POST",
        "/api/v1/connections",
        Some(json!({"kind": "cloud", "name": "Main number", "phone_number_id": "106540352242922",
                    "waba_id": "102290129340398", "access_token": token, "app_secret": "appsecretMARKER42"})),
        &[],
    );
    assert_eq!(status, 201, "{connection}");
    assert_eq!(connection["access_token_last4"], "CRET");
    assert!(!connection.to_string().contains(token), "write-only");
    let (_, message) = api.send(json!({"connection_id": connection["id"], "to": "+96550001234", "type": "text", "text": {"body": "BODYMARKER-7781"}}));
    assert_eq!(message["status"], "queued");
    drop(server);
    let mut bytes = std::fs::read(install.db_path()).unwrap();
    if let Ok(wal) = std::fs::read(install.data_dir().join("whatsapi.db-wal")) {
        bytes.extend(wal);
    }
    for marker in [
        token.as_bytes(),
        b"appsecretMARKER42",
        b"BODYMARKER-7781",
        b"96550001234",
    ] {
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker),
            "{} is in the file",
            String::from_utf8_lossy(marker)
        );
    }
}

#[test]
fn messages_are_listed_newest_first_with_filters_and_a_cursor() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let mut ids = Vec::new();
    for n in 0..5 {
        let to = if n % 2 == 0 {
            "+96550001234"
        } else {
            "+15550199131026"
        };
        let (_, answer) = api.send(json!({"connection_id": connection, "to": to, "type": "text", "text": {"body": format!("m{n}")}}));
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        api.wait_for(id, &["sent", "failed"]);
    }
    let (_, page) = api.call("GET", "/api/v1/messages?limit=2", None, &[]);
    let first: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(first, [ids[4].as_str(), ids[3].as_str()]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = api.call(
        "GET",
        &format!("/api/v1/messages?limit=2&cursor={cursor}"),
        None,
        &[],
    );
    assert_eq!(next["data"][0]["id"], ids[2].as_str());
    let (_, failed) = api.call("GET", "/api/v1/messages?status=failed", None, &[]);
    assert_eq!(failed["data"].as_array().unwrap().len(), 2);
    let (_, to_one) = api.call("GET", "/api/v1/messages?to=%2B965%205000%201234", None, &[]);
    assert_eq!(to_one["data"].as_array().unwrap().len(), 3);
    assert_eq!(
        api.call("GET", "/api/v1/messages?status=lost", None, &[]).0,
        400
    );
}

#[test]
fn a_connection_is_checked_with_meta_and_a_new_token_releases_a_held_queue() {
    // A simulator as its own process, which the server may call instead of Meta.
    let simulator = Sandbox::start(&[]);
    let mut install = Install::new();
    install.env.push(simulator.allowed());
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let (status, check) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/check"),
        None,
        &[],
    );
    assert_eq!(status, 200, "{check}");
    assert_eq!(check["ok"], true);
    assert_eq!(check["verified_name"], "Sandbox Business");
    assert_eq!(check["quality_rating"], "GREEN");

    // A connection whose token Meta refuses: the check says so in Meta's terms.
    let (_, bad) = api.call(
        "POST",
        "/api/v1/connections",
        Some(json!({"kind": "cloud", "name": "Wrong token", "phone_number_id": "106540352242922", "waba_id": "102290129340398",
                    "access_token": "not-the-token", "app_secret": "s", "graph_base_url": format!("{}/sandbox/graph", server.url)})),
        &[],
    );
    let bad_id = bad["id"].as_str().unwrap();
    let (_, check) = api.call(
        "POST",
        &format!("/api/v1/connections/{bad_id}/check"),
        None,
        &[],
    );
    assert_eq!(check["ok"], false);
    assert_eq!(check["error"]["code"], 190);

    // Sending on it holds its queue, the message waiting with Meta's error on it.
    let (_, queued) = api.send(json!({"connection_id": bad_id, "to": "+96550001234", "type": "text", "text": {"body": "wait"}}));
    let deadline = Instant::now() + Duration::from_secs(10);
    while api
        .call("GET", &format!("/api/v1/connections/{bad_id}"), None, &[])
        .1["state"]
        != "held"
    {
        assert!(Instant::now() < deadline, "the connection was not held");
        std::thread::sleep(Duration::from_millis(50));
    }
    let held = api.wait_for(queued["id"].as_str().unwrap(), &["queued"]);
    assert_eq!(held["error"]["code"], 190, "{held}");
    // Fixing it: a new token (and here a simulator that accepts it) releases the held queue at once.
    let (status, patched) = api.call_patch(
        &format!("/api/v1/connections/{bad_id}"),
        json!({"access_token": "a-fresh-token", "graph_base_url": simulator.url, "throughput_mps": 200}),
    );
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        (
            patched["state"].as_str(),
            patched["access_token_last4"].as_str()
        ),
        (Some("active"), Some("oken"))
    );
    assert_eq!(patched["throughput_mps"], 200);
    let sent = api.wait_for(queued["id"].as_str().unwrap(), &["sent"]);
    assert!(sent["wamid"].as_str().unwrap().starts_with("wamid."));
    let (status, refused) = api.call_patch(
        &format!("/api/v1/connections/{bad_id}"),
        json!({"throughput_mps": 5000}),
    );
    assert_eq!(
        (status, refused["error"]["details"]["field"].as_str()),
        (400, Some("throughput_mps"))
    );
}

#[test]
fn templates_are_synced_from_meta_and_template_messages_checked_against_them() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let template = |name: &str, language: &str, parameters: usize| {
        let parameters: Vec<Value> = (0..parameters)
            .map(|n| json!({"type": "text", "text": format!("p{n}")}))
            .collect();
        json!({"connection_id": connection, "to": "+96550001234", "type": "template", "template": {
            "name": name, "language": {"code": language}, "components": [{"type": "body", "parameters": parameters}]}})
    };
    // Before the first sync nothing is known locally: Meta decides.
    assert_eq!(api.send(template("anything", "en_US", 0)).0, 202);

    let (status, synced) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/templates/sync"),
        None,
        &[],
    );
    assert_eq!(status, 200, "{synced}");
    assert_eq!(synced["templates"], 4, "every page of Meta's list was read");
    let (_, list) = api.call("GET", "/api/v1/templates", None, &[]);
    let names: Vec<String> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}/{}/{}/{}",
                t["name"].as_str().unwrap(),
                t["language"].as_str().unwrap(),
                t["status"].as_str().unwrap(),
                t["body_params"]
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "hello_world/en_US/APPROVED/0",
            "order_update/ar/APPROVED/2",
            "order_update/en_US/APPROVED/2",
            "spring_sale/en_US/PAUSED/1"
        ]
    );

    let (status, accepted) = api.send(template("order_update", "ar", 2));
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(
        api.wait_for(accepted["id"].as_str().unwrap(), &["sent", "failed"])["status"],
        "sent"
    );
    for (request, field) in [
        (template("order_update", "en_US", 1), "template.components"),
        (template("order_update", "fr", 2), "template.name"),
        (template("spring_sale", "en_US", 1), "template.name"),
        (template("no_such_template", "en_US", 0), "template.name"),
    ] {
        let (status, answer) = api.send(request.clone());
        assert_eq!(status, 400, "{request}: {answer}");
        assert_eq!(answer["error"]["details"]["field"], field, "{request}");
    }
}

#[test]
fn the_24_hour_window_is_reported_and_enforced_where_the_connection_asks() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let text = |connection: &str| json!({"connection_id": connection, "to": "+96550001234", "type": "text", "text": {"body": "hi"}});
    let (_, answer) = api.send(text(&connection));
    assert_eq!(
        answer["customer_service_window"]["state"], "unknown",
        "nothing received from this customer yet"
    );

    let (status, inbound) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/sandbox/inbound"),
        Some(json!({"from": "+965 5000 1234", "text": "Is my order ready?"})),
        &[],
    );
    assert_eq!(status, 200, "{inbound}");
    let (_, answer) = api.send(text(&connection));
    assert_eq!(answer["customer_service_window"]["state"], "open");
    let expires = answer["customer_service_window"]["expires_at"]
        .as_i64()
        .unwrap();
    assert_eq!(
        expires,
        inbound["received_at"].as_i64().unwrap() + 24 * 3_600_000
    );

    // A connection that enforces the window refuses free-form messages outside it, but not templates.
    let (_, strict) = api.call(
        "POST",
        "/api/v1/connections",
        Some(json!({"kind": "sandbox", "name": "Strict", "enforce_window": true})),
        &[],
    );
    let strict = strict["id"].as_str().unwrap().to_owned();
    let (status, refused) = api.send(text(&strict));
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["details"]["field"], "type");
    let template = json!({"connection_id": strict, "to": "+96550001234", "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}}});
    assert_eq!(api.send(template).0, 202);
    api.call(
        "POST",
        &format!("/api/v1/connections/{strict}/sandbox/inbound"),
        Some(json!({"from": "+96550001234"})),
        &[],
    );
    assert_eq!(api.send(text(&strict)).0, 202, "inside the window");
    // Twenty-five hours later the window has closed.
    rusqlite::Connection::open(install.db_path())
        .unwrap()
        .execute_batch("UPDATE contacts SET last_inbound_at = last_inbound_at - 25 * 3600000")
        .unwrap();
    let (status, _) = api.send(text(&strict));
    assert_eq!(status, 400);
    let (_, lenient) = api.send(text(&connection));
    assert_eq!(
        lenient["customer_service_window"]["state"], "closed",
        "reported, not refused, by default"
    );
}
