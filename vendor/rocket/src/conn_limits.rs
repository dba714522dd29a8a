//! Connection limits (added to this copy of Rocket; see PATCHES.md).
//!
//! Upstream Rocket 0.5 accepts connections without limit and never closes one that sends nothing or
//! sends its request head one byte at a time (`header_read_timeout(None)`), so idle sockets can use up
//! the process's open files. Two settings, read from the figment, change that:
//!
//! - `idle_timeout` (seconds, 0 = never): a connection with no request in progress (before its first
//!   request head is complete, or between requests) is closed after this long.
//! - `max_connections` (0 = unlimited): at most this many connections are served at once. When a new
//!   one arrives at the limit, the connection that has been idle the longest is closed to make room
//!   (as nginx reuses idle keep-alive connections); when none is idle, the one waiting longest for its
//!   request body; when every one is busy, the new one waits (and the ones after it wait in the listen
//!   backlog) until one ends. A warning is logged, at most once a minute.
//!
//! A connection is busy from the moment a request head has been read until its response has been
//! handed to the connection. While busy, the same timeout bounds each wait for more of the request body
//! and for the client to take more of the response, so a stalled upload or download ends too; and when
//! no connection is idle at the limit, the one waiting longest for its request body is closed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

use figment::Figment;

/// Connections accepted since the process started, for a process's own reports.
static ACCEPTED: AtomicU64 = AtomicU64::new(0);

/// How many connections this process has accepted since it started.
pub fn connections_accepted() -> u64 {
    ACCEPTED.load(Ordering::Relaxed)
}

/// How often a full accept loop looks again even without a notification.
const RECHECK: Duration = Duration::from_millis(100);
/// How often the "limit reached" warning may be repeated.
const WARN_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_connections: usize,
    pub idle_timeout: Option<Duration>,
}

impl Limits {
    pub fn from_figment(figment: &Figment) -> Limits {
        let max_connections = figment.extract_inner::<usize>("max_connections").unwrap_or(0);
        let idle = figment.extract_inner::<u64>("idle_timeout").unwrap_or(0);
        Limits {
            max_connections,
            idle_timeout: (idle > 0).then(|| Duration::from_secs(idle)),
        }
    }
}

/// What the accept loop knows about every open connection.
pub(crate) struct Tracker {
    limits: Limits,
    start: Instant,
    open: AtomicUsize,
    /// Connections told to close that have not closed yet.
    closing: AtomicUsize,
    conns: Mutex<HashMap<u64, Arc<Shared>>>,
    /// Signalled when a connection ends or becomes idle: the accept loop may find room.
    room: Notify,
    last_warning: Mutex<Option<Instant>>,
}

struct Shared {
    in_flight: AtomicUsize,
    /// Milliseconds since the tracker started at which the connection last became idle.
    idle_since_ms: AtomicU64,
    /// Since when (ms since the tracker started, plus one) a request body has been waited for; 0: none.
    body_wait_since_ms: AtomicU64,
    evicted: AtomicBool,
    close: Notify,
}

/// One open connection; dropping it (when the connection's task ends) frees its place.
pub(crate) struct Slot {
    id: u64,
    shared: Arc<Shared>,
    tracker: Arc<Tracker>,
}

/// A request in progress on a connection; dropping it makes the connection idle again.
pub(crate) struct Busy {
    shared: Arc<Shared>,
    tracker: Arc<Tracker>,
}

/// Notes when a request body is being waited for, so a stalled one can be cut off or closed first.
pub(crate) struct BodyWatch {
    shared: Arc<Shared>,
    tracker: Arc<Tracker>,
}

