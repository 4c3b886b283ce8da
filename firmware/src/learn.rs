//! Learning on the board (protocol 4's [`LearnRequest`]s), with nn-core's own training code:
//! the int8 model stays in flash, its last layer (the head) learns in f32 in RAM over the
//! int8 hidden layer's features (`nn_core::train::head`).
//!
//! 1. **Example**: the input runs through the int8 body; its int8 features (one byte each)
//!    and label join the examples to learn or the replay set, each a fixed store in RAM.
//! 2. **Learn**: the head starts from the shipped model's last layer, dequantised, and
//!    `train::fit` runs the host's plan over the stored features. The host runs the same
//!    code on the same features, so the learned head is byte-identical to its own.
//! 3. **Serve**: while a learned head is held, digits are answered by features → head →
//!    softmax; raw tensors still go through the shipped model.
//! 4. **Reset** (or a power cycle): the examples and the learned head are gone. Learned
//!    weights are never written to flash (README.md, "Learning on the board").
//!
//! Everything lives in one static [`Learning`], taken once by [`Learning::take`]: no
//! allocator, and its RAM is counted by the linker, not the stack.

use nn_core::Prediction;
use nn_core::network::Model;
use nn_core::protocol::{
    FrameError, HEAD_CHUNK, LearnOptimizer, LearnPlan, LearnReply, LearnRequest, TensorElement,
};
use nn_core::train::head::{self, Features, HeadBuffers, Input, Split};
use nn_core::train::{self, AdamConfig, Learn, Optimizer, Plan, state_len, work_len};

use crate::stack;
use crate::stopwatch::Stopwatch;
use crate::weights::{INPUTS, LAYER_OUTPUTS, Net as Model8, OUTPUTS, SCRATCH_WORDS};

/// Features per example: the last hidden layer's width.
pub const FEATURES: usize = LAYER_OUTPUTS[LAYER_OUTPUTS.len() - 2];
/// The head's sizes, `train`'s way: features in, classes out.
const SIZES: [usize; 2] = [FEATURES, OUTPUTS];
/// The head's parameters, `[W (OUTPUTS, FEATURES) | b]`.
pub const HEAD: usize = train::parameters(&SIZES);

/// Examples to learn, replay examples and examples per step (both kinds) the RAM holds.
/// The NUCLEO-F411RE has 128 KB of RAM; the other boards 256 KB or more.
#[cfg(feature = "nucleo-f411re")]
const CAPACITIES: (usize, usize, usize) = (64, 64, 16);
#[cfg(not(feature = "nucleo-f411re"))]
const CAPACITIES: (usize, usize, usize) = (200, 1000, 32);
/// The most examples to learn.
pub const CAPACITY: usize = CAPACITIES.0;
/// The most replay examples.
pub const REPLAY_CAPACITY: usize = CAPACITIES.1;
/// The most examples one step takes (`plan.batch + plan.replay`).
pub const MAX_BATCH: usize = CAPACITIES.2;

const STATE: usize = state_len(&SIZES, Learn::All);
const WORK: usize = work_len(&SIZES, MAX_BATCH);
const FIT_X: usize = MAX_BATCH * FEATURES;

/// One store of int8 features and their labels.
struct Store<const N: usize, const Q: usize> {
    q: [i8; Q],
    labels: [u8; N],
    len: usize,
}

impl<const N: usize, const Q: usize> Store<N, Q> {
    const EMPTY: Self = Self {
        q: [0; Q],
        labels: [0; N],
        len: 0,
    };

    /// The next example's feature slot, or `None` when full.
    fn next(&mut self) -> Option<&mut [i8]> {
        if self.len == N {
            return None;
        }
        self.q
            .get_mut(self.len * FEATURES..(self.len + 1) * FEATURES)
    }

    fn push(&mut self, label: u8) {
        self.labels[self.len] = label;
        self.len += 1;
    }

