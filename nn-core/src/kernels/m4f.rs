//! `gemv_bias` shaped for the Cortex-M4F, which has no f32 SIMD: its speed comes from the
//! loop's shape. Each row's dot product runs over blocks of 8 columns: one `vldmia` loads
//! 8 weights, one loads 8 inputs, 8 `vfma` accumulate into 4 independent sums (so
//! consecutive multiply-adds do not wait on each other), and the loop costs 2 more
//! instructions: 12 instructions per 8 multiply-accumulates, against ~26 for the naive
//! loop (load, load, multiply-add, two pointer increments, compare, branch, per element).
//!
//! The assembly is built only for cores with a single-precision FPU (the `nn_arm_fpu` cfg
//! that `build.rs` sets from the target). Elsewhere `gemv_blocks` is the same computation
//! in portable Rust, fused multiply-add for fused multiply-add in the same order, so the
//! host tests the arithmetic the board does; the scalar twin in [`super::scalar`] is the
//! reference both are tested against.

/// Columns per block: 8 weights and 8 inputs fill 16 of the FPU's 32 registers.
const BLOCK: usize = 8;

/// `y ← W x + b`. `w` is `(rows, cols)` row-major, `x` is `(cols)`, `b` and `y` are `(rows)`.
///
/// Each `y_i` is `((s0 + s1) + (s2 + s3)) + tail + b_i`, where `s_k` accumulates with fused
/// multiply-adds the products at columns `j ≡ k (mod 4)` of the whole blocks of 8, and
/// `tail` the last `cols % 8` products in order. Against an f64 reference the error is
/// below `cols · ε · Σ_j |w_ij x_j|` (ε = 2^-24), like any summation of `cols` terms.
///
/// # Panics
/// If the lengths disagree (`w.len() != y.len() * x.len()`, `b.len() != y.len()`).
pub fn gemv_bias(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let cols = x.len();
    super::check_gemv_shapes(w, x, b, y);
    let blocks = cols / BLOCK;
    let whole = blocks * BLOCK;
    if blocks == 0 || y.is_empty() {
        y.fill(0.0);
    } else {
        // Safety: `w` holds `y.len()` rows of `cols` ≥ `blocks * BLOCK` elements, `x` holds
        // `cols`, and `y` is `y.len()` long: exactly what `gemv_blocks` reads and writes.
        unsafe {
            gemv_blocks(
                w.as_ptr(),
                x.as_ptr(),
                y.as_mut_ptr(),
                y.len(),
                blocks,
                cols,
            )
        };
    }
    if whole == cols {
        // No tail (784 and 128 columns): skip the per-row slicing below.
        for (yi, bi) in y.iter_mut().zip(b) {
            *yi += bi;
        }
        return;
    }
    // By index, not `chunks_exact`, so that zero columns still give `y = b`.
    for (r, (yi, bi)) in y.iter_mut().zip(b).enumerate() {
        let tail = &w[r * cols + whole..(r + 1) * cols];
        let mut sum = *yi;
        for (wij, xj) in tail.iter().zip(&x[whole..]) {
            sum += wij * xj;
        }
        *yi = sum + bi;
    }
}

/// `y_i ← (s0 + s1) + (s2 + s3)` for every row, over the first `blocks * 8` columns
/// (the partial sums of [`gemv_bias`]'s contract). Rows go two at a time, so each block
/// of inputs loaded serves 16 multiply-adds: 21 instructions per 16 MACs.
///
/// # Safety
/// `w` must point to `rows * cols` readable f32, `x` to `blocks * 8` (with `blocks * 8 ≤
/// cols`), `y` to `rows` writable f32 that nothing else references; all 4-byte aligned;
/// `rows` and `blocks` at least 1.
#[cfg(nn_arm_fpu)]
unsafe fn gemv_blocks(
    w: *const f32,
    x: *const f32,
    y: *mut f32,
    rows: usize,
    blocks: usize,
    cols: usize,
) {
    let pairs = rows / 2;
    // Safety: the first `2 * pairs` rows and, when `rows` is odd, the last one, are within
    // what the caller promised.
    unsafe {
        if pairs > 0 {
            gemv_pairs(w, x, y, pairs, blocks, cols);
        }
        if rows % 2 == 1 {
            gemv_rows(
                w.add((rows - 1) * cols),
                x,
                y.add(rows - 1),
                1,
                blocks,
                cols,
            );
        }
    }
}

