//! Start-up through the real binary: a fresh install, the refusals that protect the data, backups.

mod common;

use common::{Install, mode_of, stderr, stdout};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs a command that must exit by itself; one that keeps running (a server that started) fails the test.
fn exits_within_10s(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    panic!(
        "the command kept running: {:?}",
        child.wait_with_output().unwrap()
    );
}

fn refused(install: &Install) -> String {
    let output = exits_within_10s(install.command(&["serve"]));
    assert!(
        !output.status.success(),
        "the server should have refused to start"
    );
    stderr(&output)
}

#[test]
fn a_fresh_install_creates_its_key_and_answers_health_checks() {
    let install = Install::new();
    let server = install.serve();
    assert_eq!(mode_of(&install.key_file()), 0o600);
    assert_eq!(mode_of(&install.data_dir()), 0o700);
    let key = std::fs::read_to_string(install.key_file()).unwrap();
    assert_eq!(key.trim().len(), 64, "32 bytes in hex");

    let (status, body, headers) = server.get("/healthz");
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "ok");
    assert_eq!(health["writer"], "ok");
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert!(header("content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(header("x-content-type-options"), "nosniff");

    let (status, body, _) = server.get("/api/v1/nothing-here");
    assert_eq!(status, 404);
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "not_found");
    let (status, body, _) = server.get("/nothing-here");
    assert_eq!(status, 404);
    assert!(body.starts_with("<!doctype html>"));
}

