//! int8 elementwise activations as 256-entry tables, computed exactly as TFLite computes
//! them. A table is built once, when a model is loaded or imported, from the input's
//! quantisation; running the activation is then one lookup per value,
//! `table[(q + 128) as usize]`, with no float on the per-inference path.
//!
//! TFLite's integer sigmoids and tanhs are not all the same function of
//! `(input scale, input zero point)`:
//!
//! 1. TensorFlow Lite's interpreter with its reference kernels (`BUILTIN_REF`) fills a
//!    table in f32 when it prepares the op (`LUTPopulate`): [`logistic_table`],
//!    [`tanh_table`]. (Its default, optimised resolver is one step off here and there:
//!    LOGISTIC on 3 of the fixture's 33 quantisations, TANH on 1; `make.py --check`.)
//! 2. TensorFlow Lite Micro runs gemmlowp's fixed-point `logistic` and `tanh` on Q4.27
//!    inputs (`reference_integer_ops::Logistic` and `Tanh`, with their Prepare's
//!    multiplier, shift and input radius): [`logistic_table_micro`], [`tanh_table_micro`].
//!
//! The two agree on most entries but not all (`tests/fixtures/lut/` holds both, for the
//! same quantisations): the fixed point rounds some entries one step away from the f32
//! table (about 1 sigmoid table in 30 and 1 tanh table in 2000 over random scales), and
//! where the input scale is large TFLite Micro saturates early: its input radius is
//! `floor(15 · 2²⁷ / 2^shift)` steps, a few steps for scales from about 1 to 8, and 0
//! above that, where TFLite Micro maps the zero point itself to −128.
//!
//! The outputs are TFLite's fixed ones: [`TensorQuant::PROBABILITY`] for the sigmoid,
//! [`TensorQuant::TANH`] for the tanh.

use crate::quant::{
    Requant, exp_on_negative_values_q, one_minus_x_over_one_plus_x_for_x_in_0_1,
    one_over_one_plus_x_for_x_in_0_1, rounding_divide_by_pot,
};
use crate::types::TensorQuant;

/// TFLite's int8 LOGISTIC (`BUILTIN_REF`): entry `q + 128` is
/// `clamp(round(256 · 1/(1 + e^(−x))) − 128, −128, 127)` for
/// `x = input.scale · (q − input.zero_point)`, every step in f32 (rounding half away from
/// zero), as TFLite's `LUTPopulate` computes it; an entry rounded the other way would
/// break byte-exactness with TFLite. Output quantisation: [`TensorQuant::PROBABILITY`].
///
/// TFLite's `e^(−x)` is the platform's `expf`; here it is `exp` in f64 rounded to f32,
/// the correctly rounded value, which glibc 2.36's `expf` gives for all but about 1 input
/// in 2000 (libm's `expf` misses 1 in 20). An entry can only move where `256 σ(x)` lies
/// within an ulp of a half-integer, so TFLite on another libm may differ there.
///
/// `input.scale` must be finite and positive (the model file's and the importer's check).
pub fn logistic_table(input: TensorQuant) -> [i8; 256] {
    float_table(input, TensorQuant::PROBABILITY, |x| {
        1.0 / (1.0 + libm::exp(f64::from(-x)) as f32)
    })
}

/// TFLite's int8 TANH (`BUILTIN_REF`): entry `q + 128` is
/// `clamp(round(128 · tanh(x)), −128, 127)` for `x = input.scale · (q − input.zero_point)`,
/// in f32, as TFLite's `LUTPopulate` computes it. Output quantisation:
/// [`TensorQuant::TANH`].
///
/// TFLite's `tanh` is the platform's `tanhf`, which is not correctly rounded on glibc
/// (2.36): it is fdlibm's, and so is `fdlibm_tanhf` here (libm's `tanhf`, musl's,
/// takes other branches and differs from glibc's on 1 input in 25, enough to move
/// table entries).
///
/// `input.scale` must be finite and positive.
pub fn tanh_table(input: TensorQuant) -> [i8; 256] {
    float_table(input, TensorQuant::TANH, fdlibm_tanhf)
}

