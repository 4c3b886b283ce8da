//! `dense_i8` shaped for the Cortex-M4's DSP instructions, exactly equal to the scalar twin.
//!
//! The input is widened once per layer (CMSIS-NN's `arm_q7_to_q15_reordered` idea): for
//! every group of 4 columns, an entry of two words of two i16 lanes,
//! `(x0 − zp, x2 − zp)` and `(x1 − zp, x3 − zp)`, and the group's byte offset in a row, on
//! the stack ([`MAX_COLS`] columns at most). The lanes are those `SXTB16(w)` and
//! `SXTB16(ROR(w, 8))` give of a word of 4 weights, so each `smlad` multiplies two weights
//! by their inputs and adds both products.
//!
//! A group whose 4 inputs all equal the zero point adds exactly 0 to every row: a digit's
//! black pixels (72 % of the 4-column groups of the MNIST test images) and the hidden
//! layer's ReLU zeros. The widening drops those groups, and when at most 6 in 7 are left
//! the layer runs the *sparse* loop over the groups left, each reaching its weights
//! through its offset; otherwise it widens every group and runs the *dense* loop, which
//! needs no offsets and so spends 3 fewer cycles a group (firmware/README.md prices both).
//! Both give the scalar twin's sums exactly: skipping a zero product changes no bit.
//!
//! One run of either assembly loop computes four rows, 4 columns at a time: one burst of
//! loads, back to back (`ldrd` of the two input words shared by the four rows, then one
//! word of each row), then per row two `sxtb16` and two `smlad`: 21 instructions per 16
//! multiply-accumulates (the sparse loop adds the offset's `ldr` and an `add`). The dense
//! loop's body holds 32 columns (an odd number of 16-column blocks enters it halfway), the
//! sparse loop's 4 groups (it enters at the group that leaves a multiple of 4); each
//! compares with the loop's end, kept on the stack, once a body. Four rows take 14
//! registers: 4 accumulators, 2 input words, 4 weight words, a temporary and 3 pointers
//! (weights, row stride, input): all but `sp` and `pc`. Inline assembly may not name `r7`
//! (the frame pointer) as an operand, so the loops save it and use it as the temporary
//! (in the sparse loop also for the group's address); the other 13 are operands, which
//! leaves the register allocator no spare (a function that needs `r6` as its base pointer
//! would fail to build, not misbehave). One stride register reaches rows `w`, `w + s`,
//! `w + 2s` and `w + 4s` (`ldr [w, s, lsl #k]`), so a pass takes the rows
//! `first + {0, 1, 2, 4}·step`: for 8 rows from `a`, one pass from `a` with step +1 and
//! one from `a + 7` with step −1 (`a + 7, a + 6, a + 5, a + 3`) cover them all.
//!
//! The columns after the last whole group (sparse) or 16-column block (dense) go through
//! the same arithmetic in Rust. When the rows are not a multiple of 8, the last 8 run
//! again (the passes that hold a row not yet done, the rows already done dropped); a layer
//! of fewer than 8 rows runs each row alone, through a step of 0 (its four dot products
//! equal). `smlad` wraps modulo 2³² (setting the sticky Q flag, which nothing reads), as
//! the twin's accumulator does, so the result equals the twin's for every input.
//! `x − zp` must fit in an i16 lane: for zero points outside [−32640, 32639] (never in a
//! TFLite model, whose are in [−128, 127]), and for more than [`MAX_COLS`] columns, the
//! scalar twin runs instead.
//!
//! On other targets (and on Cortex-M cores without the DSP extension) both loops are the
//! same passes in portable Rust, instruction for instruction, so the host tests the
//! arithmetic the board does; the assembly itself runs in the firmware's boot check.

use core::mem::MaybeUninit;

use super::packed::{Layout, PackedDenseI8};
use super::{DenseI8Args, I16_ZERO_POINTS, output};
use crate::quant::{DenseI8Params, Requant};

pub mod wide;

/// Columns per group: one word of 4 weights per row.
const GROUP: usize = 4;

/// Columns per block of the dense loop: its body holds two.
const BLOCK: usize = 16;

/// The rows of one pass, in steps from its first row: what `[w]`, `[w, s]`,
/// `[w, s, lsl #1]` and `[w, s, lsl #2]` reach.
const ROW_STEPS: [isize; 4] = [0, 1, 2, 4];

