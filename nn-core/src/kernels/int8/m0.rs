//! `dense_i8` shaped for the Cortex-M0+ (ARMv6-M, e.g. the RP2040), exactly equal to the
//! scalar twin.
//!
//! ARMv6-M has no DSP extension, no `SMLAD`, no 16-bit lanes: one `MULS` (32 × 32 → low
//! 32, a single cycle on the RP2040's multiplier) per multiply-accumulate. What is left to
//! win is everything around it, and Thumb-1 leaves little room: loads and `MULS` take only
//! the low registers, and inline assembly gets six of them as operands (r0–r5; r6 and r7
//! are LLVM's, so the dense loop saves them on the stack and uses them too).
//!
//! The input is widened once per layer into words `x[c] − zp` (on the stack, [`MAX_COLS`]
//! columns at most), so the zero point costs nothing in the loop. The dense loop takes
//! four rows at a time, 8 columns per pass, per column:
//!
//! ```text
//! ldr   x, [xp, #4k]      input word (shared by the four rows)  2 cycles
//! ldrsb t, [w0, i]        row 0's weight, sign-extended         2
//! muls  t, x, t                                                 1
//! add   acc0, t           acc0 in r8 (a high register)          1
//! ldrsb t, [w1, i] … add acc3, t   rows 1, 2, 3, the same       12
//! adds  i, #1             one index for the four rows           1
//! ```
//!
//! 19 cycles per 4 multiply-accumulates, plus `adds xp, #32` and the taken `bne` per pass:
//! 155 cycles per 32 MACs, 4.84 per MAC (loads are 2 cycles on the M0+; two rows at a
//! time took 5.69). The accumulators are r8, r10, r12 and lr; the rows r1, r2, r3, r6; the
//! input r7. The index runs from `−8·blocks` up to 0 over row pointers set to the end of
//! the blocks, so the last `adds` ends the loop without a `cmp`. firmware/README.md has
//! the cycles rp2040js counts for this and for the portable twin that rustc compiles;
//! `firmware/examples/dense_bench.rs` measures it on MLPerf Tiny's anomaly detector's
//! shapes.
//!
//! A column whose input is the zero point adds exactly 0 to every row: a digit's black
//! pixels (81 % of the MNIST test images' pixels) and the hidden layer's ReLU zeros. When
//! at most 6 in 7 columns are left, the widening keeps only those, each as one word
//! `(x[c] − zp) << 16 | c`, and a second loop runs over them, two rows and 4 entries a
//! pass:
//!
//! ```text
//! ldr   t, [xp, #4k]      value and column                      2 cycles
//! uxth  i, t              the column                            1
//! asrs  t, t, #16         the value                             1
//! ldrsb … add             both rows, as above                   8
//! ```
//!
//! 12 cycles per 2 multiply-accumulates, plus `adds xp, #16`, `cmp` and the taken `bne`
//! per pass (52 per 8 MACs, 6.5 per MAC computed); the list is padded to a multiple of 4
//! with zero values (column 0, value 0). The sparse loop takes every column, so only the
//! dense one leaves a tail:
//! the last `cols % 8` columns go through the same arithmetic in Rust. Rows past the last
//! one in a pass are the last row again (its sums computed again and dropped). `MULS` and `ADD` wrap modulo
//! 2³², as the twin's accumulator does, so the result equals the twin's for every input.
//! For more than [`MAX_COLS`] columns the scalar twin runs instead, and for a zero point so
//! far from the inputs that `x − zp` leaves 16 bits (none in a TFLite model) the dense loop.
//!
//! On other targets `dot_rows` and `dot_rows_sparse` are the same passes in portable Rust,
//! so the host tests the arithmetic the board does; the assembly itself runs in the firmware's boot
//! check on the board (and in rp2040js).

use super::{DenseI8Args, I16_ZERO_POINTS, output};

/// Columns per pass of the dense loop.
const BLOCK: usize = 8;

/// The most columns the kernel widens (4 KiB of stack: one word per column); the largest
/// layer input the firmware has is 1024 (the 784-1024-10 model's second layer). A column
/// index fits the low half of a word of the sparse list.
pub const MAX_COLS: usize = 1024;

/// Columns per pass of the sparse loop.
const SPARSE_PASS: usize = 4;

