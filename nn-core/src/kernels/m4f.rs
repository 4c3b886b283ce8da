//! `gemv_bias` shaped for the Cortex-M4F, which has no f32 SIMD: its speed comes from the
//! loop's shape. Each row's dot product runs over blocks of 8 columns: one `vldmia` loads
//! 8 weights, one loads 8 inputs, 8 `vfma` accumulate into 4 independent sums (so
//! consecutive multiply-adds do not wait on each other), and the loop costs 2 more
//! instructions: 12 instructions per 8 multiply-accumulates, against ~26 for the naive
//! loop (load, load, multiply-add, two pointer increments, compare, branch, per element).
//!
//! On other targets [`dot`] is the same computation in portable Rust, fused multiply-add
//! for fused multiply-add in the same order, so the host tests the arithmetic the board
//! does; the scalar twin in [`super::scalar`] is the reference both are tested against.

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
    assert_eq!(w.len(), y.len() * cols, "gemv_bias: w is not (rows, cols)");
    assert_eq!(b.len(), y.len(), "gemv_bias: b is not (rows)");
    for ((yi, row), bi) in y.iter_mut().zip(w.chunks_exact(cols.max(1))).zip(b) {
        *yi = dot(row, x) + bi;
    }
}

/// `Σ_j a_j b_j` for `a` and `b` of equal length, in the order [`gemv_bias`] documents.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let blocks = a.len() / BLOCK;
    let whole = blocks * BLOCK;
    let [s0, s1, s2, s3] = if blocks == 0 {
        [0.0; 4]
    } else {
        // Safety: `a` and `b` both hold at least `blocks * BLOCK` elements.
        unsafe { dot_blocks(a.as_ptr(), b.as_ptr(), blocks) }
    };
    let mut sum = (s0 + s1) + (s2 + s3);
    for (ai, bi) in a[whole..].iter().zip(&b[whole..]) {
        sum += ai * bi;
    }
    sum
}

/// The four partial sums over `blocks` blocks of 8 columns.
///
/// # Safety
/// `a` and `b` must each point to `blocks * 8` readable, 4-byte-aligned f32, and `blocks`
/// must be at least 1.
#[cfg(target_arch = "arm")]
unsafe fn dot_blocks(a: *const f32, b: *const f32, blocks: usize) -> [f32; 4] {
    let (mut s0, mut s1, mut s2, mut s3) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    // Safety: the loop reads exactly `blocks * 8` f32 from each pointer (the caller's
    // promise), writes only the registers declared, and touches no stack.
    unsafe {
        core::arch::asm!(
            "2:",
            "vldmia {a}!, {{s16-s23}}",
            "vldmia {b}!, {{s8-s15}}",
            "vfma.f32 {s0}, s16, s8",
            "vfma.f32 {s1}, s17, s9",
            "vfma.f32 {s2}, s18, s10",
            "vfma.f32 {s3}, s19, s11",
            "vfma.f32 {s0}, s20, s12",
            "vfma.f32 {s1}, s21, s13",
            "vfma.f32 {s2}, s22, s14",
            "vfma.f32 {s3}, s23, s15",
            "subs {n}, {n}, #1",
            "bne 2b",
            a = inout(reg) a => _,
            b = inout(reg) b => _,
            n = inout(reg) blocks => _,
            s0 = inout(sreg) s0,
            s1 = inout(sreg) s1,
            s2 = inout(sreg) s2,
            s3 = inout(sreg) s3,
            out("s8") _, out("s9") _, out("s10") _, out("s11") _,
            out("s12") _, out("s13") _, out("s14") _, out("s15") _,
            out("s16") _, out("s17") _, out("s18") _, out("s19") _,
            out("s20") _, out("s21") _, out("s22") _, out("s23") _,
            options(nostack, readonly),
        );
    }
    [s0, s1, s2, s3]
}

/// The portable twin of the assembly loop: the same fused multiply-adds in the same order.
///
/// # Safety
/// `a` and `b` must each point to `blocks * 8` readable, aligned f32.
#[cfg(not(target_arch = "arm"))]
unsafe fn dot_blocks(a: *const f32, b: *const f32, blocks: usize) -> [f32; 4] {
    // Safety: the caller promises `blocks * BLOCK` elements behind each pointer.
    let (a, b) = unsafe {
        (
            core::slice::from_raw_parts(a, blocks * BLOCK),
            core::slice::from_raw_parts(b, blocks * BLOCK),
        )
    };
    let mut s = [0.0f32; 4];
    for (wa, xb) in a.chunks_exact(BLOCK).zip(b.chunks_exact(BLOCK)) {
        for j in 0..BLOCK {
            s[j % 4] = libm::fmaf(wa[j], xb[j], s[j % 4]);
        }
    }
    s
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
