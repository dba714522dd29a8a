//! Plain types and rules that every layer shares and that do no I/O.

pub mod client;
pub mod lang;
pub mod meta;

/// The time now, in milliseconds since the Unix epoch: how every table records time.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
