//! Starting and stopping as an operator meets them, through the real binary: a SIGTERM (or a log
//! rotation's SIGHUP) during start-up, a stop while a send to Meta is in flight, and what the first
//! start prints.

mod common;

use common::api::{Api, account, cloud_number};
use common::{Install, Sandbox, stderr};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use whatsapi::store::migrations::LATEST;

/// The start-up hook of debug builds: wait before this migration step until a signal comes.
const HOLD: &str = "DEBUG_WHATSAPI_HOLD_BEFORE_MIGRATION";

/// Starts `args` held before migration `step`; returns once it says it waits there, with its log so far.
fn held_at(install: &Install, args: &[&str], step: i64) -> (Child, mpsc::Receiver<String>) {
    let mut child = install
        .command(args)
        .env(HOLD, step.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start whatsapi");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line)
                if line.contains(&format!("holding start-up before migration step {step}")) =>
            {
                return (child, rx);
            }
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the start-up never reached the held migration");
            }
        }
    }
}

fn user_version(install: &Install) -> i64 {
    common::api::count(install, "SELECT user_version FROM pragma_user_version")
}

fn integrity(install: &Install) -> String {
    rusqlite::Connection::open(install.db_path())
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn sigterm_during_the_migrations_stops_cleanly_between_two_steps_and_a_later_start_finishes_them() {
    let install = Install::new();
    let (mut child, log) = held_at(&install, &["serve"], 12);
    // A log rotation's HUP during start-up is ignored; the TERM after it stops the start-up.
    common::signal(&child, libc::SIGHUP);
    common::signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    let rest: Vec<String> = log.iter().collect(); // to the end: the process has exited
    assert_eq!(status.code(), Some(0), "{status:?}: {rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.contains("stopped during start-up at SIGTERM")),
        "{rest:?}"
    );
    // Eleven steps committed, none half applied.
    assert_eq!(user_version(&install), 11);
    assert_eq!(integrity(&install), "ok");

    let server = install.serve();
    let migrated = server.wait_for_line("migrated the database");
    assert!(
        migrated.contains(&format!(
            "from schema version 11 to {LATEST} ({} migrations)",
            LATEST - 11
        )),
        "{migrated}"
    );
    assert_eq!(server.get("/healthz").0, 200);
}

#[test]
fn sigterm_during_migrate_stops_it_cleanly_and_migrate_finishes_later() {
    let install = Install::new();
    let (mut child, log) = held_at(&install, &["migrate"], 5);
    common::signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    let rest: Vec<String> = log.iter().collect(); // to the end: the process has exited
    assert_eq!(status.code(), Some(0), "{status:?}: {rest:?}");
    assert_eq!(user_version(&install), 4);
    assert_eq!(integrity(&install), "ok");

    let again = install.run(&["migrate"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains(&format!("from schema version 4 to {LATEST}")),
        "{}",
        stderr(&again)
    );
    assert_eq!(user_version(&install), LATEST);
}

#[test]
fn a_command_without_a_clean_stop_still_ends_at_sigterm() {
    // `apikey create` has nothing to stop cleanly: it ends at a signal as it always did (the positive
    // control of the handler that keeps the start-up of `serve` and `migrate` alive).
    let install = Install::new();
    whatsapi::crypto::create_key_file(&install.key_file()).unwrap();
    let mut child = install
        .command(&["apikey", "create", "--account", "1", "--name", "x"])
        .env(HOLD, "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let held = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("holding start-up before migration step 1"));
    assert!(held, "the command never reached the held migration");
    common::signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
}

/// The messages an account sends through the simulator `sandbox`, paced at one a second.
fn send(api: &Api, connection: &str, n: usize) -> String {
    let (status, message) = api.send(
        json!({"connection_id": connection, "to": format!("+9655000000{n}"),
        "type": "text", "text": {"body": format!("message {n}")}}),
    );
    assert_eq!(status, 202, "{message}");
    message["id"].as_str().unwrap().to_owned()
}

#[test]
fn a_send_in_flight_at_sigterm_finishes_and_every_message_is_sent_exactly_once() {
    let sandbox = Sandbox::start(&["--latency-ms", "3000"]);
    let mut install = Install::new();
    install.env.push(sandbox.allowed());
    let mut server = install.serve();
    let (api, _) = account(&install, &server, "owner@shop.test");
    let connection = cloud_number(&api, &sandbox.url, 1)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ids: Vec<String> = (1..=3).map(|n| send(&api, &connection, n)).collect();

    // The first call is at Meta, waiting for its answer, when the stop begins.
    let deadline = Instant::now() + Duration::from_secs(20);
    while sandbox.report()["most_in_flight"].as_u64().unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "no call reached the simulator");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    server.wait_for_line("the server stopped cleanly");
    assert_eq!(server.logged("still unanswered"), 0);
    // The call in flight finished, and its answer was recorded before the process ended.
    let sent_before = common::api::count(
        &install,
        "SELECT count(*) FROM messages WHERE status = 'sent'",
    );
    assert!(sent_before >= 1, "the send in flight was not finished");
    assert_eq!(
        common::api::count(
            &install,
            "SELECT count(*) FROM messages WHERE status = 'sending'"
        ),
        0,
        "nothing is left leased"
    );

    let restarted = install.serve();
    let api = Api {
        base: restarted.url.clone(),
        ..api
    };
    for id in &ids {
        api.wait_for(id, &["sent", "delivered", "read"]);
    }
    let counts = sandbox.report()["counts"].clone();
    for id in &ids {
        assert_eq!(
            counts[id], 1,
            "message {id} reached Meta {} times",
            counts[id]
        );
    }
    assert_eq!(
        restarted.logged("resending messages"),
        0,
        "none was in flight"
    );
}

#[test]
fn the_first_start_says_in_one_line_it_created_the_database_and_ends_with_the_setup_link() {
    let install = Install::new();
    let mut server = install.serve();
    let link = server.setup_link();
    // Answering means everything printed at start was printed.
    assert_eq!(server.get("/healthz").0, 200);
    assert!(server.terminate().success());
    server.wait_for_line("the server stopped cleanly");
    let lines = server.lines.lock().unwrap().clone();

    let about_the_database: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("the database") || l.contains("migration"))
        .collect();
    assert_eq!(about_the_database.len(), 1, "{lines:#?}");
    assert!(
        about_the_database[0].contains(&format!(
            "created the database {} at schema version {LATEST} ({LATEST} migrations)",
            install.db_path().display()
        )),
        "{lines:#?}"
    );

    // The link comes last, after the server says it listens, set apart by blank lines, with a sentence.
    let at = |text: &str| lines.iter().position(|l| l.contains(text)).unwrap();
    let listening = at("listening on");
    let sentence = at("No operator yet");
    let link_at = lines.iter().position(|l| l.trim() == link).unwrap();
    let stopping = lines
        .iter()
        .position(|l| l.contains("SIGTERM") || l.contains("stopping: "))
        .unwrap();
    assert!(listening < sentence && sentence < link_at && link_at < stopping);
    assert!(lines[sentence - 1].trim().is_empty(), "{lines:#?}");
    assert!(
        lines[link_at + 1..stopping]
            .iter()
            .all(|l| l.trim().is_empty()),
        "nothing after the link but the stop: {lines:#?}"
    );
    assert!(lines[sentence].contains("create the first operator"));
}

/// A customer's endpoint that holds its first request for two seconds (announcing it), answers every
/// request 200, and counts the requests of each event (`webhook-id`).
struct SlowFirst {
    url: String,
    ids: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    first: mpsc::Receiver<()>,
}

impl SlowFirst {
    fn start() -> SlowFirst {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, first) = mpsc::channel();
        let seen = ids.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let (seen, tx) = (seen.clone(), tx.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let (mut id, mut length) = (String::new(), 0);
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            match name.trim().to_ascii_lowercase().as_str() {
                                "webhook-id" => id = value.trim().to_owned(),
                                "content-length" => length = value.trim().parse().unwrap(),
                                _ => {}
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    seen.lock().unwrap().push(id);
                    if n == 0 {
                        let _ = tx.send(());
                        std::thread::sleep(Duration::from_secs(2));
                    }
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                });
            }
        });
        SlowFirst { url, ids, first }
    }
}

