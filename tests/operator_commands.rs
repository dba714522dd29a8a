//! Start-up, refusals, `migrate`, `doctor`, `backup` and signals through the real binary.
//!
//! `tests/first_start.rs` already covers a fresh install's key, modes, health check and 404s, a second server on
//! the same data, a missing, foreign, world-readable or garbage key, a newer schema, a backup during writes,
//! a missed scheduled run, `doctor` with a key of mode 0640, and SIGTERM. This file covers what those leave
//! out: what the operator reads in the log, a busy port, keys that are empty, what `migrate`/`doctor`/`backup`
//! do around damaged or foreign data, that a backup really restores, and that a fresh install runs no job.

mod common;

use common::{Install, header, mode_of, run_within, stderr, stdout};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(5);

/// `serve` must refuse: exit status 1 within seconds. Returns stderr.
fn serve_refused(install: &Install) -> String {
    refused(run_within(install.command(&["serve"]), LIMIT))
}

fn refused(output: Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected a refusal: {:?}\n{}",
        output.status,
        stderr(&output)
    );
    stderr(&output)
}

fn migrated() -> Install {
    let install = Install::new();
    let output = install.run(&["migrate"]);
    assert!(output.status.success(), "{}", stderr(&output));
    install
}

fn user_version(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn maintenance_runs(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM job_runs WHERE job = 'maintenance'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// `serve` with maintenance at midnight of 29 February only, so that a run seen during the test cannot be a
/// regular one that happened to fall due.
fn rare_schedule(install: &Install) -> Command {
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_STORAGE__MAINTENANCE_SCHEDULE", "0 0 0 29 2 *");
    cmd
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn the_first_start_logs_the_new_key_and_a_setup_link_that_works() {
    let install = Install::new();
    let server = install.serve();
    let key_line = server
        .log
        .lines()
        .find(|l| l.contains("created a new master key"))
        .unwrap_or_else(|| panic!("no line about the new key:\n{}", server.log));
    assert!(
        key_line.contains(install.key_file().to_str().unwrap()),
        "{key_line}"
    );
    assert!(
        key_line.contains("WARN"),
        "an operator must not miss it: {key_line}"
    );
    assert!(key_line.contains("keep a copy"), "{key_line}");
    assert_eq!(mode_of(&install.key_file()), 0o600);

    // The link printed for the first operator points at the port the server really listens on.
    let link = &server.setup_link();
    assert!(
        link.starts_with(&format!("{}/setup/", server.url)),
        "{link}"
    );
    let (status, body, _) = common::get(link);
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("<!doctype html>"));

    // The second start finds its key and says nothing about a new one.
    let key = std::fs::read(install.key_file()).unwrap();
    server.kill9();
    let again = install.serve();
    assert!(
        !again.log.contains("created a new master key"),
        "{}",
        again.log
    );
    assert_eq!(std::fs::read(install.key_file()).unwrap(), key);
}

#[test]
fn every_kind_of_answer_carries_the_security_headers() {
    let install = Install::new();
    let server = install.serve();
    for (path, status, content_type) in [
        ("/healthz", 200, "application/json"),
        ("/api/v1/x", 404, "application/json"),
        ("/x", 404, "text/html"),
    ] {
        let (got, body, headers) = server.get(path);
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            header(&headers, "content-type").starts_with(content_type),
            "{path}: {headers:?}"
        );
        let csp = header(&headers, "content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src"), "{path}: {csp}");
        assert_eq!(
            header(&headers, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
        assert!(
            !header(&headers, "referrer-policy").is_empty(),
            "{path}: {headers:?}"
        );
        if path == "/api/v1/x" {
            let error: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(error["error"]["code"], "not_found");
            assert!(
                error["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
        if path == "/healthz" {
            let health: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(health["status"], "ok");
            assert_eq!(health["database"], "ok");
            assert_eq!(health["writer"], "ok");
            assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
        }
    }
}

#[test]
fn a_port_in_use_is_refused_naming_the_address() {
    let install = Install::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let mut cmd = install.command(&["serve"]);
    cmd.env(
        "WHATSAPI_SERVER__PORT",
        taken.local_addr().unwrap().port().to_string(),
    );
    let message = refused(run_within(cmd, LIMIT));
    let last = message.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{message}");
    assert!(
        last.contains(&format!("cannot listen on {address}")),
        "{message}"
    );
    assert!(
        last.contains("server.port"),
        "says what to change: {message}"
    );
}

#[test]
fn an_empty_key_file_is_refused_and_never_replaced() {
    // An empty key file is what a failed copy or a full disk leaves: it must not count as "no key".
    let install = Install::new();
    std::fs::write(install.key_file(), "").unwrap();
    set_mode(&install.key_file(), 0o600);
    let message = serve_refused(&install);
    assert!(
        message.contains(install.key_file().to_str().unwrap())
            && message.contains("is not a whatsapi key")
            && message.contains("64 hexadecimal characters"),
        "{message}"
    );
    assert_eq!(std::fs::read(install.key_file()).unwrap(), b"");
    assert!(
        !install.db_path().exists(),
        "no database sealed with nothing"
    );

    let install = migrated();
    std::fs::write(install.key_file(), "").unwrap();
    assert!(serve_refused(&install).contains("is not a whatsapi key"));
    assert_eq!(std::fs::read(install.key_file()).unwrap(), b"");
}

#[test]
fn a_key_file_others_can_read_is_refused_before_a_database_is_made() {
    let install = Install::new();
    std::fs::write(install.key_file(), format!("{}\n", "5a".repeat(32))).unwrap();
    for mode in [0o644, 0o640, 0o604] {
        set_mode(&install.key_file(), mode);
        let message = serve_refused(&install);
        assert!(
            message.contains(&format!("chmod 600 {}", install.key_file().display())),
            "{mode:o}: {message}"
        );
        assert!(
            message.contains(&format!("{mode:o}")),
            "shows the mode: {message}"
        );
        assert!(!install.db_path().exists());
        assert_eq!(
            mode_of(&install.key_file()),
            mode,
            "the file is left as it was"
        );
    }
}

#[test]
fn migrate_twice_changes_nothing_and_reports_the_version() {
    let install = Install::new();
    let first = install.run(&["migrate"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let version = user_version(&install.db_path());
    assert!(version >= 1);
    let expected = format!("is at schema version {version} (the latest)");
    assert!(stdout(&first).contains(&expected), "{}", stdout(&first));
    let created = format!("created the database {}", install.db_path().display());
    assert!(stderr(&first).contains(&created), "{}", stderr(&first));
    assert!(
        stderr(&first).contains(&format!(
            "at schema version {version} ({version} migrations)"
        )),
        "{}",
        stderr(&first)
    );

    let second = install.run(&["migrate"]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(stdout(&second).contains(&expected), "{}", stdout(&second));
    assert!(
        !stderr(&second).contains("created the database")
            && !stderr(&second).contains("migrated the database"),
        "{}",
        stderr(&second)
    );
    assert_eq!(user_version(&install.db_path()), version);
}

#[test]
fn migrate_and_doctor_refuse_a_database_from_a_newer_version_and_leave_it_alone() {
    let install = migrated();
    let conn = rusqlite::Connection::open(install.db_path()).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);

    let message = refused(run_within(install.command(&["migrate"]), LIMIT));
    assert!(
        message.contains("schema version 99") && message.contains("newer"),
        "{message}"
    );
    assert!(message.contains("run the newer whatsapi"), "{message}");
    assert_eq!(user_version(&install.db_path()), 99, "never downgraded");

    let doctor = install.run(&["doctor"]);
    assert_eq!(doctor.status.code(), Some(1));
    let report = stdout(&doctor);
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("FAIL") && l.contains("schema") && l.contains("99")),
        "{report}"
    );
}

#[test]
fn a_damaged_database_is_refused_by_serve_and_found_by_doctor() {
    let install = migrated();
    // Overwrite everything after the first page (the schema stays readable, the tables do not).
    let len = std::fs::metadata(install.db_path()).unwrap().len();
    assert!(len > 8192, "{len}");
    let mut bytes = std::fs::read(install.db_path()).unwrap();
    bytes[4096..].fill(0xA5);
    std::fs::write(install.db_path(), bytes).unwrap();

    let message = serve_refused(&install);
    assert!(
        message.contains(install.db_path().to_str().unwrap()),
        "names the file: {message}"
    );
    assert!(message.contains("malformed"), "{message}");

    let doctor = install.run(&["doctor"]);
    assert_eq!(doctor.status.code(), Some(1), "{}", stdout(&doctor));
    let report = stdout(&doctor);
    assert!(report.lines().any(|l| l.starts_with("FAIL")), "{report}");
    assert!(
        report.contains("verdict: ") && report.contains("problem"),
        "{report}"
    );
}

#[test]
fn doctor_before_the_first_start_creates_nothing() {
    let install = Install::new();
    let output = install.run(&["doctor"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let report = stdout(&output);
    assert!(report.contains("the first start creates it"), "{report}");
    assert!(
        report.contains("verdict: healthy (2 warning(s))"),
        "{report}"
    );
    assert!(!install.key_file().exists(), "doctor made a key");
    assert!(
        !install.data_dir().exists(),
        "doctor made the data directory"
    );
}

#[test]
fn doctor_names_a_missing_or_foreign_key() {
    let install = migrated();
    let key = std::fs::read(install.key_file()).unwrap();
    std::fs::remove_file(install.key_file()).unwrap();
    let output = install.run(&["doctor"]);
    assert_eq!(output.status.code(), Some(1));
    let report = stdout(&output);
    assert!(
        report.lines().any(|l| l.starts_with("FAIL")
            && l.contains("key file")
            && l.contains(install.key_file().to_str().unwrap())),
        "{report}"
    );
    assert!(!install.key_file().exists(), "doctor made a key: {report}");

    std::fs::write(install.key_file(), format!("{}\n", "c3".repeat(32))).unwrap();
    set_mode(&install.key_file(), 0o600);
    let output = install.run(&["doctor"]);
    assert_eq!(output.status.code(), Some(1));
    let report = stdout(&output);
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("FAIL") && l.contains("key match")),
        "{report}"
    );

    std::fs::remove_file(install.key_file()).unwrap();
    std::fs::write(install.key_file(), key).unwrap();
    set_mode(&install.key_file(), 0o600);
    assert!(install.run(&["doctor"]).status.success());
}

#[test]
fn a_backup_restores_into_a_working_installation_with_its_key_and_keystore() {
    let install = Install::new();
    let server = install.serve();
    let (api, _) = common::api::account(&install, &server, "owner@shop.test");
    let backup = install.path("nightly.db");
    let output = install.run(&["backup", backup.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    // The operator is reminded that the key and the keystore are not inside.
    let keystore = install.key_file().with_extension("keystore");
    for needed in [install.key_file(), keystore.clone()] {
        assert!(
            stdout(&output).contains(needed.to_str().unwrap()),
            "{}",
            stdout(&output)
        );
    }
    server.kill9();

    // A new machine: the backup as its database, the key copied beside it but not the keystore: refused,
    // rather than started with the account's data unreadable.
    let restored = Install::new();
    std::fs::create_dir(restored.data_dir()).unwrap();
    std::fs::copy(&backup, restored.db_path()).unwrap();
    std::fs::copy(install.key_file(), restored.key_file()).unwrap();
    let message = serve_refused(&restored);
    assert!(
        message.contains("keystore") && message.contains("does not exist"),
        "{message}"
    );
    std::fs::copy(&keystore, restored.key_file().with_extension("keystore")).unwrap();
    let server = restored.serve();
    assert!(
        !server.log.contains("created a new master key"),
        "{}",
        server.log
    );
    let (status, page) = common::api::Api {
        base: server.url.clone(),
        ..api
    }
    .call("GET", "/api/v1/connections", None, &[]);
    assert_eq!(status, 200, "the restored API key works: {page}");
    server.kill9();

    // Without its key, the restored copy is refused rather than opened with a new one.
    std::fs::remove_file(restored.key_file()).unwrap();
    std::fs::write(restored.key_file(), format!("{}\n", "0f".repeat(32))).unwrap();
    set_mode(&restored.key_file(), 0o600);
    assert!(serve_refused(&restored).contains("does not match the database"));
}

#[test]
fn backup_never_overwrites_and_needs_a_database() {
    let install = Install::new();
    let target = install.path("b.db");
    let output = install.run(&["backup", target.to_str().unwrap()]);
    let message = refused(output);
    assert!(
        message.contains("there is no database")
            && message.contains(install.db_path().to_str().unwrap()),
        "{message}"
    );
    assert!(!target.exists(), "no empty backup file left behind");
    assert!(
        !install.data_dir().exists(),
        "no database created to back up"
    );

    let install = migrated();
    std::fs::write(&target, "yesterday's backup").unwrap();
    let message = refused(install.run(&["backup", target.to_str().unwrap()]));
    assert!(
        message.contains(target.to_str().unwrap()) && message.contains("must not exist"),
        "{message}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"yesterday's backup");
}

#[test]
fn a_fresh_install_runs_no_scheduled_job_at_start() {
    let install = Install::new();
    let server = install.serve_with(rare_schedule(&install));
    assert_eq!(server.get("/healthz").0, 200);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(maintenance_runs(&install.db_path()), 0);
}

#[test]
fn a_run_that_already_happened_is_not_repeated_at_start() {
    let install = migrated();
    let now = whatsapi::store::now_ms();
    rusqlite::Connection::open(install.db_path())
        .unwrap()
        .execute(
            "INSERT INTO job_runs (job, started_at, finished_at) VALUES ('maintenance', ?1, ?1)",
            [now],
        )
        .unwrap();
    let server = install.serve_with(rare_schedule(&install));
    assert_eq!(server.get("/healthz").0, 200);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(maintenance_runs(&install.db_path()), 1);
}

#[test]
fn ctrl_c_stops_the_server_cleanly_and_releases_the_data_directory() {
    let install = Install::new();
    let mut server = install.serve();
    // Rocket installs its signal handlers once it serves: wait for an answer first.
    assert_eq!(server.get("/healthz").0, 200);
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
    drop(server);
    // The lock went with the process: the next start is not refused.
    let again = install.serve();
    assert_eq!(again.get("/healthz").0, 200);
}
