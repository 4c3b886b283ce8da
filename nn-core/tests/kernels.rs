//! One harness for every kernel version: the scalar twins, the SIMD kernels, and whatever
//! the dispatcher in `nn_core::kernels` picks (the twins under `--features scalar-kernels`).
//! Each version is checked against an f64 reference and against the scalar twin, on
//! hand-computed examples, edge cases (lengths around a vector's width, ±1e4, ties,
//! NaN) and random inputs from proptest. The error bounds are the contracts written in
//! `nn-core/src/kernels/`; the measured ones are asserted too, so the docs stay true.

use nn_core::kernels::{self, scalar, simd};
use proptest::prelude::*;

mod common;
use common::Rng;

/// `gemv_bias(w, x, b, y)`.
type Gemv = fn(&[f32], &[f32], &[f32], &mut [f32]);

/// One version of every kernel.
struct Variant {
    name: &'static str,
    gemv_bias: Gemv,
    sigmoid: fn(&mut [f32]),
    relu: fn(&mut [f32]),
    softmax: fn(&mut [f32]),
    argmax: fn(&[f32]) -> usize,
    /// The sigmoid's measured bound written above this version.
    sigmoid_measured: f64,
}

const SCALAR: Variant = Variant {
    name: "scalar",
    gemv_bias: scalar::gemv_bias,
    sigmoid: scalar::sigmoid,
    relu: scalar::relu,
    softmax: scalar::softmax,
    argmax: scalar::argmax,
    sigmoid_measured: 8.92e-8,
};

const SIMD: Variant = Variant {
    name: "simd",
    gemv_bias: simd::gemv_bias,
    sigmoid: simd::sigmoid,
    relu: simd::relu,
    softmax: simd::softmax,
    argmax: simd::argmax,
    sigmoid_measured: 8.92e-8,
};

const DISPATCHED: Variant = Variant {
    name: "dispatched",
    gemv_bias: kernels::gemv_bias,
    sigmoid: kernels::sigmoid,
    relu: kernels::relu,
    softmax: kernels::softmax,
    argmax: kernels::argmax,
    sigmoid_measured: if cfg!(feature = "scalar-kernels") {
        SCALAR.sigmoid_measured
    } else {
        SIMD.sigmoid_measured
    },
};

const VARIANTS: [Variant; 3] = [SCALAR, SIMD, DISPATCHED];

/// f32's unit roundoff, 2⁻²⁴.
const U: f64 = 1.0 / 16_777_216.0;
/// The sigmoid's contract: absolute error against the exact value.
const SIGMOID_BOUND: f64 = 2e-7;
/// The softmax's contract: relative error of each output, plus `|x_i − max x| · 2⁻²⁴`
/// relative from rounding that f32 difference, plus what flushing terms below e^-87
/// (≈ 1.6e-38) of the largest may cost.
const SOFTMAX_RELATIVE: f64 = 5e-7;
const SOFTMAX_FLUSH: f64 = 2e-38;
/// Lengths around a vector's width (4, 8 or 16 lanes) and the model's layer sizes.
const LENGTHS: [usize; 9] = [0, 1, 3, 15, 16, 17, 33, 784, 1024];

// ---------------------------------------------------------------- f64 references

/// `(y, scale)`: `y = W x + b` and `scale_i = Σ_j |w_ij x_j| + |b_i|`, in f64.
fn gemv_reference(w: &[f32], x: &[f32], b: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let cols = x.len();
    (0..b.len())
        .map(|i| {
            let row = &w[i * cols..(i + 1) * cols];
            let products = row
                .iter()
                .zip(x)
                .map(|(&w, &x)| f64::from(w) * f64::from(x));
            let y = products.clone().sum::<f64>() + f64::from(b[i]);
            let scale = products.map(f64::abs).sum::<f64>() + f64::from(b[i]).abs();
            (y, scale)
        })
        .unzip()
}

fn sigmoid_reference(x: f32) -> f64 {
    1.0 / (1.0 + (-f64::from(x)).exp())
}

