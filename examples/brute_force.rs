//! The blog post's first half, run: guess a person's weight from their age and height with
//! three "magic numbers", `weight = w1·age + w2·height + w3`, learnt from ONE row of data
//! (age 50, height 170 cm, weight 75 kg).
//!
//! 1. Brute force: try every integer triple in a box, keep those whose error
//!    `|actual − predicted|` is zero.
//! 2. Overfitting: every one of them is perfect on the row, and they disagree wildly about
//!    anyone else.
//! 3. One neuron, `f(w·x + b)` with `f` the identity, trained by gradient descent on the same
//!    row: it reaches zero error too, at the exact solution nearest to where it started.
//!
//! `cargo run --release --example brute-force`; its tests run with `cargo test --workspace`.

use std::ops::RangeInclusive;
use std::time::Instant;

/// One person: what the model sees (age, height) and what it should say (weight).
#[derive(Clone, Copy, Debug)]
struct Person {
    age: i32,
    height: i32,
    weight: i32,
}

/// The post's only training row.
const ROW: Person = Person {
    age: 50,
    height: 170,
    weight: 75,
};

/// The newcomer the post asks about once the numbers are found (their weight is unknown).
const NEWCOMER: (i32, i32) = (40, 180);

/// The post's search box, bounds included. The post's figures (237 exact solutions, the
/// first `(-101, 30, 25)`) need `w1` to reach +100: Python's `range(-101, 100)` stops at 99
/// and finds 236, missing `(100, -29, 5)`. No exact solution has `w2` or `w3` at ±100, so
/// their upper bounds do not change the count.
const W1: RangeInclusive<i32> = -101..=100;
const W2: RangeInclusive<i32> = -100..=100;
const W3: RangeInclusive<i32> = -100..=100;

/// Three magic numbers: `weight = w1·age + w2·height + w3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Magic {
    w1: i32,
    w2: i32,
    w3: i32,
}

impl Magic {
    fn predict(self, age: i32, height: i32) -> i32 {
        self.w1 * age + self.w2 * height + self.w3
    }
}

/// What the brute-force search saw.
struct Search {
    /// Triples tried (every one in the box).
    evaluations: u64,
    /// Triples with zero error on the row, in the order tried (`w1`, then `w2`, then `w3`).
    exact: Vec<Magic>,
}

/// Tries every integer triple in the box on one row, in integers (no rounding to argue about).
fn brute_force(
    row: Person,
    w1s: RangeInclusive<i32>,
    w2s: RangeInclusive<i32>,
    w3s: RangeInclusive<i32>,
) -> Search {
    let mut search = Search {
        evaluations: 0,
        exact: Vec::new(),
    };
    for w1 in w1s {
        for w2 in w2s.clone() {
            for w3 in w3s.clone() {
                let magic = Magic { w1, w2, w3 };
                let error = (row.weight - magic.predict(row.age, row.height)).abs();
                search.evaluations += 1;
                if error == 0 {
                    search.exact.push(magic);
                }
            }
        }
    }
    search
}

/// One neuron with the identity as activation, `y = w·x + b`, in f64. Its parameters
/// `(w[0], w[1], b)` play the roles of `(w1, w2, w3)`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Neuron {
    w: [f64; 2],
    b: f64,
}

impl Neuron {
    fn forward(&self, x: [f64; 2]) -> f64 {
        self.w[0] * x[0] + self.w[1] * x[1] + self.b
    }

    /// One gradient-descent step on the squared error `½ (y − t)²` of one row; returns the
    /// error `y − t` before the step.
    fn step(&mut self, x: [f64; 2], t: f64, lr: f64) -> f64 {
        let dy = self.forward(x) - t;
        // Backward through y = w·x + b: dw = dy·x, db = dy.
        let dw = [dy * x[0], dy * x[1]];
        let db = dy;
        self.w[0] -= lr * dw[0];
        self.w[1] -= lr * dw[1];
        self.b -= lr * db;
        dy
    }
}

/// Where gradient descent from `start` must land, worked out on paper. Every step moves the
/// parameters along `(age, height, 1)` (the gradient of a single row), and the exact
/// solutions form the plane `(age, height, 1)·θ = weight` perpendicular to that direction,
/// so the descent walks straight to the point of the plane nearest its start:
/// `θ = start + (weight − (age, height, 1)·start) / |(age, height, 1)|² · (age, height, 1)`.
fn nearest_exact(start: Neuron, row: Person) -> Neuron {
    let x = [f64::from(row.age), f64::from(row.height), 1.0];
    let norm2 = x[0] * x[0] + x[1] * x[1] + x[2] * x[2];
    let c = (f64::from(row.weight) - start.forward([x[0], x[1]])) / norm2;
    Neuron {
        w: [start.w[0] + c * x[0], start.w[1] + c * x[1]],
        b: start.b + c * x[2],
    }
}

