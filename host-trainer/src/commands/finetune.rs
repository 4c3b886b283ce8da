//! `host-trainer train --init M.nnm --out M2.nnm`: an existing f32 model fine-tuned on new
//! examples with nn-core's training code (`nn_core::train`, the same steps the page and the
//! board take), and measured before and after.
//!
//! 1. The model: f32, its last layer's logits into a softmax (int8 models learn on the board,
//!    `device-learn`).
//! 2. The examples ([`Source`]): `--data` image folders (`train/` and `test/`, or one folder
//!    per class), an MNIST-style IDX directory or `optdigits`, or `--idx IMAGES LABELS`, or
//!    `--npy X Y`. A set with its own `train/` and `test/` learns from the first and is
//!    measured on the second; a single set is split by the seed ([`nn_data::split`]):
//!    `--shots K` per class to learn from, or without it a fifth of each class held out.
//! 3. `--replay N`: N MNIST training images join every batch against forgetting, when MNIST
//!    is in its cache directory (it is not fetched here; a line says when it is missing).
//! 4. [`nn_core::train::fit`] runs the plan; accuracy on the held-out part and on MNIST's test
//!    set is measured before and after with `eval`'s own pass ([`crate::evaluate`]).
//! 5. The tuned model goes through the host's one model writer, atomically; `--out` must not
//!    be the `--init` file, nor an existing file that is not a model.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use nn_core::format::ModelFile;
use nn_core::network::{LayerF32, Layers, Model, ModelF32};
use nn_core::preprocess::SIDE;
use nn_core::train::{
    AdamConfig, Examples, FitScratch, Learn, Learner, Net, Optimizer, Plan, fit, state_len,
    work_len,
};
use nn_core::{Activation, CLASSES, IMAGE_PIXELS, InputScaling};
use nn_data::read::show;
use nn_data::split::{self, Split};
use nn_data::{self as data, Dataset, Fetch, Layout};

use super::train::{LearnArg, TrainArgs, skip};
use crate::evaluate::evaluate;
use crate::model::HostModel;
use crate::outputs::stdout::print_line;

/// The plan when the command line says nothing, tuned on the default model and 10 optdigits
/// per class (README, "Learning from other writers").
pub const DEFAULT_PLAN: PlanDefaults = PlanDefaults {
    epochs: 4,
    batch: 10,
    replay: 32,
    lr: 2e-4,
    shift: 1,
};

/// The largest `--shift`: a quarter of the image.
pub const MAX_SHIFT: usize = 7;

/// A fine-tuning plan's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlanDefaults {
    /// Passes over the examples learned from.
    pub epochs: u32,
    /// Examples learned from per step.
    pub batch: usize,
    /// MNIST training images mixed into every step.
    pub replay: usize,
    /// Adam's learning rate.
    pub lr: f32,
    /// Each example also seen moved by up to this many pixels ([`Pixels::shift`]).
    pub shift: usize,
}

/// Where the examples come from (step 2 of the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `--data`: a directory, `optdigits`, or a `.csv(.gz)` file.
    Data(PathBuf),
    /// `--idx IMAGES LABELS`.
    Idx(PathBuf, PathBuf),
    /// `--npy X Y`.
    Npy(PathBuf, PathBuf),
}

impl Source {
    /// The source the command line names; `None` when it names none.
    pub fn of(args: &TrainArgs) -> Option<Source> {
        if let [x, y] = &args.npy[..] {
            return Some(Source::Npy(x.clone(), y.clone()));
        }
        if let [images, labels] = &args.idx[..] {
            return Some(Source::Idx(images.clone(), labels.clone()));
        }
        args.data.clone().map(Source::Data)
    }

    /// How reports name it.
    pub fn name(&self) -> String {
        match self {
            Source::Data(path) => show(path),
            Source::Idx(images, labels) | Source::Npy(images, labels) => {
                format!("{} + {}", show(images), show(labels))
            }
        }
    }
}

/// The examples learned from and those held out to measure on.
#[derive(Clone, Debug)]
pub struct Parts {
    /// Learned from.
    pub learn: Dataset,
    /// Measured on.
    pub held_out: Dataset,
    /// One line saying how the parts were made.
    pub how: String,
}

