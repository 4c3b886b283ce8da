//! Reading a model file: [`ModelFile::parse`] checks every byte, then [`ModelFile::model`]
//! borrows the network in place, and the two-layer accessors borrow or copy the weights of a
//! depth-2 model.

use serde::Deserialize;

use super::class_names::read_class_names;
use super::int8;
use super::layout::{LayerHead, Layout};
use super::{
    CHECKSUM_LEN, CRC, ClassNames, ElementType, Header, HeaderV3, LATEST_VERSION, LayerHeader,
    MAGIC, MAX_ACTIVATION, MIN_OUTPUTS, QuantHeader, QuantTensor, Tensor, VERSION, VERSION_3,
    header_error,
};
use crate::activation::Activation;
use crate::error::Error;
use crate::model::{DenseRef, Mlp, MlpRef, MlpSlices};
use crate::model_i8::{DenseI8, MAX_OUTPUTS, MlpI8, MlpI8Ref};
use crate::network::{LayerF32, LayerI8, Layers, MAX_LAYERS, Model, ModelF32, ModelI8};
use crate::quant::{Requant, SoftmaxI8Params};
use crate::types::TensorQuant;

/// Bytes that may be borrowed as a model in place: `include_bytes!` only promises byte
/// alignment, so firmware wraps the file in this to make [`ModelFile::view`] work, e.g.
/// `static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!("model.nnm"));`.
#[derive(Debug)]
#[repr(C, align(16))]
pub struct Aligned<B: ?Sized>(pub B);

/// A model file whose every byte has been checked; see the module docs.
#[derive(Clone, Copy, Debug)]
pub struct ModelFile<'a> {
    /// As read (versions 1 and 2) or summarised (version 3; see [`ModelFile::header`]).
    header: Header,
    layout: Layout,
    /// The whole file, checksum included.
    bytes: &'a [u8],
    checksum: u32,
    /// The encoded class-name list (count, then names), checked; empty in version 1.
    class_names: &'a [u8],
    /// The quantisation header of a version-2 int8 file.
    quant: Option<QuantHeader>,
    /// An int8 file's input quantisation.
    input: TensorQuant,
    /// Whether a softmax follows the last layer.
    softmax: bool,
    /// An int8 file's softmax.
    softmax_i8: Option<SoftmaxI8Params>,
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

/// What a file says before its padding, read by [`read_two_layer`] or [`read_v3`].
struct Preamble<'a> {
    header: Header,
    layout: Layout,
    class_names: &'a [u8],
    quant: Option<QuantHeader>,
    input: TensorQuant,
    softmax: bool,
    softmax_i8: Option<SoftmaxI8Params>,
}

/// Reads a version-1 or version-2 preamble: [`Header`], then in version 2 the class names and
/// an int8 file's [`QuantHeader`].
fn read_two_layer(bytes: &[u8]) -> Result<Preamble<'_>, Error> {
    let found = bytes.len();
    let (header, after_header) =
        postcard::take_from_bytes::<Header>(bytes).map_err(|e| header_error(e, found))?;
    header.check_scaling()?;
    // Relu6 and tanh came with version 3; softmax is only an output.
    for (layer, activation) in [header.hidden_activation, header.output_activation]
        .into_iter()
        .enumerate()
    {
        let softmax_hidden = layer == 0 && activation == Activation::Softmax;
        if softmax_hidden || matches!(activation, Activation::Relu6 | Activation::Tanh) {
            return Err(Error::BadActivation {
                layer,
                found: activation,
            });
        }
    }
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
    let outputs = quant.map_or([LayerHead::EMPTY.output; 2], |q| [q.hidden, q.logits]);
    let layout = Layout::two_layer(&header, outputs, found - after_quant.len())?;
    Ok(Preamble {
        header,
        layout,
        class_names,
        quant,
        input: quant.map_or(LayerHead::EMPTY.output, |q| q.input),
        softmax: header.output_activation == Activation::Softmax,
        softmax_i8: quant.map(|q| SoftmaxI8Params {
            input_multiplier: q.softmax_input_multiplier,
            input_left_shift: q.softmax_input_left_shift,
            diff_min: q.softmax_diff_min,
        }),
    })
}

