//! The Billing page's two payment buttons: `POST /billing/checkout` (a plan) sends the browser to Stripe
//! Checkout, `POST /billing/portal` to Stripe's customer portal (cards, invoices). Owners and admins
//! only. A refusal (a plan not sold online, no Stripe customer yet, Stripe unreachable) is a page that
//! says so in the visitor's language, with the way back to Billing.

use super::context::Ctx;
use super::page::{Page, render};
use super::{CsrfOnly, Reply};
use crate::error::{Error, Result};
use crate::http::auth::{Admin, CsrfForm};
use crate::outbound::stripe::Stripe;
use crate::services::billing::{Billing, stripe};
use askama::Template;
use rocket::response::Redirect;
use rocket::{post, routes};
use std::sync::Arc;

pub fn routes() -> Vec<rocket::Route> {
    routes![checkout, portal]
}

csrf_form!(PlanForm { plan });

#[derive(Template)]
#[template(path = "payment_error.html")]
struct PaymentError<'a> {
    page: &'a Page,
    message: &'a str,
}

/// The page for a refusal, or the server's own error page for what is not one (a failed read).
fn refused(page: &Page, error: Error) -> Result<Reply> {
    let message = match &error {
        // Each refusal the payment service makes names its own field; its words are in the catalogs.
        Error::Invalid { field, message } => {
            let key = format!("payments.refused_{field}");
            match page.t(&key) {
                text if text == key => message.clone(),
                text => text.to_owned(),
            }
        }
        // Stripe's own words are logged for the operator, not shown (they may name the operator's
        // settings).
        Error::Unavailable(_) => page.t("payments.unavailable").to_owned(),
        _ => return Err(error),
    };
    Ok(Reply::Page((
        error.status(),
        render(PaymentError {
            page,
            message: &message,
        })?,
    )))
}

#[post("/billing/checkout", data = "<form>")]
async fn checkout(form: CsrfForm<PlanForm>, ctx: Ctx<'_>, admin: Admin<'_>) -> Result<Reply> {
    let (billing, client) = (ctx.state::<Arc<Billing>>()?, ctx.state::<Stripe>()?);
    let public_url = &ctx.config.server.public_url;
    let plan = form.0.plan;
    match stripe::checkout(ctx.db, billing, client, public_url, admin.account, &plan).await {
        Ok(url) => Ok(Reply::Redirect(Redirect::to(url))),
        Err(error) => refused(&ctx.page, error),
    }
}

#[post("/billing/portal", data = "<_form>")]
async fn portal(_form: CsrfForm<CsrfOnly>, ctx: Ctx<'_>, admin: Admin<'_>) -> Result<Reply> {
    let (billing, client) = (ctx.state::<Arc<Billing>>()?, ctx.state::<Stripe>()?);
    let public_url = &ctx.config.server.public_url;
    match stripe::portal(ctx.db, billing, client, public_url, admin.account).await {
        Ok(url) => Ok(Reply::Redirect(Redirect::to(url))),
        Err(error) => refused(&ctx.page, error),
    }
}
