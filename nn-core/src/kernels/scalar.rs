//! The scalar twins: one plain loop per kernel, the reference the SIMD versions are
//! tested against. Contracts are on the dispatching functions in [`super`].

/// `y ← W x + b`; `w` is `(rows, cols)` row-major.
pub fn gemv_bias(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let cols = x.len();
    assert_eq!(w.len(), y.len() * cols, "gemv_bias: w is not (rows, cols)");
    assert_eq!(b.len(), y.len(), "gemv_bias: b is not (rows)");
    for ((yi, row), bi) in y.iter_mut().zip(w.chunks_exact(cols.max(1))).zip(b) {
        let mut acc = 0.0f32;
        for (wij, xj) in row.iter().zip(x) {
            acc += wij * xj;
        }
        *yi = acc + bi;
    }
}

/// `x_i ← 1 / (1 + e^-x_i)`.
pub fn sigmoid(x: &mut [f32]) {
    for v in x {
        *v = 1.0 / (1.0 + libm::expf(-*v));
    }
}

/// `x_i ← max(x_i, 0)`.
pub fn relu(x: &mut [f32]) {
    for v in x {
        *v = v.max(0.0);
    }
}

/// `x_i ← e^(x_i - max x) / Σ_j e^(x_j - max x)`.
pub fn softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for v in x.iter_mut() {
        *v = libm::expf(*v - max);
        sum += *v;
    }
    for v in x.iter_mut() {
        *v /= sum;
    }
}

/// Index of the first largest element; 0 when empty.
pub fn argmax(x: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in x.iter().enumerate() {
        if *v > x[best] {
            best = i;
        }
    }
    best
}
