//! `GET /metrics` as Prometheus meets it, against the real server: what it serves is read by Prometheus's
//! own OpenMetrics parser (the Python client library), its counters move with traffic sent through the
//! sandbox, it names no person, and it is served only with the token, or without one only to a client on
//! this machine.

mod common;

use common::api::{self, Api};
use common::raw::{Answer, request};
use common::{Install, Server, ok_endpoint, serve_quick, wait_until};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const TOKEN: &str = "scrape-token-0123456789abcdef";

/// One sample as the parser read it.
#[derive(Debug)]
struct Sample {
    family: String,
    kind: String,
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Every sample of one exposition.
struct Scrape(Vec<Sample>);

impl Scrape {
    /// The sum of the samples called `name` whose labels include `labels` (0 when there is none: a
    /// family is listed once it has counted something).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    fn kind_of(&self, family: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|s| s.family == family)
            .map(|s| s.kind.as_str())
    }
}

/// The Python of the virtual environment tests/run-all.sh makes with Prometheus's client library
/// (`prometheus-client` on PyPI): `PROMETHEUS_PYTHON`, else `$CARGO_TARGET_DIR/prometheus-venv/bin/python`.
fn prometheus_python() -> PathBuf {
    if let Some(path) = std::env::var_os("PROMETHEUS_PYTHON") {
        return path.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("prometheus-venv/bin/python")
}

/// Parses an exposition with `prometheus_client.openmetrics.parser`, which refuses anything that is not
/// valid OpenMetrics text (a missing `# EOF`, a counter without `_total`, a histogram without `+Inf`...).
fn parse(text: &str) -> Scrape {
    const SCRIPT: &str = "import sys, json\n\
        from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
        out = []\n\
        for family in text_string_to_metric_families(sys.stdin.read()):\n    \
            for s in family.samples:\n        \
                out.append({'family': family.name, 'kind': family.type, 'name': s.name, \
                            'labels': s.labels, 'value': s.value})\n\
        print(json.dumps(out))\n";
    let python = prometheus_python();
    let mut child = Command::new(&python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "Prometheus's Python client could not be run ({}: {e}). Install it: tests/run-all.sh \
                 does (python3 -m venv $CARGO_TARGET_DIR/prometheus-venv && \
                 $CARGO_TARGET_DIR/prometheus-venv/bin/pip install prometheus-client), or set \
                 PROMETHEUS_PYTHON to a Python that has it.",
                python.display()
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "Prometheus's parser (prometheus-client in {}) refused /metrics or did not run:\n{}\n\
         --- the exposition:\n{text}",
        python.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let samples: Vec<Value> = serde_json::from_slice(&output.stdout).expect("the parser's JSON");
    Scrape(
        samples
            .into_iter()
            .map(|s| Sample {
                family: s["family"].as_str().unwrap().to_owned(),
                kind: s["kind"].as_str().unwrap().to_owned(),
                name: s["name"].as_str().unwrap().to_owned(),
                labels: serde_json::from_value(s["labels"].clone()).unwrap(),
                value: s["value"].as_f64().unwrap(),
            })
            .collect(),
    )
}

fn get_metrics(server: &Server, headers: &[(&str, &str)]) -> Answer {
    request(&server.url, "GET", "/metrics", headers, "")
}

/// A scrape that must be served; the exposition and what the parser read of it.
fn scrape(server: &Server, headers: &[(&str, &str)]) -> (String, Scrape) {
    let answer = get_metrics(server, headers);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer
            .header("Content-Type")
            .starts_with("application/openmetrics-text; version=1.0.0"),
        "{}",
        answer.header("Content-Type")
    );
    let scrape = parse(&answer.body);
    (answer.body, scrape)
}

/// A refusal: the status, and the server's JSON error with this code.
fn assert_refused(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert!(
        answer
            .header("Content-Type")
            .starts_with("application/json"),
        "{}",
        answer.header("Content-Type")
    );
    let error: Value = serde_json::from_str(&answer.body).expect("a JSON error");
    assert_eq!(error["error"]["code"], code, "{error}");
    assert!(!answer.body.contains("whatsapi_"), "no metric is shown");
}

fn text(connection: &str, to: &str, body: &str) -> Value {
    json!({"connection_id": connection, "to": to, "type": "text", "text": {"body": body}})
}

/// Sends `to` and returns the message's id.
fn send(api: &Api, connection: &str, to: &str) -> String {
    let (status, answer) = api.send(text(connection, to, "METRICS-BODY-4417"));
    assert_eq!(status, 202, "{answer}");
    answer["id"].as_str().unwrap().to_owned()
}

#[test]
fn the_exposition_parses_and_its_counters_move_with_traffic_without_naming_anyone() {
    let install = Install::new();
    let server = serve_quick(&install);
    let email = "metrics-owner@example.com";
    let (api, connection) = api::account(&install, &server, email);
    let (status, endpoint) = api.call(
        "POST",
        "/api/v1/webhook-endpoints",
        Some(json!({"url": ok_endpoint(), "event_types": ["message.status"]})),
        &[],
    );
    assert_eq!(status, 201, "{endpoint}");

    let (_, before) = scrape(&server, &[]);
    for family in [
        "whatsapi_store_write_batch_size",
        "whatsapi_store_commit_duration_seconds",
    ] {
        assert_eq!(before.kind_of(family), Some("histogram"), "{family}");
    }
    assert_eq!(before.kind_of("whatsapi_outbox_messages"), Some("gauge"));
    assert_eq!(before.kind_of("whatsapi_writer_queue"), Some("gauge"));
    assert!(before.value("process_resident_memory_bytes", &[]) > 1_000_000.0);
    assert!(before.value("process_open_fds", &[]) > 0.0);
    assert!(before.value("process_max_fds", &[]) >= before.value("process_open_fds", &[]));
    let sent = ("outcome", "sent");

    // Three messages that are read, one Meta refuses for good, one that succeeds on its second try.
    let readers = ["+96550001234", "+96550005678", "+96550009012"];
    let mut read = Vec::new();
    for to in readers {
        read.push(send(&api, &connection, to));
    }
    let undeliverable = send(&api, &connection, "+15550199131026");
    let passing = send(&api, &connection, "+15550199131000");
    read.push(passing);
    for id in &read {
        api.wait_for(id, &["read"]);
    }
    api.wait_for(&undeliverable, &["failed"]);
    // Four messages read: three statuses each, from the sandbox's signed webhooks.
    let events = ("kind", "status");
    wait_until("the sandbox's status webhooks are counted", || {
        let (_, now) = scrape(&server, &[]);
        now.value("whatsapi_meta_webhook_events_total", &[events]) >= 12.0
    });
    wait_until("a delivery to the customer's endpoint is counted", || {
        let (_, now) = scrape(&server, &[]);
        now.value(
            "whatsapi_webhook_deliveries_total",
            &[("outcome", "delivered")],
        ) >= 1.0
    });

    let (exposition, after) = scrape(&server, &[]);
    let grew = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(
        grew("whatsapi_sends_total", &[sent, ("class", "none")]),
        4.0
    );
    assert_eq!(
        grew(
            "whatsapi_sends_total",
            &[("outcome", "failed"), ("class", "final")]
        ),
        1.0
    );
    assert_eq!(
        grew(
            "whatsapi_sends_total",
            &[("outcome", "retried"), ("class", "retry_soon")]
        ),
        1.0
    );
    let accepted = [
        ("method", "POST"),
        ("route", "/api/v1/messages"),
        ("status", "202"),
    ];
    assert_eq!(grew("whatsapi_http_requests_total", &accepted), 5.0);
    let polled = [("route", "/api/v1/messages/<id>"), ("status", "200")];
    assert!(grew("whatsapi_http_requests_total", &polled) >= 5.0);
    assert!(
        grew(
            "whatsapi_http_request_duration_seconds_count",
            &[("route", "/api/v1/messages")]
        ) >= 5.0
    );
    assert_eq!(
        after.kind_of("whatsapi_http_request_duration_seconds"),
        Some("histogram")
    );
    assert_eq!(grew("whatsapi_meta_webhook_events_total", &[events]), 12.0);
    assert!(grew("whatsapi_meta_webhooks_total", &[("outcome", "stored")]) >= 1.0);
    let graph = "whatsapi_meta_request_duration_seconds_count";
    assert_eq!(grew(graph, &[("method", "POST"), ("outcome", "ok")]), 4.0);
    assert_eq!(
        grew(graph, &[("method", "POST"), ("outcome", "meta_error")]),
        2.0
    );
    assert!(grew("whatsapi_store_commit_duration_seconds_count", &[]) > 0.0);
    assert!(grew("whatsapi_store_write_batch_size_count", &[]) > 0.0);
    assert_eq!(
        after.value("whatsapi_outbox_messages", &[("status", "queued")]),
        0.0,
        "every message left the outbox"
    );

    // No person in it: not the recipients, the text, the company, its owner, nor account ids.
    for private in [
        "96550001234",
        "96550005678",
        "96550009012",
        "15550199",
        "METRICS-BODY",
        "Shop",
        "Owner",
        email,
        "account=",
    ] {
        assert!(
            !exposition.contains(private),
            "{private} is in /metrics:\n{exposition}"
        );
    }
    // Routes are templates: no message id a client asked for.
    assert!(!exposition.contains(&undeliverable), "{exposition}");
}

#[test]
fn with_a_token_only_the_right_bearer_is_served() {
    let install = Install::new();
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_METRICS__TOKEN", TOKEN)
        .env("WHATSAPI_SERVER__TRUSTED_PROXIES", "[\"127.0.0.1\"]");
    let server = install.serve_with(cmd);

    let none = get_metrics(&server, &[]);
    assert_refused(&none, 401, "unauthorized");
    assert_eq!(none.header("WWW-Authenticate"), "Bearer");
    let wrong = format!("Bearer {TOKEN}x");
    assert_refused(
        &get_metrics(&server, &[("Authorization", &wrong)]),
        401,
        "unauthorized",
    );
    let shorter = format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]);
    assert_refused(
        &get_metrics(&server, &[("Authorization", &shorter)]),
        401,
        "unauthorized",
    );

    // The right token is served, to this machine and to a client a trusted proxy forwards.
    let right = format!("Bearer {TOKEN}");
    let (_, served) = scrape(&server, &[("Authorization", &right)]);
    let refusals = [("method", "GET"), ("route", "/metrics"), ("status", "401")];
    assert_eq!(
        served.value("whatsapi_http_requests_total", &refusals),
        3.0,
        "the refusals were answered and counted"
    );
    scrape(
        &server,
        &[
            ("Authorization", &right),
            ("X-Forwarded-For", "203.0.113.9"),
        ],
    );
}

