//! The sender pool. One dispatcher thread decides who sends next (`schedule`: fair by account, then by
//! connection, each connection paced at its `throughput_mps`) and claims exactly as many messages as
//! there are idle workers, only from connections that may send now; workers (`deliver`) make one call to
//! Meta each and record the outcome. A message is claimed only when it is about to be sent, so its lease
//! covers one call, never a wait, and a message this process holds is never claimed a second time; one
//! left `sending` by a process that died is sent again at the next start (at least once, never lost).
//!
//! The pool is sized by Little's law: calls in flight = what the numbers with messages ready may send
//! per second × Meta's observed latency (with a margin), between `min_workers` and `max_workers`.
//! Threads are started when that grows, and leave after a while idle when there are more than the least.

mod deliver;
mod recorder;
mod schedule;

use crate::services::health::{self, Beat};
use crate::services::outbox::Waker;
use crate::store::connections::{self, ConnectionId};
use crate::store::messages::{self, StoredMessage};
use crate::store::{Db, now_ms};
use parking_lot::Mutex;
use schedule::{Schedule, Seen};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often the dispatcher looks at the outbox without being told of new work (retries come due).
const LOOK_EVERY: Duration = Duration::from_millis(200);
/// The least time between two looks: new work arriving in a stream is looked for in batches.
const LOOK_GAP: Duration = Duration::from_millis(10);
/// A worker idle this long leaves, if more than the least are left.
const IDLE_EXIT: Duration = Duration::from_secs(30);
/// Meta's latency assumed before any call was measured: generous, so a first burst finds workers.
const FIRST_LATENCY_US: u64 = 200_000;

/// What the dispatcher is told.
pub(crate) enum Event {
    /// A message was queued.
    NewWork,
    /// A worker finished its call.
    WorkerFree,
    /// Meta asked this number to slow down.
    Pause(ConnectionId, Instant),
}

pub(crate) struct Shared {
    db: Db,
    agent: ureq::Agent,
    targets: Mutex<HashMap<ConnectionId, Arc<deliver::Target>>>,
    stop: AtomicBool,
    /// Worker threads alive.
    live: AtomicUsize,
    /// Messages handed out and not yet finished: the idle workers are `live - in_flight`.
    in_flight: AtomicUsize,
    min_workers: usize,
    /// Meta's latency, a moving average over calls (µs).
    latency_us: AtomicU64,
    recorder: recorder::Recorder,
}

impl Shared {
    /// A call to Meta took this long: the moving average follows it by an eighth.
    pub(crate) fn observe_latency(&self, took: Duration) {
        let sample = took.as_micros().min(u64::MAX as u128) as u64;
        let old = self.latency_us.load(Ordering::Relaxed);
        self.latency_us
            .store(old - old / 8 + sample / 8, Ordering::Relaxed);
    }
}

pub struct SenderPool {
    shared: Arc<Shared>,
    events: mpsc::Sender<Event>,
    dispatcher: JoinHandle<()>,
}

/// How the pool runs: its workers, the Graph API agent they share (it calls only the addresses the
/// operator allows) and how long a claimed message stays with its worker.
pub struct PoolSettings {
    pub min_workers: usize,
    pub max_workers: usize,
    pub agent: ureq::Agent,
    pub lease: Duration,
}

impl SenderPool {
    pub fn start(db: Db, settings: PoolSettings, waker: &Waker) -> SenderPool {
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
        let recorder = recorder::Recorder::start(db.clone());
        let shared = Arc::new(Shared {
            db,
            agent: settings.agent,
            targets: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            min_workers: settings.min_workers.max(1),
            latency_us: AtomicU64::new(FIRST_LATENCY_US),
            recorder,
        });
        // Never more queued here than workers are idle: the dispatcher claims only for them.
        let (work, queue) = mpsc::channel::<StoredMessage>();
        let (events, received) = mpsc::channel();
        let wake_events = Mutex::new(events.clone());
        waker.connect(move || {
            let _ = wake_events.lock().send(Event::NewWork);
        });
        let workers = Workers {
            shared: shared.clone(),
            queue: Arc::new(Mutex::new(queue)),
            events: events.clone(),
            max: settings.max_workers.max(settings.min_workers).max(1),
            started: Vec::new(),
        };
        let dispatcher = shared.clone();
        let lease = settings.lease;
        let dispatcher = thread::Builder::new()
            .name("sender-dispatch".into())
            .spawn(move || dispatch(&dispatcher, work, &received, lease, workers))
            .expect("cannot start the sender dispatcher");
        SenderPool {
            shared,
            events,
            dispatcher,
        }
    }

