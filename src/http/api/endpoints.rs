//! `/api/v1/webhook-endpoints`: where an account's events go, what was delivered, and replays.

use super::body::ApiJson;
use super::examples;
use super::query::{PageSize, Query};
use super::requests::{CreateEndpoint, UpdateEndpoint};
use super::schema::endpoints::{
    DeliveryDetail, DeliveryList, EndpointCreated, EndpointList, EndpointView, Replayed,
};
use super::schema::errors::{ReadErrors, WriteErrors};
use super::{ApiAuth, ApiCtx};
use crate::domain::client::ClientInfo;
use crate::error::{Error, Result};
use crate::services::billing::Billing;
use crate::services::endpoints::{create, resolved};
use crate::store::endpoints::{self, Endpoint, EndpointId};
use crate::store::states::DeliveryStatus;
use crate::store::{Db, activity, deliveries, now_ms};
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{State, delete, get, patch, post, routes};
use std::sync::Arc;

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

fn endpoint_id(id: &str) -> Result<EndpointId> {
    id.parse()
        .map(EndpointId::from_raw)
        .map_err(|_| Error::NotFound)
}

/// Adds an endpoint; the answer is the only time its signing secret is shown.
#[utoipa::path(
    post,
    path = "/api/v1/webhook-endpoints",
    tag = "webhook-endpoints",
    request_body(content = CreateEndpoint, example = examples::create_endpoint),
    responses(
        (status = 201, body = EndpointCreated, example = examples::endpoint_created),
        WriteErrors,
    ),
)]
#[post("/api/v1/webhook-endpoints", data = "<body>")]
async fn create_endpoint(
    auth: ApiAuth,
    body: Result<ApiJson<CreateEndpoint>>,
    ctx: ApiCtx<'_>,
    billing: &State<Arc<Billing>>,
    client: ClientInfo,
) -> Result<(Status, Json<EndpointCreated>)> {
    let record = move |conn: &rusqlite::Connection, created: &Endpoint| {
        let host = activity::url_host(&created.url);
        let actor = client.actor(Some(auth.account), None);
        activity::record_through_key(conn, &actor, auth.key, "webhook_endpoint_created", &host)
    };
    let (created, secret) =
        create(ctx.db, (ctx.config, billing), auth.account, body?.0, record).await?;
    Ok((
        Status::Created,
        Json(EndpointCreated::new(&created, secret)),
    ))
}

/// The account's endpoints.
#[utoipa::path(
    get,
    path = "/api/v1/webhook-endpoints",
    tag = "webhook-endpoints",
    responses(
        (status = 200, body = EndpointList, example = examples::endpoint_list),
        ReadErrors,
    ),
)]
#[get("/api/v1/webhook-endpoints")]
async fn list_endpoints(auth: ApiAuth, query: Query, db: &State<Db>) -> Result<Json<EndpointList>> {
    query.allow(&[])?;
    let list = db
        .read_async(move |conn| endpoints::list(conn, auth.account))
        .await?;
    Ok(Json(EndpointList {
        data: list.iter().map(EndpointView::from).collect(),
    }))
}

async fn load(db: &Db, auth: ApiAuth, id: &str) -> Result<Endpoint> {
    let id = endpoint_id(id)?;
    db.read_async(move |conn| endpoints::find(conn, auth.account, id)?.ok_or(Error::NotFound))
        .await
}

/// One endpoint.
#[utoipa::path(
    get,
    path = "/api/v1/webhook-endpoints/{id}",
    tag = "webhook-endpoints",
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses(
        (status = 200, body = EndpointView, example = examples::endpoint),
        ReadErrors,
    ),
)]
#[get("/api/v1/webhook-endpoints/<id>")]
async fn get_endpoint(id: &str, auth: ApiAuth, db: &State<Db>) -> Result<Json<EndpointView>> {
    Ok(Json(EndpointView::from(&load(db, auth, id).await?)))
}

/// Changes what is given, keeps the rest; `paused` pauses or resumes deliveries.
#[utoipa::path(
    patch,
    path = "/api/v1/webhook-endpoints/{id}",
    tag = "webhook-endpoints",
    params(("id" = String, Path, description = "The endpoint's id.")),
    request_body(content = UpdateEndpoint, example = examples::update_endpoint),
    responses(
        (status = 200, body = EndpointView, example = examples::endpoint),
        WriteErrors,
    ),
)]
#[patch("/api/v1/webhook-endpoints/<id>", data = "<body>")]
async fn update_endpoint(
    id: &str,
    auth: ApiAuth,
    body: Result<ApiJson<UpdateEndpoint>>,
    ctx: ApiCtx<'_>,
    client: ClientInfo,
) -> Result<Json<EndpointView>> {
    let (change, name) = body?.0.check(ctx.config)?;
    let endpoint = load(ctx.db, auth, id).await?;
    resolved(name).await?;
    let updated = ctx
        .db
        .write_async(move |conn| {
            let updated = endpoints::update(conn, auth.account, endpoint.id, &change, now_ms())?;
            let actor = client.actor(Some(auth.account), None);
            let host = activity::url_host(&updated.url);
            activity::record_through_key(
                conn,
                &actor,
                auth.key,
                "webhook_endpoint_changed",
                &host,
            )?;
            Ok(updated)
        })
        .await?;
    Ok(Json(EndpointView::from(&updated)))
}

