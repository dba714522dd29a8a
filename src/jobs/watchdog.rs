//! systemd's watchdog (`WatchdogSec=`): a ping at half the interval systemd asks for, sent only while
//! the server can do its work: the store's writer commits a write that does nothing within a quarter of
//! the interval (`store::checkup`; with its queue full, it has committed since the last round), and the
//! sender's dispatcher has beaten lately (`services::health`). A writer stuck on a dead disk or a
//! dispatcher that died stops the pings, and systemd restarts the service.

use crate::services::health::{self, Beat, Seen};
use crate::store::Db;
use crate::store::checkup::Probe;
use parking_lot::Mutex;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub struct Watchdog {
    /// Set once no ping may follow; a ping is sent only while holding it unset.
    stopped: Arc<Mutex<bool>>,
    thread: JoinHandle<()>,
}

impl Watchdog {
    /// Starts pinging every half of `interval`, while the server's threads answer.
    pub fn start(db: Db, interval: Duration) -> Watchdog {
        let stopped = Arc::new(Mutex::new(false));
        let flag = stopped.clone();
        let thread = std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || run(&db, interval, &flag))
            .expect("cannot start the watchdog thread");
        Watchdog { stopped, thread }
    }

    /// No ping is sent once this returns (call it before telling systemd STOPPING=1: systemd watches a
    /// stop with its own timeout).
    pub fn halt(&self) {
        *self.stopped.lock() = true;
        self.thread.thread().unpark();
    }

    /// Halts it and lets its thread end.
    pub fn stop(self) {
        self.halt();
        let _ = super::join_by(
            self.thread,
            std::time::Instant::now() + Duration::from_secs(1),
        );
    }
}

fn run(db: &Db, interval: Duration, stopped: &Mutex<bool>) {
    let every = interval / 2;
    let bound = interval / 4;
    // Kept from round to round: a probe the writer has not answered yet, and its commits at the last look.
    let mut probe = Probe::default();
    let mut pings: u64 = 0;
    while !*stopped.lock() {
        let started = std::time::Instant::now();
        // Only the writer counts here: reads and a full disk are not cured by a restart.
        let writer = db.checkup(bound, &mut probe).writer;
        let sender = health::seen(Beat::Sender, crate::store::now_ms());
        match (writer, sender) {
            (Ok(()), Seen::Alive(_)) => {
                // The check took up to `bound`: a stop asked for meanwhile may have said STOPPING=1.
                let stopped = stopped.lock();
                if *stopped {
                    break;
                }
                crate::systemd::watchdog();
                pings += 1;
            }
            (Err(why), _) => tracing::warn!(
                "no watchdog ping: the store's writer {why} (pings sent so far: {pings})"
            ),
            (Ok(()), _) => tracing::warn!(
                "no watchdog ping: the sender has not been seen lately (pings sent so far: {pings})"
            ),
        }
        std::thread::park_timeout(every.saturating_sub(started.elapsed()));
    }
}
