//! The model file. Version 1: a postcard [`Header`], zero padding to a multiple of 16 bytes,
//! the weights as little-endian f32 (`W1`, `b1`, `W2`, `b2`), and a CRC-32 of everything before
//! it. Version 2 adds, after the header, an optional list of class names and, for int8 models
//! ([`ElementType::I8`]), the quantisation parameters ([`QuantHeader`]); an int8 body holds
//! the per-channel int32 biases, requantisation pairs and weight scales, then the int8 weights
//! and, for a sigmoid hidden layer, its 256-entry lookup table. The full byte layout is in the
//! crate README.
//!
//! A file is written as version 1 when it is f32 without class names (so every file written
//! before version 2 existed is still written byte for byte the same), and as version 2 otherwise.
//!
//! [`ModelFile::parse`] validates a file completely, without allocating and without panicking on
//! any input; then [`ModelFile::view`] borrows the weights in place (zero copy, e.g. from flash)
//! and [`ModelFile::decode_into`] copies them into an owned [`Mlp`]; for int8 files
//! [`ModelFile::slices_i8`] and [`ModelFile::view_i8`] borrow them in place. The size-erased work
//! is done once, in [`ModelFile::parse`]; only the thin typed accessors are compiled per model
//! size.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::error::Error;
use crate::model::{DenseRef, InputScaling, Mlp, MlpRef, MlpSlices};
use crate::model_i8::{self, DenseI8, MlpI8, MlpI8Ref, TensorQuant};
use crate::quant::{Requant, SoftmaxI8Params};

/// The first four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"NNMF";
/// The version of f32 files without class names: the original layout, still written for them.
pub const VERSION: u16 = 1;
/// The version that adds class names and int8 models; written for any file holding either.
pub const VERSION_2: u16 = 2;
/// The newest version this crate reads (it reads every version from 1 up).
pub const LATEST_VERSION: u16 = VERSION_2;
/// The weights start at a multiple of this many bytes from the start of the file, so that a
/// file loaded at a 16-byte aligned address can be borrowed as f32 (and as SIMD lanes) in place.
pub const WEIGHTS_ALIGN: usize = 16;
/// The longest postcard encoding of a [`Header`]: magic 4, version ≤ 3, three sizes ≤ 5 each,
/// two activations 1 each, scaling 8, element type 1.
pub const HEADER_MAX_LEN: usize = 4 + 3 + 3 * 5 + 1 + 1 + 8 + 1;
/// Bytes of the trailing checksum.
pub const CHECKSUM_LEN: usize = 4;
/// The fewest outputs a model file may have: a classifier needs two classes to choose from.
pub const MIN_OUTPUTS: usize = 2;
/// The largest magnitude any input, hidden pre-activation or logit of an accepted model can
/// reach (a bound computed from its weights by [`ModelFile::parse`]). Summing up to 2^32
/// terms in f32 rounds a sum up by less than a factor of 257, so activations stay below
/// `f32::MAX` (3.4e38) and every output is finite.
pub const MAX_ACTIVATION: f32 = 1e36;
/// The longest class name, in bytes of UTF-8.
pub const CLASS_NAME_MAX_LEN: usize = 32;
/// The longest postcard encoding of a [`QuantHeader`]: three (f32 scale, varint i32 zero point)
/// pairs 4 + 5 each, three varint i32 softmax parameters 5 each, two varint u32 counts 5 each.
pub const QUANT_HEADER_MAX_LEN: usize = 3 * (4 + 5) + 3 * 5 + 2 * 5;
/// Entries of an int8 sigmoid's lookup table: one per int8 input.
pub const SIGMOID_TABLE_LEN: usize = 256;

/// CRC-32/ISO-HDLC, the one zlib, PNG and `crc32` compute (also used by the serial frames).
pub(crate) static CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// How each weight is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ElementType {
    /// IEEE-754 binary32, little-endian.
    F32,
    /// TensorFlow Lite's int8 scheme: int8 weights, int32 biases, per-channel requantisation
    /// (version 2 only; see [`QuantHeader`] and [`crate::model_i8`]).
    I8,
}

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

/// The first two fields of [`Header`], read alone so that a future version's header (which
/// may differ after them) is reported as [`Error::UnsupportedVersion`], not as a bad header.
#[derive(Deserialize)]
struct Prelude {
    _magic: [u8; 4],
    version: u16,
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

/// The sizes of a model `input → hidden → output`: the one place that counts its parameters
/// and cuts a flat buffer into `W1 (hidden, input)`, `b1 (hidden)`, `W2 (output, hidden)`,
/// `b2 (output)`, in that order (the model file's order, and the trainer's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape {
    /// Inputs (784 for MNIST).
    pub input: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Outputs (10 for MNIST).
    pub output: usize,
}

impl From<[usize; 3]> for Shape {
    fn from([input, hidden, output]: [usize; 3]) -> Self {
        Self {
            input,
            hidden,
            output,
        }
    }
}

impl From<Shape> for [usize; 3] {
    fn from(s: Shape) -> Self {
        [s.input, s.hidden, s.output]
    }
}

impl Shape {
    /// An MNIST classifier with `hidden` hidden units: [`crate::IMAGE_PIXELS`] inputs,
    /// [`crate::CLASSES`] outputs.
    pub const fn mnist(hidden: usize) -> Self {
        Self {
            input: crate::IMAGE_PIXELS,
            hidden,
            output: crate::CLASSES,
        }
    }

    /// Elements of `W1, b1, W2, b2`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if a product overflows `usize`.
    pub const fn tensor_lens(self) -> Result<[usize; 4], Error> {
        let (Some(w1), Some(w2)) = (
            self.hidden.checked_mul(self.input),
            self.output.checked_mul(self.hidden),
        ) else {
            return Err(Error::TooLarge);
        };
        Ok([w1, self.hidden, w2, self.output])
    }

