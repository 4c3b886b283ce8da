//! The `--metrics` file: a JSON record of one training run, for CI and the README.

use std::path::Path;

use serde::Serialize;

use nn_train::{EpochStats, RunSummary, TrainConfig};

/// What `train --metrics FILE` writes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    /// Accuracy on the test set after the last epoch (0–1).
    pub test_accuracy: f64,
    /// Mean cross-entropy on the test set after the last epoch.
    pub test_loss: f64,
    /// The epochs this invocation trained.
    pub epochs: Vec<EpochStats>,
    /// Present when the run continued a checkpoint: the epochs done before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_from_epoch: Option<usize>,
    /// The run's settings (preset name and every hyper-parameter).
    pub config: TrainConfig,
    /// Worker threads used.
    pub threads: usize,
    /// Where the model was written.
    pub model: String,
}

impl Metrics {
    /// The record of `summary`, trained with `config` on `threads` threads into `model`.
    pub fn new(summary: &RunSummary, config: &TrainConfig, threads: usize, model: &Path) -> Self {
        Self {
            test_accuracy: summary.test.accuracy,
            test_loss: summary.test.loss,
            epochs: summary.epochs.clone(),
            resumed_from_epoch: summary.resumed_from_epoch,
            config: config.clone(),
            threads,
            model: model.display().to_string(),
        }
    }

    /// Writes the record as pretty JSON, atomically.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        json.push(b'\n');
        crate::files::atomic::write(path, &json)
    }
}
