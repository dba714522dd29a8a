//! `whatsapi sandbox`: the simulator as a process of its own, standing in for Meta in benchmarks and
//! crash tests. It accepts any token, waits the configured latency before answering (as Meta's round
//! trip would), and counts what it received per message, which `GET /_sandbox/received` reports, so a
//! test can tell lost and duplicated sends apart. Where it posts status webhooks is given on the command
//! line or, as in Meta's dashboard, set while it runs (`POST /_sandbox/webhooks`).

use super::{SandboxState, answer, feed, meta_error};
use crate::store::connections;
use parking_lot::Mutex;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{State, get, post, routes};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use zeroize::Zeroizing;

struct Standalone {
    /// `http://address:port` once listening (the port may have been chosen by the system).
    base: OnceLock<String>,
    latency: Duration,
    received: Mutex<HashMap<String, u32>>,
    /// Sends being answered now, and the most at once: how many calls the client keeps in flight.
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    /// Where each number's status webhooks go, and the secret they are signed with.
    webhooks: Mutex<WebhookUrls>,
    targets: Mutex<HashMap<String, Arc<feed::Target>>>,
}

/// Where status webhooks go: a URL and secret for every number, or for one number.
#[derive(Default)]
struct WebhookUrls {
    every_number: Option<(String, String)>,
    by_number: HashMap<String, (String, String)>,
}

impl WebhookUrls {
    /// `--webhook-url` values (`URL` for every number, or `PHONE_NUMBER_ID=URL` for one), all signed
    /// with `secret`.
    fn parse(values: &[String], secret: &str) -> WebhookUrls {
        let mut urls = WebhookUrls::default();
        for value in values {
            match value.split_once('=') {
                Some((number, url)) if !number.contains('/') => {
                    urls.set(Some(number), url, secret);
                }
                _ => urls.set(None, value, secret),
            }
        }
        urls
    }

    fn set(&mut self, number: Option<&str>, url: &str, secret: &str) {
        let target = (url.to_owned(), secret.to_owned());
        match number {
            Some(number) => {
                self.by_number.insert(number.to_owned(), target);
            }
            None => self.every_number = Some(target),
        }
    }

    fn for_number(&self, phone_number_id: &str) -> Option<&(String, String)> {
        self.by_number
            .get(phone_number_id)
            .or(self.every_number.as_ref())
    }
}

impl Standalone {
    fn target(&self, phone_number_id: &str) -> Option<Arc<feed::Target>> {
        let mut targets = self.targets.lock();
        if let Some(target) = targets.get(phone_number_id) {
            return Some(target.clone());
        }
        let webhooks = self.webhooks.lock();
        let (url, secret) = webhooks.for_number(phone_number_id)?;
        let target = Arc::new(feed::Target {
            url: url.clone(),
            secret: Zeroizing::new(secret.clone()),
            waba_id: STANDALONE_WABA_ID.into(),
            phone_number_id: phone_number_id.to_owned(),
        });
        targets.insert(phone_number_id.to_owned(), target.clone());
        Some(target)
    }

    fn base(&self) -> &str {
        self.base.get().map_or("", String::as_str)
    }
}

/// The business account the standalone simulator names in its webhooks (any id will do: the receiver
/// checks the number of message events, not the account).
const STANDALONE_WABA_ID: &str = "102290129340398";

/// What `whatsapi sandbox` is told on its command line.
pub struct StandaloneOptions {
    pub listen: SocketAddr,
    pub latency_ms: u64,
    /// `URL` for every number, or `PHONE_NUMBER_ID=URL` for one.
    pub webhook_urls: Vec<String>,
    pub webhook_secret: String,
    pub delays: feed::Delays,
}

#[post(
    "/<version>/<phone_number_id>/messages",
    format = "json",
    data = "<body>"
)]
async fn standalone_send(
    version: &str,
    phone_number_id: &str,
    body: Json<Value>,
    state: &State<SandboxState>,
    standalone: &State<Standalone>,
) -> (Status, Json<Value>) {
    if !connections::valid_graph_version(version) {
        return meta_error(100, 400, "Unknown path components");
    }
    let now = standalone.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
    standalone.most_in_flight.fetch_max(now, Ordering::AcqRel);
    rocket::tokio::time::sleep(standalone.latency).await;
    standalone.in_flight.fetch_sub(1, Ordering::AcqRel);
    if let Some(id) = body.get("biz_opaque_callback_data").and_then(Value::as_str) {
        *standalone.received.lock().entry(id.to_owned()).or_default() += 1;
    }
    answer(&body, state, standalone.target(phone_number_id))
}