    /// `hidden*input + hidden + output*hidden + output`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the count overflows `usize`.
    pub const fn parameters(self) -> Result<usize, Error> {
        let lens = match self.tensor_lens() {
            Ok(lens) => lens,
            Err(e) => return Err(e),
        };
        // A `const fn` has no iterators: the four sums by hand.
        let mut sum = 0usize;
        let mut i = 0;
        while i < lens.len() {
            sum = match sum.checked_add(lens[i]) {
                Some(s) => s,
                None => return Err(Error::TooLarge),
            };
            i += 1;
        }
        Ok(sum)
    }

    /// The lengths of W1, b1 and W2 for a buffer of `len` values, once `len` is checked to
    /// be exactly [`Shape::parameters`]: where [`Shape::split`] and [`Shape::split_mut`] cut.
    fn split_points(self, len: usize) -> Result<[usize; 4], Error> {
        let expected = self.parameters()?;
        if len != expected {
            return Err(Error::LengthMismatch {
                tensor: None,
                expected,
                found: len,
            });
        }
        self.tensor_lens()
    }

    /// `parameters` cut into `[W1, b1, W2, b2]`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the sizes overflow; [`Error::LengthMismatch`] unless
    /// `parameters` holds exactly [`Shape::parameters`] values.
    pub fn split<T>(self, parameters: &[T]) -> Result<[&[T]; 4], Error> {
        let [w1, b1, w2, _] = self.split_points(parameters.len())?;
        let (w1, rest) = parameters.split_at(w1);
        let (b1, rest) = rest.split_at(b1);
        let (w2, b2) = rest.split_at(w2);
        Ok([w1, b1, w2, b2])
    }

    /// `parameters` cut into `[W1, b1, W2, b2]`, mutable.
    ///
    /// # Errors
    /// As [`Shape::split`].
    pub fn split_mut<T>(self, parameters: &mut [T]) -> Result<[&mut [T]; 4], Error> {
        let [w1, b1, w2, _] = self.split_points(parameters.len())?;
        let (w1, rest) = parameters.split_at_mut(w1);
        let (b1, rest) = rest.split_at_mut(b1);
        let (w2, b2) = rest.split_at_mut(w2);
        Ok([w1, b1, w2, b2])
    }
}

/// The four tensors of a model file, in file order.
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
}

impl Tensor {
    /// All four, in the order they are stored.
    pub const ALL: [Tensor; 4] = [Tensor::W1, Tensor::B1, Tensor::W2, Tensor::B2];

    /// The name used in this crate's docs and errors.
    pub const fn name(self) -> &'static str {
        match self {
            Tensor::W1 => "W1",
            Tensor::B1 => "b1",
            Tensor::W2 => "W2",
            Tensor::B2 => "b2",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl core::fmt::Display for Tensor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
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
        }
    }
}

impl core::fmt::Display for QuantTensor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
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

/// The arrays of an int8 file's body, in file order: everything 4-byte wide first (16 bytes
/// per channel, so the int8 weights start 16-byte aligned too), then the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum I8Array {
    B1,
    Requant1,
    WeightScales1,
    B2,
    Requant2,
    WeightScales2,
    W1,
    W2,
    SigmoidTable,
}

impl I8Array {
    const ALL: [I8Array; 9] = [
        I8Array::B1,
        I8Array::Requant1,
        I8Array::WeightScales1,
        I8Array::B2,
        I8Array::Requant2,
        I8Array::WeightScales2,
        I8Array::W1,
        I8Array::W2,
        I8Array::SigmoidTable,
    ];
}

/// Where everything lies in a file, computed from a header with checked arithmetic so that a
/// hostile header (say 2^32 × 2^32 weights) becomes [`Error::TooLarge`], never an overflow.
#[derive(Clone, Copy, Debug)]
struct Layout {
    shape: [usize; 3],
    element: ElementType,
    /// The header, class names and quantisation header: everything before the padding.
    header_len: usize,
    weights_start: usize,
    /// Elements of W1, b1, W2, b2.
    tensor_lens: [usize; 4],
    parameters: usize,
    /// [`SIGMOID_TABLE_LEN`] for an int8 model with a sigmoid hidden layer, else 0.
    table_len: usize,
    /// Everything, checksum included.
    total: usize,
}

impl Layout {
    fn new(header: &Header, header_len: usize) -> Result<Self, Error> {
        let shape = header.shape()?;
        let tensor_lens = Shape::from(shape).tensor_lens()?;
        let parameters = Shape::from(shape).parameters()?;
        let table_len = match (header.element, header.hidden_activation) {
            (ElementType::I8, Activation::Sigmoid) => SIGMOID_TABLE_LEN,
            _ => 0,
        };
        let body = match header.element {
            ElementType::F32 => parameters.checked_mul(4),
            // Per channel: bias i32, requant (i32, i32), weight scale f32.
            ElementType::I8 => (shape[1].checked_add(shape[2]))
                .and_then(|channels| channels.checked_mul(16))
                .and_then(|n| n.checked_add(tensor_lens[0]))
                .and_then(|n| n.checked_add(tensor_lens[2]))
                .and_then(|n| n.checked_add(table_len)),
        };
        let weights_start = header_len
            .checked_next_multiple_of(WEIGHTS_ALIGN)
            .ok_or(Error::TooLarge)?;
        let total = body
            .and_then(|bytes| bytes.checked_add(weights_start))
            .and_then(|end| end.checked_add(CHECKSUM_LEN))
            .ok_or(Error::TooLarge)?;
        Ok(Self {
            shape,
            element: header.element,
            header_len,
            weights_start,
            tensor_lens,
            parameters,
            table_len,
            total,
        })
    }

    /// Byte range of tensor `t` from the start of the file (valid once `total` is checked).
    fn tensor_range(&self, t: Tensor) -> core::ops::Range<usize> {
        match self.element {
            ElementType::F32 => {
                let before: usize = self.tensor_lens.iter().take(t.index()).sum();
                let start = self.weights_start + 4 * before;
                start..start + 4 * self.tensor_lens[t.index()]
            }
            ElementType::I8 => self.i8_range(match t {
                Tensor::W1 => I8Array::W1,
                Tensor::B1 => I8Array::B1,
                Tensor::W2 => I8Array::W2,
                Tensor::B2 => I8Array::B2,
            }),
        }
    }

