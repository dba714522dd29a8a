//! Retention on the store directly (batches, what stays, the deletion rate) and in the pages: the
//! operators' table of runs and the privacy page stating the configured period, in both languages.

mod common;

use common::web::app_with;
use rocket::http::Status;
use whatsapi::store::retention::{BATCH, Policy};

const DAY_MS: i64 = 86_400_000;

/// A store with an account and a connection, for inserting rows directly.
fn store(dir: &std::path::Path) -> whatsapi::store::Db {
    let db = whatsapi::store::Db::open(
        &dir.join("whatsapi.db"),
        &whatsapi::store::StoreOptions::default(),
        whatsapi::crypto::Key::master([7; 32]),
        &whatsapi::store::keystore::KeystoreFiles::beside(&dir.join("master.key")),
    )
    .unwrap();
    db.write(|conn| {
        conn.execute_batch(
            "INSERT INTO accounts (id, company, created_at) VALUES (1, 'Shop', 0);
             INSERT INTO connections (id, account_id, kind, name, phone_number_id, waba_id, access_token,
                 access_token_last4, app_secret, app_secret_last4, verify_token, webhook_key, graph_version,
                 graph_base_url, created_at, updated_at)
             VALUES (1, 1, 'sandbox', 'n', 'p', 'w', x'00', '0000', x'00', '0000', x'00', 'k', 'v21.0', 'http://x', 0, 0);",
        )?;
        Ok(())
    })
    .unwrap();
    db
}

/// Inserts `n` messages created at `at`, each with `statuses` statuses; ids start at `first`.
fn insert_messages(db: &whatsapi::store::Db, first: i64, n: i64, at: i64, statuses: i64) {
    db.write(move |conn| {
        let mut message = conn.prepare(
            "INSERT INTO messages (id, account_id, connection_id, recipient, recipient_index, type, body, status,
                                   wamid, next_attempt_at, created_at)
             VALUES (?1, 1, 1, randomblob(40), randomblob(32), 'text', randomblob(120), 'read', 'wamid.' || ?1, ?2, ?2)",
        )?;
        let mut status = conn.prepare(
            "INSERT INTO message_statuses (account_id, message_id, wamid, status, at, received_at)
             VALUES (1, ?1, 'wamid.' || ?1, ?2, ?3, ?3)",
        )?;
        for id in first..first + n {
            message.execute([id, at])?;
            for s in 0..statuses {
                status.execute(rusqlite::params![id, format!("s{s}"), at])?;
            }
        }
        Ok(())
    })
    .unwrap();
}

fn policy() -> Policy {
    Policy {
        message_days: 90,
        activity_days: 365,
        webhook_delivery_days: 30,
        usage_months: 13,
        session_idle_ms: 30 * 60_000,
        session_absolute_ms: 12 * 3_600_000,
    }
}

#[test]
fn a_run_deletes_in_batches_and_keeps_what_is_within_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(dir.path());
    let now = whatsapi::store::now_ms();
    let past = 2 * BATCH as i64 + 34;
    insert_messages(&db, 1, past, now - 91 * DAY_MS, 2);
    insert_messages(&db, 100_000, 10, now - 89 * DAY_MS, 2);

    let (_, predicted) = whatsapi::jobs::retention::dry_run(&db, &policy()).unwrap();
    assert_eq!(predicted.get("messages"), past as u64);
    let report = whatsapi::jobs::retention::run(&db, &policy()).unwrap();
    assert_eq!(report.deleted, predicted);
    assert_eq!(report.deleted.get("messages"), past as u64);
    assert_eq!(report.deleted.get("message_statuses"), 2 * past as u64);
    assert!(
        report.batches >= 3 + 9,
        "three batches of messages, one look at every other step: {}",
        report.batches
    );
    let left = |sql: &'static str| -> i64 {
        db.read(|conn| Ok(conn.query_row(sql, [], |r| r.get(0))?))
            .unwrap()
    };
    assert_eq!(left("SELECT count(*) FROM messages"), 10);
    assert_eq!(left("SELECT count(*) FROM message_statuses"), 20);
    assert!(
        report.pages_released > 0,
        "the freed pages went back to the file system"
    );
}

/// How fast a run deletes: `cargo test --release --test retention -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_deletion_rate() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(dir.path());
    let now = whatsapi::store::now_ms();
    for chunk in 0..20 {
        insert_messages(&db, 1 + chunk * 10_000, 10_000, now - 91 * DAY_MS, 3);
    }
    let report = whatsapi::jobs::retention::run(&db, &policy()).unwrap();
    let rows = report.deleted.total();
    println!(
        "deleted {rows} rows ({} messages) in {} ms over {} transactions: {:.0} rows/s, {:.1} ms per transaction",
        report.deleted.get("messages"),
        report.elapsed_ms,
        report.batches,
        rows as f64 * 1000.0 / report.elapsed_ms.max(1) as f64,
        report.elapsed_ms as f64 / report.batches as f64
    );
}

#[test]
fn operators_see_each_retention_run_and_the_privacy_page_states_the_configured_period() {
    let app = app_with(|c| c.retention.message_days = 30);
    let (status, privacy) = app.page("/privacy");
    assert_eq!(status, Status::Ok);
    assert!(
        privacy.contains("30 days") && !privacy.contains("90 days"),
        "{privacy}"
    );

    let db = whatsapi::startup::open_store(&app.config, false).unwrap();
    db.write(|conn| {
        conn.execute(
            "INSERT INTO activity_log (action, created_at) VALUES ('signed_in', ?1)",
            [whatsapi::store::now_ms() - 400 * DAY_MS],
        )?;
        Ok(())
    })
    .unwrap();
    let job = whatsapi::jobs::retention_job(&app.config);
    whatsapi::jobs::scheduler::run_once(&db, &job).unwrap();

    let (_, created) = app.set_up_operator();
    assert_eq!(created.status(), Status::SeeOther);
    let (status, admin) = app.page("/admin");
    assert_eq!(status, Status::Ok);
    let table = &admin[admin
        .find("id=\"retention-runs\"")
        .expect("a table of retention runs")..];
    let table = &table[..table.find("</table>").unwrap()];
    assert!(table.contains("Activity log: 1"), "{table}");
    assert!(table.contains("Completed"), "{table}");
    assert!(admin.contains("Messages are kept 30 days"), "{admin}");

    let token = common::web::csrf_in(&admin);
    app.post_raw("/language", &token, &[("lang", "ar")]);
    let (_, admin) = app.page("/admin");
    assert!(admin.contains("سجل النشاط: 1"), "{admin}");
    assert!(admin.contains("تُحفظ الرسائل 30 يومًا"), "{admin}");
    let (_, privacy) = app.page("/privacy");
    assert!(privacy.contains("مدة أقصاها 30 يومًا"), "{privacy}");
}
