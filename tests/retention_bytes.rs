//! Retention leaves nothing of what it deletes in the files: the sealed bodies, recipients, numbers, raw
//! webhooks and events of a message and a conversation past the limit are gone from the database file and
//! its write-ahead log after `purge`, and those of the ones within the limit are still there. (What a run
//! deletes, the dry run and the schedule: tests/retention.rs.)

mod common;
mod retention_support;

use common::{Install, stderr, stdout};
use retention_support::{derived_from_conversation, derived_from_message, scene};

/// The bytes of the database file and of its write-ahead log, if there is one.
fn file_bytes(install: &Install) -> Vec<u8> {
    let mut bytes = std::fs::read(install.db_path()).unwrap();
    let wal = install.data_dir().join("whatsapi.db-wal");
    if let Ok(more) = std::fs::read(wal) {
        bytes.extend(more);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn deleted_rows_leave_no_bytes_in_the_database_file_or_its_write_ahead_log() {
    let scene = scene();
    let install = &scene.install;
    let mut doomed = derived_from_message(install, &scene.old_message).sealed;
    doomed.extend(derived_from_conversation(install, scene.old_contact).sealed);
    let kept = derived_from_message(install, &scene.recent_message).sealed;
    assert!(doomed.len() >= 8, "{} sealed values", doomed.len());
    let before = file_bytes(install);
    for sealed in doomed.iter().chain(&kept) {
        assert!(contains(&before, sealed), "the search finds what is stored");
    }

    let output = install.run(&["purge"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("write-ahead log emptied"),
        "{}",
        stdout(&output)
    );
    let after = file_bytes(install);
    for sealed in &doomed {
        assert!(
            !contains(&after, sealed),
            "{} bytes of a deleted row are still in the files",
            sealed.len()
        );
    }
    for sealed in &kept {
        assert!(contains(&after, sealed), "kept rows are still there");
    }
    drop(scene.server);
}
