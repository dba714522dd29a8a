//! A subscription's life on the real server, its clock moved through `WAPI_TEST_CLOCK_FILE`: a trial
//! that ends, its grace period, sending that stops and starts again; and the billing emails, each sent
//! once, in the owner's language, kept while the mail server is down.
//!
//! The billing round runs at the server's start and every minute; these tests restart the server to run
//! it, and take the round's log line as the sign that it ran ("nothing more was sent" is read after it).

mod common;

use common::api::{Api, account, count};
use common::web::decode_email;
use common::{Install, Server, wait_until};
use serde_json::json;
use std::process::Command;
use std::time::Duration;

const DAY_MS: i64 = 86_400_000;

/// An installation whose commands and server share a clock the test moves, logging the billing round
/// even when it did nothing.
fn install_with(settings: &[(&str, &str)]) -> Install {
    let mut install = Install::new();
    let clock = install.path("clock");
    std::fs::write(&clock, "0").unwrap();
    install.env.push((
        "WAPI_TEST_CLOCK_FILE".into(),
        clock.to_string_lossy().into_owned(),
    ));
    install
        .env
        .push(("WHATSAPI_LOG__LEVEL".into(), "debug".into()));
    // One port for every start: a sandbox connection keeps the address of the server that made it.
    install.env.push((
        "WHATSAPI_SERVER__PORT".into(),
        common::free_port().to_string(),
    ));
    for (name, value) in settings {
        install.env.push(((*name).into(), (*value).into()));
    }
    install
}

/// A plan of five messages a month, every new account's.
const SMALL_PLAN: [(&str, &str); 2] = [
    ("WHATSAPI_BILLING__DEFAULT_PLAN", "small"),
    (
        "WHATSAPI_PLANS",
        r#"[{id = "small", name = "Small", messages_per_month = 5}]"#,
    ),
];

/// Moves the clock of the server and of the commands to `days` after the real time.
fn set_clock(install: &Install, days: i64) {
    // Written aside and renamed: the server reads the file on every call and must never see it half written.
    let next = install.path("clock.next");
    std::fs::write(&next, (days * DAY_MS).to_string()).unwrap();
    std::fs::rename(next, install.path("clock")).unwrap();
}

/// Starts the server and waits for its first billing round to end.
fn serve(install: &Install) -> Server {
    serve_with(install, install.command(&["serve"]))
}

fn serve_with(install: &Install, cmd: Command) -> Server {
    let server = install.serve_with(cmd);
    wait_until("the billing round at the start", || {
        server.logged("billing round") > 0
    });
    server
}

/// Every email in the outbox whose subject contains `subject`, decoded.
fn emails(install: &Install, subject: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(install.data_dir().join("outbox")) else {
        return Vec::new();
    };
    let mut files: Vec<_> = dir.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .map(|f| decode_email(&std::fs::read_to_string(f).unwrap()))
        .filter(|e| {
            e.lines()
                .any(|l| l.starts_with("Subject:") && l.contains(subject))
        })
        .collect()
}

fn sql(install: &Install, statement: &str) {
    let conn = rusqlite::Connection::open(install.db_path()).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute_batch(statement).unwrap();
}

fn account_of(install: &Install, email: &str) -> i64 {
    count(
        install,
        &format!("SELECT account_id FROM users WHERE email = '{email}'"),
    )
}

/// Sends a text; one accepted is waited for until the sandbox took it, since a stop waits for a send in
/// flight (and the tests stop the server often).
fn send_text(api: &Api, connection: &str) -> (u16, serde_json::Value) {
    let (status, answer) = api.send(json!({"connection_id": connection, "to": "+96550001234",
        "type": "text", "text": {"body": "Your order has shipped."}}));
    if status == 202 {
        api.wait_for(
            answer["id"].as_str().unwrap(),
            &["sent", "delivered", "read"],
        );
    }
    (status, answer)
}

const TRIAL_ENDING: &str = "The trial of Shop ends on";
const SENDING_STOPPED: &str = "Shop no longer sends messages";

