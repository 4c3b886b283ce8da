extern crate std;

use std::vec;
use std::vec::Vec;

use super::*;

/// `n` values uniform in ±1.
fn random(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect()
}

/// Random weights and biases for `sizes`, biases away from zero so ReLU units sit on both
/// sides of the kink.
fn params(sizes: &[usize], rng: &mut Rng) -> Vec<f32> {
    random(parameters(sizes), rng)
        .into_iter()
        .map(|v| v * 0.8)
        .collect()
}

/// The mean loss over the batch, in f64 from scratch: the finite-difference reference.
fn loss_f64(net: Net<'_>, params: &[f32], x: &[f32], labels: &[u8]) -> f64 {
    let sizes = net.sizes;
    let mut total = 0.0;
    for (r, &y) in labels.iter().enumerate() {
        let mut a: Vec<f64> = x[r * sizes[0]..(r + 1) * sizes[0]]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        for k in 0..net.depth() {
            let (w, bias) = layer(params, sizes, k);
            let c = a.len();
            a = bias
                .iter()
                .enumerate()
                .map(|(o, &bo)| {
                    let z =
                        f64::from(bo) + (0..c).map(|i| f64::from(w[o * c + i]) * a[i]).sum::<f64>();
                    match net.activations[k] {
                        Activation::Identity => z,
                        Activation::Relu => z.max(0.0),
                        Activation::Relu6 => z.clamp(0.0, 6.0),
                        Activation::Sigmoid => 1.0 / (1.0 + libm::exp(-z)),
                        Activation::Tanh => libm::tanh(z),
                        Activation::Softmax => unreachable!(),
                    }
                })
                .collect();
        }
        let max = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = libm::log(a.iter().map(|v| libm::exp(v - max)).sum::<f64>()) + max;
        total += lse - a[usize::from(y)];
    }
    total / labels.len() as f64
}

/// One SGD step with lr 1 from `start` moves each parameter by minus its gradient: read the
/// gradient back from it, and hold it to central differences in f64. Parameters `learn`
/// leaves alone must not move.
fn check_gradients(sizes: &[usize], activations: &[Activation], learn: Learn) {
    let b = 3;
    let mut rng = Rng::new(11);
    let start = params(sizes, &mut rng);
    let x = random(b * sizes[0], &mut rng);
    let labels = [0u8, 2, 1];
    let net = Net { sizes, activations };

    let mut trained = start.clone();
    let mut state = vec![0.0; state_len(sizes, learn)];
    let mut work = vec![0.0; work_len(sizes, b)];
    let sgd = Optimizer::Sgd { lr: 1.0 };
    let mut learner = Learner::new(net, learn, sgd, &mut trained, &mut state, &mut work, b)
        .expect("a valid learner");
    learner.step(&x, &labels).expect("a valid step");

    let depth = net.depth();
    let mut probe = start.clone();
    let mut at = 0;
    for k in 0..depth {
        let parts = [
            (learn.weights(k, depth), sizes[k] * sizes[k + 1]),
            (learn.bias(k, depth), sizes[k + 1]),
        ];
        for (learns, len) in parts {
            for i in at..at + len {
                let moved = f64::from(start[i]) - f64::from(trained[i]);
                if !learns {
                    assert_eq!(moved, 0.0, "{sizes:?} {learn:?}: parameter {i} is frozen");
                    continue;
                }
                let h = 1e-3f32;
                let (hi, lo) = (start[i] + h, start[i] - h);
                probe[i] = hi;
                let up = loss_f64(net, &probe, &x, &labels);
                probe[i] = lo;
                let down = loss_f64(net, &probe, &x, &labels);
                probe[i] = start[i];
                let numeric = (up - down) / (f64::from(hi) - f64::from(lo));
                assert!(
                    (numeric - moved).abs() < 1e-4 + 1e-3 * numeric.abs(),
                    "{activations:?} {sizes:?} {learn:?} parameter {i}: numeric {numeric}, \
                     step {moved}"
                );
            }
            at += len;
        }
    }
}

use Activation::{Identity, Relu, Relu6, Sigmoid, Tanh};

#[test]
fn gradients_match_finite_differences_for_every_activation() {
    for hidden in [Relu, Relu6, Sigmoid, Tanh, Identity] {
        check_gradients(&[6, 5, 4], &[hidden, Identity], Learn::All);
    }
}

#[test]
fn gradients_match_finite_differences_at_depths_1_3_and_4() {
    check_gradients(&[6, 4], &[Identity], Learn::All);
    check_gradients(&[6, 5, 3, 4], &[Tanh, Relu, Identity], Learn::All);
    check_gradients(
        &[5, 6, 4, 3, 3],
        &[Sigmoid, Relu6, Relu, Identity],
        Learn::All,
    );
}

#[test]
fn last_and_biases_move_only_their_parameters_by_their_gradients() {
    for learn in [Learn::Last, Learn::Biases] {
        check_gradients(&[6, 5, 3, 4], &[Tanh, Relu, Identity], learn);
        check_gradients(&[6, 4], &[Identity], learn);
    }
}

#[test]
fn learned_counts_the_chosen_parameters() {
    let sizes = [784, 128, 10];
    assert_eq!(parameters(&sizes), 101_770);
    assert_eq!(learned(&sizes, Learn::All), 101_770);
    assert_eq!(learned(&sizes, Learn::Last), 1_290);
    assert_eq!(learned(&sizes, Learn::Biases), 138);
    assert_eq!(state_len(&sizes, Learn::Biases), 414);
    assert_eq!(work_len(&sizes, 4), 4 * (138 + 2 * 128));
    assert_eq!("biases".parse(), Ok(Learn::Biases));
    assert_eq!("some".parse::<Learn>(), Err(()));
}

