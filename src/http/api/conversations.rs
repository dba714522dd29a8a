//! `/api/v1/conversations`: the inbox. One conversation per customer of each number, the most recent
//! first, with how many of the customer's messages nobody has seen yet and the 24-hour window; a
//! conversation's messages in both directions, each inbound one with Meta's type and item as received.

use super::ApiAuth;
use super::examples;
use super::query::{PageSize, Query};
use super::schema::conversations::{
    ConversationDetail, ConversationList, ConversationSeen, ConversationView,
};
use super::schema::errors::ReadErrors;
use crate::error::{Error, Result};
use crate::http::pager::Pager;
use crate::services::conversations::{display_phone, load, thread_items, window};
use crate::store::conversations::{self, Conversation, Cursor, ThreadCursor};
use crate::store::retention::Visible;
use crate::store::{Db, connections::ConnectionId, now_ms};
use rocket::serde::json::Json;
use rocket::{State, get, post, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![list_conversations, get_conversation, mark_conversation_seen]
}

fn conversation_view(conversation: &Conversation, now: i64) -> ConversationView {
    ConversationView {
        connection_id: conversation.connection_id.get().to_string(),
        customer_service_window: window(conversation, now).into(),
        id: conversation.contact_id.to_string(),
        last_inbound_at: conversation.last_inbound_at,
        last_message_at: conversation.last_message_at,
        name: conversation.profile_name.clone(),
        phone: display_phone(conversation),
        unread_count: conversation.unread,
    }
}

fn parse_contact(id: &str) -> Result<i64> {
    id.parse().map_err(|_| Error::NotFound)
}

/// A thread cursor: `<ms>_<id>` of the oldest item of the previous page.
fn thread_cursor(text: &str) -> Option<ThreadCursor> {
    Cursor::parse(text).map(|c| ThreadCursor { at: c.at, id: c.id })
}

/// How many conversations, or messages of one, a page holds.
const PAGE: PageSize = PageSize {
    default: 50,
    max: 200,
};

/// Conversations, the most recently active first.
#[utoipa::path(
    get,
    path = "/api/v1/conversations",
    tag = "conversations",
    params(
        ("connection_id" = Option<String>, Query, description = "Only conversations of this connection."),
        ("cursor" = Option<String>, Query, description = "The next_cursor of an earlier page."),
        ("limit" = Option<i64>, Query, description = "1 to 200; default 50."),
    ),
    responses(
        (status = 200, body = ConversationList, example = examples::conversation_list),
        ReadErrors,
    ),
)]
#[get("/api/v1/conversations")]
async fn list_conversations(
    auth: ApiAuth,
    visible: Visible,
    query: Query,
    db: &State<Db>,
) -> Result<Json<ConversationList>> {
    let query = query.allow(&["connection_id", "cursor", "limit"])?;
    let connection = query.id("connection_id")?.map(ConnectionId::from_raw);
    let pager = Pager::from_query(query, PAGE, Cursor::parse)?;
    let (after, limit) = (pager.after, pager.limit);
    let key_db = db.inner().clone();
    let page = db
        .read_async(move |conn| {
            conversations::list(
                conn,
                key_db.keyring(),
                auth.account,
                connection,
                after,
                limit,
                visible,
            )
        })
        .await?;
    let now = now_ms();
    let next = pager.next_cursor(&page, |c| {
        Some(
            Cursor {
                at: c.last_message_at,
                id: c.contact_id,
            }
            .text(),
        )
    });
    let data = page.iter().map(|c| conversation_view(c, now)).collect();
    Ok(Json(ConversationList {
        data,
        next_cursor: next,
    }))
}

/// A conversation and a page of its messages in both directions, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}",
    tag = "conversations",
    params(
        ("id" = String, Path, description = "The conversation's id."),
        ("cursor" = Option<String>, Query, description = "The next_cursor of an earlier page."),
        ("limit" = Option<i64>, Query, description = "1 to 200; default 50."),
    ),
    responses(
        (status = 200, body = ConversationDetail, example = examples::conversation_detail),
        ReadErrors,
    ),
)]
#[get("/api/v1/conversations/<id>")]
async fn get_conversation(
    id: &str,
    auth: ApiAuth,
    visible: Visible,
    query: Query,
    db: &State<Db>,
) -> Result<Json<ConversationDetail>> {
    let query = query.allow(&["cursor", "limit"])?;
    let pager = Pager::from_query(query, PAGE, thread_cursor)?;
    let (before, limit) = (pager.after, pager.limit);
    let contact = parse_contact(id)?;
    let view_db = db.inner().clone();
    let (conversation, messages) = db
        .read_async(move |conn| {
            let conversation =
                conversations::find(conn, view_db.keyring(), auth.account, contact, visible)?
                    .ok_or(Error::NotFound)?;
            let messages = thread_items(
                &view_db,
                conn,
                auth.account,
                &conversation,
                before,
                limit,
                visible,
            )?;
            Ok((conversation, messages))
        })
        .await?;
    let now = now_ms();
    let next_cursor = pager.next_cursor(&messages, |m| Some(m.cursor().to_owned()));
    Ok(Json(ConversationDetail {
        contact: conversation_view(&conversation, now),
        customer_service_window: window(&conversation, now).into(),
        messages,
        next_cursor,
    }))
}

/// Marks the customer's messages as seen.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/seen",
    tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id.")),
    responses(
        (status = 200, body = ConversationSeen, example = examples::conversation_seen),
        ReadErrors,
    ),
)]
#[post("/api/v1/conversations/<id>/seen")]
async fn mark_conversation_seen(
    id: &str,
    auth: ApiAuth,
    visible: Visible,
    db: &State<Db>,
) -> Result<Json<ConversationSeen>> {
    let contact = parse_contact(id)?;
    load(db, auth.account, contact, visible).await?;
    let marked = db
        .write_async(move |conn| conversations::mark_seen(conn, auth.account, contact, now_ms()))
        .await?;
    Ok(Json(ConversationSeen {
        id: contact.to_string(),
        marked_seen: marked,
        unread_count: 0,
    }))
}
