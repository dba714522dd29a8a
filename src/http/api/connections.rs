//! `/api/v1/connections`: WhatsApp numbers on Meta's Cloud API, or on the built-in sandbox.

use super::body::ApiJson;
use super::examples;
use super::query::Query;
use super::requests::{CreateConnection, SimulateInbound, UpdateConnection};
use super::schema::connections::{
    ConnectionCheck, ConnectionList, ConnectionView, InboundSimulated, TemplateList, TemplateView,
    TemplatesSynced,
};
use super::schema::errors::{ReadErrors, WriteErrors};
use super::{ApiAuth, ApiCtx};
use crate::config::Config;
use crate::domain::client::ClientInfo;
use crate::error::{Error, Result};
use crate::services;
use crate::services::billing::Billing;
use crate::services::connections::check;
use crate::services::meta_events::Receivers;
use crate::store::connections::{self, ConnectionId, ConnectionInfo};
use crate::store::{Db, activity};
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{State, delete, get, patch, post, routes};
use std::sync::Arc;

pub fn routes() -> Vec<rocket::Route> {
    routes![
        create_connection,
        list_connections,
        get_connection,
        update_connection,
        delete_connection,
        check_connection,
        sync_templates,
        list_templates,
        simulate_inbound
    ]
}

/// Adds a number.
#[utoipa::path(
    post,
    path = "/api/v1/connections",
    tag = "connections",
    request_body(content = CreateConnection, example = examples::create_connection),
    responses(
        (status = 201, body = ConnectionView, example = examples::connection),
        WriteErrors,
    ),
)]
#[post("/api/v1/connections", data = "<body>")]
async fn create_connection(
    auth: ApiAuth,
    body: Result<ApiJson<CreateConnection>>,
    ctx: ApiCtx<'_>,
    billing: &State<Arc<Billing>>,
    client: ClientInfo,
) -> Result<(Status, Json<ConnectionView>)> {
    let new = body?.0.check(ctx.targets)?;
    let verify_token = new.verify_token.clone();
    let record = move |conn: &rusqlite::Connection, created: &ConnectionInfo| {
        let actor = client.actor(Some(auth.account), None);
        activity::record_through_key(conn, &actor, auth.key, "connection_added", &created.name)
    };
    let created = services::connections::create(ctx.db, billing, auth.account, new, record).await?;
    Ok((
        Status::Created,
        Json(ConnectionView::new(&created, &verify_token, ctx.config)),
    ))
}

/// The account's numbers.
#[utoipa::path(
    get,
    path = "/api/v1/connections",
    tag = "connections",
    responses(
        (status = 200, body = ConnectionList, example = examples::connection_list),
        ReadErrors,
    ),
)]
#[get("/api/v1/connections")]
async fn list_connections(
    auth: ApiAuth,
    query: Query,
    db: &State<Db>,
    config: &State<Config>,
) -> Result<Json<ConnectionList>> {
    query.allow(&[])?;
    let keyring_db = db.inner().clone();
    let rows = db
        .read_async(move |conn| {
            connections::list_for_account(conn, auth.account)?
                .into_iter()
                .map(|c| {
                    let secrets =
                        connections::secrets(conn, keyring_db.keyring(), auth.account, c.id)?;
                    Ok((c, secrets.verify_token))
                })
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    let data = rows
        .iter()
        .map(|(c, verify)| ConnectionView::new(c, verify, config))
        .collect();
    Ok(Json(ConnectionList { data }))
}

async fn load(db: &Db, auth: ApiAuth, id: &str) -> Result<(ConnectionInfo, connections::Secrets)> {
    let id = ConnectionId::from_raw(id.parse().map_err(|_| Error::NotFound)?);
    let keyring_db = db.clone();
    db.read_async(move |conn| {
        let found = connections::find(conn, auth.account, id)?.ok_or(Error::NotFound)?;
        let secrets = connections::secrets(conn, keyring_db.keyring(), auth.account, id)?;
        Ok((found, secrets))
    })
    .await
}

/// One number.
#[utoipa::path(
    get,
    path = "/api/v1/connections/{id}",
    tag = "connections",
    params(("id" = String, Path, description = "The connection's id.")),
    responses(
        (status = 200, body = ConnectionView, example = examples::connection),
        ReadErrors,
    ),
)]
#[get("/api/v1/connections/<id>")]
async fn get_connection(
    id: &str,
    auth: ApiAuth,
    db: &State<Db>,
    config: &State<Config>,
) -> Result<Json<ConnectionView>> {
    let (connection, secrets) = load(db, auth, id).await?;
    Ok(Json(ConnectionView::new(
        &connection,
        &secrets.verify_token,
        config,
    )))
}