/// Reads a version-3 preamble: [`HeaderV3`], `depth` [`LayerHeader`]s, for int8 the input's
/// and every layer's output quantisation and the softmax parameters, then the class names.
fn read_v3(bytes: &[u8]) -> Result<Preamble<'_>, Error> {
    let found = bytes.len();
    let take = |b| header_error(b, found);
    let (h, mut rest) = postcard::take_from_bytes::<HeaderV3>(bytes).map_err(take)?;
    if !(h.scaling.scale.is_finite() && h.scaling.offset.is_finite()) {
        return Err(Error::BadHeader);
    }
    let depth = usize::from(h.depth);
    if !(1..=MAX_LAYERS).contains(&depth) {
        return Err(Error::BadDepth { depth });
    }
    let inputs = usize::try_from(h.inputs).map_err(|_| Error::TooLarge)?;
    let mut heads = [LayerHead::EMPTY; MAX_LAYERS];
    for (layer, head) in heads.iter_mut().enumerate().take(depth) {
        let (l, after) = postcard::take_from_bytes::<LayerHeader>(rest).map_err(take)?;
        rest = after;
        if l.outputs == 0 {
            return Err(Error::EmptyLayer { layer });
        }
        if l.activation == Activation::Softmax {
            return Err(Error::BadActivation {
                layer,
                found: l.activation,
            });
        }
        head.outputs = usize::try_from(l.outputs).map_err(|_| Error::TooLarge)?;
        head.activation = l.activation;
    }
    let outputs = heads[depth - 1].outputs;
    let mut input = LayerHead::EMPTY.output;
    let mut softmax_i8 = None;
    if h.element == ElementType::I8 {
        let (q, after) = postcard::take_from_bytes::<TensorQuant>(rest).map_err(take)?;
        rest = after;
        int8::check_tensor_quant(QuantTensor::Input, q)?;
        input = q;
        for (layer, head) in heads.iter_mut().enumerate().take(depth) {
            let (q, after) = postcard::take_from_bytes::<TensorQuant>(rest).map_err(take)?;
            rest = after;
            int8::check_tensor_quant(QuantTensor::Output(layer), q)?;
            head.output = q;
        }
        if h.softmax {
            let ((input_multiplier, input_left_shift, diff_min), after) =
                postcard::take_from_bytes::<(i32, i32, i32)>(rest).map_err(take)?;
            rest = after;
            let params = SoftmaxI8Params {
                input_multiplier,
                input_left_shift,
                diff_min,
            };
            if !params.is_valid() {
                return Err(Error::BadSoftmaxParams);
            }
            if outputs > MAX_OUTPUTS {
                return Err(Error::TooLarge);
            }
            softmax_i8 = Some(params);
        }
    }
    let (count, _) = postcard::take_from_bytes::<u32>(rest).map_err(take)?;
    if count != 0 && usize::try_from(count) != Ok(outputs) {
        return Err(Error::ClassNameCount {
            found: count as usize,
            expected: outputs,
        });
    }
    let names_len = read_class_names(rest, outputs as u32, found)?;
    let (class_names, after_names) = rest.split_at(names_len);
    let layout = Layout::new(
        VERSION_3,
        h.element,
        inputs,
        &heads[..depth],
        found - after_names.len(),
    )?;
    let first = heads[0];
    let last = heads[depth - 1];
    // The two-layer summary `header()` gives, so that version-agnostic callers (shape,
    // scaling, element, activations) keep working.
    let header = Header {
        magic: MAGIC,
        version: VERSION_3,
        input: h.inputs,
        hidden: if depth >= 2 { first.outputs as u32 } else { 0 },
        output: outputs as u32,
        hidden_activation: first.activation,
        output_activation: if h.softmax {
            Activation::Softmax
        } else {
            last.activation
        },
        scaling: h.scaling,
        element: h.element,
    };
    Ok(Preamble {
        header,
        layout,
        class_names,
        quant: None,
        input,
        softmax: h.softmax,
        softmax_i8,
    })
}

