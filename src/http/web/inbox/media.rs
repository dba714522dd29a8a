//! Media in a conversation, fetched from Meta when the page shows it (`GET /{media-id}`, then the URL,
//! with the number's token) and streamed to the browser: never written anywhere, never kept.

use super::bubbles::text_at;
use crate::error::{Error, Result};
use crate::http::auth::Member;
use crate::http::web::context::Ctx;
use crate::outbound::graph::{self, Graph, SendError};
use crate::outbound::targets::MediaSource;
use crate::store::connections;
use crate::store::conversations;
use rocket::get;
use rocket::http::{ContentType, Header};
use rocket::request::Request;
use rocket::response::{self, Responder};

/// A media file streamed from Meta to the browser as it arrives: nothing is written anywhere, and the
/// browser is told not to keep it either.
pub(super) struct MediaStream {
    content_type: ContentType,
    disposition: String,
    chunks: rocket::tokio::sync::mpsc::Receiver<Vec<u8>>,
}

impl<'r> Responder<'r, 'r> for MediaStream {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'r> {
        let stream = rocket::futures::stream::unfold(self.chunks, |mut chunks| async move {
            chunks.recv().await.map(|chunk| (chunk, chunks))
        });
        let mut response =
            rocket::response::stream::ByteStream::from(Box::pin(stream)).respond_to(req)?;
        response.set_header(self.content_type);
        response.set_header(Header::new("Cache-Control", "no-store"));
        response.set_header(Header::new("Content-Disposition", self.disposition));
        Ok(response)
    }
}

/// Types a browser may show in the page; anything else is offered as a download.
fn shown_inline(content_type: &ContentType) -> bool {
    let top = content_type.top().as_str();
    (top == "image" && !content_type.sub().as_str().contains("svg"))
        || top == "audio"
        || top == "video"
}

/// A file name safe for a header: letters, digits, dot, dash and underscore.
fn safe_name(name: Option<&str>) -> String {
    let cleaned: String = name
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(100)
        .collect();
    if cleaned.trim_matches('.').is_empty() {
        "media".into()
    } else {
        cleaned
    }
}

fn meta_refusal(error: SendError) -> Error {
    match error {
        SendError::Meta(e) if e.http_status == 404 => Error::NotFound,
        other => other.unavailable("the media"),
    }
}

/// A customer's media, fetched from Meta now with the number's token: the media id must be the one in
/// that message of this account.
#[get("/inbox/media/<inbound_id>/<media_id>")]
pub(super) async fn inbox_media(
    inbound_id: &str,
    media_id: &str,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<MediaStream> {
    let (db, account, visible) = (ctx.db, member.account, ctx.visible());
    // The conversations' pages say why when the plan lacks the inbox; their media is simply refused.
    let billing = ctx.state::<std::sync::Arc<crate::services::billing::Billing>>()?;
    billing
        .standing(db, account)
        .await?
        .require(crate::config::Feature::Inbox)?;
    let (agent, media) = (
        ctx.state::<ureq::Agent>()?,
        ctx.state::<graph::MediaClient>()?,
    );
    let inbound_id: i64 = inbound_id.parse().map_err(|_| Error::NotFound)?;
    let wanted = media_id.to_owned();
    let key_db = db.clone();
    let (connection, token, filename) = db
        .read_async(move |conn| {
            let message =
                conversations::find_inbound(conn, key_db.keyring(), account, inbound_id, visible)?
                    .ok_or(Error::NotFound)?;
            if conversations::media_id(&message.body) != Some(wanted.as_str()) {
                return Err(Error::NotFound);
            }
            let connection =
                connections::find(conn, account, message.connection_id)?.ok_or(Error::NotFound)?;
            let token =
                connections::secrets(conn, key_db.keyring(), account, connection.id)?.access_token;
            let filename = text_at(&message.body, &format!("/{}/filename", message.kind));
            Ok((connection, token, filename))
        })
        .await?;
    let agent = agent.clone();
    let (targets, media_agent) = (media.targets.clone(), media.agent.clone());
    let media_id = media_id.to_owned();
    let download = crate::blocking::run("media", move || {
        let graph = Graph::of(&agent, &connection, &token);
        let info = graph
            .media_info(&media_id, &connection.phone_number_id)
            .map_err(meta_refusal)?;
        let url = info.url.as_str();
        // The token goes only to Meta's media hosts (through the webhook address checks) or back to
        // the connection's own allowed address.
        let download_agent = match targets.media_source(&connection.graph_base_url, url) {
            Some(MediaSource::MediaHost) => &media_agent,
            Some(MediaSource::GraphBase) => &agent,
            None => {
                return Err(Error::Unavailable(
                    "Meta gave a media address on a host it does not use".into(),
                ));
            }
        };
        let download = Graph {
            agent: download_agent,
            ..graph
        }
        .download_media(url)
        .map_err(meta_refusal)?;
        let mime = download.content_type.clone().or(info.mime_type);
        Ok((download, mime))
    })
    .await??;
    let (download, mime) = download;
    let content_type = mime
        .as_deref()
        .and_then(ContentType::parse_flexible)
        .unwrap_or(ContentType::Binary);
    let disposition = if shown_inline(&content_type) {
        "inline".to_owned()
    } else {
        format!(
            "attachment; filename=\"{}\"",
            safe_name(filename.as_deref())
        )
    };
    let (sender, chunks) = rocket::tokio::sync::mpsc::channel(4);
    let mut body = download.body;
    crate::blocking::detach(move || {
        use std::io::Read;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match body.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    if sender.blocking_send(buffer[..n].to_vec()).is_err() {
                        break; // the browser went away
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "media download from Meta broke off");
                    break;
                }
            }
        }
    });
    Ok(MediaStream {
        content_type,
        disposition,
        chunks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_for_a_header() {
        assert_eq!(safe_name(Some("invoice 12.pdf")), "invoice12.pdf");
        assert_eq!(safe_name(Some("\"; x=\r\n")), "x");
        assert_eq!(safe_name(Some("..")), "media");
        assert_eq!(safe_name(None), "media");
    }

    #[test]
    fn only_images_sound_and_video_show_inline() {
        assert!(shown_inline(&ContentType::PNG));
        assert!(shown_inline(&ContentType::new("audio", "ogg")));
        assert!(!shown_inline(&ContentType::SVG));
        assert!(!shown_inline(&ContentType::HTML));
        assert!(!shown_inline(&ContentType::PDF));
    }
}
