//! The process's Prometheus metrics: one registry, the families every part of the server records into,
//! and the text exposition `/metrics` serves (`http::metrics`).
//!
//! Recording is a few atomic operations, cheap enough for every request and every send. Labels never
//! name a person: routes are templates (`/api/v1/messages/<id>`), never the path a client sent; no phone
//! number, no account name. Account ids are added only to the per-account families (sends and HTTP
//! requests) and only when `[metrics] per_account = true` says so.
//!
//! Values that describe the present rather than count events (outbox depth, memory, open files) are read
//! when a scrape asks for them and handed to `render`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The label set of every family: (name, value) pairs, so a label that is off (`account`) is absent
/// rather than empty.
type Labels = Vec<(&'static str, String)>;
type Timings = Family<Labels, Histogram, fn() -> Histogram>;

/// The content type of `render`'s text: the OpenMetrics text format, which Prometheus reads.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Seconds, for request handling (fast pages to slow exports).
const HTTP_SECONDS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Seconds, for calls over the Internet to Meta (ureq gives up after 30 s).
const GRAPH_SECONDS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0,
];
/// Seconds, for one COMMIT (an fsync on most disks).
const COMMIT_SECONDS: [f64; 13] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

fn http_timing() -> Histogram {
    Histogram::new(HTTP_SECONDS)
}

fn graph_timing() -> Histogram {
    Histogram::new(GRAPH_SECONDS)
}

struct Metrics {
    registry: Registry,
    http_requests: Family<Labels, Counter>,
    http_seconds: Timings,
    sends: Family<Labels, Counter>,
    graph_seconds: Timings,
    meta_webhooks: Family<Labels, Counter>,
    meta_events: Family<Labels, Counter>,
    deliveries: Family<Labels, Counter>,
    writer_batch: Histogram,
    writer_commit: Histogram,
    job_runs: Family<Labels, Counter>,
    outbox: Family<Labels, Gauge>,
    writer_queue: Gauge,
    resident_bytes: Gauge,
    open_fds: Gauge,
    max_fds: Gauge,
}

impl Metrics {
    fn new() -> Metrics {
        let metrics = Metrics {
            registry: Registry::default(),
            http_requests: Family::default(),
            http_seconds: Family::new_with_constructor(http_timing),
            sends: Family::default(),
            graph_seconds: Family::new_with_constructor(graph_timing),
            meta_webhooks: Family::default(),
            meta_events: Family::default(),
            deliveries: Family::default(),
            writer_batch: Histogram::new(exponential_buckets(1.0, 2.0, 13)),
            writer_commit: Histogram::new(COMMIT_SECONDS),
            job_runs: Family::default(),
            outbox: Family::default(),
            writer_queue: Gauge::default(),
            resident_bytes: Gauge::default(),
            open_fds: Gauge::default(),
            max_fds: Gauge::default(),
        };
        metrics.registered()
    }

