//! The fast kernels, on `wide` vectors as wide as the build allows: 16 lanes where the
//! build has AVX-512F, 8 with AVX, 4 otherwise (SSE on x86-64, plain arrays on Cortex-M;
//! on a core with an FPU [`super::GEMV_BIAS`] picks [`super::m4f`]'s instead). `wide` picks its
//! instructions from compile-time target features, so the width is chosen the same way.
//!
//! Each kernel has exactly its scalar twin's signature and contract (see [`super`]); the
//! lines above each one say how it differs from the twin in rounding, and by how much.
//! Slices are walked as whole vectors plus a tail that is padded into one more vector,
//! so every length, 0 included, takes the same code path.

#[cfg(not(any(target_feature = "avx512f", target_feature = "avx")))]
use wide::{f32x4 as V, u32x4 as U};
#[cfg(all(target_feature = "avx", not(target_feature = "avx512f")))]
use wide::{f32x8 as V, u32x8 as U};
#[cfg(target_feature = "avx512f")]
use wide::{f32x16 as V, u32x16 as U};

/// Lanes in one vector.
pub const LANES: usize = core::mem::size_of::<V>() / core::mem::size_of::<f32>();

/// `y ← W x + b`. `w` is `(rows, cols)` row-major, `x` is `(cols)`, `b` and `y` are `(rows)`;
/// `y` need not be initialised.
///
/// Four rows at a time share each vector of `x` loaded once, with two accumulators each,
/// so the loop runs at the speed `w` streams in (measured: as fast as a loop that only
/// sums `w`; see `benches/README.md`).
///
/// Error: each `y_i` is a sum in another order than the twin's (lane-wise partial sums,
/// then a tree across lanes), with one rounding per FMA, so
/// `|y_i − exact| ≤ (cols/LANES + log2 LANES + 2) · 2⁻²⁴ · (Σ_j |w_ij x_j| + |b_i|)`
/// to first order, below the twin's `(cols + 1) · 2⁻²⁴ · (…)`.
///
/// # Panics
/// If `w.len() != y.len() * x.len()` or `b.len() != y.len()`.
pub fn gemv_bias(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let cols = x.len();
    super::check_gemv_shapes(w, x, b, y);
    if cols == 0 {
        y.copy_from_slice(b);
        return;
    }
    let (x_body, x_tail) = x.as_chunks::<LANES>();
    let x_tail = padded(x_tail, 0.0);

    const ROWS: usize = 4;
    let mut w_quads = w.chunks_exact(ROWS * cols);
    let mut y_quads = y.chunks_exact_mut(ROWS);
    let mut b_quads = b.chunks_exact(ROWS);
    for ((w4, y4), b4) in (&mut w_quads).zip(&mut y_quads).zip(&mut b_quads) {
        let rows: [&[f32]; ROWS] = core::array::from_fn(|r| &w4[r * cols..(r + 1) * cols]);
        let dots = dot_rows(rows, x_body, x_tail);
        for ((yi, dot), bi) in y4.iter_mut().zip(dots).zip(b4) {
            *yi = dot + bi;
        }
    }
    let leftover = w_quads.remainder().chunks_exact(cols);
    for ((yi, row), bi) in y_quads
        .into_remainder()
        .iter_mut()
        .zip(leftover)
        .zip(b_quads.remainder())
    {
        let [dot] = dot_rows([row], x_body, x_tail);
        *yi = dot + bi;
    }
}

