//! The words the model file and the models share, and nothing else of the crate: the
//! element type, the names of a file's tensors, an int8 tensor's quantisation, the input
//! scaling, and the file's limits that errors quote. A leaf: it imports no other module of
//! nn-core, so `error`, `format` and the models can all use it without importing each other.

use serde::{Deserialize, Serialize};

/// The version of f32 files without class names: the original layout, still written for them.
pub const VERSION: u16 = 1;
/// The version that adds class names and int8 models; written for any file holding either.
pub const VERSION_2: u16 = 2;
/// The version of any number of layers (see `network`); written for every model versions 1
/// and 2 cannot hold.
pub const VERSION_3: u16 = 3;
/// The newest version this crate reads (it reads every version from 1 up).
pub const LATEST_VERSION: u16 = VERSION_3;
/// The fewest outputs a model file may have: a classifier needs two classes to choose from.
pub const MIN_OUTPUTS: usize = 2;
/// The largest magnitude any input, hidden pre-activation or logit of an accepted model can
/// reach (a bound computed from its weights by `format::ModelFile::parse`). Summing up to 2^32
/// terms in f32 rounds a sum up by less than a factor of 257, so activations stay below
/// `f32::MAX` (3.4e38) and every output is finite.
pub const MAX_ACTIVATION: f32 = 1e36;
/// The deepest network a model file may hold, and the length of `network::Layers`' inline array.
pub const MAX_LAYERS: usize = 16;
/// The most outputs an int8 model has: TFLite's int8 softmax takes at most 256 elements (past
/// that its fixed-point sum can overflow), and so does `kernels::softmax_i8`.
pub const MAX_OUTPUTS: usize = 256;
/// Entries of an int8 sigmoid's or tanh's lookup table: one per int8 input.
pub const SIGMOID_TABLE_LEN: usize = 256;
/// The longest class name, in bytes of UTF-8.
pub const CLASS_NAME_MAX_LEN: usize = 32;

/// How each weight is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ElementType {
    /// IEEE-754 binary32, little-endian.
    F32,
    /// TensorFlow Lite's int8 scheme: int8 weights, int32 biases, per-channel requantisation
    /// (versions 2 and 3; see `format` and `network`).
    I8,
}

/// A model file's tensors as errors name them: the four of a two-layer model (versions 1 and
/// 2, in file order), and layer `i`'s (version 3, `i` from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Tensor {
    /// First-layer weights, `(hidden, input)` row-major.
    W1,
    /// First-layer bias, `(hidden)`.
    B1,
    /// Second-layer weights, `(output, hidden)` row-major.
    W2,
    /// Second-layer bias, `(output)`.
    B2,
    /// Layer `i`'s weights, `(outputs, inputs)` row-major.
    Weights(usize),
    /// Layer `i`'s bias, `(outputs)`.
    Bias(usize),
    /// Layer `i`'s int8 sigmoid or tanh table, 256 entries.
    Table(usize),
}

impl Tensor {
    /// All four, in the order they are stored.
    pub const ALL: [Tensor; 4] = [Tensor::W1, Tensor::B1, Tensor::W2, Tensor::B2];

    /// The name used in this crate's docs and errors (without the layer of the indexed ones).
    pub const fn name(self) -> &'static str {
        match self {
            Tensor::W1 => "W1",
            Tensor::B1 => "b1",
            Tensor::W2 => "W2",
            Tensor::B2 => "b2",
            Tensor::Weights(_) => "weights",
            Tensor::Bias(_) => "bias",
            Tensor::Table(_) => "table",
        }
    }

    /// `(layer, is the bias)` of a weight or bias tensor; `None` for a table.
    pub(crate) const fn layer(self) -> Option<(usize, bool)> {
        match self {
            Tensor::W1 => Some((0, false)),
            Tensor::B1 => Some((0, true)),
            Tensor::W2 => Some((1, false)),
            Tensor::B2 => Some((1, true)),
            Tensor::Weights(i) => Some((i, false)),
            Tensor::Bias(i) => Some((i, true)),
            Tensor::Table(_) => None,
        }
    }
}

impl core::fmt::Display for Tensor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Tensor::Weights(i) | Tensor::Bias(i) | Tensor::Table(i) => {
                write!(f, "layers[{i}].{}", self.name())
            }
            _ => f.write_str(self.name()),
        }
    }
}

