//! Accepting a message: the one place where a message to send is checked and committed to the outbox, for
//! the API, the compose page and the inbox's reply. Meta's rules were checked when the request was read
//! ([`SendMessage::read`]); here come the connection, the template, whether the customer opted out of
//! the number's messages, the 24-hour window and the Idempotency-Key, and the store seals and commits
//! the message as `queued`.

use crate::domain::meta::message::{Content, Draft, Message, Template};
use crate::domain::meta::window::{ServiceWindow, Window};
use crate::domain::meta::{errors, validate};
use crate::error::{Error, Result};
use crate::services::billing::{Billing, Reached};
use crate::services::outbox::Waker;
use crate::store::billing_notices;
use crate::store::connections::{self, ConnectionId};
use crate::store::messages::{self, MessageId, NewMessage, StoredMessage};
use crate::store::rollups::Line;
use crate::store::states::{MessageStatus, NoticeKind, UsageEvent};
use crate::store::{AccountId, Db, contacts, idempotency, ids, now_ms, templates};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// `POST /api/v1/messages`: Meta's message JSON (Cloud API `POST /<phone-number-id>/messages`) and the
/// connection that sends it.
// Read and checked by `validate::check`, not by serde: its answers name the field in Meta's terms and
// check in a fixed order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SendMessage {
    /// Which connection (number) sends it. Ids travel as strings.
    #[schema(example = "7392017443880812033")]
    pub connection_id: String,
    #[serde(flatten)]
    pub message: Message,
}

impl SendMessage {
    /// Meta's message JSON checked against Meta's rules, then the connection that sends it.
    pub fn read(request: &Value) -> Result<SendMessage> {
        let message = validate::check(request)?;
        let connection_id = match request.get("connection_id") {
            None | Some(Value::Null) => return Err(Error::invalid("connection_id", "is required")),
            Some(Value::String(id)) => {
                id.parse::<i64>()
                    .map_err(|_| Error::invalid("connection_id", "is not an id"))?;
                id.clone()
            }
            Some(_) => {
                return Err(Error::invalid(
                    "connection_id",
                    "must be a string (ids travel as strings)",
                ));
            }
        };
        Ok(SendMessage {
            connection_id,
            message,
        })
    }

    /// A message built by a form (the compose page, an inbox reply) as the JSON the API would take (for
    /// a preview), and read from it as a request from the API would be.
    pub fn compose(draft: &Draft<'_>) -> (Value, Result<SendMessage>) {
        match serde_json::to_value(draft) {
            Ok(json) => {
                let read = SendMessage::read(&json);
                (json, read)
            }
            Err(e) => (Value::Null, Err(Error::Internal(e.into()))),
        }
    }

    /// The connection, which [`SendMessage::read`] checked is an id.
    pub fn connection(&self) -> ConnectionId {
        ConnectionId::from_raw(self.connection_id.parse().unwrap_or_default())
    }

    /// The request as it was given (ids and every field as sent), for the Idempotency-Key's digest.
    pub fn as_given(&self) -> Result<Value> {
        serde_json::to_value(self).map_err(|e| Error::Internal(e.into()))
    }
}

/// `POST /api/v1/messages`: the message is in the outbox and will be sent. A repeated Idempotency-Key
/// gets this first answer again.
// Deserialize: the first answer is kept, sealed, and read back for a repeat.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageAccepted {
    pub connection_id: String,
    pub created_at: i64,
    pub customer_service_window: ServiceWindow,
    pub id: String,
    /// `queued`.
    pub status: MessageStatus,
    pub to: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// The HTTP status of a new message's answer: accepted, not yet sent.
pub const ACCEPTED: u16 = 202;

/// What accepting a message needs besides the request: the store, the sender's waker, and the plans
/// (whether the account may send, and its month's count).
pub struct Sending<'a> {
    pub db: &'a Db,
    pub waker: &'a Waker,
    pub billing: &'a Billing,
}