    /// Byte range of an int8 file's array `a` (valid once `total` is checked).
    fn i8_range(&self, a: I8Array) -> core::ops::Range<usize> {
        let [_, hidden, output] = self.shape;
        let len = |a: I8Array| match a {
            I8Array::B1 | I8Array::WeightScales1 => 4 * hidden,
            I8Array::Requant1 => 8 * hidden,
            I8Array::B2 | I8Array::WeightScales2 => 4 * output,
            I8Array::Requant2 => 8 * output,
            I8Array::W1 => self.tensor_lens[0],
            I8Array::W2 => self.tensor_lens[2],
            I8Array::SigmoidTable => self.table_len,
        };
        let mut start = self.weights_start;
        for b in I8Array::ALL {
            if b == a {
                break;
            }
            start += len(b);
        }
        start..start + len(a)
    }
}

/// Bytes of `n` as a postcard varint.
const fn varint_len(n: usize) -> usize {
    let mut len = 1;
    let mut rest = n >> 7;
    while rest != 0 {
        len += 1;
        rest >>= 7;
    }
    len
}

/// A class name is 1 to [`CLASS_NAME_MAX_LEN`] bytes of UTF-8 without control characters
/// (`inspect` and `predict` print it on one line).
fn check_class_name(index: usize, name: &str) -> Result<(), Error> {
    let ok =
        !name.is_empty() && name.len() <= CLASS_NAME_MAX_LEN && !name.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(Error::BadClassName { index })
    }
}

/// At most `output` names, each valid.
fn check_class_names(output: u32, names: &[&str]) -> Result<(), Error> {
    if u32::try_from(names.len()).map_or(true, |n| n > output) {
        return Err(Error::TooManyClassNames {
            found: names.len(),
            max: output as usize,
        });
    }
    for (index, name) in names.iter().enumerate() {
        check_class_name(index, name)?;
    }
    Ok(())
}

/// Bytes of the class-name list: a varint count, then each name as a varint length and UTF-8.
fn class_names_len(names: &[&str]) -> usize {
    names
        .iter()
        .map(|n| varint_len(n.len()) + n.len())
        .sum::<usize>()
        + varint_len(names.len())
}

/// The postcard bytes of `header` in `buf`, and their length.
fn encode_header(header: &Header, buf: &mut [u8; HEADER_MAX_LEN]) -> Result<usize, Error> {
    // A `Header` always fits HEADER_MAX_LEN; a failure here would be a bug in that constant.
    postcard::to_slice(header, buf)
        .map(|written| written.len())
        .map_err(|_| Error::BadHeader)
}

