//! The sender pool: one dispatcher claims due messages from the outbox and hands them to worker threads,
//! which pace each connection with a token bucket at its throughput, call Meta synchronously, and record
//! what happened. A message whose lease runs out (its process died) is claimed again: at least once,
//! never lost. While the outbox is idle the dispatcher only reads; a new message wakes it at once.

use crate::events::emit::Emitter;
use crate::meta::errors::{ErrorClass, classify};
use crate::meta::graph::{self, SendError};
use crate::store::connections::{self, ConnectionId, ConnectionInfo};
use crate::store::messages::{self, StoredMessage};
use crate::store::{AccountId, Db, now_ms};
use crate::webhooks::meta::MetaError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// How long a claimed message belongs to its sender before another may take it.
const LEASE_MS: i64 = 60_000;
/// How often an idle dispatcher looks for retries that came due.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// A message not sent within this time fails instead of being retried forever.
const MAX_AGE_MS: i64 = 24 * 3_600_000;
const MAX_BACKOFF_MS: i64 = 5 * 60_000;
/// Connections (and their unsealed tokens) are re-read this often, so edits take effect.
const TARGET_TTL: Duration = Duration::from_secs(10);

/// What a worker writes once Meta has answered.
type Outcome = Box<dyn FnOnce(&rusqlite::Connection) -> crate::error::Result<()> + Send>;

struct Target {
    info: ConnectionInfo,
    token: Zeroizing<String>,
    loaded: Instant,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
    paused_until: Instant,
}

struct Shared {
    db: Db,
    agent: ureq::Agent,
    targets: Mutex<HashMap<ConnectionId, Arc<Target>>>,
    buckets: Mutex<HashMap<ConnectionId, Bucket>>,
    stop: AtomicBool,
}

pub struct SenderPool {
    shared: Arc<Shared>,
    wake: mpsc::Sender<()>,
    threads: Vec<JoinHandle<()>>,
}

/// Lets the API wake the dispatcher as soon as a message is committed.
#[derive(Default)]
pub struct Waker(Mutex<Option<mpsc::Sender<()>>>);

impl Waker {
    pub fn wake(&self) {
        if let Some(wake) = self.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = wake.send(());
        }
    }
}

