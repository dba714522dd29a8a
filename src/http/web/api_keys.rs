//! API keys in the web interface: owners and admins create them (the key is shown once, on the page that
//! answers the form) and revoke them; everyone sees when each was last used. A plan without the API
//! shows why instead (revoking stays possible: it only takes access away).

use super::context::Ctx;
use super::page::{Page, render};
use super::{CsrfOnly, Reply};
use crate::config::Feature;
use crate::error::{Error, Result};
use crate::http::auth::{Admin, CsrfForm, Member};
use crate::services::billing::Billing;
use crate::store::api_keys::{self, ApiKey, ApiKeyId};
use crate::store::{AccountId, Db, activity, now_ms};
use askama::Template;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{State, get, post, routes};
use std::sync::Arc;

pub fn routes() -> Vec<rocket::Route> {
    routes![show_keys, create_key, revoke_key]
}

#[derive(Template)]
#[template(path = "api_keys.html")]
struct KeysPage<'a> {
    page: &'a Page,
    keys: Vec<ApiKey>,
    new_key: Option<&'a str>,
    notice: Option<String>,
    error: Option<&'a str>,
}

async fn keys_page(
    page: &Page,
    account: AccountId,
    db: &Db,
    new_key: Option<&str>,
    error: Option<&str>,
) -> Result<Reply> {
    let keys = db
        .read_async(move |conn| api_keys::list_for_account(conn, account))
        .await?;
    let status = if error.is_some() {
        Status::UnprocessableEntity
    } else {
        Status::Ok
    };
    Ok(Reply::Page((
        status,
        render(KeysPage {
            page,
            keys,
            new_key,
            notice: None,
            error,
        })?,
    )))
}

#[get("/api-keys?<done>")]
async fn show_keys(
    page: Page,
    member: Member<'_>,
    db: &State<Db>,
    billing: &State<Arc<Billing>>,
    done: Option<&str>,
) -> Result<Reply> {
    let account = member.account;
    if let Some(lacking) = super::plan::lacking(&page, db, billing, account, Feature::Api).await? {
        return Ok(lacking);
    }
    let keys = db
        .read_async(move |conn| api_keys::list_for_account(conn, account))
        .await?;
    let notice = page.notice("api_keys", done);
    Ok(Reply::Page((
        Status::Ok,
        render(KeysPage {
            page: &page,
            keys,
            new_key: None,
            notice,
            error: None,
        })?,
    )))
}

csrf_form!(KeyForm { name });

#[post("/api-keys", data = "<form>")]
async fn create_key(form: CsrfForm<KeyForm>, ctx: Ctx<'_>, admin: Admin<'_>) -> Result<Reply> {
    let billing = ctx.state::<Arc<Billing>>()?;
    let Ctx {
        page, client, db, ..
    } = ctx;
    let account = admin.account;
    if let Some(lacking) = super::plan::lacking(&page, db, billing, account, Feature::Api).await? {
        return Ok(lacking);
    }
    let (name, user) = (form.0.name, admin.user().id);
    let created = db
        .write_async(move |conn| {
            let (_, key) = api_keys::create(conn, account, &name, Some(user))?;
            activity::record(
                conn,
                &client.actor(Some(account), Some(user)),
                "api_key_created",
                &name,
                now_ms(),
            )?;
            Ok(key)
        })
        .await;
    match created {
        Ok(key) => keys_page(&page, account, db, Some(&key), None).await,
        Err(e @ Error::Invalid { .. }) => {
            keys_page(&page, account, db, None, Some(&page.error_text(&e))).await
        }
        Err(e) => Err(e),
    }
}

#[post("/api-keys/<id>/revoke", data = "<_form>")]
async fn revoke_key(
    id: i64,
    _form: CsrfForm<CsrfOnly>,
    ctx: Ctx<'_>,
    admin: Admin<'_>,
) -> Result<Redirect> {
    let trusted = ctx.state::<std::sync::Arc<crate::services::api_keys::KeysUsed>>()?;
    super::managed_change(&ctx, &admin, "api_key_revoked", move |conn, account| {
        api_keys::revoke(conn, account, ApiKeyId::from_raw(id))?;
        Ok(api_keys::list_for_account(conn, account)?
            .into_iter()
            .find(|k| k.id.get() == id)
            .map(|k| k.name)
            .unwrap_or_default())
    })
    .await?;
    // This process trusts keys it checked a moment ago: a revoked one must stop working now.
    trusted.forget(ApiKeyId::from_raw(id));
    Ok(Redirect::to("/api-keys?done=revoked"))
}