/// Removes an endpoint.
#[utoipa::path(
    delete,
    path = "/api/v1/webhook-endpoints/{id}",
    tag = "webhook-endpoints",
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses((status = 204, description = "Removed."), ReadErrors),
)]
#[delete("/api/v1/webhook-endpoints/<id>")]
async fn delete_endpoint(
    id: &str,
    auth: ApiAuth,
    db: &State<Db>,
    client: ClientInfo,
) -> Result<Status> {
    let endpoint = load(db, auth, id).await?;
    db.write_async(move |conn| {
        endpoints::delete(conn, auth.account, endpoint.id)?;
        let actor = client.actor(Some(auth.account), None);
        let host = activity::url_host(&endpoint.url);
        activity::record_through_key(conn, &actor, auth.key, "webhook_endpoint_removed", &host)
    })
    .await?;
    Ok(Status::NoContent)
}

/// An endpoint's deliveries, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/webhook-endpoints/{id}/deliveries",
    tag = "webhook-endpoints",
    params(
        ("id" = String, Path, description = "The endpoint's id."),
        ("status" = Option<String>, Query, description = "Only deliveries in this state: pending, delivering, delivered or failed."),
        ("limit" = Option<i64>, Query, description = "1 to 500; default 50."),
    ),
    responses(
        (status = 200, body = DeliveryList, example = examples::delivery_list),
        ReadErrors,
    ),
)]
#[get("/api/v1/webhook-endpoints/<id>/deliveries")]
async fn list_deliveries(
    id: &str,
    auth: ApiAuth,
    query: Query,
    db: &State<Db>,
) -> Result<Json<DeliveryList>> {
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
    Ok(Json(DeliveryList {
        data: list.into_iter().map(Into::into).collect(),
    }))
}

/// One delivery, with each attempt.
#[utoipa::path(
    get,
    path = "/api/v1/webhook-endpoints/{id}/deliveries/{delivery}",
    tag = "webhook-endpoints",
    params(("id" = String, Path, description = "The endpoint's id."), ("delivery" = String, Path, description = "The delivery's id.")),
    responses(
        (status = 200, body = DeliveryDetail, example = examples::delivery_detail),
        ReadErrors,
    ),
)]
#[get("/api/v1/webhook-endpoints/<id>/deliveries/<delivery>")]
async fn get_delivery(
    id: &str,
    delivery: &str,
    auth: ApiAuth,
    db: &State<Db>,
) -> Result<Json<DeliveryDetail>> {
    let endpoint = load(db, auth, id).await?;
    let delivery: i64 = delivery.parse().map_err(|_| Error::NotFound)?;
    let (found, attempts) = db
        .read_async(move |conn| {
            let found = deliveries::find(conn, auth.account, endpoint.id, delivery)?
                .ok_or(Error::NotFound)?;
            Ok((found, deliveries::attempts(conn, auth.account, delivery)?))
        })
        .await?;
    Ok(Json(DeliveryDetail::new(found, attempts)))
}

/// Delivers an event again.
#[utoipa::path(
    post,
    path = "/api/v1/webhook-endpoints/{id}/deliveries/{delivery}/replay",
    tag = "webhook-endpoints",
    params(("id" = String, Path, description = "The endpoint's id."), ("delivery" = String, Path, description = "The delivery's id.")),
    responses(
        (status = 200, body = Replayed, example = examples::replayed),
        ReadErrors,
    ),
)]
#[post("/api/v1/webhook-endpoints/<id>/deliveries/<delivery>/replay")]
async fn replay_delivery(
    id: &str,
    delivery: &str,
    auth: ApiAuth,
    db: &State<Db>,
) -> Result<Json<Replayed>> {
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
    Ok(Json(Replayed { queued }))
}

/// Delivers again every event whose delivery to the endpoint failed.
#[utoipa::path(
    post,
    path = "/api/v1/webhook-endpoints/{id}/replay-failed",
    tag = "webhook-endpoints",
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses(
        (status = 200, body = Replayed, example = examples::replayed),
        ReadErrors,
    ),
)]
#[post("/api/v1/webhook-endpoints/<id>/replay-failed")]
async fn replay_failed(id: &str, auth: ApiAuth, db: &State<Db>) -> Result<Json<Replayed>> {
    let endpoint = load(db, auth, id).await?;
    let queued = db
        .write_async(move |conn| {
            deliveries::replay(conn, auth.account, endpoint.id, None, now_ms())
        })
        .await?;
    Ok(Json(Replayed { queued }))
}
