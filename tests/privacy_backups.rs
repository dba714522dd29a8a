//! Deleting an account reaches the backups made before it: the data keys live in the keystore, outside the
//! database and its backups, so once an account's key is destroyed what any backup holds of it cannot be
//! read, while the other accounts restore from the same backup. The keystore is mirrored instead of backed
//! up, and a database whose keys are still inside (made before the keystore) moves them out at its first
//! start.

mod common;
mod privacy_support;

use common::{Install, stderr, stdout};
use privacy_support::{business, contains, keystore, serve, settle};
use std::path::{Path, PathBuf};

/// An account's data key as the keystore at `path` holds it.
fn sealed_key(path: &Path, account: i64) -> Vec<u8> {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT sealed FROM data_keys WHERE account_id = ?1",
            [account],
            |r| r.get(0),
        )
        .unwrap()
}

/// A keystore file with its rollback journal, if one is left.
fn keystore_bytes(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    let mut journal = path.as_os_str().to_owned();
    journal.push("-journal");
    if let Ok(more) = std::fs::read(PathBuf::from(journal)) {
        bytes.extend(more);
    }
    bytes
}

/// The business's API key, used against another server.
fn on(server: &common::Server, business: &privacy_support::Business) -> common::api::Api {
    common::api::Api {
        base: server.url.clone(),
        ..business.api.clone()
    }
}

