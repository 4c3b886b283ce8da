//! The Cortex-M4's packed layout ([`super::super::packed::Layout::M4Wide`]) and its loop: a
//! dense int8 layer's weights widened to i16 once, when the firmware is built, so that each
//! word the loop loads is two weights that `SMLAD` multiplies as they come, without the two
//! `SXTB16` per word of 4 int8 weights that the plain loop spends. Twice the weights' bytes
//! in flash buy 24 cycles per 20 multiply-accumulates in place of 23 per 16 (firmware/README.md
//! prices both).
//!
//! The buffer holds the weights alone (the bias and the requantisation stay the plain
//! layer's), in blocks of [`ROWS`] rows, the last one padded with zero rows. In a block, each
//! group of 4 columns `c..c + 4` (the last padded with zero columns) takes 10 words: the
//! 5 rows' `(w[r, c], w[r, c + 2])`, then the 5 rows' `(w[r, c + 1], w[r, c + 3])`, i16
//! lanes low half first. Those are the lanes of the input's widened entry (`super::widen`,
//! `(x[c] − zp, x[c + 2] − zp)` and `(x[c + 1] − zp, x[c + 3] − zp)`), so one `SMLAD` of a
//! weight word with an input word adds two of a row's products.
//!
//! One run of the loop computes a block's 5 rows: per half group a burst of 6 loads (the
//! input word, then the 5 rows' words, one after another in the buffer) and 5 `SMLAD`.
//! That takes 13 registers (5 accumulators, the input word, 5 weight words, 2 pointers),
//! and `r7` holds the loop's end. The body holds 8 groups; a number of groups that is not a
//! multiple of 8 enters it further in. `SMLAD` wraps modulo 2³², as the scalar twin's
//! accumulator does, so every row's sum equals the twin's for every input.
//!
//! On other targets the loop is the same words in the same order in portable Rust, so the
//! host tests the arithmetic and the layout; the assembly runs in the firmware's
//! `dense_bench` example and in its inference over an nn-build packed model.

use core::mem::MaybeUninit;

use super::Entry;
use crate::quant::Requant;

/// Rows per block: what 13 registers hold beside the input word and the pointers.
pub const ROWS: usize = 5;

/// Columns per group: one input entry.
const GROUP: usize = 4;

/// Words per group of a block: two per row.
const GROUP_WORDS: usize = 2 * ROWS;

/// The `i32` words a `(rows, cols)` layer widens into: the weights' blocks, then the
/// output stage's parameters (a flag, then 3 words a row).
pub const fn buffer_len(rows: usize, cols: usize) -> usize {
    weights_len(rows, cols)
        .saturating_add(1)
        .saturating_add(rows.saturating_mul(3))
}

/// The words of the weights' blocks.
const fn weights_len(rows: usize, cols: usize) -> usize {
    rows.div_ceil(ROWS)
        .saturating_mul(cols.div_ceil(GROUP))
        .saturating_mul(GROUP_WORDS)
}

/// The buffer's views: the weights' blocks, and the output stage's parameters: whether
/// every row's requantisation takes [`crate::kernels::int8::requantise`]'s short form, and
/// then per row `[bias, multiplier, k − 1]` (`k = −shift`), what the loop's output stage
/// reads in that case.
pub(super) struct Params<'a> {
    pub weights: &'a [i32],
    pub short_form: bool,
    pub rows: &'a [i32],
}

/// [`Params`] of a buffer [`pack`] filled for a `(rows, cols)` layer.
///
/// # Panics
/// If `buf` is not [`buffer_len`] long.
pub(super) fn split(buf: &[i32], rows: usize, cols: usize) -> Params<'_> {
    assert_eq!(buf.len(), buffer_len(rows, cols), "wide: buffer length");
    let (weights, rest) = buf.split_at(weights_len(rows, cols));
    Params {
        weights,
        short_form: rest[0] == 1,
        rows: &rest[1..],
    }
}

