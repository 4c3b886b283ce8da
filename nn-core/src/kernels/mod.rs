//! The hot loops of inference, each in two versions with one contract:
//! [`scalar`] is the plain reference, written to be read; [`simd`] is the fast one.
//! The functions in this module pick one in a single place: SIMD unless the
//! `scalar-kernels` feature asks for the twins.
//!
//! Every kernel takes plain slices, so it is compiled once whatever the model's sizes,
//! and works in place on any length, 0 included. The contracts below hold for both
//! versions; each version's measured error is written above it, and `tests/kernels.rs`
//! checks every version against the twin and an f64 reference.
//!
//! Non-finite inputs: the inference API rejects them before any kernel runs, so the
//! NaN behaviour below is documented for completeness, not relied on.

pub mod m4f;
pub mod scalar;
pub mod simd;

#[cfg(feature = "scalar-kernels")]
use scalar as chosen;
#[cfg(not(feature = "scalar-kernels"))]
use simd as chosen;

/// Which version the functions of this module run: `"scalar"` or `"simd"`.
pub const CHOSEN: &str = if cfg!(feature = "scalar-kernels") {
    "scalar"
} else {
    "simd"
};

/// `y ← W x + b`. `w` is `(rows, cols)` row-major, `x` is `(cols)`, `b` and `y` are `(rows)`;
/// `y` need not be initialised.
///
/// Error: the sum order differs between versions, so results agree to
/// `|y_i − exact| ≤ (cols + 1) · 2⁻²⁴ · (Σ_j |w_ij x_j| + |b_i|)` (first order), not bit
/// for bit.
///
/// # Panics
/// If the lengths disagree (`w.len() != y.len() * x.len()`, `b.len() != y.len()`).
#[inline]
pub fn gemv_bias(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    chosen::gemv_bias(w, x, b, y)
}

/// `x_i ← 1 / (1 + e^-x_i)`, in place.
///
/// Never overflows, for any input: within 2e-7 absolute of the exact value everywhere
/// (both versions measure 8.9e-8). NaN stays NaN; ±∞ give 1 and 0.
#[inline]
pub fn sigmoid(x: &mut [f32]) {
    chosen::sigmoid(x)
}

/// `x_i ← max(x_i, 0)`, in place. Exact; NaN stays NaN.
#[inline]
pub fn relu(x: &mut [f32]) {
    chosen::relu(x)
}

/// `x_i ← e^(x_i - max x) / Σ_j e^(x_j - max x)`, in place.
///
/// Stable: for finite inputs of any size (±1e4 included) there is no overflow and no NaN,
/// every output `p_i` is within `(5e-7 + |x_i − max x| · 2⁻²⁴) · p_i` of the exact value
/// (the second term is the rounding of the f32 difference `x_i − max x`; terms below
/// e^-87 of the largest may be 0), and the outputs sum to 1 within 1e-6. A NaN anywhere,
/// a +∞, or all −∞ makes every output NaN.
#[inline]
pub fn softmax(x: &mut [f32]) {
    chosen::softmax(x)
}

/// The index of the largest element (the first one on ties), NaNs skipped; 0 for an
/// empty or all-NaN slice. Exact: every version gives the same index.
#[inline]
pub fn argmax(x: &[f32]) -> usize {
    chosen::argmax(x)
}
