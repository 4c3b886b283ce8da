//! The command line: `train` (the default), `eval`, `predict`, `inspect`, `device-eval` and
//! `quantize`.
//!
//! Every failure ends as one line on stderr naming the file and the problem, and a non-zero
//! exit status; nothing here panics on what a user, a file or the network hands it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use nn_core::format::ModelFile;
use serde::Serialize;

use crate::data::{self, Fetch};
use crate::device_eval::{self, DeviceEvalArgs};
use crate::metrics::Metrics;
use crate::preprocess;
use crate::progress::Progress;
use crate::train::network::Hidden;
use crate::train::presets::Preset;
use crate::train::{self, Outputs, TrainConfig, export};

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
    /// Examples per Adam step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Hidden units.
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
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Directory with the MNIST IDX files (fetched there when missing).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The model file to write (default: models/<preset>.nnm); the checkpoint goes beside it.
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
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
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

fn train_command(args: &TrainArgs) -> Result<()> {
    let config = args.config();
    if config.batch_size == 0 || config.hidden == 0 || config.epochs == 0 {
        bail!("--batch-size, --hidden and --epochs must be at least 1");
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
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.preset.default_out());
    let pool = thread_pool(args.threads)?;
    let threads = pool.current_num_threads();
    let dir = args.data.clone().unwrap_or_else(data::default_dir);
    let mnist = data::load(&dir, Fetch::Allowed)?;
    println!(
        "training {}: 784-{}-10 {:?}, batch {}, {} epochs, lr {} (x{} per epoch), seed {}, {} threads, {} examples",
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
    );
    let outputs = Outputs::beside(&out);
    if args.resume && !outputs.checkpoint.exists() {
        println!(
            "no checkpoint at {}: starting from scratch",
            outputs.checkpoint.display()
        );
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
    if let Some(from) = summary.resumed_from_epoch {
        println!("(resumed after epoch {from})");
    }
    println!(
        "test: accuracy {:.2} % loss {:.4} on {} images; model written to {}",
        100.0 * summary.test.accuracy,
        summary.test.loss,
        summary.test.examples,
        out.display()
    );
    if let Some(path) = &args.metrics {
        Metrics::new(&summary, &config, threads, &out)
            .write(path)
            .with_context(|| format!("metrics {}", path.display()))?;
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

fn eval_command(args: &EvalArgs) -> Result<()> {
    if crate::quantize::is_int8_file(&args.model) {
        let dir = args.data.clone().unwrap_or_else(data::default_dir);
        return crate::quantize::eval(&args.model, &data::load_test(&dir, Fetch::Allowed)?);
    }
    let (net, scaling) = export::read_model(&args.model)?;
    let dir = args.data.clone().unwrap_or_else(data::default_dir);
    let test = data::load_test(&dir, Fetch::Allowed)?;
    if net.params.shape.inputs != data::PIXELS || net.params.shape.outputs != data::CLASSES {
        bail!(
            "model {}: shape {:?} does not take 28x28 images into 10 classes",
            args.model.display(),
            net.params.shape
        );
    }
    let s = train::evaluate(&net, scaling, &test);
    println!(
        "{}: accuracy {:.2} % ({}/{}) loss {:.4}",
        args.model.display(),
        100.0 * s.accuracy,
        (s.accuracy * s.examples as f64).round(),
        s.examples,
        s.loss
    );
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
    let bytes = read(&args.model)?;
    let file =
        ModelFile::parse(&bytes).with_context(|| format!("model {}", args.model.display()))?;
    let mut params = vec![0.0f32; file.parameter_count()];
    file.copy_parameters(&mut params)
        .with_context(|| format!("model {}", args.model.display()))?;
    let mlp = file
        .slices_in(&params)
        .with_context(|| format!("model {}", args.model.display()))?;
    if mlp.input != data::PIXELS {
        bail!(
            "model {}: takes {} inputs, images have {}",
            args.model.display(),
            mlp.input,
            data::PIXELS
        );
    }
    let mut hidden = vec![0.0f32; mlp.hidden];
    let mut probabilities = vec![0.0f32; mlp.output];
    for path in &args.images {
        let pixels = preprocess::load_image(path).with_context(|| path.display().to_string())?;
        let x: Vec<f32> = pixels
            .iter()
            .map(|&p| f32::from(p) * mlp.scaling.scale + mlp.scaling.offset)
            .collect();
        let class = mlp
            .predict_into(&x, &mut hidden, &mut probabilities)
            .with_context(|| path.display().to_string())?;
        if args.json {
            let line = PredictionJson {
                file: &path.display().to_string(),
                class,
                probabilities: &probabilities,
            };
            println!("{}", serde_json::to_string(&line)?);
        } else {
            println!("{}: {class}", path.display());
            for (k, p) in probabilities.iter().enumerate() {
                println!("  {k}: {:6.2} %", 100.0 * p);
            }
            println!("{}", preprocess::render_ascii(&pixels));
        }
    }
    Ok(())
}

fn inspect_command(args: &InspectArgs) -> Result<()> {
    let bytes = read(&args.file)?;
    let file =
        ModelFile::parse(&bytes).with_context(|| format!("model {}", args.file.display()))?;
    let h = file.header();
    let [i, hid, o] = file.shape();
    println!(
        "file:        {} ({} bytes)",
        args.file.display(),
        bytes.len()
    );
    println!(
        "format:      {} version {}",
        String::from_utf8_lossy(&h.magic),
        h.version
    );
    println!("shape:       {i}-{hid}-{o}");
    println!(
        "activations: hidden {:?}, output {:?}",
        h.hidden_activation, h.output_activation
    );
    println!(
        "scaling:     x = pixel * {} + {}",
        h.scaling.scale, h.scaling.offset
    );
    println!("element:     {:?}", h.element);
    println!(
        "parameters:  {} (W1 {hid}x{i}, b1 {hid}, W2 {o}x{hid}, b2 {o}), {} bytes of weights",
        file.parameter_count(),
        bytes.len() - file.weights_offset() - nn_core::format::CHECKSUM_LEN
    );
    for line in crate::quantize::inspect_lines(&file) {
        println!("{line}");
    }
    println!("checksum:    ok (CRC-32 {:#010x})", file.checksum());
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("model {}", path.display()))
}
