//! The tracking-token decoder must never panic, and must accept only tokens made with the
//! job's key: whatever it accepts must encode back to the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tutti_core::token::{JobKey, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let key = JobKey([7; 32]);
    if let Ok(token) = parse(text).and_then(|u| u.verify(&key)) {
        assert_eq!(token.encode(&key), text, "a token the decoder accepts encodes back to itself");
    }
});
