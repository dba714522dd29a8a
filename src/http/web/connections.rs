//! WhatsApp numbers in the web interface: add one (on Meta's Cloud API, or the built-in sandbox), check it
//! with Meta, see what to paste into Meta's dashboard, remove it. Owners and admins manage; members look.

use super::context::Ctx;
use super::page::{Page, render};
use super::{CsrfOnly, Reply};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::auth::{Admin, CsrfForm, Member};
use crate::outbound::targets::MetaTargets;
use crate::services;
use crate::services::billing::Billing;
use crate::services::connections::{CreateConnection, check_and_record};
use crate::store::connection_identity;
use crate::store::connections::{self, ConnectionId, ConnectionInfo};
use crate::store::{AccountId, Db, activity, now_ms};
use askama::Template;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{get, post, routes};
use serde_json::Value;
use std::sync::Arc;

pub fn routes() -> Vec<rocket::Route> {
    routes![
        show_connections,
        add_connection,
        check_number,
        remove_connection
    ]
}

struct Shown {
    info: ConnectionInfo,
    webhook_url: String,
    verify_token: String,
    /// What Meta said the number is, when it was asked.
    display_number: Option<String>,
    verified_name: Option<String>,
}

#[derive(Template)]
#[template(path = "connections.html")]
struct ConnectionsPage<'a> {
    page: &'a Page,
    connections: Vec<Shown>,
    notice: Option<String>,
    check: Option<(String, Value)>,
    error: Option<&'a str>,
    /// `[server] public_url`, and whether Meta cannot reach it (not https, or a local or private host).
    public_url: &'a str,
    unreachable: bool,
}

/// Whether Meta cannot post to addresses under `public_url`: it must be https and name a public host
/// (the rule customers' endpoints follow, without resolving the name).
pub(super) fn unreachable_by_meta(public_url: &str) -> bool {
    crate::outbound::ssrf::check_url(public_url, false).is_err()
}

