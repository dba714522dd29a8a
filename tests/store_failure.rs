//! A store that cannot write makes nothing spin and nothing is silently lost: with its database files
//! deleted under it, the server refuses writes (503 with Retry-After), `/healthz` says why, its CPU stays
//! near idle, and it stops with a failure after `[storage] fail_after_secs`. A full disk answers 503
//! `storage_full`, writes nothing half, and resumes by itself when space is freed.

mod common;

use common::api::{Api, account};
use common::{Install, Server};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

fn send(api: &Api, connection: &str, to: &str) -> (u16, Value) {
    api.send(
        json!({"connection_id": connection, "to": to, "type": "text", "text": {"body": "Hello"}}),
    )
}

/// CPU seconds the server has used, from /proc.
fn cpu_seconds(server: &Server) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.child.id())).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn health(server: &Server) -> (u16, Value) {
    let (status, body, _) = server.get("/healthz");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn deleted_database_files_are_refused_without_spinning_and_the_server_stops() {
    let mut install = Install::new();
    install
        .env
        .push(("WHATSAPI_STORAGE__FAIL_AFTER_SECS".into(), "4".into()));
    let mut server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    assert_eq!(send(&api, &connection, "+96550000001").0, 202);

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", install.db_path().display()));
    }
    // Nothing is accepted into a file that is gone.
    let (status, refused) = send(&api, &connection, "+96550000002");
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (503, Some("storage_failing")),
        "{refused}"
    );
    let (status, said) = health(&server);
    assert_eq!(status, 503, "{said}");
    assert!(
        said["storage"]
            .as_str()
            .unwrap()
            .contains("deleted or replaced"),
        "{said}"
    );

    // Near idle meanwhile, even with a client retrying.
    let before = cpu_seconds(&server);
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(2) {
        send(&api, &connection, "+96550000003");
        std::thread::sleep(Duration::from_millis(100));
    }
    let used = cpu_seconds(&server) - before;
    assert!(used < 0.5, "the server used {used:.2} s of CPU in 2 s");

    // And it stops with a failure by itself.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(70), "{status:?}");
}

/// A small file system of its own, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(at: std::path::PathBuf, size: &str) -> SmallDisk {
        std::fs::create_dir_all(&at).unwrap();
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&at)
            .status()
            .expect("run mount");
        assert!(
            mounted.success(),
            "this test mounts a small tmpfs to fill a disk, which needs root (as the test command runs)"
        );
        SmallDisk(at)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Fills the file system holding `dir` with one file, until it is full; the file.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    while file.write_all(&block[..512]).is_ok() {}
    let _ = file.sync_all();
    path
}

#[test]
fn a_full_disk_answers_storage_full_writes_nothing_half_and_resumes_when_space_returns() {
    let mut install = Install::new();
    let disk = SmallDisk::mount(install.path("disk"), "8m");
    install.env.push((
        "WHATSAPI_STORAGE__DATA_DIR".into(),
        disk.0.join("data").display().to_string(),
    ));
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let mut accepted = vec![send(&api, &connection, "+96550000001").1["id"].clone()];
    assert!(accepted[0].is_string());

    let filler = fill(&disk.0);
    let mut full = None;
    for n in 0..300 {
        match send(&api, &connection, &format!("+9655{n:07}")) {
            (202, answer) => accepted.push(answer["id"].clone()),
            (503, answer) => {
                full = Some(answer);
                break;
            }
            (status, answer) => panic!("{status}: {answer}"),
        }
    }
    let full = full.expect("the disk never filled");
    assert_eq!(full["error"]["code"], "storage_full", "{full}");
    let (status, said) = health(&server);
    assert_eq!(status, 503, "{said}");
    assert!(
        said["storage"].as_str().unwrap().contains("disk is full"),
        "{said}"
    );

    // Space returns: writing resumes by itself.
    std::fs::remove_file(&filler).unwrap();
    let (status, answer) = send(&api, &connection, "+96550099999");
    assert_eq!(status, 202, "{answer}");
    accepted.push(answer["id"].clone());
    assert_eq!(health(&server).0, 200);
    // Every accepted message is there, and nothing of the refused one.
    let (_, listed) = api.call("GET", "/api/v1/messages?limit=200", None, &[]);
    let listed: Vec<Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(listed.len(), accepted.len(), "{listed:?}");
    for id in &accepted {
        assert!(listed.contains(id), "{id} is missing");
    }
    drop(server);
}

#[test]
fn operators_see_on_admin_when_free_space_is_under_the_warning_level() {
    // Warned when the disk holding the database has less free than asked for (a huge level here).
    let app = common::web::app_with(|c| c.storage.min_free_mb = 1 << 40);
    let (_, created) = app.set_up_operator();
    assert_eq!(created.status(), rocket::http::Status::SeeOther);
    let (_, admin) = app.page("/admin");
    assert!(admin.contains("MiB are free for the database"), "{admin}");
    // And not when there is room.
    let app = common::web::app_with(|c| c.storage.min_free_mb = 1);
    app.set_up_operator();
    let (_, admin) = app.page("/admin");
    assert!(!admin.contains("MiB are free for the database"));
    assert!(admin.contains("<h1>"), "{admin}");
}
