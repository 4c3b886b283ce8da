//! Everything that writes a model file: [`encode_model`] writes any [`Model`] in the oldest
//! version that holds it, [`encoded_len_model`] says how long that file will be; [`encode`]
//! and its siblings write the two-layer forms of versions 1 and 2.

use serde::Serialize;

use super::class_names::{check_class_names, class_names_len};
use super::layout::{LayerHead, Layout};
use super::{
    CHECKSUM_LEN, CRC, ElementType, HEADER_MAX_LEN, Header, HeaderV3, LATEST_VERSION, LayerHeader,
    MAGIC, ModelFile, QUANT_HEADER_MAX_LEN, QuantHeader, Shape, Tensor, VERSION, VERSION_2,
    VERSION_3,
};
use crate::activation::Activation;
use crate::error::Error;
use crate::model::MlpRef;
use crate::model_i8::{DenseI8, MlpI8};
use crate::network::{MAX_LAYERS, Model};

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

/// Everything before the checksum checked, a version-1 or version-2 file written into `out`;
/// its length.
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
    let outputs = quant.map_or([LayerHead::EMPTY.output; 2], |q| [q.hidden, q.logits]);
    let layout = Layout::two_layer(&header, outputs, header_len)?;
    match body {
        Body::F32(tensors) => {
            let lens = Shape::from(header.shape()?).tensor_lens()?;
            for ((t, tensor), expected) in Tensor::ALL.into_iter().zip(tensors).zip(lens) {
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
    write_file(&layout, out, |file| {
        write_preamble(&header, names, quant.as_ref(), &mut file[..header_len])?;
        match body {
            Body::F32([w1, b1, w2, b2]) => {
                write_f32_layer(&layout, 0, [w1, b1], file);
                write_f32_layer(&layout, 1, [w2, b2], file);
            }
            Body::I8(m) => {
                write_i8_layer(&layout, 0, i8_arrays(&m.layer1, m.sigmoid_table), file);
                write_i8_layer(&layout, 1, i8_arrays(&m.layer2, &[]), file);
            }
        }
        Ok(())
    })
}

/// Zeroes `out[..layout.total]` (so padding is zero), lets `fill` write the preamble and the
/// arrays into everything before the checksum, then appends the CRC-32; returns the length.
fn write_file(
    layout: &Layout,
    out: &mut [u8],
    fill: impl FnOnce(&mut [u8]) -> Result<(), Error>,
) -> Result<usize, Error> {
    let found = out.len();
    let file = out.get_mut(..layout.total).ok_or(Error::BufferTooSmall {
        needed: layout.total,
        found,
    })?;
    file.fill(0);
    let (body, checksum) = file.split_at_mut(layout.total - CHECKSUM_LEN);
    fill(body)?;
    checksum.copy_from_slice(&CRC.checksum(body).to_le_bytes());
    Ok(layout.total)
}

/// Writes `values` little-endian into `out`, four bytes each.
fn put_words<T: Copy>(out: &mut [u8], values: &[T], to_le: impl Fn(T) -> [u8; 4]) {
    for (o, &v) in out.chunks_exact_mut(4).zip(values) {
        o.copy_from_slice(&to_le(v));
    }
}

/// Writes layer `i`'s f32 weights and bias at the layout's ranges of `file`; the lengths have
/// been checked.
fn write_f32_layer(layout: &Layout, i: usize, [w, b]: [&[f32]; 2], file: &mut [u8]) {
    let a = layout.arrays(i);
    put_words(&mut file[a.weights], w, f32::to_le_bytes);
    put_words(&mut file[a.bias], b, f32::to_le_bytes);
}

/// An int8 layer's arrays, as the writer takes them.
struct I8Arrays<'x> {
    dense: DenseI8<'x>,
    table: &'x [i8],
}

fn i8_arrays<'x>(dense: &DenseI8<'x>, table: &'x [i8]) -> I8Arrays<'x> {
    I8Arrays {
        dense: *dense,
        table,
    }
}

/// Writes layer `i`'s int8 arrays at the layout's ranges of `file`; the lengths have been
/// checked.
fn write_i8_layer(layout: &Layout, i: usize, l: I8Arrays<'_>, file: &mut [u8]) {
    let a = layout.arrays(i);
    put_words(&mut file[a.bias], l.dense.bias, i32::to_le_bytes);
    for (o, r) in file[a.requant].chunks_exact_mut(8).zip(l.dense.requant) {
        o[..4].copy_from_slice(&r.multiplier.to_le_bytes());
        o[4..].copy_from_slice(&r.shift.to_le_bytes());
    }
    put_words(
        &mut file[a.weight_scales],
        l.dense.weight_scales,
        f32::to_le_bytes,
    );
    for (o, w) in file[a.weights].iter_mut().zip(l.dense.weights) {
        *o = w.to_le_bytes()[0];
    }
    for (o, t) in file[a.table].iter_mut().zip(l.table) {
        *o = t.to_le_bytes()[0];
    }
}

/// How a [`Model`] is written: the two-layer forms where versions 1 and 2 hold it (byte for
/// byte what was written before version 3), version 3 otherwise.
enum Plan<'m> {
    F32(Header, [&'m [f32]; 4]),
    I8(MlpI8<'m>),
    V3,
}

/// Layer `i`'s sizes and activation, whatever the element type.
fn head(model: &Model<'_>, i: usize) -> Option<(usize, usize, Activation)> {
    match model {
        Model::F32(m) => m.layers.get(i).map(|l| (l.inputs, l.outputs, l.activation)),
        Model::I8(m) => m.layers.get(i).map(|l| (l.inputs, l.outputs, l.activation)),
    }
}

/// Checks what must hold before any byte is written: [`Model::check`] (1 to [`MAX_LAYERS`]
/// layers, each taking the previous layer's outputs, every slice of the length its sizes
/// need), then what a file adds: every layer has outputs, none is a softmax, and the sizes fit
/// the file's fields. The values are checked by parsing the written file.
fn check_structure(model: &Model<'_>) -> Result<(), Error> {
    model.check()?;
    for i in 0..model.depth() {
        let Some((inputs, outputs, activation)) = head(model, i) else {
            break;
        };
        if outputs == 0 {
            return Err(Error::EmptyLayer { layer: i });
        }
        if activation == Activation::Softmax {
            return Err(Error::BadActivation {
                layer: i,
                found: activation,
            });
        }
        u32::try_from(inputs)
            .and(u32::try_from(outputs))
            .map_err(|_| Error::TooLarge)?;
    }
    Ok(())
}

/// Chooses the version `model` is written in (see the module docs).
fn plan<'m>(model: &Model<'m>) -> Result<Plan<'m>, Error> {
    check_structure(model)?;
    let two_layer_hidden = |a| {
        matches!(
            a,
            Activation::Identity | Activation::Relu | Activation::Sigmoid
        )
    };
    match model {
        Model::F32(m) => {
            let (Some(l1), Some(l2), 2) = (m.layers.get(0), m.layers.get(1), m.layers.len()) else {
                return Ok(Plan::V3);
            };
            let output_activation = match (m.softmax, l2.activation) {
                (true, Activation::Identity) => Activation::Softmax,
                (false, a) if two_layer_hidden(a) => a,
                _ => return Ok(Plan::V3),
            };
            if !two_layer_hidden(l1.activation) {
                return Ok(Plan::V3);
            }
            let header = Header::new(
                [l1.inputs, l1.outputs, l2.outputs],
                l1.activation,
                output_activation,
                m.scaling,
            )?;
            Ok(Plan::F32(
                header,
                [l1.weights, l1.bias, l2.weights, l2.bias],
            ))
        }
        Model::I8(m) => {
            let (Some(l1), Some(l2), 2, Some(softmax)) =
                (m.layers.get(0), m.layers.get(1), m.layers.len(), m.softmax)
            else {
                return Ok(Plan::V3);
            };
            if !two_layer_hidden(l1.activation) || l2.activation != Activation::Identity {
                return Ok(Plan::V3);
            }
            let dense = |l: &crate::network::LayerI8<'m>| DenseI8 {
                weights: l.weights,
                bias: l.bias,
                requant: l.requant,
                weight_scales: l.weight_scales,
            };
            Ok(Plan::I8(MlpI8 {
                input: l1.inputs,
                hidden: l1.outputs,
                output: l2.outputs,
                hidden_activation: l1.activation,
                scaling: m.scaling,
                input_quant: m.input,
                hidden_quant: l1.output,
                logits_quant: l2.output,
                softmax,
                layer1: dense(l1),
                layer2: dense(l2),
                sigmoid_table: l1.table,
            }))
        }
    }
}

