//! `/api/v1/connections`: WhatsApp numbers on Meta's Cloud API, or on the built-in sandbox.

use super::ApiAuth;
use super::body::ApiJson;
use super::query::Query;
use super::requests::{CreateConnection, SimulateInbound, UpdateConnection};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::meta::errors;
use crate::meta::graph::{self, SendError};
use crate::meta::targets::MetaTargets;
use crate::store::connections::{self, ConnectionId, ConnectionInfo};
use crate::store::{AccountId, Db};
use crate::webhooks::Receivers;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{State, delete, get, patch, post, routes};
use serde_json::{Value, json};

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

/// The JSON of a connection: secrets only by their last four characters; what Meta's dashboard needs in full.
pub fn to_json(connection: &ConnectionInfo, verify_token: &str, config: &Config) -> Value {
    json!({
        "id": connection.id.get().to_string(),
        "kind": connection.kind,
        "name": connection.name,
        "phone_number_id": connection.phone_number_id,
        "waba_id": connection.waba_id,
        "access_token_last4": connection.access_token_last4,
        "app_secret_last4": connection.app_secret_last4,
        "webhook_url": format!("{}/webhooks/meta/{}", config.server.public_url, connection.webhook_key),
        "verify_token": verify_token,
        "graph_version": connection.graph_version,
        "graph_base_url": connection.graph_base_url,
        "throughput_mps": connection.throughput_mps,
        "enforce_window": connection.enforce_window,
        "state": connection.state,
        "state_detail": connection.state_detail,
        "meta": {
            "quality_rating": connection.quality_rating,
            "messaging_limit": connection.messaging_limit,
            "account_notice": connection.account_notice,
            "updated_at": connection.meta_updated_at,
        },
        "created_at": connection.created_at,
        "updated_at": connection.updated_at,
    })
}

#[post("/api/v1/connections", data = "<body>")]
async fn create_connection(
    auth: ApiAuth,
    body: Result<ApiJson<CreateConnection>>,
    db: &State<Db>,
    config: &State<Config>,
    targets: &State<MetaTargets>,
) -> Result<(Status, Json<Value>)> {
    let new = body?.0.check(targets)?;
    let verify_token = new.verify_token.clone();
    let keyring_db = db.inner().clone();
    let created = db
        .write_async(move |conn| {
            connections::insert(conn, keyring_db.keyring(), auth.account, &new)
        })
        .await?;
    Ok((
        Status::Created,
        Json(to_json(&created, &verify_token, config)),
    ))
}

