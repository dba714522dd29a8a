//! `GET /healthz`: for load balancers and systemd watchdogs. It reads through the reader pool and makes
//! a round trip through the writer thread, so a stuck writer shows here.

use crate::store::Db;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::tokio::time::timeout;
use rocket::{State, get};
use serde_json::{Value, json};
use std::time::Duration;

const WRITER_DEADLINE: Duration = Duration::from_secs(5);

#[get("/healthz")]
pub async fn healthz(db: &State<Db>) -> (Status, Json<Value>) {
    let database = db
        .read_async(|conn| {
            Ok(conn.query_row("SELECT count(*) FROM settings", [], |r| r.get::<_, i64>(0))?)
        })
        .await
        .is_ok();
    // An empty write job: it commits nothing, but only returns once the writer has served everything before it.
    let writer = matches!(
        timeout(WRITER_DEADLINE, db.write_async(|_| Ok(()))).await,
        Ok(Ok(()))
    );
    let word = |ok: bool| if ok { "ok" } else { "failing" };
    // Whether writes reach the database: the writer's last finding and the file still being there.
    db.health().file_is_ours();
    let storage = db.health().trouble();
    let healthy = database && writer && storage.is_none();
    let status = if healthy {
        Status::Ok
    } else {
        Status::ServiceUnavailable
    };
    (
        status,
        Json(json!({
            "status": word(healthy),
            "database": word(database),
            "writer": word(writer),
            "storage": storage.map_or_else(|| "ok".to_owned(), |(trouble, _)| trouble.describe()),
            "version": env!("CARGO_PKG_VERSION"),
        })),
    )
}
