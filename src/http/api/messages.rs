//! `/api/v1/messages`: Meta's own message JSON plus `connection_id`. A 202 means the message is committed
//! to the outbox and will be sent; nothing is written for a request that fails validation.

use super::ApiAuth;
use super::body::ApiJson;
use super::examples;
use super::pager::Pager;
use super::query::{PageSize, Query};
use super::requests::SendMessage;
use super::schema::errors::{ReadErrors, SendErrors};
use super::schema::messages::{
    MessageAccepted, MessageDetail, MessageError, MessageList, MessageView, StatusEvent, Timestamps,
};
use crate::domain::meta::message::{Content, Template};
use crate::domain::meta::window::Window;
use crate::domain::meta::{errors, validate};
use crate::error::{Error, Result};
use crate::store::connections::{self, ConnectionId};
use crate::store::messages::{self, ListFilter, MessageId, NewMessage, StoredMessage};
use crate::store::retention::Visible;
use crate::store::states::MessageStatus;
use crate::store::{AccountId, Db, contacts, idempotency, ids, keys, now_ms, templates};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::Json;
use rocket::{State, get, post, routes};
use serde_json::Value;

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
    db: &State<Db>,
    waker: &State<crate::services::outbox::Waker>,
) -> Result<(Status, Json<MessageAccepted>)> {
    let idempotency_key = idempotency?.0;
    // A body that is not a JSON object is refused at once; one that is no message only after its
    // Idempotency-Key was looked up (below).
    let (status, answer) = match request?.0 {
        Ok(request) => enqueue(db, waker, auth.account, &request, idempotency_key).await?,
        Err(refused) => refused_unless_key_used(db, auth.account, idempotency_key, refused).await?,
    };
    Ok((status, Json(answer)))
}

/// A body that does not read as a message is refused, unless its Idempotency-Key already answered: that
/// answer was for another request (only messages get one), so the key's reuse is the error, as for any
/// other request under a used key. (A key kept before requests were compared answers again.)
async fn refused_unless_key_used(
    db: &Db,
    account: AccountId,
    idempotency_key: Option<String>,
    refused: Error,
) -> Result<(Status, MessageAccepted)> {
    let Some(key) = idempotency_key else {
        return Err(refused);
    };
    let key_db = db.clone();
    let earlier = db
        .read_async(move |conn| {
            let data_key = key_db.keyring().data_key(account)?;
            // No request has an empty digest: an answer kept under the key is for another request.
            idempotency::idempotent_answer(conn, &data_key, account, &key, &[], now_ms())
        })
        .await?;
    match earlier {
        Some(earlier) => kept_answer(earlier),
        None => Err(refused),
    }
}

/// Checks a message and commits it to the outbox; the answer to give (the first one again for a repeated
/// Idempotency-Key). Shared by the API and the compose page.
pub(crate) async fn enqueue(
    db: &Db,
    waker: &crate::services::outbox::Waker,
    account: AccountId,
    request: &SendMessage,
    idempotency_key: Option<String>,
) -> Result<(Status, MessageAccepted)> {
    // The key and what this request asks for: the key answers again only for the same request.
    let idempotency = match idempotency_key {
        Some(key) => {
            let (key_db, asked, request) = (db.clone(), key.clone(), request.as_given()?);
            let (digest, earlier) = db
                .read_async(move |conn| {
                    let data_key = key_db.keyring().data_key(account)?;
                    let digest = idempotency::request_digest(&data_key, &request);
                    let earlier = idempotency::idempotent_answer(
                        conn,
                        &data_key,
                        account,
                        &asked,
                        &digest,
                        now_ms(),
                    )?;
                    Ok((digest, earlier))
                })
                .await?;
            if let Some(earlier) = earlier {
                return kept_answer(earlier);
            }
            Some((key, digest))
        }
        None => None,
    };
    let message = &request.message;
    let connection_id = request.connection();
    let template = match &message.content {
        Content::Template(template) => Some(template.clone()),
        _ => None,
    };
    let is_template = template.is_some();
    // Sealing happens here, off the writer thread, with the account's cached data key.
    let key_db = db.clone();
    let to = message.recipient.clone();
    let (connection, key, index, last_inbound) = db
        .read_async(move |conn| {
            let connection = connections::find(conn, account, connection_id)?
                .ok_or_else(|| Error::invalid("connection_id", "no such connection"))?;
            check_template(conn, account, connection_id, template.as_ref())?;
            let key = key_db.keyring().data_key(account)?;
            let index = keys::phone_index_with(&key, &to);
            let last_inbound = contacts::last_inbound(conn, account, connection_id, &index)?;
            Ok((connection, key, index, last_inbound))
        })
        .await?;
    let window = Window::at(last_inbound, now_ms());
    if connection.enforce_window && !is_template && !window.is_open() {
        return Err(Error::invalid(
            "type",
            "the customer has not written in the last 24 hours, so only a template can be sent (this connection refuses other messages then)",
        ));
    }
    let id = MessageId::from_raw(ids::time_ordered()?);
    let now = now_ms();
    let body = serde_json::to_vec(&message.outgoing()).map_err(|e| Error::Internal(e.into()))?;
    let kind = message.kind().as_str();
    let new = NewMessage {
        id,
        account_id: account,
        connection_id,
        recipient: key.seal(
            &messages::recipient_place(account, id),
            message.recipient.as_bytes(),
        )?,
        recipient_index: index,
        kind: kind.to_owned(),
        body: key.seal(&messages::body_place(account, id), &body)?,
        now,
    };
    let answer = MessageAccepted {
        connection_id: connection.id.get().to_string(),
        created_at: now,
        customer_service_window: window.into(),
        id: id.get().to_string(),
        status: crate::store::states::MessageStatus::Queued,
        to: format!("+{}", message.recipient),
        kind: kind.to_owned(),
    };
    let idempotency = match idempotency {
        Some((name, digest)) => {
            let kept = serde_json::to_string(&answer).map_err(|e| Error::Internal(e.into()))?;
            Some((
                name,
                digest,
                idempotency::seal_answer(&key, account, id, &kept)?,
            ))
        }
        None => None,
    };
    let data_key = key.clone();
    let first = db
        .write_async(move |conn| {
            // Checked again inside the transaction: requests with one key race to here, and the writer
            // runs one at a time, so exactly one of them inserts and the others find its answer.
            if let Some((key, digest, sealed_response)) = &idempotency {
                if let Some(earlier) =
                    idempotency::idempotent_answer(conn, &data_key, account, key, digest, now)?
                {
                    return Ok(Some(earlier));
                }
                messages::insert(conn, &new)?;
                let kept = idempotency::KeptAnswer {
                    key,
                    message: id,
                    status: 202,
                    sealed_response,
                    request_digest: digest,
                };
                idempotency::remember_answer(conn, account, &kept, now)?;
            } else {
                messages::insert(conn, &new)?;
            }
            Ok(None)
        })
        .await?;
    if let Some(earlier) = first {
        return kept_answer(earlier);
    }
    waker.wake();
    Ok((Status::Accepted, answer))
}

