//! Nothing accepted is lost: the server is killed with SIGKILL in the middle of a burst of 2,000 messages
//! and restarted; every accepted message ends `sent`, and a message is sent twice only if it was in
//! flight to Meta at the moment of the kill. Meta is the simulator running as its own process, so it
//! survives the kill and counts what it received.

mod common;

use common::{Install, Sandbox, Server, free_port};
use serde_json::{Value, json};
use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const MESSAGES: usize = 2000;
const CLIENTS: usize = 8;
const WORKERS: usize = 32;

fn serve(install: &Install, port: u16) -> Server {
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_SERVER__PORT", port.to_string())
        .env("WHATSAPI_SENDER__WORKERS", WORKERS.to_string());
    install.serve_with(cmd)
}

#[test]
fn a_kill_9_in_the_middle_of_a_burst_loses_nothing() {
    let sandbox = Sandbox::start(&["--latency-ms", "20"]);
    let mut install = Install::new();
    install.env.push(sandbox.allowed());
    let port = free_port();
    let server = serve(&install, port);
    let base = server.url.clone();

    let mut create = install
        .command(&[
            "account",
            "create",
            "--company",
            "Shop",
            "--name",
            "Owner",
            "--email",
            "o@shop.test",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    create
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough pass phrase\n")
        .unwrap();
    let account = String::from_utf8(create.wait_with_output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned();
    let key = String::from_utf8(
        install
            .run(&["apikey", "create", "--account", &account, "--name", "t"])
            .stdout,
    )
    .unwrap();
    let auth = format!("Bearer {}", key.trim());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let connection: Value = agent
        .post(format!("{base}/api/v1/connections"))
        .header("Authorization", &auth)
        .send_json(json!({"kind": "cloud", "name": "main", "phone_number_id": "106540352242922", "waba_id": "102290129340398",
            "access_token": "token", "app_secret": "secret", "graph_base_url": sandbox.url.clone(),
            "throughput_mps": 1000}))
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let connection = connection["id"].as_str().unwrap().to_owned();

    // Clients retry every message until it is accepted, with the same Idempotency-Key, across the kill.
    let accepted = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (agent, auth, base, connection, accepted) =
                (agent.clone(), auth.clone(), base.clone(), connection.clone(), accepted.clone());
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for i in (client..MESSAGES).step_by(CLIENTS) {
                    let body = json!({"connection_id": connection, "to": format!("+9655{i:06}5"), "type": "text",
                        "text": {"body": format!("message {i}")}});
                    let deadline = Instant::now() + Duration::from_secs(60);
                    loop {
                        let answer = agent
                            .post(format!("{base}/api/v1/messages"))
                            .header("Authorization", &auth)
                            .header("Idempotency-Key", &format!("message-{i}"))
                            .send_json(&body);
                        if let Ok(mut response) = answer
                            && response.status().as_u16() == 202
                        {
                            let answer: Value = response.body_mut().read_json().unwrap();
                            ids.push(answer["id"].as_str().unwrap().to_owned());
                            accepted.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        assert!(Instant::now() < deadline, "message {i} was never accepted");
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
                ids
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(60);
    while accepted.load(Ordering::Relaxed) < MESSAGES / 3 {
        assert!(Instant::now() < deadline, "the burst did not get going");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill9();
    std::thread::sleep(Duration::from_millis(300));
    let restarted = serve(&install, port);
    let ids: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert_eq!(ids.len(), MESSAGES);

    let db = rusqlite::Connection::open(install.db_path()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sent: i64 = db
            .query_row(
                "SELECT count(*) FROM messages WHERE status = 'sent'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if sent as usize == MESSAGES {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {sent} of {MESSAGES} accepted messages were sent after the restart"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let rows: i64 = db
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        rows, MESSAGES as i64,
        "retried POSTs created no second message"
    );
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");

    let received: Value = ureq::get(format!("{}/_sandbox/received", sandbox.url))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let counts = received["counts"].as_object().unwrap();
    let missing: Vec<&String> = ids.iter().filter(|id| !counts.contains_key(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} accepted messages never reached Meta",
        missing.len()
    );
    let duplicates = counts
        .values()
        .filter(|n| n.as_u64().unwrap_or(0) > 1)
        .count();
    // At most what was claimed and not yet recorded at the kill: the workers' calls, the hand-over queue
    // and the batch the dispatcher was handing over.
    assert!(
        duplicates <= 3 * WORKERS,
        "{duplicates} messages were sent twice"
    );
    drop(restarted);
}
