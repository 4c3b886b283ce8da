//! Training a network of dense layers from its examples, without an allocator: the one home
//! of the training maths, which the trainer on a laptop, the page's wasm module and a board
//! all run, and which gives the same bits on each.
//!
//! 1. The layers, each forward pass directly above its backward pass ([`layers`]): the dense
//!    layer, the activations, softmax fused with the cross-entropy loss.
//! 2. The optimisers ([`optim`]): Adam, as Keras writes it, and plain SGD.
//! 3. The whole step ([`Learner::step`]): forward with every layer's output kept, backward
//!    (which reads as the forward pass in reverse), then the optimiser, over the parameters
//!    chosen by [`Learn`].
//! 4. The loop ([`fit`]): epochs of shuffled batches from any [`Examples`], with replayed
//!    examples mixed into each batch against forgetting.
//!
//! The parameters are one flat buffer, `[W1 (H1,IN) | b1 (H1) | W2 (H2,H1) | b2 | … ]` for
//! sizes `[IN, H1, …, OUT]` ([`parameters`] long): the model file's own layout, so a
//! network is read from a model and written back without a copy in another order. Every
//! other buffer is the caller's too, sized by the `const fn`s here, so a board declares them
//! as statics:
//!
//! ```
//! use nn_core::Activation;
//! use nn_core::train::{self, AdamConfig, Learn, Learner, Net, Optimizer, Rng};
//!
//! const SIZES: [usize; 3] = [4, 8, 3];
//! const BATCH: usize = 2;
//! let activations = [Activation::Relu, Activation::Identity];
//! let mut params = [0.0f32; train::parameters(&SIZES)];
//! let mut rng = Rng::new(1);
//! params.iter_mut().for_each(|p| *p = rng.uniform(-0.5, 0.5));
//! let mut state = [0.0f32; train::state_len(&SIZES, Learn::All)];
//! let mut work = [0.0f32; train::work_len(&SIZES, BATCH)];
//! let net = Net { sizes: &SIZES, activations: &activations };
//! let adam = Optimizer::Adam(AdamConfig { lr: 0.05, ..AdamConfig::default() });
//! let mut learner =
//!     Learner::new(net, Learn::All, adam, &mut params, &mut state, &mut work, BATCH)?;
//! let (x, labels) = ([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], [2, 0]);
//! let first = learner.step(&x, &labels)?;
//! let mut last = first;
//! for _ in 0..50 {
//!     last = learner.step(&x, &labels)?;
//! }
//! assert!(last.loss_sum < first.loss_sum / 4.0);
//! assert_eq!(last.correct, 2);
//! # Ok::<(), nn_core::Error>(())
//! ```
//!
//! Bit-identical everywhere: every loop runs in a fixed order with one rounding per
//! operation ([`layers`] says how), the transcendental functions are `libm`'s, and the
//! square root is correctly rounded on every target. Floats on a board without an FPU must
//! be the compiler's IEEE soft float, not a vendor ROM's faster approximations.

mod fit;
pub mod head;
pub mod layers;
pub mod optim;
pub mod rng;

pub use fit::{Examples, FitScratch, FitStats, NoExamples, Plan, fit};
pub use layers::BatchStats;
pub use optim::{AdamConfig, AdamStep, Optimizer};
pub use rng::Rng;

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::error::Error;
use layers::{
    activation_backward, activation_forward, bias_backward, crossentropy_softmax_backward,
    input_backward, matmul_forward, softmax_crossentropy_forward, weight_backward,
};

/// Which parameters learn; the others stay as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(rename_all = "lowercase")]
pub enum Learn {
    /// Every weight and bias.
    All,
    /// The last layer's weights and bias: no gradient flows below it, so a step costs a
    /// forward pass and one small product.
    Last,
    /// Every layer's bias, the weights frozen (the TinyTL idea): the state is a few hundred
    /// values, however large the weights.
    Biases,
}

impl Learn {
    /// Every choice, in the order the command line lists them.
    pub const ALL: [Learn; 3] = [Learn::All, Learn::Last, Learn::Biases];

