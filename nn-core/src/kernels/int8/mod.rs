//! The int8 kernels (TensorFlow Lite's int8 spec), each version in its own file with one
//! contract, written on the dispatching functions in [`super`], and one table per kernel
//! here that chooses the version ([`DENSE_I8`], [`DENSE_I8_PACKED`]): [`scalar`] is the
//! reference, written to be read; [`simd`] the host's (`wide`, and AVX-512 VNNI where
//! the build has it, and on a layer [`packed`] once at load); [`m4`] the Cortex-M4's
//! (`SXTB16`/`SMLAD`); [`m0`] the Cortex-M0+'s (`MULS`). Integer arithmetic has
//! one right answer, so every version gives exactly the twin's output, bit for bit;
//! `tests/kernels_i8.rs` checks that, and both against an independent i64 reference.
//!
//! What all versions share lives here, in one place: the shape check and the output stage
//! (requantise, add the zero point, clamp).

pub mod m0;
pub mod m4;
pub mod packed;
pub mod scalar;
pub mod simd;

use super::{Kernel, SCALAR, choose};
use crate::quant::{DenseI8Params, Requant};

/// A version of [`super::dense_i8`], whose contract is written there; its arguments come
/// checked in a [`DenseI8Args`].
pub type DenseI8Fn = fn(DenseI8Args<'_>);

/// [`super::dense_i8_packed`]'s signature, `(layer, x, y)`.
pub type DenseI8PackedFn = fn(&packed::PackedDenseI8<'_>, &[i8], &mut [i8]);

/// [`super::dense_i8`]'s choice: on a Cortex-M with the DSP extension its `SMLAD` kernel; on
/// ARMv6-M (Cortex-M0/M0+) its `MULS` kernel; on other Arm cores (no DSP, and `wide` has no
/// vectors there) the twin; everywhere else the host's vectors.
pub const DENSE_I8: Kernel<DenseI8Fn> = choose(&[
    (
        SCALAR,
        Kernel {
            name: "scalar",
            run: scalar::dense_i8,
        },
    ),
    (
        cfg!(nn_arm_dsp),
        Kernel {
            name: "m4",
            run: m4::dense_i8,
        },
    ),
    (
        cfg!(nn_armv6m),
        Kernel {
            name: "m0",
            run: m0::dense_i8,
        },
    ),
    (
        cfg!(target_arch = "arm"),
        Kernel {
            name: "scalar",
            run: scalar::dense_i8,
        },
    ),
    (
        true,
        Kernel {
            name: "simd",
            run: simd::dense_i8,
        },
    ),
]);

/// [`super::dense_i8_packed`]'s choice: on a Cortex-M with the DSP extension the M4's wide
/// loop ([`m4::wide`]); on other Arm cores, and with the twins, the plain layer through
/// [`super::dense_i8`]; everywhere else the host's packed version (AVX-512 VNNI or AVX2).
pub const DENSE_I8_PACKED: Kernel<DenseI8PackedFn> = choose(&[
    (
        SCALAR,
        Kernel {
            name: "plain",
            run: |layer, x, y| layer.plain(x, y),
        },
    ),
    (
        cfg!(nn_arm_dsp),
        Kernel {
            name: "m4",
            run: m4::dense_i8_packed,
        },
    ),
    (
        cfg!(target_arch = "arm"),
        Kernel {
            name: "plain",
            run: |layer, x, y| layer.plain(x, y),
        },
    ),
    (
        true,
        Kernel {
            name: "simd",
            run: simd::dense_i8_packed,
        },
    ),
]);

/// The input zero points for which every `x − zp` (x an i8) fits in 16 signed bits: the
/// i16 lanes of the `wide` and M4 kernels, the M0+ kernel's sparse entries. Every TFLite
/// zero point is in it.
pub(crate) const I16_ZERO_POINTS: core::ops::RangeInclusive<i32> = -32640..=32639;

/// One call of [`super::dense_i8`], its shapes checked once, when it is made: `w` is
/// `(rows, cols)` row-major, `x` is `(cols)`, `bias`, `requant` and `y` are `(rows)`. Every
/// version takes one, so none checks the shapes again, and the assembly versions may read
/// `rows × cols` weights through pointers.
#[derive(Debug)]
pub struct DenseI8Args<'a> {
    w: &'a [i8],
    x: &'a [i8],
    bias: &'a [i32],
    requant: &'a [Requant],
    p: DenseI8Params,
    y: &'a mut [i8],
}

impl<'a> DenseI8Args<'a> {
    /// The call `y ← dense_i8(w, x, bias, requant, p)`.
    ///
    /// # Panics
    /// Unless `w` is `(y.len(), x.len())` and `bias`, `requant` are `(y.len())`.
    pub fn new(
        w: &'a [i8],
        x: &'a [i8],
        bias: &'a [i32],
        requant: &'a [Requant],
        p: DenseI8Params,
        y: &'a mut [i8],
    ) -> Self {
        assert_eq!(
            w.len(),
            y.len() * x.len(),
            "dense_i8: w is not (rows, cols)"
        );
        assert_eq!(bias.len(), y.len(), "dense_i8: bias is not (rows)");
        assert_eq!(requant.len(), y.len(), "dense_i8: requant is not (rows)");
        Self {
            w,
            x,
            bias,
            requant,
            p,
            y,
        }
    }

    /// The arguments, `(w, x, bias, requant, p, y)`, with their shapes known to the
    /// compiler again: a version that is not inlined into [`DenseI8Args::new`]'s caller
    /// would otherwise bounds-check every row it slices (measured: 5 % more instructions
    /// per inference on the Cortex-M4).
    #[inline(always)]
    #[allow(clippy::type_complexity)]
    pub(crate) fn parts(
        self,
    ) -> (
        &'a [i8],
        &'a [i8],
        &'a [i32],
        &'a [Requant],
        DenseI8Params,
        &'a mut [i8],
    ) {
        let rows = self.y.len();
        // Safety: `new`, the only way to make `self`, asserted these; the fields are private.
        unsafe {
            core::hint::assert_unchecked(self.w.len() == rows * self.x.len());
            core::hint::assert_unchecked(self.bias.len() == rows);
            core::hint::assert_unchecked(self.requant.len() == rows);
        }
        (self.w, self.x, self.bias, self.requant, self.p, self.y)
    }
}

/// The output stage of TFLite's int8 FULLY_CONNECTED for one row:
/// `clamp(output_zero_point + requant.apply(acc), min, max)`, the sum exact (no wrap) and
/// the clamp in TFLite's order (`max` with `min` first, then `min` with `max`, so a
/// `min > max` gives `max`).
#[inline]
pub fn output(acc: i32, requant: Requant, p: DenseI8Params) -> i8 {
    // Saturating is exact here: `min` and `max` are i8s, so a sum past i32's range clamps
    // to the same end as the exact sum would.
    let v = requantise(acc, requant).saturating_add(p.output_zero_point);
    v.max(i32::from(p.min)).min(i32::from(p.max)) as i8
}

/// [`Requant::apply`], bit for bit, in fewer instructions on a 32-bit core for the shifts
/// every real layer has (`shift` in `[-31, -2]`, a multiplier other than `i32::MIN`), where
/// it runs once per output row and would otherwise cost as much as a row of 16
/// multiply-accumulates: with `k = −shift`, `apply` is `⌊P / 2^(31+k) + ½⌋` for
/// `P = acc · multiplier`, which equals `⌊(⌊⌊P / 2³¹⌋ / 2^(k−1)⌋ + 1) / 2⌋` (adding an
/// integer commutes with the floor); `⌊P / 2³¹⌋` fits an i32 (`|P| < 2⁶²`), and shifted
/// right by `k − 1 ≥ 1` it leaves room for the `+ 1`: one 32-bit shift and one add in place
/// of a 64-bit rounding constant and a 64-bit shift by a variable amount.
#[inline]
pub fn requantise(acc: i32, requant: Requant) -> i32 {
    let k = requant.shift.wrapping_neg();
    // `k` in 2..=31, as one unsigned comparison.
    if (k.wrapping_sub(2) as u32) < 30 && requant.multiplier != i32::MIN {
        let high = high31(acc, requant.multiplier);
        ((high >> (k - 1)) + 1) >> 1
    } else {
        requant.apply(acc)
    }
}

/// `⌊acc · m / 2³¹⌋` for an `m` other than `i32::MIN` (so that it fits an i32): one
/// `SMULL` where the core has it; on ARMv6-M, which has no 64-bit product and would call
/// a 64 × 64-bit multiplication, [`high31_halves`].
#[inline(always)]
fn high31(acc: i32, m: i32) -> i32 {
    #[cfg(nn_armv6m)]
    return high31_halves(acc, m);
    #[cfg(not(nn_armv6m))]
    return ((i64::from(acc) * i64::from(m)) >> 31) as i32;
}

/// [`high31`] from four 16 × 16-bit products, each exact in 32 bits (`acc = ah·2¹⁶ + al`,
/// `m = mh·2¹⁶ + ml`, the low halves unsigned): four `MULS` and a few 64-bit additions,
/// where the M0+ would otherwise call a 64 × 64-bit multiplication (`__aeabi_lmul`) per
/// output row.
#[inline(always)]
#[cfg_attr(not(any(nn_armv6m, test)), allow(dead_code))]
fn high31_halves(acc: i32, m: i32) -> i32 {
    let (ah, al) = (acc >> 16, acc & 0xFFFF);
    let (mh, ml) = (m >> 16, m & 0xFFFF);
    // |ah · ml|, |al · mh| < 2³¹ and al · ml < 2³² (unsigned): no product wraps.
    let high = i64::from(ah * mh) << 32;
    let middle = (i64::from(ah * ml) + i64::from(al * mh)) << 16;
    let low = i64::from((al as u32) * (ml as u32));
    ((high + middle + low) >> 31) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`requantise`] equals [`Requant::apply`] on the edges of every argument and on a
    /// spread of ordinary ones, for every shift (the fast path's and the others).
    #[test]
    fn requantise_is_apply() {
        let accs = [
            i32::MIN,
            i32::MIN + 1,
            -65_537,
            -3,
            -1,
            0,
            1,
            2,
            65_535,
            i32::MAX,
        ];
        let multipliers = [i32::MIN, -1, 0, 1, 1 << 30, 1_518_500_250, i32::MAX];
        let mut s = 0x2545_F491u32;
        for shift in -40..=40 {
            let check = |acc: i32, multiplier: i32| {
                if multiplier != i32::MIN {
                    let exact = ((i64::from(acc) * i64::from(multiplier)) >> 31) as i32;
                    assert_eq!(high31_halves(acc, multiplier), exact, "{acc} {multiplier}");
                }
                let r = Requant { multiplier, shift };
                assert_eq!(
                    requantise(acc, r),
                    r.apply(acc),
                    "{acc} {multiplier} {shift}"
                );
            };
            for &acc in &accs {
                for &m in &multipliers {
                    check(acc, m);
                }
            }
            for _ in 0..2000 {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let acc = (s as i32) >> (s % 24);
                check(acc, (s.rotate_left(7) >> 1) as i32 | 1 << 30);
            }
        }
    }
}
