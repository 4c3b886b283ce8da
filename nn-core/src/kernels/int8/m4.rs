//! `dense_i8` shaped for the Cortex-M4's DSP instructions, exactly equal to the scalar twin.
//!
//! The input is widened once per layer (CMSIS-NN's `arm_q7_to_q15_reordered` idea): for
//! every 4 columns, two words of two i16 lanes, `(x0 − zp, x2 − zp)` and
//! `(x1 − zp, x3 − zp)`, on the stack ([`MAX_COLS`] columns at most). Those are the lanes
//! `SXTB16(w)` and `SXTB16(ROR(w, 8))` give of a word of 4 weights, so each `smlad`
//! multiplies two weights by their inputs and adds both products.
//!
//! Rows go three at a time, 16 columns per pass of the inner loop, 4 at a time: one
//! `ldrd` brings the two input words (shared by the three rows), and right behind it, back
//! to back, the weight words of rows 1 and 2 (`[w, s]`, `[w, s, lsl #1]`); then per row
//! two `sxtb16` and two `smlad`; row 0's word is loaded last (post-incrementing `w`).
//! That is 16 instructions per 12 multiply-accumulates, 66 per 48 with the `cmp`/`bne`
//! (1.375 per MAC); firmware/README.md prices them in cycles. Twelve registers is what
//! inline assembly gets on Thumb, and three rows with a burst of three loads is what
//! fits: 3 accumulators, 4 pointers (`w`, the row stride, the input and its end), 2 input
//! words, 3 weight words or their lanes.
//!
//! The last `cols % 16` columns go through the same arithmetic in Rust. One or two rows
//! left over run as the layer's last three (the one or two before them computed twice,
//! the second result dropped); a layer of one or two rows runs each row three times
//! through a row stride of 0, one result kept. `smlad` wraps modulo 2³² (setting the
//! sticky Q flag, which nothing reads), as the twin's accumulator does, so the result
//! equals the twin's for every input. `x − zp` must fit in an i16 lane: for zero points
//! outside [−32640, 32639] (never in a TFLite model, whose are in [−128, 127]), and for
//! more than [`MAX_COLS`] columns, the scalar twin runs instead.
//!
//! On other targets (and on Cortex-M cores without the DSP extension) `dot_rows` is the
//! same pass structure in portable Rust, instruction for instruction, so the host tests
//! the arithmetic the board does; the assembly itself runs in the firmware's boot check.

use super::{check_dense_shapes, output};
use crate::quant::{DenseI8Params, Requant};

/// Columns per pass of the inner loop.
const BLOCK: usize = 16;

/// The most columns the kernel widens (2 KiB of stack: two words per 4 columns); the
/// largest layer input the firmware has is 1024 (the 784-1024-10 model's second layer).
pub const MAX_COLS: usize = 1024;

/// The zero points for which every `x − zp` fits in an i16 lane.
const ZERO_POINTS: core::ops::RangeInclusive<i32> = -32640..=32639;

/// `y[r] = clamp(zp_out + requant[r].apply(bias[r] + Σ_c w[r, c] · (x[c] − zp_in)))`;
/// see [`crate::kernels::dense_i8`].
///
/// # Panics
/// If the lengths disagree.
pub fn dense_i8(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    requant: &[Requant],
    p: DenseI8Params,
    y: &mut [i8],
) {
    check_dense_shapes(w, x, bias, requant, y);
    let cols = x.len();
    if !ZERO_POINTS.contains(&p.input_zero_point) || cols > MAX_COLS {
        return super::scalar::dense_i8(w, x, bias, requant, p, y);
    }
    let blocks = cols / BLOCK;
    let whole = blocks * BLOCK;
    let zp = p.input_zero_point;
    let mut widened = [core::mem::MaybeUninit::<u32>::uninit(); MAX_COLS / 2];
    let pairs = widen(&x[..whole], zp, &mut widened);
    // The columns after the whole blocks, in order.
    let tail = |row: &[i8], acc: i32| {
        row[whole..]
            .iter()
            .zip(&x[whole..])
            .fold(acc, |s, (&wc, &xc)| {
                s.wrapping_add(i32::from(wc) * (i32::from(xc) - zp))
            })
    };
    let rows = y.len();
    let mut r = 0;
    while r < rows {
        // Three rows from `first`: rows `r..r + 3`; for the last one or two, the last three
        // rows (those before `r` computed again and dropped); in a layer of one or two rows,
        // row `r` read three times through a stride of 0.
        let (first, stride, n) = if r + 3 <= rows {
            (r, cols, 3)
        } else if rows >= 3 {
            (rows - 3, cols, 3)
        } else {
            (r, 0, 1)
        };
        let dots = if blocks == 0 {
            [0; 3]
        } else {
            // Safety: rows `first`, `first + stride / cols` and `first + 2 * stride / cols`
            // are all in `w` (rows `first..first + 3` when the stride is `cols`, row `first`
            // alone when it is 0), each with `cols ≥ blocks * 16` bytes, and `pairs` holds
            // `blocks * 8` words: all `dot_rows` reads.
            unsafe { dot_rows(w[first * cols..].as_ptr(), stride, pairs.as_ptr(), blocks) }
        };
        for (k, &dot) in dots.iter().enumerate().take(n) {
            let row = first + k;
            if row < r {
                continue;
            }
            y[row] = output(
                bias[row].wrapping_add(tail(&w[row * cols..(row + 1) * cols], dot)),
                requant[row],
                p,
            );
        }
        r = first + n;
    }
}

