//! `host-trainer train` (also what runs when no command is named): the preset and the
//! flags that override it, the limits that keep a run within memory, and the run itself.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use nn_core::train::Learn;
use nn_core::{CLASSES, IMAGE_PIXELS};

use crate::model::MAX_HIDDEN;
use crate::outputs::metrics::Metrics;
use crate::outputs::plot::History;
use crate::outputs::progress::Progress;
use crate::outputs::stdout::print_line;
use crate::train::{MAX_PARAMETERS, hidden_list};
use nn_train::network::Hidden;
use nn_train::presets::Preset;
use nn_train::{Tee, TrainConfig};

use crate::train::{self, Outputs};
use nn_data::folder::Skip;
use nn_data::read::show;
use nn_data::{self as data, Fetch};

/// The largest `--batch-size`: more examples per step than MNIST's whole training set
/// gains nothing.
pub const MAX_BATCH_SIZE: usize = 65_536;
/// The most `--threads`.
pub const MAX_THREADS: usize = 1024;
/// The most working memory a training run's batch buffers may take (bytes): the
/// activations and their gradients, `4 × batch × (784 + 2 × Σ hidden + 2 × 10)`.
pub const MAX_BATCH_MEMORY: usize = 4 << 30;

/// `--preset`: the command line's names of nn-train's recipes ([`Preset`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum PresetArg {
    /// The seed blog's Keras model exactly: 784-1024-10 sigmoid on raw 0–255 pixels,
    /// batch 32, 5 epochs, Adam lr 1e-3 (Keras reaches 93.82 % on the test set).
    Seed,
    /// 784-1024-10 relu on 0–1 pixels, batch 32, 5 epochs, lr 1e-3 × 0.6 per epoch (≥ 97.8 %).
    #[default]
    Default,
    /// 784-128-10 relu on 0–1 pixels, as `Default` otherwise: 407 KB of f32, fits the board's 512 KB flash (≥ 97 %).
    Mcu,
}

impl From<PresetArg> for Preset {
    fn from(arg: PresetArg) -> Self {
        match arg {
            PresetArg::Seed => Preset::Seed,
            PresetArg::Default => Preset::Default,
            PresetArg::Mcu => Preset::Mcu,
        }
    }
}

impl PresetArg {
    /// Where the model goes unless `--out` says otherwise: `models/<name>.nnm`.
    pub fn default_out(self) -> PathBuf {
        Path::new("models").join(format!("{}.nnm", Preset::from(self).name()))
    }
}

/// `--activation`: the command line's names of nn-train's [`Hidden`] activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HiddenArg {
    /// `1 / (1 + e^-x)`, as in the seed's Keras model.
    Sigmoid,
    /// `max(x, 0)`.
    Relu,
}

impl From<HiddenArg> for Hidden {
    fn from(arg: HiddenArg) -> Self {
        match arg {
            HiddenArg::Sigmoid => Hidden::Sigmoid,
            HiddenArg::Relu => Hidden::Relu,
        }
    }
}

