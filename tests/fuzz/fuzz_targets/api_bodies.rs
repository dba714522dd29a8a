//! The API's request bodies as the server reads them from untrusted bytes: the JSON parse, the typed
//! request of each operation (wrong types and unknown fields refused), and the checks that need no
//! store: Meta's message rules, connection and endpoint requests. The first byte picks the operation.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use whatsapi::http::api::requests::{Operation, check_body};
use whatsapi::config::Config;

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let mut config = Config::default();
        config.server.public_url = "https://wa.test".into();
        config
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let operation = Operation::ALL[usize::from(first) % Operation::ALL.len()];
    let _ = check_body(operation, body, config());
});