#[test]
fn without_a_token_only_a_client_on_this_machine_is_served() {
    let install = Install::new();
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_SERVER__TRUSTED_PROXIES", "[\"127.0.0.1\"]");
    let server = install.serve_with(cmd);

    // The proxy on this machine forwards a client elsewhere: refused, though the peer is loopback.
    let forwarded = get_metrics(&server, &[("X-Forwarded-For", "203.0.113.9")]);
    assert_refused(&forwarded, 403, "forbidden");
    // The same proxy forwarding a client on this machine, and a client connecting directly: served.
    scrape(&server, &[("X-Forwarded-For", "127.0.0.1")]);
    let (_, served) = scrape(&server, &[]);
    let refused = [("route", "/metrics"), ("status", "403")];
    assert_eq!(served.value("whatsapi_http_requests_total", &refused), 1.0);
    // A token is not asked for, and one sent is not needed.
    assert_eq!(
        get_metrics(&server, &[("Authorization", "Bearer anything")]).status,
        200
    );
}

#[test]
fn turned_off_there_is_no_metrics_path() {
    let install = Install::new();
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_METRICS__ENABLED", "false");
    let server = install.serve_with(cmd);
    assert_eq!(get_metrics(&server, &[]).status, 404);
    // The positive control: the server answers, only /metrics is gone.
    assert_eq!(server.get("/healthz").0, 200);
}