fn softmax_reference(x: &[f32]) -> Vec<f64> {
    let max = x
        .iter()
        .map(|&v| f64::from(v))
        .fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|&v| (f64::from(v) - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// The first index of the largest non-NaN element; 0 when there is none.
fn argmax_reference(x: &[f32]) -> usize {
    let Some(max) = x.iter().copied().filter(|v| !v.is_nan()).reduce(f32::max) else {
        return 0;
    };
    x.iter().position(|&v| v == max).unwrap()
}

// ---------------------------------------------------------------- checks, one per kernel

fn check_gemv(v: &Variant, w: &[f32], x: &[f32], b: &[f32]) {
    let cols = x.len();
    let (exact, scale) = gemv_reference(w, x, b);
    let mut y = vec![f32::NAN; b.len()];
    (v.gemv_bias)(w, x, b, &mut y);
    let mut twin = vec![f32::NAN; b.len()];
    scalar::gemv_bias(w, x, b, &mut twin);
    let bound = (cols as f64 + 1.0) * U;
    for i in 0..b.len() {
        let err = (f64::from(y[i]) - exact[i]).abs();
        assert!(
            err <= bound * scale[i],
            "{}: gemv ({} x {cols}) row {i}: {} vs {}, error {err:e} > {:e}",
            v.name,
            b.len(),
            y[i],
            exact[i],
            bound * scale[i]
        );
        let apart = (f64::from(y[i]) - f64::from(twin[i])).abs();
        assert!(
            apart <= 2.0 * bound * scale[i],
            "{}: gemv row {i} is {apart:e} from the twin",
            v.name
        );
    }
}

/// Runs the sigmoid on `x` and returns its largest absolute error.
fn check_sigmoid(v: &Variant, x: &[f32]) -> f64 {
    let mut y = x.to_vec();
    (v.sigmoid)(&mut y);
    let mut twin = x.to_vec();
    scalar::sigmoid(&mut twin);
    let mut worst = 0.0f64;
    for ((&xi, &yi), &ti) in x.iter().zip(&y).zip(&twin) {
        if xi.is_nan() {
            assert!(yi.is_nan(), "{}: sigmoid(NaN) = {yi}", v.name);
            continue;
        }
        assert!(
            (0.0..=1.0).contains(&yi),
            "{}: sigmoid({xi}) = {yi}",
            v.name
        );
        let err = (f64::from(yi) - sigmoid_reference(xi)).abs();
        assert!(
            err <= SIGMOID_BOUND,
            "{}: sigmoid({xi}) = {yi}, error {err:e}",
            v.name
        );
        assert!(
            f64::from((yi - ti).abs()) <= 2.0 * SIGMOID_BOUND,
            "{}: sigmoid({xi}) far from the twin",
            v.name
        );
        worst = worst.max(err);
    }
    worst
}

fn check_relu(v: &Variant, x: &[f32]) {
    let mut y = x.to_vec();
    (v.relu)(&mut y);
    for (&xi, &yi) in x.iter().zip(&y) {
        // Exact: the bits must be those of the input or of +0.0.
        let expected = if xi < 0.0 { 0.0 } else { xi };
        assert_eq!(
            yi.to_bits(),
            expected.to_bits(),
            "{}: relu({xi}) = {yi}",
            v.name
        );
    }
}

/// For finite inputs: every output within the contract of the f64 reference, and the
/// outputs sum to 1 within 1e-6.
fn check_softmax(v: &Variant, x: &[f32]) {
    let mut y = x.to_vec();
    (v.softmax)(&mut y);
    let exact = softmax_reference(x);
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for (i, ((&yi, &pi), &xi)) in y.iter().zip(&exact).zip(x).enumerate() {
        assert!(
            yi.is_finite(),
            "{}: softmax output {i} of {} is {yi}",
            v.name,
            x.len()
        );
        let err = (f64::from(yi) - pi).abs();
        let relative = SOFTMAX_RELATIVE + f64::from(max - xi) * U;
        assert!(
            err <= relative * pi + SOFTMAX_FLUSH,
            "{}: softmax output {i} of {}: {yi} vs {pi}, error {err:e}",
            v.name,
            x.len()
        );
    }
    if !x.is_empty() {
        let sum: f64 = y.iter().map(|&p| f64::from(p)).sum();
        assert!(
            (sum - 1.0).abs() <= 1e-6,
            "{}: softmax of {} sums to {sum}",
            v.name,
            x.len()
        );
    }
}

fn check_argmax(v: &Variant, x: &[f32]) {
    assert_eq!(
        (v.argmax)(x),
        argmax_reference(x),
        "{}: argmax of {x:?}",
        v.name
    );
}

// ---------------------------------------------------------------- hand-computed examples

#[test]
fn gemv_by_hand() {
    // W = [[1, 2, 3], [4, 5, 6]], x = [1, 0, -1], b = [0.5, -1]:
    // y = [1 - 3 + 0.5, 4 - 6 - 1] = [-1.5, -3], exact in f32.
    let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    for v in &VARIANTS {
        let mut y = [f32::NAN; 2];
        (v.gemv_bias)(&w, &[1.0, 0.0, -1.0], &[0.5, -1.0], &mut y);
        assert_eq!(y, [-1.5, -3.0], "{}", v.name);
        // No columns: y = b.
        (v.gemv_bias)(&[], &[], &[0.25, 7.0], &mut y);
        assert_eq!(y, [0.25, 7.0], "{}", v.name);
    }
}

#[test]
fn sigmoid_by_hand() {
    // σ(0) = 1/2, σ(ln 3) = 1/(1 + 1/3) = 3/4, σ(-ln 3) = 1/4.
    let ln3 = 3.0f32.ln();
    for v in &VARIANTS {
        let mut x = [0.0, ln3, -ln3, 1e4, -1e4, f32::INFINITY, f32::NEG_INFINITY];
        (v.sigmoid)(&mut x);
        let expected = [0.5, 0.75, 0.25, 1.0, 0.0, 1.0, 0.0];
        for (got, want) in x.iter().zip(expected) {
            assert!((got - want).abs() <= 1e-7, "{}: {x:?}", v.name);
        }
    }
}

#[test]
fn relu_by_hand() {
    for v in &VARIANTS {
        let mut x = [-1.0, 0.0, 2.5, -0.0, -1e4, f32::NAN];
        (v.relu)(&mut x);
        assert_eq!(x[..5], [0.0, 0.0, 2.5, -0.0, 0.0], "{}", v.name);
        assert!(x[5].is_nan(), "{}: relu(NaN) = {}", v.name, x[5]);
    }
}

#[test]
fn softmax_by_hand() {
    // e^0 : e^ln3 = 1 : 3, so [1/4, 3/4]; equal logits split evenly at any size.
    for v in &VARIANTS {
        let mut x = [0.0, 3.0f32.ln()];
        (v.softmax)(&mut x);
        assert!(
            (x[0] - 0.25).abs() <= 1e-7 && (x[1] - 0.75).abs() <= 1e-7,
            "{}: {x:?}",
            v.name
        );
        let mut x = [1e4, 1e4];
        (v.softmax)(&mut x);
        assert_eq!(x, [0.5, 0.5], "{}", v.name);
        let mut x = [1e4, -1e4, 0.0];
        (v.softmax)(&mut x);
        assert_eq!(x, [1.0, 0.0, 0.0], "{}", v.name);
        let mut x: [f32; 0] = [];
        (v.softmax)(&mut x);
    }
}

#[test]
fn argmax_by_hand() {
    for v in &VARIANTS {
        assert_eq!(
            (v.argmax)(&[0.1, 0.7, 0.7, 0.2]),
            1,
            "{}: first of a tie",
            v.name
        );
        assert_eq!((v.argmax)(&[]), 0, "{}: empty", v.name);
        assert_eq!(
            (v.argmax)(&[f32::NAN, 1.0, 2.0]),
            2,
            "{}: NaN first",
            v.name
        );
        assert_eq!(
            (v.argmax)(&[f32::NAN, f32::NEG_INFINITY]),
            1,
            "{}: -inf beats NaN",
            v.name
        );
        assert_eq!((v.argmax)(&[f32::NAN; 20]), 0, "{}: all NaN", v.name);
        assert_eq!((v.argmax)(&[-0.0, 0.0]), 0, "{}: -0 and 0 tie", v.name);
    }
}

// ---------------------------------------------------------------- edge cases

#[test]
fn gemv_model_shapes() {
    let mut rng = Rng(0x2545_f491);
    // (cols, rows): the layers of a 784-1024-10 and a 784-128-10 model, and small odd ones.
    for (cols, rows) in [
        (784, 1024),
        (784, 128),
        (1024, 10),
        (128, 10),
        (3, 5),
        (5, 3),
        (17, 7),
        (1, 1),
        (0, 4),
        (9, 0),
    ] {
        let w = rng.vec(rows * cols, 1.0);
        let x = rng.vec(cols, 255.0);
        let b = rng.vec(rows, 1.0);
        for v in &VARIANTS {
            check_gemv(v, &w, &x, &b);
        }
    }
}

#[test]
fn gemv_cancellation_is_bounded_by_the_absolute_sum() {
    // Rows whose terms cancel to almost nothing: the bound is relative to Σ|w x|, not |y|.
    let cols = 784;
    let x: Vec<f32> = (0..cols)
        .map(|j| if j % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let w: Vec<f32> = (0..3 * cols).map(|k| 1.0 + (k / 2) as f32 * 1e-3).collect();
    let b = [0.0, 1e-3, -5.0];
    for v in &VARIANTS {
        check_gemv(v, &w, &x, &b);
    }
}

#[test]
#[should_panic(expected = "gemv_bias: w is not (rows, cols)")]
fn gemv_rejects_a_wrong_shape() {
    let mut y = [0.0; 2];
    simd::gemv_bias(&[0.0; 5], &[0.0; 3], &[0.0; 2], &mut y);
}

/// The reported names come from the tables that choose: on the host the vectors, or the
/// twins when the `scalar-kernels` feature asks for them.
#[test]
fn reported_names_are_the_tables_choice() {
    let expected = if cfg!(feature = "scalar-kernels") {
        "scalar"
    } else {
        "simd"
    };
    for (kernel, name) in [
        ("gemv_bias", kernels::CHOSEN),
        ("dense_i8", kernels::CHOSEN_I8),
        ("sigmoid", kernels::SIGMOID.name),
        ("softmax", kernels::SOFTMAX.name),
    ] {
        assert_eq!(name, expected, "{kernel}");
    }
}

/// The sigmoid over every 2⁻¹² step of [-100, 100] and every 2⁻¹⁶ step of [-16, 16],
/// where it changes fastest: the largest error is the measured bound in the docs.
#[test]
fn sigmoid_dense_sweep() {
    let coarse = (-(100 << 12)..=(100 << 12)).map(|k| k as f32 / 4096.0);
    let fine = (-(16 << 16)..=(16 << 16)).map(|k| k as f32 / 65536.0);
    let x: Vec<f32> = coarse
        .chain(fine)
        .chain([1e4, -1e4, 88.0, -88.0, 104.0, -104.0])
        .collect();
    eprintln!("the dispatcher runs the {} kernels", kernels::CHOSEN);
    for v in &VARIANTS {
        let worst = check_sigmoid(v, &x);
        eprintln!(
            "{}: sigmoid max abs error {worst:.2e} over {} points",
            v.name,
            x.len()
        );
        assert!(
            worst <= v.sigmoid_measured,
            "{}: {worst:e} exceeds the documented {:e}",
            v.name,
            v.sigmoid_measured
        );
    }
}

#[test]
fn activations_at_every_length() {
    let mut rng = Rng(0x9e37_79b9);
    for len in LENGTHS {
        for scale in [1.0, 20.0, 1e4] {
            let x = rng.vec(len, scale);
            for v in &VARIANTS {
                check_sigmoid(v, &x);
                check_relu(v, &x);
                check_softmax(v, &x);
                check_argmax(v, &x);
            }
        }
    }
}

#[test]
fn softmax_of_extreme_logits() {
    for len in LENGTHS.into_iter().filter(|&n| n > 0) {
        // ±1e4 alternating, all 1e4, all -1e4, and one winner among -1e4s at the end.
        let alternating: Vec<f32> = (0..len)
            .map(|i| if i % 3 == 0 { 1e4 } else { -1e4 })
            .collect();
        let mut winner = vec![-1e4; len];
        winner[len - 1] = 1e4;
        for x in [alternating, vec![1e4; len], vec![-1e4; len], winner] {
            for v in &VARIANTS {
                check_softmax(v, &x);
            }
        }
    }
}

#[test]
fn nan_propagates_through_the_activations() {
    for len in LENGTHS.into_iter().filter(|&n| n > 0) {
        let mut x = vec![0.5; len];
        x[len / 2] = f32::NAN;
        for v in &VARIANTS {
            check_sigmoid(v, &x);
            check_relu(v, &x);
            let mut y = x.clone();
            (v.softmax)(&mut y);
            assert!(
                y.iter().all(|p| p.is_nan()),
                "{}: softmax with a NaN of {len}",
                v.name
            );
            check_argmax(v, &x);
        }
    }
}

#[test]
fn argmax_ties_and_positions() {
    for len in LENGTHS.into_iter().filter(|&n| n > 0) {
        for first in [0, len / 3, len - 1] {
            for second in [first, len - 1] {
                let mut x = vec![-1.0; len];
                x[second] = 2.0;
                x[first] = 2.0;
                for v in &VARIANTS {
                    assert_eq!(
                        (v.argmax)(&x),
                        first.min(second),
                        "{}: tie at {first}, {second} of {len}",
                        v.name
                    );
                }
            }
        }
        let all_equal = vec![3.0; len];
        for v in &VARIANTS {
            assert_eq!((v.argmax)(&all_equal), 0, "{}: all equal, {len}", v.name);
        }
    }
}

#[test]
fn argmax_skips_a_nan_in_the_same_lane_as_the_maximum() {
    // A NaN in the tail, in the lane where an earlier vector holds the maximum: a
    // lane-wise maximum that started from the tail would stay NaN there and lose it.
    let lanes = simd::LANES;
    for max_at in [0, 1, lanes - 1] {
        let mut x = vec![0.0; 2 * lanes + max_at + 1];
        x[max_at] = 5.0;
        x[2 * lanes + max_at] = f32::NAN;
        for v in &VARIANTS {
            assert_eq!(
                (v.argmax)(&x),
                max_at,
                "{}: NaN in lane {max_at} of the tail",
                v.name
            );
        }
    }
}

// ---------------------------------------------------------------- random inputs

proptest! {
    #[test]
    fn random_gemv(rows in 0usize..40, cols in 0usize..100, seed in any::<u32>()) {
        let mut rng = Rng(seed | 1);
        let (w, x, b) = (rng.vec(rows * cols, 1.0), rng.vec(cols, 4.0), rng.vec(rows, 1.0));
        for v in &VARIANTS {
            check_gemv(v, &w, &x, &b);
        }
    }

    #[test]
    fn random_activations(x in prop::collection::vec(-50.0f32..50.0, 0..1100)) {
        for v in &VARIANTS {
            check_sigmoid(v, &x);
            check_relu(v, &x);
            check_softmax(v, &x);
            check_argmax(v, &x);
        }
    }

    #[test]
    fn random_extreme_softmax(x in prop::collection::vec(prop_oneof![-1e4f32..1e4, Just(1e4), Just(-1e4)], 1..100)) {
        for v in &VARIANTS {
            check_softmax(v, &x);
            check_argmax(v, &x);
        }
    }

    #[test]
    fn random_argmax_with_nans(x in prop::collection::vec(prop_oneof![3 => -10.0f32..10.0, 1 => Just(f32::NAN)], 0..70)) {
        for v in &VARIANTS {
            check_argmax(v, &x);
        }
    }

    #[test]
    fn random_ties(x in prop::collection::vec(0u8..4, 0..70)) {
        // Few distinct values, so ties are the rule.
        let x: Vec<f32> = x.into_iter().map(f32::from).collect();
        for v in &VARIANTS {
            check_argmax(v, &x);
        }
    }
}
