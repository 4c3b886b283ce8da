//! The layers, each forward pass directly above its backward pass: the dense layer, the
//! activations, and softmax fused with the cross-entropy loss.
//!
//! Every loop is the plain one, and its order is part of the contract: a sum starts from
//! its first term (the bias, or 0) and adds the others in index order, one rounding per
//! multiply and one per add, with no fused multiply-add. Rust never contracts `a * b + c`
//! and `libm` computes `expf`, `logf` and `tanhf` in the same integer-exact steps on every
//! target, so x86-64, wasm32 and Cortex-M produce the same bits.
//!
//! Every matrix is row-major. A batch of `B` examples is `(B, C)`: one row per example.

use crate::activation::Activation;

/// What one forward pass over a batch measured.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BatchStats {
    /// Sum over the batch of the cross-entropy loss (nats).
    pub loss_sum: f64,
    /// Examples whose largest probability is their label.
    pub correct: usize,
}

impl core::ops::Add for BatchStats {
    type Output = BatchStats;

    /// Both counts of `self` and `other` added.
    fn add(self, other: BatchStats) -> BatchStats {
        BatchStats {
            loss_sum: self.loss_sum + other.loss_sum,
            correct: self.correct + other.correct,
        }
    }
}

// ----------------------------------------------------------------------------------------
// Dense layer: out = inp Wᵀ + b

/// The sizes `(OC, C)` of a dense layer run on `b` examples, checked against the lengths of
/// `weight (OC,C)`, `bias (OC)`, `inp (B,C)` and `out (B,OC)`.
///
/// # Panics
/// If any length disagrees: a wrong buffer is a bug in the caller, never data.
pub fn dense_sizes(b: usize, weight: usize, bias: usize, inp: usize, out: usize) -> (usize, usize) {
    let oc = bias;
    assert!(
        oc > 0 && weight.is_multiple_of(oc),
        "dense layer: a weight of {weight} is not (OC, C) for a bias of {oc}"
    );
    let c = weight / oc;
    assert_eq!(inp, b * c, "dense layer: input is not (B, C) = ({b}, {c})");
    assert_eq!(
        out,
        b * oc,
        "dense layer: output is not (B, OC) = ({b}, {oc})"
    );
    (oc, c)
}

/// `out (B,OC) ← inp (B,C) · weightᵀ + bias`, with `weight (OC,C)` and `bias (OC)`:
/// `out[r][o] = bias[o] + Σ_i inp[r][i] · weight[o][i]`. `out` need not be initialised.
///
/// # Panics
/// If the lengths are not those shapes.
pub fn matmul_forward(out: &mut [f32], inp: &[f32], weight: &[f32], bias: &[f32], b: usize) {
    let (oc, c) = dense_sizes(b, weight.len(), bias.len(), inp.len(), out.len());
    for (x, y) in inp.chunks_exact(c).zip(out.chunks_exact_mut(oc)) {
        for ((y, w), &bias) in y.iter_mut().zip(weight.chunks_exact(c)).zip(bias) {
            let mut acc = bias;
            for (&x, &w) in x.iter().zip(w) {
                acc += x * w;
            }
            *y = acc;
        }
    }
}

/// Given `dout (B,OC)` = ∂L/∂out of [`matmul_forward`]: `dinp (B,C) ← dout · weight`, that
/// is `dinp[r][i] = Σ_o dout[r][o] · weight[o][i]`, summed from 0 in `o` order.
///
/// # Panics
/// If the lengths are not those shapes.
pub fn input_backward(dinp: &mut [f32], dout: &[f32], weight: &[f32], b: usize) {
    let oc = dout.len() / b.max(1);
    let (oc, c) = dense_sizes(b, weight.len(), oc, dinp.len(), dout.len());
    for (dx, dy) in dinp.chunks_exact_mut(c).zip(dout.chunks_exact(oc)) {
        dx.fill(0.0);
        // Row by row of the weight: the same sums, in the same order, read contiguously.
        for (&d, w) in dy.iter().zip(weight.chunks_exact(c)) {
            for (dx, &w) in dx.iter_mut().zip(w) {
                *dx += d * w;
            }
        }
    }
}

/// `dweight (OC,C) ← doutᵀ · inp`: `dweight[o][i] = Σ_r dout[r][o] · inp[r][i]`, summed from
/// 0 in `r` order. Overwritten, not accumulated: each step sees one batch.
///
/// # Panics
/// If the lengths are not those shapes.
pub fn weight_backward(dweight: &mut [f32], dout: &[f32], inp: &[f32], b: usize) {
    let oc = dout.len() / b.max(1);
    let (oc, c) = dense_sizes(b, dweight.len(), oc, inp.len(), dout.len());
    dweight.fill(0.0);
    for (dy, x) in dout.chunks_exact(oc).zip(inp.chunks_exact(c)) {
        for (&d, dw) in dy.iter().zip(dweight.chunks_exact_mut(c)) {
            for (dw, &x) in dw.iter_mut().zip(x) {
                *dw += d * x;
            }
        }
    }
}

