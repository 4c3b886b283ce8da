//! `host-trainer import MODEL.tflite --out F.nnm`: a TensorFlow Lite model of this project's
//! family into a model file.
//!
//! 1. Read the file, refusing anything that is not a regular file of at most
//!    [`MAX_FILE_BYTES`] ([`read_bounded`]).
//! 2. Check the `TFL3` identifier and verify the whole flatbuffer ([`schema::model`]).
//! 3. Recognise a chain of 1 to 16 FULLY_CONNECTED with their activations (fused RELU or
//!    RELU6, or separate RELU, RELU6, LOGISTIC, TANH), an optional SOFTMAX, the Flatten
//!    forms and QUANTIZE/DEQUANTIZE at the edges, float32 or int8, into a [`Network`]
//!    ([`graph::recognize`]).
//! 4. Build nn-core's [`Model`] over the network's arrays ([`model_file`]) with an input
//!    scaling: a `.tflite` does not say how pixels became its float input, so
//!    `--input-scale` and `--input-offset` say it (an int8 model without them takes pixels
//!    as its int8 input, `q = pixel - 128`). The model is encoded and written through
//!    [`crate::model::write`], so a file `eval` would refuse is never written.
//!
//! The input is untrusted: nothing here panics or allocates by a size the file claims
//! before the verifier has bounded it.

pub mod graph;
mod names;
pub mod schema;

use std::path::Path;

use anyhow::{Context, Result, bail};
use nn_core::TensorQuant;
use nn_core::activation::Activation;
use nn_core::lut::{logistic_table, tanh_table};
use nn_core::model::InputScaling;
use nn_core::network::{LayerF32, Layers, Model, ModelF32};
use nn_core::quant::{Requant, SoftmaxI8Params};

use crate::convert::int8_model::{QuantizedLayer, QuantizedModel};

pub use graph::{DenseF32, FullyConnectedI8, Int8, LayerShape, Network, Weights};

/// The largest `.tflite` the importer reads: this family's models are kilobytes to a few
/// megabytes; the cap keeps a wrong path (a disk image, /dev/zero) from filling memory.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Why a `.tflite` could not be imported. Shown after the file name, on one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file could not be read: missing, not a regular file (a FIFO, a device), or over
    /// [`MAX_FILE_BYTES`].
    #[error("{0}")]
    Read(#[from] nn_data::read::ReadError),
    /// No `TFL3` file identifier.
    #[error("not a TensorFlow Lite model (no TFL3 identifier)")]
    NotTflite,
    /// The flatbuffer failed verification.
    #[error("malformed TFLite flatbuffer: {0}")]
    Flatbuffer(#[from] flatbuffers::InvalidFlatbuffer),
    /// Verified, but inconsistent (an index out of range, data of the wrong length...).
    #[error("malformed TFLite model: {0}")]
    Malformed(String),
    /// An operator outside the family.
    #[error("operator {name} ({place}) is not supported (this importer reads {family})")]
    UnsupportedOperator {
        /// As TFLite names it, e.g. `CONV_2D`.
        name: String,
        /// Where it is, e.g. `operator 3 of 7`.
        place: String,
        /// What is supported.
        family: &'static str,
    },
    /// A tensor type other than float32, int8 and (for biases) int32.
    #[error(
        "tensor '{tensor}' has type {type_name}, which is not supported (float32 or int8 models only)"
    )]
    UnsupportedType {
        /// The tensor's name in the file.
        tensor: String,
        /// As TFLite names it, e.g. `FLOAT16`.
        type_name: &'static str,
    },
    /// The family's operators, put together in a way it does not use.
    #[error("{0}")]
    Unsupported(String),
}

/// A finite number, written as a decimal or as a fraction `a/b`.
pub fn parse_number(s: &str) -> Result<f32, String> {
    let bad = || format!("'{s}' is not a number or a fraction like 1/255");
    let value = match s.split_once('/') {
        Some((a, b)) => {
            let a: f64 = a.trim().parse().map_err(|_| bad())?;
            let b: f64 = b.trim().parse().map_err(|_| bad())?;
            a / b
        }
        None => s.trim().parse().map_err(|_| bad())?,
    };
    let value = value as f32;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(bad())
    }
}

/// Reads a regular file of at most [`MAX_FILE_BYTES`], through the program's one bounded
/// reader.
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, ImportError> {
    Ok(nn_data::read::read_capped(
        path,
        MAX_FILE_BYTES,
        "a .tflite file",
    )?)
}

/// Steps 2 and 3: the network a `.tflite`'s bytes hold.
pub fn parse(bytes: &[u8]) -> Result<Network, ImportError> {
    if bytes.get(4..8) != Some(b"TFL3") {
        return Err(ImportError::NotTflite);
    }
    let model = schema::model(bytes)?;
    graph::recognize(&model)
}

/// Steps 1 to 3 for a file.
pub fn read(path: &Path) -> Result<Network, ImportError> {
    parse(&read_bounded(path)?)
}

/// Step 4: the model file's bytes for `net`. `scaling` is how 0–255 pixels become the
/// model's float input; `None` takes an int8 model's input quantisation as it stands
/// ([`pixel_scaling`]) and 1/255 for a float32 model.
///
/// # Errors
/// A scaling an int8 model cannot honour, a multiplier without an int32 form, a softmax
/// input scale TFLite's int8 softmax cannot take, or what the encoder refuses.
pub fn model_file(net: &Network, scaling: Option<InputScaling>) -> Result<Vec<u8>> {
    match &net.weights {
        Weights::F32(dense) => {
            let model = Model::F32(float_model(net, dense, scaling_for(net, scaling))?);
            Ok(crate::convert::encode_model(&model, &[])?)
        }
        Weights::I8(q) => Ok(quantized_model(net, q, scaling)?.encode()?),
    }
}

