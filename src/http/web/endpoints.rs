//! Webhook endpoints in the web interface: owners and admins add them (the signing secret is shown once,
//! on the page that answers the form), pause, resume and remove them; everyone sees each delivery with
//! its attempts, and managers replay one delivery or every dead-lettered one. A plan without webhooks
//! shows why instead of the list, an endpoint and the form (pausing and removing stay possible).

use super::context::Ctx;
use super::page::{Page, render};
use super::{CsrfOnly, Reply};
use crate::config::Feature;
use crate::error::{Error, Result};
use crate::http::auth::{Admin, CsrfForm, HasCsrf, Member};
use crate::services::billing::Billing;
use crate::services::endpoints as endpoints_service;
use crate::store::deliveries::{self, AttemptView, DeliveryView};
use crate::store::endpoints::{self, EVENT_TYPES, Endpoint, EndpointChange, EndpointId};
use crate::store::states::DeliveryStatus;
use crate::store::{AccountId, Db, activity, now_ms};
use askama::Template;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{FromForm, State, get, post, routes};
use std::sync::Arc;

pub fn routes() -> Vec<rocket::Route> {
    routes![
        show_endpoints,
        create_endpoint,
        show_endpoint,
        pause_endpoint,
        resume_endpoint,
        remove_endpoint,
        replay_delivery,
        replay_failed
    ]
}

#[derive(Template)]
#[template(path = "webhook_endpoints.html")]
struct EndpointsPage<'a> {
    page: &'a Page,
    endpoints: Vec<Endpoint>,
    event_types: [&'static str; 4],
    new_secret: Option<&'a str>,
    notice: Option<String>,
    error: Option<&'a str>,
}

async fn endpoints_page(
    page: &Page,
    account: AccountId,
    db: &Db,
    new_secret: Option<&str>,
    notice: Option<String>,
    error: Option<&str>,
) -> Result<Reply> {
    let endpoints = db
        .read_async(move |conn| endpoints::list(conn, account))
        .await?;
    let status = if error.is_some() {
        Status::UnprocessableEntity
    } else {
        Status::Ok
    };
    Ok(Reply::Page((
        status,
        render(EndpointsPage {
            page,
            endpoints,
            event_types: EVENT_TYPES,
            new_secret,
            notice,
            error,
        })?,
    )))
}

#[get("/webhook-endpoints?<done>")]
async fn show_endpoints(
    page: Page,
    member: Member<'_>,
    db: &State<Db>,
    billing: &State<Arc<Billing>>,
    done: Option<&str>,
) -> Result<Reply> {
    let feature = Feature::Webhooks;
    if let Some(lacking) = super::plan::lacking(&page, db, billing, member.account, feature).await?
    {
        return Ok(lacking);
    }
    let notice = page.notice("webhooks", done);
    endpoints_page(&page, member.account, db, None, notice, None).await
}

#[derive(FromForm)]
struct EndpointForm {
    #[field(default = String::new())]
    csrf: String,
    url: String,
    #[field(default = String::new())]
    description: String,
    event_types: Vec<String>,
}

impl HasCsrf for EndpointForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/webhook-endpoints", data = "<form>")]
async fn create_endpoint(
    form: CsrfForm<EndpointForm>,
    ctx: Ctx<'_>,
    admin: Admin<'_>,
) -> Result<Reply> {
    let billing = ctx.state::<Arc<Billing>>()?;
    let Ctx {
        page,
        client,
        db,
        config,
        ..
    } = ctx;
    let account = admin.account;
    if let Some(lacking) =
        super::plan::lacking(&page, db, billing, account, Feature::Webhooks).await?
    {
        return Ok(lacking);
    }
    let form = form.0;
    let request = endpoints_service::CreateEndpoint {
        url: Some(form.url),
        description: Some(form.description),
        event_types: Some(form.event_types),
    };
    let user = admin.user().id;
    let record = move |conn: &rusqlite::Connection, created: &Endpoint| {
        activity::record(
            conn,
            &client.actor(Some(account), Some(user)),
            "webhook_endpoint_created",
            &activity::url_host(&created.url),
            now_ms(),
        )
    };
    match endpoints_service::create(db, (config, billing), account, request, record).await {
        Ok((_, secret)) => endpoints_page(&page, account, db, Some(&secret), None, None).await,
        Err(e @ (Error::Invalid { .. } | Error::PlanLimit { .. } | Error::PlanFeature { .. })) => {
            endpoints_page(&page, account, db, None, None, Some(&page.error_text(&e))).await
        }
        Err(e) => Err(e),
    }
}

/// A delivery with its attempts, for the endpoint's page.
struct Shown {
    delivery: DeliveryView,
    attempts: Vec<AttemptView>,
}

#[derive(Template)]
#[template(path = "webhook_endpoint.html")]
struct EndpointPage<'a> {
    page: &'a Page,
    endpoint: Endpoint,
    deliveries: Vec<Shown>,
    status: Option<String>,
    notice: Option<String>,
}

