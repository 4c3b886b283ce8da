//! `host-trainer eval`: a model file's accuracy and loss on the test set, per class when it
//! names its classes, and with `--report` the confusion matrix and the worst mistakes.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use nn_core::CLASSES;

use crate::evaluate::{Evaluation, evaluate};
use crate::model::HostModel;
use crate::outputs::stdout::print_line;
use nn_data::read::show;
use nn_data::{self as data, Fetch};

use super::train::skip;

/// Options of `eval`.
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// The model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Directory with the MNIST IDX files (fetched there when missing), or image folders
    /// (test/CLASS/*.png|jpg, labelled by the model's class names when it has them), or
    /// `optdigits`: other writers' digits, shipped with the program (a `.csv` or `.csv.gz`
    /// file in their format is read the same way).
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

/// `eval`.
pub fn run(args: &EvalArgs) -> Result<()> {
    if let Some(dir) = &args.report {
        crate::outputs::report::check_target(dir, &args.model)?;
    }
    let model = HostModel::load(&args.model)?;
    let dir = args.data.clone().unwrap_or_else(data::default_dir);
    let loaded = if data::optdigits::is_named(&dir) {
        check_digit_classes(&args.model, &model)?;
        data::Loaded {
            sets: data::optdigits::load_named(&dir)?,
            class_names: Vec::new(),
            report: data::folder::Report::default(),
        }
    } else {
        data::load_test_labelled(
            &dir,
            Fetch::Allowed,
            skip(args.skip_bad),
            model.class_names(),
        )?
    };
    for line in loaded.report.lines() {
        print_line(&line)?;
    }
    let test = &loaded.sets;
    let evaluation = evaluate(&args.model, &model, test)?;
    let name = show(&args.model);
    let (correct, examples) = (evaluation.correct, evaluation.examples());
    let accuracy = 100.0 * evaluation.accuracy();
    print_line(&match evaluation.loss {
        Some(loss) => {
            format!("{name}: accuracy {accuracy:.2} % ({correct}/{examples}) loss {loss:.4}")
        }
        None => format!("{name}: accuracy {accuracy:.2} % ({correct}/{examples}) int8"),
    })?;
    if !model.class_names().is_empty() {
        print_line(&per_class_accuracy(&model, &evaluation))?;
    }
    write_report(args, &model, test, &evaluation)
}

/// Labels 0–9 (optdigits') mean the model's outputs 0–9 only when it names no classes or
/// names them "0" to "9".
pub(crate) fn check_digit_classes(path: &std::path::Path, model: &HostModel) -> Result<()> {
    let names = model.class_names();
    if names.is_empty() || names.iter().enumerate().all(|(k, n)| *n == k.to_string()) {
        return Ok(());
    }
    anyhow::bail!(
        "model {}: its classes are {}, not the digits 0 to 9 the data is labelled with",
        show(path),
        names.join(", ")
    )
}

/// `eval --report DIR`, once `eval` has printed its line.
fn write_report(
    args: &EvalArgs,
    model: &HostModel,
    test: &data::Dataset,
    evaluation: &Evaluation,
) -> Result<()> {
    let Some(dir) = &args.report else {
        return Ok(());
    };
    crate::outputs::report::Report::build(&args.model, model, test, evaluation)?.write(dir)?;
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
fn per_class_accuracy(model: &HostModel, evaluation: &Evaluation) -> String {
    let correct = evaluation.per_class.map(|(c, _)| c);
    let total = evaluation.per_class.map(|(_, t)| t);
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
    lines.join("\n")
}
