//! A training run's files: the checkpoint after every epoch ([`checkpoint`]), written
//! atomically with a checksum, and the model file at the end ([`export`]). The training
//! itself is nn-train's.

pub mod checkpoint;
pub mod export;

use std::path::{Path, PathBuf};

use nn_core::{CLASSES, IMAGE_PIXELS};
use nn_data::Dataset;
use nn_train::{Observer, RunSummary, TrainConfig, TrainError};

use crate::model::MAX_HIDDEN;

/// The most parameters a network may have: those of the widest one-layer network, so
/// every trained model file and checkpoint stays within what the host reads back.
pub const MAX_PARAMETERS: usize = MAX_HIDDEN * (IMAGE_PIXELS + 1) + CLASSES * (MAX_HIDDEN + 1);

/// Hidden layer sizes as `--hidden` takes them: `256,128`.
pub fn hidden_list(hidden: &[usize]) -> String {
    hidden
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Why a run stopped without a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Training itself failed (divergence, an invalid setup).
    #[error(transparent)]
    Train(#[from] TrainError),
    /// Reading or writing the checkpoint failed.
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    /// Writing the model file failed.
    #[error(transparent)]
    Export(#[from] export::ExportError),
}

/// Where a run writes: the model file and, beside it, its checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outputs {
    /// The model file (e.g. `models/seed.nnm`).
    pub model: PathBuf,
    /// The checkpoint (`<model>.ckpt`).
    pub checkpoint: PathBuf,
}

impl Outputs {
    /// The model at `model`, its checkpoint at `<model>.ckpt`.
    pub fn beside(model: &Path) -> Self {
        let mut ckpt = model.as_os_str().to_owned();
        ckpt.push(".ckpt");
        Self {
            model: model.to_path_buf(),
            checkpoint: PathBuf::from(ckpt),
        }
    }
}

/// Trains `config.epochs` epochs on `train` (or the rest of them when `resume` is set and
/// a checkpoint exists), checkpointing after each, then evaluates on `test` and writes the
/// model file, with `class_names` (label order; none for MNIST's digits). Nothing is written
/// once the loss diverges.
///
/// # Errors
/// Divergence, a checkpoint that is corrupt or from another configuration, or I/O.
pub fn run(
    config: &TrainConfig,
    train: &Dataset,
    test: &Dataset,
    class_names: &[String],
    out: &Outputs,
    resume: bool,
    observer: &mut dyn Observer,
) -> Result<RunSummary, RunError> {
    let start = if resume && out.checkpoint.exists() {
        Some(checkpoint::load(&out.checkpoint, config)?)
    } else {
        None
    };
    let summary = nn_train::run(config, train, test, start, observer, |trainer| {
        checkpoint::save(&out.checkpoint, trainer).map_err(RunError::from)
    })?;
    export::write_model_named(&out.model, &summary.net, config.scaling, class_names)?;
    Ok(summary)
}
