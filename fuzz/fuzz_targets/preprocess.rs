//! Any bytes as a picture, two ways: as an image file given to `predict` (decoding PNG, JPEG,
//! PGM under limits, then the 28×28 preprocessing), and as raw grey levels straight into
//! nn-core's no_std preprocessing (the first two bytes give the width, the rest are pixels
//! as little-endian f32s, NaN and infinities included). Each must return a typed error or an
//! image, never panic or exhaust memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_core::preprocess::{preprocess, scratch_len};
use nn_data::preprocess::{from_bytes, render_ascii};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(pixels) = from_bytes(bytes) {
        assert_eq!(render_ascii(&pixels).lines().count(), 28);
    }
    if let [lo, hi, rest @ ..] = bytes {
        let width = usize::from(u16::from_le_bytes([*lo, *hi]) % 64).max(1);
        let mut grey: Vec<f32> = rest
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let height = grey.len() / width;
        grey.truncate(width * height);
        let mut scratch = vec![0.0; scratch_len(width, height)];
        let mut out = [0u8; 784];
        if preprocess(&mut grey, width, height, &mut scratch, &mut out).is_ok() {
            assert!(out.contains(&255), "the strongest ink is 255");
        }
    }
});
