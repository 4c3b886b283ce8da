//! What nn-data's test files share.
//!
//! Each test file compiles its own copy of this module and uses part of it.
#![allow(dead_code)]

use std::path::Path;

/// How many MNIST test digits the repository carries.
pub const COMMITTED_DIGITS: usize = 100;

/// The first 100 MNIST test images and their labels, as committed for the firmware's
/// self-test (`firmware/data/`, cut from the IDX files as `firmware/README.md` shows): real
/// digits for a test that must not need the network. `data.rs` checks them against MNIST.
pub fn committed_digits() -> (Vec<[u8; 784]>, Vec<u8>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/data");
    let images = std::fs::read(dir.join("t10k-100-images.bin")).expect("firmware/data images");
    let labels = std::fs::read(dir.join("t10k-100-labels.bin")).expect("firmware/data labels");
    assert_eq!(images.len(), COMMITTED_DIGITS * 784);
    assert_eq!(labels.len(), COMMITTED_DIGITS);
    let images = images
        .chunks_exact(784)
        .map(|c| c.try_into().expect("784 bytes"))
        .collect();
    (images, labels)
}

/// The real MNIST test labels file (10,008 bytes, committed in `tests/fixtures/`): a file
/// whose SHA-256 is the official one, for the fetcher's tests to serve from a local server.
pub fn real_test_labels() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/t10k-labels-idx1-ubyte");
    std::fs::read(path).expect("tests/fixtures/t10k-labels-idx1-ubyte")
}