/// The input's whole blocks widened, in the lane order of `SXTB16`: for the 4 columns
/// `c..c + 4`, the words `(x[c] − zp) | (x[c + 2] − zp) << 16` and
/// `(x[c + 1] − zp) | (x[c + 3] − zp) << 16` (i16 lanes, low half first), written into the
/// front of `out` and returned.
///
/// # Panics
/// If `x` is longer than `2 · out.len()` or not a multiple of 4 long.
fn widen<'a>(x: &[i8], zp: i32, out: &'a mut [core::mem::MaybeUninit<u32>]) -> &'a [u32] {
    assert!(
        x.len().is_multiple_of(4) && x.len() <= 2 * out.len(),
        "widen: bad length"
    );
    let lane = |v: i8| (i32::from(v) - zp) as u16 as u32;
    let words = x.len() / 2;
    for (quad, pair) in x.chunks_exact(4).zip(out.chunks_exact_mut(2)) {
        pair[0].write(lane(quad[0]) | lane(quad[2]) << 16);
        pair[1].write(lane(quad[1]) | lane(quad[3]) << 16);
    }
    // Safety: the loop wrote the first `words` elements (`x.len() / 4` pairs), and
    // `MaybeUninit<u32>` has `u32`'s layout.
    unsafe { core::slice::from_raw_parts(out.as_ptr().cast::<u32>(), words) }
}

/// `Σ w_k[c] · (x[c] − zp)` for the rows `w_k = w + k · stride` (k = 0, 1, 2) over the
/// first `blocks * 16` columns, modulo 2³², from the widened input `pairs` ([`widen`]).
///
/// # Safety
/// `w`, `w + stride` and `w + 2 * stride` must each point to `blocks * 16` readable bytes,
/// `pairs` to `blocks * 8` readable, 4-byte aligned words; `blocks ≥ 1`. The weights need
/// no alignment (the M4 loads words at any address).
#[cfg(nn_arm_dsp)]
unsafe fn dot_rows(w: *const i8, stride: usize, pairs: *const u32, blocks: usize) -> [i32; 3] {
    let (mut acc0, mut acc1, mut acc2) = (0i32, 0i32, 0i32);
    // Safety: reads `blocks * 16` bytes from each of the three rows and `blocks * 8` words
    // from `pairs`, the caller's promise; touches only the registers named here (and the
    // flags, which `asm!` assumes clobbered).
    unsafe {
        core::arch::asm!(
            "2:",
            // Columns 0–3: the two input words, rows 1 and 2, back to back.
            "ldrd {xa}, {xb}, [{xp}], #8",
            "ldr {t1}, [{w}, {s}]",
            "ldr {t3}, [{w}, {s}, lsl #1]",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc1}, {t1}, {xa}, {acc1}",
            "smlad {acc1}, {t2}, {xb}, {acc1}",
            "sxtb16 {t2}, {t3}, ror #8",
            "sxtb16 {t3}, {t3}",
            "smlad {acc2}, {t3}, {xa}, {acc2}",
            "smlad {acc2}, {t2}, {xb}, {acc2}",
            // Row 0, which steps on.
            "ldr {t1}, [{w}], #4",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc0}, {t1}, {xa}, {acc0}",
            "smlad {acc0}, {t2}, {xb}, {acc0}",
            // Columns 4–7, 8–11, 12–15: the same.
            "ldrd {xa}, {xb}, [{xp}], #8",
            "ldr {t1}, [{w}, {s}]",
            "ldr {t3}, [{w}, {s}, lsl #1]",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc1}, {t1}, {xa}, {acc1}",
            "smlad {acc1}, {t2}, {xb}, {acc1}",
            "sxtb16 {t2}, {t3}, ror #8",
            "sxtb16 {t3}, {t3}",
            "smlad {acc2}, {t3}, {xa}, {acc2}",
            "smlad {acc2}, {t2}, {xb}, {acc2}",
            "ldr {t1}, [{w}], #4",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc0}, {t1}, {xa}, {acc0}",
            "smlad {acc0}, {t2}, {xb}, {acc0}",
            "ldrd {xa}, {xb}, [{xp}], #8",
            "ldr {t1}, [{w}, {s}]",
            "ldr {t3}, [{w}, {s}, lsl #1]",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc1}, {t1}, {xa}, {acc1}",
            "smlad {acc1}, {t2}, {xb}, {acc1}",
            "sxtb16 {t2}, {t3}, ror #8",
            "sxtb16 {t3}, {t3}",
            "smlad {acc2}, {t3}, {xa}, {acc2}",
            "smlad {acc2}, {t2}, {xb}, {acc2}",
            "ldr {t1}, [{w}], #4",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc0}, {t1}, {xa}, {acc0}",
            "smlad {acc0}, {t2}, {xb}, {acc0}",
            "ldrd {xa}, {xb}, [{xp}], #8",
            "ldr {t1}, [{w}, {s}]",
            "ldr {t3}, [{w}, {s}, lsl #1]",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc1}, {t1}, {xa}, {acc1}",
            "smlad {acc1}, {t2}, {xb}, {acc1}",
            "sxtb16 {t2}, {t3}, ror #8",
            "sxtb16 {t3}, {t3}",
            "smlad {acc2}, {t3}, {xa}, {acc2}",
            "smlad {acc2}, {t2}, {xb}, {acc2}",
            "ldr {t1}, [{w}], #4",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc0}, {t1}, {xa}, {acc0}",
            "smlad {acc0}, {t2}, {xb}, {acc0}",
            "cmp {xp}, {xend}",
            "bne 2b",
            acc0 = inout(reg) acc0,
            acc1 = inout(reg) acc1,
            acc2 = inout(reg) acc2,
            w = inout(reg) w => _,
            xp = inout(reg) pairs => _,
            xend = in(reg) pairs.add(blocks * BLOCK / 2),
            s = in(reg) stride,
            xa = out(reg) _,
            xb = out(reg) _,
            t1 = out(reg) _,
            t2 = out(reg) _,
            t3 = out(reg) _,
            options(pure, readonly, nostack),
        );
    }
    [acc0, acc1, acc2]
}