#[test]
fn the_first_start_logs_that_it_created_the_key() {
    let install = Install::new();
    // `migrate` opens the store exactly as `serve` does, then exits, so its whole log can be read.
    let output = install.run(&["migrate"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let log = stderr(&output);
    assert!(log.contains("created a new master key"), "{log}");
    assert!(log.contains(install.key_file().to_str().unwrap()), "{log}");
    // The second start finds both and creates nothing.
    let again = install.run(&["migrate"]);
    assert!(!stderr(&again).contains("created a new master key"));
    assert!(stdout(&again).contains("schema version"));
}

#[test]
fn a_missing_key_with_an_existing_database_is_refused_and_not_replaced() {
    let install = Install::new();
    assert!(install.run(&["migrate"]).status.success());
    std::fs::remove_file(install.key_file()).unwrap();
    let message = refused(&install);
    assert!(
        message.contains("is missing, but the database"),
        "{message}"
    );
    assert!(message.contains("restore the key file"), "{message}");
    assert!(
        !install.key_file().exists(),
        "no new key may be made for existing data"
    );
}

#[test]
fn a_key_that_belongs_to_another_database_is_refused() {
    let install = Install::new();
    assert!(install.run(&["migrate"]).status.success());
    std::fs::remove_file(install.key_file()).unwrap();
    whatsapi::crypto::create_key_file(&install.key_file()).unwrap();
    let message = refused(&install);
    assert!(message.contains("does not match the database"), "{message}");
}

#[test]
fn a_key_file_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let install = Install::new();
    assert!(install.run(&["migrate"]).status.success());
    std::fs::set_permissions(install.key_file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let message = refused(&install);
    assert!(message.contains("chmod 600"), "{message}");

    std::fs::set_permissions(install.key_file(), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(install.key_file(), "not a key\n").unwrap();
    assert!(refused(&install).contains("is not a whatsapi key"));
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let install = Install::new();
    assert!(install.run(&["migrate"]).status.success());
    let conn = rusqlite::Connection::open(install.db_path()).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let message = refused(&install);
    assert!(message.contains("schema version 99"), "{message}");
    assert!(message.contains("newer"), "{message}");
}

#[test]
fn a_second_server_on_the_same_data_is_refused() {
    let install = Install::new();
    let first = install.serve();
    let message = refused(&install);
    assert!(
        message.contains(install.data_dir().to_str().unwrap()),
        "{message}"
    );
    assert_eq!(
        first.get("/healthz").0,
        200,
        "the first server keeps serving"
    );
}

#[test]
fn a_backup_taken_while_another_process_writes_is_consistent() {
    let install = Install::new();
    let server = install.serve();
    // This test process writes to the same file as the server: another process writing alongside it.
    let db_path = install.db_path();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(&db_path).unwrap();
            conn.busy_timeout(Duration::from_secs(10)).unwrap();
            conn.execute_batch("CREATE TABLE IF NOT EXISTS load (n INTEGER, body BLOB)")
                .unwrap();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 200_000 {
                conn.execute_batch(&format!(
                    "BEGIN IMMEDIATE; INSERT INTO load VALUES ({n}, zeroblob(512)); COMMIT;"
                ))
                .unwrap();
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let backup_path = install.path("backup.db");
    let output = install.run(&["backup", backup_path.to_str().unwrap()]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("integrity check: ok"),
        "{}",
        stdout(&output)
    );
    assert!(written > 0);

    assert_eq!(mode_of(&backup_path), 0o600);
    let copy = rusqlite::Connection::open(&backup_path).unwrap();
    let integrity: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let tables: i64 = copy
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('settings', 'accounts', 'users')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 3);
    assert_eq!(server.get("/healthz").0, 200);

    let again = install.run(&["backup", backup_path.to_str().unwrap()]);
    assert!(
        !again.status.success(),
        "an existing file is never overwritten"
    );
}

#[test]
fn a_scheduled_run_missed_while_down_happens_at_the_next_start() {
    let install = Install::new();
    assert!(install.run(&["migrate"]).status.success());
    let two_days_ago = whatsapi::store::now_ms() - 2 * 86_400_000;
    let conn = rusqlite::Connection::open(install.db_path()).unwrap();
    conn.execute(
        "INSERT INTO job_runs (job, started_at, finished_at) VALUES ('maintenance', ?1, ?1)",
        [two_days_ago],
    )
    .unwrap();
    let _server = install.serve();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let caught_up: i64 = conn
            .query_row(
                "SELECT count(*) FROM job_runs WHERE job = 'maintenance' AND started_at > ?1
                 AND finished_at IS NOT NULL AND error IS NULL",
                [two_days_ago],
                |r| r.get(0),
            )
            .unwrap();
        if caught_up == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the missed maintenance run did not happen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn doctor_gives_a_verdict() {
    use std::os::unix::fs::PermissionsExt;
    let install = Install::new();
    assert!(install.run(&["migrate"]).status.success());
    let healthy = install.run(&["doctor"]);
    assert!(healthy.status.success(), "{}", stdout(&healthy));
    assert!(stdout(&healthy).contains("integrity_check: ok"));
    assert!(stdout(&healthy).contains("verdict: healthy"));

    std::fs::set_permissions(install.key_file(), std::fs::Permissions::from_mode(0o640)).unwrap();
    let sick = install.run(&["doctor"]);
    assert!(!sick.status.success());
    assert!(
        stdout(&sick)
            .lines()
            .any(|l| l.starts_with("FAIL") && l.contains("key file")),
        "{}",
        stdout(&sick)
    );
    assert!(stdout(&sick).contains("verdict: 1 problem"));
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let install = Install::new();
    let mut server = install.serve();
    // Rocket installs its signal handler after the liftoff line but before it serves: once a request was
    // answered, SIGTERM means "shut down", not the default "die".
    assert_eq!(server.get("/healthz").0, 200);
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // A clean stop leaves no write-ahead log behind to replay.
    assert!(!install.data_dir().join("whatsapi.db-wal").exists());
}

#[test]
fn root_does_not_write_into_a_data_directory_owned_by_the_service_user() {
    use std::os::unix::fs::MetadataExt;
    let install = Install::new();
    std::fs::create_dir(install.data_dir()).unwrap();
    // Only root can hand a directory to another user; elsewhere the situation cannot arise.
    if std::fs::metadata(install.dir.path()).unwrap().uid() != 0
        || !Command::new("chown")
            .args(["65534", install.data_dir().to_str().unwrap()])
            .status()
            .unwrap()
            .success()
    {
        eprintln!("not running as root: nothing to check");
        return;
    }
    for args in [
        &["migrate"][..],
        &["doctor"],
        &["backup", "/tmp/never-written.db"],
    ] {
        let output = install.run(args);
        assert!(
            !output.status.success(),
            "{args:?} ran as root in another user's data directory"
        );
        let text = stderr(&output) + &stdout(&output);
        assert!(text.contains("sudo -u whatsapi"), "{args:?}: {text}");
    }
    let created: Vec<_> = std::fs::read_dir(install.data_dir()).unwrap().collect();
    assert!(
        created.is_empty(),
        "nothing was created in the service's directory"
    );
}