/// The int8 tensors whose quantisation a model file records, as errors name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum QuantTensor {
    /// The int8 input (`pixel - 128`).
    Input,
    /// The first layer's int8 output (before a sigmoid, after a fused ReLU).
    Hidden,
    /// The second layer's int8 output, softmax's input.
    Logits,
    /// The first layer's per-channel parameters (weight scales, requantisation, bias).
    W1,
    /// The second layer's per-channel parameters.
    W2,
    /// Layer `i`'s per-channel parameters (version 3, `i` from 0).
    Layer(usize),
    /// Layer `i`'s int8 output, before a sigmoid or tanh (version 3).
    Output(usize),
}

impl QuantTensor {
    /// The name used in this crate's docs and errors.
    pub const fn name(self) -> &'static str {
        match self {
            QuantTensor::Input => "input",
            QuantTensor::Hidden => "hidden",
            QuantTensor::Logits => "logits",
            QuantTensor::W1 => "W1",
            QuantTensor::W2 => "W2",
            QuantTensor::Layer(_) => "layer",
            QuantTensor::Output(_) => "output",
        }
    }
}

impl core::fmt::Display for QuantTensor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            QuantTensor::Layer(i) => write!(f, "layers[{i}]"),
            QuantTensor::Output(i) => write!(f, "layers[{i}].output"),
            _ => f.write_str(self.name()),
        }
    }
}

/// The arrays of one layer of a `network::Model`, as errors name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LayerTensor {
    /// `(outputs, inputs)` weights.
    Weights,
    /// `(outputs)` bias.
    Bias,
    /// int8: `(outputs)` requantisation pairs.
    Requant,
    /// int8: `(outputs)` weight scales.
    WeightScales,
    /// int8: the 256-entry sigmoid or tanh table (empty for other activations).
    Table,
}

impl LayerTensor {
    /// The name used in this crate's docs and errors.
    pub const fn name(self) -> &'static str {
        match self {
            LayerTensor::Weights => "weights",
            LayerTensor::Bias => "bias",
            LayerTensor::Requant => "requant",
            LayerTensor::WeightScales => "weight scales",
            LayerTensor::Table => "table",
        }
    }
}

impl core::fmt::Display for LayerTensor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Scale and zero point of an int8 tensor: `q` stands for `scale * (q - zero_point)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TensorQuant {
    /// Real value of one step; finite and positive.
    pub scale: f32,
    /// The int8 value that stands for 0; in `[-128, 127]`.
    pub zero_point: i32,
}

impl TensorQuant {
    /// TFLite's fixed quantisation of int8 LOGISTIC and SOFTMAX outputs: a probability in
    /// steps of 1/256, 0 at -128.
    pub const PROBABILITY: Self = Self {
        scale: 1.0 / 256.0,
        zero_point: -128,
    };

    /// TFLite's fixed quantisation of int8 TANH outputs: `[-1, 1)` in steps of 1/128, 0 at 0.
    pub const TANH: Self = Self {
        scale: 1.0 / 128.0,
        zero_point: 0,
    };

    /// The real value `q` stands for.
    pub fn dequantize(self, q: i8) -> f32 {
        self.scale * (i32::from(q) - self.zero_point) as f32
    }
}

/// How raw pixels become network inputs: `x = pixel * scale + offset`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InputScaling {
    /// Multiplier applied to each 0–255 pixel.
    pub scale: f32,
    /// Added after scaling.
    pub offset: f32,
}

impl InputScaling {
    /// Raw 0–255 pixels, as the seed's Keras model was fed.
    pub const RAW: Self = Self {
        scale: 1.0,
        offset: 0.0,
    };
    /// Pixels mapped to 0–1.
    pub const UNIT: Self = Self {
        scale: 1.0 / 255.0,
        offset: 0.0,
    };

    /// `x_i ← pixel_i · scale + offset`: how every part of the project, the board and the
    /// trainer alike, turns 0–255 pixels into network inputs.
    ///
    /// # Panics
    /// If `pixels` and `x` differ in length.
    ///
    /// ```
    /// use nn_core::InputScaling;
    ///
    /// let centred = InputScaling { scale: 2.0 / 255.0, offset: -1.0 }; // to −1..1
    /// let mut x = [0.0f32; 3];
    /// centred.apply(&[0, 51, 255], &mut x);
    /// let expected = [-1.0, -0.6, 1.0];
    /// assert!(x.iter().zip(expected).all(|(a, e)| (a - e).abs() < 1e-6));
    /// ```
    pub fn apply(&self, pixels: &[u8], x: &mut [f32]) {
        assert!(
            pixels.len() == x.len(),
            "InputScaling::apply: pixels and inputs differ in length"
        );
        for (xi, &p) in x.iter_mut().zip(pixels) {
            *xi = f32::from(p) * self.scale + self.offset;
        }
    }
}
