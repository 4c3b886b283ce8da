//! One file per kind of work, and what they share: the criterion settings and inputs.

pub mod activations;
pub mod dense_i8;
pub mod gemv;
pub mod inference;

use std::time::Duration;

use criterion::Criterion;
use nn_core::quant::{DenseI8Params, Requant};

/// Short runs: the SIMD/scalar ratios from one run are what matter on a noisy machine.
/// Flags on the command line (`-- --measurement-time 5`) still override these.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// A small deterministic generator (xorshift32), so every run sees the same inputs.
pub struct Rng(pub u32);

impl Rng {
    /// Uniform in [-1, 1).
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 >> 8) as f32 / (1 << 23) as f32 - 1.0
    }

    /// `len` values uniform in [-scale, scale).
    pub fn vec(&mut self, len: usize, scale: f32) -> Vec<f32> {
        (0..len).map(|_| self.next() * scale).collect()
    }
}

/// A version of `dense_i8(w, x, bias, requant, p, y)`.
pub type DenseI8 = fn(&[i8], &[i8], &[i32], &[Requant], DenseI8Params, &mut [i8]);
