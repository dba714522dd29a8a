//! SIGTERM, SIGINT and SIGHUP from the first instruction of `main`.
//!
//! Until a command says otherwise, a SIGTERM or SIGINT is only recorded: the start-up of `serve` and
//! `migrate` looks at it between its stages (before the key and the database, between two migrations,
//! before the server listens) and stops there cleanly instead of dying half-way. A SIGHUP is ignored
//! while the server starts, so a log rotation's HUP cannot kill it; after that another handler may give
//! it a meaning (tokio's, which chains with these: every handler registered through signal-hook's
//! registry runs). Commands that have nothing to stop cleanly call `keep_default`: the signals then do
//! what they always did (end the process), and one that came before is acted on at once.
//!
//! Once the server listens, `fairing` hands a stop to Rocket, whose own graceful shutdown takes over; a
//! signal that arrived between the last start-up check and Rocket's own handlers is not lost.

use rocket::fairing::{AdHoc, Fairing};
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGTERM};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The first stop signal received (its number), 0 before any.
static STOP: AtomicUsize = AtomicUsize::new(0);
/// Set when the signals should act as the system's defaults do (end the process).
static DEFAULT: AtomicBool = AtomicBool::new(false);

/// Installs the handlers. Call it first in `main`, before any thread exists.
pub fn install() -> std::io::Result<()> {
    for signal in [SIGTERM, SIGINT] {
        signal_hook::flag::register_usize(signal, &STOP, signal as usize)?;
        signal_hook::flag::register_conditional_default(signal, &DEFAULT)?;
    }
    signal_hook::flag::register_conditional_default(SIGHUP, &DEFAULT)?;
    Ok(())
}

/// For commands that have nothing to stop cleanly: the signals end the process as they would without
/// a handler; one received already does so now.
pub fn keep_default() {
    DEFAULT.store(true, Ordering::SeqCst);
    let signal = STOP.load(Ordering::SeqCst);
    if signal != 0 {
        let _ = signal_hook::low_level::emulate_default_handler(signal as i32);
    }
}

/// The stop a signal asked for, if one did.
pub fn stop_requested() -> Option<Stopped> {
    match STOP.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(Stopped(signal as i32)),
    }
}

/// Returns `Err` once a stop was asked for: the start-up stops at this stage.
pub fn check() -> Result<(), Stopped> {
    stop_requested().map_or(Ok(()), Err)
}

/// A stop asked for by a signal during start-up; not an error of the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stopped during start-up at {}", self.name())]
pub struct Stopped(i32);

impl Stopped {
    pub fn name(&self) -> &'static str {
        match self.0 {
            SIGTERM => "SIGTERM",
            SIGINT => "SIGINT",
            _ => "a signal",
        }
    }
}

/// Hands a stop to Rocket once it runs: one that came during start-up (after the last check) starts its
/// graceful shutdown at once, and one that comes now is seen even before Rocket listens for signals
/// itself.
pub fn fairing() -> impl Fairing {
    AdHoc::on_liftoff("stop signals", |rocket| {
        Box::pin(async move {
            use rocket::tokio::signal::unix::{SignalKind, signal};
            let shutdown = rocket.shutdown();
            // Listening first, then looking at the flag: a signal is either in the flag or heard.
            let streams = [SignalKind::terminate(), SignalKind::interrupt()].map(signal);
            if stop_requested().is_some() {
                shutdown.notify();
                return;
            }
            for stream in streams.into_iter().flatten() {
                let shutdown = shutdown.clone();
                let mut stream = stream;
                rocket::tokio::spawn(async move {
                    if stream.recv().await.is_some() {
                        shutdown.notify();
                    }
                });
            }
        })
    })
}