/// What a file holds after its header.
#[derive(Clone, Copy)]
enum Body<'x> {
    F32([&'x [f32]; 4]),
    I8(&'x MlpI8<'x>),
}

/// The bytes before the padding: the header (with the version the content needs), the class
/// names (version 2) and the quantisation header (int8), written into `out` if it is long
/// enough; returns their length either way.
fn write_preamble(
    header: &Header,
    names: &[&str],
    quant: Option<&QuantHeader>,
    out: &mut [u8],
) -> Result<usize, Error> {
    let mut head = [0u8; HEADER_MAX_LEN];
    let header_len = encode_header(header, &mut head)?;
    let mut q = [0u8; QUANT_HEADER_MAX_LEN];
    let quant_len = match quant {
        // A `QuantHeader` always fits; a failure would be a bug in QUANT_HEADER_MAX_LEN.
        Some(quant) => postcard::to_slice(quant, &mut q)
            .map_err(|_| Error::BadHeader)?
            .len(),
        None => 0,
    };
    let names_len = if header.version == VERSION {
        0
    } else {
        class_names_len(names)
    };
    let total = header_len + names_len + quant_len;
    let Some(out) = out.get_mut(..total) else {
        return Ok(total);
    };
    let (h, rest) = out.split_at_mut(header_len);
    h.copy_from_slice(&head[..header_len]);
    let (mut n, quant_out) = rest.split_at_mut(names_len);
    if names_len > 0 {
        put_varint(&mut n, names.len())?;
        for name in names {
            put_varint(&mut n, name.len())?;
            let (dst, rest) = core::mem::take(&mut n).split_at_mut(name.len());
            dst.copy_from_slice(name.as_bytes());
            n = rest;
        }
    }
    quant_out.copy_from_slice(&q[..quant_len]);
    Ok(total)
}

/// Writes `v` as a postcard varint at the start of `out` and moves `out` past it.
fn put_varint(out: &mut &mut [u8], v: usize) -> Result<(), Error> {
    let v = u32::try_from(v).map_err(|_| Error::TooLarge)?;
    let len = postcard::to_slice(&v, out)
        .map_err(|_| Error::TooLarge)?
        .len();
    *out = &mut core::mem::take(out)[len..];
    Ok(())
}

/// The header as the file will say it: version 1 for f32 without names, 2 otherwise.
fn written_header(header: &Header, names: &[&str]) -> Result<Header, Error> {
    if header.magic != MAGIC {
        return Err(Error::BadMagic {
            found: header.magic,
        });
    }
    if !(VERSION..=LATEST_VERSION).contains(&header.version) {
        return Err(Error::UnsupportedVersion {
            found: header.version,
        });
    }
    header.check_scaling()?;
    check_class_names(header.output, names)?;
    let version = if header.element == ElementType::F32 && names.is_empty() {
        VERSION
    } else {
        VERSION_2
    };
    Ok(Header { version, ..*header })
}

/// Everything before the checksum checked, the file written into `out`; its length.
fn encode_body(
    header: &Header,
    names: &[&str],
    body: Body<'_>,
    out: &mut [u8],
) -> Result<usize, Error> {
    let header = written_header(header, names)?;
    let quant = match body {
        Body::F32(_) if header.element != ElementType::F32 => {
            return Err(Error::ElementMismatch {
                expected: ElementType::F32,
                found: header.element,
            });
        }
        Body::F32(_) => None,
        Body::I8(m) => Some(m.quant_header()?),
    };
    let header_len = write_preamble(&header, names, quant.as_ref(), &mut [])?;
    let layout = Layout::new(&header, header_len)?;
    match body {
        Body::F32(tensors) => {
            for (t, tensor) in Tensor::ALL.into_iter().zip(tensors) {
                let expected = layout.tensor_lens[t.index()];
                if tensor.len() != expected {
                    return Err(Error::LengthMismatch {
                        tensor: Some(t),
                        expected,
                        found: tensor.len(),
                    });
                }
                if let Some(index) = tensor.iter().position(|w| !w.is_finite()) {
                    return Err(Error::NonFiniteWeight { tensor: t, index });
                }
            }
        }
        Body::I8(m) => m.check()?,
    }
    let found = out.len();
    let file = out.get_mut(..layout.total).ok_or(Error::BufferTooSmall {
        needed: layout.total,
        found,
    })?;
    let (head_and_pad, rest) = file.split_at_mut(layout.weights_start);
    let (body_bytes, checksum) =
        rest.split_at_mut(layout.total - layout.weights_start - CHECKSUM_LEN);
    head_and_pad.fill(0);
    write_preamble(&header, names, quant.as_ref(), head_and_pad)?;
    match body {
        Body::F32(tensors) => {
            let values = tensors.into_iter().flat_map(|t| t.iter());
            for (bytes, w) in body_bytes.chunks_exact_mut(4).zip(values) {
                bytes.copy_from_slice(&w.to_le_bytes());
            }
        }
        Body::I8(m) => write_i8_body(&layout, m, body_bytes),
    }
    let mut digest = CRC.digest();
    digest.update(head_and_pad);
    digest.update(body_bytes);
    checksum.copy_from_slice(&digest.finalize().to_le_bytes());
    Ok(layout.total)
}

/// Writes the int8 arrays of `m` into `body` (the bytes from the layout's `weights_start`) in
/// file order; `MlpI8::check` has checked every length.
fn write_i8_body(layout: &Layout, m: &MlpI8<'_>, body: &mut [u8]) {
    let start = layout.weights_start;
    for a in I8Array::ALL {
        let range = layout.i8_range(a);
        let out = &mut body[range.start - start..range.end - start];
        let l = match a {
            I8Array::B1 | I8Array::Requant1 | I8Array::WeightScales1 | I8Array::W1 => &m.layer1,
            _ => &m.layer2,
        };
        match a {
            I8Array::B1 | I8Array::B2 => {
                for (o, b) in out.chunks_exact_mut(4).zip(l.bias) {
                    o.copy_from_slice(&b.to_le_bytes());
                }
            }
            I8Array::Requant1 | I8Array::Requant2 => {
                for (o, r) in out.chunks_exact_mut(8).zip(l.requant) {
                    o[..4].copy_from_slice(&r.multiplier.to_le_bytes());
                    o[4..].copy_from_slice(&r.shift.to_le_bytes());
                }
            }
            I8Array::WeightScales1 | I8Array::WeightScales2 => {
                for (o, s) in out.chunks_exact_mut(4).zip(l.weight_scales) {
                    o.copy_from_slice(&s.to_le_bytes());
                }
            }
            I8Array::W1 | I8Array::W2 => {
                for (o, w) in out.iter_mut().zip(l.weights) {
                    *o = w.to_le_bytes()[0];
                }
            }
            I8Array::SigmoidTable => {
                for (o, t) in out.iter_mut().zip(m.sigmoid_table) {
                    *o = t.to_le_bytes()[0];
                }
            }
        }
    }
}

/// The exact length of the file [`encode`] writes for `header`.
///
/// # Errors
/// [`Error::TooLarge`] if the sizes overflow `usize`.
pub fn encoded_len(header: &Header) -> Result<usize, Error> {
    encoded_len_named(header, &[])
}

/// The exact length of the file [`encode_named`] writes for `header` and `class_names`.
///
/// # Errors
/// As [`encode_named`], except those about the tensors and `out`.
pub fn encoded_len_named(header: &Header, class_names: &[&str]) -> Result<usize, Error> {
    let header = written_header(header, class_names)?;
    let header_len = write_preamble(&header, class_names, None, &mut [])?;
    Ok(Layout::new(&header, header_len)?.total)
}

/// The exact length of the file [`encode_i8`] writes.
///
/// # Errors
/// As [`encode_i8`], except those about the arrays and `out`.
pub fn encoded_len_i8(model: &MlpI8<'_>, class_names: &[&str]) -> Result<usize, Error> {
    let header = written_header(&model.header()?, class_names)?;
    let quant = model.quant_header()?;
    let header_len = write_preamble(&header, class_names, Some(&quant), &mut [])?;
    Ok(Layout::new(&header, header_len)?.total)
}

/// Writes a version-1 f32 model file: `header`, then `tensors` = `[W1, b1, W2, b2]`
/// (row-major), into the start of `out`, and returns how many bytes it wrote.
///
/// # Errors
/// [`Error::BadMagic`] or [`Error::UnsupportedVersion`] if the header is not a version-1 header;
/// [`Error::BadHeader`] if its input scaling is not finite;
/// [`Error::ElementMismatch`] unless its element type is f32;
/// [`Error::LengthMismatch`] if a tensor's length disagrees with the header;
/// [`Error::NonFiniteWeight`] for a NaN or infinite weight; [`Error::BufferTooSmall`] if `out`
/// is shorter than [`encoded_len`]; [`Error::TooLarge`] for sizes that overflow `usize`.
pub fn encode(header: &Header, tensors: [&[f32]; 4], out: &mut [u8]) -> Result<usize, Error> {
    if header.magic != MAGIC {
        return Err(Error::BadMagic {
            found: header.magic,
        });
    }
    if header.version != VERSION {
        return Err(Error::UnsupportedVersion {
            found: header.version,
        });
    }
    encode_named(header, &[], tensors, out)
}

/// Writes an f32 model file with class names (version 2; version 1 if `class_names` is
/// empty): `class_names[k]` names output `k`, and there may be fewer names than outputs.
///
/// # Errors
/// As [`encode`] (but `header.version` may be 1 or 2: the version written is the one the
/// content needs), and [`Error::TooManyClassNames`], [`Error::BadClassName`].
pub fn encode_named(
    header: &Header,
    class_names: &[&str],
    tensors: [&[f32]; 4],
    out: &mut [u8],
) -> Result<usize, Error> {
    encode_body(header, class_names, Body::F32(tensors), out)
}

/// Writes an int8 model file (version 2) for `model`, with optional class names.
///
/// # Errors
/// Whatever [`MlpI8::check`] finds; [`Error::TooManyClassNames`], [`Error::BadClassName`];
/// [`Error::BufferTooSmall`] if `out` is shorter than [`encoded_len_i8`].
pub fn encode_i8(model: &MlpI8<'_>, class_names: &[&str], out: &mut [u8]) -> Result<usize, Error> {
    encode_body(&model.header()?, class_names, Body::I8(model), out)
}

/// Writes `mlp` as a model file into the start of `out`; see [`encode`].
///
/// # Errors
/// As [`encode`].
pub fn encode_mlp<const IN: usize, const H: usize, const OUT: usize>(
    mlp: &MlpRef<'_, IN, H, OUT>,
    out: &mut [u8],
) -> Result<usize, Error> {
    let tensors = [
        mlp.hidden.weights.as_flattened(),
        mlp.hidden.bias.as_slice(),
        mlp.output.weights.as_flattened(),
        mlp.output.bias.as_slice(),
    ];
    encode(&Header::for_mlp(mlp)?, tensors, out)
}

/// Bytes that may be borrowed as a model in place: `include_bytes!` only promises byte
/// alignment, so firmware wraps the file in this to make [`ModelFile::view`] work, e.g.
/// `static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!("model.nnm"));`.
#[derive(Debug)]
#[repr(C, align(16))]
pub struct Aligned<B: ?Sized>(pub B);

/// A model file whose every byte has been checked; see the module docs.
#[derive(Clone, Copy, Debug)]
pub struct ModelFile<'a> {
    header: Header,
    layout: Layout,
    /// The whole file, checksum included.
    bytes: &'a [u8],
    checksum: u32,
    /// The encoded class-name list (count, then names), checked; empty in version 1.
    class_names: &'a [u8],
    /// The quantisation header of an int8 file.
    quant: Option<QuantHeader>,
}

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