/// fdlibm's `tanhf` (glibc's `sysdeps/ieee754/flt-32/s_tanhf.c`), over libm's `expm1f`:
/// for `|x| ≥ 1`, `1 − 2/(e^(2|x|) − 1 + 2)`; below, `−t/(t + 2)` with `t = e^(−2|x|) − 1`;
/// `x` itself below 2⁻⁵⁵; `1 − 10⁻³⁰` (1 in f32) from 22 on; the sign of `x`. Equal to
/// glibc 2.36's `tanhf` on all but 5 of 2·10⁶ sampled inputs (its `expm1f` rounding).
fn fdlibm_tanhf(x: f32) -> f32 {
    let ix = x.to_bits() & 0x7fff_ffff;
    let z = if ix >= 0x41b0_0000 {
        // |x| ≥ 22, or not finite (NaN cannot reach here: scale and q are finite).
        1.0 - 1.0e-30
    } else if ix < 0x2400_0000 {
        // |x| < 2⁻⁵⁵ (0 included): tanh(x) = x to f32's precision.
        return x * (1.0 + x);
    } else if ix >= 0x3f80_0000 {
        let t = libm::expm1f(2.0 * libm::fabsf(x));
        1.0 - 2.0 / (t + 2.0)
    } else {
        let t = libm::expm1f(-2.0 * libm::fabsf(x));
        -t / (t + 2.0)
    };
    if x.is_sign_negative() { -z } else { z }
}

/// TFLite's `LUTPopulate<int8_t>`: dequantise each int8 value, apply `f`, requantise to
/// `output` (`round(f(x) / output.scale) + output.zero_point`, clamped), all in f32.
fn float_table(input: TensorQuant, output: TensorQuant, f: impl Fn(f32) -> f32) -> [i8; 256] {
    let inverse_scale = 1.0 / output.scale;
    let mut table = [0i8; 256];
    for (entry, q) in table.iter_mut().zip(-128i32..=127) {
        let x = input.scale * (q - input.zero_point) as f32;
        let rescaled = libm::roundf(f(x) * inverse_scale);
        // f32 to i32 saturates in Rust; TFLite's values are within ±256 here anyway.
        *entry = ((rescaled + output.zero_point as f32) as i32).clamp(-128, 127) as i8;
    }
    table
}

/// TFLite Micro's int8 LOGISTIC (`reference_integer_ops::Logistic`), one entry per input
/// `q` at `q + 128`: with `d = q − input.zero_point` and the [`MicroInput`] of
/// `input.scale`, `d ≤ −radius` gives −128, `d ≥ radius` gives 127 (in that order, so
/// with a radius of 0 the zero point itself gives −128), and otherwise `d` is scaled into
/// Q4.27, passed through gemmlowp's `logistic` into Q0.31, and divided by 2²³ (rounding
/// half away from zero), minus 128, clamped. Output quantisation:
/// [`TensorQuant::PROBABILITY`].
///
/// `input.scale` must be finite and positive.
pub fn logistic_table_micro(input: TensorQuant) -> [i8; 256] {
    micro_table(input, |x| {
        rounding_divide_by_pot(fixed_logistic_q4(x), 31 - 8) - 128
    })
}

/// TFLite Micro's int8 TANH (`reference_integer_ops::Tanh`): as
/// [`logistic_table_micro`], with −128 / 127 outside the radius, and inside it gemmlowp's
/// `tanh` of the Q4.27 input divided by 2²⁴ (rounding half away from zero), clamped.
/// Output quantisation: [`TensorQuant::TANH`].
///
/// `input.scale` must be finite and positive.
pub fn tanh_table_micro(input: TensorQuant) -> [i8; 256] {
    micro_table(input, |x| rounding_divide_by_pot(fixed_tanh_q4(x), 31 - 7))
}