#[get("/api/v1/connections")]
async fn list_connections(
    auth: ApiAuth,
    query: Query,
    db: &State<Db>,
    config: &State<Config>,
) -> Result<Json<Value>> {
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
    let data: Vec<Value> = rows
        .iter()
        .map(|(c, verify)| to_json(c, verify, config))
        .collect();
    Ok(Json(json!({ "data": data })))
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

#[get("/api/v1/connections/<id>")]
async fn get_connection(
    id: &str,
    auth: ApiAuth,
    db: &State<Db>,
    config: &State<Config>,
) -> Result<Json<Value>> {
    let (connection, secrets) = load(db, auth, id).await?;
    Ok(Json(to_json(&connection, &secrets.verify_token, config)))
}

#[patch("/api/v1/connections/<id>", data = "<body>")]
async fn update_connection(
    id: &str,
    auth: ApiAuth,
    body: Result<ApiJson<UpdateConnection>>,
    db: &State<Db>,
    config: &State<Config>,
    targets: &State<MetaTargets>,
    receivers: &State<Receivers>,
) -> Result<Json<Value>> {
    let change = body?.0.check(targets)?;
    let (connection, secrets) = load(db, auth, id).await?;
    let keyring_db = db.inner().clone();
    let updated = db
        .write_async(move |conn| {
            connections::update(
                conn,
                keyring_db.keyring(),
                auth.account,
                connection.id,
                &change,
            )
        })
        .await?;
    // The app secret may have changed: webhooks are checked with the new one from now on.
    receivers.forget(updated.id);
    Ok(Json(to_json(&updated, &secrets.verify_token, config)))
}

/// Asks Meta (or the sandbox) about the number: its verified name, display number and quality rating.
#[post("/api/v1/connections/<id>/check")]
async fn check_connection(
    id: &str,
    auth: ApiAuth,
    db: &State<Db>,
    agent: &State<ureq::Agent>,
) -> Result<Json<Value>> {
    let (connection, _) = load(db, auth, id).await?;
    Ok(Json(check(db, agent, auth.account, connection).await?))
}

/// The outcome of asking Meta about a connection's number, as `{"ok": true, ...}` or `{"ok": false, "error": ...}`.
pub(crate) async fn check(
    db: &Db,
    agent: &ureq::Agent,
    account: AccountId,
    connection: ConnectionInfo,
) -> Result<Value> {
    let keyring_db = db.clone();
    let connection_id = connection.id;
    let token = db
        .read_async(move |conn| {
            Ok(
                connections::secrets(conn, keyring_db.keyring(), account, connection_id)?
                    .access_token,
            )
        })
        .await?;
    let agent = agent.clone();
    let answer = crate::blocking::run("check", move || {
        graph::phone_number(
            &agent,
            &connection.graph_base_url,
            &connection.graph_version,
            &connection.phone_number_id,
            &token,
        )
    })
    .await?;
    Ok(match answer {
        Ok(number) => json!({
            "ok": true,
            "verified_name": number["verified_name"],
            "display_phone_number": number["display_phone_number"],
            "quality_rating": number["quality_rating"],
        }),
        Err(SendError::Meta(error)) => json!({
            "ok": false,
            "error": {"code": error.code, "title": error.title, "details": error.details, "explanation": errors::explain(error.code)},
        }),
        Err(SendError::Network(reason)) => {
            json!({"ok": false, "error": {"code": null, "title": "Meta could not be reached", "details": reason}})
        }
        Err(SendError::Refused(reason)) => {
            json!({"ok": false, "error": {"code": null, "title": "The connection's Graph API address is not allowed", "details": reason}})
        }
    })
}

/// Fetches the connection's templates from Meta now (they are also refreshed on a schedule).
#[post("/api/v1/connections/<id>/templates/sync")]
async fn sync_templates(
    id: &str,
    auth: ApiAuth,
    db: &State<Db>,
    agent: &State<ureq::Agent>,
) -> Result<Json<Value>> {
    let (connection, _) = load(db, auth, id).await?;
    let (db, agent) = (db.inner().clone(), agent.inner().clone());
    let count = crate::blocking::run("sync", move || {
        crate::jobs::templates::sync_connection(&db, &agent, auth.account, &connection)
    })
    .await??;
    Ok(Json(json!({ "templates": count })))
}

#[get("/api/v1/templates")]
async fn list_templates(auth: ApiAuth, query: Query, db: &State<Db>) -> Result<Json<Value>> {
    query.allow(&[])?;
    let list = db
        .read_async(move |conn| crate::store::templates::list_for_account(conn, auth.account))
        .await?;
    Ok(Json(json!({ "data": list })))
}

/// The sandbox's stand-in for a customer writing to the number: a Meta-shaped inbound webhook, signed
/// with the connection's app secret and taken through the same path as Meta's, so it lands in the inbox
/// and opens the 24-hour window.
#[post("/api/v1/connections/<id>/sandbox/inbound", data = "<body>")]
async fn simulate_inbound(
    id: &str,
    auth: ApiAuth,
    body: Result<ApiJson<SimulateInbound>>,
    db: &State<Db>,
    receivers: &State<Receivers>,
) -> Result<Json<Value>> {
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
    let payload = crate::sandbox::events::inbound_text_payload(
        &connection.waba_id,
        &connection.phone_number_id,
        &digits,
        &inbound.name,
        &inbound.text,
        at / 1000,
    );
    let signature = crate::webhooks::meta::sign(secrets.app_secret.as_bytes(), &payload);
    crate::webhooks::ingest(
        db,
        receivers,
        &connection.webhook_key,
        Some(&signature),
        payload,
    )
    .await
    .map_err(|e| match e {
        crate::webhooks::IngestError::Store(e) => e,
        other => Error::Internal(anyhow::anyhow!("{}", other.text())),
    })?;
    Ok(Json(
        json!({ "from": format!("+{digits}"), "received_at": at }),
    ))
}

#[delete("/api/v1/connections/<id>")]
async fn delete_connection(
    id: &str,
    auth: ApiAuth,
    db: &State<Db>,
    receivers: &State<Receivers>,
) -> Result<Status> {
    let (connection, _) = load(db, auth, id).await?;
    db.write_async(move |conn| connections::delete(conn, auth.account, connection.id))
        .await?;
    receivers.forget(connection.id);
    Ok(Status::NoContent)
}
