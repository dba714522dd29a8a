//! `/api/v1/messages`: Meta's own message JSON plus `connection_id`. A 202 means the message is committed
//! to the outbox and will be sent; nothing is written for a request that fails validation.

use super::ApiAuth;
use super::body::ApiJson;
use super::query::{PageSize, Query};
use super::requests::check_message;
use crate::error::{Error, Result};
use crate::meta::{errors, validate};
use crate::store::connections::{self, ConnectionId};
use crate::store::messages::{self, ListFilter, MessageId, NewMessage, StoredMessage};
use crate::store::retention::Visible;
use crate::store::states::MessageStatus;
use crate::store::{AccountId, Db, contacts, idempotency, ids, keys, now_ms, templates};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::Json;
use rocket::{State, get, post, routes};
use serde_json::{Value, json};

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

#[post("/api/v1/messages", data = "<request>")]
async fn send_message(
    auth: ApiAuth,
    idempotency: Result<IdempotencyKey>,
    request: Result<ApiJson<Value>>,
    db: &State<Db>,
    waker: &State<crate::jobs::sender::Waker>,
) -> Result<(Status, Json<Value>)> {
    let idempotency_key = idempotency?.0;
    let request = request?.0;
    let (status, answer) = enqueue(db, waker, auth.account, &request, idempotency_key).await?;
    Ok((status, Json(answer)))
}

/// Checks a message and commits it to the outbox; the answer to give (the first one again for a repeated
/// Idempotency-Key). Shared by the API and the compose page.
pub(crate) async fn enqueue(
    db: &Db,
    waker: &crate::jobs::sender::Waker,
    account: AccountId,
    request: &Value,
    idempotency_key: Option<String>,
) -> Result<(Status, Value)> {
    // The key and what this request asks for: the key answers again only for the same request.
    let idempotency = match idempotency_key {
        Some(key) => {
            let (key_db, asked, request) = (db.clone(), key.clone(), request.clone());
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
                return Ok(kept_answer(earlier));
            }
            Some((key, digest))
        }
        None => None,
    };
    let (checked, connection_id) = check_message(request)?;
    let template = (checked.kind == "template").then(|| checked.body["template"].clone());
    // Sealing happens here, off the writer thread, with the account's cached data key.
    let key_db = db.clone();
    let to = checked.to.clone();
    let (connection, key, index, last_inbound) = db
        .read_async(move |conn| {
            let connection = connections::find(conn, account, connection_id)?
                .ok_or_else(|| Error::invalid("connection_id", "no such connection"))?;
            check_template(conn, account, connection_id, &template)?;
            let key = key_db.keyring().data_key(account)?;
            let index = keys::phone_index_with(&key, &to);
            let last_inbound = contacts::last_inbound(conn, account, connection_id, &index)?;
            Ok((connection, key, index, last_inbound))
        })
        .await?;
    let window = Window::at(last_inbound, now_ms());
    if connection.enforce_window && checked.kind != "template" && window.state != "open" {
        return Err(Error::invalid(
            "type",
            "the customer has not written in the last 24 hours, so only a template can be sent (this connection refuses other messages then)",
        ));
    }
    let id = MessageId::from_raw(ids::time_ordered()?);
    let now = now_ms();
    let body = serde_json::to_vec(&checked.body).map_err(|e| Error::Internal(e.into()))?;
    let new = NewMessage {
        id,
        account_id: account,
        connection_id,
        recipient: key.seal(
            &messages::recipient_place(account, id),
            checked.to.as_bytes(),
        )?,
        recipient_index: index,
        kind: checked.kind.clone(),
        body: key.seal(&messages::body_place(account, id), &body)?,
        now,
    };
    let answer = json!({
        "id": id.get().to_string(),
        "status": "queued",
        "connection_id": connection.id.get().to_string(),
        "to": format!("+{}", checked.to),
        "type": checked.kind,
        "created_at": now,
        "customer_service_window": window.to_json(),
    });
    let idempotency = match idempotency {
        Some((name, digest)) => Some((
            name,
            digest,
            idempotency::seal_answer(&key, account, id, &answer.to_string())?,
        )),
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
        return Ok(kept_answer(earlier));
    }
    waker.wake();
    Ok((Status::Accepted, answer))
}

/// The first answer to an Idempotency-Key, as it was given.
fn kept_answer((status, body): (u16, String)) -> (Status, Value) {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    (Status::from_code(status).unwrap_or(Status::Accepted), body)
}

/// The 24-hour customer-service window of a recipient, as far as this number knows it.
struct Window {
    state: &'static str,
    expires_at: Option<i64>,
}

