//! `GET /healthz`: for load balancers and monitoring. The store's checkup (`store::checkup`, the one
//! READY=1 and systemd's watchdog use too): a read through the reader pool, a round trip through the
//! writer thread within a deadline (so a stuck writer shows here), and writes still reaching the file.

use crate::store::Db;
use crate::store::checkup::Probe;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{State, get};
use serde_json::{Value, json};
use std::time::Duration;

const WRITER_DEADLINE: Duration = Duration::from_secs(5);

#[get("/healthz")]
pub async fn healthz(db: &State<Db>) -> (Status, Json<Value>) {
    let db = db.inner().clone();
    let checkup = crate::blocking::run("the health check", move || {
        db.checkup(WRITER_DEADLINE, &mut Probe::default())
    })
    .await;
    let Ok(checkup) = checkup else {
        return (
            Status::ServiceUnavailable,
            Json(json!({ "status": "failing", "version": env!("CARGO_PKG_VERSION") })),
        );
    };
    let word = |ok: bool| if ok { "ok" } else { "failing" };
    let healthy = checkup.healthy();
    let status = if healthy {
        Status::Ok
    } else {
        Status::ServiceUnavailable
    };
    (
        status,
        Json(json!({
            "status": word(healthy),
            "database": word(checkup.reads.is_ok()),
            "writer": word(checkup.writer.is_ok()),
            "storage": checkup
                .storage
                .map_or_else(|| "ok".to_owned(), |(trouble, _)| trouble.describe()),
            "version": env!("CARGO_PKG_VERSION"),
        })),
    )
}