/// `bytes` as little-endian f32, four at a time (a trailing partial chunk is ignored; the
/// callers only pass whole tensors).
fn le_f32s(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// `bytes` as little-endian i32, four at a time.
fn le_i32s(bytes: &[u8]) -> impl Iterator<Item = i32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// `bytes` as little-endian `(multiplier, shift)` pairs, eight at a time.
fn le_requants(bytes: &[u8]) -> impl Iterator<Item = Requant> + '_ {
    bytes.chunks_exact(8).map(|c| Requant {
        multiplier: i32::from_le_bytes([c[0], c[1], c[2], c[3]]),
        shift: i32::from_le_bytes([c[4], c[5], c[6], c[7]]),
    })
}

/// Reads the class-name list at the start of `bytes`: checks it and returns its length.
fn read_class_names(bytes: &[u8], output: u32, found: usize) -> Result<usize, Error> {
    let (count, mut rest) =
        postcard::take_from_bytes::<u32>(bytes).map_err(|e| header_error(e, found))?;
    if count > output {
        return Err(Error::TooManyClassNames {
            found: count as usize,
            max: output as usize,
        });
    }
    for index in 0..count as usize {
        let (name, after) = postcard::take_from_bytes::<&str>(rest).map_err(|e| match e {
            postcard::Error::DeserializeUnexpectedEnd => header_error(e, found),
            _ => Error::BadClassName { index },
        })?;
        check_class_name(index, name)?;
        rest = after;
    }
    Ok(bytes.len() - rest.len())
}

impl<'a> ModelFile<'a> {
    /// Checks `bytes` as a complete model file, in this order: magic, version, header (then,
    /// in version 2, the class names and an int8 file's quantisation header), sizes and
    /// length, padding, checksum, then the values: finite f32 weights, or an int8 file's
    /// per-channel parameters and weights; last the limits that make its outputs finite
    /// (shape, and for f32 the activation bounds, see `check_limits`). Reads every byte once
    /// for the checksum, once for the values and once for the bounds; allocates nothing;
    /// never panics.
    ///
    /// # Errors
    /// One variant per failure: [`Error::BadMagic`], [`Error::UnsupportedVersion`],
    /// [`Error::BadHeader`], [`Error::TooManyClassNames`], [`Error::BadClassName`],
    /// [`Error::BadScale`], [`Error::BadZeroPoint`], [`Error::BadSoftmaxParams`],
    /// [`Error::ChannelCountMismatch`], [`Error::TooLarge`], [`Error::Truncated`],
    /// [`Error::TrailingBytes`], [`Error::NonZeroPadding`], [`Error::BadChecksum`],
    /// [`Error::NonFiniteWeight`], [`Error::BadRequant`], [`Error::WeightOutOfRange`],
    /// [`Error::AccumulatorOverflow`], and for a file that is intact but not runnable
    /// [`Error::BadShape`], [`Error::ScalingTooLarge`], [`Error::MayOverflow`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let found = bytes.len();
        let mut magic = [0u8; 4];
        for (m, b) in magic.iter_mut().zip(bytes) {
            *m = *b;
        }
        if magic.get(..found.min(4)) != MAGIC.get(..found.min(4)) {
            return Err(Error::BadMagic { found: magic });
        }

        let (prelude, _) =
            postcard::take_from_bytes::<Prelude>(bytes).map_err(|e| header_error(e, found))?;
        if !(VERSION..=LATEST_VERSION).contains(&prelude.version) {
            return Err(Error::UnsupportedVersion {
                found: prelude.version,
            });
        }
        let (header, after_header) =
            postcard::take_from_bytes::<Header>(bytes).map_err(|e| header_error(e, found))?;
        header.check_scaling()?;
        let (class_names, after_names) = if header.version == VERSION {
            if header.element != ElementType::F32 {
                return Err(Error::BadHeader);
            }
            (&after_header[..0], after_header)
        } else {
            let len = read_class_names(after_header, header.output, found)?;
            after_header.split_at(len)
        };
        let (quant, after_quant) = match header.element {
            ElementType::F32 => (None, after_names),
            ElementType::I8 => {
                let (quant, rest) = postcard::take_from_bytes::<QuantHeader>(after_names)
                    .map_err(|e| header_error(e, found))?;
                model_i8::check_quant_header(&header, &quant)?;
                (Some(quant), rest)
            }
        };