impl Window {
    fn at(last_inbound: Option<i64>, now: i64) -> Window {
        match last_inbound {
            Some(at) if now < at + contacts::WINDOW_MS => Window {
                state: "open",
                expires_at: Some(at + contacts::WINDOW_MS),
            },
            Some(at) => Window {
                state: "closed",
                expires_at: Some(at + contacts::WINDOW_MS),
            },
            // Messages received before the number was connected here are unknown: Meta decides.
            None => Window {
                state: "unknown",
                expires_at: None,
            },
        }
    }

    fn to_json(&self) -> Value {
        json!({ "state": self.state, "expires_at": self.expires_at })
    }
}

/// Checks a template message against the connection's synced templates: it must exist in that language,
/// be approved, and get as many body parameters as it has. Before the first sync nothing can be known,
/// and Meta has the last word.
fn check_template(
    conn: &rusqlite::Connection,
    account: AccountId,
    connection: ConnectionId,
    template: &Option<Value>,
) -> Result<()> {
    let Some(template) = template else {
        return Ok(());
    };
    if !templates::synced(conn, account, connection)? {
        return Ok(());
    }
    let name = template["name"].as_str().unwrap_or_default();
    let language = template["language"]["code"].as_str().unwrap_or_default();
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
    let given = template["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            c["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("body"))
        })
        .map(|c| c["parameters"].as_array().map_or(0, Vec::len) as i64)
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
pub(crate) fn to_json(db: &Db, message: &StoredMessage) -> Result<Value> {
    let key = db.keyring().data_key(message.account_id)?;
    let to = key.open(
        &messages::recipient_place(message.account_id, message.id),
        &message.recipient,
    )?;
    let body = key.open(
        &messages::body_place(message.account_id, message.id),
        &message.body,
    )?;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let error = message.error_code.map(|code| {
        json!({
            "code": code,
            "title": message.error_title,
            "details": message.error_details,
            "explanation": errors::explain(code),
        })
    });
    Ok(json!({
        "id": message.id.get().to_string(),
        "connection_id": message.connection_id.get().to_string(),
        "to": format!("+{}", String::from_utf8_lossy(&to)),
        "type": message.kind,
        "status": message.status,
        "wamid": message.wamid,
        "attempts": message.attempts,
        "error": error,
        "message": body.get(&message.kind),
        "timestamps": {
            "created": message.created_at,
            "sent": message.sent_at,
            "delivered": message.delivered_at,
            "read": message.read_at,
            "failed": message.failed_at,
        },
    }))
}

#[get("/api/v1/messages/<id>")]
async fn get_message(
    id: &str,
    auth: ApiAuth,
    visible: Visible,
    db: &State<Db>,
) -> Result<Json<Value>> {
    let id = MessageId::from_raw(id.parse().map_err(|_| Error::NotFound)?);
    let view_db = db.inner().clone();
    let message = db
        .read_async(move |conn| {
            let message =
                messages::find(conn, auth.account, id, visible)?.ok_or(Error::NotFound)?;
            let mut view = to_json(&view_db, &message)?;
            // What Meta reported, in order, as its webhooks said it (duplicates stored once).
            let reported: Vec<Value> = crate::store::statuses::timeline(
                conn,
                auth.account,
                id,
                visible,
            )?
            .into_iter()
            .map(|(status, at, code)| json!({"status": status, "at": at, "error_code": code}))
            .collect();
            view["status_events"] = json!(reported);
            Ok(view)
        })
        .await?;
    Ok(Json(message))
}

#[get("/api/v1/messages")]
async fn list_messages(
    auth: ApiAuth,
    visible: Visible,
    query: Query,
    db: &State<Db>,
) -> Result<Json<Value>> {
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
    let limit = query.limit(PageSize {
        default: 50,
        max: 200,
    })?;
    let filter = ListFilter {
        status,
        connection: query.id("connection_id")?.map(ConnectionId::from_raw),
        recipient_index,
        since: query.time("since")?,
        until: query.time("until")?,
        before: query
            .number("cursor", 0..=i64::MAX, "the next_cursor of an earlier page")?
            .map(MessageId::from_raw),
        limit,
        visible,
    };
    let view_db = db.inner().clone();
    let page = db
        .read_async(move |conn| {
            messages::list(conn, auth.account, &filter)?
                .iter()
                .map(|m| to_json(&view_db, m))
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    let next = (page.len() == limit)
        .then(|| {
            page.last()
                .and_then(|m| m["id"].as_str().map(str::to_owned))
        })
        .flatten();
    Ok(Json(json!({ "data": page, "next_cursor": next })))
}