fn deliveries(install: &Install, status: &str) -> i64 {
    common::api::count(
        install,
        &format!("SELECT count(*) FROM webhook_deliveries WHERE status = '{status}'"),
    )
}

#[test]
fn at_sigterm_the_webhook_delivery_in_flight_finishes_and_those_claimed_after_it_go_back_to_the_queue()
 {
    let install = Install::new();
    let serve = || {
        let mut cmd = install.command(&["serve"]);
        cmd.env("WHATSAPI_WEBHOOKS__ALLOW_INSECURE_TARGETS", "true")
            .env("WHATSAPI_WEBHOOKS__WORKERS", "1")
            .env("WHATSAPI_SANDBOX__SENT_AFTER_MS", "10")
            .env("WHATSAPI_SANDBOX__DELIVERED_AFTER_MS", "20")
            .env("WHATSAPI_SANDBOX__READ_AFTER_MS", "30");
        install.serve_with(cmd)
    };
    let mut server = serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let endpoint = SlowFirst::start();
    let (status, created) = api.call(
        "POST",
        "/api/v1/webhook-endpoints",
        Some(json!({"url": endpoint.url, "event_types": ["message.status"]})),
        &[],
    );
    assert_eq!(status, 201, "{created}");
    let path = format!(
        "/api/v1/webhook-endpoints/{}",
        created["id"].as_str().unwrap()
    );
    // Paused while the events gather, so that the one worker claims them all at once.
    assert_eq!(api.call_patch(&path, json!({"paused": true})).0, 200);
    for n in 1..=2 {
        send(&api, &connection, n);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while deliveries(&install, "pending") < 6 {
        assert!(Instant::now() < deadline, "the statuses' events never came");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(api.call_patch(&path, json!({"paused": false})).0, 200);
    endpoint
        .first
        .recv_timeout(Duration::from_secs(20))
        .expect("the first delivery never came");

    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    // The delivery in flight finished; the others claimed with it are waiting again, none leased.
    assert_eq!(deliveries(&install, "delivered"), 1);
    assert_eq!(deliveries(&install, "delivering"), 0);
    assert_eq!(deliveries(&install, "pending"), 5);

    let restarted = serve();
    let deadline = Instant::now() + Duration::from_secs(20);
    while deliveries(&install, "delivered") < 6 {
        assert!(
            Instant::now() < deadline,
            "the deliveries put back were not made"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let ids = endpoint.ids.lock().unwrap().clone();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(ids.len(), 6, "each event was delivered once: {ids:?}");
    assert_eq!(distinct.len(), 6, "{ids:?}");
    assert_eq!(restarted.logged("retrying webhook deliveries"), 0);
}