impl SenderPool {
    /// Starts the pool; `agent` is the Graph API agent (it calls only the addresses the operator allows).
    pub fn start(db: Db, workers: usize, waker: &Waker, agent: ureq::Agent) -> SenderPool {
        match db.write(|conn| messages::release_orphans(conn, now_ms())) {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                messages = n,
                "resending messages that were in flight when the last run stopped"
            ),
            Err(e) => {
                tracing::error!(error = %e, "cannot release messages claimed before the restart")
            }
        }
        let shared = Arc::new(Shared {
            db,
            agent,
            targets: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
        });
        let workers = workers.max(1);
        // Bounded: when every worker is busy the dispatcher waits instead of claiming more.
        let (work, queue) = mpsc::sync_channel::<StoredMessage>(workers);
        let queue = Arc::new(Mutex::new(queue));
        let (wake, woken) = mpsc::channel();
        *waker.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(wake.clone());
        let mut threads: Vec<JoinHandle<()>> = (0..workers)
            .map(|n| {
                let (shared, queue) = (shared.clone(), queue.clone());
                thread::Builder::new()
                    .name(format!("sender-{n}"))
                    .stack_size(256 * 1024)
                    .spawn(move || work_loop(&shared, &queue))
                    .expect("cannot start a sender thread")
            })
            .collect();
        let dispatcher = shared.clone();
        threads.push(
            thread::Builder::new()
                .name("sender-dispatch".into())
                .spawn(move || dispatch(&dispatcher, work, &woken, workers))
                .expect("cannot start the sender dispatcher"),
        );
        SenderPool {
            shared,
            wake,
            threads,
        }
    }

    /// Lets every worker finish the call it is making, then stops.
    pub fn stop(self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        let _ = self.wake.send(());
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

fn dispatch(
    shared: &Shared,
    work: mpsc::SyncSender<StoredMessage>,
    woken: &mpsc::Receiver<()>,
    batch: usize,
) {
    while !shared.stop.load(Ordering::Relaxed) {
        let due = shared
            .db
            .read(|conn| messages::any_due(conn, now_ms()))
            .unwrap_or(true);
        if !due {
            let _ = woken.recv_timeout(IDLE_POLL);
            continue;
        }
        match shared
            .db
            .write(move |conn| messages::claim_due(conn, now_ms(), batch, LEASE_MS))
        {
            Ok(claimed) => {
                for message in claimed {
                    if work.send(message).is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot claim messages to send");
                thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

fn work_loop(shared: &Shared, queue: &Mutex<mpsc::Receiver<StoredMessage>>) {
    loop {
        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
        match next {
            Ok(message) => deliver(shared, &message),
            Err(_) => return,
        }
    }
}

fn target(
    shared: &Shared,
    account: AccountId,
    id: ConnectionId,
) -> crate::error::Result<Arc<Target>> {
    let cached = shared
        .targets
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .cloned();
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
    shared
        .targets
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, target.clone());
    Ok(target)
}

/// Waits for a token of the connection's bucket (throughput_mps per second, bursts up to one second's worth).
fn take_token(shared: &Shared, id: ConnectionId, mps: i64) {
    loop {
        let wait = {
            let mut buckets = shared.buckets.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let bucket = buckets.entry(id).or_insert(Bucket {
                tokens: mps as f64,
                refilled: now,
                paused_until: now,
            });
            if bucket.paused_until > now {
                bucket.paused_until - now
            } else {
                bucket.tokens = (bucket.tokens
                    + now.duration_since(bucket.refilled).as_secs_f64() * mps as f64)
                    .min(mps as f64);
                bucket.refilled = now;
                if bucket.tokens >= 1.0 {
                    bucket.tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - bucket.tokens) / mps as f64)
            }
        };
        thread::sleep(wait);
    }
}

fn pause(shared: &Shared, id: ConnectionId, for_ms: i64) {
    let mut buckets = shared.buckets.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(bucket) = buckets.get_mut(&id) {
        bucket.paused_until = Instant::now() + Duration::from_millis(for_ms as u64);
        bucket.tokens = 0.0;
    }
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

/// Fails a message for good and tells the account's webhook endpoints.
fn fail(shared: &Shared, message: &StoredMessage, error: MetaError, now: i64) -> Outcome {
    let (db, id, account, connection) = (
        shared.db.clone(),
        message.id,
        message.account_id,
        message.connection_id,
    );
    Box::new(move |conn| {
        if messages::mark_failed(conn, id, error.code, &error.title, &error.details, now)? {
            let key = db.keyring().data_key(account)?;
            let events = Emitter::new(conn, &key, account, now);
            events.message_status(id.0, connection, "failed", None, now, Some(&error))?;
        }
        Ok(())
    })
}

fn deliver(shared: &Shared, message: &StoredMessage) {
    let record = |work: Outcome| {
        if let Err(e) = shared.db.write(work) {
            tracing::error!(error = %e, "cannot record a send outcome; the lease will hand the message out again");
        }
    };
    let id = message.id;
    let now = now_ms();
    if now - message.created_at > MAX_AGE_MS {
        let (code, title) = (
            message.error_code.unwrap_or(0),
            "Not sent within 24 hours".to_owned(),
        );
        let details = message.error_title.clone().unwrap_or_default();
        return record(fail(
            shared,
            message,
            MetaError {
                code,
                title,
                details,
            },
            now,
        ));
    }
    let target = match target(shared, message.account_id, message.connection_id) {
        Ok(target) => target,
        Err(e) => {
            tracing::error!(error = %e, message = id.0, "cannot load the message's connection");
            let at = now + backoff_ms(message.attempts);
            return record(Box::new(move |conn| messages::retry_at(conn, id, at, None)));
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
            return record(fail(shared, message, error, now));
        }
    };
    take_token(shared, target.info.id, target.info.throughput_mps);
    let info = &target.info;
    let result = graph::send_message(
        &shared.agent,
        &info.graph_base_url,
        &info.graph_version,
        &info.phone_number_id,
        &target.token,
        &body,
    );
    let now = now_ms();
    match result {
        Ok(wamid) => record(Box::new(move |conn| {
            messages::mark_sent(conn, id, &wamid, now)
        })),
        Err(SendError::Network(reason)) => {
            tracing::warn!(message = id.0, %reason, "sending failed; will retry");
            let at = now + backoff_ms(message.attempts);
            record(Box::new(move |conn| messages::retry_at(conn, id, at, None)))
        }
        // Saved before the address was checked, or the operator's list changed since: nothing is
        // sent, and the queue waits for the connection to be changed.
        Err(SendError::Refused(reason)) => {
            let detail = format!(
                "{reason}: {} is not allowed; change the connection's graph_base_url to resume sending",
                info.graph_base_url
            );
            record(hold(shared, message.account_id, info.id, detail, now));
            record(Box::new(move |conn| {
                messages::retry_at(conn, id, now, None)
            }))
        }
        Err(SendError::Meta(error)) => {
            let (code, title, details) = (error.code, error.title, error.details);
            let class = classify(code);
            let at = match class {
                ErrorClass::RetrySoon => now + backoff_ms(message.attempts),
                ErrorClass::BackOffNumber => {
                    let wait = backoff_ms(message.attempts).max(2000);
                    pause(shared, info.id, wait);
                    now + wait
                }
                ErrorClass::BackOffRecipient => {
                    now + 1000 * 4i64.pow(message.attempts.clamp(1, 6) as u32 - 1)
                }
                ErrorClass::CredentialsBroken => {
                    let detail = format!(
                        "Meta refused the access token (#{code} {title}); update it to resume sending"
                    );
                    record(hold(shared, message.account_id, info.id, detail, now));
                    now
                }
                ErrorClass::Final => {
                    let error = MetaError {
                        code,
                        title,
                        details,
                    };
                    return record(fail(shared, message, error, now));
                }
            };
            record(Box::new(move |conn| {
                messages::retry_at(conn, id, at, Some((code, &title, &details)))
            }))
        }
    }
}

/// Holds a connection's queue (its messages wait, none fails) until the connection is changed, and tells
/// the account's webhook endpoints.
fn hold(
    shared: &Shared,
    account: AccountId,
    connection: ConnectionId,
    detail: String,
    now: i64,
) -> Outcome {
    shared
        .targets
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&connection);
    let db = shared.db.clone();
    Box::new(move |conn| {
        connections::set_state(conn, connection, "held", &detail)?;
        let key = db.keyring().data_key(account)?;
        let events = Emitter::new(conn, &key, account, now);
        events.connection_updated(
            connection,
            serde_json::json!({"state": "held", "state_detail": detail}),
        )
    })
}

fn open_body(db: &Db, message: &StoredMessage) -> crate::error::Result<serde_json::Value> {
    let key = db.keyring().data_key(message.account_id)?;
    let plain = key.open(
        &messages::body_place(message.account_id, message.id),
        &message.body,
    )?;
    let mut body: serde_json::Value =
        serde_json::from_slice(&plain).map_err(|e| crate::error::Error::Internal(e.into()))?;
    // Meta echoes this in every status webhook: how a status finds its message even before the wamid is known.
    body["biz_opaque_callback_data"] = serde_json::Value::String(message.id.0.to_string());
    Ok(body)
}
