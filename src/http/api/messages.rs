//! `/api/v1/messages`: Meta's own message JSON plus `connection_id`. A 202 means the message is committed
//! to the outbox and will be sent; nothing is written for a request that fails validation.

use super::ApiAuth;
use super::body::ApiJson;
use super::examples;
use super::query::{PageSize, Query};
use super::requests::SendMessage;
use super::schema::errors::{ReadErrors, SendErrors};
use super::schema::messages::{MessageAccepted, MessageDetail, MessageList, StatusEvent};
use crate::domain::meta::validate;
use crate::error::{Error, Result};
use crate::http::pager::Pager;
use crate::services;
use crate::services::messages::{Sending, view};
use crate::store::Db;
use crate::store::connections::ConnectionId;
use crate::store::messages::{self, ListFilter, MessageId};
use crate::store::retention::Visible;
use crate::store::states::MessageStatus;
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::Json;
use rocket::{State, get, post, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![send_message, get_message, list_messages]
}

/// The optional `Idempotency-Key` header. The handler takes it as a `Result`, so a malformed key is
/// answered like any other bad field (JSON naming the header) rather than by the generic 400 catcher.
pub struct IdempotencyKey(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for IdempotencyKey {
    type Error = Error;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Error> {
        match req.headers().get_one("Idempotency-Key").map(str::trim) {
            None => Outcome::Success(IdempotencyKey(None)),
            Some(key)
                if !key.is_empty()
                    && key.len() <= 255
                    && key.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Outcome::Success(IdempotencyKey(Some(key.to_owned())))
            }
            Some(_) => Outcome::Error((
                Status::BadRequest,
                Error::invalid("Idempotency-Key", "1 to 255 visible ASCII characters"),
            )),
        }
    }
}

/// Queues a message for sending.
#[utoipa::path(
    post,
    path = "/api/v1/messages",
    tag = "messages",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1 to 255 visible ASCII characters. A repeat of the same request with the same key, within 24 hours, gets the first answer and sends nothing more; another request with the key is refused (422).")),
    request_body(content = SendMessage, example = examples::send_message),
    responses(
        (status = 202, description = "In the outbox; it will be sent.", body = MessageAccepted, example = examples::message_accepted),
        SendErrors,
    ),
)]
#[post("/api/v1/messages", data = "<request>")]
async fn send_message(
    auth: ApiAuth,
    idempotency: Result<IdempotencyKey>,
    request: Result<ApiJson<Result<SendMessage>>>,
    sending: Sending<'_>,
) -> Result<(Status, Json<MessageAccepted>)> {
    let idempotency_key = idempotency?.0;
    // A body that is not a JSON object is refused at once; one that is no message only after its
    // Idempotency-Key was looked up (below).
    let (status, answer) = match request?.0 {
        Ok(request) => {
            services::messages::accept(&sending, auth.account, &request, idempotency_key).await?
        }
        Err(refused) => {
            services::messages::refused_unless_key_used(
                sending.db,
                auth.account,
                idempotency_key,
                refused,
            )
            .await?
        }
    };
    Ok((
        Status::from_code(status).unwrap_or(Status::Accepted),
        Json(answer),
    ))
}

/// A message, with what Meta reported about it.
#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}",
    tag = "messages",
    params(("id" = String, Path, description = "The message's id.")),
    responses(
        (status = 200, body = MessageDetail, example = examples::message_detail),
        ReadErrors,
    ),
)]
#[get("/api/v1/messages/<id>")]
async fn get_message(
    id: &str,
    auth: ApiAuth,
    visible: Visible,
    db: &State<Db>,
) -> Result<Json<MessageDetail>> {
    let id = MessageId::from_raw(id.parse().map_err(|_| Error::NotFound)?);
    let view_db = db.inner().clone();
    let message = db
        .read_async(move |conn| {
            let message =
                messages::find(conn, auth.account, id, visible)?.ok_or(Error::NotFound)?;
            let view = view(&view_db, &message)?;
            // What Meta reported, in order, as its webhooks said it (duplicates stored once).
            let reported = crate::store::statuses::timeline(conn, auth.account, id, visible)?
                .into_iter()
                .map(|(status, at, error_code)| StatusEvent {
                    at,
                    error_code,
                    status,
                })
                .collect();
            Ok(MessageDetail::new(view, reported))
        })
        .await?;
    Ok(Json(message))
}

/// Messages sent, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/messages",
    tag = "messages",
    params(
        ("status" = Option<String>, Query, description = "Only messages in this state: queued, sending, sent, delivered, read or failed."),
        ("connection_id" = Option<String>, Query, description = "Only messages of this connection."),
        ("to" = Option<String>, Query, description = "Only messages to this number (international format)."),
        ("since" = Option<i64>, Query, description = "Only messages created at or after this time (ms since the epoch)."),
        ("until" = Option<i64>, Query, description = "Only messages created before this time (ms since the epoch)."),
        ("cursor" = Option<String>, Query, description = "The next_cursor of an earlier page."),
        ("limit" = Option<i64>, Query, description = "1 to 200; default 50."),
    ),
    responses(
        (status = 200, body = MessageList, example = examples::message_list),
        ReadErrors,
    ),
)]
#[get("/api/v1/messages")]
async fn list_messages(
    auth: ApiAuth,
    visible: Visible,
    query: Query,
    db: &State<Db>,
) -> Result<Json<MessageList>> {
    let query = query.allow(&[
        "status",
        "connection_id",
        "to",
        "since",
        "until",
        "cursor",
        "limit",
    ])?;
    let status = query
        .one_of("status", MessageStatus::NAMES)?
        .and_then(|s| s.parse().ok());
    let recipient_index = match query.text("to") {
        Some(to) => {
            let digits = validate::normalize_phone(to).ok_or_else(|| {
                Error::invalid("to", "must be a phone number in international format")
            })?;
            Some(db.keyring().phone_index(auth.account, &digits)?)
        }
        None => None,
    };
    let size = PageSize {
        default: 50,
        max: 200,
    };
    let pager = Pager::from_query(query, size, |text| {
        text.parse()
            .ok()
            .filter(|id: &i64| *id >= 0)
            .map(MessageId::from_raw)
    })?;
    let limit = pager.limit;
    let filter = ListFilter {
        status,
        connection: query.id("connection_id")?.map(ConnectionId::from_raw),
        recipient_index,
        kind: None,
        since: query.time("since")?,
        until: query.time("until")?,
        before: pager.after,
        limit,
        visible,
    };
    let view_db = db.inner().clone();
    let page = db
        .read_async(move |conn| {
            messages::list(conn, auth.account, &filter)?
                .iter()
                .map(|m| view(&view_db, m))
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    let next_cursor = pager.next_cursor(&page, |m| Some(m.id.clone()));
    Ok(Json(MessageList {
        data: page,
        next_cursor,
    }))
}