/// Step 2: the examples of `source`, labelled as the outputs of a model whose class names are
/// `names` (none: the outputs are the digits), split by `shots` and `seed`.
///
/// # Errors
/// The data's own errors, naming the file; a split that cannot be made.
pub fn parts(
    source: &Source,
    names: &[String],
    shots: Option<usize>,
    seed: u64,
    skip_bad: bool,
) -> Result<Parts> {
    let labels: Vec<String> = if names.is_empty() {
        (0..CLASSES).map(|k| k.to_string()).collect()
    } else {
        names.to_vec()
    };
    let one = |set: Dataset| split_one(set, shots, seed);
    match source {
        Source::Npy(x, y) => one(data::npy::load_labelled(x, y)?),
        Source::Idx(images, labels) => one(data::idx::load_pair(images, labels)?),
        Source::Data(path) if data::optdigits::is_named(path) => {
            if !names.is_empty() && names != labels {
                bail!(
                    "the model's classes are {}, not the digits 0 to 9 {} is labelled with",
                    names.join(", "),
                    show(path)
                );
            }
            one(data::optdigits::load_named(path)?)
        }
        Source::Data(dir) => match data::layout(dir) {
            Ok(Layout::Folders) => {
                let read = |split: &str| {
                    data::folder::list_split(&dir.join(split), &labels)?.read(skip(skip_bad))
                };
                let (train, train_report) = read("train")?;
                let (test, test_report) = read("test")?;
                for line in train_report.lines().into_iter().chain(test_report.lines()) {
                    print_line(&line)?;
                }
                split_two(train, test, shots, seed)
            }
            Ok(Layout::Idx) => {
                let mnist = data::load(dir, Fetch::Never)?;
                split_two(mnist.train, mnist.test, shots, seed)
            }
            // A folder of class folders, without train/ and test/: one set.
            Err(data::DataError::Layout { .. }) => {
                let (set, report) = data::folder::list_split(dir, &labels)?.read(skip(skip_bad))?;
                for line in report.lines() {
                    print_line(&line)?;
                }
                one(set)
            }
            Err(e) => Err(e.into()),
        },
    }
}

/// A set with its own test part: `shots` per class of `train` (all of it without), measured
/// on `test`.
fn split_two(train: Dataset, test: Dataset, shots: Option<usize>, seed: u64) -> Result<Parts> {
    let Some(k) = shots else {
        let how = format!(
            "{} examples to learn from, {} held out (its test part)",
            train.len(),
            test.len()
        );
        return Ok(Parts {
            learn: train,
            held_out: test,
            how,
        });
    };
    let Split { shots, .. } = split::k_shot(&train.labels, k, seed)?;
    Ok(Parts {
        how: format!(
            "{} examples to learn from ({k} per class, seed {seed}), {} held out (its test part)",
            shots.len(),
            test.len()
        ),
        learn: train.select(&shots),
        held_out: test,
    })
}

/// One set split in two: `shots` per class, or without it a fifth of each class held out.
fn split_one(set: Dataset, shots: Option<usize>, seed: u64) -> Result<Parts> {
    let (parts, per_class) = match shots {
        Some(k) => (
            split::k_shot(&set.labels, k, seed)?,
            format!("{k} per class"),
        ),
        None => (
            split::held_out_fraction(&set.labels, 5, seed)?,
            "four fifths of each class".to_owned(),
        ),
    };
    Ok(Parts {
        how: format!(
            "{} examples to learn from ({per_class}, seed {seed}), {} held out",
            parts.shots.len(),
            parts.held_out.len()
        ),
        learn: set.select(&parts.shots),
        held_out: set.select(&parts.held_out),
    })
}

/// Pixels through a model's input scaling, as nn-core's learner takes examples; with a
/// `shift` radius `r`, every image is also seen moved by up to `r` pixels each way (its
/// `(2r + 1)²` copies are examples of their own, the uncovered edge filled with 0): with ten
/// examples per class, the small shifts are what takes held-out accuracy past 96 %.
pub struct Pixels<'a> {
    /// The images and labels.
    pub set: &'a Dataset,
    /// The model's input scaling.
    pub scaling: InputScaling,
    /// The largest shift, in pixels (0: the images as they are).
    pub shift: usize,
}

