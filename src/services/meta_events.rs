//! What Meta's webhooks carry (`http::meta_inbound` receives them; the sandbox simulates them), from a
//! signed POST to committed rows: the connection is found by its URL key, the signature checked
//! with its app secret, every number in the payload checked to be the connection's own, and then the raw
//! payload and everything parsed from it are written in one transaction.

use crate::config::{Keyword, Messaging};
use crate::domain::meta::webhook::{self as meta, Parsed, Refusal, StatusUpdate};
use crate::error::Error;
use crate::outbound::customer_webhooks::emit::Emitter;
use crate::store::connections::{self, ConnectionId, ConnectionInfo};
use crate::store::keys::Keyring;
use crate::store::live::{Change, Direction};
use crate::store::rollups::Line;
use crate::store::states::UsageEvent;
use crate::store::{
    Db, contacts, conversations, inbound, now_ms, payloads, statuses, templates, workspace,
};
use parking_lot::Mutex;
use rocket::http::Status;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// What a payload added (duplicates count nothing).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub statuses: usize,
    pub inbound: usize,
    /// The account's usage lines of what was stored, counted once it is committed.
    pub usage: Vec<Line>,
    /// The inbox's changes, published once it is committed.
    pub live: Vec<Change>,
}

#[derive(Debug)]
pub enum IngestError {
    UnknownKey,
    Signature,
    Malformed(String),
    /// The payload names a number or business account that is not this connection's.
    Foreign(String),
    Store(Error),
}

impl IngestError {
    pub fn status(&self) -> Status {
        match self {
            IngestError::UnknownKey => Status::NotFound,
            IngestError::Signature => Status::Unauthorized,
            IngestError::Malformed(_) => Status::BadRequest,
            IngestError::Foreign(_) => Status::Forbidden,
            IngestError::Store(e) => e.status(),
        }
    }

    pub fn text(&self) -> &'static str {
        match self {
            IngestError::UnknownKey => "unknown webhook",
            IngestError::Signature => "signature missing or wrong",
            IngestError::Malformed(_) => "not a WhatsApp Business Account payload",
            IngestError::Foreign(_) => "payload for a number that is not this connection's",
            IngestError::Store(_) => "not stored, retry later",
        }
    }
}

impl From<Error> for IngestError {
    fn from(e: Error) -> Self {
        IngestError::Store(e)
    }
}

/// A customer's identity for the inbox: the number, or the username id when Meta gives no number.
struct Sender {
    identity: String,
    index: Vec<u8>,
    /// The message is exactly an opt-out or opt-in word.
    keyword: Option<Keyword>,
}

/// The keyword a customer's message is, if it is one: a text, or the text of a quick-reply button (such
/// as a marketing template's "Stop promotions", when it is one of the words).
fn keyword_of(keywords: &Messaging, message: &serde_json::Value) -> Option<Keyword> {
    let text = match message.get("type").and_then(|t| t.as_str()) {
        Some("text") => message.pointer("/text/body"),
        Some("button") => message.pointer("/button/text"),
        _ => None,
    }?;
    keywords.keyword(text.as_str()?)
}

/// How long a connection's webhook credentials are trusted from memory; a changed app secret or a removed
/// connection is forgotten at once by the routes that change them.
const RECEIVER_TTL: Duration = Duration::from_secs(5);

/// What a POST to one webhook URL is checked with.
struct Receiver {
    connection: ConnectionInfo,
    secret: Zeroizing<String>,
}

/// Connections' webhook credentials by URL key, kept for a few seconds so a flood of Meta's POSTs does
/// not read and unseal them once per POST.
/// They also know the words customers opt out and back in with (`[messaging]`).
#[derive(Default)]
pub struct Receivers {
    recent: Mutex<HashMap<String, (Instant, Arc<Receiver>)>>,
    keywords: Arc<Messaging>,
}

impl Receivers {
    pub fn new(keywords: Messaging) -> Receivers {
        Receivers {
            recent: Mutex::default(),
            keywords: Arc::new(keywords),
        }
    }

    fn get(&self, key: &str) -> Option<Arc<Receiver>> {
        let recent = self.recent.lock();
        recent
            .get(key)
            .filter(|(at, _)| at.elapsed() < RECEIVER_TTL)
            .map(|(_, receiver)| receiver.clone())
    }

