//! The sandbox's status webhooks: after it accepts a message it posts `sent`, `delivered` and `read` to
//! the connection's webhook URL, each after its delay, signed with the app secret as Meta signs. Like
//! Meta it batches what is due for one number into one POST (up to 1,000 statuses) and retries a POST
//! that was not answered 200, with backoff, for about ten minutes, so a receiver that restarts in
//! between still gets every status.

use super::events::{StatusEvent, statuses_payload};
use parking_lot::Mutex;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Meta's own ceiling on updates per POST.
const BATCH_MAX: usize = 1_000;
/// Backoff doubles from one second up to this; after `GIVE_UP_AFTER` attempts a status is dropped.
const BACKOFF_CAP: Duration = Duration::from_secs(30);
const GIVE_UP_AFTER: u32 = 25;

pub use crate::config::SandboxDelays as Delays;

/// Where a number's webhooks go and the secret they are signed with.
pub struct Target {
    pub url: String,
    pub secret: Zeroizing<String>,
    pub waba_id: String,
    pub phone_number_id: String,
}

/// A message the sandbox accepted, whose statuses are to follow.
pub struct Accepted {
    pub target: Arc<Target>,
    pub wamid: String,
    pub recipient: String,
    pub callback: Option<String>,
}

/// Statuses whose POST was answered 200, as (wamid, status), when the feed keeps count.
pub type Acknowledged = Arc<Mutex<Vec<(String, &'static str)>>>;

/// Hands accepted messages to the thread that posts their statuses; the thread ends when this is dropped.
pub struct StatusFeed {
    sender: mpsc::Sender<Accepted>,
    acknowledged: Option<Acknowledged>,
}

impl StatusFeed {
    /// `keep_count`: remember every acknowledged status (the standalone simulator reports them, so a
    /// crash test can check that each one the receiver acknowledged was stored).
    pub fn start(delays: Delays, keep_count: bool) -> StatusFeed {
        let (sender, receiver) = mpsc::channel();
        let acknowledged = keep_count.then(Acknowledged::default);
        let record = acknowledged.clone();
        std::thread::Builder::new()
            .name("sandbox-statuses".into())
            .spawn(move || run(&receiver, delays, record.as_ref()))
            .expect("a thread can be started");
        StatusFeed {
            sender,
            acknowledged,
        }
    }

    pub fn acknowledged(&self) -> Vec<(String, &'static str)> {
        self.acknowledged
            .as_ref()
            .map_or_else(Vec::new, |a| a.lock().clone())
    }

    pub fn accepted(&self, accepted: Accepted) {
        // The thread only stops when the feed is dropped, so a failed send has nowhere to go.
        let _ = self.sender.send(accepted);
    }
}

struct Pending {
    due: Instant,
    order: u64,
    attempts: u32,
    target: Arc<Target>,
    event: StatusEvent,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    // Reversed: the heap pops the earliest due first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.order).cmp(&(self.due, self.order))
    }
}

fn run(receiver: &mpsc::Receiver<Accepted>, delays: Delays, acknowledged: Option<&Acknowledged>) {
    // Posts to the connections' webhook URLs, which are this server's own (or the one the standalone
    // simulator was given): not Graph API calls.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    let mut queue: BinaryHeap<Pending> = BinaryHeap::new();
    let mut order = 0u64;
    let mut schedule = |queue: &mut BinaryHeap<Pending>, accepted: Accepted| {
        let now = Instant::now();
        for (status, delay) in [
            ("sent", delays.sent),
            ("delivered", delays.delivered),
            ("read", delays.read),
        ] {
            order += 1;
            queue.push(Pending {
                due: now + delay,
                order,
                attempts: 0,
                target: accepted.target.clone(),
                event: StatusEvent {
                    wamid: accepted.wamid.clone(),
                    status,
                    recipient: accepted.recipient.clone(),
                    callback: accepted.callback.clone(),
                    at_seconds: (crate::store::now_ms() + delay.as_millis() as i64) / 1000,
                },
            });
        }
    };
    loop {
        let wait = queue.peek().map_or(Duration::from_secs(3600), |p| {
            p.due.saturating_duration_since(Instant::now())
        });
        match receiver.recv_timeout(wait) {
            Ok(accepted) => {
                schedule(&mut queue, accepted);
                while let Ok(more) = receiver.try_recv() {
                    schedule(&mut queue, more);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        let mut due: HashMap<*const Target, Vec<Pending>> = HashMap::new();
        while queue.peek().is_some_and(|p| p.due <= now) {
            let pending = queue.pop().expect("peeked");
            due.entry(Arc::as_ptr(&pending.target))
                .or_default()
                .push(pending);
        }
        for (_, mut group) in due {
            while !group.is_empty() {
                let batch: Vec<Pending> = group.drain(..group.len().min(BATCH_MAX)).collect();
                if post(&agent, &batch) {
                    if let Some(acknowledged) = acknowledged {
                        acknowledged.lock().extend(
                            batch
                                .iter()
                                .map(|p| (p.event.wamid.clone(), p.event.status)),
                        );
                    }
                } else {
                    for mut pending in batch {
                        pending.attempts += 1;
                        if pending.attempts < GIVE_UP_AFTER {
                            pending.due = Instant::now() + backoff(pending.attempts);
                            queue.push(pending);
                        }
                    }
                }
            }
        }
    }
}

fn backoff(attempts: u32) -> Duration {
    Duration::from_secs(1 << attempts.min(5)).min(BACKOFF_CAP)
}

/// One signed POST; true when the receiver answered 200.
fn post(agent: &ureq::Agent, batch: &[Pending]) -> bool {
    let target = &batch[0].target;
    let events: Vec<StatusEvent> = batch.iter().map(|p| p.event.clone()).collect();
    let body = statuses_payload(&target.waba_id, &target.phone_number_id, &events);
    let signature = crate::domain::meta::webhook::sign(target.secret.as_bytes(), &body);
    match agent
        .post(&target.url)
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", &signature)
        .send(&body[..])
    {
        Ok(response) => response.status() == 200,
        Err(_) => false,
    }
}