/// The most columns the kernel widens (3 KiB of stack: three words per 4 columns); the
/// largest layer input the firmware has is 1024 (the 784-1024-10 model's second layer).
pub const MAX_COLS: usize = 1024;

/// One group of 4 columns, widened: `[(x0 − zp) | (x2 − zp) << 16,
/// (x1 − zp) | (x3 − zp) << 16, byte offset of the group in a row]`, i16 lanes low half
/// first. The assembly reads it as three words.
type Entry = [u32; 3];

/// [`crate::kernels::dense_i8_packed`] with `SMLAD`: a layer packed in the
/// [`Layout::M4Wide`] layout (nn-build writes it to flash) runs [`wide`]'s loop where its
/// input is dense; where at least a quarter of the input's groups are all at the zero point
/// (the sparse loop's 26 cycles per 16 remaining multiply-accumulates then cost less than
/// the wide loop's 24 per 20 of all of them), and for a layer in another layout, the plain
/// layer runs ([`dense_i8`]).
pub fn dense_i8_packed(layer: &PackedDenseI8<'_>, x: &[i8], y: &mut [i8]) {
    let args = DenseI8Args::new(layer.w, x, layer.bias, layer.requant, layer.p, y);
    if layer.layout != Layout::M4Wide
        || !I16_ZERO_POINTS.contains(&args.p.input_zero_point)
        || args.x.len() > MAX_COLS
    {
        return dense_i8(args);
    }
    let (_, x, bias, requant, p, y) = args.parts();
    let groups = x.len() / GROUP;
    let mut buf = [MaybeUninit::<Entry>::uninit(); MAX_COLS / GROUP];
    let entries = widen_padded(x, p.input_zero_point, &mut buf);
    let zeros = entries[..groups]
        .iter()
        .filter(|e| e[0] | e[1] == 0)
        .count();
    if zeros * 4 < groups {
        wide_rows(layer.words, entries, bias, requant, p, y);
    } else {
        dense_i8(DenseI8Args::new(layer.w, x, bias, requant, p, y));
    }
}

/// [`crate::kernels::dense_i8`] with `SMLAD`, the shapes checked in `args`.
pub fn dense_i8(args: DenseI8Args<'_>) {
    if !I16_ZERO_POINTS.contains(&args.p.input_zero_point) || args.x.len() > MAX_COLS {
        return super::scalar::dense_i8(args);
    }
    let (w, x, bias, requant, p, y) = args.parts();
    let cols = x.len();
    let zp = p.input_zero_point;
    let groups = cols / GROUP;
    let mut buf = [MaybeUninit::<Entry>::uninit(); MAX_COLS / GROUP];
    let grouped = &x[..groups * GROUP];
    let left = widen(grouped, zp, true, &mut buf);
    // The loop to run, its entries, and where the columns done in Rust start.
    // (Fewer columns than a block: the dense loop would run none of them, the sparse one
    // every group.)
    let (sparse, entries, tail) = if left.len() * 7 <= groups * 6 || cols < BLOCK {
        (true, left, groups * GROUP)
    } else {
        // No group dropped: `left` is every group already.
        let every = if left.len() == groups {
            left
        } else {
            widen(grouped, zp, false, &mut buf)
        };
        let blocks = cols / BLOCK;
        (false, &every[..blocks * 4], blocks * BLOCK)
    };
    let rows = y.len();
    // The four dot products of the rows `first + ROW_STEPS[k] · step`.
    let dots = |first: usize, step: isize| {
        if entries.is_empty() {
            return [0; 4];
        }
        // Safety: every caller passes `step` −1, 0 or 1 and rows `first + ROW_STEPS[k] ·
        // step` in `0..rows`: each is in `w` (the pointer is `w`'s, so the rows before
        // `first` are in its reach too), `cols` bytes long, and every entry's group (its
        // offset for the sparse loop, its place for the dense one, whose entries are whole
        // blocks of 4) lies in the first `groups * 4 ≤ cols` bytes: all that the loops
        // read. (Called directly, not through a pointer: inlined, the assembly's 13
        // operands find registers; in a function of their own, the return slot's pointer
        // would take one.)
        unsafe {
            let (w, stride) = (w.as_ptr().add(first * cols), step * cols as isize);
            if sparse {
                dot_rows_sparse(w, stride, entries)
            } else {
                dot_rows_dense(w, stride, entries)
            }
        }
    };
    // Whole blocks of 8 rows from `a`: two passes, `a` with step +1 and `a + 7` with
    // step −1, each row once.
    let whole = if rows < 8 { 0 } else { rows / 8 * 8 };
    for a in (0..whole).step_by(8) {
        let [d0, d1, d2, d4] = dots(a, 1);
        let [d7, d6, d5, d3] = dots(a + 7, -1);
        // The 8 rows' output stage in one run over their slices: no bounds check per row.
        let block = a..a + 8;
        let outs = y[block.clone()]
            .iter_mut()
            .zip(&bias[block.clone()])
            .zip(&requant[block])
            .zip([d0, d1, d2, d3, d4, d5, d6, d7]);
        if tail == cols {
            for (((yr, &b), &rq), dot) in outs {
                *yr = output(b.wrapping_add(dot), rq, p);
            }
        } else {
            for (k, (((yr, &b), &rq), dot)) in outs.enumerate() {
                let row = &w[(a + k) * cols + tail..(a + k + 1) * cols];
                *yr = output(b.wrapping_add(tail_sum(row, &x[tail..], dot, p)), rq, p);
            }
        }
    }
    let mut finish = |row: usize, dot: i32| finish(w, x, bias, requant, p, tail, y, row, dot);
    // The rows left: fewer than 8 rows, one pass a row through a step of 0; otherwise the
    // last 8 rows again, the passes that hold a row not yet done, the rows done dropped.
    let passes = if rows < 8 {
        rows
    } else {
        2 * usize::from(whole < rows)
    };
    for i in 0..passes {
        let (first, step, done) = if rows < 8 {
            (i, 0, i)
        } else {
            let a = rows - 8;
            if i == 1 {
                (a + 7, -1, whole)
            } else if a + 4 >= whole {
                (a, 1, whole)
            } else {
                continue;
            }
        };
        for (&k, dot) in ROW_STEPS.iter().zip(dots(first, step)) {
            let row = first.wrapping_add_signed(k * step);
            // Done already. (A step of 0 writes its one row four times, the same value:
            // cheaper in the firmware than a test for it, layers that small being rare.)
            if row >= done {
                finish(row, dot);
            }
        }
    }
}