#[test]
fn a_trial_ends_its_grace_passes_sending_stops_and_a_reactivation_sends_again() {
    let install = install_with(&[
        ("WHATSAPI_BILLING__TRIAL_DAYS", "14"),
        ("WHATSAPI_BILLING__GRACE_DAYS", "7"),
    ]);
    let server = serve(&install);
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let id = account_of(&install, "owner@shop.test");
    let (status, answer) = send_text(&api, &connection);
    assert_eq!(status, 202, "trialing: {answer}");
    assert!(emails(&install, TRIAL_ENDING).is_empty());
    server.stop();

    // Three days before the end: told once, with the date and the Billing page.
    set_clock(&install, 11);
    serve(&install).stop();
    let told = emails(&install, TRIAL_ENDING);
    assert_eq!(told.len(), 1, "{told:#?}");
    assert!(told[0].contains("To: owner@shop.test"), "{}", told[0]);
    assert!(told[0].contains("/billing"), "{}", told[0]);
    set_clock(&install, 12);
    serve(&install).stop();
    assert_eq!(emails(&install, TRIAL_ENDING).len(), 1, "told once");

    // The trial ended without payment: past due since its end, still sending during the grace.
    set_clock(&install, 15);
    let server = serve(&install);
    assert_eq!(
        count(
            &install,
            &format!(
                "SELECT count(*) FROM subscription_changes WHERE account_id = {id}
                 AND status = 'past_due' AND by = 'trial ended'"
            )
        ),
        1
    );
    assert_eq!(
        count(
            &install,
            &format!(
                "SELECT past_due_since = trial_ends_at FROM subscriptions WHERE account_id = {id}"
            )
        ),
        1,
        "past due since the trial's end"
    );
    let (status, answer) = send_text(&api, &connection);
    assert_eq!(status, 202, "in the grace period: {answer}");
    assert!(emails(&install, SENDING_STOPPED).is_empty());
    server.stop();

    // The grace is over (14 + 7 days): refused, and told once.
    set_clock(&install, 22);
    let server = serve(&install);
    let stopped = emails(&install, SENDING_STOPPED);
    assert_eq!(stopped.len(), 1, "{stopped:#?}");
    assert!(stopped[0].contains("To: owner@shop.test"), "{}", stopped[0]);
    let (status, answer) = send_text(&api, &connection);
    assert_eq!(status, 402, "after the grace: {answer}");
    assert_eq!(answer["error"]["code"], "subscription_inactive", "{answer}");

    // Reactivated by the operator from the command line: it sends again (within the seconds a
    // standing is trusted for).
    let account = id.to_string();
    let output = install.run(&[
        "account",
        "set-status",
        "--account",
        &account,
        "--status",
        "active",
    ]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    wait_until("sending again after the reactivation", || {
        send_text(&api, &connection).0 == 202
    });
    server.stop();

    // Nothing more is said at the next round.
    set_clock(&install, 23);
    serve(&install).stop();
    assert_eq!(emails(&install, SENDING_STOPPED).len(), 1);
    assert_eq!(emails(&install, TRIAL_ENDING).len(), 1);
}

const QUOTA_80: &str = "استخدمت Shop 80% من رسائل هذا الشهر";
const QUOTA_100: &str = "استخدمت Shop كل رسائل هذا الشهر";

#[test]
fn the_quota_emails_go_once_each_in_the_owners_language() {
    let install = install_with(&SMALL_PLAN);
    let server = serve(&install);
    let (api, connection) = account(&install, &server, "owner@shop.test");
    sql(
        &install,
        "UPDATE users SET locale = 'ar' WHERE email = 'owner@shop.test'",
    );
    for n in 1..=4 {
        let (status, answer) = send_text(&api, &connection);
        assert_eq!(status, 202, "message {n}: {answer}");
    }
    server.stop();

    // Accepting a message queues the quota notices (services::messages), the round sends them.
    let server = serve(&install);
    let most = emails(&install, QUOTA_80);
    assert_eq!(most.len(), 1, "after 4 of 5: {most:#?}");
    assert!(most[0].contains("To: owner@shop.test"), "{}", most[0]);
    assert!(most[0].contains("/billing"), "{}", most[0]);
    assert!(emails(&install, QUOTA_100).is_empty());
    let (status, answer) = send_text(&api, &connection);
    assert_eq!(status, 202, "the 5th: {answer}");
    server.stop();

    let server = serve(&install);
    assert_eq!(emails(&install, QUOTA_100).len(), 1, "after 5 of 5");
    let (status, answer) = send_text(&api, &connection);
    assert_eq!(status, 402, "the 6th: {answer}");
    assert_eq!(answer["error"]["code"], "quota_exceeded", "{answer}");
    server.stop();

    // Two more rounds: nothing is sent again.
    serve(&install).stop();
    serve(&install).stop();
    assert_eq!(emails(&install, QUOTA_80).len(), 1);
    assert_eq!(emails(&install, QUOTA_100).len(), 1);
    assert_eq!(
        count(
            &install,
            "SELECT count(*) FROM billing_notices WHERE sent_at IS NULL"
        ),
        0
    );
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_notice_waits_for_a_mail_server_that_was_down_and_goes_out_once() {
    let install = install_with(&SMALL_PLAN);
    let server = serve(&install);
    account(&install, &server, "owner@shop.test");
    server.stop();
    let id = account_of(&install, "owner@shop.test");
    sql(
        &install,
        "UPDATE users SET locale = 'ar' WHERE email = 'owner@shop.test'",
    );
    // Queued as the message service and the payment provider's events queue them.
    let (month, now) = (
        chrono::Utc::now().format("%Y-%m").to_string(),
        chrono::Utc::now().timestamp_millis(),
    );
    sql(
        &install,
        &format!(
            "INSERT INTO billing_notices (account_id, kind, period, created_at)
             VALUES ({id}, 'quota_80', '{month}', {now}), ({id}, 'payment_failed', 'in_1', {now});
             UPDATE subscriptions SET status = 'past_due', past_due_since = {now} WHERE account_id = {id};"
        ),
    );
    let unsent = || {
        count(
            &install,
            "SELECT count(*) FROM billing_notices WHERE sent_at IS NULL",
        )
    };

    // The mail server is down: the round tries, fails, and keeps both.
    let mut down = install.command(&["serve"]);
    down.env("WHATSAPI_SMTP__HOST", "127.0.0.1")
        .env("WHATSAPI_SMTP__PORT", closed_port().to_string())
        .env("WHATSAPI_SMTP__SECURITY", "none");
    let server = serve_with(&install, down);
    assert_eq!(server.logged("could not send a billing notice"), 1);
    server.stop();
    assert_eq!(unsent(), 2);
    assert!(emails(&install, "Shop").is_empty());

    // Back (the outbox): both go out at the next round, in Arabic, and are marked.
    serve(&install).stop();
    assert_eq!(unsent(), 0);
    assert_eq!(emails(&install, QUOTA_80).len(), 1);
    let failed = emails(&install, "تعذّر دفع مستحقات Shop");
    assert_eq!(failed.len(), 1, "{:#?}", emails(&install, "Shop"));
    assert!(failed[0].contains("/billing"), "{}", failed[0]);

    // And once.
    serve(&install).stop();
    assert_eq!(emails(&install, "Shop").len(), 2);
}
