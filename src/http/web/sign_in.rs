//! Signing in and out, registering a business, choosing the language.

use super::context::Ctx;
use super::i18n::{self, Lang};
use super::page::{Page, render};
use super::{CsrfOnly, Reply};
use crate::config::Config;
use crate::domain::phone::MobileNumber;
use crate::error::{Error, Result};
use crate::http::auth::{AnySession, CsrfForm, HasCsrf, Session, session};
use crate::services::{passwords, sign_in_throttle, two_step};
use crate::store::accounts::{self, NewAccount};
use crate::store::rollups::Line;
use crate::store::sessions::Stage;
use crate::store::states::UsageEvent;
use crate::store::users::{self, NewUser, Role, User};
use crate::store::{Db, activity, holds, now_ms, sessions};
use askama::Template;
use rocket::form::FromForm;
use rocket::http::{CookieJar, Status};
use rocket::response::Redirect;
use rocket::{State, get, post, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![
        login_page,
        login,
        logout,
        register_page,
        register,
        set_language
    ]
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    page: &'a Page,
    email: &'a str,
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

#[get("/login?<done>")]
fn login_page(page: Page, done: Option<&str>) -> Result<Reply> {
    if page.signed_in() {
        return Ok(Reply::Redirect(Redirect::to("/")));
    }
    let notice = page.notice("login", done);
    // A session ended because the account is suspended: said as the refusal it is.
    let suspended = (done == Some("suspended")).then(|| page.t("login.done_suspended"));
    let html = render(LoginPage {
        page: &page,
        email: "",
        error: suspended,
        notice: notice.as_deref().filter(|_| suspended.is_none()),
    })?;
    Ok(Reply::Page((Status::Ok, html)))
}

#[derive(FromForm)]
struct LoginForm {
    #[field(default = String::new())]
    csrf: String,
    email: String,
    password: String,
}

impl HasCsrf for LoginForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/login", data = "<form>")]
async fn login(form: CsrfForm<LoginForm>, ctx: Ctx<'_>) -> Result<Reply> {
    let Ctx {
        page,
        client,
        auth,
        db,
        config,
        cookies,
        ..
    } = &ctx;
    let (db, config, client) = (*db, *config, client.clone());
    let form = form.0;
    let refuse = |status: Status, key: &str| -> Result<Reply> {
        let html = render(LoginPage {
            page,
            email: &form.email,
            error: Some(page.t(key)),
            notice: None,
        })?;
        Ok(Reply::Page((status, html)))
    };
    let now = now_ms();
    // Reserved before the hash: guesses sent all at once are refused here, before they cost one.
    let attempt = match sign_in_throttle::reserve(db, &form.email, &client, now).await? {
        Ok(attempt) => attempt,
        Err(limit) => {
            tracing::info!(limit = limit.name(), ip = %client.ip, "sign-in refused: too many attempts");
            return refuse(Status::TooManyRequests, "login.throttled");
        }
    };
    let email = form.email.trim().to_owned();
    let checked = async {
        let found = db
            .read_async(move |conn| users::find_credentials(conn, &email))
            .await?;
        // An unknown email costs the same hash as a wrong password, so timing does not tell which
        // emails exist.
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), hash),
            None => (None, passwords::DECOY_HASH.clone()),
        };
        let matches = auth.hasher.verify(&form.password, hash).await?;
        Ok::<_, Error>((user, matches))
    };
    let (user, matches) = match checked.await {
        Ok(checked) => checked,
        Err(e) => {
            // A failure of the server's is no guess: the attempt is not held against the person.
            let _ = attempt.released(db).await;
            return Err(e);
        }
    };
    let counted = |event| {
        if let Some(account) = user.as_ref().and_then(|u| u.account_id) {
            db.tally().add(Line::new(account, event, now));
        }
    };
    let user = match user.clone() {
        Some(user) if matches => user,
        typed => {
            counted(UsageEvent::SignInFailed);
            // Against the person whose email was typed, when there is one; never with what was typed.
            let (known, visitor) = (typed.map(|u| (u.account_id, u.id)), client.clone());
            attempt
                .failed(db, move |conn| match known {
                    Some((account, user)) => activity::record(
                        conn,
                        &visitor.actor(account, Some(user)),
                        "sign_in_failed",
                        "",
                        now,
                    ),
                    None => Ok(()),
                })
                .await?;
            return refuse(Status::Unauthorized, "login.wrong");
        }
    };
    // Told only to who knows the password; the right password is no guess held against the person.
    if let Some(account) = user.account_id
        && db
            .read_async(move |conn| holds::is_suspended(conn, account))
            .await?
    {
        attempt.released(db).await?;
        return refuse(Status::Forbidden, "login.suspended");
    }
    attempt.succeeded(db).await?;
    if user.two_step.on() {
        // The password is right; until a code is entered the session can take the second step only.
        session::start(db, config, cookies, (&user, Stage::SecondStep), &client).await?;
        return Ok(Reply::Redirect(Redirect::to("/login/code")));
    }
    finish(&ctx, &user).await
}