impl<'a> ModelFile<'a> {
    /// Checks `bytes` as a complete model file, in this order: magic, version, header (its
    /// layers, activations, an int8 file's quantisation, the class names), sizes and length,
    /// padding, checksum, then the values: finite f32 weights, or an int8 file's per-channel
    /// parameters and weights; last the limits that make its outputs finite (shape, and for
    /// f32 the activation bounds, see `check_limits`). Reads every byte once for the checksum,
    /// once for the values and once for the bounds; allocates nothing; never panics.
    ///
    /// # Errors
    /// One variant per failure: [`Error::BadMagic`], [`Error::UnsupportedVersion`],
    /// [`Error::BadHeader`], [`Error::BadDepth`], [`Error::EmptyLayer`],
    /// [`Error::BadActivation`], [`Error::TooManyClassNames`], [`Error::ClassNameCount`],
    /// [`Error::BadClassName`], [`Error::BadScale`], [`Error::BadZeroPoint`],
    /// [`Error::BadSoftmaxParams`], [`Error::ChannelCountMismatch`], [`Error::TooLarge`],
    /// [`Error::Truncated`], [`Error::TrailingBytes`], [`Error::NonZeroPadding`],
    /// [`Error::BadChecksum`], [`Error::NonFiniteWeight`], [`Error::BadRequant`],
    /// [`Error::WeightOutOfRange`], [`Error::AccumulatorOverflow`], and for a file that is
    /// intact but not runnable [`Error::BadShape`], [`Error::ScalingTooLarge`],
    /// [`Error::MayOverflow`].
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
        let pre = if prelude.version >= VERSION_3 {
            read_v3(bytes)?
        } else {
            read_two_layer(bytes)?
        };
        let layout = pre.layout;
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