/// Widens `w`, `(rows, cols)` row-major, into `buf` ([`buffer_len`] words), with the output
/// stage's parameters from `bias` and `requant`, every word written (the module docs).
///
/// # Panics
/// If `w` is not `rows · cols` long, `bias` or `requant` not `rows`, or `buf` not
/// [`buffer_len`] long.
pub fn pack(
    w: &[i8],
    rows: usize,
    cols: usize,
    bias: &[i32],
    requant: &[Requant],
    buf: &mut [i32],
) {
    assert_eq!(w.len(), rows * cols, "pack: w is not (rows, cols)");
    assert!(
        bias.len() == rows && requant.len() == rows,
        "pack: not (rows)"
    );
    assert_eq!(
        buf.len(),
        buffer_len(rows, cols),
        "pack: buffer of the wrong length"
    );
    let weight = |r: usize, c: usize| -> u32 {
        if r < rows && c < cols {
            w[r * cols + c] as i16 as u16 as u32
        } else {
            0
        }
    };
    let groups = cols.div_ceil(GROUP);
    let (words, rest) = buf.split_at_mut(weights_len(rows, cols));
    for (i, word) in words.iter_mut().enumerate() {
        let (block, rest) = (i / (groups * GROUP_WORDS), i % (groups * GROUP_WORDS));
        let (group, k) = (rest / GROUP_WORDS, rest % GROUP_WORDS);
        // Words 0-4: columns c and c + 2; words 5-9: c + 1 and c + 3.
        let (row, c) = (block * ROWS + k % ROWS, group * GROUP + k / ROWS);
        *word = (weight(row, c) | weight(row, c + 2) << 16) as i32;
    }
    let (flag, params) = rest.split_at_mut(1);
    let mut short = true;
    for ((out, &b), rq) in params.chunks_exact_mut(3).zip(bias).zip(requant) {
        let k = rq.shift.wrapping_neg();
        short &= (2..=31).contains(&k) && rq.multiplier != i32::MIN;
        out.copy_from_slice(&[b, rq.multiplier, k.wrapping_sub(1)]);
    }
    flag[0] = i32::from(short);
}

/// The sums `Σ w[r, c] · (x[c] − zp)` of the [`ROWS`] rows of each block in `words` (whole
/// blocks of the buffer, one after another), modulo 2³², written to the start of `dots`
/// (5 per block) and returned: `entries` is every group of the input, widened (the last
/// one padded with zero lanes).
///
/// # Panics
/// If `words` is not whole blocks of `10 · entries.len()` words, or `dots` is shorter than
/// 5 per block.
#[inline(always)]
pub(super) fn dot_blocks<'d>(
    words: &[i32],
    entries: &[Entry],
    dots: &'d mut [MaybeUninit<i32>],
) -> &'d [i32] {
    let block = entries.len() * GROUP_WORDS;
    assert!(
        block > 0 && words.len().is_multiple_of(block),
        "wide: block sizes"
    );
    let dots = &mut dots[..words.len() / block * ROWS];
    if !words.is_empty() {
        // Safety: the assertion above: whole blocks of 10 words per entry, at least one
        // entry and one block, and `dots` is 5 sums per block long.
        unsafe { dot_blocks_raw(words, entries, dots.as_mut_ptr().cast()) }
    }
    // Safety: every sum is written, and `MaybeUninit<i32>` has `i32`'s layout.
    unsafe { core::slice::from_raw_parts(dots.as_ptr().cast::<i32>(), dots.len()) }
}

/// Half a group: the input word (then the pointer stepped past the pair, `#4`, or past the
/// offset too, `#8`), the 5 rows' words, and their 5 `SMLAD`.
#[cfg(nn_arm_dsp)]
macro_rules! half_group {
    ($step:literal) => {
        concat!(
            "ldr {x}, [{xp}], #",
            $step,
            "\n",
            "ldr {w0}, [{wp}], #4\n",
            "ldr {w1}, [{wp}], #4\n",
            "ldr {w2}, [{wp}], #4\n",
            "ldr {w3}, [{wp}], #4\n",
            "ldr {w4}, [{wp}], #4\n",
            "smlad {a0}, {w0}, {x}, {a0}\n",
            "smlad {a1}, {w1}, {x}, {a1}\n",
            "smlad {a2}, {w2}, {x}, {a2}\n",
            "smlad {a3}, {w3}, {x}, {a3}\n",
            "smlad {a4}, {w4}, {x}, {a4}\n",
        )
    };
}