    /// The name on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Learn::All => "all",
            Learn::Last => "last",
            Learn::Biases => "biases",
        }
    }

    /// Whether layer `k` of `depth` learns its weights.
    pub const fn weights(self, k: usize, depth: usize) -> bool {
        match self {
            Learn::All => true,
            Learn::Last => k + 1 == depth,
            Learn::Biases => false,
        }
    }

    /// Whether layer `k` of `depth` learns its bias.
    pub const fn bias(self, k: usize, depth: usize) -> bool {
        match self {
            Learn::All | Learn::Biases => true,
            Learn::Last => k + 1 == depth,
        }
    }

    /// The lowest layer a gradient must reach: below it nothing learns.
    const fn lowest(self, depth: usize) -> usize {
        match self {
            Learn::Last => depth - 1,
            Learn::All | Learn::Biases => 0,
        }
    }
}

impl core::str::FromStr for Learn {
    type Err = ();

    /// `all`, `last` or `biases`.
    fn from_str(s: &str) -> Result<Self, ()> {
        Learn::ALL.into_iter().find(|l| l.name() == s).ok_or(())
    }
}

/// Values in the parameter layout of `sizes` (`[IN, H1, …, OUT]`): `Σ (inputs + 1) · outputs`.
pub const fn parameters(sizes: &[usize]) -> usize {
    let mut sum = 0;
    let mut k = 1;
    while k < sizes.len() {
        sum += (sizes[k - 1] + 1) * sizes[k];
        k += 1;
    }
    sum
}

/// The parameters `learn` moves: the gradients and each of Adam's moments are this long,
/// the learned values in layout order.
pub const fn learned(sizes: &[usize], learn: Learn) -> usize {
    let depth = sizes.len().saturating_sub(1);
    let mut sum = 0;
    let mut k = 0;
    while k < depth {
        if learn.weights(k, depth) {
            sum += sizes[k] * sizes[k + 1];
        }
        if learn.bias(k, depth) {
            sum += sizes[k + 1];
        }
        k += 1;
    }
    sum
}

/// The learner's state across steps: the gradients, then Adam's two moments, each
/// [`learned`] long (SGD uses only the first third).
pub const fn state_len(sizes: &[usize], learn: Learn) -> usize {
    3 * learned(sizes, learn)
}

/// The widest layer output of `sizes`.
const fn widest(sizes: &[usize]) -> usize {
    let mut widest = 0;
    let mut k = 1;
    while k < sizes.len() {
        if sizes[k] > widest {
            widest = sizes[k];
        }
        k += 1;
    }
    widest
}

/// Scratch for steps of up to `batch` examples: every layer's output for the batch (the
/// backward pass reads them), then two gradient buffers of the widest layer.
pub const fn work_len(sizes: &[usize], batch: usize) -> usize {
    let mut outputs = 0;
    let mut k = 1;
    while k < sizes.len() {
        outputs += sizes[k];
        k += 1;
    }
    batch * (outputs + 2 * widest(sizes))
}

/// The network a [`Learner`] trains: its sizes `[IN, H1, …, OUT]` and each layer's
/// activation. The last layer's is [`Activation::Identity`]: its outputs are the logits of
/// the softmax cross-entropy loss.
#[derive(Clone, Copy, Debug)]
pub struct Net<'a> {
    /// The width of every layer boundary: inputs, each hidden layer, outputs.
    pub sizes: &'a [usize],
    /// Layer `k`'s activation, one per layer.
    pub activations: &'a [Activation],
}