#[test]
fn adam_steps_lower_the_loss_on_a_fixed_batch() {
    let sizes = [6, 8, 3];
    let activations = [Relu, Identity];
    let mut rng = Rng::new(5);
    let mut p = params(&sizes, &mut rng);
    let x = random(4 * 6, &mut rng);
    let labels = [0u8, 1, 2, 1];
    let mut state = vec![0.0; state_len(&sizes, Learn::All)];
    let mut work = vec![0.0; work_len(&sizes, 4)];
    let net = Net {
        sizes: &sizes,
        activations: &activations,
    };
    let adam = Optimizer::Adam(AdamConfig {
        lr: 0.05,
        ..AdamConfig::default()
    });
    let mut learner = Learner::new(net, Learn::All, adam, &mut p, &mut state, &mut work, 4)
        .expect("a valid learner");
    let first = learner.step(&x, &labels).expect("a step");
    let mut last = first;
    for _ in 0..100 {
        last = learner.step(&x, &labels).expect("a step");
    }
    assert_eq!(learner.steps(), 101);
    assert!(
        last.loss_sum < first.loss_sum / 10.0,
        "{first:?} → {last:?}"
    );
    assert_eq!(last.correct, 4);
}

#[test]
fn the_learner_refuses_wrong_buffers_and_batches() {
    let sizes = [3, 2];
    let activations = [Identity];
    let net = Net {
        sizes: &sizes,
        activations: &activations,
    };
    let sgd = Optimizer::Sgd { lr: 0.1 };
    let (mut p, mut s, mut w) = ([0.0; 8], [0.0; 24], [0.0; 2 * 6]);
    let err = Learner::new(net, Learn::All, sgd, &mut p[..7], &mut s, &mut w, 2).unwrap_err();
    assert_eq!(
        err,
        Error::TrainBuffer {
            what: "params",
            expected: 8,
            found: 7
        }
    );
    let mut learner = Learner::new(net, Learn::All, sgd, &mut p, &mut s, &mut w, 2).unwrap();
    assert_eq!(
        learner.step(&[0.0; 9], &[0, 1, 0]),
        Err(Error::BatchSize { found: 3, max: 2 })
    );
    assert_eq!(
        learner.step(&[0.0; 3], &[2]),
        Err(Error::LabelOutOfRange {
            label: 2,
            classes: 2
        })
    );
    let softmax = [Activation::Softmax];
    let bad = Net {
        sizes: &sizes,
        activations: &softmax,
    };
    assert!(matches!(
        Learner::new(bad, Learn::All, sgd, &mut p, &mut s, &mut w, 2),
        Err(Error::BadActivation { layer: 0, .. })
    ));
}

/// Examples from a vector, for [`fit`].
struct Rows {
    x: Vec<f32>,
    labels: Vec<u8>,
    inputs: usize,
}

impl Examples for Rows {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn inputs(&self) -> usize {
        self.inputs
    }

    fn load(&self, i: usize, x: &mut [f32]) -> u8 {
        x.copy_from_slice(&self.x[i * self.inputs..(i + 1) * self.inputs]);
        self.labels[i]
    }
}

fn rows(n: usize, inputs: usize, seed: u64) -> Rows {
    let mut rng = Rng::new(seed);
    Rows {
        x: random(n * inputs, &mut rng),
        labels: (0..n).map(|i| (i % 3) as u8).collect(),
        inputs,
    }
}

/// Runs `plan` from the same start and returns the parameters and the statistics.
fn run_fit(plan: Plan, data: &Rows, replay: &Rows) -> (Vec<f32>, FitStats) {
    let sizes = [4, 5, 3];
    let activations = [Tanh, Identity];
    let net = Net {
        sizes: &sizes,
        activations: &activations,
    };
    let mut p = params(&sizes, &mut Rng::new(1));
    let rows = plan.step_examples();
    let mut state = vec![0.0; state_len(&sizes, Learn::All)];
    let mut work = vec![0.0; work_len(&sizes, rows)];
    let adam = Optimizer::Adam(AdamConfig::default());
    let mut learner = Learner::new(net, Learn::All, adam, &mut p, &mut state, &mut work, rows)
        .expect("a valid learner");
    let (mut x, mut labels) = (vec![0.0; rows * 4], vec![0u8; rows]);
    let (mut order, mut replay_order) = (vec![0; data.len()], vec![0; replay.len()]);
    let scratch = FitScratch {
        x: &mut x,
        labels: &mut labels,
        order: &mut order,
        replay_order: &mut replay_order,
    };
    let stats = fit(&mut learner, data, replay, plan, scratch).expect("a valid fit");
    (p, stats)
}

#[test]
fn fit_takes_the_planned_steps_and_repeats_itself_exactly() {
    let (data, replay) = (rows(10, 4, 2), rows(7, 4, 3));
    let plan = Plan {
        epochs: 3,
        batch: 4,
        replay: 2,
        seed: 9,
    };
    let (a, stats) = run_fit(plan, &data, &replay);
    assert_eq!(stats.steps as usize, plan.steps(10));
    assert_eq!(stats.steps, 9, "3 epochs of ⌈10 / 4⌉ steps");
    assert_eq!(stats.last_epoch_examples, 10 + 3 * 2);
    let (b, again) = run_fit(plan, &data, &replay);
    assert_eq!(a, b);
    assert_eq!(stats, again);
    let (c, _) = run_fit(Plan { seed: 10, ..plan }, &data, &replay);
    assert_ne!(a, c, "the seed orders the batches");
    let empty = Rows {
        x: vec![],
        labels: vec![],
        inputs: 4,
    };
    let (_, plain) = run_fit(Plan { replay: 0, ..plan }, &data, &empty);
    assert_eq!(plain.last_epoch_examples, 10);
}
