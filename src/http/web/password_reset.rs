//! Forgotten passwords: a single-use link by email, valid 30 minutes. The form answers the same whether
//! or not the address has an account, so it cannot be used to find out who is registered.

use super::Reply;
use super::context::Ctx;
use super::page::{Page, render};
use crate::error::Result;
use crate::http::auth::CsrfForm;
use crate::http::web::i18n::Lang;
use crate::services::passwords;
use crate::store::activity;
use crate::store::tokens::{self, NewToken, Purpose};
use crate::store::{Db, now_ms, sessions, users};
use askama::Template;
use parking_lot::Mutex;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{State, get, post, routes};
use std::collections::HashMap;

const RESET_TTL_MS: i64 = 30 * 60 * 1000;
/// Reset emails per address per hour: enough for a person who lost one, too few to flood a mailbox.
const EMAILS_PER_HOUR: usize = 3;

pub fn routes() -> Vec<rocket::Route> {
    routes![forgot_page, request_reset, reset_page, reset_password]
}

/// When reset emails were last sent, per address (in memory: a restart only forgives a few).
#[derive(Default)]
pub struct ResetEmails(Mutex<HashMap<String, Vec<i64>>>);

impl ResetEmails {
    fn allow(&self, email: &str, now: i64) -> bool {
        let mut sent = self.0.lock();
        sent.retain(|_, times| times.iter().any(|t| *t > now - 3_600_000));
        let times = sent.entry(email.to_lowercase()).or_default();
        times.retain(|t| *t > now - 3_600_000);
        if times.len() >= EMAILS_PER_HOUR {
            return false;
        }
        times.push(now);
        true
    }
}

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage<'a> {
    page: &'a Page,
    sent: bool,
}

#[get("/forgot-password")]
fn forgot_page(page: Page) -> Result<Reply> {
    Ok(Reply::Page((
        Status::Ok,
        render(ForgotPage {
            page: &page,
            sent: false,
        })?,
    )))
}

csrf_form!(ForgotForm { email });
csrf_form!(ResetForm { password });

#[post("/forgot-password", data = "<form>")]
async fn request_reset(
    form: CsrfForm<ForgotForm>,
    ctx: Ctx<'_>,
    sent: &State<ResetEmails>,
) -> Result<Reply> {
    let Ctx {
        page,
        db,
        config,
        mailer,
        ..
    } = ctx;
    let email = form.0.email.trim().to_owned();
    let now = now_ms();
    let answer = Reply::Page((
        Status::Ok,
        render(ForgotPage {
            page: &page,
            sent: true,
        })?,
    ));
    // Counted per address asked for, before anything changes, so a flood neither mails nor revokes links.
    if !sent.allow(&email, now) {
        return Ok(answer);
    }
    let token = tokens::generate()?;
    let stored = token.clone();
    let lookup = email.clone();
    let user = db
        .write_async(move |conn| {
            let Some(user) = users::find_by_email(conn, &lookup)? else {
                return Ok(None);
            };
            // A new link replaces every older one.
            tokens::revoke_for_user(conn, Purpose::PasswordReset, user.id, now)?;
            let new = NewToken {
                purpose: Purpose::PasswordReset,
                account_id: user.account_id,
                user_id: Some(user.id),
                email: &user.email,
                role: "",
                now,
                ttl_ms: RESET_TTL_MS,
            };
            tokens::insert(conn, &stored, &new)?;
            Ok(Some(user))
        })
        .await?;
    if let Some(user) = user {
        let link = format!("{}/reset-password/{token}", config.server.public_url);
        let lang = Lang::from_code(&user.locale).unwrap_or(page.lang);
        crate::services::notify::password_reset_link(mailer, lang, &user.email, &link).await;
    }
    Ok(answer)
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage<'a> {
    page: &'a Page,
    token: &'a str,
    error: Option<&'a str>,
}

#[get("/reset-password/<token>")]
async fn reset_page(token: &str, page: Page, db: &State<Db>) -> Result<Reply> {
    let lookup = token.to_owned();
    let valid = db
        .read_async(move |conn| tokens::peek(conn, Purpose::PasswordReset, &lookup, now_ms()))
        .await?;
    if valid.is_none() {
        return super::expired_link(&page);
    }
    Ok(Reply::Page((
        Status::Ok,
        render(ResetPage {
            page: &page,
            token,
            error: None,
        })?,
    )))
}

#[post("/reset-password/<token>", data = "<form>")]
async fn reset_password(token: &str, form: CsrfForm<ResetForm>, ctx: Ctx<'_>) -> Result<Reply> {
    let Ctx {
        page,
        client,
        auth,
        db,
        mailer,
        ..
    } = ctx;
    let lookup = token.to_owned();
    let Some(found) = db
        .read_async(move |conn| tokens::peek(conn, Purpose::PasswordReset, &lookup, now_ms()))
        .await?
    else {
        return super::expired_link(&page);
    };
    if let Err(e) = passwords::check_policy(&form.0.password, &found.email) {
        let message = page.error_text(&e);
        let html = render(ResetPage {
            page: &page,
            token,
            error: Some(&message),
        })?;
        return Ok(Reply::Page((Status::UnprocessableEntity, html)));
    }
    let hash = auth.hasher.hash(&form.0.password).await?;
    let (token, actor_client) = (token.to_owned(), client.clone());
    let user = db
        .write_async(move |conn| {
            let now = now_ms();
            // Consumed with the change in one transaction: the link works exactly once.
            let Some(found) = tokens::consume(conn, Purpose::PasswordReset, &token, now)? else {
                return Ok(None);
            };
            let Some(user) = found
                .user_id
                .map(|id| users::find(conn, id))
                .transpose()?
                .flatten()
            else {
                return Ok(None);
            };
            users::set_password(conn, user.id, &hash)?;
            // Whoever knew the old password is signed out everywhere.
            sessions::delete_others(conn, user.id, None)?;
            let actor = actor_client.actor(user.account_id, Some(user.id));
            activity::record(conn, &actor, "password_reset", "", now)?;
            Ok(Some(user))
        })
        .await?;
    let Some(user) = user else {
        return super::expired_link(&page);
    };
    let lang = Lang::from_code(&user.locale).unwrap_or(page.lang);
    crate::services::notify::password_changed(mailer, lang, &user.email, &client).await;
    Ok(Reply::Redirect(Redirect::to("/login?done=password_reset")))
}