    fn remember(&self, key: String, receiver: Arc<Receiver>) {
        let mut recent = self.recent.lock();
        recent.retain(|_, (at, _)| at.elapsed() < RECEIVER_TTL);
        recent.insert(key, (Instant::now(), receiver));
    }

    /// Forgets a connection whose secret changed or that was removed.
    pub fn forget(&self, connection: ConnectionId) {
        self.recent
            .lock()
            .retain(|_, (_, r)| r.connection.id != connection);
    }
}

/// Bodies above this are hashed and parsed on a blocking thread rather than on the async executor.
const INLINE_BYTES: usize = 64 * 1024;

/// A checked payload, ready for its transaction.
struct Prepared {
    parsed: Parsed,
    payload_id: i64,
    sealed: Vec<u8>,
    senders: Vec<Sender>,
}

pub async fn ingest(
    db: &Db,
    receivers: &Receivers,
    key: &str,
    signature: Option<&str>,
    body: Vec<u8>,
) -> Result<Ingested, IngestError> {
    let receiver = match receivers.get(key) {
        Some(receiver) => receiver,
        None => {
            let receiver = lookup(db, key).await?.ok_or(IngestError::UnknownKey)?;
            receivers.remember(key.to_owned(), receiver.clone());
            receiver
        }
    };
    let signature = signature.map(str::to_owned);
    let (checking, sealing_db) = (receiver.clone(), db.clone());
    let small = body.len() <= INLINE_BYTES;
    let keywords = receivers.keywords.clone();
    let work = move || {
        prepare(
            &checking,
            sealing_db.keyring(),
            signature.as_deref(),
            &body,
            &keywords,
        )
    };
    let prepared = if small {
        work()?
    } else {
        crate::blocking::run("webhook check", work)
            .await
            .map_err(IngestError::Store)??
    };
    let store_db = db.clone();
    let account = receiver.connection.account_id;
    let ingested = db
        .write_async(move |conn| {
            let connection = &receiver.connection;
            store(conn, connection, &prepared, store_db.keyring())
        })
        .await?;
    db.tally().add_all(ingested.usage.iter().cloned());
    db.live().publish(account, ingested.live.iter().cloned());
    Ok(ingested)
}

/// A status in the usage: delivered, read and failed (a message is counted sent when Meta takes it, not
/// again when its `sent` status comes), with Meta's pricing category and error code.
fn status_usage(
    connection: &ConnectionInfo,
    update: &StatusUpdate,
    kind: &str,
    now: i64,
) -> Option<Line> {
    let event = match update.status.as_str() {
        "delivered" => UsageEvent::Delivered,
        "read" => UsageEvent::Read,
        "failed" => UsageEvent::Failed,
        _ => return None,
    };
    let line = Line::new(connection.account_id, event, now)
        .connection(connection.id)
        .kind(kind)
        .pricing(update.pricing.as_deref().unwrap_or(""));
    Some(match &update.error {
        Some(error) if event == UsageEvent::Failed => line.error(error.code),
        _ => line,
    })
}

async fn lookup(db: &Db, key: &str) -> Result<Option<Arc<Receiver>>, IngestError> {
    let (lookup_db, key) = (db.clone(), key.to_owned());
    Ok(db
        .read_async(move |conn| {
            let Some(connection) = connections::find_by_webhook_key(conn, &key)? else {
                return Ok(None);
            };
            let keyring = lookup_db.keyring();
            let secret = connections::secrets(conn, keyring, connection.account_id, connection.id)?
                .app_secret;
            Ok(Some(Arc::new(Receiver { connection, secret })))
        })
        .await?)
}

