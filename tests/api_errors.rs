//! Every bad API request gets a clear 4xx in JSON, through the real binary over real HTTP: a body sent
//! without `Content-Type: application/json` (415), query parameters that do not parse (400 naming them),
//! body fields of the wrong type (400 naming them, nothing written), the Bearer scheme in any case and
//! a challenge on every 401, and the server's own refusals (broken JSON with its position, a body over
//! the limit, a header that is not UTF-8) in the API's JSON shape.

mod common;

use common::api::{Api, account, count};
use common::raw::{Answer, request, request_bytes};
use common::{Install, ok_endpoint, serve_quick};
use serde_json::{Value, json};

/// Sends `body` with the account's key and the given Content-Type (none when `None`).
fn send(api: &Api, method: &str, path: &str, content_type: Option<&str>, body: &str) -> Answer {
    let auth = format!("Bearer {}", api.key);
    let mut headers = vec![("Authorization", auth.as_str())];
    if let Some(content_type) = content_type {
        headers.push(("Content-Type", content_type));
    }
    request(&api.base, method, path, &headers, body)
}

fn json_of(answer: &Answer) -> Value {
    assert!(
        common::header(&answer.headers, "Content-Type").starts_with("application/json"),
        "a JSON answer: {} {}",
        answer.status,
        answer.body
    );
    serde_json::from_str(&answer.body).expect("a JSON body")
}

/// Asserts a refusal's status, code and (when given) the field it names; returns the error object.
fn refused(answer: &Answer, status: u16, code: &str, field: Option<&str>) -> Value {
    let body = json_of(answer);
    assert_eq!(answer.status, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    if let Some(field) = field {
        assert_eq!(body["error"]["details"]["field"], field, "{body}");
    }
    body["error"].clone()
}

fn get(api: &Api, path: &str) -> (u16, Value) {
    api.call("GET", path, None, &[])
}

#[test]
fn a_body_without_a_json_content_type_is_415_on_every_route_and_json_succeeds() {
    let install = Install::new();
    let server = serve_quick(&install);
    let (api, sandbox) = account(&install, &server, "owner@shop.test");
    let (_, endpoint) = api.call(
        "POST",
        "/api/v1/webhook-endpoints",
        Some(json!({"url": ok_endpoint(), "event_types": ["message.status"]})),
        &[],
    );
    let endpoint = endpoint["id"].as_str().expect("an endpoint").to_owned();
    let routes = [
        (
            "POST",
            "/api/v1/messages".to_owned(),
            json!({"connection_id": sandbox, "to": "+96550001234", "type": "text", "text": {"body": "Hello"}}),
            202,
        ),
        (
            "POST",
            "/api/v1/connections".to_owned(),
            json!({"kind": "sandbox", "name": "Second number"}),
            201,
        ),
        (
            "PATCH",
            format!("/api/v1/connections/{sandbox}"),
            json!({"name": "Renamed"}),
            200,
        ),
        (
            "POST",
            "/api/v1/webhook-endpoints".to_owned(),
            json!({"url": ok_endpoint(), "event_types": ["message.received"]}),
            201,
        ),
        (
            "PATCH",
            format!("/api/v1/webhook-endpoints/{endpoint}"),
            json!({"description": "shop backend"}),
            200,
        ),
        (
            "POST",
            format!("/api/v1/connections/{sandbox}/sandbox/inbound"),
            json!({"from": "+96550009999", "text": "Is my order ready?"}),
            200,
        ),
        (
            "POST",
            "/api/v1/contacts/erase".to_owned(),
            json!({"phone": "+96550007777"}),
            200,
        ),
    ];
    let rows = || {
        (
            count(&install, "SELECT count(*) FROM messages"),
            count(&install, "SELECT count(*) FROM connections"),
            count(&install, "SELECT count(*) FROM webhook_endpoints"),
            count(&install, "SELECT count(*) FROM inbound_messages"),
        )
    };
    let before = rows();
    for (method, path, body, _) in &routes {
        let body = body.to_string();
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let answer = send(&api, method, path, content_type, &body);
            let error = refused(&answer, 415, "unsupported_media_type", None);
            let message = error["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("Content-Type: application/json"),
                "{method} {path} says what to send: {message}"
            );
        }
    }
    assert_eq!(rows(), before, "a refused body wrote nothing");
    let (_, connection) = get(&api, &format!("/api/v1/connections/{sandbox}"));
    assert_eq!(
        connection["name"], "Sandbox",
        "the refused PATCH changed nothing"
    );
    // The same bodies as JSON succeed (a charset parameter of UTF-8 is fine).
    for (method, path, body, status) in &routes {
        let answer = send(
            &api,
            method,
            path,
            Some("application/json; charset=utf-8"),
            &body.to_string(),
        );
        assert_eq!(answer.status, *status, "{method} {path}: {}", answer.body);
    }
    let (_, connection) = get(&api, &format!("/api/v1/connections/{sandbox}"));
    assert_eq!(connection["name"], "Renamed");
    // A path that does not exist stays a 404, whatever the content type.
    for content_type in [None, Some("application/json")] {
        let answer = send(&api, "POST", "/api/v1/nothing-here", content_type, "{}");
        refused(&answer, 404, "not_found", None);
    }
}