/// The layer through [`wide`]'s loop, [`WIDE_CHUNK`] blocks of [`wide::ROWS`] rows at a
/// time: their sums, then their output stage (the padding rows dropped).
fn wide_rows(
    wide: &[i32],
    entries: &[Entry],
    bias: &[i32],
    requant: &[Requant],
    p: DenseI8Params,
    y: &mut [i8],
) {
    let params = wide::split(wide, y.len(), entries.len() * GROUP);
    let block = entries.len() * 2 * wide::ROWS;
    let (wide, bias, requant, y) = if params.short_form && (p.min, p.max) == (i8::MIN, i8::MAX) {
        // Whole blocks through the fused loop, the last rows (fewer than a block) below.
        let whole = y.len() / wide::ROWS;
        let (words, rest) = params.weights.split_at(whole * block);
        let (ys, y) = y.split_at_mut(whole * wide::ROWS);
        wide::out_blocks(words, entries, params.rows, p.output_zero_point, ys);
        let done = ys.len();
        (rest, &bias[done..], &requant[done..], y)
    } else {
        (params.weights, bias, requant, y)
    };
    let rows = WIDE_CHUNK * wide::ROWS;
    let chunk = WIDE_CHUNK * block;
    // Not cleared: the loop writes every sum the output stage reads (a cleared array cost
    // 2 % of the anomaly detector's inference).
    let mut dots = [MaybeUninit::<i32>::uninit(); WIDE_CHUNK * wide::ROWS];
    let outs = y
        .chunks_mut(rows)
        .zip(bias.chunks(rows).zip(requant.chunks(rows)));
    for (words, (ys, (bs, rqs))) in wide.chunks(chunk).zip(outs) {
        let dots = wide::dot_blocks(words, entries, &mut dots);
        output_rows(dots, bs, rqs, p, ys);
    }
}

