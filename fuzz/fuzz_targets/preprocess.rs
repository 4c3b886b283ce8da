//! Any bytes as an image file given to `predict`: decoding (PNG, JPEG, PGM, with limits) and
//! preprocessing to a 28×28 must return a typed error or an image, never panic or exhaust memory.
#![no_main]

use host_trainer::preprocess::{from_bytes, render_ascii};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(pixels) = from_bytes(bytes) {
        assert_eq!(render_ascii(&pixels).lines().count(), 28);
    }
});
