//! `whatsapi restore FILE` through the real binary: refused while a server holds the data directory (and
//! done once it is stopped, the replaced database kept aside, the accounts deleted since named as keyless);
//! a backup the scheduler took while messages were being sent restores whole, with the row counts it has,
//! and the server serves it; a damaged file and a backup of another installation (made under another master
//! key, or whose data keys are not in this keystore, a sealed backup or a database file copied as it lies)
//! are refused before anything is replaced; SIGTERM before the swap stops a restore with nothing changed.

mod backup_support;
mod common;

use backup_support::{good_backups, integrity, names_in, refused, row_counts, serve_with_backups};
use common::api::{Api, account_with_id, owner};
use common::{Install, stderr, stdout, wait_until};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// An account (its owner `email`) with an API key and a sandbox number; its id, API and number.
fn account(install: &Install, server: &common::Server, email: &str) -> (i64, Api, String) {
    let (id, api, connection) = account_with_id(install, server, email);
    (id.parse().unwrap(), api, connection)
}

fn restore(install: &Install, file: &Path) -> std::process::Output {
    install.run(&["restore", file.to_str().unwrap()])
}

/// The database, its log and every other file of the data directory, as bytes, by name.
fn data_files(install: &Install) -> Vec<(String, Vec<u8>)> {
    names_in(&install.data_dir())
        .into_iter()
        .filter(|name| name != "whatsapi.lock")
        .map(|name| {
            let bytes = std::fs::read(install.data_dir().join(&name)).unwrap();
            (name, bytes)
        })
        .collect()
}

/// The database `restore` kept aside, with the files that belong to it.
fn replaced(install: &Install) -> Vec<String> {
    names_in(&install.data_dir())
        .into_iter()
        .filter(|name| name.starts_with("whatsapi.db.replaced-"))
        .collect()
}