/// Options of `train`. Flags left out come from the preset.
#[derive(Args, Debug, Clone, Default)]
pub struct TrainArgs {
    /// The recipe to start from.
    #[arg(long, value_enum, default_value = "default")]
    pub preset: PresetArg,
    /// Epochs to train (with --resume: the total, counting those already done).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Examples per Adam step (1 to 65536).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Hidden units per hidden layer, first layer first: `256` or `256,128` (each 1 to
    /// 16384, at most 15 layers).
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Hidden activation.
    #[arg(long, value_enum)]
    pub activation: Option<HiddenArg>,
    /// Adam's learning rate.
    #[arg(long)]
    pub lr: Option<f32>,
    /// Multiply the learning rate by this after every epoch (1 = constant).
    #[arg(long)]
    pub lr_decay: Option<f32>,
    /// Seeds weight init and shuffling; the same seed and thread count give the same model.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads (default: one per core; at most 1024).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Directory with the MNIST IDX files (fetched there when missing), or with your own
    /// images as train/CLASS/*.png|jpg and test/CLASS/*.png|jpg (class names from the
    /// folder names, sorted, at most 10). With --init also one folder per class,
    /// `optdigits` (other writers' digits, shipped) or a `.csv.gz` in their form.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// With image folders: leave out images that cannot be read, decoded or hold no digit,
    /// and print how many (naming the first few), instead of stopping at the first.
    #[arg(long)]
    pub skip_bad: bool,
    /// The model file to write (default: `models/<preset>.nnm`); the checkpoint goes beside it.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write a JSON record of the run (test accuracy, loss, per-epoch numbers) here.
    #[arg(long)]
    pub metrics: Option<PathBuf>,
    /// Continue from `<out>.ckpt` if it exists (same settings required).
    #[arg(long)]
    pub resume: bool,
    /// Draw loss and accuracy (training and test) into this PNG or SVG file (default with
    /// --metrics: beside it, `seed.json` → `seed.png`).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Fine-tune this f32 model file instead of training from scratch, on --data (image
    /// folders, an IDX directory, `optdigits`, a `.csv.gz` of optdigits' form), --idx or
    /// --npy; needs --out.
    #[arg(
        long,
        conflicts_with_all = ["preset", "hidden", "activation", "lr_decay", "resume", "metrics", "plot", "threads"]
    )]
    pub init: Option<PathBuf>,
    /// With --init: which parameters learn.
    #[arg(long, value_enum, default_value = "all", requires = "init")]
    pub learn: LearnArg,
    /// With --init: learn from this many examples per class (picked by --seed) and measure
    /// on the rest (default: a set's own train/ and test/, or a fifth of each class held out).
    #[arg(long, requires = "init")]
    pub shots: Option<usize>,
    /// With --init: MNIST training images mixed into every batch against forgetting, when
    /// MNIST is in its cache directory [default: 32].
    #[arg(long, requires = "init")]
    pub replay: Option<usize>,
    /// With --init: every example also learned moved by up to this many pixels each way
    /// (1: nine copies) [default: 1].
    #[arg(long, requires = "init")]
    pub shift: Option<usize>,
    /// With --init: examples from an IDX image file and its label file.
    #[arg(long, num_args = 2, value_names = ["IMAGES", "LABELS"], requires = "init", conflicts_with_all = ["data", "npy"])]
    pub idx: Vec<PathBuf>,
    /// With --init: examples from `.npy` files, N × 784 uint8 pixels and N uint8 labels.
    #[arg(long, num_args = 2, value_names = ["X", "Y"], requires = "init", conflicts_with = "data")]
    pub npy: Vec<PathBuf>,
}

impl TrainArgs {
    /// Where the training curves go: `--plot`, else beside `--metrics`, else nowhere.
    pub fn plot_path(&self) -> Option<PathBuf> {
        self.plot.clone().or_else(|| {
            self.metrics
                .as_deref()
                .map(crate::outputs::plot::beside_metrics)
        })
    }

    /// The preset's configuration with this command line's overrides.
    pub fn config(&self) -> TrainConfig {
        let mut c = Preset::from(self.preset).config(self.seed);
        if let Some(v) = self.epochs {
            c.epochs = v;
        }
        if let Some(v) = self.batch_size {
            c.batch_size = v;
        }
        if let Some(v) = &self.hidden {
            c.hidden.clone_from(v);
        }
        if let Some(v) = self.activation {
            c.activation = v.into();
        }
        if let Some(v) = self.lr {
            c.adam.lr = v;
        }
        if let Some(v) = self.lr_decay {
            c.lr_decay = v;
        }
        c
    }
}

