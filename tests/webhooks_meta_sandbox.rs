//! The sandbox posts signed statuses on its own, as Meta does: the built-in one in the server sends sent,
//! delivered and read for a message; `whatsapi sandbox` as a separate process signs its webhooks with the
//! secret it was given, and a server killed with SIGKILL while its statuses pour in loses none it
//! acknowledged, since the simulator retries what was not. (Meta's webhooks posted by the tests
//! themselves: tests/webhooks_meta.rs.)

mod common;

use common::api::{Api, account, count};
use common::meta::{QUIET, SECRET, hook, message, messages_payload, post, serve, signature};
use common::{Install, Sandbox};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A "cloud" connection whose Meta is `whatsapi sandbox` running as its own process (the server must
/// allow its address), which is told where to post the number's statuses; the connection's JSON.
fn simulated_meta(api: &Api, sandbox: &Sandbox) -> Value {
    let (status, cloud) = api.call(
        "POST",
        "/api/v1/connections",
        Some(
            json!({"kind": "cloud", "name": "Simulated Meta", "phone_number_id": "106540352242922",
            "waba_id": "102290129340398", "access_token": "token", "app_secret": SECRET,
            "graph_base_url": sandbox.url, "throughput_mps": 1000}),
        ),
        &[],
    );
    assert_eq!(status, 201, "{cloud}");
    sandbox.set_webhook(
        cloud["phone_number_id"].as_str().unwrap(),
        cloud["webhook_url"].as_str().unwrap(),
        SECRET,
    );
    cloud
}

fn wait_until_read(api: &Api, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let message = message(api, id);
        if message["status"] == "read" {
            return message;
        }
        assert!(Instant::now() < deadline, "stayed {}", message["status"]);
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn reported(message: &Value) -> Vec<String> {
    message["status_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_built_in_sandbox_posts_signed_sent_delivered_and_read_webhooks() {
    let install = Install::new();
    let server = serve(&install, [20, 150, 300]);
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let (status, answer) = api.send(json!({"connection_id": connection, "to": "+96550001234",
        "type": "text", "text": {"body": "Hello"}}));
    assert_eq!(status, 202, "{answer}");
    let read = wait_until_read(&api, answer["id"].as_str().unwrap());
    assert_eq!(reported(&read), ["sent", "delivered", "read"]);
    assert!(read["timestamps"]["delivered"].is_i64());
    assert_eq!(count(&install, "SELECT count(*) FROM webhook_payloads"), 3);
}

#[test]
fn the_standalone_sandbox_signs_its_webhooks_with_the_secret_it_was_given() {
    let sandbox = Sandbox::start(&[
        "--sent-after-ms",
        "10",
        "--delivered-after-ms",
        "50",
        "--read-after-ms",
        "100",
    ]);
    let mut install = Install::new();
    install.env.push(sandbox.allowed());
    let server = serve(&install, QUIET);
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let own = hook(&api, &connection);
    let cloud = simulated_meta(&api, &sandbox);
    let webhook_url = cloud["webhook_url"].as_str().unwrap().to_owned();
    let cloud_id = cloud["id"].as_str().unwrap();
    let mut ids = Vec::new();
    for n in 0..20 {
        let (status, answer) = api.send(
            json!({"connection_id": cloud_id, "to": format!("+96550{n:04}5"),
            "type": "text", "text": {"body": "Hello"}}),
        );
        assert_eq!(status, 202, "{answer}");
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        let read = wait_until_read(&api, id);
        assert_eq!(reported(&read), ["sent", "delivered", "read"]);
    }
    // Signed with the wrong secret, the same simulator's webhooks would be refused.
    assert_ne!(own.url, webhook_url);
    let payload = messages_payload(&own, r#""statuses":[]"#);
    assert_eq!(
        post(
            &webhook_url,
            Some(&signature("sandbox-app-secret", payload.as_bytes())),
            payload.as_bytes()
        )
        .0,
        401
    );
}

#[test]
fn a_kill_9_during_a_flood_of_status_webhooks_loses_no_acknowledged_status() {
    const MESSAGES: usize = 400;
    let sandbox = Sandbox::start(&[
        "--sent-after-ms",
        "10",
        "--delivered-after-ms",
        "300",
        "--read-after-ms",
        "900",
    ]);
    let mut install = Install::new();
    install.env.push(sandbox.allowed());
    let port = common::free_port();
    let start = |install: &Install| {
        let mut cmd = install.command(&["serve"]);
        cmd.env("WHATSAPI_SERVER__PORT", port.to_string());
        install.serve_with(cmd)
    };
    let server = start(&install);
    let (api, _) = account(&install, &server, "owner@shop.test");
    let cloud = simulated_meta(&api, &sandbox);
    let id = cloud["id"].as_str().unwrap();
    // Numbers ending in 5: no sandbox error code does, so every message is a plain success.
    for n in 0..MESSAGES {
        let (status, answer) = api
            .send(json!({"connection_id": id, "to": format!("+96551{n:04}5"),
            "type": "text", "text": {"body": "Your order"}}));
        assert_eq!(status, 202, "{answer}");
    }
    let acknowledged = || -> Value {
        ureq::get(format!("{}/_sandbox/acknowledged", sandbox.url))
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap()
    };
    // Kill the server while statuses are pouring in.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged()["count"].as_u64().unwrap() < (MESSAGES as u64) {
        assert!(Instant::now() < deadline, "the flood did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill9();
    std::thread::sleep(Duration::from_millis(300));
    let server = start(&install);
    // The simulator retries what was not acknowledged; every message ends read.
    let deadline = Instant::now() + Duration::from_secs(90);
    while count(
        &install,
        "SELECT count(*) FROM messages WHERE status = 'read'",
    ) < MESSAGES as i64
    {
        assert!(
            Instant::now() < deadline,
            "{} messages read",
            count(
                &install,
                "SELECT count(*) FROM messages WHERE status = 'read'"
            )
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(server);
    let db = rusqlite::Connection::open(install.db_path()).unwrap();
    let acknowledged = acknowledged();
    let pairs = acknowledged["statuses"].as_array().unwrap();
    assert!(pairs.len() >= 3 * MESSAGES, "{}", pairs.len());
    for pair in pairs {
        let stored: i64 = db
            .query_row(
                "SELECT count(*) FROM message_statuses WHERE wamid = ?1 AND status = ?2",
                [pair[0].as_str().unwrap(), pair[1].as_str().unwrap()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, 1, "acknowledged but not stored: {pair}");
    }
    let unfinished: i64 = db
        .query_row(
            "SELECT count(*) FROM messages WHERE status != 'read'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unfinished, 0);
}
