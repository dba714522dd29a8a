//! `/api/v1/webhook-endpoints`: where an account's events go, what was delivered, and replays.

use super::ApiAuth;
use super::body::ApiJson;
use super::query::{PageSize, Query};
use super::requests::{CreateEndpoint, UpdateEndpoint};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::events::{signing, ssrf};
use crate::store::endpoints::{self, Endpoint, EndpointId, NewEndpoint};
use crate::store::states::DeliveryStatus;
use crate::store::{Db, deliveries, now_ms};
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{State, delete, get, patch, post, routes};
use serde_json::{Value, json};

pub fn routes() -> Vec<rocket::Route> {
    routes![
        create_endpoint,
        list_endpoints,
        get_endpoint,
        update_endpoint,
        delete_endpoint,
        list_deliveries,
        get_delivery,
        replay_delivery,
        replay_failed
    ]
}

pub fn to_json(endpoint: &Endpoint) -> Value {
    json!({
        "id": endpoint.id.get().to_string(),
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "paused": endpoint.paused_at.is_some(),
        "paused_at": endpoint.paused_at,
        "pause_reason": endpoint.pause_reason,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    })
}

fn endpoint_id(id: &str) -> Result<EndpointId> {
    id.parse()
        .map(EndpointId::from_raw)
        .map_err(|_| Error::NotFound)
}

/// Resolves the URL's host name, if it has one, and refuses it when it leads inside the network. Done
/// last, after every check that costs nothing.
async fn resolved(name: Option<ssrf::PendingName>) -> Result<()> {
    let Some(name) = name else { return Ok(()) };
    ssrf::check_name(name, ssrf::SystemLookup, ssrf::SAVE_LOOKUP_LIMIT)
        .await
        .map_err(|why| Error::invalid("url", why))
}

/// Creates an endpoint; the answer is the only time its signing secret is shown.
pub(crate) async fn create(
    db: &Db,
    config: &Config,
    account: crate::store::AccountId,
    request: CreateEndpoint,
) -> Result<(Endpoint, String)> {
    let (checked, name) = request.check(config)?;
    resolved(name).await?;
    let secret = signing::new_secret()?;
    let keyring_db = db.clone();
    let shown = secret.clone();
    let created = db
        .write_async(move |conn| {
            let key = keyring_db.keyring().data_key(account)?;
            let new = NewEndpoint {
                url: &checked.url,
                description: &checked.description,
                event_types: &checked.event_types,
                secret: &secret,
            };
            endpoints::insert(conn, &key, account, &new, now_ms())
        })
        .await?;
    Ok((created, shown))
}

#[post("/api/v1/webhook-endpoints", data = "<body>")]
async fn create_endpoint(
    auth: ApiAuth,
    body: Result<ApiJson<CreateEndpoint>>,
    db: &State<Db>,
    config: &State<Config>,
) -> Result<(Status, Json<Value>)> {
    let (created, secret) = create(db, config, auth.account, body?.0).await?;
    let mut answer = to_json(&created);
    answer["secret"] = json!(secret);
    Ok((Status::Created, Json(answer)))
}

#[get("/api/v1/webhook-endpoints")]
async fn list_endpoints(auth: ApiAuth, query: Query, db: &State<Db>) -> Result<Json<Value>> {
    query.allow(&[])?;
    let list = db
        .read_async(move |conn| endpoints::list(conn, auth.account))
        .await?;
    Ok(Json(
        json!({ "data": list.iter().map(to_json).collect::<Vec<_>>() }),
    ))
}

async fn load(db: &Db, auth: ApiAuth, id: &str) -> Result<Endpoint> {
    let id = endpoint_id(id)?;
    db.read_async(move |conn| endpoints::find(conn, auth.account, id)?.ok_or(Error::NotFound))
        .await
}

#[get("/api/v1/webhook-endpoints/<id>")]
async fn get_endpoint(id: &str, auth: ApiAuth, db: &State<Db>) -> Result<Json<Value>> {
    Ok(Json(to_json(&load(db, auth, id).await?)))
}

#[patch("/api/v1/webhook-endpoints/<id>", data = "<body>")]
async fn update_endpoint(
    id: &str,
    auth: ApiAuth,
    body: Result<ApiJson<UpdateEndpoint>>,
    db: &State<Db>,
    config: &State<Config>,
) -> Result<Json<Value>> {
    let (change, name) = body?.0.check(config)?;
    let endpoint = load(db, auth, id).await?;
    resolved(name).await?;
    let updated = db
        .write_async(move |conn| {
            endpoints::update(conn, auth.account, endpoint.id, &change, now_ms())
        })
        .await?;
    Ok(Json(to_json(&updated)))
}

#[delete("/api/v1/webhook-endpoints/<id>")]
async fn delete_endpoint(id: &str, auth: ApiAuth, db: &State<Db>) -> Result<Status> {
    let endpoint = load(db, auth, id).await?;
    db.write_async(move |conn| endpoints::delete(conn, auth.account, endpoint.id))
        .await?;
    Ok(Status::NoContent)
}

#[get("/api/v1/webhook-endpoints/<id>/deliveries")]
async fn list_deliveries(
    id: &str,
    auth: ApiAuth,
    query: Query,
    db: &State<Db>,
) -> Result<Json<Value>> {
    query.allow(&["status", "limit"])?;
    let status = query
        .one_of("status", DeliveryStatus::NAMES)?
        .and_then(|s| s.parse().ok());
    let limit = query.limit(PageSize {
        default: 50,
        max: 500,
    })?;
    let endpoint = load(db, auth, id).await?;
    let list = db
        .read_async(move |conn| deliveries::list(conn, auth.account, endpoint.id, status, limit))
        .await?;
    Ok(Json(json!({ "data": list })))
}

#[get("/api/v1/webhook-endpoints/<id>/deliveries/<delivery>")]
async fn get_delivery(
    id: &str,
    delivery: &str,
    auth: ApiAuth,
    db: &State<Db>,
) -> Result<Json<Value>> {
    let endpoint = load(db, auth, id).await?;
    let delivery: i64 = delivery.parse().map_err(|_| Error::NotFound)?;
    let (found, attempts) = db
        .read_async(move |conn| {
            let found = deliveries::find(conn, auth.account, endpoint.id, delivery)?
                .ok_or(Error::NotFound)?;
            Ok((found, deliveries::attempts(conn, auth.account, delivery)?))
        })
        .await?;
    let mut answer = json!(found);
    answer["attempts"] = json!(attempts);
    Ok(Json(answer))
}

#[post("/api/v1/webhook-endpoints/<id>/deliveries/<delivery>/replay")]
async fn replay_delivery(
    id: &str,
    delivery: &str,
    auth: ApiAuth,
    db: &State<Db>,
) -> Result<Json<Value>> {
    let endpoint = load(db, auth, id).await?;
    let delivery: i64 = delivery.parse().map_err(|_| Error::NotFound)?;
    let queued = db
        .write_async(move |conn| {
            deliveries::replay(conn, auth.account, endpoint.id, Some(delivery), now_ms())
        })
        .await?;
    if queued == 0 {
        return Err(Error::NotFound);
    }
    Ok(Json(json!({ "queued": queued })))
}

#[post("/api/v1/webhook-endpoints/<id>/replay-failed")]
async fn replay_failed(id: &str, auth: ApiAuth, db: &State<Db>) -> Result<Json<Value>> {
    let endpoint = load(db, auth, id).await?;
    let queued = db
        .write_async(move |conn| {
            deliveries::replay(conn, auth.account, endpoint.id, None, now_ms())
        })
        .await?;
    Ok(Json(json!({ "queued": queued })))
}