/// The training that stops once the row is fitted to `tolerance`; returns the neuron and the
/// steps it took.
fn train(mut neuron: Neuron, row: Person, lr: f64, tolerance: f64) -> (Neuron, usize) {
    let x = [f64::from(row.age), f64::from(row.height)];
    let t = f64::from(row.weight);
    for steps in 0..MAX_STEPS {
        if (neuron.forward(x) - t).abs() <= tolerance {
            return (neuron, steps);
        }
        neuron.step(x, t, lr);
    }
    (neuron, MAX_STEPS)
}

/// Gradient descent on one row converges only if `lr < 2 / |(age, height, 1)|²`
/// (= 2 / 31 401 ≈ 6.4e-5 here): height, the largest input, sets the speed limit for all.
const LEARNING_RATE: f64 = 1e-5;
const TOLERANCE: f64 = 1e-9;
const MAX_STEPS: usize = 10_000;

/// Starting points for the neuron: zeros (the usual bias init), one of the brute-force
/// solutions, and two arbitrary ones.
const STARTS: [Neuron; 4] = [
    Neuron {
        w: [0.0, 0.0],
        b: 0.0,
    },
    Neuron {
        w: [-100.0, 30.0],
        b: -25.0,
    },
    Neuron {
        w: [2.0, -1.0],
        b: 50.0,
    },
    Neuron {
        w: [-0.5, 0.3],
        b: -80.0,
    },
];

