//! `/profile/two-step`: turning two-step sign-in on (an authenticator app, confirmed with a first code, or
//! codes by SMS to the verified number), the recovery codes (shown once), and turning it off (the password
//! and a current code). A person whose account requires two-step sign-in and who has none is sent here by
//! every other page; a session past the password only never gets here.

use super::current_password_ok;
use crate::error::Result;
use crate::http::auth::{CsrfForm, Gate, Session, SettingUp};
use crate::http::web::context::Ctx;
use crate::http::web::page::{Page, render};
use crate::http::web::{CsrfOnly, Reply};
use crate::services::two_step::{self, Checked, Status as Factors};
use askama::Template;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{get, post, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![
        show,
        start_authenticator,
        confirm_authenticator,
        turn_on_sms,
        renew_recovery_codes,
        turn_off
    ]
}

#[derive(Template)]
#[template(path = "two_step.html")]
struct TwoStepPage<'a> {
    page: &'a Page,
    session: &'a Session,
    factors: Factors,
    /// Enrolling an authenticator: its QR code (an `<svg>` element) and its URI.
    enrolling: Option<(String, String)>,
    /// Recovery codes just made, shown this once.
    codes: Vec<String>,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

impl TwoStepPage<'_> {
    fn required(&self) -> bool {
        self.session.gate == Gate::Enrol && !self.factors.two_step.on()
    }

    fn recovery_left(&self) -> String {
        let left = self.page.number(&self.factors.recovery_codes_left);
        self.page
            .t("two_step.recovery_left")
            .replace("{left}", &left)
    }

    /// Sent here before anything else: the page offers signing out, as the menu is not shown.
    fn gated(&self) -> bool {
        self.required()
    }

    fn operator(&self) -> bool {
        self.session.user.account_id.is_none()
    }
}

csrf_form!(CodeForm { code });
csrf_form!(TurnOffForm { password, code });

/// What the page needs besides the person: what they have, and what to show this time.
struct Shown<'a> {
    enrolling: Option<(String, String)>,
    codes: Vec<String>,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

impl<'a> Shown<'a> {
    fn nothing() -> Shown<'a> {
        Shown {
            enrolling: None,
            codes: Vec::new(),
            notice: None,
            error: None,
        }
    }
}

async fn answer(
    ctx: &Ctx<'_>,
    session: &Session,
    status: Status,
    shown: Shown<'_>,
) -> Result<Reply> {
    let factors = two_step::status(ctx.db, &session.user).await?;
    let html = render(TwoStepPage {
        page: &ctx.page,
        session,
        factors,
        enrolling: shown.enrolling,
        codes: shown.codes,
        notice: shown.notice,
        error: shown.error,
    })?;
    Ok(Reply::Page((status, html)))
}

/// The words of a code that did not prove the second step: `wrong` for a wrong one.
fn refused_code<'p>(page: &'p Page, checked: Checked, wrong: &'p str) -> &'p str {
    match checked {
        Checked::NoTriesLeft => page.t("login_code.no_tries"),
        _ => page.t(wrong),
    }
}

#[get("/profile/two-step?<done>")]
async fn show(session: SettingUp<'_>, ctx: Ctx<'_>, done: Option<&str>) -> Result<Reply> {
    let SettingUp(session) = session;
    let notice = ctx.page.notice("two_step", done);
    let shown = Shown {
        notice: notice.as_deref(),
        ..Shown::nothing()
    };
    answer(&ctx, session, Status::Ok, shown).await
}

#[post("/profile/two-step/authenticator", data = "<_form>")]
async fn start_authenticator(
    _form: CsrfForm<CsrfOnly>,
    session: SettingUp<'_>,
    ctx: Ctx<'_>,
) -> Result<Reply> {
    let SettingUp(session) = session;
    let issuer = &ctx.config.branding.product_name;
    let Some(app) = two_step::start_authenticator(ctx.db, issuer, &session.user).await? else {
        return Ok(Reply::Redirect(Redirect::to("/profile/two-step")));
    };
    let shown = Shown {
        enrolling: Some((app.qr_svg(), app.uri())),
        ..Shown::nothing()
    };
    answer(&ctx, session, Status::Ok, shown).await
}