    fn registered(mut self) -> Metrics {
        let r = &mut self.registry;
        r.register(
            "whatsapi_http_requests",
            "HTTP requests answered, by method, route template and status",
            self.http_requests.clone(),
        );
        r.register_with_unit(
            "whatsapi_http_request_duration",
            "Time from a request's arrival to its answer, by method and route template",
            Unit::Seconds,
            self.http_seconds.clone(),
        );
        r.register(
            "whatsapi_sends",
            "Messages handed to Meta (or failed before), by outcome (sent, retried, held, failed) and \
             error class",
            self.sends.clone(),
        );
        r.register_with_unit(
            "whatsapi_meta_request_duration",
            "Calls to Meta's Graph API, by method and outcome (ok, meta_error, network, not_allowed)",
            Unit::Seconds,
            self.graph_seconds.clone(),
        );
        r.register(
            "whatsapi_meta_webhooks",
            "Webhook payloads Meta posted, by outcome (stored, or why they were refused)",
            self.meta_webhooks.clone(),
        );
        r.register(
            "whatsapi_meta_webhook_events",
            "What stored Meta webhook payloads carried, by kind (status, inbound)",
            self.meta_events.clone(),
        );
        r.register(
            "whatsapi_webhook_deliveries",
            "Attempts to deliver events to customers' endpoints, by outcome (delivered, retried, \
             dead_lettered)",
            self.deliveries.clone(),
        );
        r.register(
            "whatsapi_store_write_batch_size",
            "Write jobs committed together in one transaction",
            self.writer_batch.clone(),
        );
        r.register_with_unit(
            "whatsapi_store_commit_duration",
            "Time of one COMMIT of the store's writer",
            Unit::Seconds,
            self.writer_commit.clone(),
        );
        r.register(
            "whatsapi_job_runs",
            "Runs of scheduled jobs, by job and outcome (ok, failed)",
            self.job_runs.clone(),
        );
        r.register(
            "whatsapi_outbox_messages",
            "Messages waiting to be sent (queued) or being sent (sending)",
            self.outbox.clone(),
        );
        r.register(
            "whatsapi_writer_queue",
            "Writes waiting for the store's writer",
            self.writer_queue.clone(),
        );
        r.register_with_unit(
            "process_resident_memory",
            "Resident memory of the server process",
            Unit::Bytes,
            self.resident_bytes.clone(),
        );
        r.register(
            "process_open_fds",
            "Files (sockets included) the server process has open",
            self.open_fds.clone(),
        );
        r.register(
            "process_max_fds",
            "The open-files limit of the server process",
            self.max_fds.clone(),
        );
        self
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
static PER_ACCOUNT: AtomicBool = AtomicBool::new(false);

/// Applies `[metrics] per_account`: whether the per-account families carry an `account` label.
pub fn configure(settings: &crate::config::Metrics) {
    PER_ACCOUNT.store(settings.per_account, Ordering::Relaxed);
}

/// The labels, with `account` when it is known and per-account labels are on.
fn with_account(mut labels: Labels, account: Option<i64>) -> Labels {
    if let Some(account) = account.filter(|_| PER_ACCOUNT.load(Ordering::Relaxed)) {
        labels.push(("account", account.to_string()));
    }
    labels
}

/// One HTTP request answered: `route` is the route's template, or "unmatched".
pub fn http_request(
    method: &str,
    route: &str,
    status: u16,
    account: Option<i64>,
    elapsed: Duration,
) {
    let (method, route) = (method.to_owned(), route.to_owned());
    let counted = vec![
        ("method", method.clone()),
        ("route", route.clone()),
        ("status", status.to_string()),
    ];
    METRICS
        .http_requests
        .get_or_create(&with_account(counted, account))
        .inc();
    METRICS
        .http_seconds
        .get_or_create(&vec![("method", method), ("route", route)])
        .observe(elapsed.as_secs_f64());
}

/// One message's turn with Meta: `outcome` is sent, retried, held or failed; `class` is Meta's error
/// class (`retry_soon`, `final`, ...), or what else stopped it (`network`, `expired`, ...), or "none".
pub fn send(outcome: &'static str, class: &'static str, account: i64) {
    let labels = vec![("outcome", outcome.to_owned()), ("class", class.to_owned())];
    METRICS
        .sends
        .get_or_create(&with_account(labels, Some(account)))
        .inc();
}

/// One call to Meta's Graph API and how long it took.
pub fn graph_call(method: &'static str, outcome: &'static str, elapsed: Duration) {
    METRICS
        .graph_seconds
        .get_or_create(&vec![
            ("method", method.to_owned()),
            ("outcome", outcome.to_owned()),
        ])
        .observe(elapsed.as_secs_f64());
}

/// One webhook POST from Meta: `outcome` is "stored" or the refusal; a stored one adds what it carried.
pub fn meta_webhook(outcome: &'static str, statuses: usize, inbound: usize) {
    METRICS
        .meta_webhooks
        .get_or_create(&vec![("outcome", outcome.to_owned())])
        .inc();
    for (kind, count) in [("status", statuses), ("inbound", inbound)] {
        if count > 0 {
            METRICS
                .meta_events
                .get_or_create(&vec![("kind", kind.to_owned())])
                .inc_by(count as u64);
        }
    }
}

/// One attempt to deliver an event to a customer's endpoint: delivered, retried or dead_lettered.
pub fn customer_delivery(outcome: &'static str) {
    METRICS
        .deliveries
        .get_or_create(&vec![("outcome", outcome.to_owned())])
        .inc();
}

/// The store's writer began a transaction of `jobs` write jobs.
pub fn writer_batch(jobs: usize) {
    METRICS.writer_batch.observe(jobs as f64);
}

/// The store's writer committed (or failed to) in `elapsed`.
pub fn writer_commit(elapsed: Duration) {
    METRICS.writer_commit.observe(elapsed.as_secs_f64());
}

/// A scheduled job ran.
pub fn job_run(job: &'static str, ok: bool) {
    let outcome = if ok { "ok" } else { "failed" };
    METRICS
        .job_runs
        .get_or_create(&vec![
            ("job", job.to_owned()),
            ("outcome", outcome.to_owned()),
        ])
        .inc();
}

/// What a scrape reads from the store at that moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Present {
    pub queued: i64,
    pub sending: i64,
    /// Writes waiting for the writer.
    pub writer_queue: u64,
}

/// The text exposition of every metric, with the present values of `present` and of this process.
pub fn render(present: Present) -> String {
    let m = &*METRICS;
    for (status, count) in [("queued", present.queued), ("sending", present.sending)] {
        m.outbox
            .get_or_create(&vec![("status", status.to_owned())])
            .set(count);
    }
    m.writer_queue
        .set(i64::try_from(present.writer_queue).unwrap_or(i64::MAX));
    if let Some(bytes) = resident_bytes() {
        m.resident_bytes.set(bytes);
    }
    if let Some(open) = open_files() {
        m.open_fds.set(open);
    }
    if let Some(limit) = crate::server_limits::open_files_limit() {
        m.max_fds.set(i64::try_from(limit).unwrap_or(i64::MAX));
    }
    let mut text = String::with_capacity(16 * 1024);
    // Writing into a String cannot fail.
    let _ = encode(&mut text, &m.registry);
    text
}

/// The resident set size, from `VmRSS` in /proc/self/status (in kB there).
fn resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kilobytes: i64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kilobytes * 1024)
}

