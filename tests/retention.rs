//! Retention, as the privacy policy promises it, through the real server and the `purge` command: a
//! message older than `retention.message_days` is hidden at once and deleted by the retention job with
//! everything derived from it, while one within the limit keeps everything; `purge --dry-run` counts
//! without deleting; a run missed while the server was down happens at the next start. Rows are aged by
//! moving their times back in the SQLite file. (The bytes gone from the files: tests/retention_bytes.rs;
//! the store and the pages: tests/retention_store.rs.)

mod common;
mod retention_support;

use common::api::{account, count};
use common::{Install, stderr, stdout};
use retention_support::{
    DAY_MS, Derived, age_conversation, age_message, contact_of, customer_writes,
    derived_from_conversation, derived_from_message, open, scene, send_read, serve, wait_until,
};
use serde_json::Value;
use std::collections::BTreeMap;
use whatsapi::store::retention::TABLES;

fn table_counts(install: &Install) -> BTreeMap<&'static str, i64> {
    TABLES
        .iter()
        .map(|t| (*t, count(install, &format!("SELECT count(*) FROM {t}"))))
        .collect()
}

/// The per-table lines `purge` prints ("  messages   12").
fn printed_counts(output: &str) -> BTreeMap<String, i64> {
    output
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?.to_owned(), words.next()?.parse().ok()?))
        })
        .collect()
}

/// What a run must delete in the scene, table by table.
fn expected(message: &Derived, conversation: &Derived) -> BTreeMap<String, i64> {
    [
        ("messages", 1),
        ("message_statuses", message.statuses + 1),
        ("idempotency_keys", message.idempotency + 1),
        ("inbound_messages", conversation.inbound),
        ("webhook_payloads", message.payloads + conversation.payloads),
        ("contacts", 1),
        ("webhook_events", message.events + conversation.events + 1),
        (
            "webhook_deliveries",
            message.deliveries + conversation.deliveries + 1,
        ),
        (
            "webhook_attempts",
            message.attempts + conversation.attempts + 1,
        ),
        ("activity_log", 1),
        ("sessions", 1),
        ("one_time_tokens", 1),
        ("payment_events", 1),
        ("usage_daily", 1),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_owned(), n))
    .collect()
}