/// `dbias (OC) ← Σ_rows dout`, summed from 0 in row order.
///
/// # Panics
/// If `dout` is not `(B, OC)`.
pub fn bias_backward(dbias: &mut [f32], dout: &[f32], b: usize) {
    let oc = dbias.len();
    assert_eq!(dout.len(), b * oc, "dense layer: dout is not (B, OC)");
    dbias.fill(0.0);
    for dy in dout.chunks_exact(oc) {
        for (db, &d) in dbias.iter_mut().zip(dy) {
            *db += d;
        }
    }
}

/// All three gradients of [`matmul_forward`]: [`weight_backward`], [`bias_backward`] and,
/// when asked, [`input_backward`].
///
/// # Panics
/// If the lengths are not those shapes.
pub fn matmul_backward(
    dinp: Option<&mut [f32]>,
    dweight: &mut [f32],
    dbias: &mut [f32],
    dout: &[f32],
    inp: &[f32],
    weight: &[f32],
    b: usize,
) {
    dense_sizes(b, weight.len(), dbias.len(), inp.len(), dout.len());
    assert_eq!(
        dweight.len(),
        weight.len(),
        "dense layer: dweight is not (OC, C)"
    );
    if let Some(dinp) = dinp {
        input_backward(dinp, dout, weight, b);
    }
    weight_backward(dweight, dout, inp, b);
    bias_backward(dbias, dout, b);
}

// ----------------------------------------------------------------------------------------
// Activations

/// `a ← act(a)` in place, by the scalar kernels (never the dispatched SIMD ones, whose
/// results may differ by target): identity, ReLU, ReLU6, sigmoid or tanh. Softmax is not a
/// hidden activation: the loss below owns it.
///
/// # Panics
/// On [`Activation::Softmax`].
pub fn activation_forward(a: &mut [f32], activation: Activation) {
    match activation {
        Activation::Identity => {}
        Activation::Relu => crate::kernels::scalar::relu(a),
        Activation::Relu6 => a.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0)),
        Activation::Sigmoid => crate::kernels::scalar::sigmoid(a),
        Activation::Tanh => a.iter_mut().for_each(|v| *v = libm::tanhf(*v)),
        Activation::Softmax => panic!("softmax is the loss's, not a hidden activation"),
    }
}

/// Given `a` = the activation's output and `da` = ∂L/∂a, turns `da` into ∂L/∂z in place.
/// Every derivative is written from the output alone, so the pre-activation need not be
/// kept: sigmoid' = a(1 − a), tanh' = 1 − a², ReLU' = 1 where a > 0 (the same as z > 0),
/// ReLU6' = 1 where 0 < a < 6.
///
/// # Panics
/// On [`Activation::Softmax`].
pub fn activation_backward(da: &mut [f32], a: &[f32], activation: Activation) {
    let zero_where = |da: &mut [f32], off: fn(f32) -> bool| {
        da.iter_mut().zip(a).for_each(|(d, &y)| {
            if off(y) {
                *d = 0.0;
            }
        })
    };
    match activation {
        Activation::Identity => {}
        Activation::Relu => zero_where(da, |y| y <= 0.0),
        Activation::Relu6 => zero_where(da, |y| y <= 0.0 || y >= 6.0),
        Activation::Sigmoid => da.iter_mut().zip(a).for_each(|(d, &y)| *d *= y * (1.0 - y)),
        Activation::Tanh => da.iter_mut().zip(a).for_each(|(d, &y)| *d *= 1.0 - y * y),
        Activation::Softmax => panic!("softmax is the loss's, not a hidden activation"),
    }
}

// ----------------------------------------------------------------------------------------
// Softmax + sparse categorical cross-entropy, fused

/// `scores (B,OUT)`: the logits in, their softmax out, row by row; returns the
/// cross-entropy of each row against `labels (B)`, summed, and the rows whose largest
/// probability is their label.
///
/// The loss comes from the logits (`ln Σ e^(z−max) − (z_y − max)`), never from `ln p_y`,
/// so a saturated network with `p_y` rounded to 0 still reports a finite loss, as Keras
/// does when it reads the softmax's logits.
///
/// # Panics
/// If `scores` is not `labels.len()` rows, or a label is not a column.
pub fn softmax_crossentropy_forward(scores: &mut [f32], labels: &[u8]) -> BatchStats {
    assert!(
        !labels.is_empty() && scores.len().is_multiple_of(labels.len()),
        "scores are not (B, OUT)"
    );
    let outputs = scores.len() / labels.len();
    let mut stats = BatchStats::default();
    for (p, &y) in scores.chunks_exact_mut(outputs).zip(labels) {
        let y = usize::from(y);
        let max = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let zy = p[y] - max;
        let mut sum = 0.0f32;
        for pk in p.iter_mut() {
            *pk = libm::expf(*pk - max);
            sum += *pk;
        }
        stats.loss_sum += f64::from(libm::logf(sum) - zy);
        let inv = 1.0 / sum;
        p.iter_mut().for_each(|pk| *pk *= inv);
        if crate::kernels::scalar::argmax(p) == y {
            stats.correct += 1;
        }
    }
    stats
}

