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

/// [`super::dense_i8`]'s signature, `(w, x, bias, requant, p, y)`, which every version has;
/// its contract is written there.
pub type DenseI8Fn = fn(&[i8], &[i8], &[i32], &[Requant], DenseI8Params, &mut [i8]);

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

/// [`super::dense_i8_packed`]'s choice: the host's packed version (AVX-512 VNNI where the
/// build has it); on Arm, and with the twins, the plain layer through [`super::dense_i8`].
pub const DENSE_I8_PACKED: Kernel<DenseI8PackedFn> = choose(&[
    (
        SCALAR || cfg!(target_arch = "arm"),
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

/// Panics unless `w` is `(y.len(), x.len())` and `bias`, `requant` are `(y.len())`.
#[inline]
pub(crate) fn check_dense_shapes(w: &[i8], x: &[i8], bias: &[i32], requant: &[Requant], y: &[i8]) {
    assert_eq!(
        w.len(),
        y.len() * x.len(),
        "dense_i8: w is not (rows, cols)"
    );
    assert_eq!(bias.len(), y.len(), "dense_i8: bias is not (rows)");
    assert_eq!(requant.len(), y.len(), "dense_i8: requant is not (rows)");
}

/// The output stage of TFLite's int8 FULLY_CONNECTED for one row:
/// `clamp(output_zero_point + requant.apply(acc), min, max)`, the sum exact (no wrap) and
/// the clamp in TFLite's order (`max` with `min` first, then `min` with `max`, so a
/// `min > max` gives `max`).
#[inline]
pub fn output(acc: i32, requant: Requant, p: DenseI8Params) -> i8 {
    // Saturating is exact here: `min` and `max` are i8s, so a sum past i32's range clamps
    // to the same end as the exact sum would.
    let v = requant.apply(acc).saturating_add(p.output_zero_point);
    v.max(i32::from(p.min)).min(i32::from(p.max)) as i8
}