impl Pixels<'_> {
    fn copies(&self) -> usize {
        (2 * self.shift + 1).pow(2)
    }
}

impl Examples for Pixels<'_> {
    fn len(&self) -> usize {
        self.set.len() * self.copies()
    }

    fn inputs(&self) -> usize {
        IMAGE_PIXELS
    }

    fn load(&self, i: usize, x: &mut [f32]) -> u8 {
        let (image, copy) = (i / self.copies(), i % self.copies());
        let pixels = self.set.image(image);
        if self.shift == 0 {
            self.scaling.apply(pixels, x);
            return self.set.label(image);
        }
        let side = 2 * self.shift + 1;
        // Copy `copy` moves the image by (dx, dy), each in -shift..=shift.
        let (dx, dy) = (
            (copy % side) as isize - self.shift as isize,
            (copy / side) as isize - self.shift as isize,
        );
        let mut moved = [0u8; IMAGE_PIXELS];
        for (y, row) in moved.chunks_exact_mut(SIDE).enumerate() {
            let from_y = y as isize - dy;
            if !(0..SIDE as isize).contains(&from_y) {
                continue;
            }
            for (x, v) in row.iter_mut().enumerate() {
                let from_x = x as isize - dx;
                if (0..SIDE as isize).contains(&from_x) {
                    *v = pixels[from_y as usize * SIDE + from_x as usize];
                }
            }
        }
        self.scaling.apply(&moved, x);
        self.set.label(image)
    }
}

/// A model's layers as nn-core's learner takes them: the sizes, each layer's activation, the
/// parameters in the file's order and the input scaling.
#[derive(Clone, Debug, PartialEq)]
pub struct Trainable {
    /// Inputs, then each layer's outputs.
    pub sizes: Vec<usize>,
    /// Each layer's activation; the last is `Identity`, into the softmax.
    pub activations: Vec<Activation>,
    /// `W1 b1 W2 b2 …`.
    pub params: Vec<f32>,
    /// How pixels become inputs.
    pub scaling: InputScaling,
}

impl Trainable {
    /// Step 1: the f32 model `model` (read from `path`, which errors name) in trainable form.
    ///
    /// # Errors
    /// One line for an int8 model, or one whose output is not logits into a softmax.
    pub fn of(model: &HostModel, path: &Path) -> Result<Trainable> {
        let name = show(path);
        let Model::F32(m) = model.model() else {
            bail!(
                "model {name}: int8; train --init fine-tunes f32 models (an int8 model learns its \
                 last layer on the board: device-learn)"
            );
        };
        let last = m.layers.last().map(|l| l.activation);
        if !m.softmax || last != Some(Activation::Identity) {
            bail!(
                "model {name}: its output is not logits into a softmax, which fine-tuning's \
                 cross-entropy needs"
            );
        }
        let layers: Vec<&LayerF32<'_>> = m.layers.iter().collect();
        Ok(Trainable {
            sizes: std::iter::once(model.model().inputs())
                .chain(layers.iter().map(|l| l.outputs))
                .collect(),
            activations: layers.iter().map(|l| l.activation).collect(),
            params: layers
                .iter()
                .flat_map(|l| l.weights.iter().chain(l.bias))
                .copied()
                .collect(),
            scaling: m.scaling,
        })
    }

    /// The model file's bytes for these parameters, with class `names`.
    ///
    /// # Errors
    /// nn-core's encoder's (not for a model [`Trainable::of`] made).
    pub fn encode(&self, names: &[String]) -> Result<Vec<u8>> {
        let mut layers = Layers::new();
        let mut rest = &self.params[..];
        for (io, &activation) in self.sizes.windows(2).zip(&self.activations) {
            let (weights, tail) = rest.split_at(io[0] * io[1]);
            let (bias, tail) = tail.split_at(io[1]);
            rest = tail;
            layers.push(LayerF32 {
                weights,
                bias,
                inputs: io[0],
                outputs: io[1],
                activation,
            })?;
        }
        let model = Model::F32(ModelF32 {
            layers,
            softmax: true,
            scaling: self.scaling,
        });
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut bytes = vec![0u8; nn_core::format::encoded_len_model(&model, &names)?];
        let n = nn_core::format::encode_model(&model, &names, &mut bytes)?.len();
        bytes.truncate(n);
        Ok(bytes)
    }
}

