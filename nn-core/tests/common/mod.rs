//! What nn-core's test files share: the CRC-32 reference and a seeded generator
//! ([`reference`], also used by the root crate's tests and benches), and what "MNIST-like"
//! means for a preprocessed digit ([`mnist_like`]).
//!
//! Each test file compiles its own copy of this module and uses part of it.
#![allow(dead_code)]

pub mod mnist_like;
pub mod reference;

#[allow(unused_imports, reason = "each test file uses part of it")]
pub use reference::{Rng, cobs_reference, crc32_reference, frame_of};