/// Signs `user` in for good, once every step they have is taken: a new whole session, the language they
/// chose, the activity log, and an email when the browser is new.
pub(super) async fn finish(ctx: &Ctx<'_>, user: &User) -> Result<Reply> {
    let Ctx {
        page,
        client,
        db,
        config,
        mailer,
        cookies,
        ..
    } = ctx;
    let now = now_ms();
    if let Some(account) = user.account_id {
        db.tally().add(Line::new(account, UsageEvent::SignIn, now));
    }
    session::start(db, config, cookies, (user, Stage::Full), client).await?;
    // A browser that has not chosen a language yet gets the one this person chose before.
    if cookies.get(i18n::LANG_COOKIE).is_none()
        && let Some(lang) = Lang::from_code(&user.locale)
    {
        i18n::set_cookie(cookies, lang, config.secure_cookies());
    }
    let (account, user_id, visitor) = (user.account_id, user.id, client.clone());
    // The browser is remembered and the alert claimed in one write, which the writer runs one at a time:
    // of many sign-ins from one new browser, exactly one finds it new.
    let alert = db
        .write_async(move |conn| {
            activity::record(
                conn,
                &visitor.actor(account, Some(user_id)),
                "signed_in",
                "",
                now,
            )?;
            if sessions::remember_browser(conn, user_id, &visitor.user_agent, now)? {
                return Ok(Alert::KnownBrowser);
            }
            Ok(if sessions::claim_alert(conn, user_id, now)? {
                Alert::Send
            } else {
                Alert::OverBudget
            })
        })
        .await?;
    match alert {
        Alert::KnownBrowser => {}
        Alert::Send => {
            let lang = Lang::from_code(&user.locale).unwrap_or(page.lang);
            crate::services::notify::new_sign_in(mailer, lang, &user.email, client).await;
        }
        Alert::OverBudget => tracing::warn!(
            user = user.id.get(),
            ip = %client.ip,
            "a new browser signed in; no email about it, {} were sent in the last hour",
            sessions::ALERTS_PER_HOUR
        ),
    }
    Ok(Reply::Redirect(Redirect::to("/")))
}

/// What a sign-in tells its person by email.
enum Alert {
    KnownBrowser,
    Send,
    /// A new browser, but this person got as many alerts as an hour allows.
    OverBudget,
}

/// Any session signs out, also one that has a step to take first.
#[post("/logout", data = "<_form>")]
async fn logout(
    _form: CsrfForm<CsrfOnly>,
    session: AnySession<'_>,
    ctx: Ctx<'_>,
) -> Result<Redirect> {
    let AnySession(session) = session;
    let (user, client) = (&session.user, ctx.client.clone());
    let (account, id) = (user.account_id, user.id);
    ctx.db
        .write_async(move |conn| {
            activity::record(
                conn,
                &client.actor(account, Some(id)),
                "signed_out",
                "",
                now_ms(),
            )
        })
        .await?;
    session::end(ctx.db, ctx.config, ctx.cookies, session).await?;
    Ok(Redirect::to("/login?done=signed_out"))
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage<'a> {
    page: &'a Page,
    form: &'a RegisterForm,
    /// `[accounts] verify_phone`: the form asks for a mobile number, verified right after.
    ask_phone: bool,
    error: Option<&'a str>,
}

#[derive(FromForm, Default)]
struct RegisterForm {
    #[field(default = String::new())]
    csrf: String,
    name: String,
    company: String,
    email: String,
    #[field(default = String::new())]
    password: String,
    #[field(default = false)]
    accept_privacy: bool,
    #[field(default = String::new())]
    phone: String,
}

impl HasCsrf for RegisterForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[get("/register")]
fn register_page(page: Page, config: &State<Config>) -> Result<Reply> {
    if !config.accounts.registration {
        return Err(Error::NotFound);
    }
    let form = <RegisterForm as Default>::default();
    Ok(Reply::Page((
        Status::Ok,
        render(RegisterPage {
            page: &page,
            form: &form,
            ask_phone: config.accounts.verify_phone,
            error: None,
        })?,
    )))
}

