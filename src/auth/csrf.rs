//! Cross-site request forgery protection for every state-changing form.
//!
//! Forms carry a token: the session's own random token, or for visitors without a session (sign-in,
//! registration) a signed, timestamped token. `CsrfForm<T>` checks it before the handler runs, and also
//! refuses requests that the browser marks as cross-site (`Sec-Fetch-Site`) or that come from another
//! origin. Handlers that change state take `CsrfForm<T>`, so none can forget the check.

use super::session::Session;
use crate::store::{Db, now_ms};
use hmac::{KeyInit, Mac};
use rocket::data::{self, Data, FromData};
use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::request::Request;

/// Anonymous tokens are accepted this long after the page was served.
const ANONYMOUS_TTL_MS: i64 = 12 * 3_600_000;

/// A form whose `csrf` field has been checked.
pub struct CsrfForm<T>(pub T);

pub trait HasCsrf {
    fn csrf(&self) -> &str;
}

fn sign(db: &Db, issued: i64) -> String {
    let key = db.keyring().derive(b"csrf anonymous");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length works");
    mac.update(issued.to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The token to put in a form served to this request.
pub async fn token_for(req: &Request<'_>) -> String {
    if let rocket::outcome::Outcome::Success(session) = req.guard::<&Session>().await {
        return session.csrf.clone();
    }
    match req.rocket().state::<Db>() {
        Some(db) => {
            let issued = now_ms();
            format!("{issued}.{}", sign(db, issued))
        }
        None => String::new(),
    }
}

async fn token_is_valid(req: &Request<'_>, token: &str) -> bool {
    if let rocket::outcome::Outcome::Success(session) = req.guard::<&Session>().await {
        return crate::crypto::constant_time_eq(session.csrf.as_bytes(), token.as_bytes());
    }
    let (Some(db), Some((issued, signature))) = (req.rocket().state::<Db>(), token.split_once('.'))
    else {
        return false;
    };
    let Ok(issued) = issued.parse::<i64>() else {
        return false;
    };
    let age = now_ms() - issued;
    (0..ANONYMOUS_TTL_MS).contains(&age)
        && crate::crypto::constant_time_eq(sign(db, issued).as_bytes(), signature.as_bytes())
}

/// True when the browser says the request came from another site, or it names another origin.
pub fn is_cross_site(req: &Request<'_>) -> bool {
    if let Some(site) = req.headers().get_one("Sec-Fetch-Site")
        && (site == "cross-site" || site == "same-site")
    {
        return true;
    }
    match (
        req.headers().get_one("Origin"),
        req.headers().get_one("Host"),
    ) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => {
            let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            !authority.eq_ignore_ascii_case(host)
        }
        _ => false,
    }
}

#[rocket::async_trait]
impl<'r, T: FromForm<'r> + HasCsrf + Send + 'r> FromData<'r> for CsrfForm<T> {
    type Error = ();

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        if is_cross_site(req) {
            return data::Outcome::Error((Status::Forbidden, ()));
        }
        let form = match Form::<T>::from_data(req, data).await {
            data::Outcome::Success(form) => form.into_inner(),
            data::Outcome::Error((status, _)) => return data::Outcome::Error((status, ())),
            data::Outcome::Forward(forward) => return data::Outcome::Forward(forward),
        };
        if token_is_valid(req, form.csrf()).await {
            data::Outcome::Success(CsrfForm(form))
        } else {
            data::Outcome::Error((Status::Forbidden, ()))
        }
    }
}
