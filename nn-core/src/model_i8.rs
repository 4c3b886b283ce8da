//! The two-layer perceptron in TensorFlow Lite's int8 scheme, borrowed from a version-2 model
//! file ([`MlpI8`], sizes known at run time; [`MlpI8Ref`], sizes in the type, for firmware).
//!
//! The scheme, TFLite's int8 specification:
//! - an int8 value `q` of a tensor with quantisation `(scale, zero_point)` stands for
//!   `scale * (q - zero_point)` ([`TensorQuant`]);
//! - weights are symmetric int8 in `[-127, 127]` with one scale per output neuron and zero
//!   point 0; biases are int32 with scale `input scale × weight scale`;
//! - each layer is TFLite's FULLY_CONNECTED (`kernels::dense_i8`): an int32 sum requantised
//!   by the channel's [`Requant`] pair (TFLite's `MultiplyByQuantizedMultiplier`), plus the
//!   output zero point, clamped;
//! - the input is `q = pixel - 128`; the file's input quantisation says what real input that
//!   is (the quantiser writes `scale = scaling.scale`, `zero_point = -128` and folds the
//!   scaling's offset into the first bias, so `x = pixel * scale + offset` exactly);
//! - a ReLU hidden layer is the clamp `[hidden.zero_point, 127]`; a sigmoid is TFLite's int8
//!   LOGISTIC, output scale 1/256 and zero point -128, as a 256-entry table stored in the file
//!   (entry `q + 128` is the output for the int8 pre-activation `q`);
//! - the output is TFLite's int8 SOFTMAX (`kernels::softmax_i8`), scale 1/256 and zero point
//!   -128: probability `k` is `(q_k + 128) / 256`, bit for bit the same on the host and the board.
//!
//! The class is the first largest int8 logit: softmax is monotonic, so it is also a largest
//! probability, and the logits break the ties the 1/256 probabilities would make.
//!
//! Inference is the network's at depth 2 ([`crate::network::ModelI8`], see
//! [`MlpI8::network`]); the types here check their lengths as they always did, and add the
//! class, read from the logits the network leaves in their scratch.

use crate::activation::Activation;
use crate::error::Error;
use crate::kernels;
use crate::network::int8::{argmax_i8, pixels_to_i8};
use crate::network::{LayerI8, Layers, ModelI8};
use crate::quant::{Requant, SoftmaxI8Params};
use crate::shape::{Shape, check_lengths};
use crate::types::InputScaling;
use crate::types::Tensor;
pub use crate::types::TensorQuant;
pub use crate::types::{MAX_OUTPUTS, SIGMOID_TABLE_LEN};

/// One int8 fully connected layer, borrowed: `rows` outputs of `cols` inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DenseI8<'a> {
    /// `(rows, cols)` row-major, in `[-127, 127]`.
    pub weights: &'a [i8],
    /// `(rows)`, scale `input scale × weight_scales[r]`, zero point 0.
    pub bias: &'a [i32],
    /// `(rows)`: `input scale × weight_scales[r] / output scale` as TFLite stores it.
    pub requant: &'a [Requant],
    /// `(rows)`: the real value of one weight step in row `r`. Inference does not read them;
    /// they say what the weights mean (and let a tool dequantise them).
    pub weight_scales: &'a [f32],
}

/// An int8 two-layer perceptron with its sizes known at run time (a host loading any model
/// file), borrowing every array; see the module docs for the arithmetic.
#[derive(Clone, Copy, Debug)]
pub struct MlpI8<'a> {
    /// Inputs.
    pub input: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Outputs.
    pub output: usize,
    /// `Relu`, `Sigmoid` or `Identity`.
    pub hidden_activation: Activation,
    /// The f32 model's pixel scaling, kept for the record; the int8 input is `pixel - 128`.
    pub scaling: InputScaling,
    /// What the int8 input stands for.
    pub input_quant: TensorQuant,
    /// The first layer's output.
    pub hidden_quant: TensorQuant,
    /// The second layer's output (softmax's input).
    pub logits_quant: TensorQuant,
    /// Softmax's parameters, precomputed from `logits_quant.scale` so no float runs per call.
    pub softmax: SoftmaxI8Params,
    /// Input to hidden.
    pub layer1: DenseI8<'a>,
    /// Hidden to output.
    pub layer2: DenseI8<'a>,
    /// For a sigmoid hidden layer, [`SIGMOID_TABLE_LEN`] entries; empty otherwise.
    pub sigmoid_table: &'a [i8],
}

impl<'a> MlpI8<'a> {
    /// The sizes.
    pub fn shape(&self) -> Shape {
        Shape {
            input: self.input,
            hidden: self.hidden,
            output: self.output,
        }
    }

    /// What the second layer's int8 input stands for: a sigmoid's fixed output quantisation,
    /// otherwise the first layer's output.
    pub fn activated_quant(&self) -> TensorQuant {
        match self.hidden_activation {
            Activation::Sigmoid => TensorQuant::PROBABILITY,
            _ => self.hidden_quant,
        }
    }

