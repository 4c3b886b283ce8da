//! `dense_i8` shaped for the Cortex-M4's DSP instructions, exactly equal to the scalar twin.
//!
//! The input is widened once per layer (CMSIS-NN's `arm_q7_to_q15_reordered` idea): for
//! every 4 columns, two words of two i16 lanes, `(x0 − zp, x2 − zp)` and
//! `(x1 − zp, x3 − zp)`, on the stack ([`MAX_COLS`] columns at most). Those are the lanes
//! `SXTB16(w)` and `SXTB16(ROR(w, 8))` give of a word of 4 weights, so each `smlad`
//! multiplies two weights by their inputs and adds both products.
//!
//! One run of the assembly loop (`dot_rows`) computes four rows over the whole blocks of
//! 16 columns, 4 columns at a time: one burst of loads, back to back (`ldrd` of the two
//! input words shared by the four rows, then one word of each row), then per row two
//! `sxtb16` and two `smlad`. That is 21 instructions per 16 multiply-accumulates; the loop
//! body holds 32 columns (an odd number of blocks enters it halfway), so its `cmp`/`bne`
//! and the load of the loop's end, kept on the stack, are 3 more per 128 (1.336
//! instructions per MAC); firmware/README.md prices them in cycles. Four rows take 14
//! registers: 4 accumulators, 2 input words, 4 weight words, a lane temporary and 3
//! pointers (weights, row stride, input): all but `sp` and `pc`. Inline assembly may not
//! name `r7` (the frame pointer) as an operand, so the loop saves it and uses it as the
//! temporary; the other 13 are operands, which leaves the register allocator no spare (a
//! function that needs `r6` as its base pointer would fail to build, not misbehave).
//! One stride register reaches rows `w`, `w + s`, `w + 2s` and `w + 4s`
//! (`ldr [w, s, lsl #k]`), so a pass takes the rows `first + {0, 1, 2, 4}·step`: for 8
//! rows from `a`, one pass from `a` with step +1 and one from `a + 7` with step −1
//! (`a + 7, a + 6, a + 5, a + 3`) cover them all.
//!
//! The last `cols % 16` columns go through the same arithmetic in Rust. When the rows are
//! not a multiple of 8, the last 8 run again (the passes that hold a row not yet done,
//! the rows already done dropped); a layer of fewer than 8 rows runs each row alone,
//! through a step of 0 (its four dot products equal). `smlad` wraps modulo 2³²
//! (setting the sticky Q flag, which nothing reads), as the twin's accumulator does, so the
//! result equals the twin's for every input. `x − zp` must fit in an i16 lane: for zero
//! points outside [−32640, 32639] (never in a TFLite model, whose are in [−128, 127]), and
//! for more than [`MAX_COLS`] columns, the scalar twin runs instead.
//!
//! On other targets (and on Cortex-M cores without the DSP extension) `dot_rows` is the
//! same pass structure in portable Rust, instruction for instruction, so the host tests
//! the arithmetic the board does; the assembly itself runs in the firmware's boot check.

use super::{check_dense_shapes, output};
use crate::quant::{DenseI8Params, Requant};

/// Columns per block: the assembly's loop body holds two.
const BLOCK: usize = 16;

