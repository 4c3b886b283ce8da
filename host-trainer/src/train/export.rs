//! The trained network as an nn-core model file (`nn_core::format`), written atomically,
//! and read back into the trainer's flat layout for `eval`.
//!
//! The flat buffer's layers are already the file's tensors in the file's order and layout
//! (`W1 (H,IN)`, `b1`, `W2 (OUT,H)`, `b2`, …), so export is a [`Model`] view over them
//! ([`model_view`]) and nn-core's one encoder, which writes depth 2 byte for byte as ever.

use std::path::{Path, PathBuf};

use nn_core::format;
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
/// (`k`-th for output `k`, at most one per output), through nn-core's one encoder
/// ([`format::encode_model`]): a depth-2 network without names is version 1, byte for byte
/// what it was before names existed, with names version 2, any other depth version 3.
pub fn encode_named(
    net: &Network,
    scaling: InputScaling,
    class_names: &[String],
) -> Result<Vec<u8>, nn_core::Error> {
    let model = Model::F32(model_view(net, scaling)?);
    let names: Vec<&str> = class_names.iter().map(String::as_str).collect();
    let mut bytes = vec![0u8; format::encoded_len_model(&model, &names)?];
    let n = format::encode_model(&model, &names, &mut bytes)?.len();
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
    let unsupported = |why: String| ExportError::Unsupported {
        path: path.to_path_buf(),
        why,
    };
    let Model::F32(m) = model.model() else {
        return Err(unsupported(
            "int8 weights (training and eval of loss read f32 models)".to_owned(),
        ));
    };
    let layers: Vec<&LayerF32<'_>> = m.layers.iter().collect();
    let Some((last, hidden)) = layers.split_last() else {
        return Err(unsupported("no layers".to_owned()));
    };
    if !m.softmax || last.activation != Activation::Identity {
        return Err(unsupported(format!(
            "output activation {:?}{}, expected a softmax",
            last.activation,
            if m.softmax { " then softmax" } else { "" }
        )));
    }
    let first = hidden.first().map_or(Activation::Relu, |l| l.activation);
    if let Some(l) = hidden.iter().find(|l| l.activation != first) {
        return Err(unsupported(format!(
            "hidden activations {first:?} and {:?} (the trainer uses one for every hidden layer)",
            l.activation
        )));
    }
    let activation = Hidden::try_from(first)
        .map_err(|other| unsupported(format!("hidden activation {other:?}")))?;
    let inputs = hidden.first().unwrap_or(last).inputs;
    let sizes = std::iter::once(inputs)
        .chain(layers.iter().map(|l| l.outputs))
        .collect();
    let data = layers
        .iter()
        .flat_map(|l| l.weights.iter().chain(l.bias))
        .copied()
        .collect();
    let params = Flat { sizes, data };
    Ok((Network { params, activation }, m.scaling))
}