#[test]
fn query_parameters_that_do_not_parse_are_400_naming_them() {
    let install = Install::new();
    let server = serve_quick(&install);
    let (api, sandbox) = account(&install, &server, "owner@shop.test");
    for text in ["first", "second"] {
        let (status, answer) = api.send(json!({"connection_id": sandbox, "to": "+96550001234",
            "type": "text", "text": {"body": text}}));
        assert_eq!(status, 202, "{answer}");
    }
    let (status, _) = api.call(
        "POST",
        &format!("/api/v1/connections/{sandbox}/sandbox/inbound"),
        Some(json!({"from": "+96550001234", "text": "Hi"})),
        &[],
    );
    assert_eq!(status, 200);
    let (_, conversations) = get(&api, "/api/v1/conversations");
    let conversation = conversations["data"][0]["id"].as_str().unwrap().to_owned();
    let (_, endpoint) = api.call(
        "POST",
        "/api/v1/webhook-endpoints",
        Some(json!({"url": ok_endpoint()})),
        &[],
    );
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();
    let deliveries = format!("/api/v1/webhook-endpoints/{endpoint}/deliveries");
    let thread = format!("/api/v1/conversations/{conversation}");
    let cases = [
        ("/api/v1/messages?since=abc", "since"),
        ("/api/v1/messages?since=-5", "since"),
        ("/api/v1/messages?until=yesterday", "until"),
        ("/api/v1/messages?limit=-5", "limit"),
        ("/api/v1/messages?limit=0", "limit"),
        ("/api/v1/messages?limit=201", "limit"),
        ("/api/v1/messages?limit=ten", "limit"),
        ("/api/v1/messages?connection_id=abc", "connection_id"),
        ("/api/v1/messages?cursor=abc", "cursor"),
        ("/api/v1/messages?status=lost", "status"),
        ("/api/v1/messages?to=abc", "to"),
        ("/api/v1/messages?limt=5", "limt"),
        ("/api/v1/messages?limit=5&limit=6", "limit"),
        ("/api/v1/conversations?connection_id=x", "connection_id"),
        ("/api/v1/conversations?cursor=x", "cursor"),
        ("/api/v1/conversations?limit=-5", "limit"),
        (&format!("{thread}?cursor=x"), "cursor"),
        (&format!("{thread}?limit=-5"), "limit"),
        (&format!("{deliveries}?status=lost"), "status"),
        (&format!("{deliveries}?limit=-5"), "limit"),
        (&format!("{deliveries}?limit=501"), "limit"),
        ("/api/v1/connections?kind=sandbox", "kind"),
        ("/api/v1/templates?connection_id=1", "connection_id"),
        ("/api/v1/webhook-endpoints?paused=true", "paused"),
    ];
    for (path, field) in cases {
        let answer = send(&api, "GET", path, None, "");
        let error = refused(&answer, 400, "invalid_field", Some(field));
        assert!(
            error["message"].as_str().is_some_and(|m| m.len() > 10),
            "{path} says what is allowed: {error}"
        );
    }
    // Valid values are applied, not ignored.
    let (status, page) = get(&api, "/api/v1/messages?limit=1");
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
    let (status, all) = get(&api, "/api/v1/messages");
    assert_eq!(status, 200);
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    let created: i64 = all["data"][1]["timestamps"]["created"].as_i64().unwrap();
    let (_, later) = get(
        &api,
        &format!("/api/v1/messages?since={}", created + 3_600_000),
    );
    assert_eq!(later["data"], json!([]), "since filters");
    let (_, until) = get(&api, &format!("/api/v1/messages?until={}", created - 1));
    assert_eq!(until["data"], json!([]), "until filters");
    let (_, by_number) = get(
        &api,
        &format!("/api/v1/messages?to=%2B96550001234&connection_id={sandbox}&limit=200"),
    );
    assert_eq!(by_number["data"].as_array().unwrap().len(), 2);
    for path in [
        "/api/v1/conversations?limit=1".to_owned(),
        format!("{thread}?limit=1"),
        format!("{deliveries}?status=pending&limit=500"),
        "/api/v1/connections".to_owned(),
    ] {
        let (status, answer) = get(&api, &path);
        assert_eq!(status, 200, "{path}: {answer}");
    }
}

