//! The scalar twins: one plain loop per kernel, the reference the SIMD versions are
//! tested against. Contracts are on the dispatching functions in [`super`]; the lines
//! above each twin give only what is particular to it.

/// `y ← W x + b`; `w` is `(rows, cols)` row-major.
///
/// Error: sums left to right, so `|y_i − exact| ≤ (cols + 1) · 2⁻²⁴ · (Σ_j |w_ij x_j| + |b_i|)`
/// to first order.
pub fn gemv_bias(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let cols = x.len();
    super::check_gemv_shapes(w, x, b, y);
    if cols == 0 {
        y.copy_from_slice(b);
        return;
    }
    for ((yi, row), bi) in y.iter_mut().zip(w.chunks_exact(cols)).zip(b) {
        let mut acc = 0.0f32;
        for (wij, xj) in row.iter().zip(x) {
            acc += wij * xj;
        }
        *yi = acc + bi;
    }
}

/// `x_i ← 1 / (1 + e^-x_i)`, as `1 / (1 + e)` or `e / (1 + e)` with `e = e^-|x|`, so
/// the exponential never overflows (`1 / (1 + e^1e4)` would go through infinity) and a
/// tiny result keeps its relative precision.
///
/// Error: at most 8.9e-8 absolute against an f64 reference (measured, `tests/kernels.rs`).
pub fn sigmoid(x: &mut [f32]) {
    for v in x {
        let e = libm::expf(-v.abs());
        *v = if *v < 0.0 {
            e / (1.0 + e)
        } else {
            1.0 / (1.0 + e)
        };
    }
}

/// `x_i ← max(x_i, 0)`, written as a comparison so that NaN stays NaN (`f32::max` would
/// turn it into 0 and hide it).
pub fn relu(x: &mut [f32]) {
    for v in x {
        if *v < 0.0 {
            *v = 0.0;
        }
    }
}

/// `x_i ← e^(x_i - max x) / Σ_j e^(x_j - max x)`.
///
/// The sum is kept in f64: summed left to right in f32, a thousand terms drift by
/// 5e-7 relative, more than the contract allows.
pub fn softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f64;
    for v in x.iter_mut() {
        *v = libm::expf(*v - max);
        sum += f64::from(*v);
    }
    let sum = sum as f32;
    for v in x.iter_mut() {
        *v /= sum;
    }
}

/// Index of the first largest element, NaNs skipped; 0 when empty or all NaN.
pub fn argmax(x: &[f32]) -> usize {
    let mut best: Option<(usize, f32)> = None;
    for (i, &v) in x.iter().enumerate() {
        if v.is_nan() {
            continue;
        }
        match best {
            Some((_, b)) if v <= b => {}
            _ => best = Some((i, v)),
        }
    }
    best.map_or(0, |(i, _)| i)
}
