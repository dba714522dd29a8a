//! Usage as an account reads it from `GET /api/v1/usage`, on the real server with the built-in sandbox:
//! the counts equal the traffic sent (messages by what happened to them, failures by Meta's code, customers'
//! messages, API calls by route and class of answer), by day, connection and type; one account never sees
//! another's; counts written to the daily roll-ups survive a kill, and a stop writes what it held; the
//! retention run deletes roll-ups past their months; the roll-ups hold no number or text.

mod common;

use common::api::{Api, account};
use common::{Install, serve_quick, wait_until};
use serde_json::{Value, json};

const CUSTOMER: &str = "+96550001234";
/// The sandbox refuses a message to this number with Meta's error 131026 (undeliverable), for good.
const UNDELIVERABLE: &str = "+15550199131026";

fn text(connection: &str, to: &str) -> Value {
    json!({"connection_id": connection, "to": to, "type": "text", "text": {"body": "Your order shipped"}})
}

fn usage(api: &Api, query: &str) -> Value {
    let (status, body) = api.call("GET", &format!("/api/v1/usage{query}"), None, &[]);
    assert_eq!(status, 200, "{body}");
    body
}

/// The totals' counts of these events.
fn totals(report: &Value, events: &[&str]) -> Vec<u64> {
    events
        .iter()
        .map(|e| report["totals"][e].as_u64().unwrap())
        .collect()
}

/// Waits until the report's totals of `events` are `expected`, and returns the report.
fn usage_reaching(api: &Api, query: &str, events: &[&str], expected: &[u64]) -> Value {
    let mut report = Value::Null;
    wait_until(&format!("usage totals {events:?} = {expected:?}"), || {
        report = usage(api, query);
        totals(&report, events) == expected
    });
    report
}

fn sum_in_file(install: &Install, event: &str) -> i64 {
    common::api::count(
        install,
        &format!("SELECT coalesce(sum(count), 0) FROM usage_daily WHERE event = '{event}'"),
    )
}

