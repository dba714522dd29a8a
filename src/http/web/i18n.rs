//! The language of a page: the language cookie, else the browser's Accept-Language, else English.

pub use crate::domain::lang::{Lang, normalise_digits};
use rocket::http::{Cookie, CookieJar, SameSite};
use rocket::request::{FromRequest, Outcome, Request};

pub const LANG_COOKIE: &str = "whatsapi_lang";

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Lang {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(Lang::of_request(req))
    }
}

impl Lang {
    /// The language cookie, else the browser's preference, else English.
    pub fn of_request(req: &Request<'_>) -> Lang {
        req.cookies()
            .get(LANG_COOKIE)
            .and_then(|c| Lang::from_code(c.value()))
            .or_else(|| {
                req.headers()
                    .get_one("Accept-Language")
                    .and_then(Lang::from_accept_language)
            })
            .unwrap_or(Lang::En)
    }
}

/// Remembers the chosen language until the browser closes, like the session cookie: a preference cookie
/// needs no consent only while it is short-lived. It holds nothing but "en" or "ar"; a new visit starts
/// from the browser's own language.
pub fn set_cookie(cookies: &CookieJar<'_>, lang: Lang, secure: bool) {
    cookies.add(
        Cookie::build((LANG_COOKIE, lang.code()))
            .path("/")
            .same_site(SameSite::Lax)
            .secure(secure)
            .http_only(true)
            .build(),
    );
}
