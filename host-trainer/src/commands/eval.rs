//! `host-trainer eval`: a model file's accuracy and loss on the test set, per class when it
//! names its classes, and with `--report` the confusion matrix and the worst mistakes.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use nn_core::CLASSES;

use crate::model::HostModel;
use crate::outputs::stdout::print_line;
use crate::train::export;
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

/// `eval`.
pub fn run(args: &EvalArgs) -> Result<()> {
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
        let s = nn_train::evaluate(&net, scaling, test);
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
