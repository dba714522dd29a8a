//! What the server tells systemd under `Type=notify` (`sd_notify(3)`): READY=1 once it listens and the
//! store answers, STATUS= lines during long work, WATCHDOG=1 pings while its threads answer, STOPPING=1
//! when it begins to shut down. Without `NOTIFY_SOCKET` (not started by systemd) each call does nothing.

use sd_notify::NotifyState;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn send(states: &[NotifyState]) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if let Err(e) = sd_notify::notify(states)
        && !WARNED.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(error = %e, "cannot tell systemd how the server is doing (NOTIFY_SOCKET)");
    }
}

/// A line systemd shows in `systemctl status`.
pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// A line for `systemctl status` about a step of start-up that may take long (a migration): systemd's
/// start timeout is pushed `further` from now, so a large database is not killed half-way.
pub fn working(text: &str, further: Duration) {
    let usec = u32::try_from(further.as_micros()).unwrap_or(u32::MAX);
    send(&[
        NotifyState::Status(text),
        NotifyState::ExtendTimeoutUsec(usec),
    ]);
}

/// The server is ready; `text` says what it does now.
pub fn ready(text: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(text)]);
}

/// The server is alive (only while the threads it cannot run without answer).
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// The server begins to shut down.
pub fn stopping(text: &str) {
    send(&[NotifyState::Stopping, NotifyState::Status(text)]);
}

/// How often systemd wants a ping (`WatchdogSec=`, through WATCHDOG_USEC for this process), when it
/// wants any.
pub fn watchdog_interval() -> Option<Duration> {
    std::env::var_os("NOTIFY_SOCKET")?;
    sd_notify::watchdog_enabled().filter(|every| !every.is_zero())
}
