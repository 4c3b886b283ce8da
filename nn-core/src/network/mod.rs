//! A network is a list of dense layers: any depth from 1 to [`MAX_LAYERS`], any sizes, each
//! layer with its activation, the last optionally followed by a softmax; f32 or int8 in
//! TensorFlow Lite's scheme. Everything is borrowed (from a model file's bytes, from flash,
//! from a host's vectors), so a [`Model`] is a few hundred bytes of slices whatever its size.
//!
//! One front for every user: the host, the wasm module and the firmware all hold a
//! [`Model`] and call [`Model::predict`] (f32 in), [`Model::predict_pixels`] (0–255 pixels in)
//! or [`Model::predict_i8`] (already quantised int8 in, int8 models only). Inference needs
//! two activation buffers of the widest layer, [`Model::scratch_len`] f32 words, handed in
//! by the caller: a board sizes them at build time, a host allocates them.
//!
//! ```
//! use nn_core::network::{LayerF32, Layers, Model, ModelF32};
//! use nn_core::{Activation, InputScaling};
//!
//! // 2 inputs → 2 ReLU units → 2 classes with a softmax: the brighter pixel wins.
//! let hidden = LayerF32 {
//!     weights: &[1.0, 0.0, 0.0, 1.0], bias: &[0.0, 0.0], inputs: 2, outputs: 2,
//!     activation: Activation::Relu,
//! };
//! let output = LayerF32 {
//!     weights: &[1.0, -1.0, -1.0, 1.0], bias: &[0.0, 0.0], inputs: 2, outputs: 2,
//!     activation: Activation::Identity,
//! };
//! let model = Model::F32(ModelF32 {
//!     layers: Layers::from_array([hidden, output]),
//!     softmax: true,
//!     scaling: InputScaling::UNIT,
//! });
//! let mut scratch = [0.0f32; 4]; // model.scratch_len()
//! let mut p = [0.0f32; 2];
//! assert_eq!(model.classify_pixels(&[0, 255], &mut scratch, &mut p)?, 1);
//! let p1 = 1.0 / (1.0 + (-2.0f32).exp()); // softmax(−1, 1)₁
//! assert!((p[1] - p1).abs() < 1e-6);
//! # Ok::<(), nn_core::Error>(())
//! ```
//!
//! The 784-H-10 models of format versions 1 and 2 are this code at depth 2: `Mlp*` and
//! `MlpI8*` run through it.
//!
//! This file holds the types, the checks and the front; the layer loops are in `float.rs`
//! (f32) and `int8.rs` (TFLite's int8 scheme).

mod float;
pub(crate) mod int8;

use crate::activation::Activation;
use crate::error::Error;
use crate::quant::{Requant, SoftmaxI8Params};
pub use crate::types::{ElementType, LayerTensor};
use crate::types::{InputScaling, TensorQuant};

pub use crate::types::MAX_LAYERS;

/// Up to [`MAX_LAYERS`] layers inline: no allocator, and `Copy`, so a model can be built in
/// a `const` or on the stack.
#[derive(Clone, Copy, Debug)]
pub struct Layers<L: Copy> {
    items: [Option<L>; MAX_LAYERS],
    len: usize,
}

impl<L: Copy> Layers<L> {
    /// No layers.
    pub const fn new() -> Self {
        Self {
            items: [None; MAX_LAYERS],
            len: 0,
        }
    }

    /// `layers`, input first. More than [`MAX_LAYERS`] does not compile.
    pub const fn from_array<const N: usize>(layers: [L; N]) -> Self {
        const { assert!(N <= MAX_LAYERS, "more layers than MAX_LAYERS") };
        let mut items = [None; MAX_LAYERS];
        let mut i = 0;
        while i < N {
            items[i] = Some(layers[i]);
            i += 1;
        }
        Self { items, len: N }
    }

    /// Appends `layer`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when [`MAX_LAYERS`] are already there.
    pub fn push(&mut self, layer: L) -> Result<(), Error> {
        let slot = self.items.get_mut(self.len).ok_or(Error::TooLarge)?;
        *slot = Some(layer);
        self.len += 1;
        Ok(())
    }

