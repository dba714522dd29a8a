//! What an API handler works with besides its request, gathered by one guard: the store, the
//! configuration, where Meta's Graph API is, and the receivers of Meta's webhooks. The API key is the
//! `ApiAuth` guard's part, the body the handler's own.

use crate::config::Config;
use crate::outbound::targets::MetaTargets;
use crate::services::meta_events::Receivers;
use crate::store::Db;
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};

pub struct ApiCtx<'r> {
    pub db: &'r Db,
    pub config: &'r Config,
    pub targets: &'r MetaTargets,
    pub receivers: &'r Receivers,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ApiCtx<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let rocket = req.rocket();
        let (Some(db), Some(config), Some(targets), Some(receivers)) = (
            rocket.state::<Db>(),
            rocket.state::<Config>(),
            rocket.state::<MetaTargets>(),
            rocket.state::<Receivers>(),
        ) else {
            tracing::error!(
                "the API needs the store, configuration, Meta's targets and the webhook receivers managed"
            );
            return Outcome::Error((Status::InternalServerError, ()));
        };
        Outcome::Success(ApiCtx {
            db,
            config,
            targets,
            receivers,
        })
    }
}