        let layout = Layout::new(&header, found - after_quant.len())?;
        if found < layout.total {
            return Err(Error::Truncated {
                needed: layout.total,
                found,
            });
        }
        if found > layout.total {
            return Err(Error::TrailingBytes {
                expected: layout.total,
                found,
            });
        }

        let padding = bytes
            .get(layout.header_len..layout.weights_start)
            .unwrap_or_default();
        if let Some(i) = padding.iter().position(|&b| b != 0) {
            return Err(Error::NonZeroPadding {
                offset: layout.header_len + i,
            });
        }

        let (body, stored) = bytes
            .split_last_chunk::<CHECKSUM_LEN>()
            .ok_or(Error::Truncated {
                needed: layout.total,
                found,
            })?;
        let stored = u32::from_le_bytes(*stored);
        let computed = CRC.checksum(body);
        if stored != computed {
            return Err(Error::BadChecksum { stored, computed });
        }

        let file = Self {
            header,
            layout,
            bytes,
            checksum: stored,
            class_names,
            quant,
        };
        match header.element {
            ElementType::F32 => {
                for t in Tensor::ALL {
                    if let Some(index) = file.tensor(t).position(|w| !w.is_finite()) {
                        return Err(Error::NonFiniteWeight { tensor: t, index });
                    }
                }
            }
            ElementType::I8 => {
                let [input, hidden, _] = layout.shape;
                let layers = [
                    (QuantTensor::W1, input, [I8Array::W1, I8Array::B1]),
                    (QuantTensor::W2, hidden, [I8Array::W2, I8Array::B2]),
                ];
                let per_channel = [
                    [I8Array::Requant1, I8Array::WeightScales1],
                    [I8Array::Requant2, I8Array::WeightScales2],
                ];
                for ((layer, cols, [w, b]), [r, s]) in layers.into_iter().zip(per_channel) {
                    model_i8::check_layer(
                        layer,
                        cols,
                        bytemuck::cast_slice(file.i8_bytes(w)),
                        le_i32s(file.i8_bytes(b)),
                        le_requants(file.i8_bytes(r)),
                        le_f32s(file.i8_bytes(s)),
                    )?;
                }
            }
        }
        file.check_limits()?;
        Ok(file)
    }

    /// The limits that make every accepted model runnable, checked last by [`ModelFile::parse`]
    /// (see "Limits and the finite-output guarantee" in the crate README):
    ///
    /// 1. shape: at least 1 hidden unit and [`MIN_OUTPUTS`] outputs (any number of inputs,
    ///    0 included: such a model is a constant, still finite; hosts check the input count
    ///    against their data);
    /// 2. bounded activations: for pixels in 0–255, `|x| ≤ 255·|scale| + |offset|`; each
    ///    hidden pre-activation is at most `Σ|W1_row|·max|x| + |b1|`; a hidden output is at
    ///    most that (identity, ReLU) or 1 (sigmoid, softmax); each logit is at most
    ///    `Σ|W2_row|·max|h| + |b2|`. Every bound, computed in f64, must stay within
    ///    [`MAX_ACTIVATION`], far enough below `f32::MAX` that f32 rounding in any order of
    ///    summation cannot reach infinity. Finite logits give a finite softmax (it subtracts the
    ///    largest logit), so inference on an accepted file never yields NaN or infinity.
    fn check_limits(&self) -> Result<(), Error> {
        let [input, hidden, output] = self.layout.shape;
        if hidden < 1 || output < MIN_OUTPUTS {
            return Err(Error::BadShape {
                shape: self.layout.shape,
            });
        }
        // An int8 model's arithmetic is integer and its outputs are (q + 128) / 256: always
        // finite. An f32 model's need the bounds below.
        if self.header.element == ElementType::I8 {
            return Ok(());
        }
        let limit = f64::from(MAX_ACTIVATION);
        let scaling = self.header.scaling;
        let x_max = 255.0 * f64::from(scaling.scale).abs() + f64::from(scaling.offset).abs();
        if x_max > limit {
            return Err(Error::ScalingTooLarge);
        }
        // The largest `Σ|w_row|·in_max + |b|` over the rows of a layer, or the first row past
        // the limit.
        let layer = |w: Tensor, b: Tensor, row_len: usize, in_max: f64| -> Result<f64, Error> {
            let mut worst = 0.0f64;
            let mut weights = self.tensor(w);
            for (row, bias) in self.tensor(b).enumerate() {
                let sum: f64 = weights
                    .by_ref()
                    .take(row_len)
                    .map(|v| f64::from(v).abs())
                    .sum();
                let bound = sum * in_max + f64::from(bias).abs();
                if bound > limit {
                    return Err(Error::MayOverflow { tensor: w, row });
                }
                worst = worst.max(bound);
            }
            Ok(worst)
        };
        let pre_max = layer(Tensor::W1, Tensor::B1, input, x_max)?;
        let h_max = match self.header.hidden_activation {
            Activation::Sigmoid | Activation::Softmax => 1.0,
            Activation::Identity | Activation::Relu => pre_max,
        };
        layer(Tensor::W2, Tensor::B2, hidden, h_max)?;
        Ok(())
    }

    /// The decoded header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// `[input, hidden, output]`.
    pub fn shape(&self) -> [usize; 3] {
        self.layout.shape
    }

    /// How the weights are stored.
    pub fn element(&self) -> ElementType {
        self.header.element
    }

    /// Number of parameters: `hidden*input + hidden + output*hidden + output` (weights and
    /// biases; f32 or, in an int8 file, int8 weights and int32 biases).
    pub fn parameter_count(&self) -> usize {
        self.layout.parameters
    }

    /// The file's CRC-32 (checked by [`ModelFile::parse`]): a short fingerprint of the model.
    pub fn checksum(&self) -> u32 {
        self.checksum
    }

    /// The whole file, checksum included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Offset of the first weight from the start of the file (a multiple of [`WEIGHTS_ALIGN`]).
    pub fn weights_offset(&self) -> usize {
        self.layout.weights_start
    }

    /// The class names: `k`-th is output `k`'s; none in version 1, at most `output`.
    pub fn class_names(&self) -> ClassNames<'a> {
        ClassNames {
            bytes: self.class_names,
        }
    }

    /// An int8 file's quantisation header; `None` for f32.
    pub fn quant_header(&self) -> Option<&QuantHeader> {
        self.quant.as_ref()
    }

    /// The little-endian bytes of tensor `t` (f32, or an int8 file's int8 weights and int32
    /// biases).
    pub fn tensor_bytes(&self, t: Tensor) -> &'a [u8] {
        // Parse checked that the file holds every tensor, so the range is in bounds.
        self.bytes
            .get(self.layout.tensor_range(t))
            .unwrap_or_default()
    }

    /// The values of f32 tensor `t`, row-major, at any alignment; nothing for an int8 file
    /// (see [`ModelFile::slices_i8`]).
    pub fn tensor(&self, t: Tensor) -> impl Iterator<Item = f32> + 'a {
        let bytes = match self.header.element {
            ElementType::F32 => self.tensor_bytes(t),
            ElementType::I8 => &[],
        };
        le_f32s(bytes)
    }

    fn i8_bytes(&self, a: I8Array) -> &'a [u8] {
        // Parse checked the length, so the range is in bounds.
        self.bytes.get(self.layout.i8_range(a)).unwrap_or_default()
    }

    fn expect_element(&self, expected: ElementType) -> Result<(), Error> {
        if self.header.element == expected {
            Ok(())
        } else {
            Err(Error::ElementMismatch {
                expected,
                found: self.header.element,
            })
        }
    }

    /// Copies every parameter, in file order (`W1, b1, W2, b2`), into `out`, which must hold
    /// exactly [`ModelFile::parameter_count`] values. With [`ModelFile::slices_in`] this runs a
    /// model whose sizes are only known at run time from a `Vec<f32>`, at any alignment.
    ///
    /// # Errors
    /// [`Error::ElementMismatch`] for an int8 file; [`Error::LengthMismatch`] if `out` has the
    /// wrong length.
    pub fn copy_parameters(&self, out: &mut [f32]) -> Result<(), Error> {
        self.expect_element(ElementType::F32)?;
        if out.len() != self.layout.parameters {
            return Err(Error::LengthMismatch {
                tensor: None,
                expected: self.layout.parameters,
                found: out.len(),
            });
        }
        let start = self.layout.weights_start;
        let weights = self
            .bytes
            .get(start..start + 4 * self.layout.parameters)
            .unwrap_or_default();
        for (o, w) in out.iter_mut().zip(le_f32s(weights)) {
            *o = w;
        }
        Ok(())
    }

    /// This model's size-erased form over `parameters`, a buffer filled by
    /// [`ModelFile::copy_parameters`].
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `parameters` has the wrong length.
    pub fn slices_in<'b>(&self, parameters: &'b [f32]) -> Result<MlpSlices<'b>, Error> {
        self.header.slices_in(parameters)
    }

    /// This model's size-erased form, borrowing the weights in place.
    ///
    /// # Errors
    /// [`Error::ElementMismatch`] for an int8 file; [`Error::Misaligned`] unless the file's
    /// bytes start at a 4-byte aligned address (hosts reading a file into a `Vec<u8>` get no
    /// such promise: use [`ModelFile::copy_parameters`]); [`Error::BigEndianTarget`] on a
    /// big-endian target.
    pub fn slices(&self) -> Result<MlpSlices<'a>, Error> {
        self.expect_element(ElementType::F32)?;
        let cast = |t| self.borrow_tensor(t);
        Ok(self.slices_of([
            cast(Tensor::W1)?,
            cast(Tensor::B1)?,
            cast(Tensor::W2)?,
            cast(Tensor::B2)?,
        ]))
    }

    /// The model as `Mlp<IN, H, OUT>`'s borrowed form, weights borrowed in place (zero copy).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the file's shape is not `IN-H-OUT`; otherwise as
    /// [`ModelFile::slices`].
    pub fn view<const IN: usize, const H: usize, const OUT: usize>(
        &self,
    ) -> Result<MlpRef<'a, IN, H, OUT>, Error> {
        self.check_shape([IN, H, OUT])?;
        self.expect_element(ElementType::F32)?;
        Ok(MlpRef {
            hidden: DenseRef {
                weights: self.borrow_array(Tensor::W1)?,
                bias: self.borrow_array(Tensor::B1)?,
            },
            output: DenseRef {
                weights: self.borrow_array(Tensor::W2)?,
                bias: self.borrow_array(Tensor::B2)?,
            },
            hidden_activation: self.header.hidden_activation,
            output_activation: self.header.output_activation,
            scaling: self.header.scaling,
        })
    }

    /// Copies the model into `mlp`, at any alignment, without building an `Mlp` on the stack
    /// (it is megabytes for MNIST): give it one in a `static` or a `Box`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the file's shape is not `IN-H-OUT`, [`Error::ElementMismatch`]
    /// for an int8 file; `mlp` is then untouched.
    pub fn decode_into<const IN: usize, const H: usize, const OUT: usize>(
        &self,
        mlp: &mut Mlp<IN, H, OUT>,
    ) -> Result<(), Error> {
        self.check_shape([IN, H, OUT])?;
        self.expect_element(ElementType::F32)?;
        let copy = |t, out: &mut [f32]| {
            for (o, w) in out.iter_mut().zip(self.tensor(t)) {
                *o = w;
            }
        };
        copy(Tensor::W1, mlp.hidden.weights.as_mut_slice());
        copy(Tensor::B1, &mut mlp.hidden.bias.0);
        copy(Tensor::W2, mlp.output.weights.as_mut_slice());
        copy(Tensor::B2, &mut mlp.output.bias.0);
        mlp.hidden_activation = self.header.hidden_activation;
        mlp.output_activation = self.header.output_activation;
        mlp.scaling = self.header.scaling;
        Ok(())
    }

    /// An int8 model's size-erased form, borrowing every array in place (zero copy, e.g. from
    /// flash). Hosts that read the file into a `Vec<u8>` copy it into 16-byte aligned memory
    /// first.
    ///
    /// # Errors
    /// [`Error::ElementMismatch`] for an f32 file; [`Error::Misaligned`] unless the file's bytes
    /// start at a 4-byte aligned address; [`Error::BigEndianTarget`] on a big-endian target.
    pub fn slices_i8(&self) -> Result<MlpI8<'a>, Error> {
        self.expect_element(ElementType::I8)?;
        let Some(q) = self.quant else {
            return Err(Error::ElementMismatch {
                expected: ElementType::I8,
                found: ElementType::F32,
            });
        };
        if cfg!(target_endian = "big") {
            return Err(Error::BigEndianTarget);
        }
        let i8s = |a| bytemuck::cast_slice::<u8, i8>(self.i8_bytes(a));
        let [input, hidden, output] = self.layout.shape;
        Ok(MlpI8 {
            input,
            hidden,
            output,
            hidden_activation: self.header.hidden_activation,
            scaling: self.header.scaling,
            input_quant: q.input,
            hidden_quant: q.hidden,
            logits_quant: q.logits,
            softmax: SoftmaxI8Params {
                input_multiplier: q.softmax_input_multiplier,
                input_left_shift: q.softmax_input_left_shift,
                diff_min: q.softmax_diff_min,
            },
            layer1: DenseI8 {
                weights: i8s(I8Array::W1),
                bias: self.borrow_words(I8Array::B1)?,
                requant: self.borrow_words(I8Array::Requant1)?,
                weight_scales: self.borrow_words(I8Array::WeightScales1)?,
            },
            layer2: DenseI8 {
                weights: i8s(I8Array::W2),
                bias: self.borrow_words(I8Array::B2)?,
                requant: self.borrow_words(I8Array::Requant2)?,
                weight_scales: self.borrow_words(I8Array::WeightScales2)?,
            },
            sigmoid_table: i8s(I8Array::SigmoidTable),
        })
    }

    /// An int8 model with its sizes in the type, borrowed in place: what firmware runs from
    /// flash (`static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!(..))`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the file's shape is not `IN-H-OUT`; otherwise as
    /// [`ModelFile::slices_i8`].
    pub fn view_i8<const IN: usize, const H: usize, const OUT: usize>(
        &self,
    ) -> Result<MlpI8Ref<'a, IN, H, OUT>, Error> {
        self.check_shape([IN, H, OUT])?;
        MlpI8Ref::new(self.slices_i8()?)
    }

    /// Array `a` of an int8 file as 4-byte values in place.
    fn borrow_words<T: bytemuck::Pod>(&self, a: I8Array) -> Result<&'a [T], Error> {
        bytemuck::try_cast_slice(self.i8_bytes(a)).map_err(|_| Error::Misaligned)
    }

    fn check_shape(&self, expected: [usize; 3]) -> Result<(), Error> {
        if self.layout.shape == expected {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                expected,
                found: self.layout.shape,
            })
        }
    }

    /// Tensor `t` as f32 in place: needs 4-byte alignment and a little-endian target.
    fn borrow_tensor(&self, t: Tensor) -> Result<&'a [f32], Error> {
        if cfg!(target_endian = "big") {
            return Err(Error::BigEndianTarget);
        }
        bytemuck::try_cast_slice(self.tensor_bytes(t)).map_err(|_| Error::Misaligned)
    }

    /// Tensor `t` as a fixed-size array in place; the caller has checked the shape, so only
    /// the alignment (or the target's byte order) can be wrong.
    fn borrow_array<T: bytemuck::Pod>(&self, t: Tensor) -> Result<&'a T, Error> {
        if cfg!(target_endian = "big") {
            return Err(Error::BigEndianTarget);
        }
        bytemuck::try_from_bytes(self.tensor_bytes(t)).map_err(|e| match e {
            bytemuck::PodCastError::SizeMismatch => Error::LengthMismatch {
                tensor: Some(t),
                expected: core::mem::size_of::<T>() / 4,
                found: self.layout.tensor_lens[t.index()],
            },
            _ => Error::Misaligned,
        })
    }

    fn slices_of<'b>(&self, tensors: [&'b [f32]; 4]) -> MlpSlices<'b> {
        self.header.mlp_slices(tensors, self.layout.shape)
    }
}

