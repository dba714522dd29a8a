//! What a page handler works with, gathered once per request by one guard: the page (language, CSRF
//! token, who is signed in, branding), the client's address and browser, the store, the configuration,
//! the cookies, and the server's other shared state.
//!
//! Who may do what is the role guards' part (`auth::roles`); a handler takes `Ctx` and, when it needs a
//! signed-in person, one of `Member`, `Admin`, `Owner` or `Operator`.

use super::page::Page;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::auth::{Auth, ClientInfo};
use crate::outbound::mail::Mailer;
use crate::store::retention::Visible;
use crate::store::{Db, now_ms};
use rocket::http::{CookieJar, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Orbit, Rocket};

pub struct Ctx<'r> {
    pub page: Page,
    pub client: ClientInfo,
    pub db: &'r Db,
    pub config: &'r Config,
    pub auth: &'r Auth,
    pub mailer: &'r Mailer,
    pub cookies: &'r CookieJar<'r>,
    rocket: &'r Rocket<Orbit>,
}

impl<'r> Ctx<'r> {
    /// The messages and conversations retention still shows (`[retention] message_days`).
    pub fn visible(&self) -> Visible {
        Visible::days(self.config.retention.message_days, now_ms())
    }

    /// Who asks, for a service that logs a person's own change and emails them about it.
    pub fn asker(&self) -> crate::services::two_step::Asker<'_> {
        crate::services::two_step::Asker {
            client: &self.client,
            mailer: self.mailer,
            lang: self.page.lang,
        }
    }

    /// Other state the server manages (the sender's waker, the webhook receivers, ...).
    pub fn state<T: Send + Sync + 'static>(&self) -> Result<&'r T> {
        self.rocket.state::<T>().ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "{} is not managed state",
                std::any::type_name::<T>()
            ))
        })
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Ctx<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let rocket = req.rocket();
        let (Some(db), Some(config), Some(auth), Some(mailer)) = (
            rocket.state::<Db>(),
            rocket.state::<Config>(),
            rocket.state::<Auth>(),
            rocket.state::<Mailer>(),
        ) else {
            tracing::error!(
                "the web pages need the store, configuration, hasher and mailer managed"
            );
            return Outcome::Error((Status::InternalServerError, ()));
        };
        Outcome::Success(Ctx {
            page: Page::of(req).await,
            client: ClientInfo::of(req),
            db,
            config,
            auth,
            mailer,
            cookies: req.cookies(),
            rocket,
        })
    }
}