/// One group: its two halves.
#[cfg(nn_arm_dsp)]
macro_rules! group {
    () => {
        concat!(half_group!("4"), half_group!("8"))
    };
}

/// One block's sums: the accumulators cleared, the groups entered where a multiple of 8
/// is left (`n % 8 = r > 0` enters at the body's group 9 − r, labels 21 to 28, through a
/// binary search on `r` at `[sp, #4]`), and the 8-group body run to the input's end (`r7`).
#[cfg(nn_arm_dsp)]
macro_rules! block {
    () => {
        concat!(
            "movs {a0}, #0\n",
            "movs {a1}, #0\n",
            "movs {a2}, #0\n",
            "movs {a3}, #0\n",
            "movs {a4}, #0\n",
            "ldr {w0}, [sp, #4]\n",
            "cmp {w0}, #4\n",
            "beq 25f\n",
            "bhi 3f\n",
            "cmp {w0}, #2\n",
            "beq 27f\n",
            "bhi 26f\n",
            "cmp {w0}, #1\n",
            "beq 28f\n",
            "b 21f\n",
            "3:\n",
            "cmp {w0}, #6\n",
            "beq 23f\n",
            "bhi 22f\n",
            "b 24f\n",
            "21:\n",
            group!(),
            "22:\n",
            group!(),
            "23:\n",
            group!(),
            "24:\n",
            group!(),
            "25:\n",
            group!(),
            "26:\n",
            group!(),
            "27:\n",
            group!(),
            "28:\n",
            group!(),
            "cmp {xp}, r7\n",
            "bne 21b\n",
        )
    };
}

/// The loop over the blocks (the module docs): per block the accumulators cleared, the
/// groups, and the 5 sums stored; the input's start, `n % 8`, the sums' pointer and the
/// blocks' end wait on the stack.
///
/// # Safety
/// `words` must be whole blocks of `10 · entries.len()` words, at least one, `entries` not
/// empty, and `dots` writable for 5 sums per block.
#[cfg(nn_arm_dsp)]
#[inline(always)]
unsafe fn dot_blocks_raw(words: &[i32], entries: &[Entry], dots: *mut i32) {
    let n = entries.len();
    // Safety: reads the entries and `words`, writes 5 sums per block at `dots`, the
    // caller's promise; touches only the registers named here, r7 (saved and restored),
    // the flags, and 20 bytes of stack below `sp`, given back.
    unsafe {
        core::arch::asm!(
            "push {{r7}}",
            // The end of the entries, for every block.
            "mov r7, {x}",
            "sub sp, #16",
            "str {a0}, [sp]",
            "str {a1}, [sp, #4]",
            "str {a2}, [sp, #8]",
            "str {a3}, [sp, #12]",
            "7:",
            "ldr {xp}, [sp]",
            block!(),
            // The block's sums, then on to the next block (`wp` is already there).
            "ldr {w0}, [sp, #8]",
            "str {a0}, [{w0}], #4",
            "str {a1}, [{w0}], #4",
            "str {a2}, [{w0}], #4",
            "str {a3}, [{w0}], #4",
            "str {a4}, [{w0}], #4",
            "str {w0}, [sp, #8]",
            "ldr {w0}, [sp, #12]",
            "cmp {wp}, {w0}",
            "bne 7b",
            "add sp, #16",
            "pop {{r7}}",
            a0 = inout(reg) entries.as_ptr() => _,
            a1 = inout(reg) n % 8 => _,
            a2 = inout(reg) dots => _,
            a3 = inout(reg) words.as_ptr().add(words.len()) => _,
            a4 = out(reg) _,
            wp = inout(reg) words.as_ptr() => _,
            xp = out(reg) _,
            x = inout(reg) entries.as_ptr().add(n) => _,
            w0 = out(reg) _,
            w1 = out(reg) _,
            w2 = out(reg) _,
            w3 = out(reg) _,
            w4 = out(reg) _,
        );
    }
}

