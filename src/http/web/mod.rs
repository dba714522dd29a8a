//! Everything served over HTTP that is not the developer API: health, error pages, security headers.

/// Declares a form of string fields with its CSRF token, ready for `CsrfForm<T>`.
macro_rules! csrf_form {
    ($name:ident { $($field:ident),* }) => {
        #[derive(rocket::form::FromForm)]
        pub(crate) struct $name {
            #[field(default = String::new())]
            csrf: String,
            $($field: String,)*
        }
        impl crate::http::auth::HasCsrf for $name {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        }
    };
}

mod activity;
pub mod admin;
mod admin_account;
mod admin_accounts;
mod admin_backups;
mod admin_health;
mod admin_holds;
mod admin_signals;
mod api_keys;
mod api_reference;
mod assets;
mod billing;
mod billing_payment;
pub mod charts;
mod compose;
mod connections;
mod contacts;
pub mod context;
mod dashboard;
mod endpoints;
mod field_errors;
mod headers;
mod health;
pub mod i18n;
mod inbox;
mod messages;
pub mod page;
mod password_reset;
mod plan;
mod privacy;
mod profile;
mod sign_in;
mod sign_in_code;
mod team;
mod templates;
mod usage;

use crate::error::Code;
use crate::http::auth::Admin;
use crate::http::errors::error_response;
use crate::store::{AccountId, now_ms};
use rocket::http::Status;
use rocket::request::Request;
use rocket::response::{self, Responder};
use rocket::{Catcher, Route, catch, catchers, routes};

pub use api_reference::ApiDocument;
pub use headers::SecurityHeaders;
pub use password_reset::ResetEmails;

pub fn routes() -> Vec<Route> {
    let mut all = routes![health::healthz];
    all.extend(assets::routes());
    all.extend(dashboard::routes());
    all.extend(sign_in::routes());
    all.extend(sign_in_code::routes());
    all.extend(password_reset::routes());
    all.extend(team::routes());
    all.extend(activity::routes());
    all.extend(api_keys::routes());
    all.extend(api_reference::routes());
    all.extend(messages::routes());
    all.extend(inbox::routes());
    all.extend(connections::routes());
    all.extend(compose::routes());
    all.extend(templates::routes());
    all.extend(contacts::routes());
    all.extend(endpoints::routes());
    all.extend(profile::routes());
    all.extend(admin::routes());
    all.extend(admin_account::routes());
    all.extend(admin_holds::routes());
    all.extend(admin_health::routes());
    all.extend(admin_signals::routes());
    all.extend(billing::routes());
    all.extend(privacy::routes());
    all.extend(billing_payment::routes());
    all.extend(usage::routes());
    all
}

/// What a page handler answers: a page with its status, or a redirect (after a successful form).
// A redirect is larger than a page, but a reply lives only until it is sent.
#[allow(clippy::large_enum_variant)]
#[derive(rocket::Responder)]
pub enum Reply {
    Page(
        (
            rocket::http::Status,
            rocket::response::content::RawHtml<String>,
        ),
    ),
    Redirect(rocket::response::Redirect),
}

pub fn catchers() -> Vec<Catcher> {
    catchers![default_catcher]
}

// A form that carries nothing but its token: sign out, revoke, confirm.
csrf_form!(CsrfOnly {});

#[derive(askama::Template)]
#[template(path = "expired_link.html")]
struct ExpiredLink<'a> {
    page: &'a page::Page,
}

/// The page for a link (reset, invitation, confirmation) that expired or was already used.
pub fn expired_link(page: &page::Page) -> crate::error::Result<Reply> {
    Ok(Reply::Page((
        rocket::http::Status::Gone,
        page::render(ExpiredLink { page })?,
    )))
}

/// Answers every error Rocket produces itself (unknown path, bad body, ...) in the same shape as ours.
#[catch(default)]
fn default_catcher(status: Status, _req: &Request<'_>) -> CaughtError {
    CaughtError(status)
}

struct CaughtError(Status);

impl<'r> Responder<'r, 'static> for CaughtError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let status = self.0;
        if let Some(error) = crate::http::errors::guard_refusal(req) {
            return error.respond_to(req);
        }
        if status.code == 401 && !crate::http::errors::wants_json(req) {
            // A page that needs a session: send the person to sign in (saying why, when the session
            // ended because the account is suspended), or to the step their session must take first.
            use crate::http::auth::session;
            let to = match (session::gated_to(req), session::ended_by_suspension(req)) {
                (Some(step), _) => step,
                (None, true) => "/login?done=suspended",
                (None, false) => "/login?done=expired",
            };
            return rocket::response::Redirect::to(to).respond_to(req);
        }
        if status.code >= 500 {
            tracing::error!(method = %req.method(), path = %req.uri().path(), status = status.code, "request failed");
        }
        // 431 (request headers over the limit) never gets here: hyper answers it itself, with no body,
        // before Rocket sees the request. 405 does not arise either: Rocket routes on method and path
        // together, so a method a path does not take is a 404.
        let code = Code::of_status(status);
        error_response(req, status, code, code.message(), serde_json::Value::Null)
    }
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    lang: i18n::Lang,
    product_name: &'a str,
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// An error page in the visitor's language. Known statuses have their own text; anything else shows
/// the error's own message.
pub fn error_page(req: &rocket::Request<'_>, status: Status, message: &str) -> String {
    let lang = i18n::Lang::of_request(req);
    let product_name = req
        .rocket()
        .state::<crate::config::Config>()
        .map_or("WhatsAPI Pro", |c| c.branding.product_name.as_str());
    let (title_key, text_key) = (
        format!("http.title_{}", status.code),
        format!("http.text_{}", status.code),
    );
    let title = match lang.t(&title_key) {
        key if key == title_key => status.reason().unwrap_or("Error"),
        title => title,
    };
    let message = match lang.t(&text_key) {
        key if key == text_key => message,
        text => text,
    };
    let page = ErrorPage {
        lang,
        product_name,
        status: status.code,
        title,
        message,
    };
    askama::Template::render(&page).unwrap_or_else(|_| escape(message))
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An owner's or admin's change to their account, written together with its line in the activity log;
/// `change` answers the line's detail (the key's name, the member's email).
pub(crate) async fn managed_change<F>(
    ctx: &context::Ctx<'_>,
    admin: &Admin<'_>,
    action: &'static str,
    change: F,
) -> crate::error::Result<()>
where
    F: FnOnce(&rusqlite::Connection, AccountId) -> crate::error::Result<String> + Send + 'static,
{
    let (account, user, client) = (admin.account, admin.user().id, ctx.client.clone());
    ctx.db
        .write_async(move |conn| {
            let detail = change(conn, account)?;
            let actor = client.actor(Some(account), Some(user));
            crate::store::activity::record(conn, &actor, action, &detail, now_ms())
        })
        .await
}
