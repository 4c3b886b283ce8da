//! Everything that can go wrong in nn-core, as one flat enum.

use crate::activation::Activation;
use crate::types::{ElementType, LayerTensor, QuantTensor, Tensor};

/// An error from decoding or encoding a model file, encoding a serial frame, or running
/// inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// An input to the network was NaN or infinite.
    NonFiniteInput,
    /// The file does not start with `NNMF`; `found` holds its first bytes (zero-filled if short).
    BadMagic {
        /// The first four bytes of the file.
        found: [u8; 4],
    },
    /// The file's format version is not one this crate reads.
    UnsupportedVersion {
        /// The version the file claims.
        found: u16,
    },
    /// The header is not a valid `Header` (e.g. an unknown activation or element type, NaN scaling).
    BadHeader,
    /// The header's sizes overflow this machine's address space (hostile or corrupt header), or an
    /// int8 model has more outputs than its softmax takes (`model_i8::MAX_OUTPUTS`).
    TooLarge,
    /// The model's shape differs from the one asked for; shapes are `[input, hidden, output]`.
    ShapeMismatch {
        /// The shape of the type decoded into.
        expected: [usize; 3],
        /// The shape in the file.
        found: [usize; 3],
    },
    /// The bytes end early: at least `needed` bytes were required, `found` were given.
    Truncated {
        /// Bytes required (a lower bound when the header itself is cut).
        needed: usize,
        /// Bytes given.
        found: usize,
    },
    /// Bytes follow the checksum: the header accounts for `expected`, `found` were given.
    TrailingBytes {
        /// The file length the header implies.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
    /// The padding between header and weights holds a non-zero byte at `offset`.
    NonZeroPadding {
        /// Offset of the first non-zero padding byte from the start of the file.
        offset: usize,
    },
    /// The CRC-32 stored in the file differs from the one computed over its bytes.
    BadChecksum {
        /// The CRC-32 in the file's last four bytes.
        stored: u32,
        /// The CRC-32 of every byte before them.
        computed: u32,
    },
    /// A weight or bias is NaN or infinite.
    NonFiniteWeight {
        /// The tensor that holds it.
        tensor: Tensor,
        /// Its index in that tensor, row-major.
        index: usize,
    },
    /// A slice passed in has a length that does not fit the model.
    LengthMismatch {
        /// The tensor it stands for, if it is one.
        tensor: Option<Tensor>,
        /// The length the model needs.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The weights are not 4-byte aligned in memory, so they cannot be borrowed as f32.
    Misaligned,
    /// Borrowing little-endian weights in place needs a little-endian target.
    BigEndianTarget,
    /// The shape is not a usable classifier: no hidden unit, or fewer than
    /// [`MIN_OUTPUTS`](crate::format::MIN_OUTPUTS) outputs; shapes are `[input, hidden, output]`.
    BadShape {
        /// The shape in the file.
        shape: [usize; 3],
    },
    /// The input scaling can make an input larger than
    /// [`MAX_ACTIVATION`](crate::format::MAX_ACTIVATION).
    ScalingTooLarge,
    /// A row of `tensor` can drive an activation past
    /// [`MAX_ACTIVATION`](crate::format::MAX_ACTIVATION), so the outputs could overflow.
    MayOverflow {
        /// The weight tensor (`W1` or `W2`).
        tensor: Tensor,
        /// The row (hidden unit for `W1`, output for `W2`).
        row: usize,
    },
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes that suffice.
        needed: usize,
        /// Bytes given.
        found: usize,
    },
    /// The file's weights are of another element type than the call needs (f32 vs int8).
    ElementMismatch {
        /// The element type the call works on.
        expected: ElementType,
        /// The file's.
        found: ElementType,
    },
    /// A version-2 file lists more class names than the model has outputs.
    TooManyClassNames {
        /// Names in the file.
        found: usize,
        /// The model's outputs.
        max: usize,
    },
    /// A class name is empty, longer than `format::CLASS_NAME_MAX_LEN` bytes, not UTF-8, or
    /// holds a control character.
    BadClassName {
        /// Its position in the list (the output it names).
        index: usize,
    },
    /// An int8 scale is NaN, infinite, zero or negative.
    BadScale {
        /// The tensor (or layer, for per-channel weight scales) it belongs to.
        tensor: QuantTensor,
        /// The channel, for a per-channel scale; 0 otherwise.
        index: usize,
    },
    /// An int8 zero point lies outside `[-128, 127]`.
    BadZeroPoint {
        /// The tensor it belongs to.
        tensor: QuantTensor,
        /// The zero point in the file.
        found: i32,
    },
    /// An int8 file's softmax parameters are not ones TFLite's preparation produces
    /// (`SoftmaxI8Params::is_valid`).
    BadSoftmaxParams,
    /// An int8 file's per-channel count differs from the layer's outputs.
    ChannelCountMismatch {
        /// The layer.
        tensor: QuantTensor,
        /// The layer's outputs.
        expected: usize,
        /// The count in the file.
        found: usize,
    },
    /// A requantisation pair is not one `Requant::from_real` makes (multiplier or shift out
    /// of range).
    BadRequant {
        /// The layer.
        tensor: QuantTensor,
        /// The channel.
        index: usize,
    },
    /// An int8 weight is -128 (TFLite's symmetric weights lie in `[-127, 127]`).
    WeightOutOfRange {
        /// The weight tensor.
        tensor: Tensor,
        /// Its index, row-major.
        index: usize,
    },
    /// An int8 bias is so large that its row's int32 sum could overflow.
    AccumulatorOverflow {
        /// The bias tensor.
        tensor: Tensor,
        /// The row (channel).
        index: usize,
    },
    /// A network has no layer, or more than `network::MAX_LAYERS` (16).
    BadDepth {
        /// Its layers.
        depth: usize,
    },
    /// A network's layer takes another number of inputs than the previous layer gives.
    LayerInputs {
        /// The layer, 0 for the first.
        layer: usize,
        /// The previous layer's outputs.
        expected: usize,
        /// The layer's inputs.
        found: usize,
    },
    /// An array of a network's layer has a length that does not fit the layer's sizes.
    LayerLength {
        /// The layer, 0 for the first.
        layer: usize,
        /// The array.
        tensor: LayerTensor,
        /// The length the layer's sizes need.
        expected: usize,
        /// The array's length.
        found: usize,
    },
    /// A network's layer has an activation its element type cannot run there (int8:
    /// softmax is the model's flag, not a layer's activation), or a model file's layer one
    /// its version cannot hold (`Relu6` and `Tanh` need version 3; a softmax is never a
    /// hidden layer's, and in version 3 the model's flag; int8 version 2 runs identity, ReLU
    /// and sigmoid hidden layers and a softmax output).
    BadActivation {
        /// The layer, 0 for the first.
        layer: usize,
        /// Its activation.
        found: Activation,
    },
    /// A layer has no outputs.
    EmptyLayer {
        /// The layer, 0 for the first.
        layer: usize,
    },
    /// A version-3 file names some outputs but not all: names are none or one per output.
    ClassNameCount {
        /// Names given.
        found: usize,
        /// The model's outputs.
        expected: usize,
    },
    /// The call returns the two-layer forms of format versions 1 and 2 (`MlpSlices`, `MlpI8`),
    /// and this model is not one (another depth, or layers they cannot hold): use
    /// `format::ModelFile::model`.
    NotTwoLayer,
    /// A training buffer handed in has the wrong length: `what` names it.
    TrainBuffer {
        /// The buffer: "params", "state", "work", "inputs", "labels", "order"…
        what: &'static str,
        /// The length the network's sizes need.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// A label is not one of the network's outputs.
    LabelOutOfRange {
        /// The label.
        label: u8,
        /// The network's outputs.
        classes: usize,
    },
    /// A training step was given no examples, or more than the learner was sized for.
    BatchSize {
        /// Examples given.
        found: usize,
        /// The most the learner takes.
        max: usize,
    },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Error::NonFiniteInput => f.write_str("an input is NaN or infinite"),
            Error::BadMagic { found } => {
                write!(
                    f,
                    "not a model file: starts with {found:02x?}, not \"NNMF\""
                )
            }
            Error::UnsupportedVersion { found } => {
                write!(
                    f,
                    "model file version {found} is not supported (this crate reads versions {} to {})",
                    crate::types::VERSION,
                    crate::types::LATEST_VERSION
                )
            }
            Error::BadHeader => {
                f.write_str("the model header is malformed (unknown activation or element type?)")
            }
            Error::TooLarge => f.write_str("the model header claims sizes larger than memory"),
            Error::ShapeMismatch { expected, found } => write!(
                f,
                "model shape {}-{}-{} differs from the expected {}-{}-{}",
                found[0], found[1], found[2], expected[0], expected[1], expected[2]
            ),
            Error::Truncated { needed, found } => {
                write!(
                    f,
                    "truncated: at least {needed} bytes needed, {found} given"
                )
            }
            Error::TrailingBytes { expected, found } => {
                write!(
                    f,
                    "{} trailing bytes: the header implies {expected} bytes, {found} given",
                    found.saturating_sub(expected)
                )
            }
            Error::NonZeroPadding { offset } => {
                write!(f, "non-zero padding byte at offset {offset}")
            }
            Error::BadChecksum { stored, computed } => {
                write!(
                    f,
                    "bad checksum: the file says {stored:#010x}, its bytes give {computed:#010x}"
                )
            }
            Error::NonFiniteWeight { tensor, index } => {
                write!(f, "{tensor}[{index}] is NaN or infinite")
            }
            Error::LengthMismatch {
                tensor: Some(tensor),
                expected,
                found,
            } => {
                write!(
                    f,
                    "{tensor} has {found} elements, the model needs {expected}"
                )
            }
            Error::LengthMismatch {
                tensor: None,
                expected,
                found,
            } => {
                write!(
                    f,
                    "a slice has {found} elements, the model needs {expected}"
                )
            }
            Error::Misaligned => f.write_str("the model bytes are not 4-byte aligned"),
            Error::BigEndianTarget => {
                f.write_str("borrowing weights in place needs a little-endian target")
            }
            Error::BadShape { shape: [i, h, o] } => write!(
                f,
                "shape {i}-{h}-{o} is not a classifier: at least 1 hidden unit and {} outputs needed",
                crate::types::MIN_OUTPUTS
            ),
            Error::ScalingTooLarge => write!(
                f,
                "the input scaling can make inputs larger than {:e}; outputs could overflow",
                crate::types::MAX_ACTIVATION
            ),
            Error::MayOverflow { tensor, row } => write!(
                f,
                "{tensor} row {row} is so large that activations could pass {:e} and outputs overflow",
                crate::types::MAX_ACTIVATION
            ),
            Error::BufferTooSmall { needed, found } => {
                write!(
                    f,
                    "output buffer of {found} bytes is too small ({needed} suffice)"
                )
            }
            Error::ElementMismatch { expected, found } => {
                write!(
                    f,
                    "the model's weights are {found:?}; this needs {expected:?}"
                )
            }
            Error::TooManyClassNames { found, max } => {
                write!(f, "{found} class names for a model with {max} outputs")
            }
            Error::BadClassName { index } => write!(
                f,
                "class name {index} is empty, longer than {} bytes, not UTF-8 or holds a control character",
                crate::types::CLASS_NAME_MAX_LEN
            ),
            Error::BadScale { tensor, index } => {
                write!(
                    f,
                    "int8 scale of {tensor} [{index}] is not a finite positive number"
                )
            }
            Error::BadZeroPoint { tensor, found } => {
                write!(
                    f,
                    "int8 zero point of {tensor} is {found}, outside [-128, 127]"
                )
            }
            Error::BadSoftmaxParams => {
                f.write_str("the int8 softmax parameters are not ones TFLite would compute")
            }
            Error::ChannelCountMismatch {
                tensor,
                expected,
                found,
            } => write!(
                f,
                "{tensor} has {found} per-channel entries, the layer has {expected} outputs"
            ),
            Error::BadRequant { tensor, index } => write!(
                f,
                "requantisation multiplier or shift of {tensor} [{index}] is out of range"
            ),
            Error::WeightOutOfRange { tensor, index } => {
                write!(
                    f,
                    "int8 weight {tensor}[{index}] is -128, outside [-127, 127]"
                )
            }
            Error::AccumulatorOverflow { tensor, index } => write!(
                f,
                "int8 bias {tensor}[{index}] is so large that the int32 sum could overflow"
            ),
            Error::BadDepth { depth } => write!(
                f,
                "a network of {depth} layers: 1 to {} are supported",
                crate::types::MAX_LAYERS
            ),
            Error::LayerInputs {
                layer,
                expected,
                found,
            } => write!(
                f,
                "layer {layer} takes {found} inputs, but the layer before it gives {expected}"
            ),
            Error::LayerLength {
                layer,
                tensor,
                expected,
                found,
            } => write!(
                f,
                "layer {layer}'s {tensor} has {found} elements, its sizes need {expected}"
            ),
            Error::BadActivation { layer, found } => {
                write!(f, "layer {layer}'s activation {found:?} cannot run there")
            }
            Error::EmptyLayer { layer } => write!(f, "layer {layer} has no outputs"),
            Error::ClassNameCount { found, expected } => write!(
                f,
                "{found} class names for a model with {expected} outputs (none or one per output)"
            ),
            Error::NotTwoLayer => f.write_str(
                "this model is not the two-layer form of format versions 1 and 2; read it as a Model",
            ),
            Error::TrainBuffer {
                what,
                expected,
                found,
            } => write!(
                f,
                "training buffer {what} holds {found} values, the network needs {expected}"
            ),
            Error::LabelOutOfRange { label, classes } => {
                write!(f, "label {label} is not one of the network's {classes} outputs")
            }
            Error::BatchSize { found, max } => {
                write!(f, "a training step of {found} examples: 1 to {max} are taken")
            }
        }
    }
}

impl core::error::Error for Error {}
