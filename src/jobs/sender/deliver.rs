//! One message, one call to Meta: open it, send it with the connection's token, and record what Meta
//! said (sent, a retry later, a pause for the number, a held queue, or failed for good). Runs on a sender
//! worker, which was handed the message only once its connection had a pacing token.

use super::{Event, Shared};
use crate::domain::meta::errors::{ErrorClass, classify};
use crate::domain::meta::webhook::MetaError;
use crate::outbound::customer_webhooks::emit::Emitter;
use crate::outbound::graph::{Graph, SendError};
use crate::store::connections::{self, ConnectionId};
use crate::store::messages::{self, Sent, StoredMessage};
use crate::store::rollups::Line;
use crate::store::states::{ConnectionState, MessageStatus, UsageEvent};
use crate::store::{AccountId, Db, now_ms};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// A message not sent within this time fails instead of being retried forever.
const MAX_AGE_MS: i64 = 24 * 3_600_000;
const MAX_BACKOFF_MS: i64 = 5 * 60_000;
/// Connections (and their unsealed tokens) are re-read this often, so edits take effect.
const TARGET_TTL: Duration = Duration::from_secs(10);
/// How many times an outcome is written again before it is left to the next start.
const RECORD_TRIES: u32 = 5;

/// What a worker writes once Meta has answered (again, if the first write failed).
type Outcome = Arc<dyn Fn(&rusqlite::Connection) -> crate::error::Result<()> + Send + Sync>;

pub(super) struct Target {
    info: connections::ConnectionInfo,
    token: zeroize::Zeroizing<String>,
    loaded: Instant,
}

pub(super) fn target(
    shared: &Shared,
    account: AccountId,
    id: ConnectionId,
) -> crate::error::Result<Arc<Target>> {
    let cached = shared.targets.lock().get(&id).cloned();
    if let Some(target) = cached.filter(|t| t.loaded.elapsed() < TARGET_TTL) {
        return Ok(target);
    }
    let db = shared.db.clone();
    let (info, secrets) = shared.db.read(|conn| {
        let info = connections::find(conn, account, id)?.ok_or(crate::error::Error::NotFound)?;
        Ok((info, connections::secrets(conn, db.keyring(), account, id)?))
    })?;
    let target = Arc::new(Target {
        info,
        token: secrets.access_token,
        loaded: Instant::now(),
    });
    shared.targets.lock().insert(id, target.clone());
    Ok(target)
}

/// Writes an outcome, trying again for a few seconds if the store refuses it: the call to Meta was made,
/// so the outcome must not be lost. Given up, the message stays `sending` and the next start sends it
/// again (at least once). A failed write left nothing behind, so writing it again is safe.
pub(super) fn record(db: &Db, work: Outcome) {
    written(db, work);
}

/// `record`, saying whether the outcome was written (and may be told to the inbox).
pub(super) fn recorded(db: &Db, work: Outcome) -> bool {
    written(db, work)
}

