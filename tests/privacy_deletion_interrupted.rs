//! A deletion cut off by a stop is finished at the next start. Its first step, one transaction, already
//! stopped the account (key destroyed, sign-ins and API keys ended); the server deletes what is left and
//! tells the owner.

mod common;
mod privacy_support;

use common::Install;
use privacy_support::{
    business, count, data_keys_of, email_to, full, nothing_left, rows_of, serve, settle, wait_until,
};
use whatsapi::store::keystore::KeystoreFiles;
use whatsapi::store::{AccountId, Db, StoreOptions, erasure, now_ms};

/// What a stop right after the first step of a deletion leaves behind.
fn stop_only(install: &Install, account: i64) {
    let key = whatsapi::crypto::read_key_file(&install.key_file()).unwrap();
    let db = Db::open(
        &install.db_path(),
        &StoreOptions::default(),
        key,
        &KeystoreFiles::beside(&install.key_file()),
    )
    .unwrap();
    let keys = db.clone();
    db.write(move |conn| {
        erasure::stop_account(
            conn,
            keys.keyring(),
            AccountId::from_operator(account),
            now_ms(),
        )
    })
    .unwrap();
}

#[test]
fn a_deletion_cut_off_by_a_stop_is_finished_at_the_next_start() {
    let install = Install::new();
    let server = serve(&install);
    let alpha = business(&install, &server, "Alpha Trading", "alpha");
    let beta = business(&install, &server, "Beta Bakery", "beta");
    settle(&install);
    drop(server);

    full(&rows_of(&install, alpha.id));
    stop_only(&install, alpha.id);
    assert!(rows_of(&install, alpha.id)["messages"] > 0);
    assert_eq!(data_keys_of(&install, alpha.id), 0);
    let doctor = common::stdout(&install.run(&["doctor"]));
    assert!(
        doctor.contains("1 account deletion(s) under way"),
        "{doctor}"
    );

    let server = serve(&install);
    wait_until("the deletion to be finished", || {
        count(&install, "SELECT count(*) FROM account_deletions") == 0
    });
    nothing_left(&rows_of(&install, alpha.id));
    email_to(&install, &alpha.owner_email, "Alpha Trading was deleted");

    // The other account goes on.
    let beta_here = common::api::Api {
        base: server.url.clone(),
        ..beta.api.clone()
    };
    let (status, page) = beta_here.call("GET", "/api/v1/messages", None, &[]);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"][0]["message"]["body"], beta.message_text);
}