/// The rows of one pass, in steps from its first row: what `[w]`, `[w, s]`,
/// `[w, s, lsl #1]` and `[w, s, lsl #2]` reach.
const ROW_STEPS: [isize; 4] = [0, 1, 2, 4];

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
    let rows = y.len();
    // Fewer than 8 rows: one pass a row, through a step of 0. Otherwise two passes per 8
    // rows from `a`, the next 8 or the last 8 (the first pass skipped when all of its rows
    // are done).
    let passes = if rows < 8 { rows } else { rows.div_ceil(8) * 2 };
    for i in 0..passes {
        // The pass's rows are `first + ROW_STEPS[k] · step`; those before `done` are done.
        let (first, step, done) = if rows < 8 {
            (i, 0, i)
        } else {
            let done = i / 2 * 8;
            let a = done.min(rows - 8);
            if i % 2 == 1 {
                (a + 7, -1, done)
            } else if a + 4 >= done {
                (a, 1, done)
            } else {
                continue;
            }
        };
        let dots = if blocks == 0 {
            [0; 4]
        } else {
            // Safety: `step` is −1, 0 or 1 and every row `first + ROW_STEPS[k] · step` is
            // in `0..rows` (`a..a + 8` above, or `i` alone): each is in `w` (the pointer
            // is `w`'s, so the rows before `first` are in its reach too), with
            // `cols ≥ blocks * 16` bytes, and `pairs` holds `blocks * 8` words; all that
            // `dot_rows` reads.
            unsafe {
                dot_rows(
                    w.as_ptr().add(first * cols),
                    step * cols as isize,
                    pairs.as_ptr(),
                    blocks,
                )
            }
        };
        for (&k, dot) in ROW_STEPS.iter().zip(dots) {
            let row = first.wrapping_add_signed(k * step);
            // Done already. (A step of 0 writes its one row four times, the same value:
            // cheaper in the firmware than a test for it, layers that small being rare.)
            if row < done {
                continue;
            }
            // The columns after the whole blocks, in order.
            let mut acc = dot;
            if whole < cols {
                acc = w[row * cols + whole..(row + 1) * cols]
                    .iter()
                    .zip(&x[whole..])
                    .fold(acc, |s, (&wc, &xc)| {
                        s.wrapping_add(i32::from(wc) * (i32::from(xc) - zp))
                    });
            }
            y[row] = output(bias[row].wrapping_add(acc), requant[row], p);
        }
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

/// One group of 4 columns of the loop below: the loads back to back (row 0's last,
/// stepping `w` on), then per row (1, 2, 3, 0) the low lanes through `r7`, the high lanes
/// in place, two `smlad`. The last group of the loop body also loads the loop's end
/// (`[sp]`) in its burst and compares the input pointer with it.
#[cfg(nn_arm_dsp)]
macro_rules! group {
    () => {
        group!(@ "", "")
    };
    (end) => {
        group!(@ "ldr r7, [sp]\n", "cmp {xp}, r7\n")
    };
    (@ $load_end:literal, $compare:literal) => {
        concat!(
            $load_end,
            "ldrd {xa}, {xb}, [{xp}], #8\n",
            "ldr {w1}, [{w}, {s}]\n",
            "ldr {w2}, [{w}, {s}, lsl #1]\n",
            "ldr {w3}, [{w}, {s}, lsl #2]\n",
            "ldr {w0}, [{w}], #4\n",
            $compare,
            "sxtb16 r7, {w1}\n",
            "sxtb16 {w1}, {w1}, ror #8\n",
            "smlad {acc1}, r7, {xa}, {acc1}\n",
            "smlad {acc1}, {w1}, {xb}, {acc1}\n",
            "sxtb16 r7, {w2}\n",
            "sxtb16 {w2}, {w2}, ror #8\n",
            "smlad {acc2}, r7, {xa}, {acc2}\n",
            "smlad {acc2}, {w2}, {xb}, {acc2}\n",
            "sxtb16 r7, {w3}\n",
            "sxtb16 {w3}, {w3}, ror #8\n",
            "smlad {acc3}, r7, {xa}, {acc3}\n",
            "smlad {acc3}, {w3}, {xb}, {acc3}\n",
            "sxtb16 r7, {w0}\n",
            "sxtb16 {w0}, {w0}, ror #8\n",
            "smlad {acc0}, r7, {xa}, {acc0}\n",
            "smlad {acc0}, {w0}, {xb}, {acc0}\n",
        )
    };
}

/// `Σ w_k[c] · (x[c] − zp)` for the four rows `w_k = w + ROW_STEPS[k] · stride` over the
/// first `blocks * 16` columns, modulo 2³², from the widened input `pairs` ([`widen`]).
///
/// # Safety
/// `w + ROW_STEPS[k] · stride` must each point to `blocks * 16` readable bytes of one
/// allocation with `w`, `pairs` to `blocks * 8` readable, 4-byte aligned words;
/// `blocks ≥ 1`. The weights need no alignment (the M4 loads words at any address).
#[cfg(nn_arm_dsp)]
unsafe fn dot_rows(w: *const i8, stride: isize, pairs: *const u32, blocks: usize) -> [i32; 4] {
    let (mut acc0, mut acc1, mut acc2, mut acc3) = (0i32, 0i32, 0i32, 0i32);
    // Safety: reads `blocks * 16` bytes from each of the four rows and `blocks * 8` words
    // from `pairs`, the caller's promise; touches only the registers named here, r7
    // (saved and restored), the flags, and 8 bytes of stack below `sp`, given back.
    unsafe {
        core::arch::asm!(
            "push {{r7}}",
            // The end of the input, `pairs + 32 · blocks`, waits at [sp].
            "str {xa}, [sp, #-4]!",
            // An odd number of blocks: the first one is the loop body's second half.
            "sub r7, {xa}, {xp}",
            "tst r7, #32",
            "bne 3f",
            "2:",
            group!(),
            group!(),
            group!(),
            group!(),
            "3:",
            group!(),
            group!(),
            group!(),
            group!(end),
            "bne 2b",
            "add sp, #4",
            "pop {{r7}}",
            acc0 = inout(reg) acc0,
            acc1 = inout(reg) acc1,
            acc2 = inout(reg) acc2,
            acc3 = inout(reg) acc3,
            w = inout(reg) w => _,
            s = in(reg) stride,
            xp = inout(reg) pairs => _,
            xa = inout(reg) pairs.add(blocks * BLOCK / 2) => _,
            xb = out(reg) _,
            w1 = out(reg) _,
            w2 = out(reg) _,
            w3 = out(reg) _,
            w0 = out(reg) _,
            options(pure, readonly),
        );
    }
    [acc0, acc1, acc2, acc3]
}

/// The portable twin of the assembly loop: the same loads, lane spreads and dual
/// multiply-accumulates, in the same order.
///
/// # Safety
/// As the assembly version.
#[cfg(not(nn_arm_dsp))]
unsafe fn dot_rows(w: *const i8, stride: isize, pairs: *const u32, blocks: usize) -> [i32; 4] {
    // Safety: the caller promises `blocks * 16` readable bytes behind each row pointer, in
    // `w`'s allocation, and `blocks * 8` aligned words behind `pairs`.
    let (rows, pairs) = unsafe {
        (
            ROW_STEPS.map(|k| core::slice::from_raw_parts(w.offset(k * stride), blocks * BLOCK)),
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
    let mut acc = [0i32; 4];
    for (at, pair) in (0..blocks * BLOCK).step_by(4).zip(pairs.chunks_exact(2)) {
        let (xa, xb) = (pair[0], pair[1]);
        for k in [1, 2, 3, 0] {
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
