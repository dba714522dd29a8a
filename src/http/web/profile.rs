//! The signed-in person's own data (the privacy policy's rights of access and correction): name, email,
//! company details, password, and the sessions signed in with this account.

use super::context::Ctx;
use super::page::{Page, render};
use super::{CsrfOnly, Reply};
use crate::error::{Error, Result};
use crate::http::auth::{Admin, Auth, ClientInfo, CsrfForm, Session};
use crate::services::passwords;
use crate::store::accounts::{self, Account};
use crate::store::activity;
use crate::store::sessions::{self, SessionInfo};
use crate::store::tokens::{self, NewToken, Purpose};
use crate::store::{Db, now_ms, users};
use askama::Template;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{State, get, post, routes};

mod phone;
mod privacy;
mod two_step;

const EMAIL_CHANGE_TTL_MS: i64 = 24 * 3_600_000;

pub fn routes() -> Vec<rocket::Route> {
    let mut all = routes![
        show_profile,
        update_name,
        update_company,
        change_password,
        request_email_change,
        confirm_email_page,
        confirm_email,
        revoke_session,
        revoke_other_sessions
    ];
    all.extend(privacy::routes());
    all.extend(phone::routes());
    all.extend(two_step::routes());
    all
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage<'a> {
    page: &'a Page,
    account: Option<Account>,
    sessions: Vec<SessionInfo>,
    current: String,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

async fn profile_page(
    page: &Page,
    session: &Session,
    db: &Db,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<String> {
    let (user, account) = (session.user.id, session.user.account_id);
    let (sessions, account) = db
        .read_async(move |conn| {
            let account = match account {
                Some(id) => accounts::find(conn, id)?,
                None => None,
            };
            Ok((sessions::list_for_user(conn, user)?, account))
        })
        .await?;
    let current = hex::encode(&session.id_hash[..8]);
    let html = render(ProfilePage {
        page,
        account,
        sessions,
        current,
        notice,
        error,
    })?;
    Ok(html.0)
}

#[get("/profile?<done>")]
async fn show_profile(
    page: Page,
    session: &Session,
    db: &State<Db>,
    done: Option<&str>,
) -> Result<Reply> {
    let notice = page.notice("profile", done);
    let html = profile_page(&page, session, db, notice.as_deref(), None).await?;
    Ok(Reply::Page((
        Status::Ok,
        rocket::response::content::RawHtml(html),
    )))
}

async fn refuse(page: &Page, session: &Session, db: &Db, error: &Error) -> Result<Reply> {
    let message = page.error_text(error);
    let html = profile_page(page, session, db, None, Some(&message)).await?;
    Ok(Reply::Page((
        Status::UnprocessableEntity,
        rocket::response::content::RawHtml(html),
    )))
}

csrf_form!(NameForm { name });
csrf_form!(CompanyForm {
    company,
    country,
    phone
});
csrf_form!(PasswordForm {
    current_password,
    new_password
});
csrf_form!(EmailForm {
    email,
    current_password
});

#[post("/profile/name", data = "<form>")]
async fn update_name(
    form: CsrfForm<NameForm>,
    page: Page,
    session: &Session,
    client: ClientInfo,
    db: &State<Db>,
) -> Result<Reply> {
    let (user, account, name) = (session.user.id, session.user.account_id, form.0.name);
    let result = db
        .write_async(move |conn| {
            users::set_name(conn, user, &name)?;
            activity::record(
                conn,
                &client.actor(account, Some(user)),
                "profile_name_changed",
                "",
                now_ms(),
            )
        })
        .await;
    match result {
        Ok(()) => Ok(Reply::Redirect(Redirect::to("/profile?done=saved"))),
        Err(e @ Error::Invalid { .. }) => refuse(&page, session, db, &e).await,
        Err(e) => Err(e),
    }
}

#[post("/profile/company", data = "<form>")]
async fn update_company(
    form: CsrfForm<CompanyForm>,
    ctx: Ctx<'_>,
    admin: Admin<'_>,
) -> Result<Reply> {
    let (account, user, client, db) = (admin.account, admin.user().id, ctx.client, ctx.db);
    let form = form.0;
    let result = db
        .write_async(move |conn| {
            accounts::update_details(conn, account, &form.company, &form.country, &form.phone)?;
            let actor = client.actor(Some(account), Some(user));
            activity::record(conn, &actor, "company_details_changed", "", now_ms())
        })
        .await;
    match result {
        Ok(()) => Ok(Reply::Redirect(Redirect::to("/profile?done=saved"))),
        Err(e @ Error::Invalid { .. }) => refuse(&ctx.page, admin.session, db, &e).await,
        Err(e) => Err(e),
    }
}

/// Checks the current password, for changes that must be confirmed by it.
async fn current_password_ok(
    auth: &Auth,
    db: &Db,
    session: &Session,
    password: &str,
) -> Result<bool> {
    let user = session.user.id;
    let hash = db
        .read_async(move |conn| users::password_hash(conn, user))
        .await?;
    auth.hasher.verify(password, hash).await
}

#[post("/profile/password", data = "<form>")]
async fn change_password(
    form: CsrfForm<PasswordForm>,
    ctx: Ctx<'_>,
    session: &Session,
) -> Result<Reply> {
    let Ctx {
        page,
        client,
        auth,
        db,
        mailer,
        ..
    } = ctx;
    let form = form.0;
    if !current_password_ok(auth, db, session, &form.current_password).await? {
        return refuse(
            &page,
            session,
            db,
            &Error::invalid("current_password", "the current password is not right"),
        )
        .await;
    }
    if let Err(e) = passwords::check_policy(&form.new_password, &session.user.email) {
        return refuse(&page, session, db, &e).await;
    }
    let hash = auth.hasher.hash(&form.new_password).await?;
    let (user, keep, actor_client) = (session.user.id, session.id_hash.clone(), client.clone());
    let account = session.user.account_id;
    db.write_async(move |conn| {
        users::set_password(conn, user, &hash)?;
        // Whoever else was signed in with the old password is signed out.
        sessions::delete_others(conn, user, Some(&keep))?;
        activity::record(
            conn,
            &actor_client.actor(account, Some(user)),
            "password_changed",
            "",
            now_ms(),
        )
    })
    .await?;
    let lang = page.lang;
    crate::services::notify::password_changed(mailer, lang, &session.user.email, &client).await;
    Ok(Reply::Redirect(Redirect::to("/profile?done=password")))
}

#[post("/profile/email", data = "<form>")]
async fn request_email_change(
    form: CsrfForm<EmailForm>,
    ctx: Ctx<'_>,
    session: &Session,
) -> Result<Reply> {
    let Ctx {
        page,
        client,
        auth,
        db,
        config,
        mailer,
        ..
    } = ctx;
    let form = form.0;
    let new_email = match users::normalize_email(&form.email) {
        Ok(email) => email,
        Err(e) => return refuse(&page, session, db, &e).await,
    };
    if !current_password_ok(auth, db, session, &form.current_password).await? {
        return refuse(
            &page,
            session,
            db,
            &Error::invalid("current_password", "the current password is not right"),
        )
        .await;
    }
    let token = tokens::generate()?;
    let (user, account, stored_token, email) = (
        session.user.id,
        session.user.account_id,
        token.clone(),
        new_email.clone(),
    );
    db.write_async(move |conn| {
        let now = now_ms();
        // Recorded whether or not the address is taken, so the log does not tell either.
        let actor = client.actor(account, Some(user));
        activity::record(conn, &actor, "email_change_requested", "", now)?;
        if users::find_by_email(conn, &email)?.is_some() {
            return Ok(());
        }
        tokens::revoke_for_user(conn, Purpose::EmailChange, user, now)?;
        let new = NewToken {
            purpose: Purpose::EmailChange,
            account_id: account,
            user_id: Some(user),
            email: &email,
            role: "",
            now,
            ttl_ms: EMAIL_CHANGE_TTL_MS,
        };
        tokens::insert(conn, &stored_token, &new)
    })
    .await?;
    // The same answer whether or not the address is taken, so the form does not reveal who has an account.
    let link = format!("{}/confirm-email/{token}", config.server.public_url);
    crate::services::notify::confirm_email(mailer, page.lang, &new_email, &link).await;
    crate::services::notify::email_change_requested(
        mailer,
        page.lang,
        &session.user.email,
        &new_email,
    )
    .await;
    Ok(Reply::Redirect(Redirect::to("/profile?done=email_sent")))
}

#[derive(Template)]
#[template(path = "confirm_email.html")]
struct ConfirmEmailPage<'a> {
    page: &'a Page,
    token: &'a str,
    email: &'a str,
}

#[get("/confirm-email/<token>")]
async fn confirm_email_page(token: &str, page: Page, db: &State<Db>) -> Result<Reply> {
    let lookup = token.to_owned();
    let found = db
        .read_async(move |conn| tokens::peek(conn, Purpose::EmailChange, &lookup, now_ms()))
        .await?;
    match found {
        Some(found) => {
            let html = render(ConfirmEmailPage {
                page: &page,
                token,
                email: &found.email,
            })?;
            Ok(Reply::Page((Status::Ok, html)))
        }
        None => super::expired_link(&page),
    }
}

#[post("/confirm-email/<token>", data = "<_form>")]
async fn confirm_email(
    token: &str,
    _form: CsrfForm<CsrfOnly>,
    page: Page,
    client: ClientInfo,
    db: &State<Db>,
) -> Result<Reply> {
    let token = token.to_owned();
    let changed = db
        .write_async(move |conn| {
            let Some(found) = tokens::consume(conn, Purpose::EmailChange, &token, now_ms())? else {
                return Ok(false);
            };
            let user = found.user_id.ok_or(Error::NotFound)?;
            users::set_email(conn, user, &found.email)?;
            let actor = client.actor(found.account_id, Some(user));
            activity::record(conn, &actor, "email_changed", "", now_ms())?;
            Ok(true)
        })
        .await?;
    if changed {
        Ok(Reply::Redirect(Redirect::to("/profile?done=email_changed")))
    } else {
        super::expired_link(&page)
    }
}

#[post("/sessions/<handle>/revoke", data = "<_form>")]
async fn revoke_session(
    handle: &str,
    _form: CsrfForm<CsrfOnly>,
    session: &Session,
    client: ClientInfo,
    db: &State<Db>,
) -> Result<Redirect> {
    let (user, account, handle) = (session.user.id, session.user.account_id, handle.to_owned());
    let revoked = db
        .write_async(move |conn| {
            let revoked = sessions::delete_by_handle(conn, user, &handle)?;
            if revoked {
                activity::record(
                    conn,
                    &client.actor(account, Some(user)),
                    "session_revoked",
                    "",
                    now_ms(),
                )?;
            }
            Ok(revoked)
        })
        .await?;
    if revoked {
        Ok(Redirect::to("/profile?done=session_revoked"))
    } else {
        Err(Error::NotFound)
    }
}

#[post("/sessions/revoke-others", data = "<_form>")]
async fn revoke_other_sessions(
    _form: CsrfForm<CsrfOnly>,
    session: &Session,
    client: ClientInfo,
    db: &State<Db>,
) -> Result<Redirect> {
    let (user, account, keep) = (
        session.user.id,
        session.user.account_id,
        session.id_hash.clone(),
    );
    db.write_async(move |conn| {
        sessions::delete_others(conn, user, Some(&keep))?;
        activity::record(
            conn,
            &client.actor(account, Some(user)),
            "other_sessions_revoked",
            "",
            now_ms(),
        )
    })
    .await?;
    Ok(Redirect::to("/profile?done=session_revoked"))
}
