//! Forgotten passwords: a single-use link by email, valid 30 minutes. The form answers the same whether
//! or not the address has an account, so it cannot be used to find out who is registered.

use super::Reply;
use super::context::Ctx;
use super::page::{Page, render};
use crate::error::Result;
use crate::http::auth::CsrfForm;
use crate::http::web::i18n::Lang;
use crate::services::{passwords, two_step};
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
    routes![
        forgot_page,
        request_reset,
        reset_page,
        reset_password,
        send_reset_sms
    ]
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

#[derive(rocket::form::FromForm)]
struct ResetForm {
    #[field(default = String::new())]
    csrf: String,
    password: String,
    /// The second step, for a person who has two-step sign-in on.
    #[field(default = String::new())]
    code: String,
}

impl crate::http::auth::HasCsrf for ResetForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

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
    /// The person has two-step sign-in: the form asks for a code too (`Some(true)`: SMS is one of them).
    second_step: Option<bool>,
    notice: Option<String>,
    error: Option<&'a str>,
}

/// The person a live reset link is for.
async fn person_of(db: &Db, token: &str) -> Result<Option<users::User>> {
    let lookup = token.to_owned();
    db.read_async(move |conn| {
        let Some(found) = tokens::peek(conn, Purpose::PasswordReset, &lookup, now_ms())? else {
            return Ok(None);
        };
        Ok(match found.user_id {
            Some(id) => users::find(conn, id)?,
            None => None,
        })
    })
    .await
}

fn second_step_of(user: &users::User) -> Option<bool> {
    user.two_step.on().then_some(user.two_step.sms)
}

#[get("/reset-password/<token>?<sent>")]
async fn reset_page(token: &str, page: Page, db: &State<Db>, sent: Option<&str>) -> Result<Reply> {
    let Some(user) = person_of(db, token).await? else {
        return super::expired_link(&page);
    };
    let notice = super::sign_in_code::sent_words(&page, sent);
    Ok(Reply::Page((
        Status::Ok,
        render(ResetPage {
            page: &page,
            token,
            second_step: second_step_of(&user),
            notice,
            error: None,
        })?,
    )))
}

/// Sends the person of a reset link a code by SMS for its second step.
#[post("/reset-password/<token>/sms", data = "<_form>")]
async fn send_reset_sms(
    token: &str,
    _form: CsrfForm<super::CsrfOnly>,
    ctx: Ctx<'_>,
) -> Result<Reply> {
    let Some(user) = person_of(ctx.db, token).await? else {
        return super::expired_link(&ctx.page);
    };
    if !user.two_step.sms {
        return Ok(Reply::Redirect(Redirect::to(format!(
            "/reset-password/{token}"
        ))));
    }
    let texts = ctx.state::<two_step::Texts>()?;
    let sent = two_step::send_sign_in_code(texts, ctx.db, &user, ctx.page.lang).await?;
    let outcome = match sent {
        two_step::Sent::Sent => "1",
        two_step::Sent::Wait(_) => "wait",
        two_step::Sent::Failed | two_step::Sent::NoGateway => "failed",
    };
    Ok(Reply::Redirect(Redirect::to(format!(
        "/reset-password/{token}?sent={outcome}"
    ))))
}

#[post("/reset-password/<token>", data = "<form>")]
async fn reset_password(token: &str, form: CsrfForm<ResetForm>, ctx: Ctx<'_>) -> Result<Reply> {
    let Ctx {
        page,
        client,
        auth,
        db,
        config,
        mailer,
        ..
    } = ctx;
    let Some(person) = person_of(db, token).await? else {
        return super::expired_link(&page);
    };
    let refuse = |message: &str| -> Result<Reply> {
        let html = render(ResetPage {
            page: &page,
            token,
            second_step: second_step_of(&person),
            notice: None,
            error: Some(message),
        })?;
        Ok(Reply::Page((Status::UnprocessableEntity, html)))
    };
    if let Err(e) = passwords::check_policy(&form.0.password, &person.email) {
        return refuse(&page.error_text(&e));
    }
    // A reset link proves the mailbox, not the second step: with two-step sign-in on, a code is needed
    // too (its tries counted with the person's others), and without a right one the password stays (the
    // link keeps working).
    if person.two_step.on() {
        let issuer = &config.branding.product_name;
        let asker = two_step::Asker {
            client: &client,
            mailer,
            lang: page.lang,
        };
        match two_step::check(db, issuer, &person, (&form.0.code, &asker)).await? {
            two_step::Checked::Proved(_) => {}
            two_step::Checked::NoTriesLeft => return refuse(page.t("login_code.no_tries")),
            two_step::Checked::Wrong { .. } => return refuse(page.t("reset_code.wrong")),
        }
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
