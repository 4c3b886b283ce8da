//! The model file, version 1: a postcard [`Header`], zero padding to a multiple of 16 bytes,
//! the weights as little-endian f32 (`W1`, `b1`, `W2`, `b2`), and a CRC-32 of everything before
//! it. The full byte layout is in the crate README.
//!
//! [`ModelFile::parse`] validates a file completely, without allocating and without panicking on
//! any input; then [`ModelFile::view`] borrows the weights in place (zero copy, e.g. from flash)
//! and [`ModelFile::decode_into`] copies them into an owned [`Mlp`]. The size-erased work is done
//! once, in [`ModelFile::parse`]; only the thin typed accessors are compiled per model size.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::error::Error;
use crate::model::{DenseRef, InputScaling, Mlp, MlpRef, MlpSlices};

/// The first four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"NNMF";
/// The format version this crate writes and reads.
pub const VERSION: u16 = 1;
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

/// CRC-32/ISO-HDLC, the one zlib, PNG and `crc32` compute (also used by the serial frames).
pub(crate) static CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// How each weight is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ElementType {
    /// IEEE-754 binary32, little-endian.
    F32,
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
        let [input, hidden, output] = self.shape()?;
        let w1 = input.checked_mul(hidden).ok_or(Error::TooLarge)?;
        let w2 = output.checked_mul(hidden).ok_or(Error::TooLarge)?;
        let expected = w1
            .checked_add(hidden)
            .and_then(|n| n.checked_add(w2))
            .and_then(|n| n.checked_add(output))
            .ok_or(Error::TooLarge)?;
        if parameters.len() != expected {
            return Err(Error::LengthMismatch {
                tensor: None,
                expected,
                found: parameters.len(),
            });
        }
        let (w1, rest) = parameters.split_at(w1);
        let (b1, rest) = rest.split_at(hidden);
        let (w2, b2) = rest.split_at(w2);
        Ok(MlpSlices {
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
        })
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

/// Where everything lies in a file, computed from a header with checked arithmetic so that a
/// hostile header (say 2^32 × 2^32 weights) becomes [`Error::TooLarge`], never an overflow.
#[derive(Clone, Copy, Debug)]
struct Layout {
    shape: [usize; 3],
    header_len: usize,
    weights_start: usize,
    /// Elements of W1, b1, W2, b2.
    tensor_lens: [usize; 4],
    parameters: usize,
    /// Everything, checksum included.
    total: usize,
}

impl Layout {
    fn new(header: &Header, header_len: usize) -> Result<Self, Error> {
        let shape @ [input, hidden, output] = header.shape()?;
        let w1 = hidden.checked_mul(input).ok_or(Error::TooLarge)?;
        let w2 = output.checked_mul(hidden).ok_or(Error::TooLarge)?;
        let tensor_lens = [w1, hidden, w2, output];
        let parameters = tensor_lens
            .iter()
            .try_fold(0usize, |sum, &n| sum.checked_add(n))
            .ok_or(Error::TooLarge)?;
        let weights_start = header_len
            .checked_next_multiple_of(WEIGHTS_ALIGN)
            .ok_or(Error::TooLarge)?;
        let total = parameters
            .checked_mul(4)
            .and_then(|bytes| bytes.checked_add(weights_start))
            .and_then(|end| end.checked_add(CHECKSUM_LEN))
            .ok_or(Error::TooLarge)?;
        Ok(Self {
            shape,
            header_len,
            weights_start,
            tensor_lens,
            parameters,
            total,
        })
    }

    /// Byte range of tensor `t` from the start of the file (valid once `total` is checked).
    fn tensor_range(&self, t: Tensor) -> core::ops::Range<usize> {
        let before: usize = self.tensor_lens.iter().take(t.index()).sum();
        let start = self.weights_start + 4 * before;
        start..start + 4 * self.tensor_lens[t.index()]
    }
}

/// The postcard bytes of `header` in `buf`, and their length.
fn encode_header(header: &Header, buf: &mut [u8; HEADER_MAX_LEN]) -> Result<usize, Error> {
    // A `Header` always fits HEADER_MAX_LEN; a failure here would be a bug in that constant.
    postcard::to_slice(header, buf)
        .map(|written| written.len())
        .map_err(|_| Error::BadHeader)
}

/// The exact length of the file [`encode`] writes for `header`.
///
/// # Errors
/// [`Error::TooLarge`] if the sizes overflow `usize`.
pub fn encoded_len(header: &Header) -> Result<usize, Error> {
    let mut buf = [0u8; HEADER_MAX_LEN];
    let header_len = encode_header(header, &mut buf)?;
    Ok(Layout::new(header, header_len)?.total)
}

