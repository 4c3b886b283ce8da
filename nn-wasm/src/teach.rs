//! "Teach it your handwriting": the page's Learn, in plain safe Rust on nn-core's training code
//! (`nn_core::train`, the very code the trainer and the board run, so the learned weights are
//! the host's byte for byte), tested on the host; `exports.rs` hands it the page's buffers.
//!
//! 1. The user keeps drawings as labelled examples: [`RECORD`]s of the label and the 28×28
//!    the model saw. `serve` offers replay examples (MNIST training images) in the same form.
//! 2. [`learn`] measures before and after on a held-out part of the kept examples: the
//!    [`held_out`] ones (about a third of each digit's) are left out of a first run, which
//!    starts from the served model and learns on the others; the held-out examples are then
//!    read by the served model (before) and by that run's model (after).
//! 3. A second run learns on every kept example, from the served model again: the model the
//!    page then runs and downloads, written by nn-core's encoder ([`nn_core::format::encode_model`]).
//!
//! Both runs learn all layers with Adam on batches of kept examples, each batch also taking
//! [`REPLAY`] replay examples against forgetting ([`nn_core::train::fit`]).

use nn_core::format::{ModelFile, encode_model, encoded_len_model};
use nn_core::network::{LayerF32, Layers, MAX_LAYERS, Model, ModelF32};
use nn_core::train::{
    AdamConfig, Examples, FitScratch, Learn, Learner, Net, Optimizer, Plan, fit, parameters,
    state_len, work_len,
};
use nn_core::{Activation, CLASSES, IMAGE_PIXELS, InputScaling};

use crate::Work;

/// Bytes of one labelled example: the label (0–9), then the 28×28 pixels (0–255, row-major).
pub const RECORD: usize = 1 + IMAGE_PIXELS;
/// The most examples the page keeps.
pub const MAX_EXAMPLES: usize = 400;
/// The most replay examples the page takes from `serve`.
pub const MAX_REPLAY: usize = 1_000;

/// Records (`RECORD` bytes each), read as a model's inputs: the pixels scaled as its file
/// says, and a subset picked by `index` (all of them when `index` is `None`).
#[derive(Clone, Copy)]
pub struct Records<'a> {
    bytes: &'a [u8],
    scaling: InputScaling,
    index: Option<&'a [u16]>,
}

impl<'a> Records<'a> {
    /// Every whole record in `bytes`, scaled by `scaling`.
    pub fn new(bytes: &'a [u8], scaling: InputScaling) -> Self {
        let whole = bytes.len() - bytes.len() % RECORD;
        Self {
            bytes: &bytes[..whole],
            scaling,
            index: None,
        }
    }

    /// The first `n` records.
    fn first(self, n: usize) -> Self {
        Self {
            bytes: &self.bytes[..n * RECORD],
            ..self
        }
    }

    /// The records at `index` (each below [`Records::new`]'s count), in that order.
    fn picked(self, index: &'a [u16]) -> Self {
        Self {
            index: Some(index),
            ..self
        }
    }

    fn record(&self, i: usize) -> &'a [u8] {
        let i = self.index.map_or(i, |index| usize::from(index[i]));
        &self.bytes[i * RECORD..(i + 1) * RECORD]
    }

    /// Example `i`'s label and pixels.
    pub fn example(&self, i: usize) -> (u8, &'a [u8]) {
        let r = self.record(i);
        (r[0], &r[1..])
    }
}

impl Examples for Records<'_> {
    fn len(&self) -> usize {
        self.index.map_or(self.bytes.len() / RECORD, <[u16]>::len)
    }

    fn inputs(&self) -> usize {
        IMAGE_PIXELS
    }

    fn load(&self, i: usize, x: &mut [f32]) -> u8 {
        let (label, pixels) = self.example(i);
        self.scaling.apply(pixels, x);
        label
    }
}