#[get("/webhook-endpoints/<id>?<status>&<done>")]
async fn show_endpoint(
    id: i64,
    status: Option<&str>,
    done: Option<&str>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    let billing = ctx.state::<Arc<Billing>>()?;
    let (page, db, account) = (ctx.page, ctx.db, member.account);
    if let Some(lacking) =
        super::plan::lacking(&page, db, billing, account, Feature::Webhooks).await?
    {
        return Ok(lacking);
    }
    let status = status
        .filter(|s| DeliveryStatus::NAMES.contains(s))
        .map(str::to_owned);
    let filter = status.as_deref().and_then(|s| s.parse().ok());
    let (endpoint, deliveries) = db
        .read_async(move |conn| {
            let endpoint =
                endpoints::find(conn, account, EndpointId::from_raw(id))?.ok_or(Error::NotFound)?;
            let shown = deliveries::list(conn, account, endpoint.id, filter, 100)?
                .into_iter()
                .map(|delivery| {
                    let attempts =
                        deliveries::attempts(conn, account, delivery.id.parse().unwrap_or(0))?;
                    Ok(Shown { delivery, attempts })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((endpoint, shown))
        })
        .await?;
    let notice = page.notice("webhooks", done);
    Ok(Reply::Page((
        Status::Ok,
        render(EndpointPage {
            page: &page,
            endpoint,
            deliveries,
            status,
            notice,
        })?,
    )))
}

/// Pauses or resumes an endpoint's deliveries.
async fn pause(ctx: &Ctx<'_>, admin: Admin<'_>, id: i64, paused: bool) -> Result<EndpointId> {
    let change = EndpointChange {
        paused: Some(paused),
        ..EndpointChange::default()
    };
    let action = if paused {
        "webhook_endpoint_paused"
    } else {
        "webhook_endpoint_resumed"
    };
    super::managed_change(ctx, &admin, action, move |conn, account| {
        let updated =
            endpoints::update(conn, account, EndpointId::from_raw(id), &change, now_ms())?;
        Ok(activity::url_host(&updated.url))
    })
    .await?;
    Ok(EndpointId::from_raw(id))
}

#[post("/webhook-endpoints/<id>/pause", data = "<_form>")]
async fn pause_endpoint(
    id: i64,
    _form: CsrfForm<CsrfOnly>,
    ctx: Ctx<'_>,
    admin: Admin<'_>,
) -> Result<Redirect> {
    let id = pause(&ctx, admin, id, true).await?;
    Ok(Redirect::to(format!(
        "/webhook-endpoints/{}?done=paused",
        id.get()
    )))
}

#[post("/webhook-endpoints/<id>/resume", data = "<_form>")]
async fn resume_endpoint(
    id: i64,
    _form: CsrfForm<CsrfOnly>,
    ctx: Ctx<'_>,
    admin: Admin<'_>,
) -> Result<Redirect> {
    let id = pause(&ctx, admin, id, false).await?;
    Ok(Redirect::to(format!(
        "/webhook-endpoints/{}?done=resumed",
        id.get()
    )))
}

#[post("/webhook-endpoints/<id>/remove", data = "<_form>")]
async fn remove_endpoint(
    id: i64,
    _form: CsrfForm<CsrfOnly>,
    ctx: Ctx<'_>,
    admin: Admin<'_>,
) -> Result<Redirect> {
    super::managed_change(
        &ctx,
        &admin,
        "webhook_endpoint_removed",
        move |conn, account| {
            let id = EndpointId::from_raw(id);
            let found = endpoints::find(conn, account, id)?.ok_or(Error::NotFound)?;
            endpoints::delete(conn, account, id)?;
            Ok(activity::url_host(&found.url))
        },
    )
    .await?;
    Ok(Redirect::to("/webhook-endpoints?done=removed"))
}

async fn replay(db: &Db, admin: Admin<'_>, id: i64, delivery: Option<i64>) -> Result<usize> {
    let account = admin.account;
    db.write_async(move |conn| {
        endpoints::find(conn, account, EndpointId::from_raw(id))?.ok_or(Error::NotFound)?;
        deliveries::replay(conn, account, EndpointId::from_raw(id), delivery, now_ms())
    })
    .await
}

#[post(
    "/webhook-endpoints/<id>/deliveries/<delivery>/replay",
    data = "<_form>"
)]
async fn replay_delivery(
    id: i64,
    delivery: i64,
    _form: CsrfForm<CsrfOnly>,
    admin: Admin<'_>,
    db: &State<Db>,
) -> Result<Redirect> {
    replay(db, admin, id, Some(delivery)).await?;
    Ok(Redirect::to(format!(
        "/webhook-endpoints/{id}?done=replayed"
    )))
}

#[post("/webhook-endpoints/<id>/replay-failed", data = "<_form>")]
async fn replay_failed(
    id: i64,
    _form: CsrfForm<CsrfOnly>,
    admin: Admin<'_>,
    db: &State<Db>,
) -> Result<Redirect> {
    replay(db, admin, id, None).await?;
    Ok(Redirect::to(format!(
        "/webhook-endpoints/{id}?done=replayed"
    )))
}
