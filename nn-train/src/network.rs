//! The network `inputs → hidden₁ → … → hiddenₙ₋₁ → outputs`, trained from scratch, written
//! to be read.
//!
//! 1. The parameters: one flat buffer cut into each layer's weights and bias ([`Flat`]), so
//!    that Adam is one loop and export writes the layers as they are.
//! 2. The layers, each forward pass directly above its backward pass: the dense layer
//!    ([`matmul_forward`], [`matmul_backward`]), the hidden activation, and softmax fused
//!    with the cross-entropy loss.
//! 3. The whole network: [`forward`], [`backward`] (which reads as `forward` in reverse)
//!    and [`step`], one update of Adam (in [`adam`](super::adam)).
//!
//! Every loop here is the naive one. Training runs the same arithmetic, faster, from
//! [`fast`](super::fast): matrix products on the `gemm` crate and the first layer's
//! gradient fused with Adam's update; tests there hold it equal to this file at depth 2, 3
//! and 4.
//!
//! Every matrix is row-major. A batch of `B` examples is `(B, C)`: one row per example.

use nn_core::Activation;
use serde::{Deserialize, Serialize};

use crate::adam::Adam;

/// The hidden layers' activation: the ones this trainer can differentiate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hidden {
    /// `1 / (1 + e^-x)`, as in the seed's Keras model.
    Sigmoid,
    /// `max(x, 0)`.
    Relu,
}

impl Hidden {
    /// Every activation this trainer can differentiate.
    pub const ALL: [Hidden; 2] = [Hidden::Sigmoid, Hidden::Relu];
}

/// The same function as nn-core names it in the model file: the one mapping between the
/// two enums.
impl From<Hidden> for Activation {
    fn from(hidden: Hidden) -> Self {
        match hidden {
            Hidden::Sigmoid => Activation::Sigmoid,
            Hidden::Relu => Activation::Relu,
        }
    }
}

/// The inverse of `From<Hidden>`, read off it so that the pairs are written once; the
/// error is the activation this trainer cannot train.
impl TryFrom<Activation> for Hidden {
    type Error = Activation;

    fn try_from(activation: Activation) -> Result<Self, Activation> {
        Hidden::ALL
            .iter()
            .copied()
            .find(|&h| Activation::from(h) == activation)
            .ok_or(activation)
    }
}

/// The flat parameter buffer, cut into layers: in [`crate::flat`], which Adam shares.
pub use crate::flat::Flat;

/// Parameters plus what the model file needs to run them.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Weights and biases.
    pub params: Flat,
    /// Every hidden layer's activation function (the output layer feeds the softmax).
    pub activation: Hidden,
}

/// Per-batch activations and their gradients, sized for up to `capacity` examples.
#[derive(Debug)]
pub struct Workspace {
    /// Examples the buffers hold.
    pub capacity: usize,
    /// `(B, IN)` inputs: the pixels, scaled.
    pub x: Vec<f32>,
    /// Per hidden layer `k`, `(B, Hk)` activations `act(a(k-1) Wkᵀ + bk)`, with `a0 = x`.
    pub hidden: Vec<Vec<f32>>,
    /// `(B, OUT)` logits of the last layer.
    pub logits: Vec<f32>,
    /// `(B, OUT)` probabilities, the softmax of each row of `logits`.
    pub probs: Vec<f32>,
    /// `(B)` class labels.
    pub labels: Vec<u8>,
    /// `(B, OUT)` gradient of the mean loss with respect to the logits.
    pub dlogits: Vec<f32>,
    /// Per hidden layer, `(B, Hk)` gradient with respect to its activations, then (in
    /// place) to its pre-activation.
    pub dhidden: Vec<Vec<f32>>,
}

impl Workspace {
    /// Buffers for batches of up to `capacity` examples through a network of `sizes`
    /// (`[IN, H1, …, OUT]`).
    ///
    /// # Panics
    /// If `sizes` has fewer than two entries.
    pub fn new(sizes: &[usize], capacity: usize) -> Self {
        let (&input, rest) = sizes.split_first().expect("a network has inputs");
        let (&output, hidden) = rest.split_last().expect("a network has outputs");
        let per_layer = || hidden.iter().map(|&h| vec![0.0; capacity * h]).collect();
        Self {
            capacity,
            x: vec![0.0; capacity * input],
            hidden: per_layer(),
            logits: vec![0.0; capacity * output],
            probs: vec![0.0; capacity * output],
            labels: vec![0; capacity],
            dlogits: vec![0.0; capacity * output],
            dhidden: per_layer(),
        }
    }

