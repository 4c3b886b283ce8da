//! The network `inputs → hidden₁ → … → hiddenₙ₋₁ → outputs` as the trainer holds it: the
//! flat parameters, the per-batch buffers, and the layer loop that [`fast`](super::fast)
//! runs with its products on gemm.
//!
//! The maths is nn-core's ([`nn_core::train`]): each layer's forward pass above its
//! backward pass, the loss, Adam, and the whole plain step ([`nn_core::train::Learner`]),
//! which the host, the page and a board all run. It is the reference: `fast`'s tests hold
//! the gemm step equal to it at depth 1 to 4.
//!
//! Every matrix is row-major. A batch of `B` examples is `(B, C)`: one row per example.

use nn_core::Activation;
use serde::{Deserialize, Serialize};

pub use nn_core::train::BatchStats;
pub use nn_core::train::layers::{
    crossentropy_softmax_backward, dense_sizes, matmul_backward, matmul_forward,
};

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

/// `a ← act(a)` in place, by nn-core's dispatched kernels: what the board computes, at
/// the host's SIMD speed.
pub fn activation_forward(a: &mut [f32], activation: Hidden) {
    Activation::from(activation).apply(a);
}

/// Given `a` = the activation's output and `da` = ∂L/∂a, turns `da` into ∂L/∂z in place
/// (nn-core's derivative, written from the output alone).
pub fn activation_backward(da: &mut [f32], a: &[f32], activation: Hidden) {
    nn_core::train::layers::activation_backward(da, a, activation.into());
}

/// `probs ← softmax(logits)` row by row, and the batch's cross-entropy against `labels`:
/// nn-core's fused loss, on a copy so that the logits stay.
pub fn softmax_crossentropy_forward(
    probs: &mut [f32],
    logits: &[f32],
    labels: &[u8],
) -> BatchStats {
    probs.copy_from_slice(logits);
    nn_core::train::layers::softmax_crossentropy_forward(probs, labels)
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use nn_core::train::Rng;

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
}