#[test]
fn messages_of_91_days_go_with_everything_derived_and_those_of_89_days_stay() {
    let scene = scene();
    let install = &scene.install;
    let old = derived_from_message(install, &scene.old_message);
    let old_conversation = derived_from_conversation(install, scene.old_contact);
    let recent = derived_from_message(install, &scene.recent_message);
    let recent_conversation = derived_from_conversation(install, scene.recent_contact);
    // The scene has something of every kind to lose.
    assert!(
        old.statuses >= 3 && old.payloads >= 1 && old.events >= 3,
        "{old:?}"
    );
    assert!(
        old.deliveries >= 3 && old.attempts >= 3 && old.idempotency == 1,
        "{old:?}"
    );
    assert!(
        old_conversation.inbound == 1 && old_conversation.events == 1,
        "{old_conversation:?}"
    );

    let before = table_counts(install);
    let output = install.run(&["purge"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let reported = printed_counts(&stdout(&output));
    let wanted = expected(&old, &old_conversation);
    for (table, n) in &wanted {
        assert_eq!(reported.get(table), Some(n), "{table}: {}", stdout(&output));
    }
    let after = table_counts(install);
    for table in TABLES {
        assert_eq!(
            before[table] - after[table],
            wanted[table],
            "{table} lost exactly what was reported"
        );
    }

    assert_eq!(
        count(
            install,
            &format!(
                "SELECT count(*) FROM messages WHERE id = {}",
                scene.old_message
            )
        ),
        0
    );
    let gone = derived_from_message(install, &scene.old_message);
    assert_eq!(
        (
            gone.statuses,
            gone.events,
            gone.deliveries,
            gone.attempts,
            gone.idempotency
        ),
        (0, 0, 0, 0, 0)
    );
    let gone = derived_from_conversation(install, scene.old_contact);
    assert_eq!((gone.inbound, gone.events, gone.payloads), (0, 0, 0));
    assert_eq!(
        count(
            install,
            &format!(
                "SELECT count(*) FROM contacts WHERE id = {}",
                scene.old_contact
            )
        ),
        0
    );

    // The 89-day-old message and conversation keep everything.
    let kept = derived_from_message(install, &scene.recent_message);
    assert_eq!(
        (
            kept.statuses,
            kept.payloads,
            kept.events,
            kept.deliveries,
            kept.attempts,
            kept.idempotency
        ),
        (
            recent.statuses,
            recent.payloads,
            recent.events,
            recent.deliveries,
            recent.attempts,
            recent.idempotency
        )
    );
    let kept = derived_from_conversation(install, scene.recent_contact);
    assert_eq!(
        (kept.inbound, kept.events, kept.payloads),
        (
            recent_conversation.inbound,
            recent_conversation.events,
            recent_conversation.payloads
        )
    );
    let (status, message) = scene.api.call(
        "GET",
        &format!("/api/v1/messages/{}", scene.recent_message),
        None,
        &[],
    );
    assert_eq!(status, 200, "{message}");
    assert_eq!(
        message["status_events"].as_array().unwrap().len() as i64,
        recent.statuses
    );

    // The run is recorded with what it deleted.
    let outcome: String = open(install)
        .query_row(
            "SELECT outcome FROM job_runs WHERE job = 'retention' AND finished_at IS NOT NULL AND error IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let outcome: Value = serde_json::from_str(&outcome).unwrap();
    assert_eq!(outcome["deleted"]["messages"], 1, "{outcome}");
    assert_eq!(outcome["checkpoint_complete"], true, "{outcome}");
    drop(scene.server);
}

#[test]
fn purge_dry_run_changes_nothing_and_reports_what_a_run_deletes() {
    let scene = scene();
    let install = &scene.install;
    let old = derived_from_message(install, &scene.old_message);
    let old_conversation = derived_from_conversation(install, scene.old_contact);
    let before = table_counts(install);

    let dry = install.run(&["purge", "--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains("nothing was deleted"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(table_counts(install), before, "a dry run deletes nothing");
    assert_eq!(
        count(
            install,
            "SELECT count(*) FROM job_runs WHERE job = 'retention'"
        ),
        0,
        "a dry run is not a run"
    );
    let predicted = printed_counts(&stdout(&dry));
    let wanted = expected(&old, &old_conversation);
    for (table, n) in &wanted {
        assert_eq!(predicted.get(table), Some(n), "{table}: {}", stdout(&dry));
    }

    let real = install.run(&["purge"]);
    assert!(real.status.success(), "{}", stderr(&real));
    assert_eq!(
        printed_counts(&stdout(&real)),
        predicted,
        "the run deletes what the dry run said"
    );
    drop(scene.server);
}

#[test]
fn a_message_past_the_limit_is_hidden_before_the_job_runs() {
    let install = Install::new();
    let server = serve(&install);
    let (api, connection) = account(&install, &server, "owner@shop.test");
    customer_writes(&api, &connection, "+96550000091", "long ago");
    customer_writes(&api, &connection, "+96550000089", "not so long ago");
    let old = send_read(&api, &connection, "+96550000091", "order-91");
    let recent = send_read(&api, &connection, "+96550000089", "order-89");
    let old_contact = contact_of(&api, "+96550000091");
    let recent_contact = contact_of(&api, "+96550000089");
    let old_inbound: i64 = count(
        &install,
        &format!("SELECT id FROM inbound_messages WHERE contact_id = {old_contact}"),
    );
    age_message(&install, &old, 91);
    age_conversation(&install, old_contact, 91);
    age_message(&install, &recent, 89);
    age_conversation(&install, recent_contact, 89);

    let (status, _) = api.call("GET", &format!("/api/v1/messages/{old}"), None, &[]);
    assert_eq!(status, 404, "a message past the limit is not found");
    let (status, _) = api.call("GET", &format!("/api/v1/messages/{recent}"), None, &[]);
    assert_eq!(status, 200);
    let (status, list) = api.call("GET", "/api/v1/messages", None, &[]);
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![recent.as_str()],
        "only the recent message is listed"
    );

    let (_, conversations) = api.call("GET", "/api/v1/conversations", None, &[]);
    let listed: Vec<&str> = conversations["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["phone"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec!["+96550000089"], "{conversations}");
    let (status, _) = api.call(
        "GET",
        &format!("/api/v1/conversations/{old_contact}"),
        None,
        &[],
    );
    assert_eq!(status, 404);
    let (status, thread) = api.call(
        "GET",
        &format!("/api/v1/conversations/{recent_contact}"),
        None,
        &[],
    );
    assert_eq!(status, 200, "{thread}");
    assert_eq!(thread["messages"].as_array().unwrap().len(), 2, "{thread}");
    let (status, _) = api.call(
        "POST",
        &format!("/api/v1/conversations/{old_contact}/seen"),
        None,
        &[],
    );
    assert_eq!(status, 404);
    assert!(old_inbound > 0);

    // Hidden, not yet deleted: the job has not run.
    assert_eq!(
        count(
            &install,
            &format!("SELECT count(*) FROM messages WHERE id = {old}")
        ),
        1
    );
    assert_eq!(
        count(
            &install,
            "SELECT count(*) FROM job_runs WHERE job = 'retention'"
        ),
        0
    );
    drop(server);
}

#[test]
fn a_retention_run_missed_while_down_happens_at_the_next_start() {
    let install = Install::new();
    assert!(install.run(&["migrate"]).status.success());
    let now = whatsapi::store::now_ms();
    let conn = open(&install);
    conn.execute(
        "INSERT INTO job_runs (job, started_at, finished_at) VALUES ('retention', ?1, ?1)",
        [now - 2 * DAY_MS],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO activity_log (action, created_at) VALUES ('signed_in', ?1)",
        [now - 400 * DAY_MS],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO activity_log (action, created_at) VALUES ('signed_in', ?1)",
        [now - 300 * DAY_MS],
    )
    .unwrap();
    // The default schedule: 03:00 every day, so a run fell due since the last one two days ago.
    let _server = install.serve();
    wait_until("the missed retention run", || {
        count(
            &install,
            &format!(
                "SELECT count(*) FROM job_runs WHERE job = 'retention' AND started_at > {}
                 AND finished_at IS NOT NULL AND error IS NULL",
                now - 2 * DAY_MS
            ),
        ) == 1
    });
    assert_eq!(
        count(&install, "SELECT count(*) FROM activity_log"),
        1,
        "the entry past 365 days is gone, the other stays"
    );
}