async fn connections_page(
    page: &Page,
    account: AccountId,
    db: &Db,
    config: &Config,
    notice: Option<String>,
    check: Option<(String, Value)>,
    error: Option<&str>,
) -> Result<String> {
    let keyring_db = db.clone();
    let rows = db
        .read_async(move |conn| {
            let identities = connection_identity::list(conn, account)?;
            connections::list_for_account(conn, account)?
                .into_iter()
                .map(|info| {
                    let verify =
                        connections::secrets(conn, keyring_db.keyring(), account, info.id)?
                            .verify_token;
                    let identity = identities
                        .iter()
                        .find(|(id, _)| *id == info.id)
                        .map(|(_, identity)| identity.clone())
                        .unwrap_or_default();
                    Ok((info, verify.to_string(), identity))
                })
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    let connections = rows
        .into_iter()
        .map(|(info, verify_token, identity)| Shown {
            webhook_url: format!(
                "{}/webhooks/meta/{}",
                config.server.public_url, info.webhook_key
            ),
            info,
            verify_token,
            display_number: identity.display_phone_number,
            verified_name: identity.verified_name,
        })
        .collect();
    Ok(render(ConnectionsPage {
        page,
        connections,
        notice,
        check,
        error,
        public_url: &config.server.public_url,
        unreachable: unreachable_by_meta(&config.server.public_url),
    })?
    .0)
}

#[get("/connections?<done>")]
async fn show_connections(ctx: Ctx<'_>, member: Member<'_>, done: Option<&str>) -> Result<Reply> {
    let Ctx {
        page, db, config, ..
    } = ctx;
    let notice = page.notice("connections", done);
    let html = connections_page(&page, member.account, db, config, notice, None, None).await?;
    Ok(Reply::Page((
        Status::Ok,
        rocket::response::content::RawHtml(html),
    )))
}

csrf_form!(AddForm {
    kind,
    name,
    phone_number_id,
    waba_id,
    access_token,
    app_secret,
    throughput_mps
});

#[post("/connections", data = "<form>")]
async fn add_connection(form: CsrfForm<AddForm>, ctx: Ctx<'_>, admin: Admin<'_>) -> Result<Reply> {
    let targets = ctx.state::<MetaTargets>()?;
    let billing = ctx.state::<Arc<Billing>>()?.as_ref();
    let agent = ctx.state::<ureq::Agent>()?;
    let Ctx {
        page,
        client,
        db,
        config,
        ..
    } = ctx;
    let account = admin.account;
    let form = form.0;
    let throughput: i64 = form.throughput_mps.trim().parse().unwrap_or(80);
    let request = CreateConnection {
        kind: Some(form.kind),
        name: Some(form.name),
        phone_number_id: Some(form.phone_number_id),
        waba_id: Some(form.waba_id),
        access_token: Some(form.access_token),
        app_secret: Some(form.app_secret),
        throughput_mps: Some(throughput),
        ..CreateConnection::default()
    };
    let user = admin.user().id;
    let created = match request.check(targets) {
        Ok(new) => {
            let record = move |conn: &rusqlite::Connection, created: &ConnectionInfo| {
                activity::record(
                    conn,
                    &client.actor(Some(account), Some(user)),
                    "connection_added",
                    &created.name,
                    now_ms(),
                )
            };
            services::connections::create(db, billing, account, new, record).await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(created) => {
            // What Meta says the number is, asked once it is saved; a number Meta does not answer for
            // is kept all the same (the page says its name is not fetched yet, and the check asks again).
            if let Err(e) = check_and_record(db, agent, account, created).await {
                tracing::warn!(error = %e, "could not ask Meta about a number just added");
            }
            Ok(Reply::Redirect(Redirect::to("/connections?done=added")))
        }
        Err(e @ (Error::Invalid { .. } | Error::PlanLimit { .. })) => {
            let html = connections_page(
                &page,
                account,
                db,
                config,
                None,
                None,
                Some(&page.error_text(&e)),
            )
            .await?;
            Ok(Reply::Page((
                Status::UnprocessableEntity,
                rocket::response::content::RawHtml(html),
            )))
        }
        Err(e) => Err(e),
    }
}

#[post("/connections/<id>/check", data = "<_form>")]
async fn check_number(
    id: i64,
    _form: CsrfForm<CsrfOnly>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    let agent = ctx.state::<ureq::Agent>()?;
    let Ctx {
        page, db, config, ..
    } = ctx;
    let account = member.account;
    let found = db
        .read_async(move |conn| connections::find(conn, account, ConnectionId::from_raw(id)))
        .await?
        .ok_or(Error::NotFound)?;
    let checked = check_and_record(db, agent, account, found).await?;
    let result = serde_json::to_value(checked).map_err(|e| Error::Internal(e.into()))?;
    let html = connections_page(
        &page,
        account,
        db,
        config,
        None,
        Some((id.to_string(), result)),
        None,
    )
    .await?;
    Ok(Reply::Page((
        Status::Ok,
        rocket::response::content::RawHtml(html),
    )))
}

#[post("/connections/<id>/remove", data = "<_form>")]
async fn remove_connection(
    id: i64,
    _form: CsrfForm<CsrfOnly>,
    ctx: Ctx<'_>,
    admin: Admin<'_>,
) -> Result<Redirect> {
    let receivers = ctx.state::<crate::services::meta_events::Receivers>()?;
    super::managed_change(&ctx, &admin, "connection_removed", move |conn, account| {
        let id = ConnectionId::from_raw(id);
        let found = connections::find(conn, account, id)?.ok_or(Error::NotFound)?;
        connections::delete(conn, account, id)?;
        Ok(found.name)
    })
    .await?;
    receivers.forget(ConnectionId::from_raw(id));
    Ok(Redirect::to("/connections?done=removed"))
}
