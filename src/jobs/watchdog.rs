//! systemd's watchdog (`WatchdogSec=`): a ping at half the interval systemd asks for, sent only while
//! the server can do its work: the store's writer commits a write that does nothing within a quarter of
//! the interval, and the sender's dispatcher has beaten lately (`services::health`). A writer stuck on a
//! dead disk or a dispatcher that died stops the pings, and systemd restarts the service.

use crate::services::health::{self, Beat, Seen};
use crate::store::Db;
use crate::store::writer::Queued;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct Watchdog {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Watchdog {
    /// Starts pinging every half of `interval`, while the server's threads answer.
    pub fn start(db: Db, interval: Duration) -> Watchdog {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || run(&db, interval, &stopped))
            .expect("cannot start the watchdog thread");
        Watchdog { stop, thread }
    }

    /// Stops pinging (the server is shutting down: systemd watches a stop with its own timeout).
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.thread().unpark();
        let _ = super::join_by(
            self.thread,
            std::time::Instant::now() + Duration::from_secs(1),
        );
    }
}

fn run(db: &Db, interval: Duration, stop: &AtomicBool) {
    let every = interval / 2;
    let bound = interval / 4;
    // A probe the writer has not answered yet: no second one is queued behind it.
    let mut waiting: Option<Queued<()>> = None;
    let mut pings: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let started = std::time::Instant::now();
        let writer = writer_answers(db, &mut waiting, bound);
        let sender = health::seen(Beat::Sender, crate::store::now_ms());
        match (writer, sender) {
            (Ok(()), Seen::Alive(_)) => {
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

/// Whether the writer committed a write that does nothing within `bound`; why not when it did not.
fn writer_answers(
    db: &Db,
    waiting: &mut Option<Queued<()>>,
    bound: Duration,
) -> Result<(), String> {
    let probe = match waiting.take() {
        Some(probe) => probe,
        None => db
            .probe_writer()
            .map_err(|e| format!("refused a write ({e})"))?,
    };
    match probe.wait_for(bound) {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(format!("failed a write ({e})")),
        None => {
            *waiting = Some(probe);
            Err(format!("did not answer within {bound:?}"))
        }
    }
}
