//! The trainable network `inputs → hidden → outputs` with its sizes known only at run time:
//! one flat parameter buffer with named views, and each layer's forward pass directly
//! followed by its backward pass (llm.c style). `forward` and `backward` at the bottom
//! chain the layers; `backward` reads as `forward` in reverse.
//!
//! Every matrix is row-major. A batch of `B` examples is `(B, C)`: one row per example.

use gemm::Parallelism;
use serde::{Deserialize, Serialize};

/// Sizes of the network `inputs → hidden → outputs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Input features (784 for MNIST).
    pub inputs: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Classes (10 for MNIST).
    pub outputs: usize,
}

impl Shape {
    /// An MNIST network with `hidden` hidden units.
    pub const fn mnist(hidden: usize) -> Self {
        Self {
            inputs: nn_core::IMAGE_PIXELS,
            hidden,
            outputs: nn_core::CLASSES,
        }
    }

    /// Number of f32 parameters: `H*IN + H + OUT*H + OUT`.
    pub const fn parameters(&self) -> usize {
        self.hidden * self.inputs + self.hidden + self.outputs * self.hidden + self.outputs
    }
}

/// The hidden layer's activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Hidden {
    /// `1 / (1 + e^-x)`, as in the seed's Keras model.
    Sigmoid,
    /// `max(x, 0)`.
    Relu,
}

impl Hidden {
    /// The same function as nn-core names it in the model file.
    pub fn activation(self) -> nn_core::Activation {
        match self {
            Hidden::Sigmoid => nn_core::Activation::Sigmoid,
            Hidden::Relu => nn_core::Activation::Relu,
        }
    }
}

/// A buffer in the parameter layout `[W1 (H,IN) | b1 (H) | W2 (OUT,H) | b2 (OUT)]`.
///
/// The parameters, their gradients and Adam's two moments all use it, so the optimizer is
/// one loop over four equally laid-out slices and export writes the views as they are.
/// The weight layout `(OUT, IN)` is nn-core's, so no transpose happens on export.
#[derive(Clone, Debug, PartialEq)]
pub struct Flat {
    /// The sizes the views are cut from.
    pub shape: Shape,
    /// `shape.parameters()` values.
    pub data: Vec<f32>,
}

/// The named views of a [`Flat`] buffer.
#[derive(Clone, Copy, Debug)]
pub struct Views<'a> {
    /// `(H, IN)`.
    pub w1: &'a [f32],
    /// `(H)`.
    pub b1: &'a [f32],
    /// `(OUT, H)`.
    pub w2: &'a [f32],
    /// `(OUT)`.
    pub b2: &'a [f32],
}

/// The named views of a [`Flat`] buffer, mutable.
#[derive(Debug)]
pub struct ViewsMut<'a> {
    /// `(H, IN)`.
    pub w1: &'a mut [f32],
    /// `(H)`.
    pub b1: &'a mut [f32],
    /// `(OUT, H)`.
    pub w2: &'a mut [f32],
    /// `(OUT)`.
    pub b2: &'a mut [f32],
}

impl Flat {
    /// All zeros.
    pub fn zeros(shape: Shape) -> Self {
        Self {
            shape,
            data: vec![0.0; shape.parameters()],
        }
    }

    /// Glorot-uniform weights (`U(±sqrt(6 / (fan_in + fan_out)))`, as Keras' `Dense`) and
    /// zero biases, drawn W1 then W2 in row-major order.
    pub fn glorot(shape: Shape, rng: &mut super::rng::Rng) -> Self {
        let mut p = Self::zeros(shape);
        let v = p.views_mut();
        let limit1 = (6.0 / (shape.inputs + shape.hidden) as f32).sqrt();
        v.w1.iter_mut()
            .for_each(|w| *w = rng.uniform(-limit1, limit1));
        let limit2 = (6.0 / (shape.hidden + shape.outputs) as f32).sqrt();
        v.w2.iter_mut()
            .for_each(|w| *w = rng.uniform(-limit2, limit2));
        p
    }