#[test]
fn fields_of_the_wrong_type_are_400_naming_them_and_write_nothing() {
    let install = Install::new();
    let server = serve_quick(&install);
    let (api, sandbox) = account(&install, &server, "owner@shop.test");
    let post = |path: &str, body: Value| api.call("POST", path, Some(body), &[]);
    let field = |answer: &Value| answer["error"]["details"]["field"].clone();
    let rows = |table: &str| count(&install, &format!("SELECT count(*) FROM {table}"));

    // Connections: a boolean given as a word, a number as a string, a field that does not exist.
    for (body, name) in [
        (
            json!({"kind": "sandbox", "name": "Strict", "enforce_window": "yes"}),
            "enforce_window",
        ),
        (
            json!({"kind": "sandbox", "name": "Fast", "throughput_mps": "80"}),
            "throughput_mps",
        ),
        (json!({"kind": "sandbox", "name": 42}), "name"),
        (
            json!({"kind": "sandbox", "name": "Typo", "enforce_windw": true}),
            "enforce_windw",
        ),
    ] {
        let (status, answer) = post("/api/v1/connections", body.clone());
        assert_eq!(
            (status, field(&answer)),
            (400, json!(name)),
            "{body}: {answer}"
        );
        assert_eq!(answer["error"]["code"], "invalid_field");
    }
    assert_eq!(rows("connections"), 1, "only the account's first number");
    let (status, strict) = post(
        "/api/v1/connections",
        json!({"kind": "sandbox", "name": "Strict", "enforce_window": true}),
    );
    assert_eq!(status, 201, "{strict}");
    assert_eq!(strict["enforce_window"], true);
    let strict = strict["id"].as_str().unwrap().to_owned();
    let (status, answer) = api.call_patch(
        &format!("/api/v1/connections/{strict}"),
        json!({"enforce_window": "no"}),
    );
    assert_eq!(
        (status, field(&answer)),
        (400, json!("enforce_window")),
        "{answer}"
    );
    let (_, unchanged) = get(&api, &format!("/api/v1/connections/{strict}"));
    assert_eq!(
        unchanged["enforce_window"], true,
        "the refused PATCH changed nothing"
    );
    let (status, changed) = api.call_patch(
        &format!("/api/v1/connections/{strict}"),
        json!({"enforce_window": false}),
    );
    assert_eq!((status, &changed["enforce_window"]), (200, &json!(false)));

    // Messages: Meta's fields and ours, each with its type.
    for (body, name) in [
        (
            json!({"connection_id": sandbox, "to": "+96550001234", "type": "text", "text": {"body": 5}}),
            "text.body",
        ),
        (
            json!({"connection_id": 7, "to": "+96550001234", "type": "text", "text": {"body": "hi"}}),
            "connection_id",
        ),
        (
            json!({"connection_id": sandbox, "to": 96550001234_i64, "type": "text", "text": {"body": "hi"}}),
            "to",
        ),
        (
            json!({"connection_id": sandbox, "to": "+96550001234", "type": "text", "text": {"body": "hi", "preview_url": "yes"}}),
            "text.preview_url",
        ),
        (
            json!({"connection_id": sandbox, "to": "+96550001234", "type": "text", "text": {"body": "hi"}, "contxt": {}}),
            "contxt",
        ),
    ] {
        let (status, answer) = api.send(body.clone());
        assert_eq!(
            (status, field(&answer)),
            (400, json!(name)),
            "{body}: {answer}"
        );
    }
    assert_eq!(rows("messages"), 0);
    let (status, answer) = api.send(
        json!({"connection_id": sandbox, "messaging_product": "whatsapp",
        "to": "+96550001234", "type": "text", "text": {"body": "hi", "preview_url": true}}),
    );
    assert_eq!(status, 202, "{answer}");
    assert_eq!(rows("messages"), 1);

    // Webhook endpoints.
    let url = ok_endpoint();
    for (body, name) in [
        (
            json!({"url": url, "event_types": "message.status"}),
            "event_types",
        ),
        (
            json!({"url": url, "event_types": ["message.status", 3]}),
            "event_types[1]",
        ),
        (json!({"url": url, "description": false}), "description"),
    ] {
        let (status, answer) = post("/api/v1/webhook-endpoints", body.clone());
        assert_eq!(
            (status, field(&answer)),
            (400, json!(name)),
            "{body}: {answer}"
        );
    }
    assert_eq!(rows("webhook_endpoints"), 0);
    let (status, endpoint) = post(
        "/api/v1/webhook-endpoints",
        json!({"url": url, "event_types": ["message.status"], "description": "shop"}),
    );
    assert_eq!(status, 201, "{endpoint}");
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();
    let (status, answer) = api.call_patch(
        &format!("/api/v1/webhook-endpoints/{endpoint}"),
        json!({"paused": "true"}),
    );
    assert_eq!((status, field(&answer)), (400, json!("paused")), "{answer}");
    let (_, unchanged) = get(&api, &format!("/api/v1/webhook-endpoints/{endpoint}"));
    assert_eq!(unchanged["paused"], false);
    let (status, paused) = api.call_patch(
        &format!("/api/v1/webhook-endpoints/{endpoint}"),
        json!({"paused": true}),
    );
    assert_eq!((status, &paused["paused"]), (200, &json!(true)));

    // The sandbox's customer: a number as the text no longer becomes "Hello".
    let inbound = format!("/api/v1/connections/{sandbox}/sandbox/inbound");
    for (body, name) in [
        (json!({"from": "+96550001234", "text": 123}), "text"),
        (json!({"from": 96550001234_i64}), "from"),
        (json!({"from": "+96550001234", "name": ["Sara"]}), "name"),
    ] {
        let (status, answer) = post(&inbound, body.clone());
        assert_eq!(
            (status, field(&answer)),
            (400, json!(name)),
            "{body}: {answer}"
        );
    }
    assert_eq!(rows("inbound_messages"), 0);
    let (status, answer) = post(&inbound, json!({"from": "+96550001234", "text": "123"}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(rows("inbound_messages"), 1);
    let (_, conversations) = get(&api, "/api/v1/conversations");
    let conversation = conversations["data"][0]["id"].as_str().unwrap().to_owned();
    let (_, thread) = get(&api, &format!("/api/v1/conversations/{conversation}"));
    let received = thread["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["direction"] == "inbound")
        .expect("the customer's message");
    assert_eq!(received["message"]["text"]["body"], "123");

    // Erasing a customer.
    let (status, answer) = post("/api/v1/contacts/erase", json!({"phone": 96550001234_i64}));
    assert_eq!((status, field(&answer)), (400, json!("phone")), "{answer}");
    assert_eq!(rows("inbound_messages"), 1, "nothing erased");
    let (status, answer) = post("/api/v1/contacts/erase", json!({"phone": "+96550001234"}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(rows("inbound_messages"), 0);
}

#[test]
fn the_bearer_scheme_is_accepted_in_any_case_and_every_401_has_a_challenge() {
    let install = Install::new();
    let server = serve_quick(&install);
    let (api, _) = account(&install, &server, "owner@shop.test");
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let auth = format!("{scheme} {}", api.key);
        let answer = request(
            &api.base,
            "GET",
            "/api/v1/connections",
            &[("Authorization", &auth)],
            "",
        );
        assert_eq!(answer.status, 200, "{scheme}: {}", answer.body);
    }
    let wrong_key = format!("Bearer wapi_{}", "0".repeat(40));
    for (headers, challenge) in [
        (vec![], "Bearer"),
        (vec![("Authorization", "Basic b3duZXI6c2VjcmV0")], "Bearer"),
        (
            vec![("Authorization", wrong_key.as_str())],
            r#"Bearer error="invalid_token""#,
        ),
        (
            vec![("Authorization", "bearer not-a-key")],
            r#"Bearer error="invalid_token""#,
        ),
    ] {
        for (method, path) in [("GET", "/api/v1/messages"), ("POST", "/api/v1/connections")] {
            let mut headers = headers.clone();
            headers.push(("Content-Type", "application/json"));
            let answer = request(&api.base, method, path, &headers, "{}");
            refused(&answer, 401, "unauthorized", None);
            assert_eq!(
                answer.header("WWW-Authenticate"),
                challenge,
                "{method} {path} with {headers:?}"
            );
        }
    }
    assert_eq!(count(&install, "SELECT count(*) FROM connections"), 1);
}

/// Sends raw bytes as a JSON body with the account's key, and extra raw headers.
fn send_bytes(api: &Api, path: &str, extra: &[(&str, &[u8])], body: &[u8]) -> Answer {
    let auth = format!("Bearer {}", api.key);
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("Authorization", auth.as_bytes()),
        ("Content-Type", b"application/json"),
    ];
    headers.extend_from_slice(extra);
    request_bytes(&api.base, "POST", path, &headers, body)
}

#[test]
fn broken_json_is_a_400_saying_where_it_broke() {
    let install = Install::new();
    let server = serve_quick(&install);
    let (api, _) = account(&install, &server, "owner@shop.test");
    let json_type = Some("application/json");
    let broken = "{\n  \"kind\": \"sandbox\",\n  \"name\": \"Second\",,\n}";
    let answer = send(&api, "POST", "/api/v1/connections", json_type, broken);
    let error = refused(&answer, 400, "invalid_json", None);
    assert_eq!(error["details"]["line"], 3, "{error}");
    assert_eq!(error["details"]["column"], 20, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("line 3"),
        "{error}"
    );
    for body in [
        "",
        "  ",
        "{\"kind\": \"sandbox\"",
        "{\"kind\": \"sandbox\"} {}",
    ] {
        let answer = send(&api, "POST", "/api/v1/connections", json_type, body);
        refused(&answer, 400, "invalid_json", None);
    }
    let answer = send(&api, "POST", "/api/v1/connections", json_type, "[1, 2]");
    refused(&answer, 400, "invalid_field", Some("body"));
    // A body that is not UTF-8 (JSON is UTF-8): where the first bad byte is.
    let answer = send_bytes(
        &api,
        "/api/v1/connections",
        &[],
        b"{\"kind\": \"sandbox\", \"name\": \"Caf\xe9\"}",
    );
    let error = refused(&answer, 400, "invalid_json", None);
    assert!(
        error["message"].as_str().unwrap().contains("UTF-8"),
        "{error}"
    );
    assert_eq!(error["details"]["column"], 33, "{error}");
    assert_eq!(count(&install, "SELECT count(*) FROM connections"), 1);
    // The positive control: the same request, well formed.
    let fixed = broken.replace(",,", "");
    let answer = send(&api, "POST", "/api/v1/connections", json_type, &fixed);
    assert_eq!(answer.status, 201, "{}", answer.body);
}

#[test]
fn a_body_over_the_limit_is_a_413_in_json_naming_the_limit() {
    let install = Install::new();
    let server = serve_quick(&install);
    let (api, _) = account(&install, &server, "owner@shop.test");
    let long = format!(
        r#"{{"kind": "sandbox", "name": "{}"}}"#,
        "x".repeat(1024 * 1024 + 10)
    );
    let answer = send_bytes(&api, "/api/v1/connections", &[], long.as_bytes());
    let error = refused(&answer, 413, "payload_too_large", None);
    assert_eq!(error["details"]["limit_bytes"], 1024 * 1024, "{error}");
    assert_eq!(count(&install, "SELECT count(*) FROM connections"), 1);
    // Within the limit, the same request is judged on its content.
    let answer = send_bytes(
        &api,
        "/api/v1/connections",
        &[],
        br#"{"kind": "sandbox", "name": "Second"}"#,
    );
    assert_eq!(answer.status, 201, "{}", answer.body);
}

/// Held already before the bodies were read strictly (the vendored Rocket keeps a non-UTF-8 header
/// value, with U+FFFD, for the guard to refuse); kept here with the other refusals so it stays so.
#[test]
fn a_header_that_is_not_utf8_is_a_400_naming_it_and_unknown_paths_are_json() {
    let install = Install::new();
    let server = serve_quick(&install);
    let (api, sandbox) = account(&install, &server, "owner@shop.test");
    let message = json!({"connection_id": sandbox, "to": "+96550001234", "type": "text", "text": {"body": "Hi"}})
        .to_string();
    let answer = send_bytes(
        &api,
        "/api/v1/messages",
        &[("Idempotency-Key", b"order-\xff\xfe-42")],
        message.as_bytes(),
    );
    refused(&answer, 400, "invalid_field", Some("Idempotency-Key"));
    assert_eq!(count(&install, "SELECT count(*) FROM messages"), 0);
    let answer = send_bytes(
        &api,
        "/api/v1/messages",
        &[("Idempotency-Key", b"order-42")],
        message.as_bytes(),
    );
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(count(&install, "SELECT count(*) FROM messages"), 1);
    // Paths and methods that lead nowhere are answered in JSON too.
    let answer = send(&api, "GET", "/api/v1/no-such-thing", None, "");
    refused(&answer, 404, "not_found", None);
    let answer = send(&api, "DELETE", "/api/v1/messages", None, "");
    assert!(
        matches!(answer.status, 404 | 405),
        "{} {}",
        answer.status,
        answer.body
    );
    json_of(&answer);
}