fn delete_account(install: &Install, account: i64) {
    let output = install.run(&[
        "account",
        "delete",
        "--account",
        &account.to_string(),
        "--yes",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
}

/// `whatsapi export` of one account; the document on success, the error otherwise.
fn export(install: &Install, account: i64) -> Result<String, String> {
    let out = install.path(&format!("export-{account}-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let output = install.run(&[
        "export",
        "--account",
        &account.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]);
    if output.status.success() {
        Ok(std::fs::read_to_string(&out).unwrap())
    } else {
        assert!(!out.exists(), "a failed export left a file");
        Err(stderr(&output))
    }
}

#[test]
fn a_backup_made_before_an_account_was_deleted_cannot_be_read_for_it() {
    let install = Install::new();
    let server = serve(&install);
    let alpha = business(&install, &server, "Alpha Trading", "alpha");
    let beta = business(&install, &server, "Beta Bakery", "beta");
    settle(&install);
    let (alpha_key, beta_key) = (
        sealed_key(&keystore(&install), alpha.id),
        sealed_key(&keystore(&install), beta.id),
    );

    // An answer kept for an Idempotency-Key before answers were sealed (upgraded within the day).
    privacy_support::open(&install)
        .execute(
            "INSERT INTO idempotency_keys (account_id, key, status, response, created_at)
             VALUES (?1, 'from-before-the-upgrade', 202, ?2, 0)",
            rusqlite::params![alpha.id, format!("{{\"to\": \"{}\"}}", alpha.customer)],
        )
        .unwrap();
    let backup = install.path("before.db");
    let output = install.run(&["backup", backup.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    // The backup holds the accounts' rows, sealed, people and companies included, and no data key.
    let bytes = std::fs::read(&backup).unwrap();
    for key in [&alpha_key, &beta_key] {
        assert!(!contains(&bytes, key), "the backup holds a data key");
    }
    for clear in [
        &alpha.company,
        &alpha.owner_email,
        &alpha.member_email,
        &format!("Owner of {}", alpha.company),
        &alpha.message_text,
        &alpha.customer,
    ] {
        assert!(
            !contains(&bytes, clear.as_bytes()),
            "the backup holds {clear:?} in the clear"
        );
    }
    let copy = rusqlite::Connection::open(&backup).unwrap();
    assert_eq!(
        copy.query_row("SELECT count(*) FROM sessions", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        0,
        "a backup brings no sign-in back"
    );
    drop(copy);

    // An account created after the backup: its key is in the keystore, its rows are not in the backup.
    let gamma = privacy_support::new_account(&install, "Gamma Goods", "gamma");
    let gamma_key = sealed_key(&keystore(&install), gamma);
    delete_account(&install, alpha.id);
    let held = keystore_bytes(&keystore(&install));
    assert!(
        !contains(&held, &alpha_key),
        "the keystore still holds the deleted account's key"
    );
    assert!(contains(&held, &beta_key));
    drop(server);

    // The backup restored, with the live master key and keystore: the deleted account is still in it, and
    // nothing of it can be read; the other account restores whole.
    let mut restored = Install::new();
    restored.env = vec![
        (
            "WHATSAPI_STORAGE__KEY_FILE".into(),
            install.key_file().display().to_string(),
        ),
        (
            "WHATSAPI_STORAGE__KEYSTORE".into(),
            keystore(&install).display().to_string(),
        ),
    ];
    std::fs::create_dir_all(restored.data_dir()).unwrap();
    std::fs::copy(&backup, restored.db_path()).unwrap();
    let refused = export(&restored, alpha.id).expect_err("the deleted account was exported");
    assert!(refused.contains("has no data key"), "{refused}");
    let document = export(&restored, beta.id).unwrap();
    assert!(document.contains(&beta.message_text), "{document}");

    let doctor = stdout(&restored.run(&["doctor"]));
    assert!(
        doctor.contains(&format!("accounts {} have no data key", alpha.id)),
        "{doctor}"
    );

    let server = restored.serve();
    assert!(
        server.log.contains("these accounts have no data key"),
        "{}",
        server.log
    );
    // The other account's people and company come back in the clear, the deleted one's stay sealed.
    let db = rusqlite::Connection::open(restored.db_path()).unwrap();
    let company = |id: i64| -> String {
        db.query_row("SELECT company FROM accounts WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap()
    };
    assert_eq!(company(beta.id), beta.company);
    let still_sealed: i64 = db
        .query_row(
            "SELECT (SELECT count(*) FROM users WHERE account_id = ?1 AND (email LIKE 'sealed:%' OR name LIKE 'sealed:%'))
                  + (SELECT count(*) FROM connections WHERE account_id = ?1 AND name LIKE 'sealed:%')
                  + (SELECT count(*) FROM webhook_endpoints WHERE account_id = ?1 AND url LIKE 'sealed:%')
                  + (SELECT count(*) FROM activity_log WHERE account_id = ?1 AND ip LIKE 'sealed:%')",
            [beta.id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(still_sealed, 0, "the restored account is not whole");
    assert!(
        company(alpha.id).starts_with("sealed:"),
        "{}",
        company(alpha.id)
    );
    let owner: String = db
        .query_row(
            "SELECT email FROM users WHERE account_id = ?1 AND role = 'owner'",
            [alpha.id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(owner.starts_with("sealed:"), "{owner}");
    let login = privacy_support::Browser::new(&server).submit(
        "/login",
        "/login",
        &[
            ("email", &beta.owner_email),
            ("password", privacy_support::PASSWORD),
        ],
    );
    assert_eq!(
        login.status,
        303,
        "the restored owner signs in: {}",
        login.text()
    );
    let (status, page) = on(&server, &beta).call("GET", "/api/v1/messages", None, &[]);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"][0]["message"]["body"], beta.message_text);
    drop(server);

    // The deleted account's rows go too, confirmed by its id: its name and its owner's address are sealed
    // for good, so no confirmation can be sent.
    let mails = privacy_support::emails(&restored).len();
    let deleted = privacy_support::delete_with_stdin(&restored, alpha.id, &alpha.id.to_string());
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert!(
        stdout(&deleted).contains("no confirmation was sent"),
        "{}",
        stdout(&deleted)
    );
    assert_eq!(privacy_support::emails(&restored).len(), mails);
    assert!(!stdout(&restored.run(&["doctor"])).contains("have no data key"));

    // The backup's id counter is behind the keystore: a new account does not take the id (and the key) of
    // the one created after the backup.
    let delta = privacy_support::new_account(&restored, "Delta Dairy", "delta");
    assert!(delta > gamma, "account id {delta} handed out again");
    assert_eq!(sealed_key(&keystore(&install), gamma), gamma_key);
}

#[test]
fn the_keystore_is_mirrored_and_a_lost_keystore_comes_back_from_its_mirror() {
    let mut install = Install::new();
    let mirror = install.path("other-disk/mirror.keystore");
    std::fs::create_dir_all(mirror.parent().unwrap()).unwrap();
    install.env.push((
        "WHATSAPI_STORAGE__KEYSTORE_MIRRORS".into(),
        format!("[\"{}\"]", mirror.display()),
    ));
    let server = serve(&install);
    let alpha = business(&install, &server, "Alpha Trading", "alpha");
    let stale = install.path("stale.keystore");
    std::fs::copy(keystore(&install), &stale).unwrap();
    let beta = business(&install, &server, "Beta Bakery", "beta");
    settle(&install);
    let alpha_key = sealed_key(&mirror, alpha.id);
    assert_eq!(
        sealed_key(&mirror, beta.id),
        sealed_key(&keystore(&install), beta.id)
    );
    assert_eq!(common::mode_of(&mirror), 0o600);

    // A deletion reaches the mirror: it is the keystore's present, not its history.
    delete_account(&install, alpha.id);
    assert!(!contains(&keystore_bytes(&mirror), &alpha_key));
    drop(server);
    let doctor = install.run(&["doctor"]);
    assert!(doctor.status.success(), "{}", stdout(&doctor));
    assert!(
        stdout(&doctor).contains("up to date"),
        "{}",
        stdout(&doctor)
    );

    // An older copy of the keystore put back (it lacks beta's key and still holds alpha's): nothing
    // starts on it, which would copy it over the mirror and lose beta's key.
    std::fs::copy(&stale, keystore(&install)).unwrap();
    let refused = export(&install, beta.id).expect_err("exported with an old keystore");
    let ahead = format!("[{}, {}]", beta.id, alpha.id);
    assert!(
        refused.contains("is older than its mirror") && refused.contains(&ahead),
        "{refused}"
    );
    let doctor = install.run(&["doctor"]);
    assert!(!doctor.status.success());
    assert!(
        stdout(&doctor).contains(&format!("a newer deletion for the accounts {ahead}")),
        "{}",
        stdout(&doctor)
    );
    assert!(contains(
        &keystore_bytes(&mirror),
        &sealed_key(&mirror, beta.id)
    ));

    // A keystore file left empty is refused too.
    std::fs::write(keystore(&install), b"").unwrap();
    let refused = export(&install, beta.id).expect_err("exported with an empty keystore");
    assert!(
        refused.contains("it is empty, but the database has 1 account(s)"),
        "{refused}"
    );

    // The keystore's disk is lost: nothing starts on an empty keystore (that would lose every account) ...
    std::fs::remove_file(keystore(&install)).unwrap();
    let doctor = install.run(&["doctor"]);
    assert!(!doctor.status.success());
    assert!(
        stdout(&doctor).contains("does not exist; the database has 1 account(s)"),
        "{}",
        stdout(&doctor)
    );
    let refused = export(&install, beta.id).expect_err("exported without a keystore");
    assert!(
        refused.contains("does not exist, but the database has 1 account(s)"),
        "{refused}"
    );
    assert!(
        !keystore(&install).exists(),
        "an empty keystore was left behind"
    );

    // ... and the mirror, copied back, brings everything back.
    std::fs::copy(&mirror, keystore(&install)).unwrap();
    let server = serve(&install);
    let (status, page) = on(&server, &beta).call("GET", "/api/v1/messages", None, &[]);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"][0]["message"]["body"], beta.message_text);
}

#[test]
fn a_database_that_still_holds_its_data_keys_moves_them_to_the_keystore() {
    let install = Install::new();
    let server = serve(&install);
    let alpha = business(&install, &server, "Alpha Trading", "alpha");
    settle(&install);
    drop(server);
    // As a database made before the keystore: the keys in a table of the database, no keystore file.
    let sealed = sealed_key(&keystore(&install), alpha.id);
    let db = rusqlite::Connection::open(install.db_path()).unwrap();
    db.execute_batch(
        "CREATE TABLE data_keys (account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
             key_id INTEGER NOT NULL, master_key_id INTEGER NOT NULL, sealed BLOB NOT NULL,
             created_at INTEGER NOT NULL) STRICT",
    )
    .unwrap();
    let key_id = u32::from_be_bytes(sealed[1..5].try_into().unwrap());
    db.execute(
        "INSERT INTO data_keys VALUES (?1, 1, ?2, ?3, 0)",
        rusqlite::params![alpha.id, key_id, sealed],
    )
    .unwrap();
    drop(db);
    std::fs::remove_file(keystore(&install)).unwrap();
    let doctor = install.run(&["doctor"]);
    assert!(doctor.status.success(), "{}", stdout(&doctor));
    assert!(
        stdout(&doctor).contains("the next start moves them"),
        "{}",
        stdout(&doctor)
    );

    let server = serve(&install);
    assert_eq!(sealed_key(&keystore(&install), alpha.id), sealed);
    let tables: i64 = privacy_support::count(
        &install,
        "SELECT count(*) FROM sqlite_schema WHERE name = 'data_keys'",
    );
    assert_eq!(tables, 0, "the database still has its data_keys table");
    assert!(!contains(&privacy_support::file_bytes(&install), &sealed));
    let (status, page) = on(&server, &alpha).call("GET", "/api/v1/messages", None, &[]);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"][0]["message"]["body"], alpha.message_text);
    drop(server);
}
