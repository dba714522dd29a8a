//! Stripe's webhooks coming in: `POST /webhooks/stripe`, signed with `Stripe-Signature` over the raw
//! body. The body is read as bytes and handed on untouched (Stripe signs its own serialisation). The
//! answer is 200 only after the event is committed; a refusal is 400 with the server's JSON error, so
//! Stripe's dashboard shows why. Without `[billing] provider = "stripe"` the URL does not exist (404).

use crate::error::Error;
use crate::services::billing::Billing;
use crate::services::billing::stripe::{self, Received};
use crate::store::Db;
use rocket::data::{Data, ToByteUnit};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::Json;
use rocket::{State, post, routes};
use serde_json::{Value, json};
use std::sync::Arc;

/// Stripe's events are a few kilobytes; an invoice with many lines stays far below this.
pub const BODY_LIMIT_BYTES: u64 = 1024 * 1024;

pub fn routes() -> Vec<rocket::Route> {
    routes![receive]
}

/// The raw `Stripe-Signature` header, if any.
struct StripeSignature(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for StripeSignature {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        Outcome::Success(StripeSignature(
            req.headers().get_one("Stripe-Signature").map(str::to_owned),
        ))
    }
}

/// The server's JSON error (`{"error": {"code", "message", "details"}}`) with its status.
fn refused(error: Error) -> (Status, Json<Value>) {
    let status = error.status();
    if status.code >= 500 {
        tracing::error!(error = ?error, "a Stripe webhook could not be stored or applied; Stripe will retry it");
    } else if status != Status::NotFound {
        tracing::warn!(error = %error, "refused a Stripe webhook");
    }
    (status, Json(error.to_json()))
}

#[post("/webhooks/stripe", data = "<data>")]
async fn receive(
    signature: StripeSignature,
    data: Data<'_>,
    db: &State<Db>,
    billing: &State<Arc<Billing>>,
) -> (Status, Json<Value>) {
    // Nothing is read from a request to an installation that takes no payments through Stripe.
    if !stripe::enabled(billing) {
        return refused(Error::NotFound);
    }
    let body = match data.open(BODY_LIMIT_BYTES.bytes()).into_bytes().await {
        Ok(body) if body.is_complete() => body.into_inner(),
        Ok(_) => {
            return refused(Error::PayloadTooLarge {
                limit: BODY_LIMIT_BYTES,
            });
        }
        Err(_) => return refused(Error::BadRequest("could not read the body".into())),
    };
    match stripe::receive(db, billing, signature.0.as_deref(), body).await {
        Ok(Received::Processed { event, outcome }) => {
            tracing::info!(%event, %outcome, "Stripe webhook");
            (
                Status::Ok,
                Json(json!({ "received": true, "event": event, "outcome": outcome })),
            )
        }
        Ok(Received::Duplicate { event }) => (
            Status::Ok,
            Json(json!({ "received": true, "event": event, "duplicate": true })),
        ),
        Err(error) => refused(error),
    }
}