/// The portable twin of the assembly loop: the same loads, lane spreads and dual
/// multiply-accumulates, in the same order.
///
/// # Safety
/// As the assembly version.
#[cfg(not(nn_arm_dsp))]
unsafe fn dot_rows(w: *const i8, stride: usize, pairs: *const u32, blocks: usize) -> [i32; 3] {
    // Safety: the caller promises `blocks * 16` readable bytes behind each row pointer and
    // `blocks * 8` aligned words behind `pairs`.
    let (rows, pairs) = unsafe {
        (
            [0, 1, 2].map(|k| core::slice::from_raw_parts(w.add(k * stride), blocks * BLOCK)),
            core::slice::from_raw_parts(pairs, blocks * BLOCK / 2),
        )
    };
    let word = |s: &[i8], at: usize| {
        u32::from_le_bytes([
            s[at] as u8,
            s[at + 1] as u8,
            s[at + 2] as u8,
            s[at + 3] as u8,
        ])
    };
    let mut acc = [0i32; 3];
    for (at, pair) in (0..blocks * BLOCK).step_by(4).zip(pairs.chunks_exact(2)) {
        let (xa, xb) = (pair[0], pair[1]);
        for k in [1, 2, 0] {
            let wk = word(rows[k], at);
            acc[k] = smlad(sxtb16(wk), xa, acc[k]);
            acc[k] = smlad(sxtb16(wk.rotate_right(8)), xb, acc[k]);
        }
    }
    acc
}

/// `SXTB16`: bytes 0 and 2, sign-extended into the two 16-bit halves.
#[cfg(not(nn_arm_dsp))]
fn sxtb16(v: u32) -> u32 {
    let lo = v as u8 as i8 as i16 as u16 as u32;
    let hi = (v >> 16) as u8 as i8 as i16 as u16 as u32;
    lo | (hi << 16)
}

/// `SMLAD`: `acc + a.lo · b.lo + a.hi · b.hi`, halves signed, the sum modulo 2³².
#[cfg(not(nn_arm_dsp))]
fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    let lo = i32::from(a as u16 as i16) * i32::from(b as u16 as i16);
    let hi = i32::from((a >> 16) as u16 as i16) * i32::from((b >> 16) as u16 as i16);
    acc.wrapping_add(lo).wrapping_add(hi)
}