#[post("/profile/two-step/authenticator/confirm", data = "<form>")]
async fn confirm_authenticator(
    form: CsrfForm<CodeForm>,
    session: SettingUp<'_>,
    ctx: Ctx<'_>,
) -> Result<Reply> {
    let SettingUp(session) = session;
    let (db, issuer, user) = (
        ctx.db,
        ctx.config.branding.product_name.as_str(),
        &session.user,
    );
    let asker = ctx.asker();
    match two_step::confirm_authenticator(db, issuer, user, (&form.0.code, &asker)).await? {
        Some(codes) => {
            let shown = Shown {
                codes,
                notice: Some(ctx.page.t("two_step.enabled")),
                ..Shown::nothing()
            };
            answer(&ctx, session, Status::Ok, shown).await
        }
        None => {
            let app = two_step::pending_authenticator(db, issuer, user).await?;
            let shown = Shown {
                enrolling: app.map(|app| (app.qr_svg(), app.uri())),
                error: Some(ctx.page.t("two_step.wrong_code")),
                ..Shown::nothing()
            };
            answer(&ctx, session, Status::UnprocessableEntity, shown).await
        }
    }
}

#[post("/profile/two-step/sms", data = "<_form>")]
async fn turn_on_sms(
    _form: CsrfForm<CsrfOnly>,
    session: SettingUp<'_>,
    ctx: Ctx<'_>,
) -> Result<Reply> {
    let SettingUp(session) = session;
    let Some(codes) = two_step::turn_on_sms(ctx.db, &session.user, &ctx.asker()).await? else {
        let shown = Shown {
            error: Some(ctx.page.t("two_step.need_phone")),
            ..Shown::nothing()
        };
        return answer(&ctx, session, Status::UnprocessableEntity, shown).await;
    };
    let shown = Shown {
        codes,
        notice: Some(ctx.page.t("two_step.enabled")),
        ..Shown::nothing()
    };
    answer(&ctx, session, Status::Ok, shown).await
}

#[post("/profile/two-step/recovery", data = "<form>")]
async fn renew_recovery_codes(
    form: CsrfForm<CodeForm>,
    session: SettingUp<'_>,
    ctx: Ctx<'_>,
) -> Result<Reply> {
    let SettingUp(session) = session;
    let (db, issuer) = (ctx.db, ctx.config.branding.product_name.as_str());
    let asker = ctx.asker();
    match two_step::renew_recovery_codes(db, issuer, &session.user, (&form.0.code, &asker)).await? {
        Ok(codes) => {
            let shown = Shown {
                codes,
                ..Shown::nothing()
            };
            answer(&ctx, session, Status::Ok, shown).await
        }
        Err(checked) => {
            let shown = Shown {
                error: Some(refused_code(&ctx.page, checked, "two_step.wrong_code")),
                ..Shown::nothing()
            };
            answer(&ctx, session, Status::UnprocessableEntity, shown).await
        }
    }
}

#[post("/profile/two-step/disable", data = "<form>")]
async fn turn_off(
    form: CsrfForm<TurnOffForm>,
    session: SettingUp<'_>,
    ctx: Ctx<'_>,
) -> Result<Reply> {
    let SettingUp(session) = session;
    let (db, issuer, user) = (
        ctx.db,
        ctx.config.branding.product_name.as_str(),
        &session.user,
    );
    // The code is checked (and used up) only after the password; the answer does not say which was wrong.
    let asker = ctx.asker();
    let checked = match current_password_ok(ctx.auth, db, session, &form.0.password).await? {
        true => two_step::check(db, issuer, user, (&form.0.code, &asker)).await?,
        false => Checked::Wrong { left: 1 },
    };
    if !checked.proved() {
        let shown = Shown {
            error: Some(refused_code(
                &ctx.page,
                checked,
                "two_step.wrong_password_or_code",
            )),
            ..Shown::nothing()
        };
        return answer(&ctx, session, Status::UnprocessableEntity, shown).await;
    }
    two_step::turn_off(db, user, &asker).await?;
    Ok(Reply::Redirect(Redirect::to(
        "/profile/two-step?done=disabled",
    )))
}