impl Tracker {
    pub fn new(limits: Limits) -> Arc<Tracker> {
        Arc::new(Tracker {
            limits,
            start: Instant::now(),
            open: AtomicUsize::new(0),
            closing: AtomicUsize::new(0),
            conns: Mutex::new(HashMap::new()),
            room: Notify::new(),
            last_warning: Mutex::new(None),
        })
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Called with a connection just accepted (and not yet admitted): returns once it may be served,
    /// having told the longest idle connection (or, with none idle, the one waiting longest for its
    /// request body) to close if the limit is reached. The new one is never the one closed.
    pub async fn make_room(&self) {
        let max = self.limits.max_connections;
        if max == 0 {
            return;
        }
        loop {
            let open = self.open.load(Ordering::Acquire);
            if open.saturating_sub(self.closing.load(Ordering::Acquire)) < max {
                return;
            }
            self.warn_limit_reached(max);
            if !self.evict_one() {
                // Every connection is busy: wait for one to end or to become idle.
                let _ = tokio::time::timeout(RECHECK, self.room.notified()).await;
            }
        }
    }

    fn warn_limit_reached(&self, max: usize) {
        let mut last = self.last_warning.lock();
        if last.map_or(true, |at| at.elapsed() >= WARN_EVERY) {
            *last = Some(Instant::now());
            log::warn!(
                "connection limit reached: {max} connections are open; closing the longest idle ones \
                 to make room (raise [server] max_connections and the open-files limit if this is \
                 regular traffic)"
            );
        }
    }

    /// Tells one connection to close; false when none may be closed.
    fn evict_one(&self) -> bool {
        let conns = self.conns.lock();
        let candidates = || conns.values().filter(|c| !c.evicted.load(Ordering::Acquire));
        let idle = candidates()
            .filter(|c| c.in_flight.load(Ordering::Acquire) == 0)
            .min_by_key(|c| c.idle_since_ms.load(Ordering::Acquire));
        // None idle: the one waiting longest for its request body (a client that stopped sending).
        let stalled = || {
            candidates()
                .map(|c| (c, c.body_wait_since_ms.load(Ordering::Acquire)))
                .filter(|(_, since)| *since > 0)
                .min_by_key(|(_, since)| *since)
                .map(|(c, _)| c)
        };
        let Some(victim) = idle.or_else(stalled) else {
            return false;
        };
        victim.evicted.store(true, Ordering::Release);
        self.closing.fetch_add(1, Ordering::AcqRel);
        victim.close.notify_one();
        true
    }

    /// Registers a newly accepted connection.
    pub fn admit(self: &Arc<Self>) -> Slot {
        // The count of connections so far is also a name no other open connection has.
        let id = ACCEPTED.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(self.now_ms()),
            body_wait_since_ms: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            close: Notify::new(),
        });
        self.conns.lock().insert(id, shared.clone());
        self.open.fetch_add(1, Ordering::AcqRel);
        Slot { id, shared, tracker: self.clone() }
    }
}

impl Slot {
    /// Marks a request in progress until the returned guard is dropped.
    pub fn busy(&self) -> Busy {
        self.shared.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy { shared: self.shared.clone(), tracker: self.tracker.clone() }
    }

    /// Resolves when the connection must be closed: it was idle for the idle timeout, or it was chosen
    /// to make room for a new connection.
    pub async fn closed(&self) {
        let idle_timeout = self.tracker.limits.idle_timeout;
        loop {
            let wait = match idle_timeout {
                Some(timeout) if self.shared.in_flight.load(Ordering::Acquire) == 0 => {
                    let idle_for = self.tracker.now_ms()
                        .saturating_sub(self.shared.idle_since_ms.load(Ordering::Acquire));
                    let idle_for = Duration::from_millis(idle_for);
                    if idle_for >= timeout {
                        return;
                    }
                    timeout - idle_for
                }
                // Busy: look again after a whole timeout (the request's end resets the idle clock).
                Some(timeout) => timeout,
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                _ = self.shared.close.notified() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.tracker.conns.lock().remove(&self.id);
        if self.shared.evicted.load(Ordering::Acquire) {
            self.tracker.closing.fetch_sub(1, Ordering::AcqRel);
        }
        self.tracker.open.fetch_sub(1, Ordering::AcqRel);
        self.tracker.room.notify_one();
    }
}

impl Busy {
    /// Bounds each wait for the client to take more of the response.
    pub fn write_timeout(&self) -> Option<Duration> {
        self.tracker.limits.idle_timeout
    }

    pub fn body_watch(&self) -> BodyWatch {
        BodyWatch { shared: self.shared.clone(), tracker: self.tracker.clone() }
    }
}

impl BodyWatch {
    /// Bounds each wait for more of the request body.
    pub fn timeout(&self) -> Option<Duration> {
        self.tracker.limits.idle_timeout
    }

    pub fn waiting(&self) {
        let now = self.tracker.now_ms() + 1;
        let _ = self.shared.body_wait_since_ms.compare_exchange(
            0, now, Ordering::AcqRel, Ordering::Acquire);
    }

    pub fn progressed(&self) {
        self.shared.body_wait_since_ms.store(0, Ordering::Release);
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.shared.body_wait_since_ms.store(0, Ordering::Release);
        self.shared.idle_since_ms.store(self.tracker.now_ms(), Ordering::Release);
        if self.shared.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.tracker.room.notify_one();
        }
    }
}