    fn examples(&self, quant: nn_core::TensorQuant) -> Features<'_> {
        Features {
            q: &self.q[..self.len * FEATURES],
            labels: &self.labels[..self.len],
            inputs: FEATURES,
            quant,
        }
    }
}

/// The learner's RAM: the stores, the head, its optimizer state and its work buffers.
pub struct Learning {
    data: Store<CAPACITY, { CAPACITY * FEATURES }>,
    replay: Store<REPLAY_CAPACITY, { REPLAY_CAPACITY * FEATURES }>,
    head: [f32; HEAD],
    /// Whether `head` holds a learned head (else the shipped model serves).
    learned: bool,
    state: [f32; STATE],
    work: [f32; WORK],
    x: [f32; FIT_X],
    labels: [u8; MAX_BATCH],
    order: [u32; CAPACITY],
    replay_order: [u32; REPLAY_CAPACITY],
}

/// The one [`Learning`]: in `.bss`, zeroed at boot, which is its empty state.
static mut LEARNING: Learning = Learning {
    data: Store::EMPTY,
    replay: Store::EMPTY,
    head: [0.0; HEAD],
    learned: false,
    state: [0.0; STATE],
    work: [0.0; WORK],
    x: [0.0; FIT_X],
    labels: [0; MAX_BATCH],
    order: [0; CAPACITY],
    replay_order: [0; REPLAY_CAPACITY],
};

