//! Any bytes as an IDX file: the readers must return a typed error or data whose size agrees
//! with the header, without panicking or allocating from an unchecked count.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_data::idx::{parse_images, parse_labels};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(images) = parse_images(bytes, "fuzz-images") {
        assert_eq!(images.len() % 784, 0);
        assert!(images.len() <= bytes.len());
    }
    if let Ok(labels) = parse_labels(bytes, "fuzz-labels") {
        assert!(labels.iter().all(|&l| l < 10));
        assert!(labels.len() <= bytes.len());
    }
});