    /// Loads examples `indices` of `images` (`n * IN` pixels) into `x`, each pixel scaled
    /// by `scaling`, and their labels into `labels`. Returns the batch size.
    pub fn load(
        &mut self,
        images: &[u8],
        labels: &[u8],
        indices: &[usize],
        scaling: nn_core::InputScaling,
    ) -> usize {
        let inputs = self.x.len() / self.capacity;
        assert!(
            indices.len() <= self.capacity,
            "batch larger than the workspace"
        );
        for (row, &i) in indices.iter().enumerate() {
            scaling.apply(
                &images[i * inputs..(i + 1) * inputs],
                &mut self.x[row * inputs..(row + 1) * inputs],
            );
            self.labels[row] = labels[i];
        }
        indices.len()
    }
}

/// What one forward pass over a batch measured.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BatchStats {
    /// Sum over the batch of the cross-entropy loss (nats).
    pub loss_sum: f64,
    /// Examples whose largest probability is their label.
    pub correct: usize,
}

// ----------------------------------------------------------------------------------------
// Dense layer: out = inp Wᵀ + b

/// The sizes `(OC, C)` of a dense layer run on `b` examples, checked against the lengths of
/// `weight (OC,C)`, `bias (OC)`, `inp (B,C)` and `out (B,OC)`.
///
/// # Panics
/// If any length disagrees: a wrong buffer is a bug in the caller, never data.
pub(crate) fn dense_sizes(
    b: usize,
    weight: usize,
    bias: usize,
    inp: usize,
    out: usize,
) -> (usize, usize) {
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
    for r in 0..b {
        for o in 0..oc {
            let mut acc = bias[o];
            for i in 0..c {
                acc += inp[r * c + i] * weight[o * c + i];
            }
            out[r * oc + o] = acc;
        }
    }
}

/// Given `dout (B,OC)` = ∂L/∂out of [`matmul_forward`]:
/// `dweight (OC,C) ← doutᵀ · inp`, `dbias (OC) ← Σ_rows dout`, and, when asked,
/// `dinp (B,C) ← dout · weight`. Outputs are overwritten, not accumulated: each step
/// sees one batch.
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
    let (oc, c) = dense_sizes(b, weight.len(), dbias.len(), inp.len(), dout.len());
    assert_eq!(
        dweight.len(),
        weight.len(),
        "dense layer: dweight is not (OC, C)"
    );
    if let Some(dinp) = dinp {
        assert_eq!(dinp.len(), inp.len(), "dense layer: dinp is not (B, C)");
        for r in 0..b {
            for i in 0..c {
                dinp[r * c + i] = (0..oc).map(|o| dout[r * oc + o] * weight[o * c + i]).sum();
            }
        }
    }
    for o in 0..oc {
        for i in 0..c {
            dweight[o * c + i] = (0..b).map(|r| dout[r * oc + o] * inp[r * c + i]).sum();
        }
        dbias[o] = (0..b).map(|r| dout[r * oc + o]).sum();
    }
}

// ----------------------------------------------------------------------------------------
// Hidden activation

/// `a ← act(a)` in place: sigmoid `1 / (1 + e^−z)` or relu `max(z, 0)`, computed by
/// nn-core's kernels, so that training sees exactly the numbers the board will.
pub fn activation_forward(a: &mut [f32], activation: Hidden) {
    Activation::from(activation).apply(a);
}

/// Given `a` = the activation's output and `da` = ∂L/∂a, turns `da` into ∂L/∂z in place.
/// Both derivatives are written from the output alone: sigmoid' = a(1 − a), and relu'
/// is 1 where a > 0 (the same as z > 0), so the pre-activation need not be kept.
pub fn activation_backward(da: &mut [f32], a: &[f32], activation: Hidden) {
    match activation {
        Hidden::Sigmoid => da.iter_mut().zip(a).for_each(|(d, &y)| *d *= y * (1.0 - y)),
        Hidden::Relu => da.iter_mut().zip(a).for_each(|(d, &y)| {
            if y <= 0.0 {
                *d = 0.0;
            }
        }),
    }
}

