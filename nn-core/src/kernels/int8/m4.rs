//! `dense_i8` shaped for the Cortex-M4's DSP instructions, exactly equal to the scalar twin.
//!
//! Rows go two at a time. Each pass of the inner loop takes 4 columns per half, twice
//! (8 columns): one `ldr` brings 4 inputs, two `sxtab16` spread them into two registers of
//! two i16 lanes each, adding `−zp` to every lane on the way (`(x0 − zp, x2 − zp)` and
//! `(x1 − zp, x3 − zp)`); for each of the two rows, one `ldr` brings 4 weights, two
//! `sxtb16` spread them the same way, and two `smlad` multiply the lanes pairwise and add
//! both products to the row's accumulator. That is 13 instructions per 8 multiply-
//! accumulates, and a `cmp`/`bne` per 16: 28 per 16 MACs. On an M4 (LDR 2 cycles, 1 when
//! pipelined after another, SXTB16/SXTAB16/SMLAD 1, a taken branch 2–3) that is about
//! 33 cycles per 16 MACs, ~2.1 cycles/MAC; more rows per pass would share the inputs'
//! work further, but do not fit in the 11 registers inline assembly gets on Thumb.
//!
//! The last `cols % 8` columns, and a last odd row's blocks, go through the same
//! arithmetic in Rust. `smlad` wraps modulo 2³² (setting the sticky Q flag, which nothing
//! reads), as the twin's accumulator does, so the result equals the twin's for every input.
//! `x − zp` must fit in an i16 lane: for zero points outside [−32640, 32639] (never in a
//! TFLite model, whose are in [−128, 127]) the scalar twin runs instead.
//!
//! On other targets (and on Cortex-M cores without the DSP extension) [`dot_pair`] is the
//! same pass structure in portable Rust, instruction for instruction, so the host tests the
//! arithmetic the board does; the assembly itself runs in the firmware's boot check.

use super::{check_dense_shapes, output};
use crate::quant::{DenseI8Params, Requant};

/// Columns per pass of the inner loop.
const BLOCK: usize = 8;

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
    if !ZERO_POINTS.contains(&p.input_zero_point) {
        return super::scalar::dense_i8(w, x, bias, requant, p, y);
    }
    let cols = x.len();
    let blocks = cols / BLOCK;
    let whole = blocks * BLOCK;
    let zp = p.input_zero_point;
    // −zp in both i16 lanes, for `sxtab16`.
    let minus_zp = (zp.wrapping_neg() as u32) & 0xffff;
    let offset = minus_zp | (minus_zp << 16);
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
        let w0 = &w[r * cols..(r + 1) * cols];
        // An odd last row pairs with itself; only its first result is kept.
        let w1 = if r + 1 < rows {
            &w[(r + 1) * cols..(r + 2) * cols]
        } else {
            w0
        };
        let (d0, d1) = if blocks == 0 {
            (0, 0)
        } else {
            // Safety: both rows and `x` hold `cols ≥ blocks * 8` bytes, all that
            // `dot_pair` reads.
            unsafe { dot_pair(w0.as_ptr(), w1.as_ptr(), x.as_ptr(), blocks, offset) }
        };
        y[r] = output(bias[r].wrapping_add(tail(w0, d0)), requant[r], p);
        if r + 1 < rows {
            y[r + 1] = output(bias[r + 1].wrapping_add(tail(w1, d1)), requant[r + 1], p);
        }
        r += 2;
    }
}

