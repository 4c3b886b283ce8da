//! The trained network as an nn-core model file (`nn_core::format`), written atomically,
//! and read back into the trainer's flat layout for `eval`.
//!
//! The flat buffer's layers are already the file's tensors in the file's order and layout
//! (`W1 (H,IN)`, `b1`, `W2 (OUT,H)`, `b2`, …), so export is one `encode` call. Depth 2 is
//! written by the version 1/2 encoder, byte for byte as ever; any other depth goes through
//! a [`Model`] view ([`model_view`]) and the host's one model writer.

use std::path::{Path, PathBuf};

use nn_core::format::{self, Header};
use nn_core::network::{LayerF32, Layers, Model, ModelF32};
use nn_core::{Activation, InputScaling};

use nn_train::network::{Flat, Hidden, Network};

/// Why a model file could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Reading or writing the file failed.
    #[error("model {path}: {source}")]
    Io {
        /// The model file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// nn-core refused to encode or decode it.
    #[error("model {path}: {source}")]
    Format {
        /// The model file.
        path: PathBuf,
        /// What nn-core said.
        source: nn_core::Error,
    },
    /// The host's model loader refused it (it names the file).
    #[error(transparent)]
    Load(#[from] crate::model::ModelError),
    /// A valid file describing a network this trainer does not build.
    #[error("model {path}: {why}")]
    Unsupported {
        /// The model file.
        path: PathBuf,
        /// What is unusual about it.
        why: String,
    },
}

/// The model file's bytes for `net` fed with pixels scaled by `scaling` (version 1, as
/// ever: [`encode_named`] without names).
pub fn encode(net: &Network, scaling: InputScaling) -> Result<Vec<u8>, nn_core::Error> {
    encode_named(net, scaling, &[])
}

/// The model file's bytes for `net` fed with pixels scaled by `scaling`, with `class_names`
/// (`k`-th for output `k`, at most one per output) in a version-2 file; without names the
/// file is version 1, byte for byte what it was before names existed. Depth 2 only: other
/// depths are written from [`model_view`].
pub fn encode_named(
    net: &Network,
    scaling: InputScaling,
    class_names: &[String],
) -> Result<Vec<u8>, nn_core::Error> {
    let layers = net.params.layers();
    let [(w1, b1), (w2, b2)] = layers[..] else {
        // A version 1/2 header describes two layers and nothing else.
        return Err(nn_core::Error::BadHeader);
    };
    let s = &net.params.sizes;
    let header = Header::new(
        [s[0], s[1], s[2]],
        Activation::from(net.activation),
        Activation::Softmax,
        scaling,
    )?;
    let names: Vec<&str> = class_names.iter().map(String::as_str).collect();
    let mut bytes = vec![0u8; format::encoded_len_named(&header, &names)?];
    let n = format::encode_named(&header, &names, [w1, b1, w2, b2], &mut bytes)?;
    bytes.truncate(n);
    Ok(bytes)
}

/// `net` as nn-core's [`Model`] of any depth, borrowing its parameters: each hidden layer
/// with the trained activation, the last one's logits into the softmax.
///
/// # Errors
/// [`nn_core::Error`] if the network is deeper than nn-core's `MAX_LAYERS`.
pub fn model_view(net: &Network, scaling: InputScaling) -> Result<ModelF32<'_>, nn_core::Error> {
    let mut layers = Layers::default();
    let all = net.params.layers();
    let last = all.len() - 1;
    for (k, ((weights, bias), io)) in all.into_iter().zip(net.params.sizes.windows(2)).enumerate() {
        layers.push(LayerF32 {
            weights,
            bias,
            inputs: io[0],
            outputs: io[1],
            activation: if k == last {
                Activation::Identity
            } else {
                Activation::from(net.activation)
            },
        })?;
    }
    Ok(ModelF32 {
        layers,
        softmax: true,
        scaling,
    })
}

/// The seam to the host's one model writer for depths other than 2: what
/// `crate::model::write(path, &model, names)` does once the model file's version 3 is in
/// this build (helper format3's piece). Until then it refuses in one line, writing nothing.
fn write_any_depth(path: &Path, model: &Model<'_>, _names: &[&str]) -> Result<(), ExportError> {
    Err(ExportError::Unsupported {
        path: path.to_path_buf(),
        why: format!(
            "a network of {} layers needs model file version 3, which this build cannot write yet",
            match model {
                Model::F32(m) => m.layers.len(),
                Model::I8(m) => m.layers.len(),
            }
        ),
    })
}

/// Writes `net` to `path` atomically (see [`crate::files::atomic`]), without class names.
pub fn write_model(path: &Path, net: &Network, scaling: InputScaling) -> Result<(), ExportError> {
    write_model_named(path, net, scaling, &[])
}

/// Writes `net` with `class_names` (see [`encode_named`]) to `path` atomically.
pub fn write_model_named(
    path: &Path,
    net: &Network,
    scaling: InputScaling,
    class_names: &[String],
) -> Result<(), ExportError> {
    let format_error = |source| ExportError::Format {
        path: path.to_path_buf(),
        source,
    };
    if net.params.depth() != 2 {
        let model = Model::F32(model_view(net, scaling).map_err(format_error)?);
        let names: Vec<&str> = class_names.iter().map(String::as_str).collect();
        return write_any_depth(path, &model, &names);
    }
    let bytes = encode_named(net, scaling, class_names).map_err(format_error)?;
    crate::files::atomic::write(path, &bytes).map_err(|source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a model file into the trainer's form, with the scaling it expects, through the
/// host's one loader ([`crate::model::HostModel::load`]).
pub fn read_model(path: &Path) -> Result<(Network, InputScaling), ExportError> {
    network(&crate::model::HostModel::load(path)?, path)
}

/// `model` (read from `path`, which errors name) as the trainer's network, with its input
/// scaling: [`read_model`] without reading the file again.
///
/// # Errors
/// [`ExportError::Unsupported`] for int8 weights or an activation the trainer lacks.
pub fn network(
    model: &crate::model::HostModel,
    path: &Path,
) -> Result<(Network, InputScaling), ExportError> {
    let header = *model.header();
    let unsupported = |why: String| ExportError::Unsupported {
        path: path.to_path_buf(),
        why,
    };
    let activation = Hidden::try_from(header.hidden_activation)
        .map_err(|other| unsupported(format!("hidden activation {other:?}")))?;
    if header.output_activation != Activation::Softmax {
        return Err(unsupported(format!(
            "output activation {:?}, expected Softmax",
            header.output_activation
        )));
    }
    let params = Flat {
        sizes: model.shape().to_vec(),
        data: model.parameters().map(<[f32]>::to_vec).ok_or_else(|| {
            unsupported("int8 weights (training and eval of loss read f32 models)".to_owned())
        })?,
    };
    Ok((Network { params, activation }, header.scaling))
}