/// The portable twin of the loop: the same words, the same order, the same `SMLAD`.
///
/// # Safety
/// As the assembly version.
#[cfg(not(nn_arm_dsp))]
unsafe fn dot_blocks_raw(words: &[i32], entries: &[Entry], dots: *mut i32) {
    let mut wp = words.iter();
    for b in 0..words.len() / (entries.len() * GROUP_WORDS) {
        let mut acc = [0i32; ROWS];
        for &[even, odd, _] in entries {
            for x in [even, odd] {
                for (a, &w) in acc.iter_mut().zip(wp.by_ref()) {
                    *a = super::smlad(w as u32, x, *a);
                }
            }
        }
        for (k, a) in acc.into_iter().enumerate() {
            // Safety: 5 sums per block, the caller's promise.
            unsafe { dots.add(b * ROWS + k).write(a) };
        }
    }
}

/// [`dot_blocks`] with the output stage fused in: for whole blocks of a layer whose
/// requantisations all take the short form and whose clamp is the i8 range, each block's
/// 5 rows go straight from the accumulators to `y` (bias added, `SMULL`, the shifts, `QADD`
/// of the output zero point `zp`, `SSAT` to 8 bits), reading `[bias, multiplier, k − 1]`
/// per row from `params`: 13 instructions a row, where the sums' round trip through memory
/// and the row loop in Rust took twice as many.
///
/// # Panics
/// If `words` is not whole blocks of `10 · entries.len()` words, `params` shorter than 3
/// per row of them, or `y` not 5 per block.
#[inline(always)]
pub(super) fn out_blocks(words: &[i32], entries: &[Entry], params: &[i32], zp: i32, y: &mut [i8]) {
    let block = entries.len() * GROUP_WORDS;
    assert!(
        block > 0 && words.len().is_multiple_of(block),
        "wide: block sizes"
    );
    let blocks = words.len() / block;
    assert!(
        params.len() >= blocks * ROWS * 3 && y.len() == blocks * ROWS,
        "wide: output sizes"
    );
    if blocks > 0 {
        // Safety: the assertions above.
        unsafe { out_blocks_raw(words, entries, params.as_ptr(), zp, y.as_mut_ptr()) }
    }
}

/// The output stage of one row in the fused loop: `{acc}` plus the bias, requantised with
/// the multiplier and `k − 1` (all three read from `[{w0}]`, stepping it on), the zero
/// point `{w2}` added saturating, clamped to 8 bits, stored at `[{w1}]` (stepping it on).
#[cfg(nn_arm_dsp)]
macro_rules! out_row {
    ($acc:literal) => {
        concat!(
            "ldr {w3}, [{w0}], #4\n",
            "ldr {w4}, [{w0}], #4\n",
            "ldr {x}, [{w0}], #4\n",
            "add ",
            $acc,
            ", ",
            $acc,
            ", {w3}\n",
            "smull {xp}, r7, ",
            $acc,
            ", {w4}\n",
            "lsr {xp}, {xp}, #31\n",
            "orr {xp}, {xp}, r7, lsl #1\n",
            "asr {xp}, {xp}, {x}\n",
            "add {xp}, {xp}, #1\n",
            "asr {xp}, {xp}, #1\n",
            "qadd {xp}, {xp}, {w2}\n",
            "ssat {xp}, #8, {xp}\n",
            "strb {xp}, [{w1}], #1\n",
        )
    };
}

