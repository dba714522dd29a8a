//! The second step of signing in: after the password, a code from the authenticator app, one sent by SMS,
//! or a recovery code. Only a session past the password (and nothing else) gets here; a right code
//! replaces it with a whole session under a new id, five wrong ones end it.

use super::context::Ctx;
use super::page::{Page, render};
use super::{CsrfOnly, Reply};
use crate::domain::two_step::SESSION_CODE_ATTEMPTS;
use crate::error::Result;
use crate::http::auth::{AnySession, CsrfForm, Gate, session};
use crate::services::two_step::{self, Proved, Sent, Texts};
use crate::store::{activity, now_ms, sessions};
use askama::Template;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{get, post, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![code_page, enter_code, send_sms]
}

#[derive(Template)]
#[template(path = "login_code.html")]
struct CodePage<'a> {
    page: &'a Page,
    authenticator: bool,
    sms: bool,
    notice: Option<String>,
    error: Option<&'a str>,
}

csrf_form!(CodeForm { code });

/// The words for what came of asking for a code by SMS (`?sent=`), in the page's language.
fn sent_words(page: &Page, sent: Option<&str>, key_area: &str) -> Option<String> {
    let key = match sent? {
        "1" => "sent",
        "wait" => "wait",
        "failed" => "failed",
        _ => return None,
    };
    Some(
        page.t(&format!("{key_area}.{key}"))
            .replace("{seconds}", &page.number(&30)),
    )
}

fn code_page_html(
    page: &Page,
    session: &session::Session,
    notice: Option<String>,
    error: Option<&str>,
) -> Result<rocket::response::content::RawHtml<String>> {
    render(CodePage {
        page,
        authenticator: session.user.two_step.authenticator,
        sms: session.user.two_step.sms,
        notice,
        error,
    })
}

#[get("/login/code?<sent>")]
fn code_page(session: AnySession<'_>, page: Page, sent: Option<&str>) -> Result<Reply> {
    let AnySession(session) = session;
    if session.gate != Gate::SecondStep {
        return Ok(Reply::Redirect(Redirect::to("/")));
    }
    let notice = sent_words(&page, sent, "login_code");
    let html = code_page_html(&page, session, notice, None)?;
    Ok(Reply::Page((Status::Ok, html)))
}

#[post("/login/code", data = "<form>")]
async fn enter_code(
    form: CsrfForm<CodeForm>,
    session: AnySession<'_>,
    ctx: Ctx<'_>,
) -> Result<Reply> {
    let AnySession(session) = session;
    if session.gate != Gate::SecondStep {
        return Ok(Reply::Redirect(Redirect::to("/")));
    }
    let (db, issuer) = (ctx.db, ctx.config.branding.product_name.as_str());
    let user = &session.user;
    match two_step::check(db, issuer, user, &form.0.code).await? {
        Some(proved) => {
            if proved == Proved::RecoveryCode {
                let from = (ctx.client.ip.as_str(), ctx.client.user_agent.as_str());
                two_step::record_recovery_code_used(db, user, from).await?;
                let lang =
                    crate::domain::lang::Lang::from_code(&user.locale).unwrap_or(ctx.page.lang);
                crate::services::notify::sign_in_change(
                    ctx.mailer,
                    lang,
                    &user.email,
                    "recovery_code_used",
                    &ctx.client,
                )
                .await;
            }
            super::sign_in::finish(&ctx, user).await
        }
        None => {
            let (id_hash, account, id, client) = (
                session.id_hash.clone(),
                user.account_id,
                user.id,
                ctx.client.clone(),
            );
            let failed = db
                .write_async(move |conn| {
                    let failed = sessions::count_failed_code(conn, &id_hash)?;
                    if failed >= SESSION_CODE_ATTEMPTS {
                        sessions::delete(conn, &id_hash)?;
                        activity::record(
                            conn,
                            &client.actor(account, Some(id)),
                            "sign_in_failed",
                            "code",
                            now_ms(),
                        )?;
                    }
                    Ok(failed)
                })
                .await?;
            if failed >= SESSION_CODE_ATTEMPTS {
                session::end(ctx.db, ctx.config, ctx.cookies, session).await?;
                return Ok(Reply::Redirect(Redirect::to("/login?done=code_attempts")));
            }
            let html = code_page_html(
                &ctx.page,
                session,
                None,
                Some(ctx.page.t("login_code.wrong")),
            )?;
            Ok(Reply::Page((Status::Unauthorized, html)))
        }
    }
}

#[post("/login/code/sms", data = "<_form>")]
async fn send_sms(
    _form: CsrfForm<CsrfOnly>,
    session: AnySession<'_>,
    ctx: Ctx<'_>,
) -> Result<Redirect> {
    let AnySession(session) = session;
    if session.gate != Gate::SecondStep || !session.user.two_step.sms {
        return Ok(Redirect::to("/"));
    }
    let texts = ctx.state::<Texts>()?;
    let sent = two_step::send_sign_in_code(texts, ctx.db, &session.user, ctx.page.lang).await?;
    Ok(Redirect::to(match sent {
        Sent::Sent => "/login/code?sent=1",
        Sent::Wait(_) => "/login/code?sent=wait",
        Sent::Failed | Sent::NoGateway => "/login/code?sent=failed",
    }))
}
