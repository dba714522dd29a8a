//! `whatsapi sandbox`: the simulator as a process of its own, standing in for Meta in benchmarks and
//! crash tests. It accepts any token, waits the configured latency before answering (as Meta's round
//! trip would), and counts what it received per message, which `GET /_sandbox/received` reports, so a
//! test can tell lost and duplicated sends apart.

use super::{SandboxState, answer, meta_error};
use crate::store::connections;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{State, get, post, routes};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

struct Standalone {
    base: String,
    latency: Duration,
    received: Mutex<HashMap<String, u32>>,
}

#[post(
    "/<version>/<_phone_number_id>/messages",
    format = "json",
    data = "<body>"
)]
async fn standalone_send(
    version: &str,
    _phone_number_id: &str,
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
    answer(&body, state)
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
pub fn run_standalone(listen: SocketAddr, latency_ms: u64) -> anyhow::Result<()> {
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
                received
            ],
        )
        .manage(SandboxState::default())
        .manage(Standalone {
            base: format!("http://{listen}"),
            latency: Duration::from_millis(latency_ms),
            received: Mutex::new(HashMap::new()),
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