    /// The number of layers.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The layers in order, input first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &L> + '_ {
        self.items[..self.len].iter().flatten()
    }

    /// Layer `i`, input first.
    pub fn get(&self, i: usize) -> Option<&L> {
        self.items[..self.len].get(i)?.as_ref()
    }

    /// The last layer.
    pub fn last(&self) -> Option<&L> {
        self.get(self.len.checked_sub(1)?)
    }
}

impl<L: Copy> Default for Layers<L> {
    fn default() -> Self {
        Self::new()
    }
}

/// One f32 dense layer, borrowed: `y = activation(W x + b)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerF32<'a> {
    /// `(outputs, inputs)` row-major: row `o` holds the weights into output `o`.
    pub weights: &'a [f32],
    /// `(outputs)`.
    pub bias: &'a [f32],
    /// Inputs (columns of `weights`).
    pub inputs: usize,
    /// Outputs (rows of `weights`).
    pub outputs: usize,
    /// `Identity`, `Relu`, `Relu6`, `Sigmoid` or `Tanh` (never `Softmax`: see
    /// [`ModelF32::softmax`]).
    pub activation: Activation,
}

/// One int8 dense layer in TFLite's scheme, borrowed: FULLY_CONNECTED (`kernels::dense_i8`)
/// with its activation fused (ReLU, ReLU6: a clamp) or following it (LOGISTIC, TANH: a
/// 256-entry table, byte-exact with TFLite's reference kernels).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerI8<'a> {
    /// `(outputs, inputs)` row-major, in `[-127, 127]`.
    pub weights: &'a [i8],
    /// `(outputs)`, scale `input scale × weight scale`, zero point 0.
    pub bias: &'a [i32],
    /// `(outputs)`: `input scale × weight scale / output scale` as TFLite computes it (per
    /// channel, or per tensor from the float32 product: the importer's business).
    pub requant: &'a [Requant],
    /// `(outputs)`: the real value of one weight step in each row (the same value repeated
    /// for a per-tensor layer). Inference does not read them.
    pub weight_scales: &'a [f32],
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// The FULLY_CONNECTED output's quantisation (before a sigmoid or tanh).
    pub output: TensorQuant,
    /// `Identity`, `Relu`, `Relu6`, `Sigmoid` or `Tanh`.
    pub activation: Activation,
    /// For `Sigmoid` and `Tanh`, the 256 outputs for the int8 pre-activations -128..=127
    /// (`lut::logistic_table(output)`, `lut::tanh_table(output)`); empty otherwise.
    pub table: &'a [i8],
}

impl LayerI8<'_> {
    /// What this layer's int8 result stands for: TFLite's fixed output quantisation after a
    /// sigmoid ([`TensorQuant::PROBABILITY`]) or a tanh ([`TensorQuant::TANH`]), otherwise
    /// [`LayerI8::output`].
    pub fn activated(&self) -> TensorQuant {
        match self.activation {
            Activation::Sigmoid => TensorQuant::PROBABILITY,
            Activation::Tanh => TensorQuant::TANH,
            _ => self.output,
        }
    }
}

/// An f32 network.
#[derive(Clone, Copy, Debug)]
pub struct ModelF32<'a> {
    /// Input first; each layer's `inputs` is the previous layer's `outputs`.
    pub layers: Layers<LayerF32<'a>>,
    /// Whether a softmax follows the last layer's activation.
    pub softmax: bool,
    /// How 0–255 pixels become inputs ([`Model::predict_pixels`]).
    pub scaling: InputScaling,
}