#[post("/register", data = "<form>")]
async fn register(form: CsrfForm<RegisterForm>, ctx: Ctx<'_>) -> Result<Reply> {
    let texts = ctx.state::<two_step::Texts>()?;
    let Ctx {
        page,
        client,
        auth,
        db,
        config,
        cookies,
        ..
    } = ctx;
    if !config.accounts.registration {
        return Err(Error::NotFound);
    }
    let mut form = form.0;
    let refuse = |form: &RegisterForm, message: &str| -> Result<Reply> {
        let html = render(RegisterPage {
            page: &page,
            form,
            ask_phone: config.accounts.verify_phone,
            error: Some(message),
        })?;
        Ok(Reply::Page((Status::UnprocessableEntity, html)))
    };
    if !form.accept_privacy {
        return refuse(&form, page.t("register.must_accept"));
    }
    if let Err(e) = users::normalize_email(&form.email)
        .and_then(|_| passwords::check_policy(&form.password, &form.email))
    {
        return refuse(&form, &page.error_text(&e));
    }
    let phone = match config.accounts.verify_phone {
        true => match MobileNumber::parse(&form.phone) {
            Ok(number) => Some(number),
            Err(why) => return refuse(&form, page.t(why.key())),
        },
        false => None,
    };
    let hash = auth.hasher.hash(&form.password).await?;
    form.password.clear();
    let (name, company, email, lang) = (
        form.name.clone(),
        form.company.clone(),
        form.email.clone(),
        page.lang,
    );
    let keyring_db = db.clone();
    let registrant = client.clone();
    let start = crate::services::billing::start(config, crate::store::now_ms());
    let created = db
        .write_async(move |conn| {
            let account = accounts::create(
                conn,
                keyring_db.keyring(),
                &NewAccount {
                    company,
                    start,
                    ..NewAccount::default()
                },
            )?;
            let new = NewUser {
                account_id: Some(account),
                role: Role::Owner,
                email: &email,
                name: &name,
                password_hash: &hash,
                locale: lang.code(),
            };
            users::admit(
                conn,
                &new,
                &registrant.actor(Some(account), None),
                "registered",
            )
        })
        .await;
    let user = match created {
        Ok(user) => user,
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_))) => {
            return refuse(&form, &page.error_text(&e));
        }
        Err(e) => return Err(e),
    };
    session::start(db, config, cookies, (&user, Stage::Full), &client).await?;
    if let Some(number) = phone {
        // The number is verified before anything else (the session's gate): the code goes out now.
        let sent = two_step::texts::ask_to_verify(texts, db, &user, &number, page.lang).await?;
        let to = match sent {
            two_step::Sent::Sent => "/profile/phone?sent=1",
            _ => "/profile/phone",
        };
        return Ok(Reply::Redirect(Redirect::to(to)));
    }
    Ok(Reply::Redirect(Redirect::to("/")))
}

#[derive(FromForm)]
struct LanguageForm {
    #[field(default = String::new())]
    csrf: String,
    lang: String,
    #[field(default = String::from("/"))]
    back: String,
}

impl HasCsrf for LanguageForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/language", data = "<form>")]
async fn set_language(
    form: CsrfForm<LanguageForm>,
    session: Option<&Session>,
    db: &State<Db>,
    config: &State<Config>,
    cookies: &CookieJar<'_>,
) -> Result<Redirect> {
    let form = form.0;
    let lang =
        Lang::from_code(&form.lang).ok_or_else(|| Error::invalid("lang", "unknown language"))?;
    i18n::set_cookie(cookies, lang, config.secure_cookies());
    if let Some(session) = session {
        let user = session.user.id;
        db.write_async(move |conn| users::set_locale(conn, user, lang.code()))
            .await?;
    }
    Ok(Redirect::to(local_path(&form.back)))
}

/// `back` if it is a path of this site, else the home page. Browsers read `/\host` and `/<tab>/host` as
/// another site, so only plain paths pass.
fn local_path(back: &str) -> String {
    let plain = back.starts_with('/')
        && !back.starts_with("//")
        && back.chars().all(|c| c.is_ascii_graphic() && c != '\\')
        && rocket::http::uri::Origin::parse(back).is_ok();
    if plain {
        back.to_owned()
    } else {
        "/".to_owned()
    }
}