/// The entries of /proc/self/fd, less the one reading it.
fn open_files() -> Option<i64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?.count();
    Some(entries.saturating_sub(1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_family_and_ends_with_eof() {
        http_request(
            "GET",
            "/api/v1/messages/<id>",
            200,
            Some(7),
            Duration::from_millis(3),
        );
        send("failed", "final", 7);
        let text = render(Present {
            queued: 3,
            sending: 1,
            writer_queue: 2,
        });
        for name in [
            "whatsapi_http_requests_total",
            "whatsapi_http_request_duration_seconds_bucket",
            "whatsapi_sends_total",
            "whatsapi_outbox_messages{status=\"queued\"} 3",
            "whatsapi_writer_queue 2",
            "process_resident_memory_bytes",
            "process_open_fds",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
        assert!(
            text.contains(r#"route="/api/v1/messages/<id>",status="200"}"#),
            "{text}"
        );
        assert!(!text.contains("account="), "per-account labels are off");
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn the_sample_dashboard_names_only_metrics_the_server_serves() {
        graph_call("POST", "ok", Duration::from_millis(80));
        meta_webhook("stored", 2, 1);
        customer_delivery("delivered");
        writer_batch(3);
        writer_commit(Duration::from_micros(400));
        job_run("retention", true);
        http_request("GET", "/", 200, None, Duration::from_millis(1));
        send("sent", "none", 1);
        let text = render(Present::default());
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../packaging/grafana-dashboard.json"))
                .expect("the dashboard is JSON");
        let mut named = 0;
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap();
                let names = expr
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|w| w.starts_with("whatsapi_") || w.starts_with("process_"));
                for name in names {
                    named += 1;
                    assert!(
                        text.lines().any(|l| l.starts_with(name)
                            && l[name.len()..].starts_with(['{', ' '])),
                        "the dashboard's {name} is not served"
                    );
                }
            }
        }
        assert!(named > 15, "the dashboard's queries were read");
    }

    #[test]
    fn the_resident_memory_of_this_process_is_read() {
        assert!(resident_bytes().is_some_and(|b| b > 1024 * 1024));
        assert!(open_files().is_some_and(|n| n >= 3));
    }
}
