//! Customers' webhook endpoints through the real server: events signed the Standard Webhooks way (checked
//! here by an implementation of our own, not the server's), retried after errors and timeouts,
//! dead-lettered, replayed, paused by 410 Gone, kept across a kill -9, and URLs that would reach inside
//! the operator's network refused.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::api::{Api, account};
use common::{Install, Server, free_port};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the test endpoint answers one request.
#[derive(Clone)]
enum Answer {
    Status(u16),
    /// Answers only after this long (longer than the server waits).
    Slow(Duration),
    Redirect(String),
}

#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A customer's endpoint: answers from a script (then 200) and keeps what it received.
struct Endpoint {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Endpoint {
    fn start(script: &[Answer]) -> Endpoint {
        Endpoint::on(TcpListener::bind("127.0.0.1:0").unwrap(), script)
    }

    fn on(listener: TcpListener, script: &[Answer]) -> Endpoint {
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.iter().cloned().collect::<VecDeque<_>>()));
        let (keep, plan) = (received.clone(), script);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (keep, plan) = (keep.clone(), plan.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut headers = Vec::new();
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).unwrap();
                        let header = header.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        let (k, v) = header.split_once(':').unwrap();
                        headers.push((k.trim().to_owned(), v.trim().to_owned()));
                    }
                    let length: usize = headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        .map_or(0, |(_, v)| v.parse().unwrap());
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    keep.lock().unwrap().push(Received { headers, body });
                    let answer = plan
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or(Answer::Status(200));
                    let response = match answer {
                        Answer::Status(code) => {
                            format!(
                                "HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            )
                        }
                        Answer::Slow(wait) => {
                            std::thread::sleep(wait);
                            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                                .into()
                        }
                        Answer::Redirect(to) => format!(
                            "HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        ),
                    };
                    let _ = stream.write_all(response.as_bytes());
                });
            }
        });
        Endpoint { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (at most 20 s) until `n` requests arrived.
    fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} requests arrived",
                received.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The Standard Webhooks check, written from the specification: HMAC-SHA256 keyed with the base64 part
/// of the secret, over `id.timestamp.body`, compared with each `v1,` signature in the header.
fn verify(secret: &str, received: &Received) -> bool {
    let id = received.header("webhook-id");
    let timestamp = received.header("webhook-timestamp");
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&received.body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (t - chrono_now()).abs() < 300);
    fresh
        && received
            .header("webhook-signature")
            .split(' ')
            .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A server that may post to http and loopback (the test endpoint), gives up waiting after 1 s and
/// retries twice, one second apart.
fn serve(install: &Install) -> Server {
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_WEBHOOKS__ALLOW_INSECURE_TARGETS", "true")
        .env("WHATSAPI_WEBHOOKS__TIMEOUT_SECS", "1")
        .env("WHATSAPI_WEBHOOKS__RETRY_DELAYS_SECS", "[1, 1]")
        .env("WHATSAPI_SANDBOX__SENT_AFTER_MS", "20")
        .env("WHATSAPI_SANDBOX__DELIVERED_AFTER_MS", "60")
        .env("WHATSAPI_SANDBOX__READ_AFTER_MS", "100");
    install.serve_with(cmd)
}

fn subscribe(api: &Api, url: &str, types: &[&str]) -> (String, String) {
    let (status, created) = api.call(
        "POST",
        "/api/v1/webhook-endpoints",
        Some(json!({"url": url, "event_types": types, "description": "shop backend"})),
        &[],
    );
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, shown) = api.call("GET", &format!("/api/v1/webhook-endpoints/{id}"), None, &[]);
    assert_eq!(shown["secret"], Value::Null, "the secret is shown once");
    (id, secret)
}

fn send_text(api: &Api, connection: &str, to: &str) -> String {
    let (status, answer) = api.send(
        json!({"connection_id": connection, "to": to, "type": "text", "text": {"body": "Hello"}}),
    );
    assert_eq!(status, 202, "{answer}");
    answer["id"].as_str().unwrap().to_owned()
}