/// `[rows[r] · x for r in 0..R]`, with `x` given as its whole vectors `x_body` and its
/// zero-padded tail `x_tail`. Every row has `x`'s length.
#[inline(always)]
fn dot_rows<const R: usize>(rows: [&[f32]; R], x_body: &[[f32; LANES]], x_tail: V) -> [f32; R] {
    let split = x_body.len() * LANES;
    let bodies: [&[[f32; LANES]]; R] = core::array::from_fn(|r| rows[r][..split].as_chunks().0);
    // Two accumulators per row, for even and odd vectors of `x`: 2R independent FMA
    // chains, enough to hide the FMA latency behind the loads.
    let mut even = [V::ZERO; R];
    let mut odd = [V::ZERO; R];
    let (x_pairs, x_last) = x_body.as_chunks::<2>();
    for (k, [x0, x1]) in x_pairs.iter().enumerate() {
        let (x0, x1) = (V::new(*x0), V::new(*x1));
        for r in 0..R {
            even[r] = V::new(bodies[r][2 * k]).mul_add(x0, even[r]);
            odd[r] = V::new(bodies[r][2 * k + 1]).mul_add(x1, odd[r]);
        }
    }
    if let [x_last] = x_last {
        let x_last = V::new(*x_last);
        for r in 0..R {
            even[r] = V::new(bodies[r][x_body.len() - 1]).mul_add(x_last, even[r]);
        }
    }
    core::array::from_fn(|r| {
        // The padding of `x_tail` is zero, so what the row's padding holds does not count.
        let tail = padded(&rows[r][split..], 0.0).mul_add(x_tail, odd[r]);
        (even[r] + tail).reduce_add()
    })
}

/// `x_i ← 1 / (1 + e^-x_i)`, in place, any length.
///
/// With `e = e^-|x|` (never above 1, so nothing overflows for any input) the result is
/// `1 / (1 + e)` for `x ≥ 0` and `e / (1 + e)` for `x < 0`, the second keeping full
/// relative precision where the sigmoid is tiny. `e` comes from `exp_nonpositive`.
///
/// Error: at most 8.9e-8 absolute against an f64 reference, measured over every 2⁻¹²
/// step of [-100, 100], every 2⁻¹⁶ step of [-16, 16] and at ±1e4 (`tests/kernels.rs`);
/// the same as the twin's, the rounding of `1 + e` and of the division dominating.
/// NaN stays NaN; ±∞ give 1 and 0.
pub fn sigmoid(x: &mut [f32]) {
    map_in_place(x, |v| {
        let e = exp_nonpositive(-v.abs());
        let r = V::ONE / (V::ONE + e);
        v.simd_lt(V::ZERO).select(e * r, r)
    });
}

/// `x_i ← max(x_i, 0)`, in place, any length. Exact; NaN stays NaN and `-0.0` stays
/// `-0.0`, as in the twin.
pub fn relu(x: &mut [f32]) {
    map_in_place(x, |v| v.simd_lt(V::ZERO).select(V::ZERO, v));
}

/// `x_i ← e^(x_i − m) / Σ_j e^(x_j − m)` with `m = max x`, in place, any length.
///
/// Subtracting the maximum keeps every exponent at or below 0, so finite inputs of any
/// size (±1e4 and beyond) give no overflow, no NaN, and a largest term of exactly 1.
/// Terms below e^-87 are flushed to 0 (see `exp_nonpositive`).
///
/// Error: in the contract's `(5e-7 + |x_i − max x| · 2⁻²⁴)` relative bound, the first
/// term stays under 2.5e-7 on the 16- and 8-lane builds (tested); the 4-lane SSE build
/// goes a little past (2.6e-7 seen), each lane summing 4 times as many terms, no FMA.
/// The outputs sum to 1 within 1e-6 (`tests/kernels.rs`).
/// A NaN anywhere, a +∞, or all −∞ makes every output NaN, as in the twin.
pub fn softmax(x: &mut [f32]) {
    if x.is_empty() {
        return;
    }
    // A NaN is skipped here but turns its own term, hence the sum, hence every output, NaN.
    let max = V::splat(max_skipping_nan(x));

    let (body, tail) = x.as_chunks_mut::<LANES>();
    let mut sum = V::ZERO;
    for chunk in body.iter_mut() {
        let e = exp_nonpositive(V::new(*chunk) - max);
        sum += e;
        *chunk = e.to_array();
    }
    // The tail's padding is −∞, whose term is exactly 0. The tail stays in a register
    // until it is scaled: for 10 logits it is the whole softmax.
    let tail_e = exp_nonpositive(padded(tail, f32::NEG_INFINITY) - max);
    sum += tail_e;

    let inverse = V::splat(1.0 / sum.reduce_add());
    for chunk in body {
        *chunk = (V::new(*chunk) * inverse).to_array();
    }
    store_tail(tail, tail_e * inverse);
}

