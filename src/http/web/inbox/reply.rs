//! The reply box's two forms: a message (text inside the 24-hour window, an approved template outside
//! it) and a file, uploaded to Meta's media endpoint for the conversation's number and sent by its id.
//! Both queue through the API's path (`services::messages::accept`).

use super::{At, ReplyForm, Said, contact_id, lacking, shown};
use crate::domain::meta::message::{self, Content, Draft, Media, MessageType, Text};
use crate::error::{Error, Result};
use crate::http::auth::{CsrfForm, HasCsrf, Member};
use crate::http::web::Reply;
use crate::http::web::context::Ctx;
use crate::http::web::page::Page;
use crate::services::billing::Billing;
use crate::services::conversations::{self as service, Attachment};
use crate::services::messages::{SendMessage, Sending};
use crate::services::outbox::Waker;
use crate::store::conversations::Conversation;
use rocket::form::FromForm;
use rocket::fs::TempFile;
use rocket::post;
use rocket::response::Redirect;
use std::sync::Arc;

/// The message of the reply form, or the catalog key of what is missing.
fn build(form: &ReplyForm) -> std::result::Result<Content, &'static str> {
    if form.kind == "template" {
        let (name, language) = form
            .template
            .split_once('|')
            .filter(|(name, language)| !name.is_empty() && !language.is_empty())
            .ok_or("inbox.errors.template")?;
        let values: Vec<&str> = form
            .params
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        return Ok(Content::Template(message::Template::with_body_text(
            name, language, &values,
        )));
    }
    if form.text.trim().is_empty() {
        return Err("inbox.errors.empty");
    }
    // Browsers send a textarea's line breaks as CR LF; WhatsApp's are LF.
    Ok(Content::Text(Text::new(&form.text.replace("\r\n", "\n"))))
}

/// The reply as the request the API takes, to the conversation's customer from its number.
fn reply_request(conversation: &Conversation, content: &Content) -> Result<SendMessage> {
    let draft = Draft {
        connection_id: &conversation.connection_id.get().to_string(),
        to: &service::display_phone(conversation),
        kind: content.kind().as_str(),
        content,
    };
    SendMessage::compose(&draft).1
}

/// Whether a refusal is said in words next to the reply (a mistake in it, or the plan's refusal).
fn said_in_words(e: &Error) -> bool {
    matches!(
        e,
        Error::Invalid { .. }
            | Error::QuotaExceeded { .. }
            | Error::SubscriptionInactive { .. }
            | Error::SendingHeld
            | Error::RecipientOptedOut { .. }
            | Error::Overloaded
            | Error::Unavailable(_)
    )
}

/// Queues a message to the conversation's customer and tells the pages watching; its id.
async fn queue(
    ctx: &Ctx<'_>,
    member: &Member<'_>,
    conversation: &Conversation,
    content: &Content,
) -> Result<String> {
    let sending = Sending {
        db: ctx.db,
        waker: ctx.state::<Waker>()?,
        billing: ctx.state::<Arc<Billing>>()?,
    };
    let request = reply_request(conversation, content)?;
    let (_, accepted) =
        crate::services::messages::accept(&sending, member.account, &request, None).await?;
    service::tell_queued(
        ctx.db,
        member.account,
        conversation.contact_id,
        &accepted.id,
    );
    Ok(accepted.id)
}

/// The list's search and filter, kept while replying.
#[derive(FromForm, Default)]
pub(super) struct Kept {
    q: Option<String>,
    show: Option<String>,
}

#[post("/inbox/<id>/reply?<kept..>", data = "<form>")]
pub(super) async fn reply(
    id: &str,
    kept: Kept,
    form: CsrfForm<ReplyForm>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    let (q, show) = (kept.q.as_deref(), kept.show.as_deref());
    if let Some(lacking) = lacking(&ctx, member.account).await? {
        return Ok(lacking);
    }
    let (visible, page, db, account) = (ctx.visible(), &ctx.page, ctx.db, member.account);
    let contact = contact_id(id)?;
    let at = || At {
        account,
        me: member.user().id,
        contact,
        before: None,
        visible,
        q,
        show,
    };
    let form = form.0;
    let conversation = service::load(db, account, contact, visible).await?;
    let message = match build(&form) {
        Ok(message) => message,
        Err(key) => {
            let said = Said {
                error: Some(page.t(key)),
                ..Said::default()
            };
            return shown(page, db, at(), &form, said).await;
        }
    };
    match queue(&ctx, &member, &conversation, &message).await {
        // Queuing the reply also moves the conversation up (store::messages::insert).
        Ok(_) => Ok(Reply::Redirect(Redirect::to(format!(
            "/inbox/{contact}?done=sent"
        )))),
        Err(e) if said_in_words(&e) => {
            let text = page.error_text(&e);
            let said = Said {
                error: Some(&text),
                ..Said::default()
            };
            shown(page, db, at(), &form, said).await
        }
        Err(e) => Err(e),
    }
}