/// Appends postcard values to a buffer that may be too short (then it only counts), so one
/// function both measures and writes a version-3 preamble.
struct Writer<'o> {
    out: &'o mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn put<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        // Every value written here (a header, a layer header, a quantisation, a name of at
        // most CLASS_NAME_MAX_LEN bytes) takes less than this.
        let mut buf = [0u8; 48];
        let bytes = postcard::to_slice(value, &mut buf).map_err(|_| Error::TooLarge)?;
        if let Some(dst) = self.out.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.len += bytes.len();
        Ok(())
    }
}

/// The version-3 preamble of `model` (checked by [`check_structure`]) and `names`, written into
/// `out` if it is long enough; returns its length and the layout of the file either way.
fn v3_preamble(model: &Model<'_>, names: &[&str], out: &mut [u8]) -> Result<Layout, Error> {
    let depth = model.depth();
    let mut heads = [LayerHead::EMPTY; MAX_LAYERS];
    for (i, h) in heads.iter_mut().enumerate().take(depth) {
        let (_, outputs, activation) = head(model, i).unwrap_or((0, 0, Activation::Identity));
        *h = LayerHead {
            outputs,
            activation,
            output: match model {
                Model::I8(m) => m.layers.get(i).map_or(h.output, |l| l.output),
                Model::F32(_) => h.output,
            },
        };
    }
    let heads = &heads[..depth];
    let outputs = heads.last().map_or(0, |h| h.outputs);
    if !names.is_empty() && names.len() != outputs {
        return Err(Error::ClassNameCount {
            found: names.len(),
            expected: outputs,
        });
    }
    let size = |n: usize| u32::try_from(n).map_err(|_| Error::TooLarge);
    check_class_names(size(outputs)?, names)?;
    let inputs = head(model, 0).map_or(0, |(inputs, _, _)| inputs);
    let (element, scaling, softmax) = match model {
        Model::F32(m) => (ElementType::F32, m.scaling, m.softmax),
        Model::I8(m) => (ElementType::I8, m.scaling, m.softmax.is_some()),
    };
    let mut w = Writer { out, len: 0 };
    w.put(&HeaderV3 {
        magic: MAGIC,
        version: VERSION_3,
        element,
        inputs: size(inputs)?,
        scaling,
        softmax,
        depth: u8::try_from(depth).map_err(|_| Error::BadDepth { depth })?,
    })?;
    for h in heads {
        w.put(&LayerHeader {
            outputs: size(h.outputs)?,
            activation: h.activation,
        })?;
    }
    if let Model::I8(m) = model {
        w.put(&m.input)?;
        for h in heads {
            w.put(&h.output)?;
        }
        if let Some(p) = m.softmax {
            w.put(&(p.input_multiplier, p.input_left_shift, p.diff_min))?;
        }
    }
    w.put(&size(names.len())?)?;
    for name in names {
        w.put(*name)?;
    }
    Layout::new(VERSION_3, element, inputs, heads, w.len)
}