fn main() {
    let (age, height) = (ROW.age, ROW.height);
    println!("# 1. Brute force");
    println!(
        "row: age {age}, height {height} cm, weight {} kg; w1 in {:?}, w2 in {:?}, w3 in {:?}",
        ROW.weight, W1, W2, W3
    );
    let clock = Instant::now();
    let search = brute_force(ROW, W1, W2, W3);
    let elapsed = clock.elapsed();
    println!(
        "{} evaluations in {:.1} ms: {} exact solutions (error 0)",
        search.evaluations,
        elapsed.as_secs_f64() * 1e3,
        search.exact.len()
    );
    for m in search.exact.iter().take(5) {
        println!("  w1 = {:4}, w2 = {:4}, w3 = {:4}", m.w1, m.w2, m.w3);
    }
    println!("  ...");
    if let Some(first) = search.exact.first() {
        println!(
            "first: w1 = {}, w2 = {}, w3 = {}  ({}·{age} + {}·{height} + {} = {})",
            first.w1,
            first.w2,
            first.w3,
            first.w1,
            first.w2,
            first.w3,
            first.predict(age, height)
        );
    }

    println!("\n# 2. Overfitting: all exact on the row, all different on a newcomer");
    let (new_age, new_height) = NEWCOMER;
    let guesses: Vec<i32> = search
        .exact
        .iter()
        .map(|m| m.predict(new_age, new_height))
        .collect();
    let post = Magic {
        w1: -100,
        w2: 30,
        w3: -25,
    };
    println!(
        "the post's pick w1 = -100, w2 = 30, w3 = -25: row -> {} kg, age {new_age}, height {new_height} cm -> {} kg",
        post.predict(age, height),
        post.predict(new_age, new_height)
    );
    if let (Some(lo), Some(hi)) = (guesses.iter().min(), guesses.iter().max()) {
        println!(
            "the {} exact solutions predict the newcomer's weight anywhere from {lo} to {hi} kg",
            guesses.len()
        );
    }

    println!("\n# 3. One neuron, y = w·x + b, gradient descent on the same row");
    println!(
        "loss ½(y − 75)², lr {LEARNING_RATE:e}, stop at |error| ≤ {TOLERANCE:e}; \
         (w1, w2, w3) = (w[0], w[1], b)"
    );
    for start in STARTS {
        let (end, steps) = train(start, ROW, LEARNING_RATE, TOLERANCE);
        let paper = nearest_exact(start, ROW);
        let off_paper = (end.w[0] - paper.w[0])
            .abs()
            .max((end.w[1] - paper.w[1]).abs())
            .max((end.b - paper.b).abs());
        println!(
            "start ({:7.2}, {:6.2}, {:6.2}) -> ({:9.5}, {:8.5}, {:9.5}) in {steps:2} steps: \
             row error {:.1e}, newcomer {:7.2} kg, {off_paper:.0e} from the nearest exact solution",
            start.w[0],
            start.w[1],
            start.b,
            end.w[0],
            end.w[1],
            end.b,
            end.forward([f64::from(age), f64::from(height)]) - f64::from(ROW.weight),
            end.forward([f64::from(new_age), f64::from(new_height)]),
        );
    }
    println!(
        "One row gives one equation for three unknowns: the exact solutions form a plane, and \
         gradient descent stops at the point of it nearest its start. Every start fits the row \
         perfectly; what it says about the newcomer depends only on where it started. More rows \
         (60 000 images for MNIST) are what pin the numbers down."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The post's figures: 237 exact solutions, the first (-101, 30, 25).
    #[test]
    fn brute_force_reproduces_the_post() {
        let search = brute_force(ROW, W1, W2, W3);
        assert_eq!(search.evaluations, 202 * 201 * 201);
        assert_eq!(search.exact.len(), 237);
        assert_eq!(
            search.exact[0],
            Magic {
                w1: -101,
                w2: 30,
                w3: 25
            }
        );
        // -101·50 + 30·170 + 25 = -5050 + 5100 + 25 = 75, by hand.
        assert_eq!(search.exact[0].predict(50, 170), 75);
    }

    /// Counted another way: for each (w1, w2) at most one w3 fits, `w3 = 75 − 50·w1 − 170·w2`,
    /// and it counts when it lies in the box.
    #[test]
    fn solution_count_matches_solving_for_w3() {
        let mut count = 0;
        for w1 in W1 {
            for w2 in W2 {
                if W3.contains(&(75 - 50 * w1 - 170 * w2)) {
                    count += 1;
                }
            }
        }
        assert_eq!(count, 237);
        assert_eq!(brute_force(ROW, W1, W2, W3).exact.len(), count);
    }

    /// Python's half-open `range(-101, 100)` for w1 misses the one solution with w1 = 100.
    #[test]
    fn half_open_w1_finds_one_fewer() {
        let search = brute_force(ROW, -101..=99, W2, W3);
        assert_eq!(search.exact.len(), 236);
        let full = brute_force(ROW, W1, W2, W3);
        let missing: Vec<_> = full
            .exact
            .iter()
            .filter(|m| !search.exact.contains(m))
            .collect();
        assert_eq!(
            missing,
            [&Magic {
                w1: 100,
                w2: -29,
                w3: 5
            }]
        );
    }

    /// -100·40 + 30·180 − 25 = -4000 + 5400 − 25 = 1375, by hand: the post's overfitting.
    #[test]
    fn the_posts_pick_predicts_1375() {
        let post = Magic {
            w1: -100,
            w2: 30,
            w3: -25,
        };
        assert_eq!(post.predict(50, 170), 75);
        assert_eq!(post.predict(40, 180), 1375);
    }

    /// From zeros, the neuron lands on 75/31 401 · (50, 170, 1), worked out by hand
    /// (31 401 = 50² + 170² + 1), with ~zero error on the row.
    #[test]
    fn neuron_from_zero_fits_the_row_at_the_minimum_norm_solution() {
        let (end, steps) = train(STARTS[0], ROW, LEARNING_RATE, TOLERANCE);
        assert!(steps < MAX_STEPS, "did not converge");
        assert!((end.forward([50.0, 170.0]) - 75.0).abs() <= TOLERANCE);
        let c = 75.0 / 31_401.0;
        assert!((end.w[0] - 50.0 * c).abs() < 1e-9, "{end:?}");
        assert!((end.w[1] - 170.0 * c).abs() < 1e-9, "{end:?}");
        assert!((end.b - c).abs() < 1e-9, "{end:?}");
    }

    /// Every start fits the row and stops at the nearest exact solution, but the fitted
    /// neurons disagree about the newcomer.
    #[test]
    fn neuron_fits_the_row_from_any_start_but_the_newcomer_is_arbitrary() {
        let mut newcomer = Vec::new();
        for start in STARTS {
            let (end, steps) = train(start, ROW, LEARNING_RATE, TOLERANCE);
            assert!(steps < MAX_STEPS, "no convergence from {start:?}");
            assert!((end.forward([50.0, 170.0]) - 75.0).abs() <= TOLERANCE);
            let paper = nearest_exact(start, ROW);
            assert!((end.w[0] - paper.w[0]).abs() < 1e-9);
            assert!((end.w[1] - paper.w[1]).abs() < 1e-9);
            assert!((end.b - paper.b).abs() < 1e-9);
            newcomer.push(end.forward([40.0, 180.0]));
        }
        // Starting at the post's exact pick, nothing moves: it still says 1375.
        assert!((newcomer[1] - 1375.0).abs() < 1e-9);
        // From zeros: 75·(40·50 + 180·170 + 1)/31 401 = 75·32 601/31 401, by hand.
        assert!((newcomer[0] - 75.0 * 32_601.0 / 31_401.0).abs() < 1e-9);
        let spread = newcomer.iter().copied().fold(f64::MIN, f64::max)
            - newcomer.iter().copied().fold(f64::MAX, f64::min);
        assert!(spread > 1000.0, "{newcomer:?}");
    }

    /// Above `2 / |x|²` the same descent blows up: the learning rate is capped by the inputs'
    /// scale.
    #[test]
    fn neuron_diverges_above_the_step_size_limit() {
        let (end, steps) = train(STARTS[0], ROW, 7e-5, TOLERANCE);
        assert_eq!(steps, MAX_STEPS);
        let error = end.forward([50.0, 170.0]) - 75.0;
        assert!(error.is_nan() || error.abs() >= 1.0, "error {error}");
    }
}
