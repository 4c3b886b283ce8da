//! `dense_i8` shaped for the Cortex-M4's DSP instructions, exactly equal to the scalar twin.
//!
//! Rows go three at a time. Each pass of the inner loop takes 4 columns, twice (8
//! columns): one `ldr` brings 4 inputs, two `sxtab16` spread them into two registers of
//! two i16 lanes each, adding `−zp` to every lane on the way (`(x0 − zp, x2 − zp)` and
//! `(x1 − zp, x3 − zp)`); for each of the three rows, one `ldr` brings 4 weights, two
//! `sxtb16` spread them the same way, and two `smlad` multiply the lanes pairwise and add
//! both products to the row's accumulator. That is 18 instructions per 12 multiply-
//! accumulates, and a `cmp`/`bne` per 24: 38 instructions per 24 MACs (1.58 per MAC).
//! On an M4 (LDR 2 cycles, 1 when pipelined after another, SXTB16/SXTAB16/SMLAD 1, a
//! taken branch 2–3) that is about 46 cycles per 24 MACs, ~1.9 cycles/MAC: the weights'
//! own work (a load, two spreads, two `smlad` per 4) is 1.25–1.5 of it, whatever the
//! pass shape. Three rows is what fits the 12 registers inline assembly gets on Thumb:
//! the second and third rows are addressed from the first one's pointer with a register
//! offset (`[w, s]`, `[w, s, lsl #1]`), so three rows cost two pointer registers.
//!
//! The last `cols % 8` columns go through the same arithmetic in Rust; one or two rows
//! left over run the same pass with a row stride of 0 (the row three times, one result
//! kept). `smlad` wraps modulo 2³² (setting the sticky Q flag, which nothing reads), as
//! the twin's accumulator does, so the result equals the twin's for every input. `x − zp`
//! must fit in an i16 lane: for zero points outside [−32640, 32639] (never in a TFLite
//! model, whose are in [−128, 127]) the scalar twin runs instead.
//!
//! On other targets (and on Cortex-M cores without the DSP extension) `dot_rows` is the
//! same pass structure in portable Rust, instruction for instruction, so the host tests
//! the arithmetic the board does; the assembly itself runs in the firmware's boot check.

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
        // Three rows, or one left over, read three times through a stride of 0.
        let (n, stride) = if r + 3 <= rows { (3, cols) } else { (1, 0) };
        let dots = if blocks == 0 {
            [0; 3]
        } else {
            // Safety: rows `r`, `r + stride / cols` and `r + 2 * stride / cols` are all in
            // `w` (rows `r..r + 3` when `n` is 3, row `r` alone when the stride is 0), each
            // with `cols ≥ blocks * 8` bytes, and `x` holds `cols`: all `dot_rows` reads.
            unsafe { dot_rows(w[r * cols..].as_ptr(), stride, x.as_ptr(), blocks, offset) }
        };
        for k in 0..n {
            let row = &w[(r + k) * cols..(r + k + 1) * cols];
            y[r + k] = output(
                bias[r + k].wrapping_add(tail(row, dots[k])),
                requant[r + k],
                p,
            );
        }
        r += n;
    }
}

/// `Σ w_k[c] · (x[c] − zp)` for the rows `w_k = w + k · stride` (k = 0, 1, 2) over the
/// first `blocks * 8` columns, modulo 2³², where `offset` holds `−zp` in both 16-bit halves.
///
/// # Safety
/// `w`, `w + stride`, `w + 2 * stride` and `x` must each point to `blocks * 8` readable
/// bytes; `blocks ≥ 1`. No alignment is needed (the M4 loads words at any address).
#[cfg(nn_arm_dsp)]
unsafe fn dot_rows(
    w: *const i8,
    stride: usize,
    x: *const i8,
    blocks: usize,
    offset: u32,
) -> [i32; 3] {
    let (mut acc0, mut acc1, mut acc2) = (0i32, 0i32, 0i32);
    // Safety: reads `blocks * 8` bytes from `x` and from each of the three rows, the
    // caller's promise; touches only the registers named here (and the flags, which
    // `asm!` assumes clobbered).
    unsafe {
        core::arch::asm!(
            "2:",
            // Columns 0–3: rows 1 and 2 through the stride, then row 0, which steps on.
            "ldr {xr}, [{xp}], #4",
            "ldr {t1}, [{w}, {s}]",
            "sxtab16 {xlo}, {off}, {xr}",
            "sxtab16 {xr}, {off}, {xr}, ror #8",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc1}, {t1}, {xlo}, {acc1}",
            "smlad {acc1}, {t2}, {xr}, {acc1}",
            "ldr {t1}, [{w}, {s}, lsl #1]",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc2}, {t1}, {xlo}, {acc2}",
            "smlad {acc2}, {t2}, {xr}, {acc2}",
            "ldr {t1}, [{w}], #4",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc0}, {t1}, {xlo}, {acc0}",
            "smlad {acc0}, {t2}, {xr}, {acc0}",
            // Columns 4–7, the same.
            "ldr {xr}, [{xp}], #4",
            "ldr {t1}, [{w}, {s}]",
            "sxtab16 {xlo}, {off}, {xr}",
            "sxtab16 {xr}, {off}, {xr}, ror #8",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc1}, {t1}, {xlo}, {acc1}",
            "smlad {acc1}, {t2}, {xr}, {acc1}",
            "ldr {t1}, [{w}, {s}, lsl #1]",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc2}, {t1}, {xlo}, {acc2}",
            "smlad {acc2}, {t2}, {xr}, {acc2}",
            "ldr {t1}, [{w}], #4",
            "sxtb16 {t2}, {t1}, ror #8",
            "sxtb16 {t1}, {t1}",
            "smlad {acc0}, {t1}, {xlo}, {acc0}",
            "smlad {acc0}, {t2}, {xr}, {acc0}",
            "cmp {xp}, {xend}",
            "bne 2b",
            acc0 = inout(reg) acc0,
            acc1 = inout(reg) acc1,
            acc2 = inout(reg) acc2,
            w = inout(reg) w => _,
            xp = inout(reg) x => _,
            xend = in(reg) x.add(blocks * BLOCK),
            s = in(reg) stride,
            off = in(reg) offset,
            xr = out(reg) _,
            xlo = out(reg) _,
            t1 = out(reg) _,
            t2 = out(reg) _,
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
unsafe fn dot_rows(
    w: *const i8,
    stride: usize,
    x: *const i8,
    blocks: usize,
    offset: u32,
) -> [i32; 3] {
    // Safety: the caller promises `blocks * 8` readable bytes behind each pointer.
    let (rows, x) = unsafe {
        (
            [0, 1, 2].map(|k| core::slice::from_raw_parts(w.add(k * stride), blocks * BLOCK)),
            core::slice::from_raw_parts(x, blocks * BLOCK),
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
    for at in (0..blocks * BLOCK).step_by(4) {
        let xr = word(x, at);
        let xlo = sxtab16(offset, xr);
        let xhi = sxtab16(offset, xr.rotate_right(8));
        for k in [1, 2, 0] {
            let wk = word(rows[k], at);
            acc[k] = smlad(sxtb16(wk), xlo, acc[k]);
            acc[k] = smlad(sxtb16(wk.rotate_right(8)), xhi, acc[k]);
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