/// `dlogits ← (probs − onehot(labels)) / B`: the gradient of the batch's mean loss with
/// respect to the logits, without going through the softmax's Jacobian.
pub fn crossentropy_softmax_backward(dlogits: &mut [f32], probs: &[f32], labels: &[u8]) {
    let outputs = probs.len() / labels.len();
    let inv_b = 1.0 / labels.len() as f32;
    for ((d, p), &y) in dlogits
        .chunks_exact_mut(outputs)
        .zip(probs.chunks_exact(outputs))
        .zip(labels)
    {
        for (k, (dk, &pk)) in d.iter_mut().zip(p).enumerate() {
            let onehot = if k == usize::from(y) { 1.0 } else { 0.0 };
            *dk = (pk - onehot) * inv_b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "at {i}: {x} vs {y}");
        }
    }

    #[test]
    fn dense_layer_matches_hand_values() {
        // inp (2,2) = [[1, 2], [3, 4]], weight (3,2) = [[1, 0], [0, 1], [1, 1]], bias (1, 2, 3).
        let (inp, w, bias) = (
            [1.0, 2.0, 3.0, 4.0],
            [1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            [1.0, 2.0, 3.0],
        );
        let mut out = [0.0; 6];
        matmul_forward(&mut out, &inp, &w, &bias, 2);
        assert_eq!(out, [2.0, 4.0, 6.0, 4.0, 6.0, 10.0]);
        // dout (2,3) = [[1, 0, 0], [0, 0, 1]].
        let dout = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0];
        let (mut dinp, mut dw, mut db) = ([9.0; 4], [9.0; 6], [9.0; 3]);
        matmul_backward(Some(&mut dinp), &mut dw, &mut db, &dout, &inp, &w, 2);
        assert_eq!(dinp, [1.0, 0.0, 1.0, 1.0], "dout · weight");
        assert_eq!(dw, [1.0, 2.0, 0.0, 0.0, 3.0, 4.0], "doutᵀ · inp");
        assert_eq!(db, [1.0, 0.0, 1.0]);
    }

    #[test]
    #[should_panic(expected = "input is not (B, C)")]
    fn dense_layer_refuses_a_short_input() {
        let mut out = [0.0; 3];
        matmul_forward(
            &mut out,
            &[1.0],
            &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            &[0.0; 3],
            1,
        );
    }

    #[test]
    fn activation_derivatives_match_hand_values() {
        let a = [0.0f32, 0.5, 3.0, 6.0];
        let mut d = [1.0f32; 4];
        activation_backward(&mut d, &a, Activation::Relu6);
        assert_eq!(d, [0.0, 1.0, 1.0, 0.0]);
        let mut d = [2.0f32; 2];
        activation_backward(&mut d, &[0.5, -0.5], Activation::Tanh);
        assert_eq!(d, [1.5, 1.5]);
        let mut d = [1.0f32; 1];
        activation_backward(&mut d, &[0.25], Activation::Sigmoid);
        assert_eq!(d, [0.1875]);
    }

    #[test]
    fn softmax_crossentropy_matches_hand_values() {
        // logits (0, ln 3): p = (1/4, 3/4); label 1 → loss −ln(3/4).
        let mut scores = [0.0, libm::logf(3.0)];
        let stats = softmax_crossentropy_forward(&mut scores, &[1]);
        close(&scores, &[0.25, 0.75], 1e-6);
        assert!((stats.loss_sum - libm::log(4.0 / 3.0)).abs() < 1e-6);
        assert_eq!(stats.correct, 1);
        // A saturated row keeps a finite, exact loss: p_0 underflows but the loss is 200.
        let mut scores = [0.0, 200.0];
        let stats = softmax_crossentropy_forward(&mut scores, &[0]);
        assert_eq!(stats.loss_sum, 200.0);
        assert_eq!(stats.correct, 0);
        // Backward: (p − onehot) / B.
        let mut dlogits = [9.0; 4];
        crossentropy_softmax_backward(&mut dlogits, &[0.25, 0.75, 0.5, 0.5], &[1, 0]);
        assert_eq!(dlogits, [0.125, -0.125, -0.25, 0.25]);
    }
}