/// The output stage ([`output`]) of `y`'s rows from their sums `dots`, with
/// [`super::requantise`]'s fast path inline and its rare other path out of line. Out of line
/// itself: inlined into the network's layer loop, it found no registers for `p` and
/// reloaded it for every row (30 instructions a row; 18 here).
#[inline(never)]
fn output_rows(dots: &[i32], bias: &[i32], requant: &[Requant], p: DenseI8Params, y: &mut [i8]) {
    // The clamp of a layer with none (or a ReLU whose zero point is −128) is the i8 range:
    // one `SSAT` in place of two comparisons and moves.
    if (p.min, p.max) == (i8::MIN, i8::MAX) {
        output_rows_clamped(dots, bias, requant, p.output_zero_point, y, |v| {
            v.clamp(-128, 127)
        });
    } else {
        let (min, max) = (i32::from(p.min), i32::from(p.max));
        output_rows_clamped(dots, bias, requant, p.output_zero_point, y, |v| {
            v.max(min).min(max)
        });
    }
}

/// [`output_rows`] with the clamp `clamp` (TFLite's order: `max` with `min` first).
#[inline(always)]
fn output_rows_clamped(
    dots: &[i32],
    bias: &[i32],
    requant: &[Requant],
    zp: i32,
    y: &mut [i8],
    clamp: impl Fn(i32) -> i32,
) {
    for (((yr, &b), &rq), &dot) in y.iter_mut().zip(bias).zip(requant).zip(dots) {
        let acc = b.wrapping_add(dot);
        let k = rq.shift.wrapping_neg();
        let v = if (k.wrapping_sub(2) as u32) < 30 && rq.multiplier != i32::MIN {
            let high = ((i64::from(acc) * i64::from(rq.multiplier)) >> 31) as i32;
            ((high >> (k - 1)) + 1) >> 1
        } else {
            requantise_cold(acc, rq)
        };
        *yr = clamp(v.saturating_add(zp)) as i8;
    }
}

/// [`super::requantise`] for the shifts no real layer has, out of the row loop's way.
#[cold]
#[inline(never)]
fn requantise_cold(acc: i32, rq: Requant) -> i32 {
    super::requantise(acc, rq)
}

/// Blocks per run of [`wide`]'s loop: their sums wait on the stack (640 bytes) for the
/// output stage, which then runs over them in one loop, free of the loop's registers.
const WIDE_CHUNK: usize = 32;

/// Row `row`'s output from its loop's sum `dot`: the columns from `tail` on, in order,
/// then the bias and the output stage. Always inlined: a call per row cost as much as
/// the row's requantisation (the closure around it was not inlined).
///
/// # Panics
/// Unless `row` is a row of the call (`w`, `bias`, `requant`, `y` checked by
/// [`DenseI8Args`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn finish(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    requant: &[Requant],
    p: DenseI8Params,
    tail: usize,
    y: &mut [i8],
    row: usize,
    dot: i32,
) {
    let cols = x.len();
    let mut acc = dot;
    // Out of line: rare (a row not a multiple of the loop's columns), and inline its
    // registers crowded the output stage that every row runs.
    if tail < cols {
        acc = tail_sum(&w[row * cols + tail..(row + 1) * cols], &x[tail..], acc, p);
    }
    y[row] = output(bias[row].wrapping_add(acc), requant[row], p);
}

/// `acc + Σ w[c] · (x[c] − zp)`, in order, modulo 2³²: a row's columns after the loop's.
#[inline(never)]
fn tail_sum(w: &[i8], x: &[i8], acc: i32, p: DenseI8Params) -> i32 {
    let zp = p.input_zero_point;
    w.iter().zip(x).fold(acc, |s, (&wc, &xc)| {
        s.wrapping_add(i32::from(wc) * (i32::from(xc) - zp))
    })
}

