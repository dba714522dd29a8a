//! Consents a person gives and withdraws: acknowledging the privacy policy in force (every page shows a
//! notice until they do), product news on the profile page, and the link in each news email that stops
//! them with one click, without signing in.

use super::super::Reply;
use super::super::page::{Page, render};
use crate::error::Result;
use crate::http::auth::{ClientInfo, CsrfForm, HasCsrf, Session};
use crate::store::consents::{self, PRODUCT_NEWS};
use crate::store::{Db, activity, now_ms, users};
use askama::Template;
use rocket::form::FromForm;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{State, get, post, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![
        acknowledge_policy,
        set_product_news,
        unsubscribe_page,
        unsubscribe
    ]
}

csrf_form!(AcknowledgeForm { back });

/// Records that the person accepted the version in force (with the time), then goes back to the page
/// the notice was on.
#[post("/privacy/acknowledge", data = "<form>")]
async fn acknowledge_policy(
    form: CsrfForm<AcknowledgeForm>,
    session: &Session,
    client: ClientInfo,
    db: &State<Db>,
) -> Result<Redirect> {
    let (user, account) = (session.user.id, session.user.account_id);
    db.write_async(move |conn| {
        let now = now_ms();
        if let Some(version) = consents::accept_policy_in_force(conn, user, now)? {
            let actor = client.actor(account, Some(user));
            activity::record(conn, &actor, "privacy_policy_accepted", &version, now)?;
        }
        Ok(())
    })
    .await?;
    Ok(Redirect::to(local_path(&form.0.back)))
}

#[derive(FromForm)]
struct NewsForm {
    #[field(default = String::new())]
    csrf: String,
    /// An unticked checkbox sends nothing: off.
    #[field(default = false)]
    product_news: bool,
}

impl HasCsrf for NewsForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Product news on or off, from the profile page. Off unless the person turns it on.
#[post("/profile/news", data = "<form>")]
async fn set_product_news(
    form: CsrfForm<NewsForm>,
    session: &Session,
    client: ClientInfo,
    db: &State<Db>,
) -> Result<Redirect> {
    let (user, account, on) = (
        session.user.id,
        session.user.account_id,
        form.0.product_news,
    );
    db.write_async(move |conn| {
        let now = now_ms();
        if consents::set_product_news(conn, user, on, now)? {
            let action = if on {
                "product_news_given"
            } else {
                "product_news_withdrawn"
            };
            activity::record(
                conn,
                &client.actor(account, Some(user)),
                action,
                "profile",
                now,
            )?;
        }
        Ok(())
    })
    .await?;
    Ok(Redirect::to("/profile#product-news"))
}

enum LinkState {
    Confirm,
    Done,
    Invalid,
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage<'a> {
    page: &'a Page,
    token: &'a str,
    state: LinkState,
}

fn link_page(page: &Page, token: &str, state: LinkState) -> Result<Reply> {
    let status = match state {
        LinkState::Invalid => Status::NotFound,
        _ => Status::Ok,
    };
    let html = render(UnsubscribePage { page, token, state })?;
    Ok(Reply::Page((status, html)))
}

/// The link from a news email: asks before doing anything, since mail scanners open links.
#[get("/unsubscribe/<token>")]
fn unsubscribe_page(token: &str, page: Page, db: &State<Db>) -> Result<Reply> {
    match consents::check_withdrawal_token(db.keyring(), token, PRODUCT_NEWS) {
        Some(_) => link_page(&page, token, LinkState::Confirm),
        None => link_page(&page, token, LinkState::Invalid),
    }
}

/// Stops product news: the page's button, or a mail program's one-click POST (RFC 8058, body
/// `List-Unsubscribe=One-Click`, no cookies). The signed token is the proof, so no session or CSRF token
/// is asked for; the body is not read.
#[post("/unsubscribe/<token>")]
async fn unsubscribe(token: &str, page: Page, client: ClientInfo, db: &State<Db>) -> Result<Reply> {
    let Some(user) = consents::check_withdrawal_token(db.keyring(), token, PRODUCT_NEWS) else {
        return link_page(&page, token, LinkState::Invalid);
    };
    db.write_async(move |conn| {
        // A person who has since been deleted has nothing left to withdraw.
        let Some(found) = users::find(conn, user)? else {
            return Ok(());
        };
        let now = now_ms();
        if consents::set_product_news(conn, user, false, now)? {
            let actor = client.actor(found.account_id, Some(user));
            activity::record(conn, &actor, "product_news_withdrawn", "email link", now)?;
        }
        Ok(())
    })
    .await?;
    link_page(&page, token, LinkState::Done)
}

/// `back` if it is a path of this site, else the home page (as the language switch does).
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
