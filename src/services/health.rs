//! Heartbeats of the background threads that must always run: the sender's dispatcher and the
//! deliveries to customers' webhooks touch theirs each round (the dispatcher at least every fraction of
//! a second, a delivery thread before each claim and each delivery), and the operators' health page
//! says how long ago each was last seen. One set per process: the server runs one of each.

use crate::domain::now_ms;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// A thread that beats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// `sender-dispatch`: claims queued messages for the sender's workers.
    Sender,
    /// `webhooks-<n>`: deliver events to customers' endpoints (any of them).
    Deliveries,
}

impl Beat {
    pub const ALL: [Beat; 2] = [Beat::Sender, Beat::Deliveries];

    pub fn as_str(self) -> &'static str {
        match self {
            Beat::Sender => "sender",
            Beat::Deliveries => "deliveries",
        }
    }

    /// How long without a beat before the thread counts as stuck or gone: each beats far more often.
    pub fn expected_within(self) -> Duration {
        match self {
            Beat::Sender => Duration::from_secs(10),
            // A delivery may wait for a slow endpoint up to its timeout.
            Beat::Deliveries => Duration::from_secs(120),
        }
    }
}

/// Milliseconds since the epoch of each beat, 0 before the first.
static LAST: [AtomicI64; 2] = [AtomicI64::new(0), AtomicI64::new(0)];

/// The thread is alive now.
pub fn beat(which: Beat) {
    LAST[which as usize].store(now_ms(), Ordering::Relaxed);
}

/// How a thread was last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not seen since this process started.
    Never,
    /// Seen this long ago, within what it should.
    Alive(Duration),
    /// Not seen for this long: more than it should.
    Silent(Duration),
}

/// When the thread was last seen, at `now` (ms since the epoch).
pub fn seen(which: Beat, now: i64) -> Seen {
    match LAST[which as usize].load(Ordering::Relaxed) {
        0 => Seen::Never,
        at => {
            let ago = Duration::from_millis(now.saturating_sub(at).max(0) as u64);
            if ago <= which.expected_within() {
                Seen::Alive(ago)
            } else {
                Seen::Silent(ago)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beat_is_seen_alive_then_silent_once_it_is_overdue() {
        beat(Beat::Deliveries);
        let now = now_ms();
        assert!(matches!(seen(Beat::Deliveries, now), Seen::Alive(_)));
        let later = now + 121_000;
        assert!(
            matches!(seen(Beat::Deliveries, later), Seen::Silent(ago) if ago >= Duration::from_secs(120))
        );
    }
}