/// Widens `x` (a multiple of 4 long) into `out`, one [`Entry`] per group of 4 columns, in
/// order, and returns them; with `skip_zeros`, only the groups with an input other than
/// the zero point. This is the plain version; on the M4, `widen_words` (assembly)
/// writes the same entries.
///
/// # Panics
/// If `x` is longer than `4 · out.len()` or not a multiple of 4 long.
fn widen<'a>(
    x: &[i8],
    zp: i32,
    skip_zeros: bool,
    out: &'a mut [MaybeUninit<Entry>],
) -> &'a [Entry] {
    assert!(
        x.len().is_multiple_of(GROUP) && x.len() <= GROUP * out.len(),
        "widen: bad length"
    );
    #[cfg(nn_arm_dsp)]
    // Safety: `out` holds an entry for each of `x`'s groups, the assertion above.
    let n = unsafe { widen_words(x, zp, skip_zeros, out.as_mut_ptr().cast()) };
    #[cfg(not(nn_arm_dsp))]
    let n = {
        let lane = |v: i8| (i32::from(v) - zp) as u16 as u32;
        let mut n = 0;
        for (g, quad) in x.chunks_exact(GROUP).enumerate() {
            let even = lane(quad[0]) | lane(quad[2]) << 16;
            let odd = lane(quad[1]) | lane(quad[3]) << 16;
            out[n].write([even, odd, (g * GROUP) as u32]);
            n += usize::from(!skip_zeros || even | odd != 0);
        }
        n
    };
    // Safety: the first `n` elements are written, and `MaybeUninit<Entry>` has `Entry`'s
    // layout.
    unsafe { core::slice::from_raw_parts(out.as_ptr().cast::<Entry>(), n) }
}

/// Every group of `x` widened ([`widen`] without skipping), the columns after the last
/// whole group in one more entry, its missing lanes 0: what [`wide`]'s loop reads.
///
/// # Panics
/// If `x` is longer than `4 · out.len()`.
fn widen_padded<'a>(x: &[i8], zp: i32, out: &'a mut [MaybeUninit<Entry>]) -> &'a [Entry] {
    let groups = x.len() / GROUP;
    let n = widen(&x[..groups * GROUP], zp, false, out).len();
    let rest = &x[groups * GROUP..];
    if rest.is_empty() {
        // Safety: `widen` wrote the first `n` entries.
        return unsafe { core::slice::from_raw_parts(out.as_ptr().cast::<Entry>(), n) };
    }
    let lane = |c: usize| {
        rest.get(c)
            .map_or(0, |&v| (i32::from(v) - zp) as u16 as u32)
    };
    out[n].write([lane(0) | lane(2) << 16, lane(1) | lane(3) << 16, 0]);
    // Safety: the first `n + 1` entries are written, and `MaybeUninit<Entry>` has `Entry`'s
    // layout.
    unsafe { core::slice::from_raw_parts(out.as_ptr().cast::<Entry>(), n + 1) }
}

/// [`widen`]'s loop on the M4, 14 instructions a group: the group's word, `sxtb16` of its
/// even and odd bytes, `ssub16` of the zero point from both lanes, the entry stored, and
/// the output pointer stepped on unless the group was all zero points and `skip_zeros`.
/// Returns the number of entries written.
///
/// # Safety
/// `x` must be a multiple of 4 long, `out` writable for `x.len() / 4` entries, and `zp`
/// in `I16_ZERO_POINTS` (so every `x − zp` fits its lane).
#[cfg(nn_arm_dsp)]
unsafe fn widen_words(x: &[i8], zp: i32, skip_zeros: bool, out: *mut Entry) -> usize {
    if x.is_empty() {
        return 0;
    }
    let end: *mut Entry;
    // Safety: reads `x`, writes `x.len() / 4` entries from `out`, the caller's promise;
    // touches only the registers named here and the flags.
    unsafe {
        core::arch::asm!(
            "2:",
            "ldr {v}, [{x}, {off}]",
            "sxtb16 {e}, {v}",
            "sxtb16 {o}, {v}, ror #8",
            "ssub16 {e}, {e}, {zz}",
            "ssub16 {o}, {o}, {zz}",
            "strd {e}, {o}, [{out}]",
            "str {off}, [{out}, #8]",
            "orr {v}, {e}, {o}",
            "orrs {v}, {v}, {keep}",
            "it ne",
            "addne {out}, {out}, #12",
            "adds {off}, {off}, #4",
            "cmp {off}, {len}",
            "bne 2b",
            x = in(reg) x.as_ptr(),
            len = in(reg) x.len(),
            zz = in(reg) (zp as u16 as u32) * 0x0001_0001,
            keep = in(reg) u32::from(!skip_zeros),
            out = inout(reg) out => end,
            off = inout(reg) 0usize => _,
            v = out(reg) _,
            e = out(reg) _,
            o = out(reg) _,
            options(nostack),
        );
        end.offset_from(out) as usize
    }
}

