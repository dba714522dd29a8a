//! `whatsapi keys rotate` through the real binary, next to a real server.

mod common;

use common::{Install, stderr, stdout};

#[test]
fn rotation_is_refused_while_the_server_runs_and_works_once_it_is_stopped() {
    let install = Install::new();
    let server = install.serve();
    let old_key = std::fs::read_to_string(install.key_file()).unwrap();

    let refused = install.run(&["keys", "rotate"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("stop it first"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        std::fs::read_to_string(install.key_file()).unwrap(),
        old_key,
        "the key file was left alone"
    );
    assert_eq!(server.get("/healthz").0, 200);
    let backup = install.path("before-rotation.db");
    let output = install.run(&["backup", backup.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    drop(server);

    let rotated = install.run(&["keys", "rotate"]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    assert!(
        stdout(&rotated).contains("rotated the master key"),
        "{}",
        stdout(&rotated)
    );
    let new_key = std::fs::read_to_string(install.key_file()).unwrap();
    assert_ne!(new_key, old_key);
    assert_eq!(common::mode_of(&install.key_file()), 0o600);
    let retired: Vec<_> = std::fs::read_dir(install.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("master.key.retired-")
        })
        .collect();
    assert_eq!(retired.len(), 1, "the old key is kept for older backups");
    assert_eq!(std::fs::read_to_string(retired[0].path()).unwrap(), old_key);

    // The server starts with the new key, and the doctor agrees.
    let server = install.serve();
    assert_eq!(server.get("/healthz").0, 200);
    drop(server);
    let doctor = install.run(&["doctor"]);
    assert!(doctor.status.success(), "{}", stdout(&doctor));

    // A backup made before the rotation is restored: the doctor and the server take it with the new key.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", install.db_path().display()));
    }
    std::fs::copy(&backup, install.db_path()).unwrap();
    let doctor = install.run(&["doctor"]);
    assert!(doctor.status.success(), "{}", stdout(&doctor));
    assert!(
        stdout(&doctor).contains("which a rotation replaced"),
        "{}",
        stdout(&doctor)
    );
    let server = install.serve();
    assert_eq!(server.get("/healthz").0, 200);
    drop(server);
    assert!(
        stdout(&install.run(&["doctor"])).contains("the key file opens this database"),
        "the restored database is not sealed with the new key"
    );

    // The retired key no longer opens the database.
    std::fs::remove_file(install.key_file()).unwrap();
    std::fs::copy(retired[0].path(), install.key_file()).unwrap();
    let old_refused = exits_within_10s(install.command(&["serve"]));
    assert!(!old_refused.status.success());
    assert!(
        stderr(&old_refused).contains("does not match the database"),
        "{}",
        stderr(&old_refused)
    );
}

/// Runs a command that must exit by itself; a server that started instead is killed and the test fails.
fn exits_within_10s(mut cmd: std::process::Command) -> std::process::Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    panic!(
        "the command kept running: {:?}",
        child.wait_with_output().unwrap()
    );
}