/// An int8 network in TFLite's scheme.
#[derive(Clone, Copy, Debug)]
pub struct ModelI8<'a> {
    /// Input first; each layer's input quantisation is the previous layer's
    /// [`LayerI8::activated`], the first's is [`ModelI8::input`].
    pub layers: Layers<LayerI8<'a>>,
    /// What the int8 input stands for; f32 inputs are quantised with it.
    pub input: TensorQuant,
    /// TFLite's int8 SOFTMAX after the last layer (output [`TensorQuant::PROBABILITY`]),
    /// its parameters precomputed from the last layer's activated scale; `None` for none.
    pub softmax: Option<SoftmaxI8Params>,
    /// The f32 model's pixel scaling, kept for the record. Pixels enter an int8 model as
    /// `q = pixel - 128` (the quantiser folds the scaling into the first layer).
    pub scaling: InputScaling,
    /// The host's packed weights (`kernels::int8::packed`), [`ModelI8::packed_len`] words
    /// filled by [`ModelI8::pack`]; empty on boards, where the plain layout runs.
    pub packed: &'a [i32],
}

/// Any network: the one type the host, the wasm module and the firmware hold.
// No allocator to box the larger variant into; a model is built once and passed by reference.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug)]
pub enum Model<'a> {
    /// f32 weights and activations.
    F32(ModelF32<'a>),
    /// int8 in TFLite's scheme.
    I8(ModelI8<'a>),
}

/// What a layer's checks and the size queries read: its sizes and arrays.
trait Layer {
    fn inputs(&self) -> usize;
    fn outputs(&self) -> usize;
}

impl Layer for LayerF32<'_> {
    fn inputs(&self) -> usize {
        self.inputs
    }
    fn outputs(&self) -> usize {
        self.outputs
    }
}

impl Layer for LayerI8<'_> {
    fn inputs(&self) -> usize {
        self.inputs
    }
    fn outputs(&self) -> usize {
        self.outputs
    }
}

/// The largest of every layer's inputs and outputs: one activation buffer.
fn widest<L: Layer + Copy>(layers: &Layers<L>) -> usize {
    layers
        .iter()
        .map(|l| l.inputs().max(l.outputs()))
        .max()
        .unwrap_or(0)
}

/// The checks both element types share: the depth, and each layer's inputs against the
/// previous layer's outputs; then `own` for each layer's arrays.
fn check_layers<L: Layer + Copy>(
    layers: &Layers<L>,
    own: impl Fn(usize, &L) -> Result<(), Error>,
) -> Result<(), Error> {
    let depth = layers.len();
    if !(1..=MAX_LAYERS).contains(&depth) {
        return Err(Error::BadDepth { depth });
    }
    let mut previous = None;
    for (i, l) in layers.iter().enumerate() {
        if let Some(expected) = previous
            && expected != l.inputs()
        {
            return Err(Error::LayerInputs {
                layer: i,
                expected,
                found: l.inputs(),
            });
        }
        own(i, l)?;
        previous = Some(l.outputs());
    }
    Ok(())
}

/// [`Error::LayerLength`] unless `found == expected`.
fn check_len(
    layer: usize,
    tensor: LayerTensor,
    expected: usize,
    found: usize,
) -> Result<(), Error> {
    if expected == found {
        Ok(())
    } else {
        Err(Error::LayerLength {
            layer,
            tensor,
            expected,
            found,
        })
    }
}

/// `(outputs, inputs)` weights' length; [`Error::TooLarge`] if it overflows.
fn weights_len(outputs: usize, inputs: usize) -> Result<usize, Error> {
    outputs.checked_mul(inputs).ok_or(Error::TooLarge)
}

/// [`Error::LengthMismatch`] (no tensor) unless `found == expected`: an argument's length.
fn check_arg(expected: usize, found: usize) -> Result<(), Error> {
    if expected == found {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            tensor: None,
            expected,
            found,
        })
    }
}

/// [`Error::LengthMismatch`] (no tensor) if `scratch` is shorter than `needed` words.
fn check_scratch(needed: usize, scratch: &[f32]) -> Result<(), Error> {
    if scratch.len() < needed {
        Err(Error::LengthMismatch {
            tensor: None,
            expected: needed,
            found: scratch.len(),
        })
    } else {
        Ok(())
    }
}

/// `Err(NonFiniteInput)` if any of `x` is NaN or infinite.
fn check_finite(x: &[f32]) -> Result<(), Error> {
    if x.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::NonFiniteInput)
    }
}