/// The burst of loads of one group: the two input words, then the word of each row
/// (1, 2, 3, then 0), back to back, all from the group's address in `$at` (and `w` stepped
/// on by the dense loop's `[w], #4`).
#[cfg(nn_arm_dsp)]
macro_rules! loads {
    ($at:literal, $last:literal) => {
        concat!(
            "ldr {w1}, [",
            $at,
            ", {s}]\n",
            "ldr {w2}, [",
            $at,
            ", {s}, lsl #1]\n",
            "ldr {w3}, [",
            $at,
            ", {s}, lsl #2]\n",
            "ldr {w0}, [",
            $at,
            "]",
            $last,
            "\n",
        )
    };
}

/// The arithmetic of one group, per row (1, 2, 3, 0): the low lanes through `r7`, the high
/// lanes in place, two `smlad`.
#[cfg(nn_arm_dsp)]
macro_rules! macs {
    () => {
        concat!(
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

/// One group of the dense loop: the input words, the rows at `w` (stepping it on).
/// The last group of the loop body also loads the loop's end (`[sp]`) in its burst and
/// compares the input pointer with it.
#[cfg(nn_arm_dsp)]
macro_rules! dense_group {
    () => {
        dense_group!(@ "", "")
    };
    (end) => {
        dense_group!(@ "ldr r7, [sp]\n", "cmp {xp}, r7\n")
    };
    (@ $load_end:literal, $compare:literal) => {
        concat!(
            $load_end,
            "ldrd {xa}, {xb}, [{xp}], #12\n",
            loads!("{w}", ", #4"),
            $compare,
            macs!(),
        )
    };
}

/// One group of the sparse loop: the input words and the offset (into `r7`), the group's
/// address `w + offset`, the rows there. The last group of the loop body first loads the
/// loop's end (`[sp]`) and compares the input pointer with it.
#[cfg(nn_arm_dsp)]
macro_rules! sparse_group {
    () => {
        sparse_group!(@ "", "")
    };
    (end) => {
        sparse_group!(@ "ldr r7, [sp]\n", "cmp {xp}, r7\n")
    };
    (@ $load_end:literal, $compare:literal) => {
        concat!(
            $load_end,
            "ldrd {xa}, {xb}, [{xp}], #12\n",
            $compare,
            "ldr r7, [{xp}, #-4]\n",
            "add r7, {w}\n",
            loads!("r7", ""),
            macs!(),
        )
    };
}

/// The dense loop: `Σ w_k[c] · (x[c] − zp)` for the four rows
/// `w_k = w + ROW_STEPS[k] · stride` over the columns of `entries`, modulo 2³². `entries` are every group of whole 16-column blocks, in
/// order, so the rows' words follow each other (`[w], #4`) and the offsets go unread.
///
/// # Safety
/// Every entry's 4 columns (at its place) must be readable bytes of each row `w_k`, all
/// in one allocation with `w`; `entries` must be a non-zero multiple of 4 long.
#[cfg(nn_arm_dsp)]
unsafe fn dot_rows_dense(w: *const i8, stride: isize, entries: &[Entry]) -> [i32; 4] {
    let (mut acc0, mut acc1, mut acc2, mut acc3) = (0i32, 0i32, 0i32, 0i32);
    let blocks = entries.len() / 4;
    // Safety: reads the four rows' first `blocks * 16` bytes and the entries, the
    // caller's promise; touches only the registers named here, r7 (saved and restored),
    // the flags, and 8 bytes of stack below `sp`, given back.
    unsafe {
        core::arch::asm!(
            "push {{r7}}",
            // The end of the entries waits at [sp].
            "str {xa}, [sp, #-4]!",
            // An odd number of blocks: the first one is the loop body's second half.
            "tst {w1}, #1",
            "bne 3f",
            "2:",
            dense_group!(),
            dense_group!(),
            dense_group!(),
            dense_group!(),
            "3:",
            dense_group!(),
            dense_group!(),
            dense_group!(),
            dense_group!(end),
            "bne 2b",
            "add sp, #4",
            "pop {{r7}}",
            acc0 = inout(reg) acc0,
            acc1 = inout(reg) acc1,
            acc2 = inout(reg) acc2,
            acc3 = inout(reg) acc3,
            w = inout(reg) w => _,
            s = in(reg) stride,
            xp = inout(reg) entries.as_ptr() => _,
            xa = inout(reg) entries.as_ptr().add(blocks * 4) => _,
            xb = out(reg) _,
            w1 = inout(reg) blocks => _,
            w2 = out(reg) _,
            w3 = out(reg) _,
            w0 = out(reg) _,
            options(pure, readonly),
        );
    }
    [acc0, acc1, acc2, acc3]
}

/// The sparse loop: the dense loop's sums over the columns of `entries`, each entry's
/// weights at its offset.
///
/// # Safety
/// Every entry's 4 columns (at its offset) must be readable bytes of each row `w_k`, all
/// in one allocation with `w`; `entries` must not be empty.
#[cfg(nn_arm_dsp)]
unsafe fn dot_rows_sparse(w: *const i8, stride: isize, entries: &[Entry]) -> [i32; 4] {
    let (mut acc0, mut acc1, mut acc2, mut acc3) = (0i32, 0i32, 0i32, 0i32);
    let n = entries.len();
    // Safety: reads four bytes of each row at every entry's offset and the entries, the
    // caller's promise; touches only the registers named here, r7 (saved and restored),
    // the flags, and 8 bytes of stack below `sp`, given back.
    unsafe {
        core::arch::asm!(
            "push {{r7}}",
            // The end of the entries waits at [sp].
            "str {xa}, [sp, #-4]!",
            // Enter where a multiple of 4 groups is left: n % 4 = 1, 2, 3 enter at the
            // body's group 4, 3, 2.
            "cmp {w1}, #2",
            "beq 5f",
            "bhi 4f",
            "cmp {w1}, #1",
            "beq 6f",
            "2:",
            sparse_group!(),
            "4:",
            sparse_group!(),
            "5:",
            sparse_group!(),
            "6:",
            sparse_group!(end),
            "bne 2b",
            "add sp, #4",
            "pop {{r7}}",
            acc0 = inout(reg) acc0,
            acc1 = inout(reg) acc1,
            acc2 = inout(reg) acc2,
            acc3 = inout(reg) acc3,
            w = in(reg) w,
            s = in(reg) stride,
            xp = inout(reg) entries.as_ptr() => _,
            xa = inout(reg) entries.as_ptr().add(n) => _,
            xb = out(reg) _,
            w1 = inout(reg) n % 4 => _,
            w2 = out(reg) _,
            w3 = out(reg) _,
            w0 = out(reg) _,
            options(pure, readonly),
        );
    }
    [acc0, acc1, acc2, acc3]
}

/// The portable twin of the dense loop: the same loads, lane spreads and dual
/// multiply-accumulates, in the same order, the rows' words one after another.
///
/// # Safety
/// As the assembly version.
#[cfg(not(nn_arm_dsp))]
unsafe fn dot_rows_dense(w: *const i8, stride: isize, entries: &[Entry]) -> [i32; 4] {
    let mut acc = [0i32; 4];
    for (g, entry) in entries.iter().enumerate() {
        // Safety: group `g` of every row is readable, the caller's promise.
        unsafe { group(w.add(g * GROUP), stride, entry, &mut acc) };
    }
    acc
}

/// The portable twin of the sparse loop: each group at its offset.
///
/// # Safety
/// As the assembly version.
#[cfg(not(nn_arm_dsp))]
unsafe fn dot_rows_sparse(w: *const i8, stride: isize, entries: &[Entry]) -> [i32; 4] {
    let mut acc = [0i32; 4];
    for entry in entries {
        // Safety: each entry's group of every row is readable, the caller's promise.
        unsafe { group(w.add(entry[2] as usize), stride, entry, &mut acc) };
    }
    acc
}

/// One group of either loop: the word of each row at `at + ROW_STEPS[k] · stride`
/// (rows 1, 2, 3, 0, as the assembly's burst), two `sxtb16` and two `smlad` each.
///
/// # Safety
/// Four readable bytes at each row's address.
#[cfg(not(nn_arm_dsp))]
unsafe fn group(at: *const i8, stride: isize, entry: &Entry, acc: &mut [i32; 4]) {
    let [xa, xb, _] = *entry;
    for k in [1, 2, 3, 0] {
        // Safety: the caller's promise; the M4 loads words at any alignment.
        let wk = unsafe {
            at.offset(ROW_STEPS[k] * stride)
                .cast::<u32>()
                .read_unaligned()
        };
        let wk = u32::from_le(wk);
        acc[k] = smlad(sxtb16(wk), xa, acc[k]);
        acc[k] = smlad(sxtb16(wk.rotate_right(8)), xb, acc[k]);
    }
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