// ----------------------------------------------------------------------------------------
// Softmax + sparse categorical cross-entropy, fused

/// `probs (B,OUT) ← softmax(logits (B,OUT))` row by row, and the cross-entropy of each row
/// against `labels (B)`.
///
/// The loss comes from the logits (`ln Σ e^(z−max) − (z_y − max)`), never from `ln p_y`,
/// so a saturated network with `p_y` rounded to 0 still reports a finite loss, as Keras
/// does when it reads the softmax's logits.
pub fn softmax_crossentropy_forward(
    probs: &mut [f32],
    logits: &[f32],
    labels: &[u8],
) -> BatchStats {
    assert_eq!(
        probs.len(),
        logits.len(),
        "probs and logits differ in shape"
    );
    let outputs = logits.len() / labels.len();
    let mut stats = BatchStats::default();
    for ((p, z), &y) in probs
        .chunks_exact_mut(outputs)
        .zip(logits.chunks_exact(outputs))
        .zip(labels)
    {
        let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f32;
        for (pk, &zk) in p.iter_mut().zip(z) {
            *pk = (zk - max).exp();
            sum += *pk;
        }
        stats.loss_sum += f64::from(sum.ln() - (z[usize::from(y)] - max));
        let inv = 1.0 / sum;
        p.iter_mut().for_each(|pk| *pk *= inv);
        if nn_core::kernels::argmax(p) == usize::from(y) {
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

// ----------------------------------------------------------------------------------------
// The whole network

/// A dense layer's forward pass: [`matmul_forward`] here, gemm's in `fast`.
pub(crate) type DenseForward = fn(&mut [f32], &[f32], &[f32], &[f32], usize);
/// A dense layer's backward pass: [`matmul_backward`] here, gemm's in `fast`.
pub(crate) type DenseBackward =
    fn(Option<&mut [f32]>, &mut [f32], &mut [f32], &[f32], &[f32], &[f32], usize);

/// Runs the first `b` examples loaded in `ws` through `net`: fills every hidden layer's
/// activations, `logits` and `probs`, and returns the batch's loss and correct count.
pub fn forward(net: &Network, ws: &mut Workspace, b: usize) -> BatchStats {
    forward_with(net, ws, b, matmul_forward)
}

/// [`forward`] with `dense` for every layer's product: the one layer loop both paths run.
pub(crate) fn forward_with(
    net: &Network,
    ws: &mut Workspace,
    b: usize,
    dense: DenseForward,
) -> BatchStats {
    let sizes = &net.params.sizes;
    let layers = net.params.layers();
    let last = layers.len() - 1;
    for (k, (w, bias)) in layers.into_iter().enumerate() {
        let (before, after) = ws.hidden.split_at_mut(k.min(last));
        let inp = match k {
            0 => &ws.x[..b * sizes[0]],
            _ => &before[k - 1][..b * sizes[k]],
        };
        if k == last {
            dense(&mut ws.logits[..b * sizes[k + 1]], inp, w, bias, b);
        } else {
            let out = &mut after[0][..b * sizes[k + 1]];
            dense(out, inp, w, bias, b);
            activation_forward(out, net.activation);
        }
    }
    let output = sizes[last + 1];
    softmax_crossentropy_forward(
        &mut ws.probs[..b * output],
        &ws.logits[..b * output],
        &ws.labels[..b],
    )
}

/// The gradient of the batch's mean loss with respect to every parameter, into `grads`.
/// Needs the buffers [`forward`] filled for the same `b` examples.
pub fn backward(net: &Network, ws: &mut Workspace, grads: &mut Flat, b: usize) {
    backward_down_to(net, ws, grads, b, 0, matmul_backward);
}

/// [`backward`] through layers `last ..= stop` only, with `dense` for every layer's
/// products: the one reverse loop both paths run. Layer `k > 0` leaves the gradient with
/// respect to its input's pre-activation in `ws.dhidden[k - 1]`; `fast` stops at layer 1
/// and fuses layer 0 with Adam.
pub(crate) fn backward_down_to(
    net: &Network,
    ws: &mut Workspace,
    grads: &mut Flat,
    b: usize,
    stop: usize,
    dense: DenseBackward,
) {
    let sizes = &net.params.sizes;
    let layers = net.params.layers();
    let last = layers.len() - 1;
    let output = sizes[last + 1];
    crossentropy_softmax_backward(
        &mut ws.dlogits[..b * output],
        &ws.probs[..b * output],
        &ws.labels[..b],
    );
    let grad_layers = grads.layers_mut();
    for (k, ((w, _), (gw, gb))) in layers.into_iter().zip(grad_layers).enumerate().rev() {
        if k < stop {
            break;
        }
        let (below, above) = ws.dhidden.split_at_mut(k);
        let dout = match k == last {
            true => &ws.dlogits[..b * output],
            false => &above[0][..b * sizes[k + 1]],
        };
        if k == 0 {
            dense(None, gw, gb, dout, &ws.x[..b * sizes[0]], w, b);
        } else {
            let a = &ws.hidden[k - 1][..b * sizes[k]];
            let da = &mut below[k - 1][..b * sizes[k]];
            dense(Some(&mut *da), gw, gb, dout, a, w, b);
            activation_backward(da, a, net.activation);
        }
    }
}

/// One training step on the first `b` examples loaded in `ws`: [`forward`], [`backward`]
/// into `grads`, then Adam moves every parameter. Returns what the forward pass measured.
pub fn step(
    net: &mut Network,
    ws: &mut Workspace,
    grads: &mut Flat,
    adam: &mut Adam,
    b: usize,
) -> BatchStats {
    let stats = forward(net, ws, b);
    backward(net, ws, grads, b);
    adam.step(&mut net.params, grads);
    stats
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::rng::Rng;

    /// `n` values uniform in ±1.
    pub(crate) fn random(n: usize, rng: &mut Rng) -> Vec<f32> {
        (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect()
    }

    /// Asserts `|a_i − b_i| ≤ tol · (1 + |b_i|)` for every element.
    pub(crate) fn close(a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "at {i}: {x} vs {y}");
        }
    }

    #[test]
    fn the_mapping_to_nn_core_round_trips() {
        for h in [Hidden::Sigmoid, Hidden::Relu] {
            assert_eq!(Hidden::try_from(Activation::from(h)), Ok(h));
        }
        assert_eq!(Activation::from(Hidden::Relu), Activation::Relu);
        assert_eq!(
            Hidden::try_from(Activation::Softmax),
            Err(Activation::Softmax)
        );
        assert_eq!(
            Hidden::try_from(Activation::Identity),
            Err(Activation::Identity)
        );
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
    fn softmax_crossentropy_matches_hand_values() {
        // logits (0, ln 3): p = (1/4, 3/4); label 1 → loss −ln(3/4).
        let mut probs = vec![0.0; 2];
        let stats = softmax_crossentropy_forward(&mut probs, &[0.0, 3.0f32.ln()], &[1]);
        close(&probs, &[0.25, 0.75], 1e-6);
        assert!((stats.loss_sum - (4.0f64 / 3.0).ln()).abs() < 1e-6);
        assert_eq!(stats.correct, 1);
        // A saturated row keeps a finite, exact loss: p_0 underflows but the loss is 200.
        let stats = softmax_crossentropy_forward(&mut probs, &[0.0, 200.0], &[0]);
        assert_eq!(stats.loss_sum, 200.0);
        assert_eq!(stats.correct, 0);
        // Backward: (p − onehot) / B.
        let mut dlogits = vec![9.0; 4];
        crossentropy_softmax_backward(&mut dlogits, &[0.25, 0.75, 0.5, 0.5], &[1, 0]);
        assert_eq!(dlogits, [0.125, -0.125, -0.25, 0.25]);
    }

    /// Sum over the batch of the loss, in f64 from scratch, as the finite-difference reference.
    fn loss_f64(net: &Network, x: &[f32], labels: &[u8]) -> f64 {
        let sizes = &net.params.sizes;
        let layers = net.params.layers();
        let mut total = 0.0;
        for (r, &y) in labels.iter().enumerate() {
            let mut a: Vec<f64> = x[r * sizes[0]..(r + 1) * sizes[0]]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            for (k, (w, bias)) in layers.iter().enumerate() {
                let c = a.len();
                let z = bias.iter().enumerate().map(|(o, &bo)| {
                    f64::from(bo) + (0..c).map(|i| f64::from(w[o * c + i]) * a[i]).sum::<f64>()
                });
                a = if k + 1 == layers.len() {
                    z.collect()
                } else {
                    z.map(|z| match net.activation {
                        Hidden::Sigmoid => 1.0 / (1.0 + (-z).exp()),
                        Hidden::Relu => z.max(0.0),
                    })
                    .collect()
                };
            }
            let max = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = a.iter().map(|v| (v - max).exp()).sum::<f64>().ln() + max;
            total += lse - a[usize::from(y)];
        }
        total
    }

    /// Central differences in f64 around the f32 parameters, against `backward`, for a
    /// network of `sizes`.
    fn check_gradients(sizes: &[usize], activation: Hidden) {
        let b = 3;
        let mut rng = Rng::new(11);
        let mut net = Network {
            params: Flat::glorot(sizes, &mut rng),
            activation,
        };
        // Non-zero biases so relu units sit on both sides of the kink, away from it.
        for (_, bias) in net.params.layers_mut() {
            bias.iter_mut().for_each(|v| *v = rng.uniform(-0.5, 0.5));
        }
        let mut ws = Workspace::new(sizes, b);
        ws.x.copy_from_slice(&random(b * sizes[0], &mut rng));
        ws.labels.copy_from_slice(&[0, 3, 2]);
        let (x, labels) = (ws.x.clone(), ws.labels.clone());
        let mut grads = Flat::zeros(sizes);
        forward(&net, &mut ws, b);
        backward(&net, &mut ws, &mut grads, b);

        let h = 1e-3f32;
        for i in 0..net.params.data.len() {
            let orig = net.params.data[i];
            let (hi, lo) = (orig + h, orig - h);
            net.params.data[i] = hi;
            let up = loss_f64(&net, &x, &labels);
            net.params.data[i] = lo;
            let down = loss_f64(&net, &x, &labels);
            net.params.data[i] = orig;
            // Divide by the step f32 really took, so only the curvature (O(h²)) is left
            // between the quotient and the derivative of the mean loss.
            let numeric = (up - down) / (f64::from(hi) - f64::from(lo)) / b as f64;
            let analytic = f64::from(grads.data[i]);
            assert!(
                (numeric - analytic).abs() < 1e-4 + 1e-3 * numeric.abs(),
                "{activation:?} {sizes:?} parameter {i}: numeric {numeric}, backward {analytic}"
            );
        }
    }

    #[test]
    fn backward_matches_finite_differences_sigmoid() {
        check_gradients(&[6, 5, 4], Hidden::Sigmoid);
    }

    #[test]
    fn backward_matches_finite_differences_relu() {
        check_gradients(&[6, 5, 4], Hidden::Relu);
    }

    #[test]
    fn backward_matches_finite_differences_at_depth_3() {
        check_gradients(&[6, 5, 3, 4], Hidden::Sigmoid);
        check_gradients(&[6, 5, 3, 4], Hidden::Relu);
    }

    #[test]
    fn backward_matches_finite_differences_at_depth_1() {
        check_gradients(&[6, 4], Hidden::Relu);
    }

    #[test]
    fn step_is_forward_backward_then_adam() {
        use crate::adam::AdamConfig;
        let sizes = [4, 3, 3, 2];
        let b = 2;
        let mut rng = Rng::new(3);
        let net = Network {
            params: Flat::glorot(&sizes, &mut rng),
            activation: Hidden::Relu,
        };
        let mut ws = Workspace::new(&sizes, b);
        ws.x.copy_from_slice(&random(b * sizes[0], &mut rng));
        ws.labels.copy_from_slice(&[1, 0]);

        let (mut by_hand, mut hand_grads) = (net.clone(), Flat::zeros(&sizes));
        let mut hand_adam = Adam::new(AdamConfig::default(), &net.params);
        let hand_stats = forward(&by_hand, &mut ws, b);
        backward(&by_hand, &mut ws, &mut hand_grads, b);
        hand_adam.step(&mut by_hand.params, &hand_grads);

        let (mut stepped, mut grads) = (net.clone(), Flat::zeros(&sizes));
        let mut adam = Adam::new(AdamConfig::default(), &net.params);
        let stats = step(&mut stepped, &mut ws, &mut grads, &mut adam, b);
        assert_eq!(stats, hand_stats);
        assert_eq!(grads, hand_grads);
        assert_eq!(adam, hand_adam);
        assert_eq!(stepped, by_hand);
        assert_ne!(stepped.params, net.params, "the step moved the parameters");
    }
}