/// What one fine-tuning run did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tuned {
    /// Learner steps taken.
    pub steps: u32,
    /// Mean loss over the last epoch's examples (replay included).
    pub last_loss: f64,
}

/// Step 4: `model` fine-tuned on `examples` (each moved by up to `shift` pixels, with
/// `replay` mixed in) under `plan`, its `learn` parameters by Adam at `lr`.
///
/// # Errors
/// nn-core's [`nn_core::Error`] from the learner, as one line.
pub fn tune(
    model: &mut Trainable,
    learn: Learn,
    lr: f32,
    plan: Plan,
    examples: &Dataset,
    shift: usize,
    replay: Option<&Dataset>,
) -> Result<Tuned> {
    let net = Net {
        sizes: &model.sizes,
        activations: &model.activations,
    };
    let step = plan.batch + plan.replay;
    let mut state = vec![0.0f32; state_len(&model.sizes, learn)];
    let mut work = vec![0.0f32; work_len(&model.sizes, step)];
    let optimizer = Optimizer::Adam(AdamConfig {
        lr,
        ..AdamConfig::default()
    });
    let data = Pixels {
        set: examples,
        scaling: model.scaling,
        shift,
    };
    let empty = Dataset::default();
    let replay = Pixels {
        set: replay.unwrap_or(&empty),
        scaling: model.scaling,
        shift: 0,
    };
    let mut x = vec![0.0f32; step * IMAGE_PIXELS];
    let mut labels = vec![0u8; step];
    let mut order = vec![0u32; data.len()];
    let mut replay_order = vec![0u32; replay.len()];
    let mut learner = Learner::new(
        net,
        learn,
        optimizer,
        &mut model.params,
        &mut state,
        &mut work,
        step,
    )
    .map_err(|e| anyhow::anyhow!("fine-tuning: {e}"))?;
    let stats = fit(
        &mut learner,
        &data,
        &replay,
        plan,
        FitScratch {
            x: &mut x,
            labels: &mut labels,
            order: &mut order,
            replay_order: &mut replay_order,
        },
    )
    .map_err(|e| anyhow::anyhow!("fine-tuning: {e}"))?;
    Ok(Tuned {
        steps: stats.steps,
        last_loss: stats.last_epoch.loss_sum / stats.last_epoch_examples.max(1) as f64,
    })
}

/// MNIST from its cache directory, not fetched: `None`, with the line that says so, when it
/// is not all there.
pub fn cached_mnist() -> Result<(Option<data::Mnist>, Option<String>)> {
    let dir = data::default_dir();
    match data::load(&dir, Fetch::Never) {
        Ok(mnist) => Ok((Some(mnist), None)),
        Err(data::DataError::Missing { .. }) => Ok((
            None,
            Some(format!(
                "MNIST is not in {} (train and eval fetch it there): no replay, and no MNIST \
                 accuracy before and after",
                show(&dir)
            )),
        )),
        Err(e) => Err(e.into()),
    }
}