/// The index of the first largest element, NaNs skipped; 0 for an empty or all-NaN slice.
/// Exact (comparisons only), same answer as the twin for every input.
pub fn argmax(x: &[f32]) -> usize {
    let max = max_skipping_nan(x);
    // The first chunk holding the maximum, then the first lane in it. No element equals
    // the maximum only when all are NaN (or −∞ stands alone with NaNs: then it matches).
    let target = V::splat(max);
    let (body, tail) = x.as_chunks::<LANES>();
    for (k, chunk) in body.iter().enumerate() {
        let hits = V::new(*chunk).simd_eq(target).to_bitmask();
        if hits != 0 {
            return k * LANES + hits.trailing_zeros() as usize;
        }
    }
    let offset = body.len() * LANES;
    tail.iter()
        .position(|&v| v == max)
        .map_or(0, |i| offset + i)
}

/// `e^v` for `v ≤ 0`, lane-wise: within 1.01 ulp of the exact value for every f32 in
/// `[-87, 0]` (measured exhaustively against f64; the unit test below samples it).
///
/// `v = n ln 2 + r` with `n = round(v / ln 2)` and `|r| ≤ ln 2 / 2`; `e^r` is Cephes'
/// `expf` polynomial (degree 7, minimax); `2^n` is built in the exponent bits. Below -87
/// the result is 0 (e^-87 ≈ 1.6e-38 is the last step before subnormals, which are slow
/// on x86 and need a different `2^n`); −∞ gives 0; NaN gives NaN. `wide`'s own `exp`
/// handles every input but spends a dozen extra instructions per vector on it.
#[inline(always)]
fn exp_nonpositive(v: V) -> V {
    // ln 2 split so that `n * LN2_HI` is exact for |n| ≤ 2⁹: the reduction loses nothing.
    const LN2_HI: f32 = 0.693_359_4; // 355 / 512 exactly
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 2²³ + 127: in [2²³, 2²⁴) floats are the integers, so `v log2 e + SHIFTER` rounds
    // `v log2 e` to the nearest integer `n` and holds `n + 127` in its low mantissa bits,
    // which a shift by 23 moves into the exponent field: the bits of 2ⁿ, for n in [-126, 0].
    const SHIFTER: f32 = 8_388_735.0;

    let flush = v.simd_lt(V::splat(-87.0));
    let shifted = v.mul_add(V::splat(core::f32::consts::LOG2_E), V::splat(SHIFTER));
    let n = shifted - V::splat(SHIFTER);
    let r = n.mul_neg_add(V::splat(LN2_HI), v);
    let r = n.mul_neg_add(V::splat(LN2_LO), r);
    let p = V::splat(1.987_569_2e-4)
        .mul_add(r, V::splat(1.398_199_9e-3))
        .mul_add(r, V::splat(8.333_452e-3))
        .mul_add(r, V::splat(4.166_579_6e-2))
        .mul_add(r, V::splat(1.666_666_5e-1))
        .mul_add(r, V::splat(0.5));
    let e_r = (r * r).mul_add(p, r) + V::ONE;
    let two_n: V = bytemuck::cast(bytemuck::cast::<V, U>(shifted) << 23u32);
    flush.select(V::ZERO, e_r * two_n)
}

/// The largest element of `x`, NaNs skipped; −∞ when `x` is empty or all NaN.
#[inline(always)]
fn max_skipping_nan(x: &[f32]) -> f32 {
    // Lane-wise `b > max ? b : max` from −∞ never takes a NaN. (`wide`'s `max` and
    // `fast_max` answer NaN differently on SSE and on plain arrays.)
    let skip_nan = |max: V, b: V| b.simd_gt(max).select(b, max);
    let (body, tail) = x.as_chunks::<LANES>();
    let mut max = skip_nan(V::splat(f32::NEG_INFINITY), padded(tail, f32::NEG_INFINITY));
    for chunk in body {
        max = skip_nan(max, V::new(*chunk));
    }
    // No lane is NaN now. Halving the lanes is a tree of log2(LANES) steps where a fold
    // would be a chain of LANES - 1, the critical path of a 10-class softmax.
    let mut lanes = max.to_array();
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            // No NaN to care for, so a plain comparison (`f32::max` adds a NaN test).
            let (a, b) = (lanes[i], lanes[i + width]);
            lanes[i] = if b > a { b } else { a };
        }
        width /= 2;
    }
    lanes[0]
}