    /// The same model as a depth-2 network, borrowing the same arrays: what inference runs.
    pub fn network(&self) -> ModelI8<'a> {
        let (l1, l2) = (&self.layer1, &self.layer2);
        ModelI8 {
            layers: Layers::from_array([
                LayerI8 {
                    weights: l1.weights,
                    bias: l1.bias,
                    requant: l1.requant,
                    weight_scales: l1.weight_scales,
                    inputs: self.input,
                    outputs: self.hidden,
                    output: self.hidden_quant,
                    activation: self.hidden_activation,
                    table: self.sigmoid_table,
                },
                LayerI8 {
                    weights: l2.weights,
                    bias: l2.bias,
                    requant: l2.requant,
                    weight_scales: l2.weight_scales,
                    inputs: self.hidden,
                    outputs: self.output,
                    output: self.logits_quant,
                    activation: Activation::Identity,
                    table: &[],
                },
            ]),
            input: self.input_quant,
            softmax: Some(self.softmax),
            scaling: self.scaling,
            packed: &[],
        }
    }

    /// The `i32` words [`MlpI8::pack`] fills: [`ModelI8::packed_len`] of [`MlpI8::network`].
    pub fn packed_len(&self) -> usize {
        self.network().packed_len()
    }

    /// Packs both layers into `buf` ([`MlpI8::packed_len`] words) for [`MlpI8Packed`], once,
    /// when the model is loaded.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if an array or `buf` has the wrong length,
    /// [`Error::TooLarge`] if the sizes overflow.
    pub fn pack(&self, buf: &mut [i32]) -> Result<(), Error> {
        self.check_lengths(&[(self.packed_len(), buf.len())])?;
        self.network().pack(buf)
    }

    /// Every slice's length against the sizes, so the kernels (which panic on a mismatch)
    /// never see a wrong one.
    fn check_lengths(&self, args: &[(usize, usize)]) -> Result<(), Error> {
        if self.output > MAX_OUTPUTS {
            return Err(Error::TooLarge);
        }
        let w1 = self.hidden.checked_mul(self.input).ok_or(Error::TooLarge)?;
        let w2 = self
            .output
            .checked_mul(self.hidden)
            .ok_or(Error::TooLarge)?;
        let table = match self.hidden_activation {
            Activation::Sigmoid => SIGMOID_TABLE_LEN,
            _ => 0,
        };
        let own = [
            (Some(Tensor::W1), w1, self.layer1.weights.len()),
            (Some(Tensor::B1), self.hidden, self.layer1.bias.len()),
            (None, self.hidden, self.layer1.requant.len()),
            (Some(Tensor::W2), w2, self.layer2.weights.len()),
            (Some(Tensor::B2), self.output, self.layer2.bias.len()),
            (None, self.output, self.layer2.requant.len()),
            (None, table, self.sigmoid_table.len()),
        ];
        let args = args
            .iter()
            .map(|&(expected, found)| (None, expected, found));
        check_lengths(own.into_iter().chain(args))
    }

    /// Classifies 0–255 pixels: writes the int8 softmax output to `out_q` (probability `k` is
    /// `(out_q[k] + 128) / 256`) and returns the class (the first largest logit). `pixels` is
    /// `(input)`, `scratch` is `(input + hidden + output)` and may hold anything, `out_q` is
    /// `(output)`. The values are trusted as [`crate::format::ModelFile::parse`] or
    /// [`MlpI8::check`] left them; only the lengths are checked here.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if an array or an argument has the wrong length,
    /// [`Error::TooLarge`] if the sizes overflow.
    pub fn predict_pixels_into(
        &self,
        pixels: &[u8],
        scratch: &mut [i8],
        out_q: &mut [i8],
    ) -> Result<usize, Error> {
        self.predict_with(&self.network(), pixels, scratch, out_q)
    }

    /// [`MlpI8::predict_pixels_into`] through `net`, this model as a network (its layers
    /// packed or not).
    fn predict_with(
        &self,
        net: &ModelI8<'_>,
        pixels: &[u8],
        scratch: &mut [i8],
        out_q: &mut [i8],
    ) -> Result<usize, Error> {
        let scratch_len = self
            .input
            .checked_add(self.hidden)
            .and_then(|n| n.checked_add(self.output))
            .ok_or(Error::TooLarge)?;
        self.check_lengths(&[
            (self.input, pixels.len()),
            (scratch_len, scratch.len()),
            (self.output, out_q.len()),
        ])?;
        let (x, rest) = scratch.split_at_mut(self.input);
        let (hidden, logits) = rest.split_at_mut(self.hidden);
        Ok(forward(net, self.softmax, pixels, x, hidden, logits, out_q))
    }
}

