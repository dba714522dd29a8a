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
    let Some(origin) = Origin::parse(origin) else {
        // "null" (a sandboxed frame, a redirect from elsewhere) and anything unreadable.
        return true;
    };
    let public = req
        .rocket()
        .state::<crate::config::Config>()
        .and_then(|config| Origin::parse(&config.server.public_url));
    if public.as_ref() == Some(&origin) {
        return false;
    }
    let same_literal_host = origin.host_is_literal()
        && req
            .headers()
            .get_one("Host")
            .is_some_and(|host| origin.authority_matches(host));
    if !same_literal_host && refusal_worth_logging(now_ms()) {
        // Also what an operator sees when server.public_url is not the address people use; at most
        // once a minute, so refused forms cannot flood the log.
        tracing::warn!(
            origin = ?req.headers().get_one("Origin").unwrap_or_default(),
            public_url = ?public.map(|p| format!("{}://{}:{}", p.scheme, p.host, p.port)),
            "a form from another origin was refused; forms are accepted from server.public_url"
        );
    }
    !same_literal_host
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

/// The scheme, host and port of a URL, as browsers compare origins.
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn parse(url: &str) -> Option<Origin> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let authority = rest.split(['/', '?', '#']).next()?;
        if authority.contains('@') || authority.is_empty() {
            return None;
        }
        let (host, port) = split_host_port(authority)?;
        Some(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port: port.unwrap_or(default_port),
        })
    }

    /// An IP address or `localhost`: names no DNS answer can move to another server.
    fn host_is_literal(&self) -> bool {
        self.host == "localhost"
            || self.host.parse::<std::net::IpAddr>().is_ok()
            || self
                .host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok())
    }

    /// Whether a Host header names this origin's host and port.
    fn authority_matches(&self, host_header: &str) -> bool {
        let Some((host, port)) = split_host_port(host_header.trim()) else {
            return false;
        };
        let default_port = if self.scheme == "https" { 443 } else { 80 };
        host.eq_ignore_ascii_case(&self.host) && port.unwrap_or(default_port) == self.port
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; the host keeps its brackets.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')? + 1;
        let port = authority[end..].strip_prefix(':');
        if port.is_none() && end != authority.len() {
            return None;
        }
        (&authority[..end], port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok()?),
        None => None,
    };
    (!host.is_empty()).then_some((host, port))
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
    fn origins_compare_scheme_host_and_port_with_default_ports_filled_in() {
        let public = Origin::parse("https://wa.example.com").unwrap();
        assert_eq!(Origin::parse("https://WA.example.com:443"), Some(public));
        assert_ne!(
            Origin::parse("http://wa.example.com"),
            Origin::parse("https://wa.example.com")
        );
        assert_ne!(
            Origin::parse("http://127.0.0.1:8080"),
            Origin::parse("http://127.0.0.1:8081")
        );
        assert_eq!(Origin::parse("null"), None);
        assert_eq!(Origin::parse("http://user@host"), None);
        let v6 = Origin::parse("http://[::1]:8080").unwrap();
        assert!(v6.host_is_literal() && v6.authority_matches("[::1]:8080"));
        let local = Origin::parse("http://localhost:8080").unwrap();
        assert!(local.host_is_literal() && local.authority_matches("localhost:8080"));
        assert!(!local.authority_matches("localhost:9090"));
        let named = Origin::parse("http://evil.localhost:8080").unwrap();
        assert!(!named.host_is_literal(), "a name, however local it looks");
    }
}