impl<'a> Model<'a> {
    /// The first layer's inputs (0 for a model without layers).
    pub fn inputs(&self) -> usize {
        match self {
            Model::F32(m) => m.layers.get(0).map_or(0, |l| l.inputs),
            Model::I8(m) => m.layers.get(0).map_or(0, |l| l.inputs),
        }
    }

    /// The last layer's outputs (0 for a model without layers).
    pub fn outputs(&self) -> usize {
        match self {
            Model::F32(m) => m.layers.last().map_or(0, |l| l.outputs),
            Model::I8(m) => m.layers.last().map_or(0, |l| l.outputs),
        }
    }

    /// The number of layers.
    pub fn depth(&self) -> usize {
        match self {
            Model::F32(m) => m.layers.len(),
            Model::I8(m) => m.layers.len(),
        }
    }

    /// f32 or int8.
    pub fn element(&self) -> ElementType {
        match self {
            Model::F32(_) => ElementType::F32,
            Model::I8(_) => ElementType::I8,
        }
    }

    /// The largest of every layer's inputs and outputs: the length of each of the two
    /// activation buffers inference ping-pongs between.
    pub fn widest(&self) -> usize {
        match self {
            Model::F32(m) => widest(&m.layers),
            Model::I8(m) => widest(&m.layers),
        }
    }

    /// The f32 words of scratch every `predict*` call needs at least: two buffers of
    /// [`Model::widest`] (an int8 model uses them as bytes, a quarter of them).
    pub fn scratch_len(&self) -> usize {
        self.widest().saturating_mul(2)
    }

    /// Whether inference can run this model: 1 to [`MAX_LAYERS`] layers, each taking the
    /// previous one's outputs, every array as long as the sizes say, an activation the
    /// element type runs, a table for each int8 sigmoid or tanh, at most
    /// `model_i8::MAX_OUTPUTS` (256) outputs into an int8 softmax, and a packed buffer
    /// that is empty or [`ModelI8::packed_len`] long. Every `predict*` call checks it first,
    /// so none panics on any model; it costs a few comparisons per layer.
    ///
    /// The values are not checked (scales, zero points, requantisation pairs, weights, the
    /// tables' entries): odd ones give odd outputs, never a panic. A model file's are
    /// checked when it is parsed.
    ///
    /// # Errors
    /// [`Error::BadDepth`], [`Error::LayerInputs`], [`Error::LayerLength`],
    /// [`Error::BadActivation`], [`Error::TooLarge`] (a length that overflows, or too many
    /// softmax outputs), [`Error::LengthMismatch`] (the packed buffer).
    pub fn check(&self) -> Result<(), Error> {
        match self {
            Model::F32(m) => m.check(),
            Model::I8(m) => m.check(),
        }
    }

    /// Runs the model on `x`, `(inputs)` real values, writing `out`, `(outputs)`: an f32
    /// model's last layer (after the softmax, if any); an int8 model's output tensor
    /// dequantised (probabilities `(q + 128) / 256` after a softmax). An int8 model
    /// quantises `x` with [`ModelI8::input`] as TFLite's QUANTIZE does
    /// (`round(x / scale) + zero_point`, half away from zero, in f32, clamped to int8).
    /// `scratch` is at least [`Model::scratch_len`] words and may hold anything.
    ///
    /// # Errors
    /// What [`Model::check`] finds; [`Error::LengthMismatch`] if `x`, `scratch` or `out`
    /// has the wrong length; [`Error::NonFiniteInput`] if any of `x` is NaN or infinite.
    pub fn predict(&self, x: &[f32], scratch: &mut [f32], out: &mut [f32]) -> Result<(), Error> {
        self.check_call(x.len(), scratch, out.len())?;
        check_finite(x)?;
        match self {
            Model::F32(m) => m.run(float::Input::F32(x), scratch, out),
            Model::I8(m) => m.run_dequantized(int8::Input::F32(x), scratch, out),
        };
        Ok(())
    }