    /// The named views.
    pub fn views(&self) -> Views<'_> {
        let s = self.shape;
        let (w1, rest) = self.data.split_at(s.hidden * s.inputs);
        let (b1, rest) = rest.split_at(s.hidden);
        let (w2, b2) = rest.split_at(s.outputs * s.hidden);
        Views { w1, b1, w2, b2 }
    }

    /// The named views, mutable.
    pub fn views_mut(&mut self) -> ViewsMut<'_> {
        let s = self.shape;
        let (w1, rest) = self.data.split_at_mut(s.hidden * s.inputs);
        let (b1, rest) = rest.split_at_mut(s.hidden);
        let (w2, b2) = rest.split_at_mut(s.outputs * s.hidden);
        ViewsMut { w1, b1, w2, b2 }
    }
}

/// Parameters plus what the model file needs to run them.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Weights and biases.
    pub params: Flat,
    /// The hidden layer's activation.
    pub hidden: Hidden,
}

/// Per-batch activations and their gradients, sized for up to `capacity` examples.
#[derive(Debug)]
pub struct Workspace {
    /// Examples the buffers hold.
    pub capacity: usize,
    /// `(B, IN)` scaled inputs.
    pub x: Vec<f32>,
    /// `(B, H)` hidden activations `act(x W1ᵀ + b1)`.
    pub a1: Vec<f32>,
    /// `(B, OUT)` logits, turned into probabilities in place by [`softmax_crossentropy_forward`].
    pub probs: Vec<f32>,
    /// `(B)` class labels.
    pub labels: Vec<u8>,
    /// `(B, OUT)` gradient of the mean loss with respect to the logits.
    pub dlogits: Vec<f32>,
    /// `(B, H)` gradient with respect to `a1`, then (in place) to the pre-activation.
    pub da1: Vec<f32>,
}

impl Workspace {
    /// Buffers for batches of up to `capacity` examples.
    pub fn new(shape: Shape, capacity: usize) -> Self {
        Self {
            capacity,
            x: vec![0.0; capacity * shape.inputs],
            a1: vec![0.0; capacity * shape.hidden],
            probs: vec![0.0; capacity * shape.outputs],
            labels: vec![0; capacity],
            dlogits: vec![0.0; capacity * shape.outputs],
            da1: vec![0.0; capacity * shape.hidden],
        }
    }