/// [`crate::kernels::dense_i8`] with `MULS`, the shapes checked in `args`.
pub fn dense_i8(args: DenseI8Args<'_>) {
    if args.x.len() > MAX_COLS {
        return super::scalar::dense_i8(args);
    }
    let (w, x, bias, requant, p, y) = args.parts();
    let cols = x.len();
    let zp = p.input_zero_point;
    let mut widened = [core::mem::MaybeUninit::<i32>::uninit(); MAX_COLS + SPARSE_PASS];
    // The sparse list, when each `x − zp` fits the high half of a word (it does for every
    // zero point of a TFLite model). The sparse loop runs when the list (its padding
    // included) holds at most 6 in 7 columns; otherwise the input is widened again, whole.
    let listed = I16_ZERO_POINTS
        .contains(&zp)
        .then(|| list(x, zp, &mut widened));
    let (sparse, centred, whole) = match listed {
        Some(entries) if entries.len() * 7 <= cols * 6 => (true, entries, cols),
        _ => {
            let whole = cols / BLOCK * BLOCK;
            (false, widen(&x[..whole], zp, &mut widened), whole)
        }
    };
    // The columns after the whole blocks (dense), in order.
    let tail = |row: &[i8], acc: i32| {
        row[whole..]
            .iter()
            .zip(&x[whole..])
            .fold(acc, |s, (&wc, &xc)| {
                s.wrapping_add(i32::from(wc).wrapping_mul(i32::from(xc).wrapping_sub(zp)))
            })
    };
    let rows = y.len();
    // Rows per pass: four in the dense loop, two in the sparse one.
    let per_pass = if sparse { 2 } else { 4 };
    let mut r = 0;
    while r < rows {
        // Rows `r..r + n`; the last of them stands in for the rows past the end, its sums
        // computed again and dropped.
        let n = (rows - r).min(per_pass);
        let row_at = |k: usize| w[(r + k.min(n - 1)) * cols..].as_ptr();
        let dots = if centred.is_empty() {
            [0; 4]
        } else if sparse {
            // Safety: rows `r` and `r + 1` (or `r` twice, through a stride of 0) are in
            // `w`, each with `cols` bytes; `centred` is a multiple of 4 entries whose
            // columns are below `cols`: all the loop reads.
            let [d0, d1] = unsafe { dot_rows_sparse(row_at(0), (n - 1) * cols, centred) };
            [d0, d1, 0, 0]
        } else {
            // Safety: the four row pointers are rows of `w` (`r + k ≤ rows − 1`), each
            // with `cols ≥ centred.len()` bytes; `centred` holds whole blocks of 8
            // columns: all the loop reads.
            unsafe { dot_rows(&[row_at(0), row_at(1), row_at(2), row_at(3)], centred) }
        };
        let done = r..r + n;
        let outs = y[done.clone()]
            .iter_mut()
            .zip(&bias[done.clone()])
            .zip(&requant[done]);
        if whole == cols {
            // No tail (every dense layer of a multiple of 8 columns, every sparse one).
            for (((yr, &b), &rq), dot) in outs.zip(dots) {
                *yr = output(b.wrapping_add(dot), rq, p);
            }
        } else {
            for (k, (((yr, &b), &rq), dot)) in outs.zip(dots).enumerate() {
                let row = &w[(r + k) * cols..(r + k + 1) * cols];
                *yr = output(b.wrapping_add(tail(row, dot)), rq, p);
            }
        }
        r += n;
    }
}

/// The sparse list of `x`: `(x[c] − zp) << 16 | c` for every column `c` not at the zero
/// point, in order, then zero words (column 0, value 0) up to a multiple of
/// [`SPARSE_PASS`]; written into the front of `out` and returned.
///
/// # Panics
/// If `x` is longer than [`MAX_COLS`] or its entries and padding do not fit `out`.
fn list<'a>(x: &[i8], zp: i32, out: &'a mut [core::mem::MaybeUninit<i32>]) -> &'a [i32] {
    assert!(x.len() <= MAX_COLS, "list: too many columns");
    let mut n = 0;
    for (c, &v) in x.iter().enumerate() {
        let centred = i32::from(v).wrapping_sub(zp);
        if centred != 0 {
            out[n].write(centred << 16 | c as i32);
            n += 1;
        }
    }
    while !n.is_multiple_of(SPARSE_PASS) {
        out[n].write(0);
        n += 1;
    }
    // Safety: the loops wrote the first `n` elements, and `MaybeUninit<i32>` has `i32`'s
    // layout.
    unsafe { core::slice::from_raw_parts(out.as_ptr().cast::<i32>(), n) }
}

