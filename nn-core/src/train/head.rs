//! Learning on a board that keeps an int8 model in flash: only the last layer (the
//! **head**) learns, in f32, in RAM, over the int8 model's frozen body.
//!
//! 1. **Features**: the int8 model run up to its last hidden layer ([`Split::features`]):
//!    that layer's int8 output, kept per example as it is (one byte per feature) and
//!    dequantised, `f = scale · (q − zero_point)`, when a step loads it ([`Features`]).
//! 2. **Head init** ([`Split::init_head`]): the int8 last layer dequantised,
//!    `w[o][i] = weight_scale[o] · q[o][i]`, `b[o] = bias[o] · in_scale · weight_scale[o]`,
//!    in `train`'s layout `[W (outputs, inputs) | b]`.
//! 3. **Learning**: `train::Learner` on `Net { sizes: [features, outputs], activations:
//!    [Identity] }` over [`Features`], with `train::fit`: the host, the wasm module and the
//!    board run this same code, so the learned head is byte-identical on each.
//! 4. **Serving** ([`predict`]): features → f32 head → softmax, with the scalar kernels,
//!    whose sums run in one order on every target.

use super::{Examples, FitScratch, FitStats, Learn, Learner, Net, Optimizer, Plan};
use crate::error::Error;
use crate::kernels::scalar;
use crate::network::{LayerI8, Layers, Model, ModelI8};
use crate::{Activation, TensorQuant};

/// An int8 model cut before its last layer: the frozen body that makes features, and the
/// last layer the head starts from.
#[derive(Clone, Copy, Debug)]
pub struct Split<'a> {
    /// Every layer but the last, without a softmax: its output is the features.
    body: ModelI8<'a>,
    /// The last layer, whose f32 twin learns.
    last: LayerI8<'a>,
}

impl<'a> Split<'a> {
    /// Cuts `model`, which must be checked, at least two layers deep, and end in a layer
    /// without activation (a softmax after it or not: the head always adds one).
    ///
    /// # Errors
    /// [`Error::BadDepth`] for a single layer; [`Error::BadActivation`] when the last layer
    /// has an activation; what `Model::check` finds.
    pub fn new(model: &ModelI8<'a>) -> Result<Self, Error> {
        Model::I8(*model).check()?;
        let depth = model.layers.len();
        let last = match model.layers.last() {
            Some(last) if depth >= 2 => *last,
            _ => return Err(Error::BadDepth { depth }),
        };
        if last.activation != Activation::Identity {
            return Err(Error::BadActivation {
                layer: depth - 1,
                found: last.activation,
            });
        }
        let mut layers = Layers::new();
        for l in model.layers.iter().take(depth - 1) {
            layers.push(*l)?;
        }
        let body = ModelI8 {
            layers,
            softmax: None,
            ..*model
        };
        Ok(Self { body, last })
    }

    /// Features per example: the last hidden layer's width, the head's inputs.
    pub fn features_len(&self) -> usize {
        self.last.inputs
    }

    /// The head's outputs (classes).
    pub fn outputs(&self) -> usize {
        self.last.outputs
    }

    /// The model's inputs.
    pub fn inputs(&self) -> usize {
        Model::I8(self.body).inputs()
    }

    /// The f32 words of scratch [`Split::features`] needs (the body's `scratch_len`).
    pub fn scratch_len(&self) -> usize {
        Model::I8(self.body).scratch_len()
    }

    /// What a feature's int8 value stands for: the last hidden layer's activated output.
    pub fn feature_quant(&self) -> TensorQuant {
        self.body
            .layers
            .last()
            .map_or(TensorQuant::PROBABILITY, LayerI8::activated)
    }

    /// One example's features, `q` (`(features_len)`), from its input: 0–255 pixels or
    /// int8 already quantised (`(inputs)` either way), exactly as the int8 model computes
    /// its last hidden layer. `scratch` is at least [`Split::scratch_len`] words.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] for a wrong length of input, scratch or `q`.
    pub fn features(
        &self,
        input: Input<'_>,
        scratch: &mut [f32],
        q: &mut [i8],
    ) -> Result<(), Error> {
        let body = Model::I8(self.body);
        match input {
            Input::Pixels(pixels) => body.predict_pixels_i8(pixels, scratch, q),
            Input::I8(x) => body.predict_i8(x, scratch, q),
        }
    }