impl Net<'_> {
    /// Dense layers.
    pub fn depth(&self) -> usize {
        self.sizes.len().saturating_sub(1)
    }

    /// Checks the depth, the sizes and that every activation can be trained there.
    pub fn check(&self) -> Result<(), Error> {
        let depth = self.depth();
        if depth == 0 || depth > crate::types::MAX_LAYERS {
            return Err(Error::BadDepth { depth });
        }
        if self.activations.len() != depth {
            return Err(Error::TrainBuffer {
                what: "activations",
                expected: depth,
                found: self.activations.len(),
            });
        }
        for (k, pair) in self.sizes.windows(2).enumerate() {
            if pair[1] == 0 {
                return Err(Error::EmptyLayer { layer: k });
            }
            if pair[0] == 0 {
                return Err(Error::LayerInputs {
                    layer: k,
                    expected: 1,
                    found: 0,
                });
            }
        }
        for (k, &activation) in self.activations.iter().enumerate() {
            let last = k + 1 == depth;
            let trainable = match activation {
                Activation::Identity => true,
                Activation::Softmax => false,
                _ => !last,
            };
            if !trainable {
                return Err(Error::BadActivation {
                    layer: k,
                    found: activation,
                });
            }
        }
        Ok(())
    }
}

/// Trains a network in place: the parameters, the optimiser's state and the scratch are the
/// caller's, borrowed for as long as the learner lives.
#[derive(Debug)]
pub struct Learner<'a> {
    net: Net<'a>,
    learn: Learn,
    optimizer: Optimizer,
    params: &'a mut [f32],
    state: &'a mut [f32],
    work: &'a mut [f32],
    batch: usize,
    steps: u32,
}

/// `Err(TrainBuffer)` unless `found == expected`.
fn length(what: &'static str, expected: usize, found: usize) -> Result<(), Error> {
    match expected == found {
        true => Ok(()),
        false => Err(Error::TrainBuffer {
            what,
            expected,
            found,
        }),
    }
}

impl<'a> Learner<'a> {
    /// A learner for `net` that moves what `learn` chooses with `optimizer`, in steps of up
    /// to `batch` examples. `params` ([`parameters`] long) holds the starting point and is
    /// trained in place; `state` ([`state_len`]) starts from zeros (it is zeroed here);
    /// `work` is [`work_len`]`(sizes, batch)` of scratch.
    pub fn new(
        net: Net<'a>,
        learn: Learn,
        optimizer: Optimizer,
        params: &'a mut [f32],
        state: &'a mut [f32],
        work: &'a mut [f32],
        batch: usize,
    ) -> Result<Self, Error> {
        net.check()?;
        if batch == 0 {
            return Err(Error::BatchSize { found: 0, max: 0 });
        }
        length("params", parameters(net.sizes), params.len())?;
        length("state", state_len(net.sizes, learn), state.len())?;
        length("work", work_len(net.sizes, batch), work.len())?;
        state.fill(0.0);
        Ok(Self {
            net,
            learn,
            optimizer,
            params,
            state,
            work,
            batch,
            steps: 0,
        })
    }

    /// The parameters, as trained so far.
    pub fn params(&self) -> &[f32] {
        self.params
    }