/// Refuses settings that cannot train or would exhaust memory, naming the flag and its limit.
fn check_limits(config: &TrainConfig, threads: Option<usize>) -> Result<()> {
    let smallest_hidden = config.hidden.iter().copied().min().unwrap_or(0);
    let at_least_one = [
        ("--batch-size", config.batch_size),
        ("--hidden", smallest_hidden),
        ("--epochs", config.epochs),
    ];
    for (flag, v) in at_least_one {
        if v == 0 {
            bail!("{flag} must be at least 1");
        }
    }
    if let Some(&h) = config.hidden.iter().find(|&&h| h > MAX_HIDDEN) {
        bail!("--hidden {h} is over the limit of {MAX_HIDDEN} hidden units");
    }
    if config.hidden.len() >= nn_core::network::MAX_LAYERS {
        bail!(
            "--hidden has {} layers, over the limit of {} hidden layers",
            config.hidden.len(),
            nn_core::network::MAX_LAYERS - 1
        );
    }
    let parameters = nn_train::flat::parameters(&config.sizes());
    if parameters.is_none_or(|p| p > MAX_PARAMETERS) {
        bail!(
            "--hidden {} has over the limit of {MAX_PARAMETERS} parameters (those of \
             {IMAGE_PIXELS}-{MAX_HIDDEN}-{CLASSES}); use narrower layers",
            hidden_list(&config.hidden)
        );
    }
    if config.batch_size > MAX_BATCH_SIZE {
        bail!(
            "--batch-size {} is over the limit of {MAX_BATCH_SIZE}",
            config.batch_size
        );
    }
    // Sizes are bounded above, so the sum cannot overflow.
    let per_example = IMAGE_PIXELS + 2 * config.hidden.iter().sum::<usize>() + 2 * CLASSES;
    let bytes = config
        .batch_size
        .checked_mul(per_example)
        .and_then(|n| n.checked_mul(4));
    if bytes.is_none_or(|b| b > MAX_BATCH_MEMORY) {
        bail!(
            "--batch-size {} with --hidden {} needs {} MiB of batch buffers, over the limit of {} MiB; lower one of them",
            config.batch_size,
            hidden_list(&config.hidden),
            bytes.map_or(u128::MAX, |b| (b >> 20) as u128),
            MAX_BATCH_MEMORY >> 20
        );
    }
    if threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    if threads.is_some_and(|n| n > MAX_THREADS) {
        bail!("--threads is over the limit of {MAX_THREADS}");
    }
    if !(config.adam.lr.is_finite() && config.adam.lr > 0.0) {
        bail!("--lr must be a positive number, got {}", config.adam.lr);
    }
    if !(config.lr_decay.is_finite() && config.lr_decay > 0.0) {
        bail!(
            "--lr-decay must be a positive number, got {}",
            config.lr_decay
        );
    }
    Ok(())
}

/// `--learn`: the command line's names of nn-core's [`Learn`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LearnArg {
    /// Every weight and bias.
    #[default]
    All,
    /// The last layer's weights and biases only.
    Last,
    /// Every layer's biases only (TinyTL's idea: little memory, since no weight gradient).
    Biases,
}

impl From<LearnArg> for Learn {
    fn from(arg: LearnArg) -> Self {
        match arg {
            LearnArg::All => Learn::All,
            LearnArg::Last => Learn::Last,
            LearnArg::Biases => Learn::Biases,
        }
    }
}