    /// Stops claiming; every worker finishes the call to Meta it is making, and messages handed to a
    /// worker that has not called yet go back to the queue. Waits until `deadline` at most: a call
    /// still unanswered then stays in flight (`sending`), and the next start sends its message again.
    pub fn stop(self, deadline: Instant) {
        self.shared.stop.store(true, Ordering::Relaxed);
        let _ = self.events.send(Event::NewWork);
        if !super::join_by(self.dispatcher, deadline) {
            tracing::warn!(
                calls = self.shared.in_flight.load(Ordering::Acquire),
                "calls to Meta were still unanswered when the time to stop ran out \
                 ([server] shutdown_secs); their messages are sent again at the next start"
            );
        }
    }
}

/// The worker threads, started by the dispatcher as the pool grows.
struct Workers {
    shared: Arc<Shared>,
    queue: Arc<Mutex<mpsc::Receiver<StoredMessage>>>,
    events: mpsc::Sender<Event>,
    max: usize,
    started: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Calls in flight the numbers with work could use now (Little's law, a quarter more, at least
    /// the least); the pool grows to it.
    fn grow_to(&mut self, ready_per_second: f64) {
        let latency = self.shared.latency_us.load(Ordering::Relaxed) as f64 / 1e6;
        let wanted = ((ready_per_second * latency * 1.25).ceil() as usize)
            .clamp(self.shared.min_workers, self.max);
        while self.shared.live.load(Ordering::Acquire) < wanted {
            let (shared, queue, events) =
                (self.shared.clone(), self.queue.clone(), self.events.clone());
            shared.live.fetch_add(1, Ordering::AcqRel);
            let n = self.started.len();
            self.started.push(
                thread::Builder::new()
                    .name(format!("sender-{n}"))
                    .stack_size(256 * 1024)
                    .spawn(move || work_loop(&shared, &queue, &events))
                    .expect("cannot start a sender thread"),
            );
        }
        self.started.retain(|t| !t.is_finished());
    }

    /// Waits for every worker's call to finish (the queue is closed by then).
    fn join(self) {
        drop(self.queue);
        for thread in self.started {
            let _ = thread.join();
        }
    }
}

/// The connections with queued work, their pace, and when their earliest message is due.
fn look(db: &Db) -> crate::error::Result<Vec<Seen>> {
    let (now_wall, now) = (now_ms(), Instant::now());
    db.read(|conn| {
        let paces: HashMap<_, _> = connections::active_paces(conn)?
            .into_iter()
            .map(|(connection, account, mps)| (connection, (account, mps)))
            .collect();
        Ok(messages::queued_connections(conn)?
            .into_iter()
            // A held connection has no lane: its messages wait.
            .filter_map(|(connection, due)| {
                let &(account, mps) = paces.get(&connection)?;
                let wait = Duration::from_millis(due.saturating_sub(now_wall).max(0) as u64);
                Some(Seen {
                    connection,
                    account,
                    mps,
                    due_at: now + wait,
                })
            })
            .collect())
    })
}

fn dispatch(
    shared: &Shared,
    work: mpsc::Sender<StoredMessage>,
    events: &mpsc::Receiver<Event>,
    lease: Duration,
    mut workers: Workers,
) {
    dispatch_until_stopped(shared, &work, events, lease, &mut workers);
    drop(work);
    workers.join();
}

fn dispatch_until_stopped(
    shared: &Shared,
    work: &mpsc::Sender<StoredMessage>,
    events: &mpsc::Receiver<Event>,
    lease: Duration,
    workers: &mut Workers,
) {
    let mut schedule = Schedule::default();
    let mut look_wanted = true;
    let mut last_look = Instant::now() - LOOK_EVERY;
    while !shared.stop.load(Ordering::Relaxed) {
        health::beat(Beat::Sender);
        let now = Instant::now();
        let look_due =
            now >= last_look + LOOK_EVERY || (look_wanted && now >= last_look + LOOK_GAP);
        if look_due {
            match look(&shared.db) {
                Ok(seen) => schedule.refresh(seen, now),
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the outbox");
                    thread::sleep(Duration::from_secs(1));
                    continue;
                }
            }
            (last_look, look_wanted) = (now, false);
            workers.grow_to(schedule.ready_per_second());
        }
        let free = shared
            .live
            .load(Ordering::Acquire)
            .saturating_sub(shared.in_flight.load(Ordering::Acquire));
        let picked = if free > 0 {
            schedule.pick(free, now)
        } else {
            Vec::new()
        };
        if !picked.is_empty() {
            let now_wall = now_ms();
            let lease_until = now_wall + lease.as_millis() as i64;
            let claimed = shared.db.write(move |conn| {
                picked
                    .into_iter()
                    .map(|(connection, wanted)| {
                        let rows = messages::claim_for_connection(
                            conn,
                            connection,
                            now_wall,
                            wanted,
                            lease_until,
                        )?;
                        Ok((connection, wanted, rows))
                    })
                    .collect::<crate::error::Result<Vec<_>>>()
            });
            match claimed {
                Ok(claimed) => {
                    for (connection, wanted, rows) in claimed {
                        if rows.len() < wanted {
                            schedule.claimed_fewer(connection, wanted - rows.len());
                        }
                        for message in rows {
                            shared.in_flight.fetch_add(1, Ordering::AcqRel);
                            if work.send(message).is_err() {
                                return;
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim messages to send");
                    thread::sleep(Duration::from_secs(1));
                }
            }
            continue;
        }
        // Nothing may be sent now: wait for news, the next token or due time, or the next look.
        let mut until = last_look + if look_wanted { LOOK_GAP } else { LOOK_EVERY };
        if free > 0
            && let Some(ready) = schedule.next_ready(now)
        {
            until = until.min(ready);
        }
        let wait = until
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        match events.recv_timeout(wait) {
            Ok(event) => {
                let mut next = Some(event);
                // Take in everything already sent, so a stream of news costs one pass.
                while let Some(event) = next {
                    match event {
                        Event::NewWork => look_wanted = true,
                        Event::WorkerFree => {}
                        Event::Pause(connection, until) => schedule.pause(connection, until),
                    }
                    next = events.try_recv().ok();
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn work_loop(
    shared: &Shared,
    queue: &Mutex<mpsc::Receiver<StoredMessage>>,
    events: &mpsc::Sender<Event>,
) {
    loop {
        let next = queue.lock().recv_timeout(IDLE_EXIT);
        match next {
            // Stopping: a message not sent yet goes back to the queue for the next start.
            Ok(message) if shared.stop.load(Ordering::Relaxed) => {
                let (account, id) = (message.account_id, message.id);
                deliver::record(
                    &shared.db,
                    Arc::new(move |conn| messages::put_back(conn, account, id)),
                );
                shared.in_flight.fetch_sub(1, Ordering::AcqRel);
            }
            Ok(message) => {
                deliver::deliver(shared, &message, events);
                shared.in_flight.fetch_sub(1, Ordering::AcqRel);
                let _ = events.send(Event::WorkerFree);
            }
            // Idle for a while: leave, unless only the least are left.
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let live = shared.live.load(Ordering::Acquire);
                if live > shared.min_workers
                    && shared
                        .live
                        .compare_exchange(live, live - 1, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                {
                    return;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}
