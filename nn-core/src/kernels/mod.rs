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
//!
//! The int8 kernels ([`dense_i8`], [`softmax_i8`]) live in [`int8`], their versions picked
//! here too; integer arithmetic has one right answer, so every version gives the same bits.

pub mod int8;
pub mod m4f;
pub mod scalar;
pub mod simd;

pub use crate::quant::{DenseI8Params, Requant, SoftmaxI8Params};

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

// The int8 choice: the twins when asked; on a Cortex-M with the DSP extension its
// `SMLAD` kernel; on ARMv6-M (Cortex-M0/M0+) its `MULS` kernel; on other Arm cores (no
// DSP, and `wide` has no vectors there) the twin;
// everywhere else the SIMD version.
#[cfg(all(not(feature = "scalar-kernels"), nn_armv6m))]
use int8::m0 as chosen_i8;
#[cfg(all(not(feature = "scalar-kernels"), nn_arm_dsp))]
use int8::m4 as chosen_i8;
#[cfg(feature = "scalar-kernels")]
use int8::scalar as chosen_i8;
#[cfg(all(
    not(feature = "scalar-kernels"),
    target_arch = "arm",
    not(nn_arm_dsp),
    not(nn_armv6m)
))]
use int8::scalar as chosen_i8;
#[cfg(all(not(feature = "scalar-kernels"), not(target_arch = "arm")))]
use int8::simd as chosen_i8;

/// Which version [`dense_i8`] runs: `"scalar"`, `"m4"`, `"m0"` or `"simd"`.
pub const CHOSEN_I8: &str = if cfg!(feature = "scalar-kernels") {
    "scalar"
} else if cfg!(nn_arm_dsp) {
    "m4"
} else if cfg!(nn_armv6m) {
    "m0"
} else if cfg!(target_arch = "arm") {
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

/// TFLite FULLY_CONNECTED, int8, per channel:
/// `y[r] = clamp(p.output_zero_point + requant[r].apply(bias[r] + Σ_c w[r*cols + c] · (x[c] − p.input_zero_point)), p.min, p.max)`.
/// `w` is `(rows, cols)` row-major, `x` is `(cols)`, `bias`, `requant` and `y` are `(rows)`.
///
/// Exact, and the same bits from every version: the accumulator is int32 and wraps modulo
/// 2³² (TFLite's does the same on every machine it runs on; a real model never comes near:
/// 1024 columns of 127 · 255 is below 2²⁵), [`Requant::apply`] is TFLite's
/// `MultiplyByQuantizedMultiplier` as built with `TFLITE_SINGLE_ROUNDING` (one rounding,
/// half up: what TFLite's reference kernels compute in TensorFlow 2.21) bit for bit,
/// the zero point is added without
/// overflow and the clamp is TFLite's (`min` first, so `min > max` gives `max`).
///
/// # Panics
/// If the lengths disagree (`w.len() != y.len() * x.len()`, `bias` or `requant` not
/// `y.len()` long).
#[inline]
pub fn dense_i8(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    requant: &[Requant],
    p: DenseI8Params,
    y: &mut [i8],
) {
    chosen_i8::dense_i8(w, x, bias, requant, p, y)
}

/// [`dense_i8`] of a layer packed once at load ([`int8::packed::PackedDenseI8`]): the same
/// contract and the same bits, from the packed twin where a version reads it (AVX-512
/// VNNI), from the plain layer through [`dense_i8`] everywhere else.
///
/// # Panics
/// If `x` is not `(cols)` or `y` not `(rows)` of the layer.
#[inline]
pub fn dense_i8_packed(layer: &int8::packed::PackedDenseI8<'_>, x: &[i8], y: &mut [i8]) {
    #[cfg(all(not(feature = "scalar-kernels"), not(target_arch = "arm")))]
    int8::simd::dense_i8_packed(layer, x, y);
    #[cfg(any(feature = "scalar-kernels", target_arch = "arm"))]
    layer.plain(x, y);
}

/// TFLite's int8 SOFTMAX reference kernel (beta = 1), bit for bit: input int8 with the
/// scale `p` was made from ([`SoftmaxI8Params::from_input_scale`]), output int8 with scale
/// 1/256 and zero point −128, through the integer gemmlowp fixed-point path (no float).
/// Steps in [`int8::scalar::softmax_i8`]; one version, the scalar one (10 elements).
///
/// # Panics
/// If `x` and `y` differ in length, or hold more than 256 elements (past that TFLite's
/// own fixed-point sum can overflow).
#[inline]
pub fn softmax_i8(x: &[i8], p: SoftmaxI8Params, y: &mut [i8]) {
    int8::scalar::softmax_i8(x, p, y)
}