/// [`gemv_blocks`] for `2 * pairs` rows, two at a time: each pass of the inner loop loads
/// 8 inputs and 8 weights of each row (3 `vldmia`), runs 16 `vfma` into two sets of 4
/// accumulators, and compares the input pointer with its end (`cmp`, `bne`).
///
/// # Safety
/// As [`gemv_blocks`] with `rows = 2 * pairs`; `pairs` at least 1.
#[cfg(nn_arm_fpu)]
unsafe fn gemv_pairs(
    w: *const f32,
    x: *const f32,
    y: *mut f32,
    pairs: usize,
    blocks: usize,
    cols: usize,
) {
    static ZEROS: [f32; 8] = [0.0; 8];
    // After a pair's blocks, both row pointers step over their row's tail and the other row.
    let skip = (cols - blocks * BLOCK + cols) * 4;
    // Safety: reads `2 * pairs * cols` f32 from `w` and `blocks * 8` from `x` (per pair),
    // writes `2 * pairs` f32 to `y`: the caller's promises. Rust does not know this
    // target's FPU registers (no `vfp2` target feature on stable), so the block saves and
    // restores every one it touches itself.
    unsafe {
        core::arch::asm!(
            "vpush {{s0-s31}}",
            "2:",
            "vldmia {zeros}, {{s0-s7}}",
            "mov {xp}, {x}",
            "3:",
            "vldmia {xp}!, {{s8-s15}}",
            "vldmia {w0}!, {{s16-s23}}",
            "vldmia {w1}!, {{s24-s31}}",
            "vfma.f32 s0, s16, s8",
            "vfma.f32 s4, s24, s8",
            "vfma.f32 s1, s17, s9",
            "vfma.f32 s5, s25, s9",
            "vfma.f32 s2, s18, s10",
            "vfma.f32 s6, s26, s10",
            "vfma.f32 s3, s19, s11",
            "vfma.f32 s7, s27, s11",
            "vfma.f32 s0, s20, s12",
            "vfma.f32 s4, s28, s12",
            "vfma.f32 s1, s21, s13",
            "vfma.f32 s5, s29, s13",
            "vfma.f32 s2, s22, s14",
            "vfma.f32 s6, s30, s14",
            "vfma.f32 s3, s23, s15",
            "vfma.f32 s7, s31, s15",
            "cmp {xp}, {xend}",
            "bne 3b",
            "vadd.f32 s0, s0, s1",
            "vadd.f32 s2, s2, s3",
            "vadd.f32 s0, s0, s2",
            "vadd.f32 s4, s4, s5",
            "vadd.f32 s6, s6, s7",
            "vadd.f32 s1, s4, s6",
            "vstmia {y}!, {{s0-s1}}",
            "add {w0}, {w0}, {skip}",
            "add {w1}, {w1}, {skip}",
            "subs {pairs}, {pairs}, #1",
            "bne 2b",
            "vpop {{s0-s31}}",
            w0 = inout(reg) w => _,
            w1 = inout(reg) w.add(cols) => _,
            y = inout(reg) y => _,
            pairs = inout(reg) pairs => _,
            x = in(reg) x,
            xend = in(reg) x.add(blocks * BLOCK),
            skip = in(reg) skip,
            zeros = in(reg) ZEROS.as_ptr(),
            xp = out(reg) _,
        );
    }
}