/// Whether kept example `i` (of `labels`, in the order kept) is held out of the first run:
/// the second of every three examples of its digit, so a digit kept twice or more has one.
pub fn held_out(labels: impl Iterator<Item = u8>, i: usize) -> bool {
    let mut rank = [0usize; 256];
    for (k, label) in labels.enumerate() {
        if k == i {
            return rank[usize::from(label)] % 3 == 1;
        }
        rank[usize::from(label)] += 1;
    }
    false
}

/// How the page learns: the plan and the optimizer, for `n` kept examples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Epochs, batch, replay per batch and seed.
    pub plan: Plan,
    /// Adam.
    pub optimizer: Optimizer,
}

/// Learning steps a run aims at, whatever the number of examples.
pub const STEPS: usize = 60;
/// Kept examples per step.
pub const BATCH: usize = 10;
/// Replay examples per step, when there are that many.
pub const REPLAY: usize = 20;
/// Adam's step size.
pub const LEARNING_RATE: f32 = 5e-4;
/// The runs' seed.
pub const SEED: u64 = 19;

impl Settings {
    /// [`STEPS`] steps (whole epochs) over `n` examples, [`BATCH`] at a time with up to
    /// [`REPLAY`] of the `replay` examples in each.
    pub fn for_examples(n: usize, replay: usize) -> Self {
        let batch = BATCH.min(n).max(1);
        let per_epoch = n.div_ceil(batch).max(1);
        Self {
            plan: Plan {
                epochs: STEPS.div_ceil(per_epoch) as u32,
                batch,
                replay: REPLAY.min(replay),
                seed: SEED,
            },
            optimizer: Optimizer::Adam(AdamConfig {
                lr: LEARNING_RATE,
                ..AdamConfig::default()
            }),
        }
    }
}

/// Why the page cannot learn.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum TeachError {
    /// No kept example.
    NoExamples,
    /// An int8 model: its weights are not f32 to learn.
    Int8,
    /// A model whose last layer does not feed a softmax (teach learns a classifier).
    NotSoftmax,
    /// nn-core refused (the model file, the network, the learner's buffers).
    Core(nn_core::Error),
    /// The buffers handed in are too short.
    Buffers,
}

impl core::fmt::Display for TeachError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoExamples => write!(f, "keep some examples first"),
            Self::Int8 => write!(
                f,
                "teaching needs an f32 model (this one is int8): serve the f32 model and quantize the download"
            ),
            Self::NotSoftmax => write!(f, "teaching needs a classifier with a softmax output"),
            Self::Core(e) => write!(f, "{e}"),
            Self::Buffers => write!(f, "the learning buffers are too short"),
        }
    }
}

/// The network's sizes and activations as nn-core's learner takes them.
struct Shape {
    sizes: [usize; MAX_LAYERS + 1],
    activations: [Activation; MAX_LAYERS],
    depth: usize,
    scaling: InputScaling,
}

impl Shape {
    fn of(file: &ModelFile<'_>) -> Result<Self, TeachError> {
        let Model::F32(m) = file.model().map_err(TeachError::Core)? else {
            return Err(TeachError::Int8);
        };
        let last = m.layers.last().map(|l| l.activation);
        if !m.softmax || last != Some(Activation::Identity) {
            return Err(TeachError::NotSoftmax);
        }
        let mut shape = Self {
            sizes: [0; MAX_LAYERS + 1],
            activations: [Activation::Identity; MAX_LAYERS],
            depth: m.layers.len(),
            scaling: m.scaling,
        };
        shape.sizes[0] = m.layers.get(0).map_or(0, |l| l.inputs);
        for (k, l) in m.layers.iter().enumerate() {
            shape.sizes[k + 1] = l.outputs;
            shape.activations[k] = l.activation;
        }
        Ok(shape)
    }

    fn sizes(&self) -> &[usize] {
        &self.sizes[..=self.depth]
    }