    /// Writes the head's starting parameters into `params`, `(outputs · (features + 1))`
    /// in `train`'s layout `[W (outputs, features) | b]`: the int8 last layer dequantised.
    /// The bias is `bias · in_scale · weight_scale`, multiplied in that order, in f32.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `params` has another length.
    pub fn init_head(&self, params: &mut [f32]) -> Result<(), Error> {
        let l = &self.last;
        let expected = l.outputs * (l.inputs + 1);
        if params.len() != expected {
            return Err(Error::LengthMismatch {
                tensor: None,
                expected,
                found: params.len(),
            });
        }
        let (w, b) = params.split_at_mut(l.outputs * l.inputs);
        for ((row, q_row), &scale) in w
            .chunks_exact_mut(l.inputs)
            .zip(l.weights.chunks_exact(l.inputs))
            .zip(l.weight_scales)
        {
            for (w, &q) in row.iter_mut().zip(q_row) {
                *w = scale * f32::from(q);
            }
        }
        let in_scale = self.feature_quant().scale;
        for ((b, &bias), &scale) in b.iter_mut().zip(l.bias).zip(l.weight_scales) {
            *b = bias as f32 * in_scale * scale;
        }
        Ok(())
    }
}

/// An input [`Split::features`] takes.
#[derive(Clone, Copy, Debug)]
pub enum Input<'x> {
    /// 0–255 pixels: `q = pixel − 128`, as the int8 model takes them.
    Pixels(&'x [u8]),
    /// Already quantised with the model's input quantisation.
    I8(&'x [i8]),
}

/// Stored examples for `train::fit`: each one's int8 features (`(len, inputs)` row-major)
/// and label, dequantised with `quant` as a step loads them.
#[derive(Clone, Copy, Debug)]
pub struct Features<'a> {
    /// `(len, inputs)`: the examples' int8 features.
    pub q: &'a [i8],
    /// `(len)`: the examples' classes.
    pub labels: &'a [u8],
    /// Features per example.
    pub inputs: usize,
    /// What a feature's int8 value stands for ([`Split::feature_quant`]).
    pub quant: TensorQuant,
}

impl Examples for Features<'_> {
    fn len(&self) -> usize {
        self.labels.len().min(self.q.len() / self.inputs.max(1))
    }

    fn inputs(&self) -> usize {
        self.inputs
    }

    fn load(&self, i: usize, x: &mut [f32]) -> u8 {
        let row = self
            .q
            .chunks_exact(self.inputs.max(1))
            .nth(i)
            .unwrap_or_default();
        for (x, &q) in x.iter_mut().zip(row) {
            *x = self.quant.dequantize(q);
        }
        self.labels.get(i).copied().unwrap_or_default()
    }
}

/// The buffers [`fit_head`] learns in, every one borrowed from the caller (a board's
/// statics, a host's vectors), each as long as its comment says for the plan's
/// `per_step = batch + replay`.
#[derive(Debug)]
pub struct HeadBuffers<'b> {
    /// `train::parameters([features, outputs])`: the head, learned in place.
    pub params: &'b mut [f32],
    /// `train::state_len([features, outputs], Learn::All)`.
    pub state: &'b mut [f32],
    /// `train::work_len([features, outputs], per_step)`.
    pub work: &'b mut [f32],
    /// `per_step × features`.
    pub x: &'b mut [f32],
    /// `(per_step)`.
    pub labels: &'b mut [u8],
    /// `(data.len())`.
    pub order: &'b mut [u32],
    /// `(replay.len())`.
    pub replay_order: &'b mut [u32],
}

/// Learns a head, the one sequence the host, the wasm module and the board all run: the
/// head from the shipped last layer ([`Split::init_head`]), a fresh learner (its state
/// zeroed), then `train::fit` with `plan` over `data` (and `replay` beside it), all of it in place
/// in `buffers`. `buffers.params` holds the learned head afterwards.
///
/// # Errors
/// The learner's and the loop's: [`Error::TrainBuffer`] for a buffer of the wrong length
/// (the head's included), [`Error::BatchSize`], a label out of range.
pub fn fit_head<D: Examples, R: Examples>(
    split: &Split<'_>,
    optimizer: Optimizer,
    plan: Plan,
    data: &D,
    replay: &R,
    buffers: HeadBuffers<'_>,
) -> Result<FitStats, Error> {
    let sizes = [split.features_len(), split.outputs()];
    let HeadBuffers {
        params,
        state,
        work,
        x,
        labels,
        order,
        replay_order,
    } = buffers;
    // The only failure is a wrong length, which the learner reports with its name.
    let _ = split.init_head(params);
    let net = Net {
        sizes: &sizes,
        activations: &[Activation::Identity],
    };
    let per_step = plan.step_examples();
    let mut learner = Learner::new(net, Learn::All, optimizer, params, state, work, per_step)?;
    let scratch = FitScratch {
        x,
        labels,
        order,
        replay_order,
    };
    super::fit(&mut learner, data, replay, plan, scratch)
}