/// What TFLite Micro's Prepare (`CalculateArithmeticOpData` in `logistic_common.cc` and
/// `tanh_common.cc`) derives from an int8 input's scale, for 4 integer bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MicroInput {
    /// `real = scale · 2²⁷` as `multiplier · 2^(shift − 31)`: `frexp(real) = (m, shift)`,
    /// `multiplier = round(m · 2³¹)` (half away from zero).
    pub multiplier: i32,
    /// The power of two of that split.
    pub shift: i32,
    /// `floor(15 · 2²⁷ / 2^shift)` (`CalculateInputRadius(4, shift, 31)`): the largest
    /// `|q − zero point|` whose Q4.27 value stays below 15; those at or past it saturate.
    pub radius: i32,
}

impl MicroInput {
    /// TFLite Micro's Prepare for a finite, positive f32 `scale`. A `multiplier` of 2³¹
    /// cannot occur (`m` holds the 24 bits of an f32, so `m · 2³¹ ≤ 2³¹ − 2⁷`).
    /// For `scale < 2⁻²⁸` the shift is negative, where TFLite Micro's radius is a shift
    /// by a negative count (undefined in C++); here it is the exact value, capped at
    /// `i32::MAX`, so that no int8 input saturates (such a scale makes every `|x| < 2⁻²⁰`).
    pub fn from_scale(scale: f32) -> Self {
        let real = f64::from(scale) * f64::from(1u32 << 27);
        let (m, shift) = libm::frexp(real);
        let multiplier = libm::round(m * 2_147_483_648.0) as i32;
        let max_rescaled = 15i64 << 27;
        let radius = if shift >= 0 {
            max_rescaled >> shift.min(63)
        } else {
            max_rescaled
                .checked_shl(shift.unsigned_abs())
                .unwrap_or(i64::MAX)
        };
        Self {
            multiplier,
            shift,
            radius: radius.min(i64::from(i32::MAX)) as i32,
        }
    }
}

/// The common frame of TFLite Micro's int8 LOGISTIC and TANH: saturate outside the input
/// radius, else scale the input difference into Q4.27 and apply `f` (which returns the
/// output before clamping).
fn micro_table(input: TensorQuant, f: impl Fn(i32) -> i32) -> [i8; 256] {
    let p = MicroInput::from_scale(input.scale);
    // Inside the radius the shift is at most 30 (a radius above 0 needs 15 · 2²⁷ ≥
    // 2^shift), so `Requant::apply` does not clamp it.
    let scale_to_q4 = Requant {
        multiplier: p.multiplier,
        shift: p.shift,
    };
    let mut table = [0i8; 256];
    for (entry, q) in table.iter_mut().zip(-128i32..=127) {
        let d = q - input.zero_point;
        *entry = if d <= -p.radius {
            i8::MIN
        } else if d >= p.radius {
            i8::MAX
        } else {
            f(scale_to_q4.apply(d)).clamp(-128, 127) as i8
        };
    }
    table
}

/// gemmlowp's `logistic` on a Q4.27 input, into Q0.31: `1/2` at 0,
/// `1/(1 + e^(−|a|))` for `a > 0`, and `1 − that` (as Q0.31's largest value minus it)
/// for `a < 0`.
fn fixed_logistic_q4(a: i32) -> i32 {
    if a == 0 {
        return 1 << 30;
    }
    let abs = if a > 0 { a } else { a.wrapping_neg() };
    let positive =
        one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values_q(abs.wrapping_neg(), 4));
    if a > 0 {
        positive
    } else {
        i32::MAX.wrapping_sub(positive)
    }
}

/// gemmlowp's `tanh` on a Q4.27 input, into Q0.31: 0 at 0, and
/// `±(1 − e^(−2|a|)) / (1 + e^(−2|a|))` with the sign of `a`, the exponential taken on
/// `−2|a|` as a Q5.26 number (the same raw bits: gemmlowp's `ExactMulByPot<1>`).
fn fixed_tanh_q4(a: i32) -> i32 {
    if a == 0 {
        return 0;
    }
    let negative_abs = if a < 0 { a } else { a.wrapping_neg() };
    let t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values_q(negative_abs, 5));
    if a < 0 { t.wrapping_neg() } else { t }
}