        let mut padding = Ok(());
        layout.for_each_gap(|gap| {
            let start = gap.start;
            let bytes = bytes.get(gap).unwrap_or_default();
            if let (Ok(()), Some(i)) = (&padding, bytes.iter().position(|&b| b != 0)) {
                padding = Err(Error::NonZeroPadding { offset: start + i });
            }
        });
        padding?;

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
            header: pre.header,
            layout,
            bytes,
            checksum: stored,
            class_names: pre.class_names,
            quant: pre.quant,
            input: pre.input,
            softmax: pre.softmax,
            softmax_i8: pre.softmax_i8,
        };
        for i in 0..layout.depth {
            let (weights, bias, params) = file.names(i);
            let a = layout.arrays(i);
            let at = |r| bytes.get(r).unwrap_or_default();
            match layout.element {
                ElementType::F32 => {
                    for (t, range) in [(weights, a.weights), (bias, a.bias)] {
                        if let Some(index) = le_f32s(at(range)).position(|w| !w.is_finite()) {
                            return Err(Error::NonFiniteWeight { tensor: t, index });
                        }
                    }
                }
                ElementType::I8 => int8::check_layer(
                    (params, weights, bias),
                    layout.layer_inputs(i),
                    bytemuck::cast_slice(at(a.weights)),
                    le_i32s(at(a.bias)),
                    le_requants(at(a.requant)),
                    le_f32s(at(a.weight_scales)),
                )?,
            }
        }
        file.check_limits()?;
        Ok(file)
    }

    /// How errors name layer `i`'s weights, bias and per-channel parameters: `W1`, `b1`, ...
    /// in versions 1 and 2, `layers[i]...` in version 3.
    fn names(&self, i: usize) -> (Tensor, Tensor, QuantTensor) {
        match (self.layout.version >= VERSION_3, i) {
            (false, 0) => (Tensor::W1, Tensor::B1, QuantTensor::W1),
            (false, _) => (Tensor::W2, Tensor::B2, QuantTensor::W2),
            (true, _) => (Tensor::Weights(i), Tensor::Bias(i), QuantTensor::Layer(i)),
        }
    }

    /// The limits that make every accepted model runnable, checked last by [`ModelFile::parse`]
    /// (see "Limits and the finite-output guarantee" in the crate README):
    ///
    /// 1. shape: versions 1 and 2 need at least 1 hidden unit and [`MIN_OUTPUTS`] outputs
    ///    (version 3 needs every layer to have an output, checked with its header); any number
    ///    of inputs, 0 included (such a model is a constant, still finite; hosts check the
    ///    input count against their data);
    /// 2. bounded activations: for pixels in 0–255, `|x| ≤ 255·|scale| + |offset|`; each
    ///    pre-activation of a layer is at most `Σ|W_row|·max|in| + |b|`; its output is at most
    ///    that (identity, ReLU), 6 (ReLU6) or 1 (sigmoid, tanh). Every bound, computed in f64,
    ///    must stay within [`MAX_ACTIVATION`], far enough below `f32::MAX` that f32 rounding in
    ///    any order of summation cannot reach infinity. Finite logits give a finite softmax
    ///    (it subtracts the largest logit), so inference on an accepted file never yields NaN
    ///    or infinity.
    fn check_limits(&self) -> Result<(), Error> {
        if self.layout.version < VERSION_3 {
            let shape = self.shape();
            if shape[1] < 1 || shape[2] < MIN_OUTPUTS {
                return Err(Error::BadShape { shape });
            }
        }
        // An int8 model's arithmetic is integer and its outputs dequantise int8 values:
        // always finite. An f32 model's need the bounds below.
        if self.layout.element == ElementType::I8 {
            return Ok(());
        }
        let limit = f64::from(MAX_ACTIVATION);
        let scaling = self.header.scaling;
        let mut in_max = 255.0 * f64::from(scaling.scale).abs() + f64::from(scaling.offset).abs();
        if in_max > limit {
            return Err(Error::ScalingTooLarge);
        }
        for (i, head) in self.layout.heads().iter().enumerate() {
            let a = self.layout.arrays(i);
            let cols = self.layout.layer_inputs(i);
            let mut weights = le_f32s(self.bytes.get(a.weights).unwrap_or_default());
            // The largest `Σ|w_row|·in_max + |b|` over the rows, or the first row past the
            // limit.
            let mut worst = 0.0f64;
            for (row, bias) in le_f32s(self.bytes.get(a.bias).unwrap_or_default()).enumerate() {
                let sum: f64 = weights
                    .by_ref()
                    .take(cols)
                    .map(|v| f64::from(v).abs())
                    .sum();
                let bound = sum * in_max + f64::from(bias).abs();
                if bound > limit {
                    return Err(Error::MayOverflow {
                        tensor: self.names(i).0,
                        row,
                    });
                }
                worst = worst.max(bound);
            }
            in_max = match head.activation {
                Activation::Sigmoid | Activation::Softmax | Activation::Tanh => 1.0,
                Activation::Relu6 => 6.0,
                Activation::Identity | Activation::Relu => worst,
            };
        }
        Ok(())
    }

    /// The network, every array borrowed in place (zero copy, e.g. from flash), for every
    /// format version; `packed` is empty (a host that wants the packed int8 path packs it,
    /// see [`ModelI8::packed`]).
    ///
    /// # Errors
    /// [`Error::Misaligned`] unless the file's bytes start at a 4-byte aligned address (hosts
    /// reading a file into a `Vec<u8>` copy it into 16-byte aligned memory first);
    /// [`Error::BigEndianTarget`] on a big-endian target.
    pub fn model(&self) -> Result<Model<'a>, Error> {
        if cfg!(target_endian = "big") {
            return Err(Error::BigEndianTarget);
        }
        let at = |r| self.bytes.get(r).unwrap_or_default();
        let f32s = |r| bytemuck::try_cast_slice::<u8, f32>(at(r)).map_err(|_| Error::Misaligned);
        let i32s = |r| bytemuck::try_cast_slice::<u8, i32>(at(r)).map_err(|_| Error::Misaligned);
        Ok(match self.layout.element {
            ElementType::F32 => {
                let mut layers = Layers::new();
                for (i, head) in self.layout.heads().iter().enumerate() {
                    let a = self.layout.arrays(i);
                    layers.push(LayerF32 {
                        weights: f32s(a.weights)?,
                        bias: f32s(a.bias)?,
                        inputs: self.layout.layer_inputs(i),
                        outputs: head.outputs,
                        activation: head.activation,
                    })?;
                }
                Model::F32(ModelF32 {
                    layers,
                    softmax: self.softmax,
                    scaling: self.header.scaling,
                })
            }
            ElementType::I8 => {
                let mut layers = Layers::new();
                for (i, head) in self.layout.heads().iter().enumerate() {
                    let a = self.layout.arrays(i);
                    layers.push(LayerI8 {
                        weights: bytemuck::cast_slice(at(a.weights)),
                        bias: i32s(a.bias)?,
                        requant: bytemuck::try_cast_slice(at(a.requant))
                            .map_err(|_| Error::Misaligned)?,
                        weight_scales: f32s(a.weight_scales)?,
                        inputs: self.layout.layer_inputs(i),
                        outputs: head.outputs,
                        output: head.output,
                        activation: head.activation,
                        table: bytemuck::cast_slice(at(a.table)),
                    })?;
                }
                Model::I8(ModelI8 {
                    layers,
                    input: self.input,
                    softmax: self.softmax_i8,
                    scaling: self.header.scaling,
                    packed: &[],
                })
            }
        })
    }

    /// The number of layers (2 in versions 1 and 2).
    pub fn depth(&self) -> usize {
        self.layout.depth
    }

    /// The format version the file was written in.
    pub fn version(&self) -> u16 {
        self.layout.version
    }

    /// The decoded header. For a version-3 file, a two-layer summary: `input`, `output`, the
    /// scaling and element type as in the file, `hidden` the first layer's outputs (0 at
    /// depth 1), `hidden_activation` the first layer's, `output_activation` `Softmax` or the
    /// last layer's, `version` 3. [`ModelFile::model`] has every layer.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// `[input, hidden, output]` of [`ModelFile::header`].
    pub fn shape(&self) -> [usize; 3] {
        let first = self.layout.heads().first().map_or(0, |l| l.outputs);
        let hidden = if self.layout.depth >= 2 { first } else { 0 };
        [self.layout.inputs, hidden, self.layout.outputs()]
    }

    /// How the weights are stored.
    pub fn element(&self) -> ElementType {
        self.layout.element
    }

    /// Number of parameters: every layer's weights and biases (f32 or, in an int8 file, int8
    /// weights and int32 biases).
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

    /// The class names: `k`-th is output `k`'s; none in version 1, at most `output` in
    /// version 2, none or one per output in version 3.
    pub fn class_names(&self) -> ClassNames<'a> {
        ClassNames {
            bytes: self.class_names,
        }
    }

    /// A version-2 int8 file's quantisation header; `None` for f32 and version 3 (whose
    /// quantisation is in [`ModelFile::model`]'s layers).
    pub fn quant_header(&self) -> Option<&QuantHeader> {
        self.quant.as_ref()
    }

    /// The little-endian bytes of tensor `t` (f32, or an int8 file's int8 weights, int32
    /// biases and tables): `W1` is layer 0's weights in any version, `Weights(i)` layer `i`'s;
    /// empty for a layer the model does not have.
    pub fn tensor_bytes(&self, t: Tensor) -> &'a [u8] {
        let range = match t {
            Tensor::Table(i) => self.layout.arrays(i).table,
            _ => match t.layer() {
                Some((i, false)) => self.layout.arrays(i).weights,
                Some((i, true)) => self.layout.arrays(i).bias,
                None => 0..0,
            },
        };
        // Parse checked that the file holds every array, so the range is in bounds.
        self.bytes.get(range).unwrap_or_default()
    }

    /// The values of f32 tensor `t`, row-major, at any alignment; nothing for an int8 file
    /// (see [`ModelFile::model`]).
    pub fn tensor(&self, t: Tensor) -> impl Iterator<Item = f32> + 'a {
        let bytes = match self.layout.element {
            ElementType::F32 => self.tensor_bytes(t),
            ElementType::I8 => &[],
        };
        le_f32s(bytes)
    }

    fn expect_element(&self, expected: ElementType) -> Result<(), Error> {
        if self.layout.element == expected {
            Ok(())
        } else {
            Err(Error::ElementMismatch {
                expected,
                found: self.layout.element,
            })
        }
    }

    /// The depth-2 accessors below read the model as `Mlp`'s two layers.
    fn expect_two_layers(&self) -> Result<(), Error> {
        if self.layout.depth == 2 {
            Ok(())
        } else {
            Err(Error::NotTwoLayer)
        }
    }

    /// Copies every parameter, in layer order (each layer's weights, then its bias: `W1, b1,
    /// W2, b2` at depth 2), into `out`, which must hold exactly [`ModelFile::parameter_count`]
    /// values. With [`ModelFile::slices_in`] this runs a two-layer model whose sizes are only
    /// known at run time from a `Vec<f32>`, at any alignment.
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
        let mut out = out.iter_mut();
        for i in 0..self.layout.depth {
            let a = self.layout.arrays(i);
            for range in [a.weights, a.bias] {
                // Values first: `zip` then stops without taking an `out` slot too many.
                for (w, o) in le_f32s(self.bytes.get(range).unwrap_or_default()).zip(out.by_ref()) {
                    *o = w;
                }
            }
        }
        Ok(())
    }

    /// This two-layer model's size-erased form over `parameters`, a buffer filled by
    /// [`ModelFile::copy_parameters`].
    ///
    /// # Errors
    /// [`Error::NotTwoLayer`] at another depth; [`Error::LengthMismatch`] if `parameters` has
    /// the wrong length.
    pub fn slices_in<'b>(&self, parameters: &'b [f32]) -> Result<MlpSlices<'b>, Error> {
        self.expect_two_layers()?;
        self.header.slices_in(parameters)
    }

    /// This two-layer model's size-erased form, borrowing the weights in place.
    ///
    /// # Errors
    /// [`Error::ElementMismatch`] for an int8 file; [`Error::NotTwoLayer`] at another depth;
    /// [`Error::Misaligned`] unless the file's bytes start at a 4-byte aligned address (hosts
    /// reading a file into a `Vec<u8>` get no such promise: use
    /// [`ModelFile::copy_parameters`]); [`Error::BigEndianTarget`] on a big-endian target.
    pub fn slices(&self) -> Result<MlpSlices<'a>, Error> {
        self.expect_element(ElementType::F32)?;
        self.expect_two_layers()?;
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
    /// [`Error::NotTwoLayer`] at another depth; [`Error::ShapeMismatch`] if the file's shape
    /// is not `IN-H-OUT`; otherwise as [`ModelFile::slices`].
    pub fn view<const IN: usize, const H: usize, const OUT: usize>(
        &self,
    ) -> Result<MlpRef<'a, IN, H, OUT>, Error> {
        self.expect_two_layers()?;
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
    /// [`Error::NotTwoLayer`] at another depth; [`Error::ShapeMismatch`] if the file's shape
    /// is not `IN-H-OUT`, [`Error::ElementMismatch`] for an int8 file; `mlp` is then untouched.
    pub fn decode_into<const IN: usize, const H: usize, const OUT: usize>(
        &self,
        mlp: &mut Mlp<IN, H, OUT>,
    ) -> Result<(), Error> {
        self.expect_two_layers()?;
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

    /// An int8 model's two-layer form (a version-2 model, or a version-3 one that version 2
    /// could hold), borrowing every array in place (zero copy, e.g. from flash). Hosts that
    /// read the file into a `Vec<u8>` copy it into 16-byte aligned memory first.
    ///
    /// # Errors
    /// [`Error::ElementMismatch`] for an f32 file; [`Error::NotTwoLayer`] for a model that
    /// is not depth 2 with a softmax output and an identity, ReLU or sigmoid hidden layer; as
    /// [`ModelFile::model`].
    pub fn slices_i8(&self) -> Result<MlpI8<'a>, Error> {
        self.expect_element(ElementType::I8)?;
        self.expect_two_layers()?;
        let Model::I8(m) = self.model()? else {
            return Err(Error::NotTwoLayer);
        };
        let (Some(&layer1), Some(&layer2), Some(softmax)) =
            (m.layers.get(0), m.layers.get(1), m.softmax)
        else {
            return Err(Error::NotTwoLayer);
        };
        let two_layer = matches!(
            layer1.activation,
            Activation::Relu | Activation::Sigmoid | Activation::Identity
        ) && layer2.activation == Activation::Identity;
        if !two_layer {
            return Err(Error::NotTwoLayer);
        }
        let dense = |l: LayerI8<'a>| DenseI8 {
            weights: l.weights,
            bias: l.bias,
            requant: l.requant,
            weight_scales: l.weight_scales,
        };
        Ok(MlpI8 {
            input: layer1.inputs,
            hidden: layer1.outputs,
            output: layer2.outputs,
            hidden_activation: layer1.activation,
            scaling: m.scaling,
            input_quant: m.input,
            hidden_quant: layer1.output,
            logits_quant: layer2.output,
            softmax,
            layer1: dense(layer1),
            layer2: dense(layer2),
            sigmoid_table: layer1.table,
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
        self.expect_two_layers()?;
        self.check_shape([IN, H, OUT])?;
        MlpI8Ref::new(self.slices_i8()?)
    }

    fn check_shape(&self, expected: [usize; 3]) -> Result<(), Error> {
        let found = self.shape();
        if found == expected {
            Ok(())
        } else {
            Err(Error::ShapeMismatch { expected, found })
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
                found: self.tensor_bytes(t).len() / 4,
            },
            _ => Error::Misaligned,
        })
    }

    fn slices_of<'b>(&self, tensors: [&'b [f32]; 4]) -> MlpSlices<'b> {
        self.header.mlp_slices(tensors, self.shape())
    }
}