/// `out ← softmax(dense2(act(dense1(pixel - 128))))` through the network's code,
/// returning the first largest logit. The caller guarantees every length ([`MlpI8Ref`] by
/// construction, [`MlpI8`] by checking).
fn forward(
    net: &ModelI8<'_>,
    softmax: SoftmaxI8Params,
    pixels: &[u8],
    x: &mut [i8],
    hidden: &mut [i8],
    logits: &mut [i8],
    out: &mut [i8],
) -> usize {
    pixels_to_i8(pixels, x);
    // Layer 1 writes `hidden`, layer 2 `logits`.
    let (logits, _) = net.forward(Some(x), logits, hidden);
    kernels::softmax_i8(logits, softmax, out);
    argmax_i8(logits)
}

/// An [`MlpI8`] with both layers packed once, at load, for the host's fastest kernel
/// ([`kernels::dense_i8_packed`]; the buffer is the caller's, filled by [`MlpI8::pack`]).
/// Its outputs are [`MlpI8::predict_pixels_into`]'s, bit for bit.
#[derive(Clone, Copy, Debug)]
pub struct MlpI8Packed<'a> {
    model: MlpI8<'a>,
    /// `model` as a network, with the packed layers.
    net: ModelI8<'a>,
}

impl<'a> MlpI8Packed<'a> {
    /// `model` with the packed layers in `buf`, which [`MlpI8::pack`] filled from the same
    /// model (a buffer filled otherwise gives other outputs, but nothing worse).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if an array or `buf` has the wrong length,
    /// [`Error::TooLarge`] if the sizes overflow.
    pub fn new(model: MlpI8<'a>, buf: &'a [i32]) -> Result<Self, Error> {
        model.check_lengths(&[(model.packed_len(), buf.len())])?;
        let net = ModelI8 {
            packed: buf,
            ..model.network()
        };
        Ok(Self { model, net })
    }

    /// The model it packs.
    pub fn model(&self) -> &MlpI8<'a> {
        &self.model
    }

    /// [`MlpI8::predict_pixels_into`], through the packed layers.
    ///
    /// # Errors
    /// As [`MlpI8::predict_pixels_into`].
    pub fn predict_pixels_into(
        &self,
        pixels: &[u8],
        scratch: &mut [i8],
        out_q: &mut [i8],
    ) -> Result<usize, Error> {
        self.model.predict_with(&self.net, pixels, scratch, out_q)
    }
}

/// The answer of an int8 classifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PredictionI8<const OUT: usize> {
    /// The first largest logit.
    pub class: usize,
    /// The int8 softmax output: probability `k` is `(q + 128) / 256`.
    pub probabilities: [i8; OUT],
}

impl<const OUT: usize> PredictionI8<OUT> {
    /// Probability of class `k` as a real number, `(q + 128) / 256`; 0 past the end.
    pub fn probability(&self, k: usize) -> f32 {
        self.probabilities
            .get(k)
            .map_or(0.0, |&q| TensorQuant::PROBABILITY.dequantize(q))
    }
}

/// An int8 model whose sizes are in the type (firmware): every length was checked once, when
/// it was made, so [`MlpI8Ref::predict_pixels`] cannot fail.
#[derive(Clone, Copy, Debug)]
pub struct MlpI8Ref<'a, const IN: usize, const H: usize, const OUT: usize> {
    model: MlpI8<'a>,
    /// `model` as a network, made once.
    net: ModelI8<'a>,
}

impl<'a, const IN: usize, const H: usize, const OUT: usize> MlpI8Ref<'a, IN, H, OUT> {
    /// `model`, if its sizes are `IN-H-OUT` and its arrays have their lengths.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], or [`Error::LengthMismatch`] for an array of the wrong length.
    pub fn new(model: MlpI8<'a>) -> Result<Self, Error> {
        let found = [model.input, model.hidden, model.output];
        if found != [IN, H, OUT] {
            return Err(Error::ShapeMismatch {
                expected: [IN, H, OUT],
                found,
            });
        }
        model.check_lengths(&[])?;
        Ok(Self {
            model,
            net: model.network(),
        })
    }

    /// The size-erased model it wraps.
    pub fn model(&self) -> &MlpI8<'a> {
        &self.model
    }

    /// Classifies 0–255 pixels; see [`MlpI8::predict_pixels_into`].
    ///
    /// Stack: `IN + H + 2 * OUT` bytes of scratch plus a few hundred of frames.
    pub fn predict_pixels(&self, pixels: &[u8; IN]) -> PredictionI8<OUT> {
        let mut x = [0i8; IN];
        let mut hidden = [0i8; H];
        let mut logits = [0i8; OUT];
        let mut probabilities = [0i8; OUT];
        let class = forward(
            &self.net,
            self.model.softmax,
            pixels,
            &mut x,
            &mut hidden,
            &mut logits,
            &mut probabilities,
        );
        PredictionI8 {
            class,
            probabilities,
        }
    }
}
