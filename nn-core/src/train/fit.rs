//! The training loop every learner runs: epochs of shuffled batches, with replayed examples
//! mixed into each batch. Its order is part of the result, so it lives here once: the host,
//! the page and a board given the same examples, plan and seed take the same steps.

use super::{BatchStats, Learner, Rng, length};
use crate::error::Error;

/// A labelled data set, read one example at a time into the learner's input form.
pub trait Examples {
    /// Examples held.
    fn len(&self) -> usize;

    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inputs per example: the network's first size.
    fn inputs(&self) -> usize;

    /// Writes example `i`'s inputs into `x` ([`inputs`](Self::inputs) long) and returns its
    /// label.
    fn load(&self, i: usize, x: &mut [f32]) -> u8;
}

/// No examples: the replay set of a plan without replay.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoExamples;

impl Examples for NoExamples {
    fn len(&self) -> usize {
        0
    }

    fn inputs(&self) -> usize {
        0
    }

    fn load(&self, _: usize, _: &mut [f32]) -> u8 {
        unreachable!("NoExamples holds none")
    }
}

/// How [`fit`] walks the examples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Plan {
    /// Passes over the examples.
    pub epochs: u32,
    /// Examples of the data set per step (the last step of an epoch may take fewer).
    pub batch: usize,
    /// Replayed examples added to every step, when there are any to replay.
    pub replay: usize,
    /// Seeds the shuffles.
    pub seed: u64,
}

impl Plan {
    /// The most examples one step takes: the learner's batch, and the rows of
    /// [`FitScratch`]'s buffers.
    pub const fn step_examples(&self) -> usize {
        self.batch + self.replay
    }

    /// Steps over `examples` examples.
    pub const fn steps(&self, examples: usize) -> usize {
        self.epochs as usize * examples.div_ceil(if self.batch == 0 { 1 } else { self.batch })
    }
}

/// [`fit`]'s buffers: one step's inputs and labels, and the two visiting orders.
#[derive(Debug)]
pub struct FitScratch<'a> {
    /// `plan.step_examples() × inputs` values.
    pub x: &'a mut [f32],
    /// `plan.step_examples()` labels.
    pub labels: &'a mut [u8],
    /// One index per example.
    pub order: &'a mut [u32],
    /// One index per replayed example.
    pub replay_order: &'a mut [u32],
}

/// What [`fit`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FitStats {
    /// Steps taken.
    pub steps: u32,
    /// The last epoch's loss and correct count, summed over its steps (replay included).
    pub last_epoch: BatchStats,
    /// Examples the last epoch saw (replay included).
    pub last_epoch_examples: usize,
}

/// Trains `learner` on `data` for `plan.epochs` epochs. Each epoch visits the examples in
/// an order shuffled by [`Rng`]`(plan.seed)` (one generator for the whole run), cut into
/// steps of `plan.batch`; each step also takes the next `plan.replay` examples of `replay`,
/// which is walked in its own shuffled cycle, reshuffled each time round.
pub fn fit<E: Examples + ?Sized, R: Examples + ?Sized>(
    learner: &mut Learner<'_>,
    data: &E,
    replay: &R,
    plan: Plan,
    scratch: FitScratch<'_>,
) -> Result<FitStats, Error> {
    let inputs = learner.net().sizes[0];
    let replay_n = if replay.is_empty() { 0 } else { plan.replay };
    let rows = plan.batch + replay_n;
    if plan.batch == 0 || rows > learner.batch() {
        return Err(Error::BatchSize {
            found: rows,
            max: learner.batch(),
        });
    }
    length("data inputs", inputs, data.inputs())?;
    if replay_n > 0 {
        length("replay inputs", inputs, replay.inputs())?;
    }
    let FitScratch {
        x,
        labels,
        order,
        replay_order,
    } = scratch;
    length("order", data.len(), order.len())?;
    length("replay order", replay.len(), replay_order.len())?;
    if x.len() < rows * inputs {
        return Err(Error::TrainBuffer {
            what: "x",
            expected: rows * inputs,
            found: x.len(),
        });
    }
    if labels.len() < rows {
        return Err(Error::TrainBuffer {
            what: "labels",
            expected: rows,
            found: labels.len(),
        });
    }
    let index = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
    order
        .iter_mut()
        .enumerate()
        .for_each(|(i, o)| *o = index(i));
    replay_order
        .iter_mut()
        .enumerate()
        .for_each(|(i, o)| *o = index(i));

    let mut rng = Rng::new(plan.seed);
    rng.shuffle(replay_order);
    let mut replayed = 0;
    let mut stats = FitStats::default();
    for _ in 0..plan.epochs {
        rng.shuffle(order);
        stats.last_epoch = BatchStats::default();
        stats.last_epoch_examples = 0;
        for chunk in order.chunks(plan.batch) {
            let mut n = 0;
            for &i in chunk {
                labels[n] = data.load(i as usize, &mut x[n * inputs..(n + 1) * inputs]);
                n += 1;
            }
            for _ in 0..replay_n {
                if replayed == replay_order.len() {
                    rng.shuffle(replay_order);
                    replayed = 0;
                }
                let i = replay_order[replayed] as usize;
                labels[n] = replay.load(i, &mut x[n * inputs..(n + 1) * inputs]);
                replayed += 1;
                n += 1;
            }
            let step = learner.step(&x[..n * inputs], &labels[..n])?;
            stats.last_epoch = stats.last_epoch + step;
            stats.last_epoch_examples += n;
            stats.steps += 1;
        }
    }
    Ok(stats)
}
