//! The command line: `train` (the default), `eval`, `predict`, `inspect`, `device-eval`,
//! `device-learn`, `quantize`, `import` and `serve`.
//!
//! Every failure ends as one line on stderr naming the file and the problem, and a non-zero
//! exit status; nothing here panics on what a user, a file or the network hands it.

pub mod device_eval;
pub mod device_learn;
pub mod eval;
pub mod finetune;
pub mod flags;
pub mod import;
pub mod inspect;
pub mod predict;
pub mod predict_npy;
pub mod quantize;
pub mod serve;
pub mod train;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::outputs::stdout::Stdout;

pub use device_eval::DeviceEvalArgs;
pub use device_learn::DeviceLearnArgs;
pub use eval::EvalArgs;
pub use import::ImportArgs;
pub use inspect::InspectArgs;
pub use predict::PredictArgs;
pub use quantize::QuantizeArgs;
pub use serve::ServeArgs;
pub use train::{MAX_BATCH_MEMORY, MAX_BATCH_SIZE, MAX_THREADS, TrainArgs};

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
    /// Train a network (the default when no subcommand is given), or fine-tune one (--init).
    Train(TrainArgs),
    /// Accuracy and loss of a model file on the 10,000 test images.
    Eval(EvalArgs),
    /// Classify image files (PNG, JPEG, PNM) with a model file.
    Predict(PredictArgs),
    /// Show a model file's header, shapes, parameter count and checksum status.
    Inspect(InspectArgs),
    /// Run the test set on the board (or the firmware in QEMU) and compare with the host.
    DeviceEval(DeviceEvalArgs),
    /// Teach the board k digits of each class over the serial protocol, check that it
    /// learned what the host learns, and compare before and after.
    DeviceLearn(DeviceLearnArgs),
    /// Quantise an f32 model file to int8 (TFLite's scheme) and compare their test accuracy.
    Quantize(QuantizeArgs),
    /// Convert a TensorFlow Lite model (Flatten, two FULLY_CONNECTED, SOFTMAX) into a model file.
    Import(ImportArgs),
    /// Serve the draw-a-digit page (the model runs in the browser) and POST /predict.
    Serve(ServeArgs),
}

/// Parses the arguments and runs the chosen command; errors become one line on stderr.
/// A closed stdout (`… | head -1`) ends the program quietly with status 0, as the reader
/// has what it wanted.
pub fn main() -> ExitCode {
    let cli: Cli = flags::parse();
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
        None => train_or_tune(&cli.train),
        Some(Command::Train(args)) => train_or_tune(&args),
        Some(Command::Eval(args)) => eval::run(&args),
        Some(Command::Predict(args)) => predict::run(&args),
        Some(Command::Inspect(args)) => inspect::run(&args),
        Some(Command::DeviceEval(args)) => device_eval::run(&args),
        Some(Command::DeviceLearn(args)) => device_learn::run(&args),
        Some(Command::Quantize(args)) => quantize::run(&args),
        Some(Command::Import(args)) => import::run(&args),
        Some(Command::Serve(args)) => serve::run(&args),
    }
}

/// `train`: from scratch, or with `--init`, fine-tuning an existing model.
fn train_or_tune(args: &TrainArgs) -> Result<()> {
    match args.init {
        Some(_) => finetune::run(args),
        None => train::run(args),
    }
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
}