/// Changes what is given, keeps the rest.
#[utoipa::path(
    patch,
    path = "/api/v1/connections/{id}",
    tag = "connections",
    params(("id" = String, Path, description = "The connection's id.")),
    request_body(content = UpdateConnection, example = examples::update_connection),
    responses(
        (status = 200, body = ConnectionView, example = examples::connection),
        WriteErrors,
    ),
)]
#[patch("/api/v1/connections/<id>", data = "<body>")]
async fn update_connection(
    id: &str,
    auth: ApiAuth,
    body: Result<ApiJson<UpdateConnection>>,
    ctx: ApiCtx<'_>,
    client: ClientInfo,
) -> Result<Json<ConnectionView>> {
    let change = body?.0.check(ctx.targets)?;
    let (connection, secrets) = load(ctx.db, auth, id).await?;
    let keyring_db = ctx.db.clone();
    let updated = ctx
        .db
        .write_async(move |conn| {
            let updated = connections::update(
                conn,
                keyring_db.keyring(),
                auth.account,
                connection.id,
                &change,
            )?;
            let actor = client.actor(Some(auth.account), None);
            let action = "connection_changed";
            activity::record_through_key(conn, &actor, auth.key, action, &updated.name)?;
            Ok(updated)
        })
        .await?;
    // The app secret may have changed: webhooks are checked with the new one from now on.
    ctx.receivers.forget(updated.id);
    Ok(Json(ConnectionView::new(
        &updated,
        &secrets.verify_token,
        ctx.config,
    )))
}

/// Asks Meta (or the sandbox) about the number: its verified name, display number and quality rating.
#[utoipa::path(
    post,
    path = "/api/v1/connections/{id}/check",
    tag = "connections",
    params(("id" = String, Path, description = "The connection's id.")),
    responses(
        (status = 200, description = "`ok` says whether Meta answered.", body = ConnectionCheck, example = examples::connection_check),
        ReadErrors,
    ),
)]
#[post("/api/v1/connections/<id>/check")]
async fn check_connection(
    id: &str,
    auth: ApiAuth,
    db: &State<Db>,
    agent: &State<ureq::Agent>,
) -> Result<Json<ConnectionCheck>> {
    let (connection, _) = load(db, auth, id).await?;
    Ok(Json(check(db, agent, auth.account, connection).await?))
}

/// Fetches the connection's templates from Meta now (they are also refreshed on a schedule).
#[utoipa::path(
    post,
    path = "/api/v1/connections/{id}/templates/sync",
    tag = "connections",
    params(("id" = String, Path, description = "The connection's id.")),
    responses(
        (status = 200, body = TemplatesSynced, example = examples::templates_synced),
        ReadErrors,
    ),
)]
#[post("/api/v1/connections/<id>/templates/sync")]
async fn sync_templates(
    id: &str,
    auth: ApiAuth,
    db: &State<Db>,
    agent: &State<ureq::Agent>,
) -> Result<Json<TemplatesSynced>> {
    let (connection, _) = load(db, auth, id).await?;
    let (db, agent) = (db.inner().clone(), agent.inner().clone());
    let count = crate::blocking::run("sync", move || {
        crate::services::templates::sync_connection(&db, &agent, auth.account, &connection)
    })
    .await??;
    Ok(Json(TemplatesSynced { templates: count }))
}