/// The class names of a model file, in output order (see [`ModelFile::class_names`]).
#[derive(Clone, Copy, Debug)]
pub struct ClassNames<'a> {
    /// The encoded list, count first, already checked by [`ModelFile::parse`].
    bytes: &'a [u8],
}

impl<'a> ClassNames<'a> {
    /// How many names there are.
    pub fn count(&self) -> usize {
        postcard::take_from_bytes::<u32>(self.bytes).map_or(0, |(n, _)| n as usize)
    }

    /// Name `k`, if the file has one.
    pub fn get(&self, k: usize) -> Option<&'a str> {
        self.into_iter().nth(k)
    }
}

impl<'a> IntoIterator for ClassNames<'a> {
    type Item = &'a str;
    type IntoIter = ClassNamesIter<'a>;

    fn into_iter(self) -> ClassNamesIter<'a> {
        let (remaining, rest) = postcard::take_from_bytes::<u32>(self.bytes).unwrap_or((0, &[]));
        ClassNamesIter { rest, remaining }
    }
}

/// Iterator over [`ClassNames`].
#[derive(Clone, Debug)]
pub struct ClassNamesIter<'a> {
    rest: &'a [u8],
    remaining: u32,
}

impl<'a> Iterator for ClassNamesIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.remaining == 0 {
            return None;
        }
        // Parse checked the list; a failure here cannot happen, and ends the iteration.
        let (name, rest) = postcard::take_from_bytes::<&str>(self.rest).ok()?;
        self.rest = rest;
        self.remaining -= 1;
        Some(name)
    }
}
