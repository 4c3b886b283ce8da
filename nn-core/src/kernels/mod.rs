//! The hot loops of inference, each in two or more versions with one contract:
//! [`scalar`] is the plain reference, written to be read; [`simd`] the host's fast one;
//! [`m4f`] the Cortex-M4F's f32 dense loop. Each kernel's contract is written once, on its
//! function below, and its choice is made once, in its table ([`GEMV_BIAS`], [`SIGMOID`],
//! [`RELU`], [`SOFTMAX`], [`ARGMAX`]; the int8 ones in [`int8`]): the first row whose
//! build condition holds. The reported name ([`Kernel::name`]) comes from the same row, so
//! it names the code that runs. The `scalar-kernels` feature puts the twins first.
//!
//! Every kernel takes plain slices, so it is compiled once whatever the model's sizes,
//! and works in place on any length, 0 included. The contracts below hold for every
//! version; each version's measured error is written above it, and `tests/kernels.rs`
//! checks every version against the twin and an f64 reference.
//!
//! Non-finite inputs: the inference API rejects them before any kernel runs, so the
//! NaN behaviour below is documented for completeness, not relied on.
//!
//! The int8 kernels ([`dense_i8`], [`softmax_i8`]) live in [`int8`], their tables too;
//! integer arithmetic has one right answer, so every version gives the same bits.

pub mod int8;
pub mod m4f;
pub mod scalar;
pub mod simd;

pub use crate::quant::{DenseI8Params, Requant, SoftmaxI8Params};

/// One version of a kernel: the name reports print, and the function, which has the
/// kernel's signature and keeps its contract.
#[derive(Clone, Copy, Debug)]
pub struct Kernel<F> {
    /// The version: `"scalar"`, `"simd"`, `"m4f"`, `"m4"`, `"m0"` or `"packed"`.
    pub name: &'static str,
    /// Its function.
    pub run: F,
}

/// The first row of `table` whose build condition holds: how every kernel is chosen. A
/// table ends with a row for every build (`true`). Evaluated at compile time, so a call
/// through the chosen `run` is a direct call and the other versions are not linked in.
pub(crate) const fn choose<F: Copy>(table: &[(bool, Kernel<F>)]) -> Kernel<F> {
    let mut i = 0;
    while i < table.len() {
        if table[i].0 {
            return table[i].1;
        }
        i += 1;
    }
    panic!("a kernel table has no row for this build")
}

/// True when the `scalar-kernels` feature routes every kernel to its scalar twin.
pub(crate) const SCALAR: bool = cfg!(feature = "scalar-kernels");

/// [`gemv_bias`]'s signature: `(w, x, b, y)`.
pub type GemvBiasFn = fn(&[f32], &[f32], &[f32], &mut [f32]);
/// An element-wise kernel's signature, in place: [`sigmoid`], [`relu`], [`softmax`].
pub type InPlaceFn = fn(&mut [f32]);

/// [`gemv_bias`]'s choice: on a core with a single-precision FPU (`nn_arm_fpu`) the M4F's
/// loop, since `wide` has no f32 vectors there; the host's vectors everywhere else.
pub const GEMV_BIAS: Kernel<GemvBiasFn> = choose(&[
    (
        SCALAR,
        Kernel {
            name: "scalar",
            run: scalar::gemv_bias,
        },
    ),
    (
        cfg!(nn_arm_fpu),
        Kernel {
            name: "m4f",
            run: m4f::gemv_bias,
        },
    ),
    (
        true,
        Kernel {
            name: "simd",
            run: simd::gemv_bias,
        },
    ),
]);

/// [`gemv_bias`]'s shape contract, which every version checks first: `w` is
/// `(y.len(), x.len())` and `b` is `(y.len())`. The M4F's assembly reads through pointers
/// the rows this promises.
///
/// # Panics
/// If the lengths disagree.
#[inline]
pub(crate) fn check_gemv_shapes(w: &[f32], x: &[f32], b: &[f32], y: &[f32]) {
    assert_eq!(
        w.len(),
        y.len() * x.len(),
        "gemv_bias: w is not (rows, cols)"
    );
    assert_eq!(b.len(), y.len(), "gemv_bias: b is not (rows)");
}

/// [`sigmoid`]'s choice.
pub const SIGMOID: Kernel<InPlaceFn> = choose(&[
    (
        SCALAR,
        Kernel {
            name: "scalar",
            run: scalar::sigmoid,
        },
    ),
    (
        true,
        Kernel {
            name: "simd",
            run: simd::sigmoid,
        },
    ),
]);

/// [`relu`]'s choice.
pub const RELU: Kernel<InPlaceFn> = choose(&[
    (
        SCALAR,
        Kernel {
            name: "scalar",
            run: scalar::relu,
        },
    ),
    (
        true,
        Kernel {
            name: "simd",
            run: simd::relu,
        },
    ),
]);

/// [`softmax`]'s choice.
pub const SOFTMAX: Kernel<InPlaceFn> = choose(&[
    (
        SCALAR,
        Kernel {
            name: "scalar",
            run: scalar::softmax,
        },
    ),
    (
        true,
        Kernel {
            name: "simd",
            run: simd::softmax,
        },
    ),
]);

/// [`argmax`]'s choice.
pub const ARGMAX: Kernel<fn(&[f32]) -> usize> = choose(&[
    (
        SCALAR,
        Kernel {
            name: "scalar",
            run: scalar::argmax,
        },
    ),
    (
        true,
        Kernel {
            name: "simd",
            run: simd::argmax,
        },
    ),
]);

/// Which version the f32 dense layer ([`gemv_bias`], where an f32 model spends its time)
/// runs: [`GEMV_BIAS`]'s name.
pub const CHOSEN: &str = GEMV_BIAS.name;

/// Which version [`dense_i8`] runs: [`int8::DENSE_I8`]'s name.
pub const CHOSEN_I8: &str = int8::DENSE_I8.name;

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
    (GEMV_BIAS.run)(w, x, b, y)
}

/// `x_i ← 1 / (1 + e^-x_i)`, in place.
///
/// Never overflows, for any input: within 2e-7 absolute of the exact value everywhere
/// (both versions measure 8.9e-8). NaN stays NaN; ±∞ give 1 and 0.
#[inline]
pub fn sigmoid(x: &mut [f32]) {
    (SIGMOID.run)(x)
}

/// `x_i ← max(x_i, 0)`, in place. Exact; NaN stays NaN.
#[inline]
pub fn relu(x: &mut [f32]) {
    (RELU.run)(x)
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
    (SOFTMAX.run)(x)
}

/// The index of the largest element (the first one on ties), NaNs skipped; 0 for an
/// empty or all-NaN slice. Exact: every version gives the same index.
#[inline]
pub fn argmax(x: &[f32]) -> usize {
    (ARGMAX.run)(x)
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
    (int8::DENSE_I8.run)(int8::DenseI8Args::new(w, x, bias, requant, p, y))
}

/// [`dense_i8`] of a layer packed once at load ([`int8::packed::PackedDenseI8`]): the same
/// contract and the same bits, from the packed twin where a version reads it (AVX-512
/// VNNI), from the plain layer through [`dense_i8`] everywhere else.
///
/// # Panics
/// If `x` is not `(cols)` or `y` not `(rows)` of the layer.
#[inline]
pub fn dense_i8_packed(layer: &int8::packed::PackedDenseI8<'_>, x: &[i8], y: &mut [i8]) {
    (int8::DENSE_I8_PACKED.run)(layer, x, y)
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
