//! `/profile/phone`: a mobile number, verified with a 6-digit code sent to it by SMS, for codes by SMS and
//! nothing else. With `[accounts] verify_phone`, people of accounts are sent here until theirs is verified.

use super::current_password_ok;
use crate::domain::phone::MobileNumber;
use crate::error::Result;
use crate::http::auth::{CsrfForm, Gate, PastSecondStep, Session};
use crate::http::web::Reply;
use crate::http::web::context::Ctx;
use crate::http::web::i18n::normalise_digits;
use crate::http::web::page::{Page, render};
use crate::services::two_step::texts::{self, Entered};
use crate::services::two_step::{self, Sent, Texts};
use askama::Template;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{get, post, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![show, ask_code, verify, remove]
}

#[derive(Template)]
#[template(path = "phone.html")]
struct PhonePage<'a> {
    page: &'a Page,
    session: &'a Session,
    /// The number (masked) and whether it is verified.
    phone: Option<(String, bool)>,
    /// A code was just sent: the form to enter it comes first.
    code_sent: bool,
    typed: &'a str,
    notice: Option<&'a str>,
    error: Option<String>,
}

impl PhonePage<'_> {
    fn required(&self) -> bool {
        self.session.gate == Gate::VerifyPhone
    }

    fn gated(&self) -> bool {
        self.session.gate != Gate::Open
    }
}

#[derive(rocket::form::FromForm)]
struct NumberForm {
    #[field(default = String::new())]
    csrf: String,
    phone: String,
    /// Asked when a verified number would be replaced: it may be a second step.
    #[field(default = String::new())]
    password: String,
}

impl crate::http::auth::HasCsrf for NumberForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}
csrf_form!(CodeForm { code });
csrf_form!(PasswordForm { password });

/// What to show besides the person's number.
#[derive(Default)]
struct Shown<'a> {
    code_sent: bool,
    typed: &'a str,
    notice: Option<&'a str>,
    error: Option<String>,
}

async fn answer(
    ctx: &Ctx<'_>,
    session: &Session,
    status: Status,
    shown: Shown<'_>,
) -> Result<Reply> {
    let phone = two_step::status(ctx.db, &session.user).await?.phone;
    let html = render(PhonePage {
        page: &ctx.page,
        session,
        phone,
        code_sent: shown.code_sent,
        typed: shown.typed,
        notice: shown.notice,
        error: shown.error,
    })?;
    Ok(Reply::Page((status, html)))
}

/// The page again, saying the password is not right (replacing or removing a number takes it).
async fn wrong_password(ctx: &Ctx<'_>, session: &Session) -> Result<Reply> {
    let shown = Shown {
        error: Some(ctx.page.t("phone.wrong_password").to_owned()),
        ..Shown::default()
    };
    answer(ctx, session, Status::UnprocessableEntity, shown).await
}

#[get("/profile/phone?<sent>&<done>")]
async fn show(
    session: PastSecondStep<'_>,
    ctx: Ctx<'_>,
    sent: Option<&str>,
    done: Option<&str>,
) -> Result<Reply> {
    let PastSecondStep(session) = session;
    let notice = match sent {
        Some(_) => Some(ctx.page.t("phone.code_sent").to_owned()),
        None => ctx.page.notice("phone", done),
    };
    let shown = Shown {
        code_sent: sent.is_some(),
        notice: notice.as_deref(),
        ..Shown::default()
    };
    answer(&ctx, session, Status::Ok, shown).await
}

/// Sends a code to the number typed, within the resend limits.
#[post("/profile/phone", data = "<form>")]
async fn ask_code(
    form: CsrfForm<NumberForm>,
    session: PastSecondStep<'_>,
    ctx: Ctx<'_>,
) -> Result<Reply> {
    let PastSecondStep(session) = session;
    let typed = form.0.phone.as_str();
    let refuse = |error: String| Shown {
        typed,
        error: Some(error),
        ..Shown::default()
    };
    let number = match MobileNumber::parse(typed) {
        Ok(number) => number,
        Err(why) => {
            let shown = refuse(ctx.page.t(why.key()).to_owned());
            return answer(&ctx, session, Status::UnprocessableEntity, shown).await;
        }
    };
    // Codes for signing in go to a verified number: only who knows the password moves them elsewhere.
    let verified = matches!(
        two_step::status(ctx.db, &session.user).await?.phone,
        Some((_, true))
    );
    if verified && !current_password_ok(ctx.auth, ctx.db, session, &form.0.password).await? {
        return wrong_password(&ctx, session).await;
    }
    let texts = ctx.state::<Texts>()?;
    let (status, error) =
        match texts::ask_to_verify(texts, ctx.db, &session.user, &number, ctx.page.lang).await? {
            Sent::Sent => return Ok(Reply::Redirect(Redirect::to("/profile/phone?sent=1"))),
            Sent::Wait(ms) => {
                let seconds = ctx.page.number(&((ms + 999) / 1000));
                (
                    Status::TooManyRequests,
                    ctx.page.t("phone.wait").replace("{seconds}", &seconds),
                )
            }
            Sent::Failed => (Status::BadGateway, ctx.page.t("phone.failed").to_owned()),
            Sent::NoGateway => (
                Status::ServiceUnavailable,
                ctx.page.t("phone.no_gateway").to_owned(),
            ),
        };
    answer(&ctx, session, status, refuse(error)).await
}

#[post("/profile/phone/verify", data = "<form>")]
async fn verify(
    form: CsrfForm<CodeForm>,
    session: PastSecondStep<'_>,
    ctx: Ctx<'_>,
) -> Result<Reply> {
    let PastSecondStep(session) = session;
    let code: String = normalise_digits(&form.0.code)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let error = match texts::verify(ctx.db, &session.user, &code, &ctx.asker()).await? {
        Entered::Right(_) => {
            return Ok(Reply::Redirect(Redirect::to(
                "/profile/phone?done=verified",
            )));
        }
        Entered::Wrong { left } => ctx
            .page
            .t("phone.wrong")
            .replace("{left}", &ctx.page.number(&left)),
        Entered::NeedNew => ctx.page.t("phone.need_new").to_owned(),
    };
    let shown = Shown {
        code_sent: true,
        error: Some(error),
        ..Shown::default()
    };
    answer(&ctx, session, Status::UnprocessableEntity, shown).await
}

#[post("/profile/phone/remove", data = "<form>")]
async fn remove(
    form: CsrfForm<PasswordForm>,
    session: PastSecondStep<'_>,
    ctx: Ctx<'_>,
) -> Result<Reply> {
    let PastSecondStep(session) = session;
    if !current_password_ok(ctx.auth, ctx.db, session, &form.0.password).await? {
        return wrong_password(&ctx, session).await;
    }
    two_step::remove_phone(ctx.db, &session.user, &ctx.asker()).await?;
    Ok(Reply::Redirect(Redirect::to("/profile/phone?done=removed")))
}