    fn net(&self) -> Net<'_> {
        Net {
            sizes: self.sizes(),
            activations: &self.activations[..self.depth],
        }
    }

    /// The f32 network over `params` (nn-core's layout: each layer's weights, then its bias).
    fn model<'p>(&self, params: &'p [f32]) -> Result<Model<'p>, TeachError> {
        let mut layers = Layers::new();
        let mut rest = params;
        for k in 0..self.depth {
            let (inputs, outputs) = (self.sizes[k], self.sizes[k + 1]);
            let (weights, r) = rest.split_at(inputs * outputs);
            let (bias, r) = r.split_at(outputs);
            rest = r;
            layers
                .push(LayerF32 {
                    weights,
                    bias,
                    inputs,
                    outputs,
                    activation: self.activations[k],
                })
                .map_err(TeachError::Core)?;
        }
        Ok(Model::F32(ModelF32 {
            layers,
            softmax: true,
            scaling: self.scaling,
        }))
    }
}

/// What [`learn`] needs for `file` with `replay` replay examples: f32 words of working
/// memory, and bytes for the tuned model file. Or why it cannot learn it.
///
/// # Errors
/// [`TeachError`].
pub fn needs(file: &ModelFile<'_>, replay: usize) -> Result<(usize, usize), TeachError> {
    let shape = Shape::of(file)?;
    let words = Buffers::lens(&shape, replay.min(MAX_REPLAY)).iter().sum();
    let served = file.model().map_err(TeachError::Core)?;
    let (names, count) = class_names(file);
    // The tuned model has the served one's layers and names: the same file length.
    let bytes = encoded_len_model(&served, &names[..count]).map_err(TeachError::Core)?;
    Ok((words, bytes))
}

/// `file`'s class names, and how many.
fn class_names<'f>(file: &ModelFile<'f>) -> ([&'f str; CLASSES], usize) {
    let mut names = [""; CLASSES];
    let mut count = 0;
    while let Some(name) = file.class_names().get(count).filter(|_| count < CLASSES) {
        names[count] = name;
        count += 1;
    }
    (names, count)
}

/// [`learn`]'s working memory, carved out of one f32 buffer of [`needs`] words.
struct Buffers<'a> {
    params: &'a mut [f32],
    state: &'a mut [f32],
    work: &'a mut [f32],
    x: &'a mut [f32],
}

impl<'a> Buffers<'a> {
    /// Parameters, optimizer state, the learner's work and the batch's inputs, for the
    /// largest batch [`Settings`] takes.
    fn lens(shape: &Shape, replay: usize) -> [usize; 4] {
        let batch = BATCH + REPLAY.min(replay);
        [
            parameters(shape.sizes()),
            state_len(shape.sizes(), Learn::All),
            work_len(shape.sizes(), batch),
            batch * IMAGE_PIXELS,
        ]
    }

    fn carve(shape: &Shape, replay: usize, words: &'a mut [f32]) -> Result<Self, TeachError> {
        let [p, s, w, x] = Self::lens(shape, replay);
        if words.len() < p + s + w + x {
            return Err(TeachError::Buffers);
        }
        let (params, rest) = words.split_at_mut(p);
        let (state, rest) = rest.split_at_mut(s);
        let (work, rest) = rest.split_at_mut(w);
        Ok(Self {
            params,
            state,
            work,
            x: &mut rest[..x],
        })
    }
}

/// What [`learn`] measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Kept examples held out of the first run.
    pub held_out: usize,
    /// Of those, read right by the served model.
    pub before: usize,
    /// Of those, read right by the first run's model.
    pub after: usize,
    /// Steps of the second run (the model the page runs).
    pub steps: u32,
    /// Bytes of the tuned model file written into `out`.
    pub file_len: usize,
}

