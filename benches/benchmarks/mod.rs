//! One file per kind of work, and what they share: the criterion settings and inputs.

pub mod activations;
pub mod dense_i8;
pub mod gemv;
pub mod inference;

use std::time::Duration;

use criterion::Criterion;

/// Short runs: the SIMD/scalar ratios from one run are what matter on a noisy machine.
/// Flags on the command line (`-- --measurement-time 5`) still override these.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// The tests' seeded generator (xorshift32), so every run sees the same inputs.
pub use reference::Rng;

#[path = "../../nn-core/tests/common/reference.rs"]
mod reference;