/// `(Σ w0[c] · (x[c] − zp), Σ w1[c] · (x[c] − zp))` over the first `blocks * 8` columns,
/// modulo 2³², where `offset` holds `−zp` in both 16-bit halves.
///
/// # Safety
/// `w0`, `w1` and `x` must each point to `blocks * 8` readable bytes; `blocks ≥ 1`.
/// No alignment is needed (the M4 loads words at any address).
#[cfg(nn_arm_dsp)]
unsafe fn dot_pair(
    w0: *const i8,
    w1: *const i8,
    x: *const i8,
    blocks: usize,
    offset: u32,
) -> (i32, i32) {
    let (mut acc0, mut acc1) = (0i32, 0i32);
    // Safety: reads `blocks * 8` bytes from each pointer, the caller's promise; touches
    // only the registers named here (and the flags, which `asm!` assumes clobbered).
    unsafe {
        core::arch::asm!(
            "2:",
            // Columns 0–3.
            "ldr {xr}, [{xp}], #4",
            "ldr {t1}, [{w0}], #4",
            "sxtab16 {xlo}, {off}, {xr}",
            "sxtab16 {xr}, {off}, {xr}, ror #8",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc0}, {t1}, {xlo}, {acc0}",
            "smlad {acc0}, {t2}, {xr}, {acc0}",
            "ldr {t1}, [{w1}], #4",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc1}, {t1}, {xlo}, {acc1}",
            "smlad {acc1}, {t2}, {xr}, {acc1}",
            // Columns 4–7.
            "ldr {xr}, [{xp}], #4",
            "ldr {t1}, [{w0}], #4",
            "sxtab16 {xlo}, {off}, {xr}",
            "sxtab16 {xr}, {off}, {xr}, ror #8",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc0}, {t1}, {xlo}, {acc0}",
            "smlad {acc0}, {t2}, {xr}, {acc0}",
            "ldr {t1}, [{w1}], #4",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc1}, {t1}, {xlo}, {acc1}",
            "smlad {acc1}, {t2}, {xr}, {acc1}",
            "cmp {xp}, {xend}",
            "bne 2b",
            acc0 = inout(reg) acc0,
            acc1 = inout(reg) acc1,
            w0 = inout(reg) w0 => _,
            w1 = inout(reg) w1 => _,
            xp = inout(reg) x => _,
            xend = in(reg) x.add(blocks * BLOCK),
            off = in(reg) offset,
            xr = out(reg) _,
            xlo = out(reg) _,
            t1 = out(reg) _,
            t2 = out(reg) _,
            options(pure, readonly, nostack),
        );
    }
    (acc0, acc1)
}

/// The portable twin of the assembly loop: the same loads, lane spreads and dual
/// multiply-accumulates, in the same order.
///
/// # Safety
/// As the assembly version.
#[cfg(not(nn_arm_dsp))]
unsafe fn dot_pair(
    w0: *const i8,
    w1: *const i8,
    x: *const i8,
    blocks: usize,
    offset: u32,
) -> (i32, i32) {
    // Safety: the caller promises `blocks * 8` readable bytes behind each pointer.
    let (w0, w1, x) = unsafe {
        (
            core::slice::from_raw_parts(w0, blocks * BLOCK),
            core::slice::from_raw_parts(w1, blocks * BLOCK),
            core::slice::from_raw_parts(x, blocks * BLOCK),
        )
    };
    let word = |s: &[i8]| u32::from_le_bytes([s[0] as u8, s[1] as u8, s[2] as u8, s[3] as u8]);
    let (mut acc0, mut acc1) = (0i32, 0i32);
    for ((x4, a4), b4) in x
        .chunks_exact(4)
        .zip(w0.chunks_exact(4))
        .zip(w1.chunks_exact(4))
    {
        let xr = word(x4);
        let xlo = sxtab16(offset, xr);
        let xhi = sxtab16(offset, xr.rotate_right(8));
        let a = word(a4);
        acc0 = smlad(sxtb16(a), xlo, acc0);
        acc0 = smlad(sxtb16(a.rotate_right(8)), xhi, acc0);
        let b = word(b4);
        acc1 = smlad(sxtb16(b), xlo, acc1);
        acc1 = smlad(sxtb16(b.rotate_right(8)), xhi, acc1);
    }
    (acc0, acc1)
}

/// `SXTB16`: bytes 0 and 2, sign-extended into the two 16-bit halves.
#[cfg(not(nn_arm_dsp))]
fn sxtb16(v: u32) -> u32 {
    let lo = v as u8 as i8 as i16 as u16 as u32;
    let hi = (v >> 16) as u8 as i8 as i16 as u16 as u32;
    lo | (hi << 16)
}

/// `SXTAB16`: bytes 0 and 2 of `v`, sign-extended, added to the halves of `a` (mod 2¹⁶).
#[cfg(not(nn_arm_dsp))]
fn sxtab16(a: u32, v: u32) -> u32 {
    let s = sxtb16(v);
    let lo = (a as u16).wrapping_add(s as u16) as u32;
    let hi = ((a >> 16) as u16).wrapping_add((s >> 16) as u16) as u32;
    lo | (hi << 16)
}

/// `SMLAD`: `acc + a.lo · b.lo + a.hi · b.hi`, halves signed, the sum modulo 2³².
#[cfg(not(nn_arm_dsp))]
fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    let lo = i32::from(a as u16 as i16) * i32::from(b as u16 as i16);
    let hi = i32::from((a >> 16) as u16 as i16) * i32::from((b >> 16) as u16 as i16);
    acc.wrapping_add(lo).wrapping_add(hi)
}