/// `x[c] − zp` for every column of `x`, written into the front of `out` and returned.
///
/// # Panics
/// If `x` is longer than `out`.
fn widen<'a>(x: &[i8], zp: i32, out: &'a mut [core::mem::MaybeUninit<i32>]) -> &'a [i32] {
    assert!(x.len() <= out.len(), "widen: bad length");
    for (o, &v) in out.iter_mut().zip(x) {
        o.write(i32::from(v).wrapping_sub(zp));
    }
    // Safety: the loop wrote the first `x.len()` elements, and `MaybeUninit<i32>` has
    // `i32`'s layout.
    unsafe { core::slice::from_raw_parts(out.as_ptr().cast::<i32>(), x.len()) }
}

/// Both rows' multiply-accumulate of the input value in r4 by their weights at column r0:
/// `ldrsb` (the weight), `muls`, `add` into the row's accumulator (r8, r10).
#[cfg(nn_armv6m)]
macro_rules! both_rows {
    () => {
        concat!(
            "ldrsb r5, [r1, r0]\n",
            "muls r5, r4, r5\n",
            "add r8, r5\n",
            "ldrsb r5, [r2, r0]\n",
            "muls r5, r4, r5\n",
            "add r10, r5\n",
        )
    };
}

/// One column of the dense loop: the input word at byte `$at` of the pass (r7), times each
/// of the four rows' weights at the index r0 (rows r1, r2, r3, r6), into the four
/// accumulators (r8, r10, r12, lr).
#[cfg(nn_armv6m)]
macro_rules! column {
    ($at:literal) => {
        concat!(
            "ldr r4, [r7, #",
            $at,
            "]\n",
            "ldrsb r5, [r1, r0]\n",
            "muls r5, r4, r5\n",
            "add r8, r5\n",
            "ldrsb r5, [r2, r0]\n",
            "muls r5, r4, r5\n",
            "add r10, r5\n",
            "ldrsb r5, [r3, r0]\n",
            "muls r5, r4, r5\n",
            "add r12, r5\n",
            "ldrsb r5, [r6, r0]\n",
            "muls r5, r4, r5\n",
            "add lr, r5\n",
        )
    };
}

/// One entry of the sparse loop, at byte `$at` of the pass: the column into r0, the value
/// into r4, both rows.
#[cfg(nn_armv6m)]
macro_rules! entry {
    ($at:literal) => {
        concat!(
            "ldr r4, [r3, #",
            $at,
            "]\n",
            "uxth r0, r4\n",
            "asrs r4, r4, #16\n",
            both_rows!(),
        )
    };
}

/// The dense loop: `Σ w_k[c] · x[c]` for the four rows `w_k = rows[k]` over the first
/// `x.len()` columns, from the widened input `x` ([`widen`]), modulo 2³².
///
/// # Safety
/// Each of `rows` must point to `x.len()` readable bytes; `x` must be a non-zero multiple
/// of 8 long.
#[cfg(nn_armv6m)]
unsafe fn dot_rows(rows: &[*const i8; 4], x: &[i32]) -> [i32; 4] {
    let whole = x.len();
    // Safety: the caller's promise; `add` stays within each row.
    let ends = rows.map(|p| unsafe { p.add(whole) });
    let (acc0, acc1, acc2, acc3): (i32, i32, i32, i32);
    // Safety: the row pointers are set to the end of the blocks and indexed from `−whole`
    // up to −1; `x` is read at `whole` words. That is what the caller promised readable.
    // Only the registers named here are touched, with r6 and r7 (LLVM's, saved on the
    // stack and restored), and the flags.
    unsafe {
        core::arch::asm!(
            // r0: index; r1, r2, r3, r6: the rows (their ends); r7: input; r4: input word;
            // r5: product; r8, r10, r12, lr: the accumulators (Thumb-1 adds into high
            // registers in 1 cycle). r6 and r7 may not be operands: saved, then loaded.
            "push {{r6, r7}}",
            "ldr r6, [r4, #12]",
            "mov r7, r5",
            "movs r4, #0",
            "mov r8, r4",
            "mov r10, r4",
            "mov r12, r4",
            "mov lr, r4",
            "2:",
            column!(0),
            "adds r0, #1",
            column!(4),
            "adds r0, #1",
            column!(8),
            "adds r0, #1",
            column!(12),
            "adds r0, #1",
            column!(16),
            "adds r0, #1",
            column!(20),
            "adds r0, #1",
            column!(24),
            "adds r0, #1",
            column!(28),
            // Step the input before the last `adds`, whose flags end the loop.
            "adds r7, #32",
            "adds r0, #1",
            "bne 2b",
            "mov r4, r8",
            "mov r5, r10",
            "mov r1, r12",
            "mov r2, lr",
            "pop {{r6, r7}}",
            inout("r0") -(whole as isize) => _,
            inout("r1") ends[0] => acc2,
            inout("r2") ends[1] => acc3,
            in("r3") ends[2],
            inout("r4") ends.as_ptr() => acc0,
            inout("r5") x.as_ptr() => acc1,
            out("r8") _,
            out("r10") _,
            out("r12") _,
            out("lr") _,
            options(pure, readonly),
        );
    }
    [acc0, acc1, acc2, acc3]
}