/// The exact length of the file [`encode_model`] writes for `model` and `names`.
///
/// # Errors
/// As [`encode_model`], except those about the values and `out`.
pub fn encoded_len_model(model: &Model<'_>, names: &[&str]) -> Result<usize, Error> {
    match plan(model)? {
        Plan::F32(header, _) => encoded_len_named(&header, names),
        Plan::I8(m) => encoded_len_i8(&m, names),
        Plan::V3 => Ok(v3_preamble(model, names, &mut [])?.total),
    }
}

/// Writes `model` with its class names (`names[k]` names output `k`) into the start of `out`
/// in the oldest version that holds it (see the module docs), checks the result as
/// [`ModelFile::parse`] does, and returns the file.
///
/// Class names: in versions 1 and 2 at most one per output; in version 3 none or one per
/// output.
///
/// # Errors
/// Whatever [`Model::check`] finds ([`Error::BadDepth`], [`Error::LayerInputs`],
/// [`Error::LayerLength`], ...); [`Error::EmptyLayer`], [`Error::BadActivation`] for a softmax
/// layer; [`Error::TooManyClassNames`],
/// [`Error::ClassNameCount`], [`Error::BadClassName`]; [`Error::BufferTooSmall`] if `out` is
/// shorter than [`encoded_len_model`]; and whatever [`ModelFile::parse`] refuses in the
/// written file (non-finite weights, bad quantisation, [`Error::MayOverflow`], ...), named as
/// that version names its tensors. `out` may then hold a partial file.
pub fn encode_model<'o>(
    model: &Model<'_>,
    names: &[&str],
    out: &'o mut [u8],
) -> Result<&'o [u8], Error> {
    let len = match plan(model)? {
        Plan::F32(header, tensors) => encode_body(&header, names, Body::F32(tensors), out)?,
        Plan::I8(m) => encode_body(&m.header()?, names, Body::I8(&m), out)?,
        Plan::V3 => {
            let layout = v3_preamble(model, names, &mut [])?;
            write_file(&layout, out, |file| {
                v3_preamble(model, names, &mut file[..layout.header_len])?;
                match model {
                    Model::F32(m) => {
                        for (i, l) in m.layers.iter().enumerate() {
                            write_f32_layer(&layout, i, [l.weights, l.bias], file);
                        }
                    }
                    Model::I8(m) => {
                        for (i, l) in m.layers.iter().enumerate() {
                            let dense = DenseI8 {
                                weights: l.weights,
                                bias: l.bias,
                                requant: l.requant,
                                weight_scales: l.weight_scales,
                            };
                            write_i8_layer(&layout, i, i8_arrays(&dense, l.table), file);
                        }
                    }
                }
                Ok(())
            })?
        }
    };
    let file = out.get(..len).unwrap_or_default();
    ModelFile::parse(file)?;
    Ok(file)
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
    Ok(Layout::two_layer(&header, [LayerHead::EMPTY.output; 2], header_len)?.total)
}

/// The exact length of the file [`encode_i8`] writes.
///
/// # Errors
/// As [`encode_i8`], except those about the arrays and `out`.
pub fn encoded_len_i8(model: &MlpI8<'_>, class_names: &[&str]) -> Result<usize, Error> {
    let header = written_header(&model.header()?, class_names)?;
    let quant = model.quant_header()?;
    let header_len = write_preamble(&header, class_names, Some(&quant), &mut [])?;
    Ok(Layout::two_layer(&header, [quant.hidden, quant.logits], header_len)?.total)
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
