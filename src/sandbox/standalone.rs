//! `whatsapi sandbox`: the simulator as a process of its own, standing in for Meta in benchmarks and
//! crash tests. It accepts any token, waits the configured latency before answering (as Meta's round
//! trip would), and counts what it received per message, which `GET /_sandbox/received` reports, so a
//! test can tell lost and duplicated sends apart.

use super::{SandboxState, answer, feed, meta_error};
use crate::store::connections;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{State, get, post, routes};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zeroize::Zeroizing;

struct Standalone {
    base: String,
    latency: Duration,
    received: Mutex<HashMap<String, u32>>,
    /// Where each number's status webhooks go, and the secret they are signed with.
    webhooks: WebhookUrls,
    secret: String,
    targets: Mutex<HashMap<String, Arc<feed::Target>>>,
}

/// `--webhook-url` values: `URL` for every number, or `PHONE_NUMBER_ID=URL` for one.
#[derive(Default)]
struct WebhookUrls {
    every_number: Option<String>,
    by_number: HashMap<String, String>,
}

impl WebhookUrls {
    fn parse(values: &[String]) -> WebhookUrls {
        let mut urls = WebhookUrls::default();
        for value in values {
            match value.split_once('=') {
                Some((number, url)) if !number.contains('/') => {
                    urls.by_number.insert(number.to_owned(), url.to_owned());
                }
                _ => urls.every_number = Some(value.clone()),
            }
        }
        urls
    }

    fn for_number(&self, phone_number_id: &str) -> Option<&String> {
        self.by_number
            .get(phone_number_id)
            .or(self.every_number.as_ref())
    }

    fn any(&self) -> bool {
        self.every_number.is_some() || !self.by_number.is_empty()
    }
}

impl Standalone {
    fn target(&self, phone_number_id: &str) -> Option<Arc<feed::Target>> {
        let url = self.webhooks.for_number(phone_number_id)?;
        let mut targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        let target = targets
            .entry(phone_number_id.to_owned())
            .or_insert_with(|| {
                Arc::new(feed::Target {
                    url: url.clone(),
                    secret: Zeroizing::new(self.secret.clone()),
                    waba_id: STANDALONE_WABA_ID.into(),
                    phone_number_id: phone_number_id.to_owned(),
                })
            });
        Some(target.clone())
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
    rocket::tokio::time::sleep(standalone.latency).await;
    if let Some(id) = body.get("biz_opaque_callback_data").and_then(Value::as_str) {
        *standalone
            .received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.to_owned())
            .or_default() += 1;
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
        &format!("{}/{version}/{waba_id}/message_templates", standalone.base),
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

#[get("/_sandbox/received")]
fn received(standalone: &State<Standalone>) -> Json<Value> {
    let counts = standalone
        .received
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Json(json!({ "counts": counts }))
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
    let webhooks = WebhookUrls::parse(&webhook_urls);
    let state = match webhooks.any() {
        true => SandboxState::with_status_feed(delays, true),
        false => SandboxState::default(),
    };
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
                acknowledged
            ],
        )
        .manage(state)
        .manage(Standalone {
            base: format!("http://{listen}"),
            latency: Duration::from_millis(latency_ms),
            received: Mutex::new(HashMap::new()),
            webhooks,
            secret: webhook_secret,
            targets: Mutex::new(HashMap::new()),
        })
        .attach(rocket::fairing::AdHoc::on_liftoff("announce", |rocket| {
            Box::pin(async move {
                tracing::info!(
                    "sandbox listening on http://{}:{}",
                    rocket.config().address,
                    rocket.config().port
                );
            })
        }));
    rocket::execute(rocket.launch())?;
    Ok(())
}
