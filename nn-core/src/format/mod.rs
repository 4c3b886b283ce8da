//! The model file. Version 1: a postcard [`Header`], zero padding to a multiple of 16 bytes,
//! the weights as little-endian f32 (`W1`, `b1`, `W2`, `b2`), and a CRC-32 of everything before
//! it. Version 2 adds, after the header, an optional list of class names and, for int8 models
//! ([`ElementType::I8`]), the quantisation parameters ([`QuantHeader`]); an int8 body holds
//! the per-channel int32 biases, requantisation pairs and weight scales, then the int8 weights
//! and, for a sigmoid hidden layer, its 256-entry lookup table. The full byte layout is in the
//! crate README.
//!
//! Version 3 holds any [`Model`]: a [`HeaderV3`], one [`LayerHeader`] per layer, for int8 the
//! input's and each layer's output quantisation and the softmax parameters, the class names
//! (none or one per output), then each layer's arrays in order, every one starting 16-byte
//! aligned.
//!
//! [`encode_model`] writes a [`Model`] in the oldest version that holds it: version 1 for f32
//! depth 2 without class names (so every file written before version 2 existed is still
//! written byte for byte the same), version 2 for what version 2 holds (depth 2, f32 with
//! names, or int8 with a softmax output and a ReLU, sigmoid or identity hidden layer), and
//! version 3 for everything else.
//!
//! [`ModelFile::parse`] validates a file of any version completely, without allocating and
//! without panicking on any input; then [`ModelFile::model`] borrows every layer in place (zero
//! copy, e.g. from flash). For depth-2 models the older accessors remain: [`ModelFile::view`]
//! borrows the weights as an [`Mlp`]'s, [`ModelFile::decode_into`] copies them into an owned
//! one, and [`ModelFile::slices_i8`] and [`ModelFile::view_i8`] borrow an int8 model. The
//! size-erased work is done once, in [`ModelFile::parse`]; only the thin typed accessors are
//! compiled per model size.
//!
//! [`Mlp`]: crate::Mlp
//! [`Model`]: crate::network::Model

mod class_names;
mod decode;
mod encode;
mod int8;
mod layout;

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::error::Error;
use crate::model::{MlpRef, MlpSlices};
use crate::types::{InputScaling, TensorQuant};

pub use crate::model_i8::SIGMOID_TABLE_LEN;
pub use crate::shape::Shape;
pub use crate::types::{
    CLASS_NAME_MAX_LEN, ElementType, LATEST_VERSION, MAX_ACTIVATION, MIN_OUTPUTS, QuantTensor,
    Tensor, VERSION, VERSION_2, VERSION_3,
};
pub use class_names::{ClassNames, ClassNamesIter};
pub use decode::{Aligned, ModelFile};
pub use encode::{
    encode, encode_i8, encode_mlp, encode_model, encode_named, encoded_len, encoded_len_i8,
    encoded_len_model, encoded_len_named,
};

/// The first four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"NNMF";
/// The weights start at a multiple of this many bytes from the start of the file, so that a
/// file loaded at a 16-byte aligned address can be borrowed as f32 (and as SIMD lanes) in place.
pub const WEIGHTS_ALIGN: usize = 16;
/// The longest postcard encoding of a [`Header`]: magic 4, version ≤ 3, three sizes ≤ 5 each,
/// two activations 1 each, scaling 8, element type 1.
pub const HEADER_MAX_LEN: usize = 4 + 3 + 3 * 5 + 1 + 1 + 8 + 1;
/// Bytes of the trailing checksum.
pub const CHECKSUM_LEN: usize = 4;
/// The longest postcard encoding of a [`QuantHeader`]: three (f32 scale, varint i32 zero point)
/// pairs 4 + 5 each, three varint i32 softmax parameters 5 each, two varint u32 counts 5 each.
pub const QUANT_HEADER_MAX_LEN: usize = 3 * (4 + 5) + 3 * 5 + 2 * 5;

/// Maps a postcard error on the header: running out of bytes is truncation, anything else
/// (an unknown enum tag, an over-long varint) a malformed header.
fn header_error(e: postcard::Error, found: usize) -> Error {
    match e {
        postcard::Error::DeserializeUnexpectedEnd => Error::Truncated {
            needed: found.saturating_add(1),
            found,
        },
        _ => Error::BadHeader,
    }
}

/// CRC-32/ISO-HDLC, the one zlib, PNG and `crc32` compute (also used by the serial frames).
pub(crate) static CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// The start of a model file: what it is, its shape, and how to run it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    /// Always [`MAGIC`].
    pub magic: [u8; 4],
    /// Always [`VERSION`] for files this crate writes.
    pub version: u16,
    /// Inputs (784 for MNIST).
    pub input: u32,
    /// Hidden units.
    pub hidden: u32,
    /// Outputs (10 for MNIST).
    pub output: u32,
    /// Applied after the first layer.
    pub hidden_activation: Activation,
    /// Applied after the second layer.
    pub output_activation: Activation,
    /// How 0–255 pixels become inputs.
    pub scaling: InputScaling,
    /// How the weights are stored.
    pub element: ElementType,
}

