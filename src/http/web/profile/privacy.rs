//! The privacy policy's rights on the profile page: everyone downloads their own data; the owner downloads
//! the account's data and deletes the account; a member deletes their own user. Downloads are written on a
//! blocking thread and streamed to the browser as they are written (`store::export`).

use super::{current_password_ok, refuse};
use crate::error::{Error, Result};
use crate::http::auth::{ClientInfo, CsrfForm, Member, Owner, Session};
use crate::http::web::context::Ctx;
use crate::http::web::{CsrfOnly, Reply};
use crate::outbound::stripe::Stripe;
use crate::services::api_keys::KeysUsed;
use crate::services::billing::stripe::cancel_before_deletion;
use crate::services::meta_events::Receivers;
use crate::store::export::{self, ChannelWriter};
use crate::store::users::Role;
use crate::store::{Db, accounts, activity, erasure, now_ms};
use rocket::http::{ContentType, Header};
use rocket::request::Request;
use rocket::response::{self, Redirect, Responder};
use rocket::{State, post, routes};
use rusqlite::Connection;
use std::io::Write;
use std::sync::Arc;

pub fn routes() -> Vec<rocket::Route> {
    routes![export_personal, export_account, delete_user, delete_account]
}

/// A JSON file streamed to the browser as it is written, offered as a download and never cached.
pub struct Download {
    name: String,
    chunks: rocket::tokio::sync::mpsc::Receiver<Vec<u8>>,
}

impl<'r> Responder<'r, 'r> for Download {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'r> {
        let stream = rocket::futures::stream::unfold(self.chunks, |mut chunks| async move {
            chunks.recv().await.map(|chunk| (chunk, chunks))
        });
        let mut response =
            rocket::response::stream::ByteStream::from(Box::pin(stream)).respond_to(req)?;
        response.set_header(ContentType::JSON);
        response.set_header(Header::new("Cache-Control", "no-store"));
        response.set_header(Header::new(
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", self.name),
        ));
        Ok(response)
    }
}

/// Runs `work` on a blocking thread with a read connection of its own, streaming what it writes.
fn download(
    db: &Db,
    name: String,
    work: impl FnOnce(&Db, &Connection, &mut dyn Write) -> Result<u64> + Send + 'static,
) -> Download {
    let (tx, chunks) = rocket::tokio::sync::mpsc::channel(4);
    let db = db.clone();
    let file = name.clone();
    crate::blocking::detach(move || {
        let mut out = ChannelWriter::new(tx);
        let written = export::open_reader(&db).and_then(|conn| work(&db, &conn, &mut out));
        match written {
            Ok(rows) => tracing::info!(file = %file, rows, "export downloaded"),
            // The browser gets a cut-off file, which does not parse: it cannot be mistaken for a whole one.
            Err(e) => tracing::error!(file = %file, error = ?e, "export failed part-way"),
        }
    });
    Download { name, chunks }
}

#[post("/profile/export/me", data = "<_form>")]
async fn export_personal(
    _form: CsrfForm<CsrfOnly>,
    session: &Session,
    client: ClientInfo,
    db: &State<Db>,
) -> Result<Download> {
    let (user, account, current) = (
        session.user.id,
        session.user.account_id,
        session.id_hash.clone(),
    );
    let now = now_ms();
    db.write_async(move |conn| {
        let actor = client.actor(account, Some(user));
        activity::record(conn, &actor, "personal_data_exported", "", now)
    })
    .await?;
    Ok(download(
        db,
        export::file_name("personal", user.get(), now),
        move |db, conn, out| {
            export::write_personal(conn, db.keyring(), user, Some(&current), now, out)
        },
    ))
}

#[post("/profile/export/account", data = "<_form>")]
async fn export_account(
    _form: CsrfForm<CsrfOnly>,
    owner: Owner<'_>,
    client: ClientInfo,
    db: &State<Db>,
) -> Result<Download> {
    let (account, user) = (owner.account, owner.user().id);
    let now = now_ms();
    db.write_async(move |conn| {
        let actor = client.actor(Some(account), Some(user));
        activity::record(conn, &actor, "account_exported", "", now)
    })
    .await?;
    Ok(download(
        db,
        export::file_name("account", account.get(), now),
        move |db, conn, out| {
            export::write_account(conn, db.keyring(), account, now, out, &mut |_| {})
        },
    ))
}

