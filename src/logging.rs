//! Logs go to stderr as plain lines: under systemd (JOURNAL_STREAM set) without timestamps or colours,
//! since journald adds its own. Rocket's own log lines pass through the same subscriber, kept to warnings.

use crate::config::LogLevel;
use std::io::IsTerminal;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

pub fn init(level: LogLevel) {
    let level = match level {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    };
    // Rocket announces its launch as a warning (our own "listening on" line says the same), and logs
    // per-request chatter (unmatched routes, failed guards: every visit of a signed-out person) under
    // targets ending in "::_". Both are muted; our own error responses log what matters (5xx).
    let filter = Targets::new()
        .with_target("whatsapi", level)
        .with_target("rocket::launch", LevelFilter::ERROR)
        .with_default(LevelFilter::WARN.min(level));
    let not_chatter = tracing_subscriber::filter::filter_fn(|meta| !meta.target().ends_with("::_"));
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(!journald && std::io::stderr().is_terminal())
        .with_target(false);
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(not_chatter);
    // try_init: a second call (tests) keeps the first subscriber instead of panicking.
    let _ = if journald {
        registry.with(fmt.without_time()).try_init()
    } else {
        registry.with(fmt).try_init()
    };
}
