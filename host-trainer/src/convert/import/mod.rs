//! `host-trainer import MODEL.tflite --out F.nnm`: a TensorFlow Lite model of this project's
//! family into a model file.
//!
//! 1. Read the file, refusing anything that is not a regular file of at most
//!    [`MAX_FILE_BYTES`] ([`read_bounded`]).
//! 2. Check the `TFL3` identifier and verify the whole flatbuffer ([`schema::model`]).
//! 3. Recognise `Flatten -> FULLY_CONNECTED (+ RELU or LOGISTIC) -> FULLY_CONNECTED ->
//!    SOFTMAX`, float32 or int8, into a [`Network`] ([`graph::recognize`]).
//! 4. Write the equivalent model file ([`model_file`]) with the input scaling given on the
//!    command line: a `.tflite` does not say how pixels became its float input, so
//!    `--input-scale` (default 1/255) and `--input-offset` (default 0) say it. The bytes go
//!    through [`crate::model::write`], so a file `eval` would refuse (an activation bound
//!    the scaling or the weights break, a shape the host does not run) is never written.
//!
//! The input is untrusted: nothing here panics or allocates by a size the file claims
//! before the verifier has bounded it.

pub mod graph;
mod names;
pub mod schema;

use std::path::Path;

use anyhow::{Context, Result, bail};
use nn_core::activation::Activation;
use nn_core::format::{self, Header, Shape};
use nn_core::lut::logistic_table;
use nn_core::model::InputScaling;
use nn_core::quant::{Requant, SoftmaxI8Params};

use crate::convert::int8_model::{QuantizedLayer, QuantizedModel};

pub use graph::{FullyConnectedI8, Int8, Network, Weights};

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
    #[error("operator {name} is not supported (this importer reads {family})")]
    UnsupportedOperator {
        /// As TFLite names it, e.g. `CONV_2D`.
        name: String,
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

/// Step 4: the model file's bytes for `net`, run on pixels as `pixel * scale + offset`:
/// version 1 (f32) for a float32 model, version 2 (int8) for an int8 one.
pub fn model_file(net: &Network, scaling: InputScaling) -> Result<Vec<u8>> {
    match &net.weights {
        Weights::F32 { w1, b1, w2, b2 } => {
            let header = Header::new(
                [net.input, net.hidden, net.output],
                net.hidden_activation,
                Activation::Softmax,
                scaling,
            )?;
            let mut out = vec![0u8; format::encoded_len(&header)?];
            let n = format::encode(&header, [w1, b1, w2, b2], &mut out)?;
            out.truncate(n);
            Ok(out)
        }
        Weights::I8(q) => Ok(quantized_model(net, q, scaling)?.encode()?),
    }
}

/// The int8 model as nn-core runs it (and the `quantize` command writes it). nn-core feeds
/// the first layer `pixel - 128`, so the model's input quantisation must turn
/// `pixel * scale + offset` into exactly that for every pixel, as TFLite's QUANTIZE
/// computes it (`round(x / scale) + zero_point` in f32).
pub fn quantized_model(net: &Network, q: &Int8, scaling: InputScaling) -> Result<QuantizedModel> {
    for pixel in 0..=255u8 {
        let x = f32::from(pixel) * scaling.scale + scaling.offset;
        let quantized = (x / q.input.scale).round() as i64 + i64::from(q.input.zero_point);
        if quantized.clamp(-128, 127) != i64::from(pixel) - 128 {
            bail!(
                "input quantised with scale {} zero point {}: pixel {pixel} (x = {x}) becomes {}, \
                 not pixel - 128 as this project's int8 models take it; check --input-scale and --input-offset",
                q.input.scale,
                q.input.zero_point,
                quantized.clamp(-128, 127)
            );
        }
    }
    let layer = |l: &FullyConnectedI8, name: &str| -> Result<QuantizedLayer> {
        let requant = l
            .real_multipliers()
            .into_iter()
            .enumerate()
            .map(|(r, m)| {
                Requant::from_real(m)
                    .with_context(|| format!("{name} row {r}: multiplier {m:e} has no int32 form"))
            })
            .collect::<Result<_>>()?;
        Ok(QuantizedLayer {
            weights: l.weights.clone(),
            bias: l.bias.clone(),
            requant,
            weight_scales: l.weight_scales.clone(),
        })
    };
    let softmax = SoftmaxI8Params::from_input_scale(q.layer2.output.scale).with_context(|| {
        format!(
            "logits scale {} is too small for TFLite's int8 softmax",
            q.layer2.output.scale
        )
    })?;
    let sigmoid_table = match net.hidden_activation {
        Activation::Sigmoid => logistic_table(q.layer1.output).to_vec(),
        _ => Vec::new(),
    };
    let model = QuantizedModel {
        shape: Shape {
            input: net.input,
            hidden: net.hidden,
            output: net.output,
        },
        hidden_activation: net.hidden_activation,
        scaling,
        quant: [q.input, q.layer1.output, q.layer2.output],
        softmax,
        layers: [layer(&q.layer1, "layer 1")?, layer(&q.layer2, "layer 2")?],
        sigmoid_table,
        class_names: Vec::new(),
    };
    model.as_mlp().check()?;
    Ok(model)
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
