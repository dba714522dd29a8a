//! Cross-site request forgery protection for every state-changing form.
//!
//! Forms carry a token: the session's own random token, or for visitors without a session (sign-in,
//! registration) a signed, timestamped token. `CsrfForm<T>` checks it before the handler runs, and also
//! refuses requests that the browser marks as cross-site (`Sec-Fetch-Site`) or that come from another
//! origin. Handlers that change state take `CsrfForm<T>`, so none can forget the check.

use super::session::AnySession;
use crate::config::split_url;
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
    // A session waiting for its second step has its own token too.
    if let rocket::outcome::Outcome::Success(AnySession(session)) = req.guard::<AnySession>().await
    {
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
    if let rocket::outcome::Outcome::Success(AnySession(session)) = req.guard::<AnySession>().await
    {
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
///
/// The origin is compared with the configured public URL, never with the Host header alone: a page on
/// the attacker's own name that re-resolves to this server (DNS rebinding) sends matching Origin and Host.
/// A browser that reached the server by an address literal (or `localhost`) sends an Origin equal to the
/// Host it asked; no rebinding can produce such a name, so that is accepted too, whatever `public_url` is.
pub fn is_cross_site(req: &Request<'_>) -> bool {
    if let Some(site) = req.headers().get_one("Sec-Fetch-Site")
        && (site == "cross-site" || site == "same-site")
    {
        return true;
    }
    let Some(origin) = req.headers().get_one("Origin") else {
        return false;
    };
    let public_url = req
        .rocket()
        .state::<crate::config::Config>()
        .map(|config| config.server.public_url.as_str());
    let refused = other_origin(origin, req.headers().get_one("Host"), public_url);
    if refused && refusal_worth_logging(now_ms()) {
        // Also what an operator sees when server.public_url is not the address people use; at most
        // once a minute, so refused forms cannot flood the log.
        tracing::warn!(
            origin,
            public_url,
            "a form from another origin was refused; forms are accepted from server.public_url"
        );
    }
    refused
}

/// Whether a form's `Origin` is not this server's: neither the public URL's origin nor (for an address
/// literal or `localhost`) the host the browser asked for. Origins compare in the one normal spelling
/// of `config::split_url` (scheme and host in lower case, default port left out).
fn other_origin(origin: &str, host: Option<&str>, public_url: Option<&str>) -> bool {
    let origin_of = |url: &str| split_url(url).ok().map(|(origin, _, _)| origin);
    // "null" (a sandboxed frame, a redirect from elsewhere) and anything unreadable are other origins.
    let Some(origin) = origin_of(origin) else {
        return true;
    };
    if public_url.and_then(origin_of).as_ref() == Some(&origin) {
        return false;
    }
    let Some((scheme, _)) = origin.split_once("://") else {
        return true;
    };
    let asked = host.and_then(|host| origin_of(&format!("{scheme}://{}", host.trim())));
    !(asked.as_ref() == Some(&origin) && names_no_other_server(&origin))
}

/// An IP address or `localhost`: names no DNS answer can move to another server.
fn names_no_other_server(origin: &str) -> bool {
    let Some(host) = origin
        .parse::<ureq::http::Uri>()
        .ok()
        .and_then(|uri| uri.host().map(str::to_owned))
    else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok()
}

/// True at most once a minute.
fn refusal_worth_logging(now: i64) -> bool {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(i64::MIN);
    let last = LAST.load(Ordering::Relaxed);
    now.saturating_sub(last) >= 60_000
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_come_from_the_public_url_or_the_literal_host_the_browser_asked_for() {
        let public = Some("https://wa.example.com");
        // The public URL's origin, in any spelling.
        assert!(!other_origin(
            "https://WA.example.com:443",
            Some("x"),
            public
        ));
        assert!(other_origin(
            "http://wa.example.com",
            Some("wa.example.com"),
            public
        ));
        // A rebinding page: its own name in Origin and Host alike.
        assert!(other_origin(
            "http://evil.localhost:8080",
            Some("evil.localhost:8080"),
            public
        ));
        assert!(other_origin("https://evil.test", Some("evil.test"), public));
        // An address literal or localhost, as the browser asked for it.
        assert!(!other_origin(
            "http://127.0.0.1:8080",
            Some("127.0.0.1:8080"),
            public
        ));
        assert!(!other_origin(
            "http://[::1]:8080",
            Some("[::1]:8080"),
            public
        ));
        assert!(!other_origin(
            "http://localhost:8080",
            Some("LOCALHOST:8080"),
            public
        ));
        assert!(other_origin(
            "http://localhost:8080",
            Some("localhost:9090"),
            public
        ));
        assert!(other_origin("http://127.0.0.1:8080", None, public));
        // What no browser sends for a page of ours.
        assert!(other_origin("null", Some("127.0.0.1"), public));
        assert!(other_origin(
            "http://user@127.0.0.1",
            Some("127.0.0.1"),
            public
        ));
        assert!(other_origin("ftp://127.0.0.1", Some("127.0.0.1"), public));
    }
}