impl Header {
    /// The header of a version-1 f32 model of shape `input → hidden → output`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if a size does not fit the file's u32 fields.
    pub fn new(
        [input, hidden, output]: [usize; 3],
        hidden_activation: Activation,
        output_activation: Activation,
        scaling: InputScaling,
    ) -> Result<Self, Error> {
        let size = |n: usize| u32::try_from(n).map_err(|_| Error::TooLarge);
        Ok(Self {
            magic: MAGIC,
            version: VERSION,
            input: size(input)?,
            hidden: size(hidden)?,
            output: size(output)?,
            hidden_activation,
            output_activation,
            scaling,
            element: ElementType::F32,
        })
    }

    /// The header that describes `mlp`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if a size does not fit the file's u32 fields.
    pub fn for_mlp<const IN: usize, const H: usize, const OUT: usize>(
        mlp: &MlpRef<'_, IN, H, OUT>,
    ) -> Result<Self, Error> {
        Self::new(
            [IN, H, OUT],
            mlp.hidden_activation,
            mlp.output_activation,
            mlp.scaling,
        )
    }

    /// A NaN or infinite scale or offset would turn every input into NaN: such a header is
    /// as unusable as one with an unknown activation.
    fn check_scaling(&self) -> Result<(), Error> {
        if self.scaling.scale.is_finite() && self.scaling.offset.is_finite() {
            Ok(())
        } else {
            Err(Error::BadHeader)
        }
    }

    /// `[input, hidden, output]` as sizes on this machine.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if a size does not fit in `usize`.
    pub fn shape(&self) -> Result<[usize; 3], Error> {
        let size = |n: u32| usize::try_from(n).map_err(|_| Error::TooLarge);
        Ok([size(self.input)?, size(self.hidden)?, size(self.output)?])
    }

    /// The size-erased model this header describes, over `parameters`: W1, b1, W2, b2 in
    /// file order, e.g. a buffer filled by [`ModelFile::copy_parameters`]. For hosts that
    /// keep the weights and the header and let the file's bytes go.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the sizes overflow `usize`; [`Error::LengthMismatch`] if
    /// `parameters` is not exactly `hidden*input + hidden + output*hidden + output` long.
    pub fn slices_in<'b>(&self, parameters: &'b [f32]) -> Result<MlpSlices<'b>, Error> {
        let shape = self.shape()?;
        Ok(self.mlp_slices(Shape::from(shape).split(parameters)?, shape))
    }

    /// The one place a header and its four tensors become an [`MlpSlices`]; the caller has
    /// cut the tensors to `shape`.
    fn mlp_slices<'b>(
        &self,
        [w1, b1, w2, b2]: [&'b [f32]; 4],
        [input, hidden, output]: [usize; 3],
    ) -> MlpSlices<'b> {
        MlpSlices {
            w1,
            b1,
            w2,
            b2,
            input,
            hidden,
            output,
            hidden_activation: self.hidden_activation,
            output_activation: self.output_activation,
            scaling: self.scaling,
        }
    }
}

/// The start of a version-3 file; `depth` [`LayerHeader`]s follow.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HeaderV3 {
    /// Always [`MAGIC`].
    pub magic: [u8; 4],
    /// Always [`VERSION_3`].
    pub version: u16,
    /// How the weights are stored.
    pub element: ElementType,
    /// The first layer's inputs.
    pub inputs: u32,
    /// How 0–255 pixels become inputs (an int8 model keeps it for the record).
    pub scaling: InputScaling,
    /// Whether a softmax follows the last layer.
    pub softmax: bool,
    /// Layers, 1 to [`MAX_LAYERS`](crate::network::MAX_LAYERS).
    pub depth: u8,
}

/// One layer of a version-3 file; its inputs are the previous layer's outputs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LayerHeader {
    /// At least 1.
    pub outputs: u32,
    /// `Identity`, `Relu`, `Relu6`, `Sigmoid` or `Tanh`.
    pub activation: Activation,
}

/// The quantisation of an int8 model's activations, written after the class names in a
/// version-2 int8 file. The per-channel parameters are in the body (see the crate README).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QuantHeader {
    /// The int8 input: the board feeds `q = pixel - 128`, which stands for
    /// `input.scale * (q - input.zero_point)`.
    pub input: TensorQuant,
    /// The first layer's output.
    pub hidden: TensorQuant,
    /// The second layer's output (softmax's input).
    pub logits: TensorQuant,
    /// Softmax's precomputed input multiplier (from `logits.scale`).
    pub softmax_input_multiplier: i32,
    /// Softmax's precomputed input left shift.
    pub softmax_input_left_shift: i32,
    /// Softmax's precomputed smallest difference from the maximum that still counts.
    pub softmax_diff_min: i32,
    /// Per-channel entries of the first layer; must equal `hidden`.
    pub hidden_channels: u32,
    /// Per-channel entries of the second layer; must equal `output`.
    pub output_channels: u32,
}