/// The first answer to an Idempotency-Key, as it was given.
fn kept_answer((status, body): (u16, String)) -> Result<(Status, MessageAccepted)> {
    let answer = serde_json::from_str(&body).map_err(|e| Error::Internal(e.into()))?;
    Ok((
        Status::from_code(status).unwrap_or(Status::Accepted),
        answer,
    ))
}

/// Checks a template message against the connection's synced templates: it must exist in that language,
/// be approved, and get as many body parameters as it has. Before the first sync nothing can be known,
/// and Meta has the last word.
fn check_template(
    conn: &rusqlite::Connection,
    account: AccountId,
    connection: ConnectionId,
    template: Option<&Template>,
) -> Result<()> {
    let Some(template) = template else {
        return Ok(());
    };
    if !templates::synced(conn, account, connection)? {
        return Ok(());
    }
    let (name, language) = (&template.name, &template.language.code);
    let Some(known) = templates::find(conn, account, connection, name, language)? else {
        return Err(Error::invalid(
            "template.name",
            format!("there is no template {name:?} in {language:?} on this number"),
        ));
    };
    if known.status != "APPROVED" {
        return Err(Error::invalid(
            "template.name",
            format!(
                "the template is {}, not approved",
                known.status.to_lowercase()
            ),
        ));
    }
    let given = template
        .components
        .iter()
        .flatten()
        .filter(|c| c.kind.eq_ignore_ascii_case("body"))
        .map(|c| c.parameters.as_ref().map_or(0, Vec::len) as i64)
        .sum::<i64>();
    if given != known.body_params {
        return Err(Error::invalid(
            "template.components",
            format!(
                "the template's body takes {} parameters, {given} were given",
                known.body_params
            ),
        ));
    }
    Ok(())
}

/// The message as the API shows it; recipient and body are opened with the account's key.
pub(crate) fn view(db: &Db, message: &StoredMessage) -> Result<MessageView> {
    let key = db.keyring().data_key(message.account_id)?;
    let to = key.open(
        &messages::recipient_place(message.account_id, message.id),
        &message.recipient,
    )?;
    let body = key.open(
        &messages::body_place(message.account_id, message.id),
        &message.body,
    )?;
    let mut body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let error = message.error_code.map(|code| MessageError {
        code,
        details: message.error_details.clone(),
        explanation: errors::explain(code).map(str::to_owned),
        title: message.error_title.clone(),
    });
    Ok(MessageView {
        attempts: message.attempts,
        connection_id: message.connection_id.get().to_string(),
        error,
        id: message.id.get().to_string(),
        message: body
            .get_mut(&message.kind)
            .map(Value::take)
            .unwrap_or(Value::Null),
        status: message.status,
        timestamps: Timestamps {
            created: message.created_at,
            delivered: message.delivered_at,
            failed: message.failed_at,
            read: message.read_at,
            sent: message.sent_at,
        },
        to: format!("+{}", String::from_utf8_lossy(&to)),
        kind: message.kind.clone(),
        wamid: message.wamid.clone(),
    })
}

/// [`view`] as JSON, for the web pages that show a message.
pub(crate) fn to_json(db: &Db, message: &StoredMessage) -> Result<Value> {
    serde_json::to_value(view(db, message)?).map_err(|e| Error::Internal(e.into()))
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
