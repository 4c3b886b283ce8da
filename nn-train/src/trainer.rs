//! The training loop: [`Trainer`] holds the whole state of a run, [`Trainer::train_epoch`]
//! is one pass of mini-batch Adam, and [`run`] drives the epochs, handing each epoch's
//! state to a checkpoint callback and its progress to an [`Observer`]; no file or terminal
//! is touched here.

use std::time::Instant;

use nn_core::InputScaling;
use serde::{Deserialize, Serialize};

use nn_data::Dataset;

use crate::adam::{Adam, AdamConfig};
use crate::network::{Flat, Hidden, Network, Workspace};
use crate::rng::Rng;
use crate::{denormals, fast};

/// Everything that decides a run's result. A checkpoint stores it, and `--resume` refuses a
/// checkpoint whose configuration differs (except `epochs`, which may grow).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The preset the run started from (its name).
    pub preset: String,
    /// Units of each hidden layer, first layer first: `[1024]` is the presets' one hidden
    /// layer. Stored as a number when there is one layer, so checkpoints of one-layer runs
    /// read and write as before.
    #[serde(with = "hidden_list")]
    pub hidden: Vec<usize>,
    /// Every hidden layer's activation.
    pub activation: Hidden,
    /// How pixels become inputs.
    pub scaling: InputScaling,
    /// Examples per Adam step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Epochs in the whole run.
    pub epochs: usize,
    /// Optimizer hyper-parameters; `adam.lr` is the first epoch's learning rate.
    pub adam: AdamConfig,
    /// Each epoch's learning rate is the previous one's times this (1 = constant, as the
    /// seed's Keras model). Smaller steps late in training settle into a better minimum.
    #[serde(default = "constant_lr")]
    pub lr_decay: f32,
    /// Seeds weight init and every epoch's shuffle.
    pub seed: u64,
}

fn constant_lr() -> f32 {
    1.0
}

impl TrainConfig {
    /// The learning rate of 1-based `epoch`.
    pub fn lr_at(&self, epoch: usize) -> f32 {
        let decays = i32::try_from(epoch.saturating_sub(1)).unwrap_or(i32::MAX);
        self.adam.lr * self.lr_decay.powi(decays)
    }

    /// The network's sizes: `[IN, H1, …, OUT]` for MNIST's images and classes.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = Vec::with_capacity(self.hidden.len() + 2);
        sizes.push(nn_core::IMAGE_PIXELS);
        sizes.extend_from_slice(&self.hidden);
        sizes.push(nn_core::CLASSES);
        sizes
    }
}

/// `hidden` as a number for one layer (what checkpoints held before depth was a choice) and
/// as a list otherwise; either reads back.
mod hidden_list {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(usize),
        Many(Vec<usize>),
    }

    pub(super) fn serialize<S: Serializer>(hidden: &[usize], s: S) -> Result<S::Ok, S::Error> {
        match hidden {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<usize>, D::Error> {
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        })
    }
}

/// A batch's mean cross-entropy above which training counts as diverged. Guessing
/// uniformly over 10 classes costs ln 10 ≈ 2.3; a mean of 1000 means the logits are a
/// thousand apart in the wrong direction, which only exploded weights produce (`--lr 1e9`
/// reaches ~4e17 on MNIST while staying finite). No healthy run comes near it.
pub const DIVERGED_LOSS: f32 = 1e3;

/// Why training stopped without a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The loss became NaN, infinite or larger than [`DIVERGED_LOSS`]: the learning rate
    /// is too high for this setup.
    #[error(
        "training diverged: loss is {loss} at epoch {epoch}, batch {batch} (try a lower --lr); no model written"
    )]
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch in the epoch.
        batch: usize,
        /// The mean loss of that batch.
        loss: f32,
    },
    /// A setting that cannot train (zero batch size, zero hidden units, no data...).
    #[error("invalid training setup: {0}")]
    Invalid(String),
}

/// One finished epoch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based.
    pub epoch: usize,
    /// Wall time of the training pass (no evaluation, no checkpoint).
    pub seconds: f64,
    /// Mean training loss over the epoch, as Keras prints it.
    pub loss: f64,
    /// Training accuracy over the epoch (0–1).
    pub accuracy: f64,
}

/// Loss and accuracy over a whole data set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalStats {
    /// Mean cross-entropy (nats).
    pub loss: f64,
    /// Fraction classified correctly (0–1).
    pub accuracy: f64,
    /// Examples evaluated.
    pub examples: usize,
}

/// Told about a run's progress; the CLI draws bars or prints lines, tests ignore it.
pub trait Observer {
    /// An epoch of `examples` training examples starts.
    fn epoch_start(&mut self, _epoch: usize, _epochs: usize, _examples: usize) {}
    /// `done` examples of the epoch are through, with the running mean loss and accuracy.
    fn batch_end(&mut self, _done: usize, _loss: f64, _accuracy: f64) {}
    /// The epoch is over.
    fn epoch_end(&mut self, _stats: &EpochStats) {}
    /// Whether [`run`] should measure the test set after every epoch and call
    /// [`Observer::test_end`]: one more forward pass over the test set per epoch.
    fn wants_test_every_epoch(&self) -> bool {
        false
    }
    /// The test set's loss and accuracy after `epoch` (see [`Observer::wants_test_every_epoch`]).
    fn test_end(&mut self, _epoch: usize, _stats: &EvalStats) {}
}

