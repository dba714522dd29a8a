//! The privacy policy's rights on the profile page: everyone downloads their own data; the owner downloads
//! the account's data. Downloads are written on a blocking thread and streamed to the browser as they are
//! written (`store::export`).

use crate::auth::{ClientInfo, CsrfForm, Session};
use crate::error::{Error, Result};
use crate::store::export::{self, ChannelWriter};
use crate::store::users::Role;
use crate::store::{AccountId, Db, activity, now_ms};
use crate::web::CsrfOnly;
use rocket::http::{ContentType, Header};
use rocket::request::Request;
use rocket::response::{self, Responder};
use rocket::{State, post, routes};
use rusqlite::Connection;
use std::io::Write;

pub fn routes() -> Vec<rocket::Route> {
    routes![export_personal, export_account]
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
    rocket::tokio::task::spawn_blocking(move || {
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

/// The owner's account; others are refused.
fn owned_account(session: &Session) -> Result<AccountId> {
    match (session.user.role, session.user.account_id) {
        (Role::Owner, Some(account)) => Ok(account),
        _ => Err(Error::Forbidden),
    }
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
        export::file_name("personal", user.0, now),
        move |_, conn, out| export::write_personal(conn, user, Some(&current), now, out),
    ))
}

#[post("/profile/export/account", data = "<_form>")]
async fn export_account(
    _form: CsrfForm<CsrfOnly>,
    session: &Session,
    client: ClientInfo,
    db: &State<Db>,
) -> Result<Download> {
    let account = owned_account(session)?;
    let user = session.user.id;
    let now = now_ms();
    db.write_async(move |conn| {
        let actor = client.actor(Some(account), Some(user));
        activity::record(conn, &actor, "account_exported", "", now)
    })
    .await?;
    Ok(download(
        db,
        export::file_name("account", account.0, now),
        move |db, conn, out| {
            export::write_account(conn, db.keyring(), account, now, out, &mut |_| {})
        },
    ))
}