fn accounts_with_id(db: &Path, id: i64) -> i64 {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap()
        .query_row("SELECT count(*) FROM accounts WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap()
}

#[test]
fn restore_is_refused_while_the_server_runs_and_done_once_it_is_stopped() {
    let install = Install::new();
    let server = install.serve();
    let (alpha, _, _) = account(&install, &server, "alpha@shop.test");
    let (_, beta, _) = account(&install, &server, "beta@shop.test");
    let backup = install.path("before.db");
    let output = install.run(&["backup", backup.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    // After the backup: a new account, and alpha deleted (its data key destroyed).
    let gamma: i64 = owner(&install, "Gamma", "gamma@shop.test").parse().unwrap();
    let deleted = install.run(&[
        "account",
        "delete",
        "--account",
        &alpha.to_string(),
        "--yes",
    ]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));

    let message = refused(restore(&install, &backup));
    assert!(
        message.contains("refused: another whatsapi process") && message.contains("stop it first"),
        "{message}"
    );
    assert!(message.contains("nothing was changed"), "{message}");
    // The server still serves the live database, which was not touched.
    assert_eq!(server.get("/healthz").0, 200);
    assert!(replaced(&install).is_empty());
    assert!(!install.data_dir().join("whatsapi.db.restoring").exists());
    assert_eq!(accounts_with_id(&install.db_path(), gamma), 1);

    // Stopped, the same restore is done.
    server.stop();
    let live = row_counts(&install.db_path());
    let output = restore(&install, &backup);
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stdout(&output);
    assert!(
        said.contains(&format!("restored {}", backup.display())),
        "{said}"
    );
    let aside = install.data_dir().join(&replaced(&install)[0]);
    assert!(
        said.contains(&format!(
            "the database it replaced is kept as {}",
            aside.display()
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "1 account(s) without a data key in the keystore (deleted after the backup was made): {alpha}"
        )),
        "{said}"
    );
    assert!(
        said.contains("sealed, as in every backup: the next start unseals it"),
        "{said}"
    );
    // The replaced database is whole beside it; the restored one is the backup.
    assert_eq!(row_counts(&aside), live);
    assert_eq!(accounts_with_id(&aside, gamma), 1);
    assert_eq!(row_counts(&install.db_path()), row_counts(&backup));
    assert_eq!(accounts_with_id(&install.db_path(), gamma), 0);

    let server = install.serve();
    assert!(
        server.log.contains("these accounts have no data key"),
        "{}",
        server.log
    );
    let beta = Api {
        base: server.url.clone(),
        ..beta
    };
    let (status, page) = beta.call("GET", "/api/v1/connections", None, &[]);
    assert_eq!(status, 200, "the restored account's API key works: {page}");
    assert_eq!(page["data"][0]["name"], "Sandbox", "{page}");
}

#[test]
fn a_backup_taken_under_load_restores_with_its_row_counts() {
    let install = Install::new();
    let dir = install.path("backups");
    let server = serve_with_backups(&install, &dir, 1000);
    let (_, api, connection) = account(&install, &server, "owner@shop.test");

    // Messages sent through the sandbox, one after another, until told to stop.
    let sent: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let halt = Arc::new(AtomicBool::new(false));
    let load = {
        let (api, sent, halt) = (api.clone(), sent.clone(), halt.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !halt.load(Ordering::Relaxed) {
                n += 1;
                let body = format!("load message {n}");
                let (status, answer) = api.send(json!({"connection_id": connection,
                    "to": "+96550001234", "type": "text", "text": {"body": body}}));
                assert_eq!(status, 202, "{answer}");
                sent.lock()
                    .unwrap()
                    .push((answer["id"].as_str().unwrap().to_owned(), body));
            }
        })
    };
    let count = || sent.lock().unwrap().len();
    wait_until("messages being sent", || count() >= 20);
    let since = chrono::Utc::now().timestamp_millis();
    wait_until("a backup started while messages are sent", || {
        good_backups(&install)
            .iter()
            .any(|run| run.started_at > since)
    });
    // The load goes on after that backup finished.
    let after = count();
    wait_until("more messages after the backup", || count() >= after + 20);
    halt.store(true, Ordering::Relaxed);
    load.join().unwrap();
    let taken = good_backups(&install)
        .into_iter()
        .find(|run| run.started_at > since)
        .unwrap();
    let backup = PathBuf::from(taken.file.unwrap());
    // Stopped once the outbox is empty: what a stop does with sends in flight is not what this test is about.
    wait_until("every message sent", || {
        common::api::count(
            &install,
            "SELECT count(*) FROM messages WHERE status IN ('queued', 'sending')",
        ) == 0
    });
    server.stop();
    let sent = sent.lock().unwrap().clone();

    assert_eq!(integrity(&backup), "ok");
    let counts = row_counts(&backup);
    let messages = counts["messages"];
    assert!(
        messages >= 20 && (messages as usize) < sent.len(),
        "{messages} of {} messages in the backup",
        sent.len()
    );
    assert!(counts["message_statuses"] > 0, "{counts:?}");

    let output = restore(&install, &backup);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(integrity(&install.db_path()), "ok");
    assert_eq!(row_counts(&install.db_path()), counts);

    // The server starts on it and serves what the backup holds, and nothing written after it.
    let server = install.serve();
    let api = Api {
        base: server.url.clone(),
        ..api
    };
    let (first, body) = &sent[0];
    let (status, message) = api.call("GET", &format!("/api/v1/messages/{first}"), None, &[]);
    assert_eq!(status, 200, "{message}");
    assert_eq!(message["message"]["body"], body.as_str(), "{message}");
    let (last, _) = sent.last().unwrap();
    let (status, _) = api.call("GET", &format!("/api/v1/messages/{last}"), None, &[]);
    assert_eq!(status, 404, "a message sent after the backup");
}

#[test]
fn a_damaged_backup_is_refused_before_anything_is_replaced() {
    let install = Install::new();
    let server = install.serve();
    account(&install, &server, "owner@shop.test");
    let backup = install.path("nightly.db");
    assert!(
        install
            .run(&["backup", backup.to_str().unwrap()])
            .status
            .success()
    );
    server.stop();
    let bytes = std::fs::read(&backup).unwrap();
    let truncated = install.path("truncated.db");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let garbage = install.path("garbage.db");
    std::fs::write(&garbage, b"this is not a database, only words ".repeat(200)).unwrap();
    let empty = install.path("empty.db");
    rusqlite::Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('hello');")
        .unwrap();

    let before = data_files(&install);
    for (file, says) in [
        (&truncated, "database disk image is malformed"),
        (&garbage, "file is not a database"),
        (&empty, "not a whatsapi one"),
    ] {
        let message = refused(restore(&install, file));
        assert!(message.contains(file.to_str().unwrap()), "{message}");
        assert!(message.contains(says), "{message}");
        assert!(message.contains("nothing was changed"), "{message}");
        assert_eq!(data_files(&install), before, "the data directory changed");
    }
    let missing = refused(restore(&install, &install.path("nowhere.db")));
    assert!(missing.contains("is not a file"), "{missing}");

    // The intact backup is restored.
    let output = restore(&install, &backup);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!replaced(&install).is_empty());
}