/// Two observers told the same things, in order: e.g. the progress bar and the plot's record.
#[derive(Debug)]
pub struct Tee<A, B>(pub A, pub B);

impl<A: Observer, B: Observer> Observer for Tee<A, B> {
    fn epoch_start(&mut self, epoch: usize, epochs: usize, examples: usize) {
        self.0.epoch_start(epoch, epochs, examples);
        self.1.epoch_start(epoch, epochs, examples);
    }
    fn batch_end(&mut self, done: usize, loss: f64, accuracy: f64) {
        self.0.batch_end(done, loss, accuracy);
        self.1.batch_end(done, loss, accuracy);
    }
    fn epoch_end(&mut self, stats: &EpochStats) {
        self.0.epoch_end(stats);
        self.1.epoch_end(stats);
    }
    fn wants_test_every_epoch(&self) -> bool {
        self.0.wants_test_every_epoch() || self.1.wants_test_every_epoch()
    }
    fn test_end(&mut self, epoch: usize, stats: &EvalStats) {
        self.0.test_end(epoch, stats);
        self.1.test_end(epoch, stats);
    }
}

/// An observer that may be absent: told everything when present.
impl<O: Observer> Observer for Option<O> {
    fn epoch_start(&mut self, epoch: usize, epochs: usize, examples: usize) {
        if let Some(o) = self {
            o.epoch_start(epoch, epochs, examples);
        }
    }
    fn batch_end(&mut self, done: usize, loss: f64, accuracy: f64) {
        if let Some(o) = self {
            o.batch_end(done, loss, accuracy);
        }
    }
    fn epoch_end(&mut self, stats: &EpochStats) {
        if let Some(o) = self {
            o.epoch_end(stats);
        }
    }
    fn wants_test_every_epoch(&self) -> bool {
        self.as_ref().is_some_and(O::wants_test_every_epoch)
    }
    fn test_end(&mut self, epoch: usize, stats: &EvalStats) {
        if let Some(o) = self {
            o.test_end(epoch, stats);
        }
    }
}

/// An [`Observer`] that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Observer for Silent {}

/// The whole state of a training run: what a checkpoint saves.
#[derive(Debug)]
pub struct Trainer {
    /// The run's settings.
    pub config: TrainConfig,
    /// The parameters being trained.
    pub net: Network,
    /// The optimizer and its moments.
    pub adam: Adam,
    /// The generator, as it stands after the last completed epoch.
    pub rng: Rng,
    /// Epochs completed.
    pub epoch: usize,
    grads: Flat,
    ws: Workspace,
}

impl Trainer {
    /// A fresh run: Glorot-uniform weights drawn from `config.seed`.
    pub fn new(config: TrainConfig) -> Result<Self, TrainError> {
        if config.batch_size == 0 || config.hidden.is_empty() || config.hidden.contains(&0) {
            return Err(TrainError::Invalid(
                "batch size, hidden layers and hidden units must be at least 1".into(),
            ));
        }
        let mut rng = Rng::new(config.seed);
        let params = Flat::glorot(&config.sizes(), &mut rng);
        Ok(Self::assemble(config, params, None, rng, 0))
    }

    /// A run continuing from saved state (a checkpoint).
    pub fn assemble(
        config: TrainConfig,
        params: Flat,
        adam: Option<Adam>,
        rng: Rng,
        epoch: usize,
    ) -> Self {
        let sizes = params.sizes.clone();
        let adam = adam.unwrap_or_else(|| Adam::new(config.adam, &params));
        Self {
            net: Network {
                params,
                activation: config.activation,
            },
            adam,
            rng,
            epoch,
            grads: Flat::zeros(&sizes),
            ws: Workspace::new(&sizes, config.batch_size),
            config,
        }
    }

    /// One pass over `train` in a fresh random order, one Adam step per batch.
    ///
    /// # Errors
    /// [`TrainError::Diverged`] as soon as a batch's mean loss is not finite or exceeds
    /// [`DIVERGED_LOSS`]; the trainer then holds the state after that batch's step, which
    /// nothing saves.
    pub fn train_epoch(
        &mut self,
        train: &Dataset,
        observer: &mut dyn Observer,
    ) -> Result<EpochStats, TrainError> {
        if train.is_empty() {
            return Err(TrainError::Invalid("the training set is empty".into()));
        }
        denormals::flush_to_zero_everywhere();
        let start = Instant::now();
        let epoch = self.epoch + 1;
        let n = train.len();
        self.adam.config.lr = self.config.lr_at(epoch);
        observer.epoch_start(epoch, self.config.epochs, n);
        let mut order: Vec<usize> = (0..n).collect();
        self.rng.shuffle(&mut order);
        let (mut loss_sum, mut correct, mut done) = (0.0f64, 0usize, 0usize);
        for (batch, indices) in order.chunks(self.config.batch_size).enumerate() {
            let b = self
                .ws
                .load(&train.images, &train.labels, indices, self.config.scaling);
            let stats = fast::step(
                &mut self.net,
                &mut self.ws,
                &mut self.grads,
                &mut self.adam,
                b,
            );
            let mean = (stats.loss_sum / b as f64) as f32;
            if !mean.is_finite() || mean > DIVERGED_LOSS {
                return Err(TrainError::Diverged {
                    epoch,
                    batch: batch + 1,
                    loss: mean,
                });
            }
            loss_sum += stats.loss_sum;
            correct += stats.correct;
            done += b;
            observer.batch_end(done, loss_sum / done as f64, correct as f64 / done as f64);
        }
        self.epoch = epoch;
        let stats = EpochStats {
            epoch,
            seconds: start.elapsed().as_secs_f64(),
            loss: loss_sum / n as f64,
            accuracy: correct as f64 / n as f64,
        };
        observer.epoch_end(&stats);
        Ok(stats)
    }
}