/// `train --init`: see the module docs.
pub fn run(args: &TrainArgs) -> Result<()> {
    let init = args
        .init
        .as_deref()
        .context("train --init names the model")?;
    let Some(out) = args.out.as_deref() else {
        bail!("train --init needs --out: the file the fine-tuned model goes to");
    };
    let Some(source) = Source::of(args) else {
        bail!(
            "train --init needs examples: --data DIR|optdigits|FILE.csv.gz, --idx IMAGES LABELS or --npy X Y"
        );
    };
    // Step 5's checks, before any work.
    crate::files::atomic::check_distinct(("--init", init), ("--out", out))?;
    crate::files::atomic::check_writable(out, "--out")?;
    refuse_foreign(out)?;
    let _lock = crate::files::atomic::lock(out, "--out")?;

    let model = HostModel::load(init)?;
    let mut tuned = Trainable::of(&model, init)?;
    let names = model.class_names().to_vec();
    let parts = parts(&source, &names, args.shots, args.seed, args.skip_bad)?;
    let (mnist, missing) = cached_mnist()?;
    let replay = args.replay.unwrap_or(DEFAULT_PLAN.replay);
    if let Some(line) = &missing {
        print_line(line)?;
    }
    let plan = Plan {
        epochs: args
            .epochs
            .map_or(Ok(DEFAULT_PLAN.epochs), u32::try_from)
            .context("--epochs is over the limit of 4294967295")?,
        batch: args.batch_size.unwrap_or(DEFAULT_PLAN.batch),
        replay: if mnist.is_some() { replay } else { 0 },
        seed: args.seed,
    };
    let lr = args.lr.unwrap_or(DEFAULT_PLAN.lr);
    let shift = args.shift.unwrap_or(DEFAULT_PLAN.shift);
    if shift > MAX_SHIFT {
        bail!("--shift {shift} is over the limit of {MAX_SHIFT} pixels");
    }
    check_plan(&plan, lr)?;
    let learn = args.learn;
    print_line(&format!(
        "fine-tuning {} ({}, learning {}) on {}\n  {}\n  {} epochs, batch {} + {} MNIST replay, shifts up to {shift} pixel(s), Adam lr {lr}, seed {}",
        show(init),
        crate::model::chain(&model.model()),
        learn_name(learn),
        source.name(),
        parts.how,
        plan.epochs,
        plan.batch,
        plan.replay,
        plan.seed
    ))?;

    let before_held = evaluate(init, &model, &parts.held_out)?;
    let before_mnist = mnist
        .as_ref()
        .map(|m| evaluate(init, &model, &m.test))
        .transpose()?;
    let started = Instant::now();
    let stats = tune(
        &mut tuned,
        learn.into(),
        lr,
        plan,
        &parts.learn,
        shift,
        mnist.as_ref().map(|m| &m.train),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let bytes = tuned.encode(&names)?;
    let after = HostModel::from_bytes(&bytes, out)?;
    let after_held = evaluate(out, &after, &parts.held_out)?;
    let after_mnist = mnist
        .as_ref()
        .map(|m| evaluate(out, &after, &m.test))
        .transpose()?;
    crate::model::write_bytes(out, &bytes)?;

    let pct = |e: &crate::evaluate::Evaluation| 100.0 * e.accuracy();
    let mut report = format!(
        "held out:   {:.2} % -> {:.2} % ({} examples)",
        pct(&before_held),
        pct(&after_held),
        after_held.examples()
    );
    if let (Some(b), Some(a)) = (&before_mnist, &after_mnist) {
        report.push_str(&format!(
            "\nMNIST test: {:.2} % -> {:.2} % ({:+.2} points)",
            pct(b),
            pct(a),
            pct(a) - pct(b)
        ));
    }
    print_line(&format!(
        "{report}\n{} steps in {seconds:.2} s (last epoch's loss {:.4}); model written to {}",
        stats.steps,
        stats.last_loss,
        show(out)
    ))?;
    Ok(())
}

/// `--learn`'s name as the command line spells it.
fn learn_name(learn: LearnArg) -> String {
    learn
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_owned())
}

/// A plan that cannot run, refused naming the flag.
fn check_plan(plan: &Plan, lr: f32) -> Result<()> {
    if plan.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    if plan.batch == 0 {
        bail!("--batch-size must be at least 1");
    }
    let most = super::train::MAX_BATCH_SIZE;
    if plan.batch > most || plan.replay > most {
        bail!("--batch-size and --replay are each at most {most}");
    }
    if !(lr.is_finite() && lr > 0.0) {
        bail!("--lr must be a positive number, got {lr}");
    }
    Ok(())
}

/// `--out` may replace a model file (an earlier run's), never anything else a user has there.
fn refuse_foreign(out: &Path) -> Result<()> {
    if !out.exists() {
        return Ok(());
    }
    let is_model = crate::model::read_bytes(out)
        .ok()
        .is_some_and(|bytes| ModelFile::parse(&bytes).is_ok());
    if !is_model {
        bail!(
            "--out {}: exists and is not a model file; not replacing it",
            show(out)
        );
    }
    Ok(())
}