#[test]
fn per_account_labels_carry_account_ids_and_nothing_else_of_the_account() {
    let install = Install::new();
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_METRICS__PER_ACCOUNT", "true")
        .env("WHATSAPI_SANDBOX__SENT_AFTER_MS", "20")
        .env("WHATSAPI_SANDBOX__DELIVERED_AFTER_MS", "40")
        .env("WHATSAPI_SANDBOX__READ_AFTER_MS", "60");
    let server = install.serve_with(cmd);
    let (api, connection) = api::account(&install, &server, "per-account@example.com");
    let account = api::count(&install, "SELECT MAX(id) FROM accounts").to_string();
    let id = send(&api, &connection, "+96550001234");
    api.wait_for(&id, &["sent", "delivered", "read"]);

    let (exposition, after) = scrape(&server, &[]);
    let own = ("account", account.as_str());
    assert_eq!(
        after.value("whatsapi_sends_total", &[("outcome", "sent"), own]),
        1.0
    );
    let accepted = [("route", "/api/v1/messages"), ("status", "202"), own];
    assert_eq!(after.value("whatsapi_http_requests_total", &accepted), 1.0);
    // Requests without an account (this scrape's predecessors, the pages) carry no account label.
    assert!(
        after
            .0
            .iter()
            .filter(|s| s.name == "whatsapi_http_requests_total")
            .any(|s| !s.labels.contains_key("account"))
    );
    for private in ["96550001234", "Shop", "per-account@example.com"] {
        assert!(!exposition.contains(private), "{private} is in /metrics");
    }
}
