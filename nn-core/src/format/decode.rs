//! Reading a model file: [`ModelFile::parse`] checks every byte, then its accessors borrow or
//! copy the weights.

use serde::Deserialize;

use super::class_names::read_class_names;
use super::int8;
use super::layout::{I8Array, Layout};
use super::{
    CHECKSUM_LEN, CRC, ClassNames, ElementType, Header, LATEST_VERSION, MAGIC, MAX_ACTIVATION,
    MIN_OUTPUTS, QuantHeader, QuantTensor, Tensor, VERSION, header_error,
};
use crate::activation::Activation;
use crate::error::Error;
use crate::model::{DenseRef, Mlp, MlpRef, MlpSlices};
use crate::model_i8::{DenseI8, MlpI8, MlpI8Ref};
use crate::quant::{Requant, SoftmaxI8Params};

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

/// The first two fields of [`Header`], read alone so that a future version's header (which
/// may differ after them) is reported as [`Error::UnsupportedVersion`], not as a bad header.
#[derive(Deserialize)]
struct Prelude {
    _magic: [u8; 4],
    version: u16,
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
                int8::check_quant_header(&header, &quant)?;
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
                    int8::check_layer(
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
            Activation::Sigmoid | Activation::Softmax | Activation::Tanh => 1.0,
            Activation::Relu6 => 6.0,
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
    ///
    /// [`WEIGHTS_ALIGN`]: super::WEIGHTS_ALIGN
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
