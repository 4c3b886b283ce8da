//! The scalar twins of the int8 kernels: plain loops, the reference the fast versions are
//! tested against, and TFLite's reference kernels transcribed. Contracts are on the
//! dispatching functions in [`crate::kernels`].

use super::{DenseI8Args, output};
use crate::quant::{
    SoftmaxI8Params, exp_on_negative_values, get_reciprocal, rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
};

/// TFLite's int8 FULLY_CONNECTED, per channel:
/// `y[r] = clamp(zp_out + requant[r].apply(bias[r] + Σ_c w[r, c] · (x[c] − zp_in)))`.
/// The accumulator wraps modulo 2³², as TFLite's int32 does on every machine it runs on.
pub fn dense_i8(args: DenseI8Args<'_>) {
    let (w, x, bias, requant, p, y) = args.parts();
    let cols = x.len();
    for (r, yr) in y.iter_mut().enumerate() {
        let row = &w[r * cols..(r + 1) * cols];
        let mut acc = bias[r];
        for (&wc, &xc) in row.iter().zip(x) {
            let centred = i32::from(xc).wrapping_sub(p.input_zero_point);
            acc = acc.wrapping_add(i32::from(wc).wrapping_mul(centred));
        }
        *yr = output(acc, requant[r], p);
    }
}

/// Most elements one softmax takes: past 256 equal maxima TFLite's own arithmetic
/// overflows (its output shift passes 31, its Q12.19 sum 2¹²).
pub const SOFTMAX_MAX_LEN: usize = 256;

/// Integer bits of the softmax's sum of exponentials (TFLite's `kAccumulationIntegerBits`).
const ACCUMULATION_INTEGER_BITS: i32 = 12;

/// TFLite's int8 SOFTMAX reference kernel (`reference_ops::Softmax<int8_t, int8_t>`), in
/// its steps:
/// 1. `d = x[c] − max x`; a `d` below `diff_min` gives −128 and counts for nothing.
/// 2. `d` scaled into Q5.26 by `srdhm(d · 2^left_shift, input_multiplier)`.
/// 3. `e = exp(d)` in Q0.31 ([`exp_on_negative_values`]); their sum in Q12.19.
/// 4. The sum's reciprocal `2^k / sum` in Q0.31 ([`get_reciprocal`]).
/// 5. `y = (reciprocal · e) / 2^(k + 23)` rounded, − 128, clamped to [−128, 127].
///
/// For parameters [`SoftmaxI8Params::is_valid`] rejects the output is unspecified, but
/// it is still computed without a panic (shifts are clamped into range).
pub fn softmax_i8(x: &[i8], p: SoftmaxI8Params, y: &mut [i8]) {
    assert_eq!(x.len(), y.len(), "softmax_i8: x and y differ in length");
    assert!(
        x.len() <= SOFTMAX_MAX_LEN,
        "softmax_i8: more than 256 elements"
    );
    let Some(&max) = x.iter().max() else {
        return;
    };
    let left_shift = p.input_left_shift.clamp(0, 31) as u32;
    // Step 2 and 3 for one element, `None` below `diff_min`.
    let exp = |xc: i8| {
        let diff = i32::from(xc) - i32::from(max);
        (diff >= p.diff_min).then(|| {
            let scaled = saturating_rounding_doubling_high_mul(
                diff.wrapping_shl(left_shift),
                p.input_multiplier,
            );
            exp_on_negative_values(scaled)
        })
    };
    let mut sum = 0i32;
    for &xc in x {
        if let Some(e) = exp(xc) {
            sum = sum.wrapping_add(rounding_divide_by_pot(e, ACCUMULATION_INTEGER_BITS as u32));
        }
    }
    let (reciprocal, bits_over_unit) = get_reciprocal(sum, ACCUMULATION_INTEGER_BITS);
    // For valid parameters the largest element's own term makes the sum at least 2^19,
    // so this is at least 23, and with at most 256 elements at most 31. The clamp only
    // keeps parameters no scale produces (a decoder's job to reject) from panicking.
    let exponent = (bits_over_unit + 31 - 8).clamp(0, 31) as u32;
    for (yc, &xc) in y.iter_mut().zip(x) {
        *yc = match exp(xc) {
            Some(e) => {
                let unsaturated = rounding_divide_by_pot(
                    saturating_rounding_doubling_high_mul(reciprocal, e),
                    exponent,
                );
                (unsaturated - 128).clamp(-128, 127) as i8
            }
            None => -128,
        };
    }
}