fn deliveries(api: &Api, endpoint: &str, status: &str) -> Vec<Value> {
    let (code, list) = api.call(
        "GET",
        &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries?status={status}"),
        None,
        &[],
    );
    assert_eq!(code, 200, "{list}");
    list["data"].as_array().unwrap().clone()
}

fn wait_for_deliveries(api: &Api, endpoint: &str, status: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = deliveries(api, endpoint, status);
        if found.len() >= n {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{} {status} deliveries",
            found.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn events_arrive_signed_the_standard_webhooks_way() {
    let install = Install::new();
    let server = serve(&install);
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let endpoint = Endpoint::start(&[]);
    let (_, secret) = subscribe(&api, &endpoint.url, &["message.status", "message.received"]);
    let id = send_text(&api, &connection, "+96550001234");
    let statuses = endpoint.wait_for(3);
    let mut seen = Vec::new();
    for received in &statuses {
        assert!(
            verify(&secret, received),
            "signature of {:?}",
            received.headers
        );
        let event = received.json();
        assert_eq!(event["type"], "message.status");
        assert_eq!(event["data"]["message_id"], id);
        seen.push(event["data"]["status"].as_str().unwrap().to_owned());
    }
    seen.sort();
    assert_eq!(seen, ["delivered", "read", "sent"]);
    let ids: std::collections::HashSet<&str> =
        statuses.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 3, "each event has its own id");

    let (status, _) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/sandbox/inbound"),
        Some(json!({"from": "+96550009999", "text": "مرحبا، هل طلبي جاهز؟", "name": "Sara"})),
        &[],
    );
    assert_eq!(status, 200);
    let all = endpoint.wait_for(4);
    let received = all
        .iter()
        .find(|r| r.json()["type"] == "message.received")
        .expect("the inbound message's event");
    assert!(verify(&secret, received));
    let event = received.json();
    assert_eq!(event["data"]["from"], "+96550009999");
    assert_eq!(event["data"]["name"], "Sara");
    assert_eq!(
        event["data"]["message"]["text"]["body"],
        "مرحبا، هل طلبي جاهز؟"
    );
    // A tampered body fails the same check.
    let mut forged = received.clone();
    forged.body[10] ^= 1;
    assert!(!verify(&secret, &forged));
}