/// Examples per evaluation batch: large products keep gemm busy on every core.
const EVAL_BATCH: usize = 1000;

/// Loss and accuracy of `net` on `data`, its pixels scaled by `scaling`.
pub fn evaluate(net: &Network, scaling: InputScaling, data: &Dataset) -> EvalStats {
    evaluate_each(net, scaling, data, |_, _| {})
}

/// [`evaluate`], handing each batch's probabilities to `each(first, probs)`: examples
/// `first..first + b` of `data`, `probs` is `(b, outputs)` row-major. `eval --report`
/// reads its confusion matrix from here, so its counts are `eval`'s.
pub fn evaluate_each(
    net: &Network,
    scaling: InputScaling,
    data: &Dataset,
    mut each: impl FnMut(usize, &[f32]),
) -> EvalStats {
    let n = data.len();
    let outputs = *net.params.sizes.last().expect("a network has outputs");
    let mut ws = Workspace::new(&net.params.sizes, EVAL_BATCH.min(n.max(1)));
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    let all: Vec<usize> = (0..n).collect();
    for indices in all.chunks(ws.capacity) {
        let b = ws.load(&data.images, &data.labels, indices, scaling);
        let stats = fast::forward(net, &mut ws, b);
        each(indices[0], &ws.probs[..b * outputs]);
        loss_sum += stats.loss_sum;
        correct += stats.correct;
    }
    EvalStats {
        loss: loss_sum / n.max(1) as f64,
        accuracy: correct as f64 / n.max(1) as f64,
        examples: n,
    }
}

/// What a finished run reports.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// The epochs this invocation trained (not those before a resume).
    pub epochs: Vec<EpochStats>,
    /// The epoch the run resumed after, if it did.
    pub resumed_from_epoch: Option<usize>,
    /// On the test set, after the last epoch.
    pub test: EvalStats,
    /// The final network.
    pub net: Network,
}

/// Trains `config.epochs` epochs on `train`, from `start` (a resumed run's state) or from
/// scratch, handing the state after each epoch to `checkpoint`, then evaluates on `test`.
/// The caller writes the model; nothing is written here.
///
/// # Errors
/// Divergence or an invalid setup ([`TrainError`]), or what `checkpoint` returned.
pub fn run<E: From<TrainError>>(
    config: &TrainConfig,
    train: &Dataset,
    test: &Dataset,
    start: Option<Trainer>,
    observer: &mut dyn Observer,
    mut checkpoint: impl FnMut(&Trainer) -> Result<(), E>,
) -> Result<RunSummary, E> {
    let (mut trainer, resumed_from_epoch) = match start {
        Some(t) => {
            let from = t.epoch;
            (t, Some(from))
        }
        None => (Trainer::new(config.clone())?, None),
    };
    // The stored config may have fewer epochs; this invocation's count wins.
    trainer.config.epochs = config.epochs;
    let mut epochs = Vec::new();
    let mut last_test = None;
    while trainer.epoch < config.epochs {
        epochs.push(trainer.train_epoch(train, observer)?);
        checkpoint(&trainer)?;
        if observer.wants_test_every_epoch() {
            let stats = evaluate(&trainer.net, config.scaling, test);
            observer.test_end(trainer.epoch, &stats);
            last_test = Some(stats);
        }
    }
    let test = last_test.unwrap_or_else(|| evaluate(&trainer.net, config.scaling, test));
    Ok(RunSummary {
        epochs,
        resumed_from_epoch,
        test,
        net: trainer.net,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::Preset;

    #[test]
    fn one_hidden_layer_is_stored_as_a_number_and_a_list_reads_back() {
        let mut config = Preset::Mcu.config(1);
        let json = serde_json::to_string(&config).unwrap();
        assert!(json.contains("\"hidden\":128,"), "{json}");
        config.hidden = vec![256, 128];
        let json = serde_json::to_string(&config).unwrap();
        assert!(json.contains("\"hidden\":[256,128],"), "{json}");
        let back: TrainConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, config);
        assert_eq!(back.sizes(), [784, 256, 128, 10]);
    }
}
