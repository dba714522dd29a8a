//! The home page of a signed-in member.

use super::page::{Page, render};
use crate::error::{Error, Result};
use crate::http::auth::{AnySession, Gate};
use crate::services::billing::Billing;
use crate::store::accounts::{self, Account};
use crate::store::{Db, users};
use askama::Template;
use rocket::response::Redirect;
use rocket::response::content::RawHtml;
use rocket::{State, get, routes};
use std::sync::Arc;

pub fn routes() -> Vec<rocket::Route> {
    routes![home]
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard<'a> {
    page: &'a Page,
    account: Account,
    /// The plan's name in the page's language, from the configuration.
    plan_name: String,
    members: i64,
}

#[get("/")]
async fn home(
    page: Page,
    session: Option<AnySession<'_>>,
    db: &State<Db>,
    billing: &State<Arc<Billing>>,
) -> Result<Result<RawHtml<String>, Redirect>> {
    let Some(AnySession(session)) = session else {
        return Ok(Err(Redirect::to("/login")));
    };
    // A session with a step to take first (the code, enrolment, the number) is sent to it.
    if session.gate != Gate::Open {
        return Ok(Err(Redirect::to(session.gate.page())));
    }
    let Some(account_id) = session.user.account_id else {
        return Ok(Err(Redirect::to("/admin")));
    };
    let (account, members) = db
        .read_async(move |conn| {
            let account = accounts::find(conn, account_id)?.ok_or(Error::NotFound)?;
            Ok((
                account,
                users::list_for_account(conn, account_id)?.len() as i64,
            ))
        })
        .await?;
    let plan_name = billing
        .plan(&account.plan)
        .map_or(account.plan.as_str(), |plan| plan.name_in(page.lang.code()))
        .to_owned();
    Ok(Ok(render(Dashboard {
        page: &page,
        account,
        plan_name,
        members,
    })?))
}