#[get("/<version>/<phone_number_id>?<fields>")]
fn standalone_phone_number(
    version: &str,
    phone_number_id: &str,
    fields: Option<&str>,
) -> (Status, Json<Value>) {
    let _ = fields;
    if !connections::valid_graph_version(version) {
        return meta_error(100, 400, "Unknown path components");
    }
    (
        Status::Ok,
        Json(super::phone_number_answer(phone_number_id)),
    )
}

#[get("/<version>/<waba_id>/message_templates?<after>")]
fn standalone_templates(
    version: &str,
    waba_id: &str,
    after: Option<&str>,
    standalone: &State<Standalone>,
) -> Json<Value> {
    Json(super::templates_page(
        after,
        &format!(
            "{}/{version}/{waba_id}/message_templates",
            standalone.base()
        ),
    ))
}

/// The statuses whose webhook the receiver answered 200, as `[wamid, status]` pairs.
#[get("/_sandbox/acknowledged")]
fn acknowledged(state: &State<SandboxState>) -> Json<Value> {
    let all: Vec<Value> = state
        .acknowledged()
        .into_iter()
        .map(|(wamid, status)| json!([wamid, status]))
        .collect();
    Json(json!({ "count": all.len(), "statuses": all }))
}

/// Sets where status webhooks go, as Meta's dashboard does: `{"url", "secret", "phone_number_id"}`
/// (without a number: for every number that has none of its own).
#[post("/_sandbox/webhooks", format = "json", data = "<body>")]
fn set_webhook(body: Json<Value>, standalone: &State<Standalone>) -> (Status, Json<Value>) {
    let (Some(url), Some(secret)) = (body["url"].as_str(), body["secret"].as_str()) else {
        return (
            Status::BadRequest,
            Json(json!({"error": "give url and secret (and phone_number_id for one number)"})),
        );
    };
    let number = body["phone_number_id"].as_str();
    standalone.webhooks.lock().set(number, url, secret);
    // Targets already made for numbers send to the new address from now on.
    standalone.targets.lock().clear();
    (
        Status::Ok,
        Json(json!({"url": url, "phone_number_id": number})),
    )
}

#[get("/_sandbox/received")]
fn received(standalone: &State<Standalone>) -> Json<Value> {
    let counts = standalone.received.lock().clone();
    // How many TCP connections callers opened: a client that reuses its connections opens few.
    Json(json!({
        "counts": counts,
        "connections": rocket::connections_accepted(),
        "most_in_flight": standalone.most_in_flight.load(Ordering::Acquire),
    }))
}

/// Serves the simulator on `listen` until stopped (Ctrl-C or SIGTERM).
pub fn run_standalone(options: StandaloneOptions) -> anyhow::Result<()> {
    let StandaloneOptions {
        listen,
        latency_ms,
        webhook_urls,
        webhook_secret,
        delays,
    } = options;
    let webhooks = WebhookUrls::parse(&webhook_urls, &webhook_secret);
    // Statuses are posted for the numbers that have a webhook URL, now or once one is set.
    let state = SandboxState::with_status_feed(delays, true);
    let figment = rocket::figment::Figment::from(rocket::Config::default())
        .merge(("address", listen.ip()))
        .merge(("port", listen.port()))
        .merge(("log_level", rocket::config::LogLevel::Off))
        .merge(("cli_colors", false))
        .merge(("workers", 2))
        .merge((
            "secret_key",
            hex::encode(crate::crypto::random_bytes::<32>()?),
        ));
    let rocket = rocket::custom(figment)
        .mount(
            "/",
            routes![
                standalone_send,
                standalone_phone_number,
                standalone_templates,
                received,
                acknowledged,
                set_webhook
            ],
        )
        .manage(state)
        .manage(Standalone {
            base: OnceLock::new(),
            latency: Duration::from_millis(latency_ms),
            received: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
            webhooks: Mutex::new(webhooks),
            targets: Mutex::new(HashMap::new()),
        })
        .attach(crate::signals::fairing())
        .attach(rocket::fairing::AdHoc::on_liftoff("announce", |rocket| {
            Box::pin(async move {
                let base = format!(
                    "http://{}",
                    SocketAddr::new(rocket.config().address, rocket.config().port)
                );
                if let Some(standalone) = rocket.state::<Standalone>() {
                    let _ = standalone.base.set(base.clone());
                }
                tracing::info!("sandbox listening on {base}");
            })
        }));
    rocket::execute(rocket.launch())?;
    Ok(())
}
