//! The sender is fair: one account's slow-paced backlog or one number paused by Meta never delays other
//! numbers' messages, and a message is sent to Meta once, however short its lease. These tests assert the
//! order of events (which message was sent before which), never a wall-clock figure.

mod common;

use common::api::{Api, account, cloud_number, count};
use common::{Install, Sandbox, Server};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn new_number(api: &Api, name: &str, mps: i64) -> String {
    let (status, created) = api.call(
        "POST",
        "/api/v1/connections",
        Some(json!({"kind": "sandbox", "name": name, "throughput_mps": mps})),
        &[],
    );
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

fn queue(api: &Api, connection: &str, to: &str) -> String {
    let (status, answer) = api.send(
        json!({"connection_id": connection, "to": to, "type": "text", "text": {"body": "Hello"}}),
    );
    assert_eq!(status, 202, "{answer}");
    answer["id"].as_str().unwrap().to_owned()
}

fn message(api: &Api, id: &str) -> Value {
    let (status, message) = api.call("GET", &format!("/api/v1/messages/{id}"), None, &[]);
    assert_eq!(status, 200, "{message}");
    message
}

/// When each message was sent (ms), once all of them are (waiting at most 30 s).
fn sent_times(api: &Api, ids: &[String]) -> Vec<i64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    ids.iter()
        .map(|id| {
            loop {
                if let Some(at) = message(api, id)["timestamps"]["sent"].as_i64() {
                    break at;
                }
                assert!(Instant::now() < deadline, "message {id} was not sent");
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .collect()
}

fn sent_on(install: &Install, connection: &str) -> i64 {
    count(
        install,
        &format!(
            "SELECT count(*) FROM messages WHERE connection_id = {connection} AND sent_at IS NOT NULL"
        ),
    )
}

fn serve(install: &Install) -> Server {
    let mut cmd = install.command(&["serve"]);
    // Statuses from the sandbox are not needed here; keep them out of the way.
    cmd.env("WHATSAPI_SANDBOX__SENT_AFTER_MS", "86400000")
        .env("WHATSAPI_SANDBOX__DELIVERED_AFTER_MS", "86400000")
        .env("WHATSAPI_SANDBOX__READ_AFTER_MS", "86400000");
    install.serve_with(cmd)
}

#[test]
fn one_accounts_slow_backlog_does_not_delay_another_account() {
    let install = Install::new();
    let server = serve(&install);
    let (a, _) = account(&install, &server, "a@shop.test");
    let (b, b_number) = account(&install, &server, "b@other.test");
    // Account A: 300 messages on a number paced at one message per second.
    let slow = new_number(&a, "Slow", 1);
    for n in 0..300 {
        queue(&a, &slow, &format!("+9655{n:07}"));
    }
    // Account B, after that: 40 messages at the default pace.
    let ids: Vec<String> = (0..40)
        .map(|n| queue(&b, &b_number, &format!("+9656{n:07}")))
        .collect();
    sent_times(&b, &ids);
    let a_sent = sent_on(&install, &slow);
    assert!(
        a_sent < 40,
        "B's last message was sent after A's 40th ({a_sent} of A's were sent)"
    );
    assert!(a_sent >= 1, "A's number sends too, at its pace");
}

#[test]
fn a_number_paused_by_meta_does_not_delay_the_other_numbers() {
    let install = Install::new();
    let server = serve(&install);
    let (api, other) = account(&install, &server, "owner@shop.test");
    let throttled = new_number(&api, "Throttled", 80);
    // Meta answers 130429 (rate limit hit) to the reserved test number: the number pauses for seconds.
    let first = queue(&api, &throttled, "+15550199130429");
    let deadline = Instant::now() + Duration::from_secs(20);
    while message(&api, &first)["error"]["code"] != 130429 {
        assert!(Instant::now() < deadline, "Meta's 130429 was not recorded");
        std::thread::sleep(Duration::from_millis(20));
    }
    // While it is paused: a backlog on the paused number, then messages on another number.
    let backlog: Vec<String> = (0..100)
        .map(|n| queue(&api, &throttled, &format!("+9655{n:07}")))
        .collect();
    let others: Vec<String> = (0..20)
        .map(|n| queue(&api, &other, &format!("+9656{n:07}")))
        .collect();
    let others_sent = sent_times(&api, &others);
    let backlog_sent = sent_times(&api, &backlog);
    let last_other = others_sent.iter().max().unwrap();
    let first_resumed = backlog_sent.iter().min().unwrap();
    assert!(
        last_other < first_resumed,
        "the other number waited for the paused one: its last message at {last_other}, the paused \
         number's first after the pause at {first_resumed}"
    );
}

#[test]
fn a_lease_shorter_than_the_call_never_sends_a_message_twice() {
    // Meta answers after 1.5 s, the lease is 1 s, and the number sends two messages a second.
    let simulator = Sandbox::start(&["--latency-ms", "1500"]);
    let mut install = Install::new();
    install.env.push(simulator.allowed());
    install
        .env
        .push(("WHATSAPI_SENDER__LEASE_SECS".into(), "1".into()));
    let server = install.serve();
    let (api, _) = account(&install, &server, "owner@shop.test");
    let connection = cloud_number(&api, &simulator.url, 2)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ids: Vec<String> = (0..10)
        .map(|n| queue(&api, &connection, &format!("+9655{n:07}")))
        .collect();
    sent_times(&api, &ids);
    let received = simulator.report();
    for id in &ids {
        assert_eq!(
            received["counts"][id], 1,
            "message {id} reached Meta {} times",
            received["counts"][id]
        );
    }
}