impl Learning {
    /// The learner's RAM. Call once (the serve loop does, at its start).
    pub fn take() -> &'static mut Learning {
        // Safety: called once, from `app::serve` before its loop, and nothing else names
        // LEARNING: this is the only reference there ever is.
        unsafe { &mut *core::ptr::addr_of_mut!(LEARNING) }
    }

    /// The answer to one learning request, or the error to send.
    pub fn answer<'c>(
        &mut self,
        model: &Model8,
        request: &LearnRequest<'_>,
        stopwatch: &mut impl Stopwatch,
        chunk: &'c mut [u8; HEAD_CHUNK],
    ) -> Result<LearnReply<'c>, FrameError> {
        let split = split(model)?;
        match *request {
            LearnRequest::Example {
                label,
                replay,
                element,
                data,
                ..
            } => {
                if usize::from(label) >= OUTPUTS {
                    return Err(FrameError::BadLabel);
                }
                let input = match element {
                    TensorElement::U8 if data.len() == INPUTS => Input::Pixels(data),
                    TensorElement::I8 if data.len() == INPUTS => {
                        Input::I8(bytemuck::cast_slice(data))
                    }
                    _ => return Err(FrameError::WrongInput),
                };
                let mut scratch = [0.0f32; SCRATCH_WORDS];
                let slot = if replay {
                    self.replay.next()
                } else {
                    self.data.next()
                }
                .ok_or(FrameError::StoreFull)?;
                split
                    .features(input, &mut scratch, slot)
                    .map_err(|_| FrameError::WrongInput)?;
                if replay {
                    self.replay.push(label);
                } else {
                    self.data.push(label);
                }
                Ok(self.stored())
            }
            LearnRequest::Learn { plan, .. } => self.learn(&split, plan, stopwatch),
            LearnRequest::ReadHead { offset, .. } => {
                let bytes: &[u8] = bytemuck::cast_slice(&self.head);
                let start = usize::try_from(offset).map_err(|_| FrameError::BadOffset)?;
                let rest = bytes.get(start..).ok_or(FrameError::BadOffset)?;
                let n = rest.len().min(HEAD_CHUNK);
                chunk[..n].copy_from_slice(&rest[..n]);
                Ok(LearnReply::Head {
                    offset,
                    total: bytes.len() as u32,
                    data: &chunk[..n],
                })
            }
            LearnRequest::Reset { .. } => {
                self.data.len = 0;
                self.replay.len = 0;
                self.learned = false;
                // The shipped head, for a ReadHead before the next Learn.
                let _ = split.init_head(&mut self.head);
                Ok(self.stored())
            }
        }
    }

    fn stored(&self) -> LearnReply<'static> {
        LearnReply::Stored {
            examples: self.data.len as u32,
            replay: self.replay.len as u32,
            capacity: CAPACITY as u32,
            replay_capacity: REPLAY_CAPACITY as u32,
        }
    }

    /// `train::fit` over the stored examples, from the shipped head, as the host runs it.
    fn learn(
        &mut self,
        split: &Split<'_>,
        plan: LearnPlan,
        stopwatch: &mut impl Stopwatch,
    ) -> Result<LearnReply<'static>, FrameError> {
        let plan_optimizer = plan.optimizer;
        let batch = usize::try_from(plan.batch).map_err(|_| FrameError::CannotLearn)?;
        let replay = usize::try_from(plan.replay).map_err(|_| FrameError::CannotLearn)?;
        let per_step = batch.checked_add(replay).ok_or(FrameError::CannotLearn)?;
        if batch == 0 || per_step > MAX_BATCH || self.data.len == 0 {
            return Err(FrameError::CannotLearn);
        }
        let quant = split.feature_quant();
        self.learned = false;
        let Self {
            data,
            replay: replay_store,
            head,
            state,
            work,
            x,
            labels,
            order,
            replay_order,
            ..
        } = self;
        let (data, replay_set) = (data.examples(quant), replay_store.examples(quant));
        let buffers = HeadBuffers {
            params: head,
            state,
            work: &mut work[..work_len(&SIZES, per_step)],
            x: &mut x[..per_step * FEATURES],
            labels: &mut labels[..per_step],
            order: &mut order[..data.labels.len()],
            replay_order: &mut replay_order[..replay_set.labels.len()],
        };
        let plan = Plan {
            epochs: plan.epochs,
            batch,
            replay,
            seed: plan.seed,
        };
        let optimizer = optimizer(plan_optimizer);
        let (result, count) = stopwatch
            .measure_long(|| head::fit_head(split, optimizer, plan, &data, &replay_set, buffers));
        let stats = result.map_err(|_| FrameError::CannotLearn)?;
        self.learned = true;
        Ok(LearnReply::Learned {
            steps: stats.steps,
            loss_sum: stats.last_epoch.loss_sum as f32,
            correct: stats.last_epoch.correct as u32,
            count,
            stack_used: stack::used(),
        })
    }

    /// A digit's prediction by the learned head, or `None` while the shipped model serves.
    pub fn classify(&self, model: &Model8, pixels: &[u8; INPUTS]) -> Option<Prediction<OUTPUTS>> {
        if !self.learned {
            return None;
        }
        let split = split(model).ok()?;
        let mut scratch = [0.0f32; SCRATCH_WORDS];
        let mut q = [0i8; FEATURES];
        split
            .features(Input::Pixels(pixels), &mut scratch, &mut q)
            .ok()?;
        let mut f = [0.0f32; FEATURES];
        let mut probabilities = [0.0f32; OUTPUTS];
        let class = head::predict(
            &self.head,
            &q,
            split.feature_quant(),
            &mut f,
            &mut probabilities,
        )
        .ok()?;
        Some(Prediction {
            class,
            probabilities,
        })
    }
}

/// The firmware's int8 model cut before its last layer.
fn split(model: &Model8) -> Result<Split<'static>, FrameError> {
    match model.model() {
        Model::I8(m) => Split::new(m).map_err(|_| FrameError::CannotLearn),
        Model::F32(_) => Err(FrameError::CannotLearn),
    }
}

/// The protocol's optimizer as `train` takes it.
fn optimizer(o: LearnOptimizer) -> Optimizer {
    match o {
        LearnOptimizer::Adam {
            lr,
            beta1,
            beta2,
            epsilon,
        } => Optimizer::Adam(AdamConfig {
            lr,
            beta1,
            beta2,
            epsilon,
        }),
        LearnOptimizer::Sgd { lr } => Optimizer::Sgd { lr },
    }
}
