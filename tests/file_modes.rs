//! What the server writes is private to its user however it was started: from a shell whose umask lets
//! everyone read new files, the database, its -wal and -shm files, the data directory and the outbox are
//! still readable by the service's user alone.

mod common;

use common::raw::Browser;
use common::{Install, mode_of};

#[test]
fn files_and_directories_are_private_whatever_the_umask() {
    let install = Install::new();
    // The same command the tests always run, started by a shell with umask 022 instead.
    let server = install.serve_with(install.command_in_shell("umask 022", &["serve"]));
    common::api::owner(&install, "Ali", "ali@shop.test");
    // A sign-in from a new browser writes an alert to the outbox.
    assert_eq!(
        Browser::new(&server.url, "Firefox/140.0")
            .sign_in("ali@shop.test", "a long enough pass phrase"),
        303
    );
    let data = install.data_dir();
    let outbox = data.join("outbox");
    let emails: Vec<_> = std::fs::read_dir(&outbox)
        .expect("the outbox")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(emails.len(), 1, "the alert");
    for file in ["whatsapi.db", "whatsapi.db-wal", "whatsapi.db-shm"] {
        assert_eq!(mode_of(&data.join(file)), 0o600, "{file}");
    }
    assert_eq!(mode_of(&emails[0]), 0o600, "the email");
    assert_eq!(mode_of(&outbox), 0o700, "the outbox");
    assert_eq!(mode_of(&data), 0o700, "the data directory");
}