/// The fused loop (see [`out_blocks`]): [`dot_blocks_raw`]'s, with the sums' store replaced
/// by the 5 rows' output stage. On the stack: the input's start, `n % 8`, the parameters'
/// pointer, the blocks' end, the output pointer, the zero point, the input's end.
///
/// # Safety
/// `words` must be whole blocks of `10 · entries.len()` words, at least one, `entries` not
/// empty, `params` readable for 15 words per block and `y` writable for 5 bytes per block.
#[cfg(nn_arm_dsp)]
#[inline(always)]
unsafe fn out_blocks_raw(
    words: &[i32],
    entries: &[Entry],
    params: *const i32,
    zp: i32,
    y: *mut i8,
) {
    let n = entries.len();
    // Safety: reads the entries, `words` and the parameters, writes 5 bytes per block at
    // `y`, the caller's promise; touches only the registers named here, r7 (saved and
    // restored), the flags and the Q flag, and 32 bytes of stack below `sp`, given back.
    unsafe {
        core::arch::asm!(
            "push {{r7}}",
            "sub sp, #28",
            "str {a0}, [sp]",
            "str {a1}, [sp, #4]",
            "str {a2}, [sp, #8]",
            "str {a3}, [sp, #12]",
            "str {a4}, [sp, #16]",
            "str {w0}, [sp, #20]",
            "str {x}, [sp, #24]",
            "7:",
            "ldr r7, [sp, #24]",
            "ldr {xp}, [sp]",
            block!(),
            "ldr {w0}, [sp, #8]",
            "ldr {w1}, [sp, #16]",
            "ldr {w2}, [sp, #20]",
            out_row!("{a0}"),
            out_row!("{a1}"),
            out_row!("{a2}"),
            out_row!("{a3}"),
            out_row!("{a4}"),
            "str {w0}, [sp, #8]",
            "str {w1}, [sp, #16]",
            "ldr {w3}, [sp, #12]",
            "cmp {wp}, {w3}",
            "bne 7b",
            "add sp, #28",
            "pop {{r7}}",
            a0 = inout(reg) entries.as_ptr() => _,
            a1 = inout(reg) n % 8 => _,
            a2 = inout(reg) params => _,
            a3 = inout(reg) words.as_ptr().add(words.len()) => _,
            a4 = inout(reg) y => _,
            wp = inout(reg) words.as_ptr() => _,
            xp = out(reg) _,
            x = inout(reg) entries.as_ptr().add(n) => _,
            w0 = inout(reg) zp => _,
            w1 = out(reg) _,
            w2 = out(reg) _,
            w3 = out(reg) _,
            w4 = out(reg) _,
        );
    }
}

/// The portable twin of the fused loop: [`dot_blocks_raw`]'s sums, then the same output
/// stage, instruction for instruction.
///
/// # Safety
/// As the assembly version.
#[cfg(not(nn_arm_dsp))]
unsafe fn out_blocks_raw(
    words: &[i32],
    entries: &[Entry],
    params: *const i32,
    zp: i32,
    y: *mut i8,
) {
    let rows = words.len() / (entries.len() * GROUP_WORDS) * ROWS;
    let mut dots = [0i32; ROWS];
    for (r, chunk) in words.chunks(entries.len() * GROUP_WORDS).enumerate() {
        // Safety: one whole block, 5 sums.
        unsafe { dot_blocks_raw(chunk, entries, dots.as_mut_ptr()) };
        for (k, &dot) in dots.iter().enumerate() {
            let row = r * ROWS + k;
            debug_assert!(row < rows);
            // Safety: 3 parameters per row and a byte of `y` per row, the caller's promise.
            let (b, m, s) = unsafe {
                let p = params.add(3 * row);
                (p.read(), p.add(1).read(), p.add(2).read())
            };
            let acc = dot.wrapping_add(b);
            let high = ((i64::from(acc) * i64::from(m)) >> 31) as i32;
            let v = ((high >> (s & 31)).wrapping_add(1)) >> 1;
            // Safety: as above.
            unsafe {
                y.add(row)
                    .write(v.saturating_add(zp).clamp(-128, 127) as i8)
            };
        }
    }
}