/// Learns from the served model `file` on the kept `examples` with the `replay` examples
/// (both [`RECORD`]s), as the module docs say, and writes the tuned model file (with the
/// served file's class names) into `out`. `words` is the working memory ([`needs`]);
/// `work` the scratch for reading examples with a model.
///
/// # Errors
/// [`TeachError`]; `out` shorter than the file is nn-core's `BufferTooSmall`.
pub fn learn(
    file: &ModelFile<'_>,
    examples: &[u8],
    replay: &[u8],
    words: &mut [f32],
    work: &mut Work,
    out: &mut [u8],
) -> Result<Outcome, TeachError> {
    let shape = Shape::of(file)?;
    let kept = Records::new(examples, shape.scaling);
    let n = kept.len().min(MAX_EXAMPLES);
    let kept = kept.first(n);
    let replay = Records::new(replay, shape.scaling);
    let replay = replay.first(replay.len().min(MAX_REPLAY));
    if n == 0 {
        return Err(TeachError::NoExamples);
    }
    let labels = || (0..n).map(|i| kept.example(i).0);
    let mut train = [0u16; MAX_EXAMPLES];
    let mut test = [0u16; MAX_EXAMPLES];
    let (mut n_train, mut n_test) = (0, 0);
    for i in 0..n {
        if held_out(labels(), i) {
            test[n_test] = i as u16;
            n_test += 1;
        } else {
            train[n_train] = i as u16;
            n_train += 1;
        }
    }
    let test = kept.picked(&test[..n_test]);
    let mut b = Buffers::carve(&shape, replay.len(), words)?;
    let mut outcome = Outcome {
        held_out: n_test,
        ..Outcome::default()
    };

    if n_test > 0 {
        file.copy_parameters(b.params).map_err(TeachError::Core)?;
        outcome.before = right(&shape, b.params, &test, work)?;
        run(&shape, &kept.picked(&train[..n_train]), &replay, &mut b)?;
        outcome.after = right(&shape, b.params, &test, work)?;
    }

    file.copy_parameters(b.params).map_err(TeachError::Core)?;
    outcome.steps = run(&shape, &kept, &replay, &mut b)?;
    let (names, count) = class_names(file);
    let model = shape.model(b.params)?;
    outcome.file_len = encode_model(&model, &names[..count], out)
        .map_err(TeachError::Core)?
        .len();
    Ok(outcome)
}

/// One run of nn-core's `fit` on `data` with `replay`, from the parameters in `b.params`;
/// its steps.
fn run(
    shape: &Shape,
    data: &Records<'_>,
    replay: &Records<'_>,
    b: &mut Buffers<'_>,
) -> Result<u32, TeachError> {
    let settings = Settings::for_examples(data.len(), replay.len());
    let plan = settings.plan;
    let rows = plan.batch + plan.replay;
    let mut learner = Learner::new(
        shape.net(),
        Learn::All,
        settings.optimizer,
        b.params,
        b.state,
        &mut b.work[..work_len(shape.sizes(), rows)],
        rows,
    )
    .map_err(TeachError::Core)?;
    let mut labels = [0u8; BATCH + REPLAY];
    let mut order = [0u32; MAX_EXAMPLES];
    let mut replay_order = [0u32; MAX_REPLAY];
    let stats = fit(
        &mut learner,
        data,
        replay,
        plan,
        FitScratch {
            x: &mut b.x[..rows * IMAGE_PIXELS],
            labels: &mut labels[..rows],
            order: &mut order[..data.len()],
            replay_order: &mut replay_order[..replay.len()],
        },
    )
    .map_err(TeachError::Core)?;
    Ok(stats.steps)
}

/// How many of `data` the network over `params` reads right.
fn right(
    shape: &Shape,
    params: &[f32],
    data: &Records<'_>,
    work: &mut Work,
) -> Result<usize, TeachError> {
    let model = shape.model(params)?;
    let mut p = [0.0; CLASSES];
    let mut right = 0;
    for i in 0..data.len() {
        let (label, pixels) = data.example(i);
        let class = model
            .classify_pixels(pixels, &mut work.scratch, &mut p)
            .map_err(TeachError::Core)?;
        right += usize::from(class == usize::from(label));
    }
    Ok(right)
}
