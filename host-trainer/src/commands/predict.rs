//! `host-trainer predict`: classifies image files, as text with the 28×28 the model saw or
//! as one JSON object per image.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use nn_core::CLASSES;
use serde::Serialize;

use crate::model::HostModel;
use crate::outputs::stdout::print_line;
use nn_data::preprocess;
use nn_data::read::show;

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
    #[arg(required_unless_present = "npy", conflicts_with = "npy")]
    pub images: Vec<PathBuf>,
    /// An `.npy` array of N rows of inputs (uint8 pixels, int8 for int8 models, or
    /// float32) to run instead of images; the outputs go to `--out` (see `predict_npy`).
    #[arg(long, requires = "out", conflicts_with = "json")]
    pub npy: Option<PathBuf>,
    /// Where `--npy`'s outputs go: an `.npy` array of N rows, int8 for an int8 model,
    /// float32 otherwise.
    #[arg(long, requires = "npy")]
    pub out: Option<PathBuf>,
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

/// `predict`.
pub fn run(args: &PredictArgs) -> Result<()> {
    if let (Some(npy), Some(out)) = (&args.npy, &args.out) {
        return super::predict_npy::run(&args.model, npy, out);
    }
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