#[test]
fn a_backup_of_another_installation_is_refused() {
    let install = Install::new();
    let other = Install::new();
    // A twin: the same master key file, a keystore of its own (its accounts' data keys are others).
    let mut twin = Install::new();
    twin.env = vec![
        (
            "WHATSAPI_STORAGE__KEY_FILE".into(),
            install.key_file().display().to_string(),
        ),
        (
            "WHATSAPI_STORAGE__KEYSTORE".into(),
            twin.path("twin.keystore").display().to_string(),
        ),
    ];
    for one in [&install, &other, &twin] {
        let server = one.serve();
        account(one, &server, "owner@shop.test");
        server.stop();
    }
    let backup_of = |one: &Install, name: &str| {
        let path = one.path(name);
        assert!(
            one.run(&["backup", path.to_str().unwrap()])
                .status
                .success()
        );
        path
    };
    let (foreign, twins, own) = (
        backup_of(&other, "theirs.db"),
        backup_of(&twin, "twins.db"),
        backup_of(&install, "ours.db"),
    );

    let before = data_files(&install);
    let message = refused(restore(&install, &foreign));
    assert!(
        message.contains("was made under another master key"),
        "{message}"
    );
    assert!(
        message.contains("restore it with the key file"),
        "{message}"
    );
    assert_eq!(data_files(&install), before, "the data directory changed");
    let message = refused(restore(&install, &twins));
    assert!(
        message.contains(
            "its data key of account 1 does not open what the backup holds of that account"
        ),
        "{message}"
    );
    assert_eq!(data_files(&install), before, "the data directory changed");
    // The twin's own database file, copied as it lies (its directory unsealed, as a database kept aside
    // by a restore is): its data keys are not this keystore's either.
    let twins_file = twin.path("twins-unsealed.db");
    for suffix in ["", "-wal"] {
        let from = PathBuf::from(format!("{}{suffix}", twin.db_path().display()));
        if from.exists() {
            std::fs::copy(&from, format!("{}{suffix}", twins_file.display())).unwrap();
        }
    }
    let message = refused(restore(&install, &twins_file));
    assert!(
        message.contains(
            "its data key of account 1 does not open what the backup holds of that account"
        ),
        "{message}"
    );
    assert_eq!(data_files(&install), before, "the data directory changed");

    let output = restore(&install, &own);
    assert!(output.status.success(), "{}", stderr(&output));
    // The database that restore kept aside (unsealed, this installation's) goes back in place.
    let aside = install.data_dir().join(&replaced(&install)[0]);
    let kept = install.path("kept-aside.db");
    std::fs::copy(&aside, &kept).unwrap();
    let output = restore(&install, &kept);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn sigterm_before_the_swap_stops_the_restore_with_nothing_changed() {
    use std::io::{BufRead, BufReader};
    let install = Install::new();
    let server = install.serve();
    owner(&install, "Owner", "owner@shop.test");
    let backup = install.path("before.db");
    assert!(
        install
            .run(&["backup", backup.to_str().unwrap()])
            .status
            .success()
    );
    owner(&install, "Later", "later@shop.test");
    server.stop();
    let before = data_files(&install);

    // Paused after the copy was checked; SIGTERM comes there.
    let pause = install.path("pause");
    std::fs::write(&pause, "").unwrap();
    let mut cmd = install.command(&["restore", backup.to_str().unwrap()]);
    cmd.env("DEBUG_WHATSAPI_RESTORE_PAUSE_FILE", &pause)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let paused = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("waits before the swap"));
    assert!(paused, "the restore never reached its pause");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_file(&pause).unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(1), "{rest:?}");
    let said = rest.join("\n");
    assert!(said.contains("refused: stopped at SIGTERM"), "{said}");
    assert!(said.contains("nothing was changed"), "{said}");
    // The data directory as it was: the live database, no copy left, nothing kept aside.
    assert_eq!(data_files(&install), before);

    // Positive control: the same restore, not interrupted, replaces the database.
    let output = restore(&install, &backup);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(replaced(&install).len(), 1);
    assert_eq!(row_counts(&install.db_path()), row_counts(&backup));
}