    /// Loads examples `indices` of `images` (`n * IN` pixels) into `x` and `labels`,
    /// scaling each pixel as `p * scale + offset`. Returns the batch size.
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
            let src = &images[i * inputs..(i + 1) * inputs];
            let dst = &mut self.x[row * inputs..(row + 1) * inputs];
            for (d, &p) in dst.iter_mut().zip(src) {
                *d = f32::from(p) * scaling.scale + scaling.offset;
            }
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

/// Threads for an `(m, k) · (k, n)` product: the output layer's products (32·10·1024) take
/// microseconds, less than waking a second thread costs, so only big ones are split.
fn parallelism(m: usize, n: usize, k: usize) -> Parallelism {
    if m * n * k >= 1 << 20 {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    }
}

/// `out (B,OC) ← inp (B,C) · weightᵀ + bias`, with `weight (OC,C)` and `bias (OC)`.
/// `out` need not be initialised. Runs on gemm (SIMD, split over the rayon pool).
pub fn matmul_forward(out: &mut [f32], inp: &[f32], weight: &[f32], bias: &[f32], b: usize) {
    let (oc, c) = (bias.len(), weight.len() / bias.len());
    debug_assert_eq!(out.len(), b * oc);
    debug_assert_eq!(inp.len(), b * c);
    // gemm transposes a problem whose destination is row-major, and then packs all of
    // `weight` (3 MB for W1) on every call; into a column-major scratch it packs only the
    // small `inp`. Copying the (B, OC) result into place with the bias costs far less
    // (measured: 0.97 ms → 0.47 ms for the seed model's first layer).
    // Kept per thread: a fresh 128 KB buffer per call would be an mmap and page faults.
    thread_local! {
        static COL: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    COL.with_borrow_mut(|col| {
        col.clear();
        col.resize(b * oc, 0.0);
        // Safety: col is (b,oc) column-major (row stride 1, column stride b); inp (b,c)
        // row-major; weightᵀ is (c,oc) read with row stride 1 and column stride c.
        unsafe {
            gemm::gemm(
                b,
                oc,
                c,
                col.as_mut_ptr(),
                b as isize,
                1,
                false,
                inp.as_ptr(),
                1,
                c as isize,
                weight.as_ptr(),
                c as isize,
                1,
                0.0,
                1.0,
                false,
                false,
                false,
                parallelism(b, oc, c),
            );
        }
        for (r, row) in out.chunks_exact_mut(oc).enumerate() {
            for (o, (y, &bo)) in row.iter_mut().zip(bias).enumerate() {
                *y = col[o * b + r] + bo;
            }
        }
    });
}

/// The naive twin of [`matmul_forward`], kept to be read and to test it against.
pub fn matmul_forward_slow(out: &mut [f32], inp: &[f32], weight: &[f32], bias: &[f32], b: usize) {
    let (oc, c) = (bias.len(), weight.len() / bias.len());
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
/// sees one batch, and overwriting saves a pass over the 3 MB weight gradient.
pub fn matmul_backward(
    dinp: Option<&mut [f32]>,
    dweight: &mut [f32],
    dbias: &mut [f32],
    dout: &[f32],
    inp: &[f32],
    weight: &[f32],
    b: usize,
) {
    let (oc, c) = (dbias.len(), dweight.len() / dbias.len());
    debug_assert_eq!(dout.len(), b * oc);
    debug_assert_eq!(inp.len(), b * c);
    debug_assert_eq!(weight.len(), oc * c);
    if let Some(dinp) = dinp {
        debug_assert_eq!(dinp.len(), b * c);
        // Safety: dinp (b,c), dout (b,oc), weight (oc,c), all row-major, lengths asserted.
        unsafe {
            gemm::gemm(
                b,
                c,
                oc,
                dinp.as_mut_ptr(),
                1,
                c as isize,
                false,
                dout.as_ptr(),
                1,
                oc as isize,
                weight.as_ptr(),
                1,
                c as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                parallelism(b, c, oc),
            );
        }
    }
    // Safety: dweight (oc,c) row-major; doutᵀ is (oc,b) read with row stride 1 and column
    // stride oc; inp (b,c) row-major; lengths asserted.
    unsafe {
        gemm::gemm(
            oc,
            c,
            b,
            dweight.as_mut_ptr(),
            1,
            c as isize,
            false,
            dout.as_ptr(),
            oc as isize,
            1,
            inp.as_ptr(),
            1,
            c as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism(oc, c, b),
        );
    }
    dbias.fill(0.0);
    for row in dout.chunks_exact(oc) {
        dbias.iter_mut().zip(row).for_each(|(db, &d)| *db += d);
    }
}

/// The naive twin of [`matmul_backward`].
pub fn matmul_backward_slow(
    dinp: Option<&mut [f32]>,
    dweight: &mut [f32],
    dbias: &mut [f32],
    dout: &[f32],
    inp: &[f32],
    weight: &[f32],
    b: usize,
) {
    let (oc, c) = (dbias.len(), dweight.len() / dbias.len());
    if let Some(dinp) = dinp {
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

/// `a ← act(a)` in place, with nn-core's kernels.
pub fn activation_forward(a: &mut [f32], hidden: Hidden) {
    hidden.activation().apply(a);
}

/// Given `a` = the activation's output and `da` = ∂L/∂a, turns `da` into ∂L/∂z in place.
/// Both derivatives are written from the output alone: sigmoid' = a(1 − a), and relu'
/// is 1 where a > 0 (the same as z > 0), so the pre-activation need not be kept.
pub fn activation_backward(da: &mut [f32], a: &[f32], hidden: Hidden) {
    match hidden {
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

/// Turns each row of `logits (B,OUT)` into probabilities in place and measures the
/// cross-entropy against `labels (B)`.
///
/// The loss comes from the logits (`ln Σ e^(z−max) − (z_y − max)`), never from `ln p_y`,
/// so a saturated network with `p_y` rounded to 0 still reports a finite loss, as Keras
/// does when it reads the softmax's logits.
pub fn softmax_crossentropy_forward(logits: &mut [f32], labels: &[u8]) -> BatchStats {
    let outputs = logits.len() / labels.len();
    let mut stats = BatchStats::default();
    for (row, &y) in logits.chunks_exact_mut(outputs).zip(labels) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let zy = row[usize::from(y)];
        let mut sum = 0.0f32;
        for z in row.iter_mut() {
            *z = (*z - max).exp();
            sum += *z;
        }
        stats.loss_sum += f64::from(sum.ln() - (zy - max));
        let inv = 1.0 / sum;
        row.iter_mut().for_each(|p| *p *= inv);
        if nn_core::kernels::argmax(row) == usize::from(y) {
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

/// Runs the first `b` examples loaded in `ws` through `net`: fills `a1` and `probs` and
/// returns the batch's loss and correct count.
pub fn forward(net: &Network, ws: &mut Workspace, b: usize) -> BatchStats {
    let s = net.params.shape;
    let p = net.params.views();
    let x = &ws.x[..b * s.inputs];
    let a1 = &mut ws.a1[..b * s.hidden];
    let logits = &mut ws.probs[..b * s.outputs];
    matmul_forward(a1, x, p.w1, p.b1, b);
    activation_forward(a1, net.hidden);
    matmul_forward(logits, a1, p.w2, p.b2, b);
    softmax_crossentropy_forward(logits, &ws.labels[..b])
}

/// The gradient of the batch's mean loss with respect to every parameter, into `grads`.
/// Needs the buffers [`forward`] filled for the same `b` examples.
pub fn backward(net: &Network, ws: &mut Workspace, grads: &mut Flat, b: usize) {
    let s = net.params.shape;
    let p = net.params.views();
    let g = grads.views_mut();
    let x = &ws.x[..b * s.inputs];
    let a1 = &ws.a1[..b * s.hidden];
    let probs = &ws.probs[..b * s.outputs];
    let dlogits = &mut ws.dlogits[..b * s.outputs];
    let da1 = &mut ws.da1[..b * s.hidden];
    crossentropy_softmax_backward(dlogits, probs, &ws.labels[..b]);
    matmul_backward(Some(da1), g.w2, g.b2, dlogits, a1, p.w2, b);
    activation_backward(da1, a1, net.hidden);
    matmul_backward(None, g.w1, g.b1, da1, x, p.w1, b);
}

/// Rows of `W1` per fused task: 64 rows of 784 are 200 KB in each of the four buffers, so
/// a block's gradient is still in L2 (2 MB a core here) when Adam reads it; gemm packs the
/// batch's inputs once per block, so fewer, larger blocks pack less. 16 blocks share two cores.
const FUSED_ROWS: usize = 64;

/// [`backward`] followed by `adam`'s step, fused where memory traffic decides the speed.
///
/// The step itself is memory-bound (W1, its gradient and both moments are 13 MB for the
/// seed model, far past L2), so the first layer's weight gradient is computed one block of
/// rows at a time into a per-thread scratch and Adam moves that block while it is hot: the
/// 3 MB gradient is never written out and read back, so `grads.w1` is left untouched.
/// The numbers are those of [`backward`] then [`Adam::step`](super::adam::Adam::step), up
/// to the summation order inside gemm.
pub fn backward_and_step(
    net: &mut Network,
    ws: &mut Workspace,
    grads: &mut Flat,
    adam: &mut super::adam::Adam,
    b: usize,
) {
    use rayon::prelude::*;
    let s = net.params.shape;
    let x = &ws.x[..b * s.inputs];
    let a1 = &ws.a1[..b * s.hidden];
    let probs = &ws.probs[..b * s.outputs];
    let dlogits = &mut ws.dlogits[..b * s.outputs];
    let da1 = &mut ws.da1[..b * s.hidden];
    {
        let p = net.params.views();
        let g = grads.views_mut();
        crossentropy_softmax_backward(dlogits, probs, &ws.labels[..b]);
        matmul_backward(Some(&mut *da1), g.w2, g.b2, dlogits, a1, p.w2, b);
        activation_backward(da1, a1, net.hidden);
        let dz1: &[f32] = da1;
        g.b1.fill(0.0);
        for row in dz1.chunks_exact(s.hidden) {
            g.b1.iter_mut().zip(row).for_each(|(db, &d)| *db += d);
        }
    }
    let step = adam.next_step();
    let (p, m, v) = (
        net.params.views_mut(),
        adam.m.views_mut(),
        adam.v.views_mut(),
    );
    let block = FUSED_ROWS * s.inputs;
    let dz1: &[f32] = da1;
    p.w1.par_chunks_mut(block)
        .zip(m.w1.par_chunks_mut(block))
        .zip(v.w1.par_chunks_mut(block))
        .enumerate()
        .for_each_init(
            || vec![0.0f32; block],
            |scratch, (i, ((pw, mw), vw))| {
                let rows = pw.len() / s.inputs;
                let gw = &mut scratch[..pw.len()];
                // gw (rows, IN) ← dZ1[:, i·R .. i·R+rows]ᵀ · x, the block's rows of dW1.
                // Safety: gw is (rows, IN) row-major; the lhs starts at column i·R of dZ1
                // (B, H) and reads rows × B elements with row stride 1 and column stride H,
                // all inside dz1; x is (B, IN) row-major.
                unsafe {
                    gemm::gemm(
                        rows,
                        s.inputs,
                        b,
                        gw.as_mut_ptr(),
                        1,
                        s.inputs as isize,
                        false,
                        dz1.as_ptr().add(i * FUSED_ROWS),
                        s.hidden as isize,
                        1,
                        x.as_ptr(),
                        1,
                        s.inputs as isize,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        Parallelism::None,
                    );
                }
                step.update(pw, mw, vw, gw);
            },
        );
    // b1, W2 and b2 are contiguous after W1 and small: one pass.
    let tail = s.hidden * s.inputs;
    step.update(
        &mut net.params.data[tail..],
        &mut adam.m.data[tail..],
        &mut adam.v.data[tail..],
        &grads.data[tail..],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::rng::Rng;

    fn random(n: usize, rng: &mut Rng) -> Vec<f32> {
        (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect()
    }

    fn close(a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "at {i}: {x} vs {y}");
        }
    }

    #[test]
    fn gemm_layer_matches_the_naive_twin() {
        let mut rng = Rng::new(7);
        let (b, c, oc) = (5, 37, 19);
        let inp = random(b * c, &mut rng);
        let w = random(oc * c, &mut rng);
        let bias = random(oc, &mut rng);
        let dout = random(b * oc, &mut rng);
        let (mut fast, mut slow) = (vec![9.0; b * oc], vec![0.0; b * oc]);
        matmul_forward(&mut fast, &inp, &w, &bias, b);
        matmul_forward_slow(&mut slow, &inp, &w, &bias, b);
        close(&fast, &slow, 1e-5);
        let (mut di_f, mut dw_f, mut db_f) = (vec![9.0; b * c], vec![9.0; oc * c], vec![9.0; oc]);
        let (mut di_s, mut dw_s, mut db_s) = (vec![0.0; b * c], vec![0.0; oc * c], vec![0.0; oc]);
        matmul_backward(Some(&mut di_f), &mut dw_f, &mut db_f, &dout, &inp, &w, b);
        matmul_backward_slow(Some(&mut di_s), &mut dw_s, &mut db_s, &dout, &inp, &w, b);
        close(&di_f, &di_s, 1e-5);
        close(&dw_f, &dw_s, 1e-5);
        close(&db_f, &db_s, 1e-5);
    }

    #[test]
    fn softmax_crossentropy_matches_hand_values() {
        // logits (0, ln 3): p = (1/4, 3/4); label 1 → loss −ln(3/4).
        let mut logits = vec![0.0, 3.0f32.ln()];
        let stats = softmax_crossentropy_forward(&mut logits, &[1]);
        close(&logits, &[0.25, 0.75], 1e-6);
        assert!((stats.loss_sum - (4.0f64 / 3.0).ln()).abs() < 1e-6);
        assert_eq!(stats.correct, 1);
        // A saturated row keeps a finite, exact loss: p_0 underflows but the loss is 200.
        let mut logits = vec![0.0, 200.0];
        let stats = softmax_crossentropy_forward(&mut logits, &[0]);
        assert_eq!(stats.loss_sum, 200.0);
        assert_eq!(stats.correct, 0);
    }

    #[test]
    fn fused_backward_and_step_matches_backward_then_adam() {
        use crate::train::adam::{Adam, AdamConfig};
        // 37 hidden units: two full fused blocks and a partial one.
        let shape = Shape {
            inputs: 20,
            hidden: 37,
            outputs: 10,
        };
        let b = 7;
        let mut rng = Rng::new(5);
        let net = Network {
            params: Flat::glorot(shape, &mut rng),
            hidden: Hidden::Sigmoid,
        };
        let mut ws = Workspace::new(shape, b);
        ws.x.copy_from_slice(&random(b * shape.inputs, &mut rng));
        ws.labels.copy_from_slice(&[0, 9, 2, 3, 3, 7, 1]);
        forward(&net, &mut ws, b);

        let (mut ref_net, mut ref_grads) = (net.clone(), Flat::zeros(shape));
        let mut ref_adam = Adam::new(AdamConfig::default(), &net.params);
        backward(&ref_net, &mut ws, &mut ref_grads, b);
        ref_adam.step(&mut ref_net.params, &ref_grads);

        let (mut fused_net, mut fused_grads) = (net.clone(), Flat::zeros(shape));
        let mut fused_adam = Adam::new(AdamConfig::default(), &net.params);
        backward_and_step(
            &mut fused_net,
            &mut ws,
            &mut fused_grads,
            &mut fused_adam,
            b,
        );

        let w1 = shape.hidden * shape.inputs;
        close(&fused_grads.data[w1..], &ref_grads.data[w1..], 1e-6);
        close(&fused_adam.m.data, &ref_adam.m.data, 1e-6);
        close(&fused_adam.v.data, &ref_adam.v.data, 1e-6);
        close(&fused_net.params.data, &ref_net.params.data, 1e-6);
        assert_ne!(
            fused_net.params.data, net.params.data,
            "the step moved the parameters"
        );
        assert_eq!(fused_adam.t, 1);
    }

    /// Sum over the batch of the loss, in f64 from scratch, as the finite-difference reference.
    fn loss_f64(net: &Network, x: &[f32], labels: &[u8]) -> f64 {
        let s = net.params.shape;
        let p = net.params.views();
        let mut total = 0.0;
        for (r, &y) in labels.iter().enumerate() {
            let xr = &x[r * s.inputs..(r + 1) * s.inputs];
            let h: Vec<f64> = (0..s.hidden)
                .map(|j| {
                    let z = f64::from(p.b1[j])
                        + (0..s.inputs)
                            .map(|i| f64::from(p.w1[j * s.inputs + i]) * f64::from(xr[i]))
                            .sum::<f64>();
                    match net.hidden {
                        Hidden::Sigmoid => 1.0 / (1.0 + (-z).exp()),
                        Hidden::Relu => z.max(0.0),
                    }
                })
                .collect();
            let z: Vec<f64> = (0..s.outputs)
                .map(|k| {
                    f64::from(p.b2[k])
                        + (0..s.hidden)
                            .map(|j| f64::from(p.w2[k * s.hidden + j]) * h[j])
                            .sum::<f64>()
                })
                .collect();
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = z.iter().map(|v| (v - max).exp()).sum::<f64>().ln() + max;
            total += lse - z[usize::from(y)];
        }
        total
    }

    /// Central differences in f64 around the f32 parameters, against `backward`.
    fn check_gradients(hidden: Hidden) {
        let shape = Shape {
            inputs: 6,
            hidden: 5,
            outputs: 4,
        };
        let b = 3;
        let mut rng = Rng::new(11);
        let mut net = Network {
            params: Flat::glorot(shape, &mut rng),
            hidden,
        };
        // Non-zero biases so relu units sit on both sides of the kink, away from it.
        for v in net.params.views_mut().b1.iter_mut() {
            *v = rng.uniform(-0.5, 0.5);
        }
        let mut ws = Workspace::new(shape, b);
        ws.x.copy_from_slice(&random(b * shape.inputs, &mut rng));
        ws.labels.copy_from_slice(&[0, 3, 2]);
        let (x, labels) = (ws.x.clone(), ws.labels.clone());
        let mut grads = Flat::zeros(shape);
        forward(&net, &mut ws, b);
        backward(&net, &mut ws, &mut grads, b);

        let h = 1e-3f32;
        for i in 0..shape.parameters() {
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
                "{hidden:?} parameter {i}: numeric {numeric}, backward {analytic}"
            );
        }
    }

    #[test]
    fn backward_matches_finite_differences_sigmoid() {
        check_gradients(Hidden::Sigmoid);
    }

    #[test]
    fn backward_matches_finite_differences_relu() {
        check_gradients(Hidden::Relu);
    }
}