    /// Steps taken.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// The network.
    pub fn net(&self) -> Net<'a> {
        self.net
    }

    /// The most examples one step takes.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// One step on the `b = labels.len()` examples `x (B, IN)`: the forward pass, the
    /// gradient of the batch's mean loss with respect to every learned parameter, then the
    /// optimiser. Returns what the forward pass measured (before the update).
    pub fn step(&mut self, x: &[f32], labels: &[u8]) -> Result<BatchStats, Error> {
        let sizes = self.net.sizes;
        let (depth, b) = (self.net.depth(), labels.len());
        let classes = sizes[depth];
        if b == 0 || b > self.batch {
            return Err(Error::BatchSize {
                found: b,
                max: self.batch,
            });
        }
        length("inputs", b * sizes[0], x.len())?;
        if let Some(&label) = labels.iter().find(|&&y| usize::from(y) >= classes) {
            return Err(Error::LabelOutOfRange { label, classes });
        }

        // The work buffer: each layer's outputs for `b` examples, then two gradient buffers.
        let widest = widest(sizes);
        let (outputs, deltas) = self
            .work
            .split_at_mut(work_len(sizes, self.batch) - 2 * self.batch * widest);
        let (mut delta, mut below) = deltas.split_at_mut(self.batch * widest);

        // Forward: layer k reads x or layer k − 1's output, and keeps its own.
        let mut start = 0;
        for k in 0..depth {
            let (done, rest) = outputs.split_at_mut(start);
            let inp = match k {
                0 => x,
                _ => &done[start - b * sizes[k]..],
            };
            let out = &mut rest[..b * sizes[k + 1]];
            let (w, bias) = layer(self.params, sizes, k);
            matmul_forward(out, inp, w, bias, b);
            activation_forward(out, self.net.activations[k]);
            start += b * sizes[k + 1];
        }
        let logits = start - b * classes;
        let stats = softmax_crossentropy_forward(&mut outputs[logits..start], labels);

        // Backward, the forward pass in reverse, down to the lowest layer that learns.
        let learned = learned(sizes, self.learn);
        let grads = &mut self.state[..learned];
        crossentropy_softmax_backward(&mut delta[..b * classes], &outputs[logits..start], labels);
        let mut end = logits; // where layer k's input (layer k − 1's output) ends
        let mut grad_end = learned;
        for k in (self.learn.lowest(depth)..depth).rev() {
            let dout = &delta[..b * sizes[k + 1]];
            let inp = match k {
                0 => x,
                _ => &outputs[end - b * sizes[k]..end],
            };
            // This layer's gradients sit at the end of what is left: layout order.
            if self.learn.bias(k, depth) {
                grad_end -= sizes[k + 1];
                bias_backward(&mut grads[grad_end..grad_end + sizes[k + 1]], dout, b);
            }
            if self.learn.weights(k, depth) {
                let n = sizes[k] * sizes[k + 1];
                grad_end -= n;
                weight_backward(&mut grads[grad_end..grad_end + n], dout, inp, b);
            }
            if k > self.learn.lowest(depth) {
                let (w, _) = layer(self.params, sizes, k);
                let da = &mut below[..b * sizes[k]];
                input_backward(da, dout, w, b);
                activation_backward(da, inp, self.net.activations[k - 1]);
                core::mem::swap(&mut delta, &mut below);
                end -= b * sizes[k];
            }
        }

        self.steps = self.steps.saturating_add(1);
        self.update();
        Ok(stats)
    }

    /// The optimiser's move of every learned parameter, from the gradients in `state`.
    fn update(&mut self) {
        let (sizes, depth) = (self.net.sizes, self.net.depth());
        let learned = learned(sizes, self.learn);
        let (grads, moments) = self.state.split_at_mut(learned);
        let (m, v) = moments.split_at_mut(learned);
        let adam = match self.optimizer {
            Optimizer::Adam(config) => Ok(AdamStep::new(config, self.steps)),
            Optimizer::Sgd { lr } => Err(lr),
        };
        let mut p_at = 0;
        let mut g_at = 0;
        for k in 0..depth {
            let parts = [
                (self.learn.weights(k, depth), sizes[k] * sizes[k + 1]),
                (self.learn.bias(k, depth), sizes[k + 1]),
            ];
            for (learns, len) in parts {
                if learns {
                    let (p, g) = (&mut self.params[p_at..p_at + len], &grads[g_at..g_at + len]);
                    match adam {
                        Ok(step) => {
                            step.update(p, &mut m[g_at..g_at + len], &mut v[g_at..g_at + len], g)
                        }
                        Err(lr) => optim::sgd_update(lr, p, g),
                    }
                    g_at += len;
                }
                p_at += len;
            }
        }
    }
}

/// Layer `k`'s `(weights, bias)` in the flat parameters of `sizes`.
fn layer<'p>(params: &'p [f32], sizes: &[usize], k: usize) -> (&'p [f32], &'p [f32]) {
    let start = parameters(&sizes[..=k]);
    let n = sizes[k] * sizes[k + 1];
    let (w, rest) = params[start..].split_at(n);
    (w, &rest[..sizes[k + 1]])
}

#[cfg(test)]
mod tests;
