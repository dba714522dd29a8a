//! What accepting a message needs (`services::messages::Sending`), gathered from the server's state for
//! the API and the pages that send.

use crate::services::billing::Billing;
use crate::services::messages::Sending;
use crate::services::outbox::Waker;
use crate::store::Db;
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use std::sync::Arc;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Sending<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let rocket = req.rocket();
        let (Some(db), Some(waker), Some(billing)) = (
            rocket.state::<Db>(),
            rocket.state::<Waker>(),
            rocket.state::<Arc<Billing>>(),
        ) else {
            tracing::error!("sending needs the store, the sender's waker and the plans managed");
            return Outcome::Error((Status::InternalServerError, ()));
        };
        Outcome::Success(Sending { db, waker, billing })
    }
}