/// `record`, saying whether the outcome was written.
fn written(db: &Db, work: Outcome) -> bool {
    for attempt in 1..=RECORD_TRIES {
        let this = work.clone();
        match db.write(move |conn| this(conn)) {
            Ok(()) => return true,
            Err(e) if attempt == RECORD_TRIES => {
                tracing::error!(error = %e, "cannot record a send outcome; the next start sends the message again");
                return false;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot record a send outcome yet; trying again");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    false
}

/// Capped exponential backoff with jitter: 1 s, 2 s, 4 s ... up to 5 minutes, ±20%.
fn backoff_ms(attempts: i64) -> i64 {
    let base = 1000i64
        .saturating_mul(1 << attempts.clamp(1, 20).saturating_sub(1))
        .min(MAX_BACKOFF_MS);
    let jitter = crate::crypto::random_bytes::<2>()
        .map(u16::from_be_bytes)
        .unwrap_or(0) as i64;
    base * (80 + jitter % 41) / 100
}

/// Fails a message for good and tells the account's webhook endpoints; counts it in the account's usage
/// once that is written (and only if it was not failed already).
fn fail(shared: &Shared, message: &StoredMessage, error: MetaError, now: i64) {
    let (db, id, account, connection) = (
        shared.db.clone(),
        message.id,
        message.account_id,
        message.connection_id,
    );
    let counted = usage_line(message, UsageEvent::Failed, now).error(error.code);
    // Set by the last run of the write, the one that was committed.
    let marked = Arc::new(AtomicBool::new(false));
    let marking = marked.clone();
    let work: Outcome = Arc::new(move |conn| {
        marking.store(false, Ordering::Relaxed);
        if messages::mark_failed(
            conn,
            account,
            id,
            error.code,
            &error.title,
            &error.details,
            now,
        )? {
            let events = Emitter::new(conn, db.keyring(), account, now);
            events.message_status(
                id.get(),
                connection,
                MessageStatus::Failed.as_str(),
                None,
                now,
                Some(&error),
            )?;
            marking.store(true, Ordering::Relaxed);
        }
        Ok(())
    });
    if written(&shared.db, work) && marked.load(Ordering::Relaxed) {
        shared.db.tally().add(counted);
        crate::services::conversations::publish_statuses(
            &shared.db,
            &[(account, id)],
            MessageStatus::Failed,
        );
    }
}

/// The message's line in its account's usage.
fn usage_line(message: &StoredMessage, event: UsageEvent, now: i64) -> Line {
    Line::new(message.account_id, event, now)
        .connection(message.connection_id)
        .kind(&message.kind)
}

pub(super) fn deliver(shared: &Shared, message: &StoredMessage, events: &mpsc::Sender<Event>) {
    let record = |work: Outcome| record(&shared.db, work);
    let (account, id) = (message.account_id, message.id);
    let now = now_ms();
    if now - message.created_at > MAX_AGE_MS {
        let (code, title) = (
            message.error_code.unwrap_or(0),
            "Not sent within 24 hours".to_owned(),
        );
        let details = message.error_title.clone().unwrap_or_default();
        crate::metrics::send("failed", "expired", account.get());
        return fail(
            shared,
            message,
            MetaError {
                code,
                title,
                details,
            },
            now,
        );
    }
    let target = match target(shared, message.account_id, message.connection_id) {
        Ok(target) => target,
        Err(e) => {
            tracing::error!(error = %e, message = id.get(), "cannot load the message's connection");
            crate::metrics::send("retried", "connection_unreadable", account.get());
            let at = now + backoff_ms(message.attempts);
            return record(Arc::new(move |conn| {
                messages::retry_at(conn, account, id, at, None)
            }));
        }
    };
    let body = match open_body(&shared.db, message) {
        Ok(body) => body,
        Err(e) => {
            let error = MetaError {
                code: 0,
                title: "The message cannot be read".into(),
                details: e.to_string(),
            };
            crate::metrics::send("failed", "unreadable", account.get());
            return fail(shared, message, error, now);
        }
    };
    let info = &target.info;
    let calling = Instant::now();
    let result =
        Graph::of(&shared.agent, info, &target.token).send_message(&info.phone_number_id, &body);
    shared.observe_latency(calling.elapsed());
    let (outcome, class) = outcome_of(&result);
    crate::metrics::send(outcome, class, account.get());
    let now = now_ms();
    match result {
        Ok(wamid) => {
            shared.recorder.sent(Sent {
                account,
                id,
                wamid,
                at: now,
            });
            shared
                .db
                .tally()
                .add(usage_line(message, UsageEvent::Sent, now));
        }
        Err(SendError::Network(reason)) => {
            tracing::warn!(message = id.get(), %reason, "sending failed; will retry");
            let at = now + backoff_ms(message.attempts);
            record(Arc::new(move |conn| {
                messages::retry_at(conn, account, id, at, None)
            }))
        }
        // Saved before the address was checked, or the operator's list changed since: nothing is
        // sent, and the queue waits for the connection to be changed.
        Err(SendError::Refused(reason)) => {
            let detail = format!(
                "{reason}; change the connection's graph_base_url ({}) to resume sending",
                info.graph_base_url
            );
            record(hold(shared, message, detail, None, now))
        }
        Err(SendError::Meta(error)) => {
            let (code, title, details) = (error.code, error.title, error.details);
            let class = classify(code);
            let at = match class {
                ErrorClass::RetrySoon => now + backoff_ms(message.attempts),
                ErrorClass::BackOffNumber => {
                    let wait = backoff_ms(message.attempts).max(2000);
                    let until = Instant::now() + Duration::from_millis(wait as u64);
                    let _ = events.send(Event::Pause(info.id, until));
                    now + wait
                }
                ErrorClass::BackOffRecipient => {
                    now + 1000 * 4i64.pow(message.attempts.clamp(1, 6) as u32 - 1)
                }
                ErrorClass::CredentialsBroken => {
                    let detail = format!(
                        "Meta refused the access token (#{code} {title}); update it to resume sending"
                    );
                    return record(hold(
                        shared,
                        message,
                        detail,
                        Some((code, title, details)),
                        now,
                    ));
                }
                ErrorClass::Final => {
                    let error = MetaError {
                        code,
                        title,
                        details,
                    };
                    return fail(shared, message, error, now);
                }
            };
            record(Arc::new(move |conn| {
                messages::retry_at(conn, account, id, at, Some((code, &title, &details)))
            }))
        }
    }
}

/// What became of a message after its call to Meta, for the metrics: its outcome, and the class of
/// what went wrong.
fn outcome_of(result: &Result<String, SendError>) -> (&'static str, &'static str) {
    match result {
        Ok(_) => ("sent", "none"),
        Err(SendError::Network(_)) => ("retried", "network"),
        Err(SendError::Refused(_)) => ("held", "not_allowed"),
        Err(SendError::Meta(error)) => match classify(error.code) {
            ErrorClass::CredentialsBroken => ("held", ErrorClass::CredentialsBroken.as_str()),
            ErrorClass::Final => ("failed", ErrorClass::Final.as_str()),
            class => ("retried", class.as_str()),
        },
    }
}

/// Holds a connection's queue (its messages wait, none fails) until the connection is changed, tells the
/// account's webhook endpoints, and puts `message` back in the queue with Meta's error on it, in one write.
fn hold(
    shared: &Shared,
    message: &StoredMessage,
    detail: String,
    error: Option<(i64, String, String)>,
    now: i64,
) -> Outcome {
    let (id, account, connection) = (message.id, message.account_id, message.connection_id);
    shared.targets.lock().remove(&connection);
    let db = shared.db.clone();
    Arc::new(move |conn| {
        let error = error.as_ref().map(|(c, t, d)| (*c, t.as_str(), d.as_str()));
        messages::retry_at(conn, account, id, now, error)?;
        connections::set_state(conn, account, connection, ConnectionState::Held, &detail)?;
        let events = Emitter::new(conn, db.keyring(), account, now);
        events.connection_updated(
            connection,
            serde_json::json!({"state": ConnectionState::Held, "state_detail": detail}),
        )
    })
}

fn open_body(db: &Db, message: &StoredMessage) -> crate::error::Result<serde_json::Value> {
    let plain = messages::open_body(db.keyring(), message)?;
    let mut body: serde_json::Value =
        serde_json::from_slice(&plain).map_err(|e| crate::error::Error::Internal(e.into()))?;
    // Meta echoes this in every status webhook: how a status finds its message even before the wamid is known.
    body["biz_opaque_callback_data"] = serde_json::Value::String(message.id.get().to_string());
    Ok(body)
}