/// [`gemv_blocks`] one row at a time: 12 instructions per 8 MACs.
///
/// # Safety
/// As [`gemv_blocks`].
#[cfg(nn_arm_fpu)]
unsafe fn gemv_rows(
    w: *const f32,
    x: *const f32,
    y: *mut f32,
    rows: usize,
    blocks: usize,
    cols: usize,
) {
    static ZEROS: [f32; 4] = [0.0; 4];
    // Bytes of each row's tail, which the loop steps over.
    let skip = (cols - blocks * BLOCK) * 4;
    // Safety: reads `rows * cols` f32 from `w` and `blocks * 8` from `x` (per row), writes
    // `rows` f32 to `y`: the caller's promises. Rust does not know this target's FPU
    // registers (no `vfp2` target feature on stable), so the block saves and restores
    // every one it touches itself.
    unsafe {
        core::arch::asm!(
            "vpush {{s0-s23}}",
            "2:",
            "vldmia {zeros}, {{s0-s3}}",
            "mov {n}, {blocks}",
            "mov {xp}, {x}",
            "3:",
            "vldmia {w}!, {{s16-s23}}",
            "vldmia {xp}!, {{s8-s15}}",
            "vfma.f32 s0, s16, s8",
            "vfma.f32 s1, s17, s9",
            "vfma.f32 s2, s18, s10",
            "vfma.f32 s3, s19, s11",
            "vfma.f32 s0, s20, s12",
            "vfma.f32 s1, s21, s13",
            "vfma.f32 s2, s22, s14",
            "vfma.f32 s3, s23, s15",
            "subs {n}, {n}, #1",
            "bne 3b",
            "vadd.f32 s0, s0, s1",
            "vadd.f32 s2, s2, s3",
            "vadd.f32 s0, s0, s2",
            "vstmia {y}!, {{s0}}",
            "add {w}, {w}, {skip}",
            "subs {rows}, {rows}, #1",
            "bne 2b",
            "vpop {{s0-s23}}",
            w = inout(reg) w => _,
            y = inout(reg) y => _,
            rows = inout(reg) rows => _,
            x = in(reg) x,
            blocks = in(reg) blocks,
            skip = in(reg) skip,
            zeros = in(reg) ZEROS.as_ptr(),
            n = out(reg) _,
            xp = out(reg) _,
        );
    }
}

/// The portable twin of the assembly loop: the same fused multiply-adds in the same order.
///
/// # Safety
/// As the assembly version.
#[cfg(not(nn_arm_fpu))]
unsafe fn gemv_blocks(
    w: *const f32,
    x: *const f32,
    y: *mut f32,
    rows: usize,
    blocks: usize,
    cols: usize,
) {
    // Safety: the caller promises these lengths and that `y` is not aliased.
    let (w, x, y) = unsafe {
        (
            core::slice::from_raw_parts(w, rows * cols),
            core::slice::from_raw_parts(x, blocks * BLOCK),
            core::slice::from_raw_parts_mut(y, rows),
        )
    };
    for (yi, row) in y.iter_mut().zip(w.chunks_exact(cols)) {
        let mut s = [0.0f32; 4];
        for (wa, xb) in row.chunks_exact(BLOCK).zip(x.chunks_exact(BLOCK)) {
            for j in 0..BLOCK {
                s[j % 4] = libm::fmaf(wa[j], xb[j], s[j % 4]);
            }
        }
        *yi = (s[0] + s[1]) + (s[2] + s[3]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 rows of 19 columns: two whole blocks and a tail of 3, against f64 by hand.
    #[test]
    fn matches_f64_reference_with_blocks_and_tail() {
        let (rows, cols) = (3, 19);
        let w: [f32; 57] = core::array::from_fn(|i| ((i * 7 % 13) as f32 - 6.0) * 0.125);
        let x: [f32; 19] = core::array::from_fn(|j| (j as f32 - 9.0) * 0.25);
        let b = [0.5f32, -1.0, 2.0];
        let mut y = [0.0f32; 3];
        gemv_bias(&w, &x, &b, &mut y);
        for r in 0..rows {
            let mut exact = f64::from(b[r]);
            for c in 0..cols {
                exact += f64::from(w[r * cols + c]) * f64::from(x[c]);
            }
            // Every product and partial sum here is a multiple of 1/32 below 2^10: exact in f32.
            assert_eq!(f64::from(y[r]), exact, "row {r}");
        }
    }
}
