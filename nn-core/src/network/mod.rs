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
//! The 784-H-10 models of format versions 1 and 2 are this code at depth 2.

use crate::activation::Activation;
use crate::error::Error;
use crate::quant::{Requant, SoftmaxI8Params};
use crate::types::{InputScaling, TensorQuant};

/// The deepest network a model file may hold, and the length of [`Layers`]' inline array.
pub const MAX_LAYERS: usize = 16;

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
