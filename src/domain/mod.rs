//! Plain types and rules that every layer shares and that do no I/O.

pub mod client;
pub mod lang;
pub mod meta;
pub mod phone;
pub mod stripe;
pub mod two_step;
pub mod user_agent;

/// The time now, in milliseconds since the Unix epoch: how every table records time.
pub fn now_ms() -> i64 {
    let now = chrono::Utc::now().timestamp_millis();
    #[cfg(debug_assertions)]
    let now = now + test_clock::offset_ms();
    now
}

/// Tests move the server's clock forward (a trial that ends, a month that rolls over) by writing a
/// number of milliseconds into the file named by `WAPI_TEST_CLOCK_FILE`. Only debug builds read
/// it: a release build's clock is the system's.
#[cfg(debug_assertions)]
mod test_clock {
    use std::path::PathBuf;
    use std::sync::OnceLock;

    // Not WHATSAPI_: those are configuration keys.
    pub const VARIABLE: &str = "WAPI_TEST_CLOCK_FILE";

    pub fn offset_ms() -> i64 {
        static FILE: OnceLock<Option<PathBuf>> = OnceLock::new();
        let Some(file) = FILE.get_or_init(|| std::env::var_os(VARIABLE).map(PathBuf::from)) else {
            return 0;
        };
        std::fs::read_to_string(file)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0)
    }
}
