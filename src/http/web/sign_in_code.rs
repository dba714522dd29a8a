//! The second step of signing in: after the password, a code from the authenticator app, one sent by SMS,
//! or a recovery code. Only a session past the password (and nothing else) gets here; a right code
//! replaces it with a whole session under a new id; when the person's tries of the window are used up
//! (`store::two_step::CODE_TRIES`, counted across sessions), it ends and the password is asked again.

use super::context::Ctx;
use super::page::{Page, render};
use super::{CsrfOnly, Reply};
use crate::error::Result;
use crate::http::auth::{AnySession, CsrfForm, Gate, session};
use crate::services::two_step::{self, Checked, Sent, Texts};
use crate::store::{activity, now_ms};
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

/// What came of asking for a code by SMS, as the `sent` parameter of the page redirected to.
pub(super) fn sent_query(sent: Sent) -> &'static str {
    match sent {
        Sent::Sent => "1",
        Sent::Wait(_) => "wait",
        Sent::Failed | Sent::NoGateway => "failed",
    }
}

/// The words for a `sent` parameter, in the page's language.
pub(super) fn sent_words(page: &Page, sent: Option<&str>) -> Option<String> {
    let key = match sent? {
        "1" => "login_code.sent",
        "wait" => "login_code.wait",
        _ => "login_code.failed",
    };
    Some(page.t(key).replace("{seconds}", &page.number(&30)))
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
    let notice = sent_words(&page, sent);
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
    let asker = ctx.asker();
    let left = match two_step::check(db, issuer, user, (&form.0.code, &asker)).await? {
        Checked::Proved(_) => return super::sign_in::finish(&ctx, user).await,
        Checked::Wrong { left } => left,
        Checked::NoTriesLeft => 0,
    };
    if left == 0 {
        // The tries of the window are used up: this session ends, and the password is asked again.
        let (account, id, client) = (user.account_id, user.id, ctx.client.clone());
        db.write_async(move |conn| {
            let actor = client.actor(account, Some(id));
            activity::record(conn, &actor, "sign_in_failed", "code", now_ms())
        })
        .await?;
        session::end(db, ctx.config, ctx.cookies, session).await?;
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
    Ok(Redirect::to(format!(
        "/login/code?sent={}",
        sent_query(sent)
    )))
}