#[test]
fn failed_deliveries_are_retried_then_dead_lettered_and_replayed() {
    let install = Install::new();
    let server = serve(&install);
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let endpoint = Endpoint::start(&[
        Answer::Status(500),
        Answer::Slow(Duration::from_secs(3)),
        Answer::Status(503),
    ]);
    let (id, secret) = subscribe(&api, &endpoint.url, &["message.status"]);
    // A final Meta error: exactly one event (failed), sent by the server itself.
    send_text(&api, &connection, "+15550199131026");
    let dead = wait_for_deliveries(&api, &id, "failed", 1);
    assert_eq!(dead[0]["attempts"], 3);
    assert_eq!(dead[0]["last_code"], 503);
    let (_, detail) = api.call(
        "GET",
        &format!(
            "/api/v1/webhook-endpoints/{id}/deliveries/{}",
            dead[0]["id"].as_str().unwrap()
        ),
        None,
        &[],
    );
    let codes: Vec<Value> = detail["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].clone())
        .collect();
    assert_eq!(codes, [json!(500), Value::Null, json!(503)], "{detail}");
    assert!(
        detail["attempts"][1]["error"]
            .as_str()
            .unwrap()
            .contains("no answer in time"),
        "{detail}"
    );
    assert_eq!(endpoint.received().len(), 3);

    let (status, replayed) = api.call(
        "POST",
        &format!("/api/v1/webhook-endpoints/{id}/replay-failed"),
        None,
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(replayed["queued"], 1);
    wait_for_deliveries(&api, &id, "delivered", 1);
    let all = endpoint.wait_for(4);
    assert!(all.iter().all(|r| verify(&secret, r)));
    let ids: std::collections::HashSet<&str> = all.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 1, "every attempt carries the event's one id");
    assert_eq!(all[3].json()["data"]["status"], "failed");
    assert_eq!(all[3].json()["data"]["error"]["code"], 131026);
}

#[test]
fn gone_pauses_the_endpoint_until_it_is_resumed() {
    let install = Install::new();
    let server = serve(&install);
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let endpoint = Endpoint::start(&[Answer::Status(410)]);
    let (id, _) = subscribe(&api, &endpoint.url, &["message.status"]);
    send_text(&api, &connection, "+15550199131026");
    wait_for_deliveries(&api, &id, "failed", 1);
    let (_, paused) = api.call("GET", &format!("/api/v1/webhook-endpoints/{id}"), None, &[]);
    assert_eq!(paused["paused"], true);
    assert!(paused["pause_reason"].as_str().unwrap().contains("410"));
    // While paused, events wait.
    send_text(&api, &connection, "+15550199131026");
    wait_for_deliveries(&api, &id, "pending", 1);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(endpoint.received().len(), 1);
    let (status, resumed) = api.call_patch(
        &format!("/api/v1/webhook-endpoints/{id}"),
        json!({"paused": false}),
    );
    assert_eq!(status, 200, "{resumed}");
    wait_for_deliveries(&api, &id, "delivered", 1);
    assert_eq!(endpoint.wait_for(2).len(), 2);
}

#[test]
fn an_event_waiting_for_its_endpoint_survives_a_kill_9() {
    let install = Install::new();
    let server = serve(&install);
    let (api, connection) = account(&install, &server, "owner@shop.test");
    // Nothing listens there yet: every attempt fails to connect.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let (id, secret) = subscribe(&api, &url, &["message.status"]);
    send_text(&api, &connection, "+15550199131026");
    let deadline = Instant::now() + Duration::from_secs(20);
    while deliveries(&api, &id, "pending")
        .first()
        .is_none_or(|d| d["attempts"].as_i64() == Some(0))
    {
        assert!(Instant::now() < deadline, "no failed attempt");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.kill9();
    let endpoint = Endpoint::on(TcpListener::bind(("127.0.0.1", port)).unwrap(), &[]);
    let server = serve(&install);
    let api = Api {
        base: server.url.clone(),
        ..api
    };
    wait_for_deliveries(&api, &id, "delivered", 1);
    let received = endpoint.wait_for(1);
    assert!(verify(&secret, &received[0]));
    assert_eq!(received[0].json()["data"]["status"], "failed");
}

#[test]
fn urls_that_reach_inside_the_network_are_refused() {
    let install = Install::new();
    let server = install.serve();
    let (api, _) = account(&install, &server, "owner@shop.test");
    for url in [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/x",
        "https://10.0.0.1/x",
        "https://localhost:8443/x",
        "ftp://hooks.example.com/x",
    ] {
        let (status, answer) = api.call(
            "POST",
            "/api/v1/webhook-endpoints",
            Some(json!({"url": url, "event_types": ["message.status"]})),
            &[],
        );
        assert_eq!(status, 400, "{url}: {answer}");
        assert_eq!(answer["error"]["details"]["field"], "url", "{url}");
    }
    let (status, answer) = api.call(
        "POST",
        "/api/v1/webhook-endpoints",
        Some(json!({"url": "https://93.184.216.34/x", "event_types": ["message.sent"]})),
        &[],
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["details"]["field"], "event_types");
    assert_eq!(
        common::api::count(&install, "SELECT count(*) FROM webhook_endpoints"),
        0
    );
}

#[test]
fn a_redirect_is_not_followed() {
    let install = Install::new();
    let server = serve(&install);
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let inside = Endpoint::start(&[]);
    let endpoint = Endpoint::start(&[Answer::Redirect(inside.url.clone())]);
    let (id, _) = subscribe(&api, &endpoint.url, &["message.status"]);
    send_text(&api, &connection, "+15550199131026");
    let deadline = Instant::now() + Duration::from_secs(20);
    let attempted = loop {
        let all = deliveries(&api, &id, "pending");
        if let Some(d) = all.iter().find(|d| d["attempts"].as_i64() >= Some(1)) {
            break d.clone();
        }
        assert!(Instant::now() < deadline, "no attempt");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(attempted["last_code"], 302);
    assert!(
        attempted["last_error"]
            .as_str()
            .unwrap()
            .contains("redirects are not followed")
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        inside.received().is_empty(),
        "the redirect target got nothing"
    );
}

/// The owner's view of one delivery: its status and how many attempts it has had.
fn delivery_attempts(api: &Api, endpoint: &str, delivery: &str) -> (String, usize) {
    let (status, detail) = api.call(
        "GET",
        &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries/{delivery}"),
        None,
        &[],
    );
    assert_eq!(status, 200, "{detail}");
    (
        detail["status"].as_str().unwrap_or_default().to_owned(),
        detail["attempts"].as_array().map_or(0, Vec::len),
    )
}

#[test]
fn another_account_can_neither_see_nor_replay_a_real_delivery() {
    let install = Install::new();
    let server = serve(&install);
    let (shop, connection) = account(&install, &server, "owner@shop.test");
    let (other, _) = account(&install, &server, "owner@other.test");
    let endpoint = Endpoint::start(&[]);
    let (id, _) = subscribe(&shop, &endpoint.url, &["message.status"]);
    send_text(&shop, &connection, "+15550199131026");
    let delivered = wait_for_deliveries(&shop, &id, "delivered", 1);
    let delivery = delivered[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        delivery_attempts(&shop, &id, &delivery),
        ("delivered".into(), 1)
    );
    for (method, path) in [
        ("GET", format!("/api/v1/webhook-endpoints/{id}")),
        ("GET", format!("/api/v1/webhook-endpoints/{id}/deliveries")),
        (
            "GET",
            format!("/api/v1/webhook-endpoints/{id}/deliveries/{delivery}"),
        ),
        (
            "POST",
            format!("/api/v1/webhook-endpoints/{id}/deliveries/{delivery}/replay"),
        ),
        (
            "POST",
            format!("/api/v1/webhook-endpoints/{id}/replay-failed"),
        ),
        ("DELETE", format!("/api/v1/webhook-endpoints/{id}")),
    ] {
        let (status, body) = other.call(method, &path, None, &[]);
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    let (status, _) = other.call_patch(
        &format!("/api/v1/webhook-endpoints/{id}"),
        json!({"paused": true}),
    );
    assert_eq!(status, 404);
    let (_, list) = other.call("GET", "/api/v1/webhook-endpoints", None, &[]);
    assert_eq!(list["data"], json!([]));
    let (_, mine) = shop.call("GET", &format!("/api/v1/webhook-endpoints/{id}"), None, &[]);
    assert_eq!(mine["paused"], false, "untouched by the other account");

    // The owner's own replay works, and it is the only one: the delivery has its first attempt and this.
    let (status, replayed) = shop.call(
        "POST",
        &format!("/api/v1/webhook-endpoints/{id}/deliveries/{delivery}/replay"),
        None,
        &[],
    );
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["queued"], 1);
    common::wait_until("the owner's replay is delivered", || {
        let (status, attempts) = delivery_attempts(&shop, &id, &delivery);
        status == "delivered" && attempts >= 2
    });
    assert_eq!(
        delivery_attempts(&shop, &id, &delivery),
        ("delivered".into(), 2)
    );
    assert_eq!(endpoint.received().len(), 2);
}