/// A file from the reply box.
#[derive(FromForm)]
pub(crate) struct AttachForm<'r> {
    #[field(default = String::new())]
    csrf: String,
    file: Option<TempFile<'r>>,
    #[field(default = String::new())]
    caption: String,
}

impl HasCsrf for AttachForm<'_> {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The file's type as the browser named it, its kind for Meta, and its bytes; or the refusal in words
/// (the New message page reads its file with it too).
pub(crate) async fn read_file(
    page: &Page,
    file: Option<&TempFile<'_>>,
) -> std::result::Result<(String, MessageType, Attachment), String> {
    let Some(file) = file.filter(|f| f.len() > 0) else {
        return Err(page.t("inbox.errors.file_missing").to_owned());
    };
    let mime = file
        .content_type()
        .map(|c| format!("{}/{}", c.top(), c.sub()).to_ascii_lowercase())
        .unwrap_or_default();
    let Some((kind, most)) = service::media_rules(&mime) else {
        return Err(page.t("inbox.errors.file_type").to_owned());
    };
    if file.len() > most {
        let megabytes = (most / (1024 * 1024)) as i64;
        return Err(page
            .t("inbox.errors.file_size")
            .replace("{max}", &page.number(&megabytes)));
    }
    let mut bytes = Vec::with_capacity(file.len() as usize);
    let read = match file.open().await {
        Ok(mut reader) => {
            use rocket::tokio::io::AsyncReadExt;
            reader.read_to_end(&mut bytes).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    if read.is_err() {
        return Err(page.t("inbox.errors.file_missing").to_owned());
    }
    let filename = file
        .raw_name()
        .map(|n| n.dangerous_unsafe_unsanitized_raw().as_str().to_owned())
        .unwrap_or_else(|| "file".to_owned());
    Ok((
        mime.clone(),
        kind,
        Attachment {
            mime,
            filename,
            bytes,
        },
    ))
}

/// The message sending an uploaded file by its media id.
fn media_message(kind: MessageType, media_id: String, caption: &str, filename: &str) -> Content {
    let caption = caption.trim();
    let media = Media {
        id: Some(media_id),
        link: None,
        caption: (!caption.is_empty() && kind != MessageType::Audio).then(|| caption.to_owned()),
        filename: (kind == MessageType::Document).then(|| filename.chars().take(240).collect()),
        more: message::more_of(&[]),
    };
    match kind {
        MessageType::Image => Content::Image(media),
        MessageType::Video => Content::Video(media),
        MessageType::Audio => Content::Audio(media),
        _ => Content::Document(media),
    }
}

#[post("/inbox/<id>/attach", data = "<form>")]
pub(super) async fn attach(
    id: &str,
    form: CsrfForm<AttachForm<'_>>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    if let Some(lacking) = lacking(&ctx, member.account).await? {
        return Ok(lacking);
    }
    let (visible, page, db, account) = (ctx.visible(), &ctx.page, ctx.db, member.account);
    let contact = contact_id(id)?;
    let at = || At {
        account,
        me: member.user().id,
        contact,
        before: None,
        visible,
        q: None,
        show: None,
    };
    let conversation = service::load(db, account, contact, visible).await?;
    let refused = |text: String| async move {
        let said = Said {
            attach_error: Some(&text),
            ..Said::default()
        };
        shown(page, db, at(), &<ReplyForm as Default>::default(), said).await
    };
    let (_, kind, file) = match read_file(page, form.0.file.as_ref()).await {
        Ok(read) => read,
        Err(text) => return refused(text).await,
    };
    let filename = file.filename.clone();
    let agent = ctx.state::<ureq::Agent>()?;
    let sent =
        match service::upload_media(db, agent, account, conversation.connection_id, file).await {
            Ok(media_id) => {
                let content = media_message(kind, media_id, &form.0.caption, &filename);
                queue(&ctx, &member, &conversation, &content).await
            }
            Err(e) => Err(e),
        };
    match sent {
        Ok(_) => Ok(Reply::Redirect(Redirect::to(format!(
            "/inbox/{contact}?done=sent"
        )))),
        Err(e) if said_in_words(&e) => refused(page.error_text(&e)).await,
        Err(e) => Err(e),
    }
}