csrf_form!(DeleteUserForm { current_password });
csrf_form!(DeleteAccountForm {
    current_password,
    company
});

#[post("/profile/delete-user", data = "<form>")]
async fn delete_user(
    form: CsrfForm<DeleteUserForm>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    let Ctx {
        page,
        auth,
        db,
        config,
        cookies,
        mailer,
        ..
    } = ctx;
    let (account, session) = (member.account, member.session);
    if session.user.role == Role::Owner {
        let refusal = Error::invalid("delete_user", "the owner deletes the whole account instead");
        return refuse(&page, session, db, &refusal).await;
    }
    if !current_password_ok(auth, db, session, &form.0.current_password).await? {
        let refusal = Error::invalid("current_password", "the current password is not right");
        return refuse(&page, session, db, &refusal).await;
    }
    let user = session.user.id;
    let company = db
        .write_async(move |conn| {
            let company = accounts::find(conn, account)?
                .map(|a| a.company)
                .unwrap_or_default();
            erasure::delete_member(conn, account, user)?;
            let nobody = activity::Actor {
                account: Some(account),
                user: None,
                ip: "",
                user_agent: "",
            };
            activity::record(conn, &nobody, "member_deleted_themselves", "", now_ms())?;
            Ok(company)
        })
        .await?;
    // Their sessions went with them; this one's cookie goes too.
    crate::http::auth::session::end(db, config, cookies, session).await?;
    crate::services::notify::user_deleted(mailer, page.lang, &session.user.email, &company).await;
    Ok(Reply::Redirect(Redirect::to("/login?done=user_deleted")))
}

#[post("/profile/delete-account", data = "<form>")]
async fn delete_account(
    form: CsrfForm<DeleteAccountForm>,
    ctx: Ctx<'_>,
    owner: Owner<'_>,
) -> Result<Reply> {
    let (keys_used, receivers) = (ctx.state::<Arc<KeysUsed>>()?, ctx.state::<Receivers>()?);
    let stripe = ctx.state::<Stripe>()?.clone();
    let Ctx {
        page,
        client,
        auth,
        db,
        config,
        cookies,
        mailer,
        ..
    } = ctx;
    let (account, session) = (owner.account, owner.session);
    let form = form.0;
    if !current_password_ok(auth, db, session, &form.current_password).await? {
        let refusal = Error::invalid("current_password", "the current password is not right");
        return refuse(&page, session, db, &refusal).await;
    }
    let company = db
        .read_async(move |conn| accounts::find(conn, account))
        .await?
        .ok_or(Error::NotFound)?
        .company;
    if form.company.trim() != company {
        let refusal = Error::invalid(
            "confirm_company",
            "type the company name exactly as it is shown",
        );
        return refuse(&page, session, db, &refusal).await;
    }
    // A paid subscription ends first: a deleted account must not be charged any more. If Stripe cannot
    // end it now, nothing is deleted and the owner can try again.
    let (settings, cancel_db) = (config.billing.clone(), db.clone());
    let ended = crate::blocking::run("stripe", move || {
        cancel_before_deletion(&cancel_db, &settings, &stripe, account)
    })
    .await?;
    if let Err(e) = ended {
        return refuse(&page, session, db, &e).await;
    }
    // First everything stops at once (sessions, API keys, queues, webhooks, the data key) ...
    let (keys, user) = (db.clone(), session.user.id);
    let stopped = db
        .write_async(move |conn| {
            let actor = client.actor(Some(account), Some(user));
            activity::record(conn, &actor, "account_deletion_requested", "", now_ms())?;
            erasure::stop_account(conn, keys.keyring(), account, now_ms())
        })
        .await?;
    for key in &stopped.api_keys {
        keys_used.forget(*key);
    }
    for connection in &stopped.connections {
        receivers.forget(*connection);
    }
    tracing::info!(
        account = account.get(),
        "the owner is deleting the account with all its data"
    );
    // ... then the rows go, batch by batch, and the owner hears when it is done. On a blocking thread of
    // its own, so it finishes even if the browser stops waiting (and at the next start if the server stops).
    let (purge_db, mailer) = (db.clone(), mailer.clone());
    crate::blocking::run("deletion", move || {
        crate::services::deletions::finish(&purge_db, &mailer, account)
    })
    .await??;
    crate::http::auth::session::end(db, config, cookies, session).await?;
    Ok(Reply::Redirect(Redirect::to("/login?done=account_deleted")))
}