/// Checks a message and commits it to the outbox; the answer to give, with its HTTP status (the first
/// answer again, and its status, for a repeated Idempotency-Key: it was counted and checked once).
pub async fn accept(
    sending: &Sending<'_>,
    account: AccountId,
    request: &SendMessage,
    idempotency_key: Option<String>,
) -> Result<(u16, MessageAccepted)> {
    let Sending { db, waker, billing } = *sending;
    // The key and what this request asks for: the key answers again only for the same request.
    let idempotency = match idempotency_key {
        Some(key) => {
            let (key_db, asked, request) = (db.clone(), key.clone(), request.as_given()?);
            let (digest, earlier) = db
                .read_async(move |conn| {
                    let keyring = key_db.keyring();
                    let digest = idempotency::request_digest(keyring, account, &request)?;
                    let earlier = idempotency::idempotent_answer(
                        conn,
                        keyring,
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
    let standing = billing.standing(db, account).await?;
    billing.check_sending(&standing, now_ms())?;
    let message = &request.message;
    let connection_id = request.connection();
    let template = match &message.content {
        Content::Template(template) => Some(template.clone()),
        _ => None,
    };
    let is_template = template.is_some();
    let key_db = db.clone();
    let to = message.recipient.clone();
    let (connection, index, contact) = db
        .read_async(move |conn| {
            let connection = connections::find(conn, account, connection_id)?
                .ok_or_else(|| Error::invalid("connection_id", "no such connection"))?;
            check_template(conn, account, connection_id, template.as_ref())?;
            let index = key_db.keyring().phone_index(account, &to)?;
            let contact = contacts::sending_state(conn, account, connection_id, &index)?;
            Ok((connection, index, contact))
        })
        .await?;
    // A customer who asked for no more messages from this number gets none, templates included.
    if let Some(opted_out_at) = contact.opted_out_at {
        return Err(Error::RecipientOptedOut { opted_out_at });
    }
    let window = Window::at(contact.last_inbound, now_ms());
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
    // Sealed here, off the writer thread, with the account's cached data key.
    let keyring = db.keyring();
    let new = messages::seal(
        keyring,
        &NewMessage {
            id,
            account_id: account,
            connection_id,
            recipient: &message.recipient,
            recipient_index: &index,
            kind,
            body: &body,
            now,
        },
    )?;
    let answer = MessageAccepted {
        connection_id: connection.id.get().to_string(),
        created_at: now,
        customer_service_window: window.into(),
        id: id.get().to_string(),
        status: MessageStatus::Queued,
        to: format!("+{}", message.recipient),
        kind: kind.to_owned(),
    };
    let idempotency = match idempotency {
        Some((name, digest)) => {
            let kept = serde_json::to_string(&answer).map_err(|e| Error::Internal(e.into()))?;
            Some((
                name,
                digest,
                idempotency::seal_answer(keyring, account, id, &kept)?,
            ))
        }
        None => None,
    };
    // The month's place is taken last, just before the write: a refusal above counts nothing.
    let place = billing
        .usage
        .reserve(db, account, standing.plan.messages_per_month, now)
        .await?;
    let notice = place.reaches().map(|reached| {
        let kind = match reached {
            Reached::Most => NoticeKind::Quota80,
            Reached::All => NoticeKind::Quota100,
        };
        (kind, place.month().key())
    });
    let writer_db = db.clone();
    let first = db
        .write_async(move |conn| {
            // Checked again inside the transaction: requests with one key race to here, and the writer
            // runs one at a time, so exactly one of them inserts and the others find its answer.
            if let Some((key, digest, sealed_response)) = &idempotency {
                if let Some(earlier) = idempotency::idempotent_answer(
                    conn,
                    writer_db.keyring(),
                    account,
                    key,
                    digest,
                    now,
                )? {
                    return Ok(Some(earlier));
                }
                messages::insert(conn, &new)?;
                let kept = idempotency::KeptAnswer {
                    key,
                    message: id,
                    status: ACCEPTED,
                    sealed_response,
                    request_digest: digest,
                };
                idempotency::remember_answer(conn, account, &kept, now)?;
            } else {
                messages::insert(conn, &new)?;
            }
            if let Some((kind, month)) = &notice {
                // With the message, so that the owner's email about the quota goes exactly once.
                billing_notices::queue(conn, account, *kind, month, now)?;
            }
            Ok(None)
        })
        .await?;
    if let Some(earlier) = first {
        // Another request with the key won the race; this one counts nothing (`place` is dropped).
        return kept_answer(earlier);
    }
    place.keep();
    db.tally().add(
        Line::new(account, UsageEvent::Accepted, now)
            .connection(connection_id)
            .kind(kind),
    );
    waker.wake();
    Ok((ACCEPTED, answer))
}

/// A request that does not read as a message is refused, unless its Idempotency-Key already answered:
/// that answer was for another request (only messages get one), so the key's reuse is the error, as for
/// any other request under a used key. (A key kept before requests were compared answers again.)
pub async fn refused_unless_key_used(
    db: &Db,
    account: AccountId,
    idempotency_key: Option<String>,
    refused: Error,
) -> Result<(u16, MessageAccepted)> {
    let Some(key) = idempotency_key else {
        return Err(refused);
    };
    let key_db = db.clone();
    let earlier = db
        .read_async(move |conn| {
            // No request has an empty digest: an answer kept under the key is for another request.
            idempotency::idempotent_answer(conn, key_db.keyring(), account, &key, &[], now_ms())
        })
        .await?;
    match earlier {
        Some(earlier) => kept_answer(earlier),
        None => Err(refused),
    }
}

/// The first answer to an Idempotency-Key, as it was given.
fn kept_answer((status, body): (u16, String)) -> Result<(u16, MessageAccepted)> {
    let answer = serde_json::from_str(&body).map_err(|e| Error::Internal(e.into()))?;
    Ok((status, answer))
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

/// A message sent through the API or the web interface.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    /// How many times sending was tried.
    pub attempts: i64,
    pub connection_id: String,
    /// Why Meta refused or failed it, if it did.
    pub error: Option<MessageError>,
    pub id: String,
    /// The object named by `type`, as it was sent.
    #[schema(value_type = Object)]
    pub message: Value,
    pub status: MessageStatus,
    pub timestamps: Timestamps,
    pub to: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Meta's id for the message, once sent.
    pub wamid: Option<String>,
}

/// Meta's error for a message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageError {
    pub code: i64,
    pub details: Option<String>,
    /// What to do about it, for the codes the server knows.
    pub explanation: Option<String>,
    pub title: Option<String>,
}

/// When the message reached each state, in milliseconds since the epoch.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Timestamps {
    pub created: i64,
    pub delivered: Option<i64>,
    pub failed: Option<i64>,
    pub read: Option<i64>,
    pub sent: Option<i64>,
}

/// The message as the API shows it, with recipient and body opened by the store.
pub fn view(db: &Db, message: &StoredMessage) -> Result<MessageView> {
    let to = messages::open_recipient(db.keyring(), message)?;
    let body = messages::open_body(db.keyring(), message)?;
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
        to: format!("+{to}"),
        kind: message.kind.clone(),
        wamid: message.wamid.clone(),
    })
}

/// [`view`] as JSON, for the pages that show a message.
pub fn to_json(db: &Db, message: &StoredMessage) -> Result<Value> {
    serde_json::to_value(view(db, message)?).map_err(|e| Error::Internal(e.into()))
}