/// `train` without `--init`: checks every output before the run starts, then trains and
/// writes them.
pub fn run(args: &TrainArgs) -> Result<()> {
    let config = args.config();
    check_limits(&config, args.threads)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.preset.default_out());
    let outputs = Outputs::beside(&out);
    // Everything that could stop the run at its end is checked before it starts.
    crate::files::atomic::check_writable(&out, "--out")?;
    crate::files::atomic::check_writable(&outputs.checkpoint, "--out (its checkpoint)")?;
    if let Some(metrics) = &args.metrics {
        crate::files::atomic::check_distinct(("--out", &out), ("--metrics", metrics))?;
        crate::files::atomic::check_distinct(
            ("--out's checkpoint", &outputs.checkpoint),
            ("--metrics", metrics),
        )?;
        crate::files::atomic::check_writable(metrics, "--metrics")?;
    }
    let plot = args.plot_path();
    if let Some(plot) = &plot {
        crate::outputs::plot::Format::of(plot, "--plot")?;
        crate::files::atomic::check_distinct(("--out", &out), ("--plot", plot))?;
        crate::files::atomic::check_distinct(
            ("--out's checkpoint", &outputs.checkpoint),
            ("--plot", plot),
        )?;
        if let Some(metrics) = &args.metrics {
            crate::files::atomic::check_distinct(("--metrics", metrics), ("--plot", plot))?;
        }
        crate::files::atomic::check_writable(plot, "--plot")?;
    }
    let _lock = crate::files::atomic::lock(&out, "--out")?;
    let dir = args.data.clone().unwrap_or_else(data::default_dir);
    let loaded = data::load_labelled(&dir, Fetch::Allowed, skip(args.skip_bad))?;
    let mnist = &loaded.sets;
    // After fetching (whose `npm` child should see Ctrl-C) and before the worker threads
    // start (they inherit the blocked signals): from here a signal waits for a checkpoint or
    // model write in progress, so no temporary is left.
    crate::files::atomic::clean_up_on_signals();
    let pool = thread_pool(args.threads)?;
    let threads = pool.current_num_threads();
    // Two lines, each within 80 columns for any preset.
    print_line(&format!(
        "training {}: {IMAGE_PIXELS}-{}-{CLASSES} {:?}, {} examples, {} threads\n  batch {}, {} epochs, lr {} (x{} per epoch), seed {}",
        config.preset,
        config
            .hidden
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join("-"),
        config.activation,
        mnist.train.len(),
        threads,
        config.batch_size,
        config.epochs,
        config.adam.lr,
        config.lr_decay,
        config.seed,
    ))?;
    print_loaded(&loaded.class_names, &loaded.report)?;
    if args.resume && !outputs.checkpoint.exists() {
        print_line(&format!(
            "no checkpoint at {}: starting from scratch",
            show(&outputs.checkpoint)
        ))?;
    }
    // The test set is measured after every epoch only when there is a plot to show it.
    let mut observer = Tee(Progress::new(), plot.as_ref().map(|_| History::default()));
    let summary = pool.install(|| {
        train::run(
            &config,
            &mnist.train,
            &mnist.test,
            &loaded.class_names,
            &outputs,
            args.resume,
            &mut observer,
        )
    })?;
    if let Some(path) = &args.metrics {
        Metrics::new(&summary, &config, threads, &out)
            .write(path)
            .with_context(|| format!("--metrics {}", show(path)))?;
    }
    if let (Some(path), Tee(_, Some(history))) = (&plot, &observer) {
        crate::outputs::plot::write(path, "--plot", history)?;
        print_line(&format!("curves drawn in {}", show(path)))?;
    }
    if let Some(from) = summary.resumed_from_epoch {
        print_line(&format!("(resumed after epoch {from})"))?;
    }
    print_line(&format!(
        "test: accuracy {:.2} % loss {:.4} on {} images\nmodel written to {}",
        100.0 * summary.test.accuracy,
        summary.test.loss,
        summary.test.examples,
        show(&out)
    ))?;
    Ok(())
}

/// `--skip-bad` as the data loader takes it.
pub(crate) fn skip(skip_bad: bool) -> Skip {
    if skip_bad { Skip::Bad } else { Skip::Nothing }
}

/// The classes an image-folder data set brought, and what it left out; nothing for IDX.
pub(crate) fn print_loaded(class_names: &[String], report: &data::folder::Report) -> Result<()> {
    if !class_names.is_empty() {
        print_line(&format!("classes: {}", class_names.join(", ")))?;
    }
    for line in report.lines() {
        print_line(&line)?;
    }
    Ok(())
}

fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        b = b.num_threads(n);
    }
    b.build().context("starting worker threads")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_from_the_command_line_are_bounded_before_allocating() {
        let mut config = Preset::Mcu.config(1);
        for (hidden, batch, flag) in [
            (1_000_000_000, 32, "--hidden"),
            (usize::MAX, 32, "--hidden"),
            (128, 1_000_000_000, "--batch-size"),
            (128, usize::MAX, "--batch-size"),
            (MAX_HIDDEN, MAX_BATCH_SIZE, "--batch-size"),
        ] {
            (config.hidden, config.batch_size) = (vec![hidden], batch);
            let msg = check_limits(&config, None).unwrap_err().to_string();
            assert!(msg.starts_with(flag) && msg.contains("limit"), "{msg}");
        }
        (config.hidden, config.batch_size) = (vec![1024], 32);
        assert!(check_limits(&config, None).is_ok());
        config.hidden = vec![256, 128];
        assert!(check_limits(&config, None).is_ok());
        for (hidden, words) in [
            (vec![256, 0], "must be at least 1"),
            (vec![MAX_HIDDEN, MAX_HIDDEN], "parameters"),
            (vec![8; 16], "hidden layers"),
        ] {
            config.hidden = hidden;
            let msg = check_limits(&config, None).unwrap_err().to_string();
            assert!(msg.starts_with("--hidden") && msg.contains(words), "{msg}");
        }
    }
}