/// The portable twin of the assembly loop: the same index, loads and products, in the
/// same order.
///
/// # Safety
/// As the assembly version.
#[cfg(not(nn_armv6m))]
unsafe fn dot_rows(rows: &[*const i8; 4], x: &[i32]) -> [i32; 4] {
    // Safety: the caller promises `x.len()` readable bytes behind each row pointer.
    let rows = rows.map(|p| unsafe { core::slice::from_raw_parts(p, x.len()) });
    let mut acc = [0i32; 4];
    for (c, &xc) in x.iter().enumerate() {
        for (a, row) in acc.iter_mut().zip(rows) {
            *a = a.wrapping_add(i32::from(row[c]).wrapping_mul(xc));
        }
    }
    acc
}

/// The sparse loop: `Σ w_k[c] · v` for the rows `w_k = w + k · stride` (k = 0, 1) over the entries `v << 16 | c` of `list`
/// ([`list`]).
///
/// # Safety
/// `w` and `w + stride` must each have a readable byte at every entry's
/// column; `list` must be a non-zero multiple of 4 long.
#[cfg(nn_armv6m)]
unsafe fn dot_rows_sparse(w: *const i8, stride: usize, list: &[i32]) -> [i32; 2] {
    let (acc0, acc1): (i32, i32);
    // Safety: reads the entries and, for each, one byte of each row at its column: what
    // the caller promised readable. Only the registers named here are touched (and the
    // flags).
    unsafe {
        core::arch::asm!(
            // r0: column (first the list's end, moved to r12), r1/r2: rows 0/1, r3: entry,
            // r4: value, r5: product; r8/r10: the accumulators.
            "mov r12, r0",
            "movs r4, #0",
            "mov r8, r4",
            "mov r10, r4",
            "2:",
            entry!(0),
            entry!(4),
            entry!(8),
            entry!(12),
            "adds r3, #16",
            "cmp r3, r12",
            "bne 2b",
            "mov r4, r8",
            "mov r5, r10",
            inout("r0") list.as_ptr().add(list.len()) => _,
            in("r1") w,
            in("r2") w.add(stride),
            inout("r3") list.as_ptr() => _,
            out("r4") acc0,
            out("r5") acc1,
            out("r8") _,
            out("r10") _,
            out("r12") _,
            options(pure, readonly, nostack),
        );
    }
    [acc0, acc1]
}

/// The portable twin of the sparse loop: the same entries, loads and products, in the same
/// order.
///
/// # Safety
/// As the assembly version.
#[cfg(not(nn_armv6m))]
unsafe fn dot_rows_sparse(w: *const i8, stride: usize, list: &[i32]) -> [i32; 2] {
    let mut acc = [0i32; 2];
    for &entry in list {
        let (c, v) = ((entry & 0xffff) as usize, entry >> 16);
        for (k, a) in acc.iter_mut().enumerate() {
            // Safety: row `k` has a readable byte at column `c`, the caller's promise.
            let wc = unsafe { *w.add(k * stride + c) };
            *a = a.wrapping_add(i32::from(wc).wrapping_mul(v));
        }
    }
    acc
}
