//! Evaluation, the one home of "how good is this model on this labelled set": `eval`,
//! `quantize`'s comparison of its two models and `eval --report` all read their numbers
//! from one pass of [`evaluate`]. An f32 model goes through nn-train's
//! [`nn_train::evaluate_each`], the very pass behind training's per-epoch test; an int8
//! model through nn-core's int8 inference, as the firmware runs it.

use std::path::Path;

use anyhow::{Context, Result, bail};
use nn_core::format::ElementType;
use nn_core::{CLASSES, IMAGE_PIXELS};
use nn_data::Dataset;
use nn_data::read::show;
use rayon::prelude::*;

use crate::model::HostModel;

/// One model's answers on one labelled set.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// For each image, in order: the class chosen and the probabilities of every output.
    pub answers: Vec<(usize, [f32; CLASSES])>,
    /// Mean cross-entropy (nats) of an f32 model; none for int8, whose probabilities move
    /// in steps of 1/256, so that no meaningful loss is there to print.
    pub loss: Option<f64>,
    /// Images classified as their label.
    pub correct: usize,
    /// Per label: `(correct, total)`.
    pub per_class: [(usize, usize); CLASSES],
}

impl Evaluation {
    /// Images evaluated.
    pub fn examples(&self) -> usize {
        self.answers.len()
    }

    /// Fraction classified as their label (0–1).
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.examples().max(1) as f64
    }

    /// The class chosen for each image, in order.
    pub fn classes(&self) -> impl Iterator<Item = usize> + '_ {
        self.answers.iter().map(|(class, _)| *class)
    }
}

/// Classifies every image of `test` with `model` (read from `path`, which errors name) and
/// counts.
///
/// # Errors
/// The f32 model cannot be run by the trainer (an activation it cannot train), a label is
/// not below [`CLASSES`], or nn-core refuses a shape (not for a model [`HostModel::load`]
/// accepted).
pub fn evaluate(path: &Path, model: &HostModel, test: &Dataset) -> Result<Evaluation> {
    let mut answers = vec![(0usize, [0.0f32; CLASSES]); test.len()];
    let loss = match model.element() {
        ElementType::F32 => {
            let (net, scaling) = crate::train::export::network(model, path)?;
            let stats = nn_train::evaluate_each(&net, scaling, test, |first, probs| {
                for (answer, p) in answers[first..].iter_mut().zip(probs.chunks(CLASSES)) {
                    answer.1.copy_from_slice(p);
                    answer.0 = nn_core::kernels::argmax(p);
                }
            });
            Some(stats.loss)
        }
        ElementType::I8 => {
            let classifier = model.classifier();
            answers = test
                .images
                .par_chunks(IMAGE_PIXELS)
                .map(|pixels| {
                    let pixels = pixels.try_into().expect("chunks of IMAGE_PIXELS");
                    classifier.predict_pixels(pixels)
                })
                .collect::<Result<_, _>>()
                .with_context(|| format!("model {}", show(path)))?;
            None
        }
    };
    let mut per_class = [(0usize, 0usize); CLASSES];
    for (&label, (class, _)) in test.labels.iter().zip(&answers) {
        let label = usize::from(label);
        if label >= CLASSES {
            bail!("label {label} is not below {CLASSES}");
        }
        per_class[label].0 += usize::from(*class == label);
        per_class[label].1 += 1;
    }
    Ok(Evaluation {
        correct: per_class.iter().map(|(c, _)| c).sum(),
        answers,
        loss,
        per_class,
    })
}
