//! Everything that writes a model file: [`encode`] and its siblings, and [`encoded_len`] and
//! its siblings, which say how long the file will be.

use super::class_names::{check_class_names, class_names_len};
use super::layout::{I8Array, Layout};
use super::{
    CHECKSUM_LEN, CRC, ElementType, HEADER_MAX_LEN, Header, LATEST_VERSION, MAGIC,
    QUANT_HEADER_MAX_LEN, QuantHeader, Tensor, VERSION, VERSION_2,
};
use crate::error::Error;
use crate::model::MlpRef;
use crate::model_i8::MlpI8;

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