#[test]
fn usage_counts_equal_the_traffic_by_day_connection_and_type_and_stay_with_their_account() {
    let install = Install::new();
    let server = serve_quick(&install);
    let (api, connection) = account(&install, &server, "usage@example.com");
    let (other, _) = account(&install, &server, "other@example.com");
    let (status, endpoint) = api.call(
        "POST",
        "/api/v1/webhook-endpoints",
        Some(json!({"url": common::ok_endpoint(), "event_types": ["message.status"]})),
        &[],
    );
    assert_eq!(status, 201, "{endpoint}");

    let mut sent = Vec::new();
    for to in [CUSTOMER, CUSTOMER, CUSTOMER, UNDELIVERABLE, UNDELIVERABLE] {
        let (status, body) = api.send(text(&connection, to));
        assert_eq!(status, 202, "{body}");
        sent.push(body["id"].as_str().unwrap().to_owned());
    }
    let (status, body) =
        api.send(json!({"connection_id": connection, "to": CUSTOMER, "type": "text"}));
    assert_eq!(status, 400, "{body}");
    let (status, body) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/sandbox/inbound"),
        Some(json!({"from": "+96550009876", "name": "Customer", "text": "Where is my order?"})),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    for id in &sent[..3] {
        api.wait_for(id, &["read"]);
    }
    for id in &sent[3..] {
        api.wait_for(id, &["failed"]);
    }

    let events = ["accepted", "sent", "delivered", "read", "failed", "inbound"];
    let report = usage_reaching(&api, "", &events, &[5, 3, 3, 3, 2, 1]);
    let today = report["to"].as_str().unwrap().to_owned();
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 30, "the last 30 days, each a row: {report}");
    let last = rows.last().unwrap();
    assert_eq!(last["key"], today.as_str());
    assert_eq!(
        (last["sent"].as_u64(), last["failed"].as_u64()),
        (Some(3), Some(2))
    );
    assert!(rows[..29].iter().all(|r| r["accepted"] == 0), "{report}");
    assert_eq!(
        report["failures"],
        json!([{"code": 131026, "count": 2, "meaning": report["failures"][0]["meaning"]}])
    );
    assert!(
        report["failures"][0]["meaning"]
            .as_str()
            .unwrap()
            .contains("not be delivered")
    );
    assert_eq!(
        report["pricing"],
        json!([{"category": "service", "delivered": 3}])
    );
    let calls = |route: &str, class: &str| {
        report["api_calls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["route"] == route && c["class"] == class)
            .map(|c| c["count"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(calls("POST /api/v1/messages", "2xx"), 5, "{report}");
    assert_eq!(calls("POST /api/v1/messages", "4xx"), 1, "{report}");
    assert_eq!(calls("POST /api/v1/connections", "2xx"), 1, "{report}");
    assert!(calls("GET /api/v1/messages/<id>", "2xx") >= 5, "{report}");

    // Every call was made with the account's one key.
    let key = common::api::count(
        &install,
        "SELECT k.id FROM api_keys k JOIN users u ON u.account_id = k.account_id
         WHERE u.email = 'usage@example.com'",
    )
    .to_string();
    assert!(
        report["api_calls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["key_id"] == key.as_str()),
        "{report}"
    );
    // Webhook deliveries by outcome: as many delivered as the endpoint took.
    wait_until("the deliveries are counted as delivered", || {
        let delivered = common::api::count(
            &install,
            "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'",
        );
        let counted = usage(&api, "")["other"]["webhooks_delivered"]
            .as_i64()
            .unwrap();
        delivered > 0 && counted == delivered
    });

    let by_connection = usage(
        &api,
        &format!("?from={today}&to={today}&group_by=connection"),
    );
    assert_eq!(
        by_connection["rows"].as_array().unwrap().len(),
        1,
        "{by_connection}"
    );
    let row = &by_connection["rows"][0];
    assert_eq!(row["key"], connection.as_str());
    assert_eq!(
        (
            row["accepted"].as_u64(),
            row["read"].as_u64(),
            row["inbound"].as_u64()
        ),
        (Some(5), Some(3), Some(1))
    );
    let by_type = usage(&api, &format!("?from={today}&to={today}&group_by=type"));
    assert_eq!(by_type["rows"][0]["key"], "text", "{by_type}");
    assert_eq!(by_type["rows"][0]["sent"], 3);

    // The other account sent nothing: its usage is its own (the calls it made, nothing of the first's).
    let theirs = usage(&other, "");
    assert_eq!(totals(&theirs, &events), vec![0; 6], "{theirs}");
    assert!(theirs["failures"].as_array().unwrap().is_empty());

    // Counts only: no number, no name, no text in the roll-ups.
    wait_until("the counts are written", || {
        sum_in_file(&install, "read") == 3
    });
    let db = rusqlite::Connection::open(install.db_path()).unwrap();
    let texts: Vec<String> = db
        .prepare("SELECT route || ' ' || class || ' ' || kind || ' ' || pricing FROM usage_daily")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!texts.is_empty());
    for text in &texts {
        for secret in ["96550001234", "96550009876", "Customer", "order", "shipped"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}

#[test]
fn bad_ranges_are_refused_with_the_field_named() {
    let install = Install::new();
    let server = serve_quick(&install);
    let (api, _) = account(&install, &server, "ranges@example.com");
    for (query, field) in [
        ("?from=2026-02-30", "from"),
        ("?to=yesterday", "to"),
        ("?from=2026-03-02&to=2026-03-01", "from"),
        ("?from=2024-01-01&to=2026-01-01", "from"),
        ("?group_by=week", "group_by"),
        ("?since=2026-01-01", "since"),
    ] {
        let (status, body) = api.call("GET", &format!("/api/v1/usage{query}"), None, &[]);
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_field", "{body}");
        assert_eq!(body["error"]["details"]["field"], field, "{query}: {body}");
    }
    let fine = usage(&api, "?from=2026-03-01&to=2026-03-02&group_by=day");
    assert_eq!(fine["rows"].as_array().unwrap().len(), 2, "{fine}");
    assert_eq!(fine["rows"][0]["key"], "2026-03-01");
}

#[test]
fn written_counts_survive_a_kill_and_a_stop_writes_what_it_held() {
    let install = Install::new();
    let server = serve_quick(&install);
    let (api, connection) = account(&install, &server, "restart@example.com");
    for _ in 0..2 {
        let (status, body) = api.send(text(&connection, CUSTOMER));
        assert_eq!(status, 202, "{body}");
    }
    // Once the roll-ups hold them, a kill loses none of them, and none is counted twice.
    wait_until("the counts are written", || {
        sum_in_file(&install, "accepted") == 2 && sum_in_file(&install, "read") == 2
    });
    server.kill9();
    let server = serve_quick(&install);
    let api = Api {
        base: server.url.clone(),
        ..api
    };
    let report = usage(&api, "");
    assert_eq!(
        totals(&report, &["accepted", "sent", "read"]),
        vec![2, 2, 2],
        "{report}"
    );

    // A kill before the next flush loses at most what was counted since the last one.
    let (status, body) = api.send(text(&connection, CUSTOMER));
    assert_eq!(status, 202, "{body}");
    server.kill9();
    let server = serve_quick(&install);
    let api = Api {
        base: server.url.clone(),
        ..api
    };
    let accepted = totals(&usage(&api, ""), &["accepted"])[0];
    assert!((2..=3).contains(&accepted), "{accepted}");

    // A stop writes what memory holds.
    let (status, body) = api.send(text(&connection, CUSTOMER));
    assert_eq!(status, 202, "{body}");
    server.stop();
    assert_eq!(sum_in_file(&install, "accepted"), accepted as i64 + 1);
}

#[test]
fn the_retention_run_deletes_roll_ups_past_their_months_and_keeps_the_rest() {
    let mut install = Install::new();
    install
        .env
        .push(("WHATSAPI_RETENTION__USAGE_MONTHS".into(), "2".into()));
    let server = serve_quick(&install);
    let (api, _) = account(&install, &server, "old@example.com");
    drop(server);
    let today = common::api::count(&install, "SELECT unixepoch('now') / 86400");
    let account_id = common::api::count(&install, "SELECT id FROM accounts");
    let db = rusqlite::Connection::open(install.db_path()).unwrap();
    for (days_ago, count) in [(100, 7), (70, 5), (40, 3), (1, 2)] {
        db.execute(
            "INSERT INTO usage_daily (account_id, day, event, count) VALUES (?1, ?2, 'sent', ?3)",
            [account_id, today - days_ago, count],
        )
        .unwrap();
    }
    let output = install.run(&["purge"]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    assert!(
        common::stdout(&output).contains("usage_daily"),
        "{}",
        common::stdout(&output)
    );
    let server = serve_quick(&install);
    let api = Api {
        base: server.url.clone(),
        ..api
    };
    let kept = common::api::count(&install, "SELECT sum(count) FROM usage_daily");
    assert_eq!(kept, 5, "two months kept: 40 and 1 days ago");
    let report = usage(&api, "");
    assert_eq!(report["totals"]["sent"], 2, "the last 30 days: {report}");
}
