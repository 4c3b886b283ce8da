//! The hot loops of inference, each in two versions with one contract:
//! [`scalar`] is the plain reference, written to be read; [`simd`] is the fast one.
//! The functions in this module pick one in a single place: SIMD unless the
//! `scalar-kernels` feature asks for the twins.
//!
//! Every kernel takes plain slices, so it is compiled once whatever the model's sizes.

pub mod scalar;
pub mod m4f;
pub mod simd;

#[cfg(feature = "scalar-kernels")]
use scalar as chosen;
#[cfg(not(feature = "scalar-kernels"))]
use simd as chosen;

/// `y ← W x + b`. `w` is `(rows, cols)` row-major, `x` is `(cols)`, `b` and `y` are `(rows)`.
///
/// # Panics
/// If the lengths disagree (`w.len() != y.len() * x.len()`, `b.len() != y.len()`).
#[inline]
pub fn gemv_bias(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    chosen::gemv_bias(w, x, b, y)
}

/// `x_i ← 1 / (1 + e^-x_i)`, in place.
#[inline]
pub fn sigmoid(x: &mut [f32]) {
    chosen::sigmoid(x)
}

/// `x_i ← max(x_i, 0)`, in place.
#[inline]
pub fn relu(x: &mut [f32]) {
    chosen::relu(x)
}

/// `x_i ← e^(x_i - max x) / Σ_j e^(x_j - max x)`, in place.
#[inline]
pub fn softmax(x: &mut [f32]) {
    chosen::softmax(x)
}

/// The index of the largest element (the first one on ties); 0 for an empty slice.
#[inline]
pub fn argmax(x: &[f32]) -> usize {
    chosen::argmax(x)
}