/// Serves with a learned head: `probabilities` (`(outputs)`) ← softmax(W f + b) for the
/// dequantised features of `q`; returns the class, the first largest logit. `params` is
/// `[W (outputs, features) | b]`, `features` holds `q.len()` f32 words of scratch.
///
/// # Errors
/// [`Error::LengthMismatch`] when `params` is not `outputs · (features + 1)` long.
pub fn predict(
    params: &[f32],
    q: &[i8],
    quant: TensorQuant,
    features: &mut [f32],
    probabilities: &mut [f32],
) -> Result<usize, Error> {
    let (n, outputs) = (q.len(), probabilities.len());
    let expected = outputs * (n + 1);
    if params.len() != expected || features.len() != n {
        return Err(Error::LengthMismatch {
            tensor: None,
            expected,
            found: params.len(),
        });
    }
    for (f, &q) in features.iter_mut().zip(q) {
        *f = quant.dequantize(q);
    }
    let (w, b) = params.split_at(outputs * n);
    scalar::gemv_bias(w, features, b, probabilities);
    let class = scalar::argmax(probabilities);
    scalar::softmax(probabilities);
    Ok(class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::Requant;

    /// 2 inputs → 2 ReLU units (requant ½) → 3 logits: small enough to work out by hand.
    fn model<'a>(hidden: &'a [LayerI8<'a>; 1], last: LayerI8<'a>) -> ModelI8<'a> {
        ModelI8 {
            layers: Layers::from_array([hidden[0], last]),
            input: TensorQuant {
                scale: 0.5,
                zero_point: 0,
            },
            softmax: None,
            scaling: crate::InputScaling::UNIT,
            packed: &[],
        }
    }

    const HALF: Requant = Requant {
        multiplier: 1 << 30,
        shift: 0,
    };

    fn hidden() -> [LayerI8<'static>; 1] {
        [LayerI8 {
            weights: &[2, 0, 0, -2],
            bias: &[4, 0],
            requant: &[HALF, HALF],
            weight_scales: &[0.25, 0.25],
            inputs: 2,
            outputs: 2,
            output: TensorQuant {
                scale: 0.25,
                zero_point: -10,
            },
            activation: Activation::Relu,
            table: &[],
        }]
    }

    fn last(activation: Activation) -> LayerI8<'static> {
        LayerI8 {
            weights: &[1, -1, 3, 0, -127, 127],
            bias: &[100, -7, 0],
            requant: &[HALF, HALF, HALF],
            weight_scales: &[0.5, 0.125, 2.0],
            inputs: 2,
            outputs: 3,
            output: TensorQuant {
                scale: 1.0,
                zero_point: 0,
            },
            activation,
            table: &[],
        }
    }

    #[test]
    fn features_are_the_last_hidden_layer() {
        let h = hidden();
        let split = Split::new(&model(&h, last(Activation::Identity))).unwrap();
        assert_eq!(
            (split.features_len(), split.outputs(), split.inputs()),
            (2, 3, 2)
        );
        let mut scratch = [0.0f32; 8];
        let mut q = [0i8; 2];
        // acc = 4 + 2·(10 − 0) = 24 → ½ → 12, − 10 = 2; acc = −2·6 = −12 → −6 − 10 = −16,
        // then ReLU clamps at the zero point, −10.
        split
            .features(Input::I8(&[10, 6]), &mut scratch, &mut q)
            .unwrap();
        assert_eq!(q, [2, -10]);
        // Pixels enter as pixel − 128.
        split
            .features(Input::Pixels(&[138, 134]), &mut scratch, &mut q)
            .unwrap();
        assert_eq!(q, [2, -10]);
        assert!(
            split
                .features(Input::I8(&[1, 2, 3]), &mut scratch, &mut q)
                .is_err()
        );
    }

    #[test]
    fn the_head_starts_as_the_dequantised_last_layer() {
        let h = hidden();
        let split = Split::new(&model(&h, last(Activation::Identity))).unwrap();
        let mut params = [f32::NAN; 9];
        split.init_head(&mut params).unwrap();
        // w = scale · q; b = bias · 0.25 (the features' scale) · scale.
        assert_eq!(
            params,
            [0.5, -0.5, 0.375, 0.0, -254.0, 254.0, 12.5, -0.21875, 0.0]
        );
        assert!(split.init_head(&mut [0.0; 8]).is_err());
    }

    #[test]
    fn only_a_deep_model_ending_in_logits_splits() {
        let h = hidden();
        assert!(matches!(
            Split::new(&model(&h, last(Activation::Relu))),
            Err(Error::BadActivation { layer: 1, .. })
        ));
        let one = ModelI8 {
            layers: Layers::from_array([last(Activation::Identity)]),
            ..model(&h, last(Activation::Identity))
        };
        assert!(matches!(
            Split::new(&one),
            Err(Error::BadDepth { depth: 1 })
        ));
    }

    #[test]
    fn stored_features_load_dequantised() {
        let quant = TensorQuant {
            scale: 0.25,
            zero_point: -10,
        };
        let stored = Features {
            q: &[2, -10, -128, 127],
            labels: &[1, 2],
            inputs: 2,
            quant,
        };
        assert_eq!((stored.len(), stored.inputs()), (2, 2));
        let mut x = [0.0; 2];
        assert_eq!(stored.load(0, &mut x), 1);
        assert_eq!(x, [3.0, 0.0]);
        assert_eq!(stored.load(1, &mut x), 2);
        assert_eq!(x, [-29.5, 34.25]);
    }

    #[test]
    fn serving_is_softmax_of_the_head() {
        let quant = TensorQuant {
            scale: 0.5,
            zero_point: 0,
        };
        // Features (1, 2); logits 1·1 + 0·2 + 0 = 1, 0 + 1·2 − 1 = 1, 0 + 0 + 3 = 3.
        let params = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0, 3.0];
        let (mut f, mut p) = ([0.0; 2], [0.0; 3]);
        let class = predict(&params, &[2, 4], quant, &mut f, &mut p).unwrap();
        assert_eq!(class, 2);
        let e = libm::expf(-2.0);
        let sum = (2.0 * f64::from(e) + 1.0) as f32;
        assert_eq!(p, [e / sum, e / sum, 1.0 / sum]);
        assert!(predict(&params[..8], &[2, 4], quant, &mut f, &mut p).is_err());
    }

    #[test]
    fn fit_head_starts_from_the_shipped_head_and_learns_the_examples() {
        let h = hidden();
        let split = Split::new(&model(&h, last(Activation::Identity))).unwrap();
        let quant = split.feature_quant();
        // Two features each, classes 0, 1, 2 by which feature is large.
        let q = [30i8, -10, -10, 30, 30, 30, 20, -10];
        let labels = [0u8, 1, 2, 0];
        let data = Features {
            q: &q,
            labels: &labels,
            inputs: 2,
            quant,
        };
        let plan = Plan {
            epochs: 200,
            batch: 2,
            replay: 0,
            seed: 3,
        };
        const SIZES: [usize; 2] = [2, 3];
        let mut params = [0.0f32; 9];
        let mut state = [0.0f32; super::super::state_len(&SIZES, Learn::All)];
        let mut work = [0.0f32; super::super::work_len(&SIZES, 2)];
        let (mut x, mut batch_labels, mut order) = ([0.0f32; 4], [0u8; 2], [0u32; 4]);
        let buffers = HeadBuffers {
            params: &mut params,
            state: &mut state,
            work: &mut work,
            x: &mut x,
            labels: &mut batch_labels,
            order: &mut order,
            replay_order: &mut [],
        };
        let adam = Optimizer::Adam(super::super::AdamConfig {
            lr: 2.0,
            ..Default::default()
        });
        let stats = fit_head(
            &split,
            adam,
            plan,
            &data,
            &super::super::NoExamples,
            buffers,
        )
        .unwrap();
        assert_eq!(stats.steps, 400);
        assert_eq!(stats.last_epoch.correct, 4);
        let mut shipped = [0.0f32; 9];
        split.init_head(&mut shipped).unwrap();
        assert_ne!(params, shipped);
        let (mut f, mut p) = ([0.0; 2], [0.0; 3]);
        for (row, &label) in q.chunks_exact(2).zip(&labels) {
            let class = predict(&params, row, quant, &mut f, &mut p).unwrap();
            assert_eq!(class, usize::from(label));
        }
    }
}