/// The message templates of every number of the account, as last synced from Meta.
#[utoipa::path(
    get,
    path = "/api/v1/templates",
    tag = "connections",
    responses(
        (status = 200, body = TemplateList, example = examples::template_list),
        ReadErrors,
    ),
)]
#[get("/api/v1/templates")]
async fn list_templates(auth: ApiAuth, query: Query, db: &State<Db>) -> Result<Json<TemplateList>> {
    query.allow(&[])?;
    let list = db
        .read_async(move |conn| crate::store::templates::list_for_account(conn, auth.account))
        .await?;
    Ok(Json(TemplateList {
        data: list.into_iter().map(TemplateView::from).collect(),
    }))
}

/// The sandbox's stand-in for a customer writing to the number: a Meta-shaped inbound webhook, signed
/// with the connection's app secret and taken through the same path as Meta's, so it lands in the inbox
/// and opens the 24-hour window.
#[utoipa::path(
    post,
    path = "/api/v1/connections/{id}/sandbox/inbound",
    tag = "connections",
    params(("id" = String, Path, description = "The connection's id.")),
    request_body(content = SimulateInbound, example = examples::simulate_inbound),
    responses(
        (status = 200, body = InboundSimulated, example = examples::inbound_simulated),
        WriteErrors,
    ),
)]
#[post("/api/v1/connections/<id>/sandbox/inbound", data = "<body>")]
async fn simulate_inbound(
    id: &str,
    auth: ApiAuth,
    body: Result<ApiJson<SimulateInbound>>,
    db: &State<Db>,
    receivers: &State<Receivers>,
) -> Result<Json<InboundSimulated>> {
    let inbound = body?.0.check()?;
    let (connection, secrets) = load(db, auth, id).await?;
    if connection.kind != "sandbox" {
        return Err(Error::invalid(
            "id",
            "only a sandbox connection can simulate a customer",
        ));
    }
    let digits = inbound.from;
    // Meta states times in whole seconds; the window runs from the time the message states.
    let at = crate::store::now_ms() / 1000 * 1000;
    let payload = crate::http::sandbox::events::inbound_text_payload(
        &connection.waba_id,
        &connection.phone_number_id,
        &digits,
        &inbound.name,
        &inbound.text,
        at / 1000,
    );
    let signature = crate::domain::meta::webhook::sign(secrets.app_secret.as_bytes(), &payload);
    crate::services::meta_events::ingest(
        db,
        receivers,
        &connection.webhook_key,
        Some(&signature),
        payload,
    )
    .await
    .map_err(|e| match e {
        crate::services::meta_events::IngestError::Store(e) => e,
        other => Error::Internal(anyhow::anyhow!("{}", other.text())),
    })?;
    Ok(Json(InboundSimulated {
        from: format!("+{digits}"),
        received_at: at,
    }))
}

/// Removes a number.
#[utoipa::path(
    delete,
    path = "/api/v1/connections/{id}",
    tag = "connections",
    params(("id" = String, Path, description = "The connection's id.")),
    responses((status = 204, description = "Removed."), ReadErrors),
)]
#[delete("/api/v1/connections/<id>")]
async fn delete_connection(
    id: &str,
    auth: ApiAuth,
    db: &State<Db>,
    receivers: &State<Receivers>,
    client: ClientInfo,
) -> Result<Status> {
    let (connection, _) = load(db, auth, id).await?;
    let (id, name) = (connection.id, connection.name.clone());
    db.write_async(move |conn| {
        connections::delete(conn, auth.account, id)?;
        let actor = client.actor(Some(auth.account), None);
        activity::record_through_key(conn, &actor, auth.key, "connection_removed", &name)
    })
    .await?;
    receivers.forget(connection.id);
    Ok(Status::NoContent)
}