/// `x_i ← f(x_i)` for a lane-wise `f`, the tail through one padded vector.
#[inline(always)]
fn map_in_place(x: &mut [f32], f: impl Fn(V) -> V) {
    let (body, tail) = x.as_chunks_mut::<LANES>();
    for chunk in body {
        *chunk = f(V::new(*chunk)).to_array();
    }
    if !tail.is_empty() {
        store_tail(tail, f(padded(tail, 0.0)));
    }
}

/// `tail` (shorter than a vector) followed by `fill` in the remaining lanes.
///
/// With AVX-512 one masked load. Elsewhere the tail is copied into an array, in pieces of
/// fixed size (a `copy_from_slice` of unknown length is a call to `memcpy`), and the
/// array is loaded: the load waits for those narrower stores, a stall the masked load
/// avoids; for a 10-class softmax, which is all tail, that stall is most of the time.
#[inline(always)]
fn padded(tail: &[f32], fill: f32) -> V {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    {
        use core::arch::x86_64::{_mm512_mask_loadu_ps, _mm512_set1_ps};
        debug_assert!(tail.len() < LANES);
        let mask = (1u16 << tail.len()) - 1;
        // Safety: the mask enables exactly the first `tail.len()` lanes, all inside `tail`;
        // masked-off lanes are neither read nor able to fault.
        V::from(unsafe { _mm512_mask_loadu_ps(_mm512_set1_ps(fill), mask, tail.as_ptr()) })
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
    {
        let mut lanes = [fill; LANES];
        copy_short(&mut lanes[..tail.len()], tail);
        V::new(lanes)
    }
}

/// The first `tail.len()` lanes of `v` into `tail` (shorter than a vector).
#[inline(always)]
fn store_tail(tail: &mut [f32], v: V) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    {
        use core::arch::x86_64::_mm512_mask_storeu_ps;
        debug_assert!(tail.len() < LANES);
        let mask = (1u16 << tail.len()) - 1;
        // Safety: the mask enables exactly the first `tail.len()` lanes, all inside `tail`;
        // masked-off lanes are not written.
        unsafe { _mm512_mask_storeu_ps(tail.as_mut_ptr(), mask, v.into()) }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
    copy_short(tail, &v.as_array()[..tail.len()]);
}

/// `dst.copy_from_slice(src)` for fewer than `LANES` elements, as at most log2(LANES)
/// copies of fixed sizes (e.g. 4, 2, 1), each a register move.
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
#[inline(always)]
fn copy_short(dst: &mut [f32], src: &[f32]) {
    let mut done = 0;
    let mut width = LANES / 2;
    while width > 0 {
        if src.len() - done >= width {
            dst[done..done + width].copy_from_slice(&src[done..done + width]);
            done += width;
        }
        width /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every 61st f32 in [-87, 0] (18 million of them), against f64, in ulps of the result.
    #[test]
    fn exp_nonpositive_is_within_one_ulp() {
        let mut worst = 0.0f64;
        let last = (-87.0f32).to_bits();
        for bits in ((-0.0f32).to_bits()..=last).step_by(61) {
            let v = f32::from_bits(bits);
            let got = f64::from(exp_nonpositive(V::splat(v)).as_array()[0]);
            let exact = f64::from(v).exp();
            let ulp = f64::from((exact as f32).next_up()) - f64::from(exact as f32);
            worst = worst.max((got - exact).abs() / ulp);
        }
        assert!(worst <= 1.01, "exp_nonpositive is {worst} ulp off");
    }

    /// Below -87 (−∞ included) the result is exactly 0; NaN stays NaN.
    #[test]
    fn exp_nonpositive_flushes_and_propagates() {
        let v = exp_nonpositive(V::splat(-87.5)).as_array()[0];
        assert_eq!(v, 0.0);
        assert_eq!(
            exp_nonpositive(V::splat(f32::NEG_INFINITY)).as_array()[0],
            0.0
        );
        assert_eq!(exp_nonpositive(V::splat(0.0)).as_array()[0], 1.0);
        assert!(exp_nonpositive(V::splat(f32::NAN)).as_array()[0].is_nan());
    }
}