/// Checks, parses and seals a payload (CPU work: hashing, JSON, encryption).
fn prepare(
    receiver: &Receiver,
    keyring: &Keyring,
    signature: Option<&str>,
    body: &[u8],
    keywords: &Messaging,
) -> Result<Prepared, IngestError> {
    let connection = &receiver.connection;
    let account = connection.account_id;
    let parsed = check(connection, &receiver.secret, signature, body)?;
    let payload_id = crate::store::ids::time_ordered()?;
    let sealed = payloads::seal(keyring, account, payload_id, body)?;
    let senders = parsed
        .inbound
        .iter()
        .map(|m| {
            let identity = m
                .from
                .clone()
                .or_else(|| {
                    m.message
                        .get("from_user_id")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            let index = keyring.phone_index(account, &identity)?;
            let keyword = keyword_of(keywords, &m.message);
            Ok(Sender {
                identity,
                index,
                keyword,
            })
        })
        .collect::<crate::error::Result<_>>()?;
    Ok(Prepared {
        parsed,
        payload_id,
        sealed,
        senders,
    })
}

/// Signature first, then the parse, then whether every number in it is this connection's.
fn check(
    connection: &ConnectionInfo,
    secret: &Zeroizing<String>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<Parsed, IngestError> {
    let parsed =
        meta::verify_and_parse(secret.as_bytes(), signature, body).map_err(|r| match r {
            Refusal::Signature => IngestError::Signature,
            Refusal::Malformed(why) => IngestError::Malformed(why),
        })?;
    let foreign_number = parsed
        .phone_number_ids
        .iter()
        .find(|id| **id != connection.phone_number_id);
    let foreign_account = parsed
        .business_account_ids
        .iter()
        .find(|id| **id != connection.waba_id);
    if let Some(foreign) = foreign_number.or(foreign_account) {
        tracing::warn!(
            connection = connection.id.get(),
            "refused a webhook payload for {foreign}, which is not this connection's number or business account"
        );
        return Err(IngestError::Foreign(foreign.clone()));
    }
    Ok(parsed)
}

fn store(
    conn: &rusqlite::Connection,
    connection: &ConnectionInfo,
    prepared: &Prepared,
    keyring: &Keyring,
) -> crate::error::Result<Ingested> {
    let Prepared {
        parsed,
        payload_id,
        sealed,
        senders,
    } = prepared;
    let payload_id = *payload_id;
    let (account, now) = (connection.account_id, now_ms());
    payloads::insert(conn, payload_id, account, connection.id, sealed, now)?;
    let mut added = Ingested::default();
    let events = Emitter::new(conn, keyring, account, now);
    for update in &parsed.statuses {
        if let Some(applied) = statuses::apply(conn, account, payload_id, update, now)? {
            added.statuses += 1;
            added
                .usage
                .extend(status_usage(connection, update, &applied.kind, now));
            added.live.push(Change::Status {
                contact: conversations::contact_of_message(conn, account, applied.message)?,
                message: applied.message.get(),
                status: update.status.clone(),
            });
            events.message_status(
                applied.message.get(),
                connection.id,
                &update.status,
                Some(&update.wamid),
                update.at,
                update.error.as_ref(),
            )?;
        }
    }
    for (message, sender) in parsed.inbound.iter().zip(senders) {
        let customer = contacts::Customer {
            identity: &sender.identity,
            index: &sender.index,
            profile_name: message.profile_name.as_deref(),
        };
        let contact =
            contacts::record_inbound(conn, keyring, account, connection.id, &customer, message.at)?;
        let origin = inbound::Origin {
            account,
            connection: connection.id,
            contact,
            payload: payload_id,
        };
        if let Some(id) = inbound::insert(conn, keyring, origin, message, now)? {
            if let Some(keyword) = sender.keyword {
                crate::services::contacts::apply_keyword(
                    conn, keyring, account, contact, keyword, message.at,
                )?;
            }
            added.inbound += 1;
            added.usage.push(
                Line::new(account, UsageEvent::Inbound, now)
                    .connection(connection.id)
                    .kind(&message.kind),
            );
            events.message_received(id, connection.id, message)?;
            workspace::reopen(conn, account, contact, now)?;
            added.live.push(Change::Message {
                contact,
                message: id,
                direction: Direction::Inbound,
                unread: Some(conversations::unread(conn, account, contact)?),
            });
        }
    }
    for template in &parsed.templates {
        let review = templates::Review {
            name: &template.name,
            language: &template.language,
            status: &template.status,
            reason: template.reason.as_deref(),
        };
        templates::set_status(conn, account, connection.id, &review)?;
        events.template_status(connection.id, template)?;
    }
    if parsed.quality.is_some() || parsed.account_notice.is_some() {
        connections::record_meta_update(
            conn,
            account,
            connection.id,
            parsed
                .quality
                .as_ref()
                .map(|(q, l)| (q.as_str(), l.as_deref())),
            parsed.account_notice.as_deref(),
            now,
        )?;
        let (quality, limit) = parsed.quality.clone().unzip();
        events.connection_updated(
            connection.id,
            json!({"quality_rating": quality, "messaging_limit": limit.flatten(),
                   "account_notice": parsed.account_notice}),
        )?;
    }
    Ok(added)
}
