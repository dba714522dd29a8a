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

/// Message `n` (below 100) of an account, to its own number.
fn send(api: &Api, connection: &str, n: usize) -> String {
    let (status, message) = api.send(
        json!({"connection_id": connection, "to": format!("+965500000{n:02}"),
        "type": "text", "text": {"body": format!("message {n}")}}),
    );
    assert_eq!(status, 202, "{message}");
    message["id"].as_str().unwrap().to_owned()
}

/// What a stop with calls to Meta in flight left, and what the next start sent.
struct Stopped {
    /// Each message's id and its status in the database once the stopped process had ended.
    at_stop: Vec<(String, String)>,
    /// The slow simulator's count per message id when the stopped process had ended.
    before: serde_json::Value,
    /// The fast simulator's count per message id once the next start had sent everything.
    after: serde_json::Value,
    stop_log: Vec<String>,
    restart_log: Vec<String>,
}

impl Stopped {
    fn with_status(&self, status: &str) -> Vec<&str> {
        self.at_stop
            .iter()
            .filter(|(_, s)| s == status)
            .map(|(id, _)| id.as_str())
            .collect()
    }
}

/// Queues twelve messages to a simulator that answers after `latency_ms`, stops the server (given
/// `shutdown_secs`) once three calls are at the simulator, waits for it to end by itself, then starts it
/// again against a simulator at the same address that answers at once, until every message is sent.
fn stop_with_calls_in_flight(latency_ms: u64, shutdown_secs: u64) -> Stopped {
    let sandbox = Sandbox::start(&["--latency-ms", &latency_ms.to_string()]);
    let mut install = Install::new();
    install.env.push(sandbox.allowed());
    install.env.push((
        "WHATSAPI_SERVER__SHUTDOWN_SECS".into(),
        shutdown_secs.to_string(),
    ));
    let mut server = install.serve();
    let (api, _) = account(&install, &server, "owner@shop.test");
    let connection = cloud_number(&api, &sandbox.url, 5)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ids: Vec<String> = (1..=12).map(|n| send(&api, &connection, n)).collect();

    // Calls are at Meta, waiting for their answer, and more messages wait in the queue.
    let deadline = Instant::now() + Duration::from_secs(20);
    while sandbox.report()["most_in_flight"].as_u64().unwrap_or(0) < 3 {
        assert!(Instant::now() < deadline, "no calls reached the simulator");
        std::thread::sleep(Duration::from_millis(20));
    }
    common::signal(&server.child, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not end by itself"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let stop_log = server.lines.lock().unwrap().clone();
    let before = sandbox.report()["counts"].clone();

    let db = rusqlite::Connection::open(install.db_path()).unwrap();
    let mut rows = db.prepare("SELECT id, status FROM messages").unwrap();
    let mut at_stop: Vec<(String, String)> = rows
        .query_map([], |r| Ok((r.get::<_, i64>(0)?.to_string(), r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    at_stop.sort();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(
        at_stop.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        sorted
    );

    // Meta, answering at once now, at the address the connection names.
    let address = sandbox.url.trim_start_matches("http://").to_owned();
    drop(sandbox);
    let fast = Sandbox::start_at(&address, &[]);
    let restarted = install.serve();
    let api = Api {
        base: restarted.url.clone(),
        ..api
    };
    for id in &ids {
        api.wait_for(id, &["sent", "delivered", "read"]);
    }
    let after = fast.report()["counts"].clone();
    let restart_log = restarted.lines.lock().unwrap().clone();
    Stopped {
        at_stop,
        before,
        after,
        stop_log,
        restart_log,
    }
}

fn logged(lines: &[String], text: &str) -> usize {
    lines.iter().filter(|l| l.contains(text)).count()
}

#[test]
fn at_sigterm_the_calls_in_flight_finish_within_shutdown_secs_and_every_message_is_sent_exactly_once()
 {
    let stopped = stop_with_calls_in_flight(2000, 10);
    assert_eq!(
        logged(&stopped.stop_log, "the server stopped cleanly"),
        1,
        "{:#?}",
        stopped.stop_log
    );
    assert_eq!(logged(&stopped.stop_log, "still unanswered"), 0);
    // The calls in flight finished and were recorded before the process ended; nothing is left leased;
    // the messages not yet called wait in the queue.
    let (sent, queued) = (stopped.with_status("sent"), stopped.with_status("queued"));
    assert!(sent.len() >= 3, "{:?}", stopped.at_stop);
    assert!(!queued.is_empty(), "{:?}", stopped.at_stop);
    assert_eq!(sent.len() + queued.len(), 12, "{:?}", stopped.at_stop);
    for id in &sent {
        assert_eq!(stopped.before[id], 1, "message {id}");
        assert!(stopped.after[id].is_null(), "message {id} was sent again");
    }
    for id in &queued {
        assert!(stopped.before[id].is_null(), "message {id}");
        assert_eq!(stopped.after[id], 1, "message {id}");
    }
    assert_eq!(
        logged(&stopped.restart_log, "resending messages"),
        0,
        "none was left in flight"
    );
}

#[test]
fn at_sigterm_a_call_outlasting_shutdown_secs_is_made_again_at_the_next_start_and_nothing_is_lost()
{
    let stopped = stop_with_calls_in_flight(4000, 1);
    assert_eq!(
        logged(&stopped.stop_log, "still unanswered"),
        1,
        "{:#?}",
        stopped.stop_log
    );
    // The calls cut off stay in flight (as after a crash); those not yet called wait in the queue.
    let (cut_off, queued) = (
        stopped.with_status("sending"),
        stopped.with_status("queued"),
    );
    let sent = stopped.with_status("sent");
    assert!(cut_off.len() >= 3, "{:?}", stopped.at_stop);
    assert!(!queued.is_empty(), "{:?}", stopped.at_stop);
    assert_eq!(
        cut_off.len() + queued.len() + sent.len(),
        12,
        "{:?}",
        stopped.at_stop
    );
    // Every message not answered before the stop is sent by the next start, once; a call cut off is
    // made again (the documented exception: Meta may have taken the first); a queued one only once.
    for id in &sent {
        assert_eq!(stopped.before[id], 1, "message {id}");
        assert!(stopped.after[id].is_null(), "message {id} was sent again");
    }
    for id in cut_off.iter().chain(&queued) {
        assert_eq!(stopped.after[id], 1, "message {id}");
    }
    for id in &queued {
        assert!(
            stopped.before[id].is_null(),
            "message {id} reached Meta before the stop"
        );
    }
    let resent = stopped
        .restart_log
        .iter()
        .find(|l| l.contains("resending messages"))
        .unwrap_or_else(|| panic!("{:#?}", stopped.restart_log));
    assert!(
        resent.contains(&format!("messages={}", cut_off.len())),
        "{resent}"
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
