//! Meta's webhook path as the server runs it on untrusted bytes: the signature check, then the parse.
//! Half the inputs are signed with the secret, so the parser sees arbitrary bodies too.

#![no_main]

use libfuzzer_sys::fuzz_target;
use whatsapi::domain::meta::webhook::{sign, verify_and_parse};

const SECRET: &[u8] = b"fuzzing-app-secret";

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let signature = if first % 2 == 0 {
        sign(SECRET, body)
    } else {
        String::from_utf8_lossy(&data[..data.len().min(80)]).into_owned()
    };
    let _ = verify_and_parse(SECRET, Some(&signature), body);
});
