//! `serve` under systemd's `Type=notify`, with the socket systemd would give it (a Unix datagram socket
//! named by NOTIFY_SOCKET) made by the test: READY=1 only once the store answers, then `/healthz` answers
//! (none while the writer is wedged, and a start whose store does not answer in time fails with exit
//! status 1), STATUS= lines while it starts,
//! WATCHDOG=1 pings while the store's writer answers and none once it is wedged (a test hook of debug
//! builds), STOPPING=1 when SIGTERM starts the stop.

mod common;

use common::{Install, Server};
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the server sent to the socket, one line per state, in order.
struct Notifications {
    lines: Arc<Mutex<Vec<String>>>,
}

impl Notifications {
    /// Binds the socket at `path` and reads it for as long as the test runs (a sender would block on
    /// a full socket, as it would under a systemd that stopped reading).
    fn listen(path: &std::path::Path) -> Notifications {
        let socket = UnixDatagram::bind(path).expect("bind the notify socket");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        std::thread::spawn(move || {
            let mut buffer = vec![0u8; 4096];
            while let Ok(n) = socket.recv(&mut buffer) {
                let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
                seen.lock().unwrap().extend(text.lines().map(str::to_owned));
            }
        });
        Notifications { lines }
    }

    fn count(&self, line: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| *l == line)
            .count()
    }

    /// Waits (at most 20 s) until `line` was received `times` times.
    fn wait_for(&self, line: &str, times: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.count(line) < times {
            assert!(
                Instant::now() < deadline,
                "{line} was received {} times, not {times}: {:?}",
                self.count(line),
                self.lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn all(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Sends the test's own line to the socket and waits until it is read: whatever the server sent
    /// before it has been read too (a datagram socket keeps their order).
    fn mark(&self, socket: &std::path::Path) {
        let marks = self.count("MARK=1");
        UnixDatagram::unbound()
            .unwrap()
            .send_to(b"MARK=1\n", socket)
            .expect("send the mark");
        self.wait_for("MARK=1", marks + 1);
    }
}

/// `serve` told to notify `socket`, with a watchdog of one second.
fn serve_notifying(install: &Install, socket: &std::path::Path) -> Server {
    let mut cmd = install.command(&["serve"]);
    cmd.env("NOTIFY_SOCKET", socket)
        .env("WATCHDOG_USEC", "1000000")
        .env_remove("WATCHDOG_PID")
        .env("DEBUG_WHATSAPI_WEDGE_WRITER_FILE", install.path("wedge"));
    install.serve_with(cmd)
}

#[test]
fn ready_comes_once_the_server_answers_and_the_watchdog_stops_when_the_writer_is_wedged() {
    let install = Install::new();
    let socket = install.path("notify.sock");
    let notifications = Notifications::listen(&socket);
    let server = serve_notifying(&install, &socket);

    notifications.wait_for("READY=1", 1);
    let (status, body, _) = server.get("/healthz");
    assert_eq!(
        status, 200,
        "READY=1 was sent before /healthz answered: {body}"
    );
    let statuses = notifications.all();
    for expected in [
        "STATUS=opening the store".to_owned(),
        format!(
            "STATUS=migrating the database: step 1 of {} (0001_foundation)",
            whatsapi::store::migrations::LATEST
        ),
        format!("STATUS=ready: listening on {}", server.url),
    ] {
        assert!(statuses.contains(&expected), "{expected}: {statuses:?}");
    }
    let ready_at = statuses.iter().position(|l| l == "READY=1").unwrap();
    let opening = statuses
        .iter()
        .position(|l| l == "STATUS=opening the store")
        .unwrap();
    assert!(opening < ready_at, "{statuses:?}");

    // Pings come while the writer and the sender answer.
    notifications.wait_for("WATCHDOG=1", 2);

    // The writer wedges (the hook says so), and the watchdog withholds every ping from then on.
    std::fs::write(install.path("wedge"), "").unwrap();
    server.wait_for_line("the store's writer is wedged");
    // (A ping withheld before, on a slow machine, does not count.)
    let withheld = |server: &Server| -> Vec<String> {
        let lines = server.lines.lock().unwrap();
        let wedged = lines
            .iter()
            .position(|l| l.contains("the store's writer is wedged"))
            .unwrap();
        lines[wedged..]
            .iter()
            .filter(|l| l.contains("no watchdog ping: the store's writer"))
            .cloned()
            .collect()
    };
    // Six decisions in a row, half an interval apart: three intervals without a ping.
    let deadline = Instant::now() + Duration::from_secs(30);
    while withheld(&server).len() < 6 {
        assert!(
            Instant::now() < deadline,
            "the watchdog kept deciding nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let lines = withheld(&server);
    let sent_so_far = |line: &str| -> usize {
        let at = line.find("pings sent so far: ").unwrap() + "pings sent so far: ".len();
        line[at..].trim_end_matches(')').parse().unwrap()
    };
    let pings = sent_so_far(&lines[0]);
    assert!(pings >= 2, "{lines:?}");
    assert!(
        lines.iter().all(|l| sent_so_far(l) == pings),
        "a ping came between withheld ones: {lines:?}"
    );
    // Every ping the server counted arrived, and no other.
    notifications.wait_for("WATCHDOG=1", pings);
    assert_eq!(notifications.count("WATCHDOG=1"), pings);
    let mut server = server;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server is still running"
    );

    // SIGTERM starts the stop, which it says first, even with its writer wedged.
    common::signal(&server.child, libc::SIGTERM);
    notifications.wait_for("STOPPING=1", 1);
}

#[test]
fn sigterm_sends_stopping_and_the_server_ends_cleanly() {
    let install = Install::new();
    let socket = install.path("notify.sock");
    let notifications = Notifications::listen(&socket);
    let mut server = serve_notifying(&install, &socket);
    notifications.wait_for("READY=1", 1);
    notifications.wait_for("WATCHDOG=1", 1);
    assert_eq!(notifications.count("STOPPING=1"), 0);

    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    notifications.wait_for("STOPPING=1", 1);
    let all = notifications.all();
    let ready = all.iter().position(|l| l == "READY=1").unwrap();
    let stopping = all.iter().position(|l| l == "STOPPING=1").unwrap();
    assert!(ready < stopping, "{all:?}");
    server.wait_for_line("the server stopped cleanly");
}

/// `serve` told to notify `socket`, its store's writer wedged from its first write until the test
/// removes the file `wedge` (the port is bound, but the server answers nothing until its start is done).
fn serve_wedged(install: &Install, socket: &std::path::Path) -> Server {
    std::fs::write(install.path("wedge"), "").unwrap();
    let mut cmd = install.command(&["serve"]);
    cmd.env("NOTIFY_SOCKET", socket)
        .env("WHATSAPI_SERVER__SHUTDOWN_SECS", "1")
        .env("DEBUG_WHATSAPI_WEDGE_WRITER_FILE", install.path("wedge"));
    let server = install.serve_with(cmd);
    server.wait_for_line("the store's writer is wedged");
    server
}

#[test]
fn ready_waits_for_the_store_and_healthz_answers_once_it_is_sent() {
    let install = Install::new();
    let socket = install.path("notify.sock");
    let notifications = Notifications::listen(&socket);
    let server = serve_wedged(&install, &socket);
    // A request made now waits for the start to finish.
    let url = format!("{}/healthz", server.url);
    let health = std::thread::spawn(move || common::get(&url));
    notifications.mark(&socket);
    let all = notifications.all();
    assert!(
        all.contains(&"STATUS=starting the server".to_owned()),
        "{all:?}"
    );
    assert_eq!(notifications.count("READY=1"), 0, "{all:?}");

    // The store answers again: READY=1, then /healthz answers.
    std::fs::remove_file(install.path("wedge")).unwrap();
    notifications.wait_for("READY=1", 1);
    let (status, body, _) = health.join().unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.logged("the store does not answer"), 0);
}

#[test]
fn a_store_that_does_not_answer_at_start_fails_it_without_ready() {
    let install = Install::new();
    let socket = install.path("notify.sock");
    let notifications = Notifications::listen(&socket);
    let mut server = serve_wedged(&install, &socket);

    // It gives the store its time, then gives up; the store coming back later does not save the start.
    // (Longer than `wait_for_line` waits: the store has 30 s.)
    let deadline = Instant::now() + Duration::from_secs(90);
    while server.logged("the store does not answer (the writer did not answer within") == 0 {
        assert!(Instant::now() < deadline, "the start never gave up");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::remove_file(install.path("wedge")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    // Exit status 1: systemd's Restart=on-failure restarts it.
    assert_eq!(exit.code(), Some(1), "{exit:?}");
    server.wait_for_line("error: the store did not answer at start");
    assert_eq!(server.logged("the server stopped cleanly"), 0);
    assert_eq!(server.logged("/setup/"), 0);
    notifications.mark(&socket);
    assert_eq!(
        notifications.count("READY=1"),
        0,
        "{:?}",
        notifications.all()
    );
}
