//! The team's work on a conversation: resolving it (a new message from the customer opens it again),
//! assigning it to a member of the account, internal notes (sealed, never sent to the customer), and
//! the account's saved replies (any member adds and deletes them; the reply box offers them).

use super::{At, ReplyForm, Said, contact_id, shown};
use crate::error::{Error, Result};
use crate::http::auth::{CsrfForm, HasCsrf, Member};
use crate::http::web::context::Ctx;
use crate::http::web::{CsrfOnly, Reply};
use crate::store::users::UserId;
use crate::store::{now_ms, workspace};
use rocket::form::FromForm;
use rocket::post;
use rocket::response::Redirect;

/// Longest note or saved reply (a WhatsApp text's length).
const MOST_CHARS: usize = 4096;
/// Longest saved reply title.
const MOST_TITLE_CHARS: usize = 80;

fn back(contact: i64, done: &str) -> Reply {
    Reply::Redirect(Redirect::to(format!("/inbox/{contact}?done={done}")))
}

#[derive(FromForm)]
pub(crate) struct StateForm {
    #[field(default = String::new())]
    csrf: String,
    /// `resolved` or `open`.
    #[field(default = String::new())]
    state: String,
}

impl HasCsrf for StateForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/inbox/<id>/state", data = "<form>")]
pub(super) async fn set_state(
    id: &str,
    form: CsrfForm<StateForm>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    let (contact, account) = (contact_id(id)?, member.account);
    let resolved = match form.0.state.as_str() {
        "resolved" => true,
        "open" => false,
        _ => return Err(Error::invalid("state", "must be resolved or open")),
    };
    let changed = ctx
        .db
        .write_async(move |conn| {
            workspace::set_resolved(conn, account, contact, resolved, now_ms())
        })
        .await?;
    if !changed {
        return Err(Error::NotFound);
    }
    Ok(back(
        contact,
        if resolved { "resolved" } else { "reopened" },
    ))
}

#[derive(FromForm)]
pub(crate) struct AssignForm {
    #[field(default = String::new())]
    csrf: String,
    /// A member's id, or empty for nobody.
    #[field(default = String::new())]
    member: String,
}

impl HasCsrf for AssignForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/inbox/<id>/assign", data = "<form>")]
pub(super) async fn assign(
    id: &str,
    form: CsrfForm<AssignForm>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    let (contact, account) = (contact_id(id)?, member.account);
    let to = match form.0.member.trim() {
        "" => None,
        id => Some(UserId::from_raw(id.parse().map_err(|_| {
            Error::invalid("member", "is not a member of the account")
        })?)),
    };
    let changed = ctx
        .db
        .write_async(move |conn| workspace::assign(conn, account, contact, to, now_ms()))
        .await?;
    if !changed {
        return Err(Error::NotFound);
    }
    Ok(back(contact, "assigned"))
}

#[derive(FromForm)]
pub(crate) struct NoteForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    body: String,
}

impl HasCsrf for NoteForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/inbox/<id>/notes", data = "<form>")]
pub(super) async fn add_note(
    id: &str,
    form: CsrfForm<NoteForm>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    let (contact, account, author) = (contact_id(id)?, member.account, member.user().id);
    let body = form.0.body.trim().replace("\r\n", "\n");
    if body.is_empty() || body.chars().count() > MOST_CHARS {
        let (page, db) = (&ctx.page, ctx.db);
        let text = page
            .t("inbox.errors.note")
            .replace("{max}", &page.number(&(MOST_CHARS as i64)));
        let at = At {
            account,
            me: author,
            contact,
            before: None,
            visible: ctx.visible(),
            q: None,
            show: None,
        };
        let said = Said {
            note_error: Some(&text),
            ..Said::default()
        };
        return shown(page, db, at, &<ReplyForm as Default>::default(), said).await;
    }
    let key_db = ctx.db.clone();
    let added = ctx
        .db
        .write_async(move |conn| {
            workspace::add_note(
                conn,
                key_db.keyring(),
                account,
                contact,
                author,
                &body,
                now_ms(),
            )
        })
        .await?;
    added.ok_or(Error::NotFound)?;
    Ok(back(contact, "note"))
}

#[post("/inbox/<id>/notes/<note>/delete", data = "<_form>")]
pub(super) async fn delete_note(
    id: &str,
    note: i64,
    _form: CsrfForm<CsrfOnly>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    let (contact, account) = (contact_id(id)?, member.account);
    let deleted = ctx
        .db
        .write_async(move |conn| workspace::delete_note(conn, account, contact, note))
        .await?;
    if !deleted {
        return Err(Error::NotFound);
    }
    Ok(back(contact, "note_deleted"))
}

#[derive(FromForm)]
pub(crate) struct SavedForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    title: String,
    #[field(default = String::new())]
    body: String,
    /// The conversation the form was on, to go back to.
    #[field(default = 0)]
    back: i64,
}

impl HasCsrf for SavedForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/inbox/saved-replies", data = "<form>")]
pub(super) async fn add_saved_reply(
    form: CsrfForm<SavedForm>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    let account = member.account;
    let SavedForm {
        title,
        body,
        back: contact,
        ..
    } = form.0;
    let (title, body) = (title.trim().to_owned(), body.trim().replace("\r\n", "\n"));
    let fits = |text: &str, most: usize| !text.is_empty() && text.chars().count() <= most;
    if !fits(&title, MOST_TITLE_CHARS) || !fits(&body, MOST_CHARS) {
        let page = &ctx.page;
        let text = page
            .t("inbox.errors.saved")
            .replace("{title}", &page.number(&(MOST_TITLE_CHARS as i64)))
            .replace("{max}", &page.number(&(MOST_CHARS as i64)));
        let at = At {
            account,
            me: member.user().id,
            contact,
            before: None,
            visible: ctx.visible(),
            q: None,
            show: None,
        };
        let said = Said {
            saved_error: Some(&text),
            ..Said::default()
        };
        return shown(page, ctx.db, at, &<ReplyForm as Default>::default(), said).await;
    }
    let key_db = ctx.db.clone();
    let added = ctx
        .db
        .write_async(move |conn| {
            workspace::add_saved_reply(conn, key_db.keyring(), account, &title, &body, now_ms())
        })
        .await?;
    if added.is_none() {
        return Err(Error::invalid(
            "title",
            format!(
                "an account keeps at most {} saved replies",
                workspace::MOST_SAVED_REPLIES
            ),
        ));
    }
    Ok(back(contact, "saved"))
}

#[derive(FromForm)]
pub(crate) struct BackForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = 0)]
    back: i64,
}

impl HasCsrf for BackForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/inbox/saved-replies/<reply>/delete", data = "<form>")]
pub(super) async fn delete_saved_reply(
    reply: i64,
    form: CsrfForm<BackForm>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    let account = member.account;
    let deleted = ctx
        .db
        .write_async(move |conn| workspace::delete_saved_reply(conn, account, reply))
        .await?;
    if !deleted {
        return Err(Error::NotFound);
    }
    Ok(back(form.0.back, "saved_deleted"))
}