/// Writes a model file: `header`, then `tensors` = `[W1, b1, W2, b2]` (row-major), into the
/// start of `out`, and returns how many bytes it wrote.
///
/// # Errors
/// [`Error::BadMagic`] or [`Error::UnsupportedVersion`] if the header is not a version-1 header;
/// [`Error::BadHeader`] if its input scaling is not finite;
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
    let mut head = [0u8; HEADER_MAX_LEN];
    header.check_scaling()?;
    let header_len = encode_header(header, &mut head)?;
    let layout = Layout::new(header, header_len)?;
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
    let found = out.len();
    let file = out.get_mut(..layout.total).ok_or(Error::BufferTooSmall {
        needed: layout.total,
        found,
    })?;

    let (head_and_pad, rest) = file.split_at_mut(layout.weights_start);
    let (weights, checksum) = rest.split_at_mut(4 * layout.parameters);
    head_and_pad.fill(0);
    head_and_pad[..header_len].copy_from_slice(&head[..header_len]);
    let values = tensors.into_iter().flat_map(|t| t.iter());
    for (bytes, w) in weights.chunks_exact_mut(4).zip(values) {
        bytes.copy_from_slice(&w.to_le_bytes());
    }
    let mut digest = CRC.digest();
    digest.update(head_and_pad);
    digest.update(weights);
    checksum.copy_from_slice(&digest.finalize().to_le_bytes());
    Ok(layout.total)
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
/// `static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!("model.nnmf"));`.
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

impl<'a> ModelFile<'a> {
    /// Checks `bytes` as a complete model file, in this order: magic, version, header, sizes
    /// and length, padding, checksum, finite weights, then the limits that make its outputs
    /// finite (shape and activation bounds, see `check_limits`). Reads every byte once for the
    /// checksum, once for finiteness and once for the bounds; allocates nothing; never panics.
    ///
    /// # Errors
    /// One variant per failure: [`Error::BadMagic`], [`Error::UnsupportedVersion`],
    /// [`Error::BadHeader`], [`Error::TooLarge`], [`Error::Truncated`],
    /// [`Error::TrailingBytes`], [`Error::NonZeroPadding`], [`Error::BadChecksum`],
    /// [`Error::NonFiniteWeight`], and for a file that is intact but not runnable
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
        if prelude.version != VERSION {
            return Err(Error::UnsupportedVersion {
                found: prelude.version,
            });
        }
        let (header, after_header) =
            postcard::take_from_bytes::<Header>(bytes).map_err(|e| header_error(e, found))?;
        header.check_scaling()?;

        let layout = Layout::new(&header, found - after_header.len())?;
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
        };
        for t in Tensor::ALL {
            if let Some(index) = file.tensor(t).position(|w| !w.is_finite()) {
                return Err(Error::NonFiniteWeight { tensor: t, index });
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

    /// Number of f32 parameters: `hidden*input + hidden + output*hidden + output`.
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

    /// The little-endian bytes of tensor `t`.
    pub fn tensor_bytes(&self, t: Tensor) -> &'a [u8] {
        // Parse checked that the file holds every tensor, so the range is in bounds.
        self.bytes
            .get(self.layout.tensor_range(t))
            .unwrap_or_default()
    }

    /// The values of tensor `t`, row-major, at any alignment.
    pub fn tensor(&self, t: Tensor) -> impl Iterator<Item = f32> + 'a {
        le_f32s(self.tensor_bytes(t))
    }

    /// Copies every parameter, in file order (`W1, b1, W2, b2`), into `out`, which must hold
    /// exactly [`ModelFile::parameter_count`] values. With [`ModelFile::slices_in`] this runs a
    /// model whose sizes are only known at run time from a `Vec<f32>`, at any alignment.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `out` has the wrong length.
    pub fn copy_parameters(&self, out: &mut [f32]) -> Result<(), Error> {
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
    /// [`Error::Misaligned`] unless the file's bytes start at a 4-byte aligned address (hosts
    /// reading a file into a `Vec<u8>` get no such promise: use [`ModelFile::copy_parameters`]);
    /// [`Error::BigEndianTarget`] on a big-endian target.
    pub fn slices(&self) -> Result<MlpSlices<'a>, Error> {
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
    /// [`Error::ShapeMismatch`] if the file's shape is not `IN-H-OUT`; `mlp` is then untouched.
    pub fn decode_into<const IN: usize, const H: usize, const OUT: usize>(
        &self,
        mlp: &mut Mlp<IN, H, OUT>,
    ) -> Result<(), Error> {
        self.check_shape([IN, H, OUT])?;
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

    fn slices_of<'b>(&self, [w1, b1, w2, b2]: [&'b [f32]; 4]) -> MlpSlices<'b> {
        let [input, hidden, output] = self.layout.shape;
        MlpSlices {
            w1,
            b1,
            w2,
            b2,
            input,
            hidden,
            output,
            hidden_activation: self.header.hidden_activation,
            output_activation: self.header.output_activation,
            scaling: self.header.scaling,
        }
    }
}