    /// [`Model::predict`] for 0–255 pixels: an f32 model scales them as
    /// [`ModelF32::scaling`] says (`x = pixel · scale + offset`); an int8 model takes
    /// `q = pixel − 128` (the quantiser folded the scaling into the first layer).
    ///
    /// # Errors
    /// As [`Model::predict`], but pixels are always finite.
    pub fn predict_pixels(
        &self,
        pixels: &[u8],
        scratch: &mut [f32],
        out: &mut [f32],
    ) -> Result<(), Error> {
        self.classify_pixels(pixels, scratch, out).map(|_| ())
    }

    /// [`Model::predict_pixels`], returning the class: the index of the first largest
    /// output; for an int8 model, of the last layer's int8 output before the softmax (the
    /// softmax is monotonic, and its 1/256 steps would make ties the int8 logits do not
    /// have), which is what the digit models have always answered.
    ///
    /// # Errors
    /// As [`Model::predict_pixels`].
    pub fn classify_pixels(
        &self,
        pixels: &[u8],
        scratch: &mut [f32],
        out: &mut [f32],
    ) -> Result<usize, Error> {
        self.check_call(pixels.len(), scratch, out.len())?;
        Ok(match self {
            Model::F32(m) => m.run(float::Input::Pixels(pixels), scratch, out),
            Model::I8(m) => m.run_dequantized(int8::Input::Pixels(pixels), scratch, out),
        })
    }

    /// An int8 model on int8 input that is already quantised (as [`ModelI8::input`] says),
    /// writing its int8 output tensor to `out`: after a softmax, probability `k` is
    /// `(out[k] + 128) / 256`; otherwise `out` is the last layer's int8 result, standing for
    /// what [`LayerI8::activated`] says. Byte for byte what TFLite's reference kernels
    /// compute.
    ///
    /// # Errors
    /// [`Error::ElementMismatch`] for an f32 model; otherwise as [`Model::predict`].
    pub fn predict_i8(&self, x: &[i8], scratch: &mut [f32], out: &mut [i8]) -> Result<(), Error> {
        let m = self.int8()?;
        self.check_call(x.len(), scratch, out.len())?;
        m.run_i8(int8::Input::I8(x), scratch, out);
        Ok(())
    }

    /// [`Model::predict_i8`] for 0–255 pixels (`q = pixel − 128`): what a board answers
    /// over the serial protocol.
    ///
    /// # Errors
    /// As [`Model::predict_i8`].
    pub fn predict_pixels_i8(
        &self,
        pixels: &[u8],
        scratch: &mut [f32],
        out: &mut [i8],
    ) -> Result<(), Error> {
        self.classify_pixels_i8(pixels, scratch, out).map(|_| ())
    }

    /// [`Model::predict_pixels_i8`], returning the class as [`Model::classify_pixels`] does.
    ///
    /// # Errors
    /// As [`Model::predict_i8`].
    pub fn classify_pixels_i8(
        &self,
        pixels: &[u8],
        scratch: &mut [f32],
        out: &mut [i8],
    ) -> Result<usize, Error> {
        let m = self.int8()?;
        self.check_call(pixels.len(), scratch, out.len())?;
        Ok(int8::argmax_i8(m.run_i8(
            int8::Input::Pixels(pixels),
            scratch,
            out,
        )))
    }

    /// The int8 model, or [`Error::ElementMismatch`].
    fn int8(&self) -> Result<&ModelI8<'a>, Error> {
        match self {
            Model::I8(m) => Ok(m),
            Model::F32(_) => Err(Error::ElementMismatch {
                expected: ElementType::I8,
                found: ElementType::F32,
            }),
        }
    }

    /// The model, then a call's lengths: `inputs` and `outputs` exact, `scratch` at least
    /// [`Model::scratch_len`].
    fn check_call(&self, inputs: usize, scratch: &[f32], outputs: usize) -> Result<(), Error> {
        self.check()?;
        check_arg(self.inputs(), inputs)?;
        check_arg(self.outputs(), outputs)?;
        check_scratch(self.scratch_len(), scratch)
    }
}