/// A float32 network's layers `dense` (its [`Weights::F32`]) as nn-core's model.
///
/// # Errors
/// More layers than nn-core holds.
pub fn float_model<'a>(
    net: &Network,
    dense: &'a [DenseF32],
    scaling: InputScaling,
) -> Result<ModelF32<'a>> {
    let mut layers = Layers::new();
    let mut inputs = net.input;
    for (d, shape) in dense.iter().zip(&net.layers) {
        layers.push(LayerF32 {
            weights: &d.weights,
            bias: &d.bias,
            inputs,
            outputs: shape.outputs,
            activation: shape.activation,
        })?;
        inputs = shape.outputs;
    }
    Ok(ModelF32 {
        layers,
        softmax: net.softmax,
        scaling,
    })
}

/// The scaling the file records: `given`, or by default 1/255 for a float32 model and
/// [`pixel_scaling`] for an int8 one.
pub fn scaling_for(net: &Network, given: Option<InputScaling>) -> InputScaling {
    match (given, &net.weights) {
        (Some(s), _) => s,
        (None, Weights::F32(_)) => InputScaling {
            scale: 1.0 / 255.0,
            offset: 0.0,
        },
        (None, Weights::I8(q)) => pixel_scaling(q.input),
    }
}

/// The scaling under which 0–255 pixels are exactly an int8 model's input `pixel - 128`
/// (what nn-core feeds an int8 model from pixels): `x = (pixel - 128 - zero_point) * scale`.
pub fn pixel_scaling(input: TensorQuant) -> InputScaling {
    InputScaling {
        scale: input.scale,
        offset: (-128.0 - input.zero_point as f32) * input.scale,
    }
}

/// The int8 model as nn-core runs it (and the `quantize` command writes it). nn-core feeds
/// the first layer `pixel - 128` from pixels, so a given `scaling` must turn
/// `pixel * scale + offset` into exactly that for every pixel, as TFLite's QUANTIZE
/// computes it (`round(x / scale) + zero_point` in f32); `None` takes [`pixel_scaling`].
///
/// # Errors
/// As [`model_file`].
pub fn quantized_model(
    net: &Network,
    q: &Int8,
    scaling: Option<InputScaling>,
) -> Result<QuantizedModel> {
    let scaling = match scaling {
        Some(s) => {
            check_pixels(q.input, s)?;
            s
        }
        None => pixel_scaling(q.input),
    };
    let mut layers = Vec::with_capacity(q.layers.len());
    let mut inputs = net.input;
    for (i, (l, shape)) in q.layers.iter().zip(&net.layers).enumerate() {
        let requant = l
            .real_multipliers()
            .into_iter()
            .enumerate()
            .map(|(r, m)| {
                Requant::from_real(m).with_context(|| {
                    format!(
                        "layer {} row {r}: multiplier {m:e} has no int32 form",
                        i + 1
                    )
                })
            })
            .collect::<Result<_>>()?;
        let table = match shape.activation {
            Activation::Sigmoid => logistic_table(l.output).to_vec(),
            Activation::Tanh => tanh_table(l.output).to_vec(),
            _ => Vec::new(),
        };
        layers.push(QuantizedLayer {
            weights: l.weights.clone(),
            bias: l.bias.clone(),
            requant,
            weight_scales: l.weight_scales.clone(),
            inputs,
            output: l.output,
            activation: shape.activation,
            table,
        });
        inputs = shape.outputs;
    }
    let softmax = match (q.softmax, layers.last()) {
        (Some(_), Some(last)) => {
            let logits = last.view().activated().scale;
            Some(SoftmaxI8Params::from_input_scale(logits).with_context(|| {
                format!("logits scale {logits} is too small for TFLite's int8 softmax")
            })?)
        }
        _ => None,
    };
    Ok(QuantizedModel {
        input: q.input,
        layers,
        softmax,
        scaling,
        class_names: Vec::new(),
    })
}

/// Refuses a `scaling` under which some pixel does not quantise to `pixel - 128`.
fn check_pixels(input: TensorQuant, scaling: InputScaling) -> Result<()> {
    for pixel in 0..=255u8 {
        let x = f32::from(pixel) * scaling.scale + scaling.offset;
        let quantized = (x / input.scale).round() as i64 + i64::from(input.zero_point);
        if quantized.clamp(-128, 127) != i64::from(pixel) - 128 {
            bail!(
                "input quantised with scale {} zero point {}: pixel {pixel} (x = {x}) becomes {}, \
                 not pixel - 128 as this project's int8 models take it; check --input-scale and \
                 --input-offset, or leave both out to take the model's input quantisation",
                input.scale,
                input.zero_point,
                quantized.clamp(-128, 127)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_fractions_parse() {
        assert_eq!(parse_number("1/255"), Ok(1.0 / 255.0));
        assert_eq!(parse_number("0.00392"), Ok(0.00392));
        assert_eq!(parse_number("1"), Ok(1.0));
        assert_eq!(parse_number("-0.5"), Ok(-0.5));
        assert!(parse_number("1/0").is_err());
        assert!(parse_number("a/255").is_err());
        assert!(parse_number("nan").is_err());
        assert!(parse_number("").is_err());
    }

    #[test]
    fn bytes_without_the_identifier_are_refused() {
        assert!(matches!(parse(b""), Err(ImportError::NotTflite)));
        assert!(matches!(
            parse(b"\0\0\0\0NNMF"),
            Err(ImportError::NotTflite)
        ));
    }
}
