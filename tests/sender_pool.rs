//! The sender's connections to Meta: a burst of messages reuses the connections the workers opened
//! instead of opening one per message (against graph.facebook.com each new one is a TLS handshake).

mod common;

use common::api::{account, cloud_number};
use common::{Install, Sandbox};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[test]
fn bursts_open_no_more_connections_to_meta_than_there_are_workers() {
    let simulator = Sandbox::start(&["--latency-ms", "200"]);
    let mut install = Install::new();
    install.env.push(simulator.allowed());
    for (name, value) in [
        ("WHATSAPI_SENDER__WORKERS", "64"),
        ("WHATSAPI_SENDER__TEMPLATE_SYNC_SCHEDULE", "0 0 0 29 2 *"),
    ] {
        install.env.push((name.into(), value.into()));
    }
    let server = install.serve();
    let (api, _) = account(&install, &server, "owner@shop.test");
    let connection = cloud_number(&api, &simulator.url, 1000)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Each look at the simulator's report is one connection of the test's own, counted here.
    let mut looks = 0u64;
    let mut received = || -> Value {
        looks += 1;
        simulator.report()
    };
    // Two bursts with a pause between: the connections the first one opened serve the second.
    let mut sent = 0;
    for burst in 0..2 {
        for n in 0..300 {
            let (status, answer) = api.send(json!({"connection_id": connection,
                "to": format!("+9655{burst}{n:06}"), "type": "text", "text": {"body": "Hello"}}));
            assert_eq!(status, 202, "{answer}");
        }
        sent += 300;
        let deadline = Instant::now() + Duration::from_secs(60);
        while received()["counts"].as_object().unwrap().len() < sent {
            assert!(Instant::now() < deadline, "burst {burst} was not sent");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let report = received();
    let opened_by_the_server = report["connections"].as_u64().unwrap() - looks;
    assert!(
        (1..=64).contains(&opened_by_the_server),
        "the server opened {opened_by_the_server} connections for {sent} messages with 64 workers"
    );
}

#[test]
fn the_pool_grows_to_what_the_numbers_may_send_times_metas_latency() {
    // A number that may send 200 messages a second through a Meta answering in 200 ms wants about 40
    // calls in flight: the pool grows from its least (2) towards that, and never past its most (64).
    let simulator = Sandbox::start(&["--latency-ms", "200"]);
    let mut install = Install::new();
    install.env.push(simulator.allowed());
    for (name, value) in [
        ("WHATSAPI_SENDER__MIN_WORKERS", "2"),
        ("WHATSAPI_SENDER__MAX_WORKERS", "64"),
    ] {
        install.env.push((name.into(), value.into()));
    }
    let server = install.serve();
    let (api, _) = account(&install, &server, "owner@shop.test");
    let connection = cloud_number(&api, &simulator.url, 200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for n in 0..400 {
        let (status, answer) = api.send(json!({"connection_id": connection,
            "to": format!("+9655{n:07}"), "type": "text", "text": {"body": "Hello"}}));
        assert_eq!(status, 202, "{answer}");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while simulator.report()["counts"].as_object().unwrap().len() < 400 {
        assert!(Instant::now() < deadline, "not all were sent");
        std::thread::sleep(Duration::from_millis(50));
    }
    let most = simulator.report()["most_in_flight"].as_u64().unwrap();
    assert!(
        (8..=64).contains(&most),
        "at most {most} calls were in flight at once"
    );
}
