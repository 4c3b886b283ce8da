//! One harness for every int8 kernel version: the scalar twin, the host SIMD kernel (and
//! its `wide` path on its own, which a VNNI build would otherwise skip), the packed layer
//! (VNNI or AVX2), the Cortex-M4 and Cortex-M0+ kernels' portable twins (same passes as the
//! assembly; the M4's also over its wide packed layout), and whatever the dispatcher picks. Integer arithmetic has one right answer,
//! so every version must equal the twin and an independent reference exactly: the
//! requantisation rebuilt from its definition in i128 (one rounding, half up), the dot
//! product in i64.
//! Shapes: empty, 1x1, column counts around 4/8/16/32/64, the model's layers. Values:
//! the ends of every range, saturating multipliers, wrapping accumulators.

use nn_core::kernels::int8::DenseI8Args;
use nn_core::kernels::int8::packed::{Layout, PackedDenseI8};
use nn_core::kernels::{self, int8::m0, int8::m4, int8::scalar, int8::simd};
use nn_core::quant::{self, DenseI8Params, Requant, SoftmaxI8Params};
use proptest::prelude::*;

/// `dense_i8(w, x, bias, requant, p, y)`.
type Dense = fn(&[i8], &[i8], &[i32], &[Requant], DenseI8Params, &mut [i8]);

/// `dense_i8_packed(layer, x, y)`: the same layer, packed at load.
type DensePacked = fn(&PackedDenseI8<'_>, &[i8], &mut [i8]);

const PACKED_VARIANTS: [(&str, DensePacked); 2] = [
    ("simd-packed", simd::dense_i8_packed),
    ("dispatched-packed", kernels::dense_i8_packed),
];

/// A version called as the dispatcher calls it, its arguments checked into a [`DenseI8Args`].
macro_rules! checked {
    ($version:path) => {
        |w, x, bias, requant, p, y| $version(DenseI8Args::new(w, x, bias, requant, p, y))
    };
}

const VARIANTS: [(&str, Dense); 6] = [
    ("scalar", checked!(scalar::dense_i8)),
    ("simd", checked!(simd::dense_i8)),
    ("simd-wide", checked!(simd::wide_i16::dense_i8)),
    ("m4-twin", checked!(m4::dense_i8)),
    ("m0-twin", checked!(m0::dense_i8)),
    ("dispatched", kernels::dense_i8),
];

// ---------------------------------------------------------------- independent references

/// The softmax's gemmlowp primitives. `a · b / 2³¹` rounded half up (towards +∞ on a
/// tie), saturated: from the definition, in i128.
fn srdhm_reference(a: i32, b: i32) -> i32 {
    let doubled = 2 * i128::from(a) * i128::from(b);
    let rounded = (doubled + (1i128 << 31)).div_euclid(1i128 << 32);
    rounded.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
}

/// `x / 2^e` rounded to nearest, ties away from zero.
fn rdbp_reference(x: i32, e: u32) -> i32 {
    if e == 0 {
        return x;
    }
    let magnitude = (i128::from(x).abs() + (1i128 << (e - 1))) >> e;
    (i128::from(x).signum() * magnitude) as i32
}

/// TFLite's single rounding (`TFLITE_SINGLE_ROUNDING`, TensorFlow 2.21's reference
/// kernels): `acc · multiplier / 2^(31 − shift)` rounded half up, from the definition in
/// i128, low 32 bits kept.
fn apply_reference(r: Requant, acc: i32) -> i32 {
    let shift = r.shift.clamp(-31, 30);
    let denominator = 1i128 << (31 - shift);
    (2 * i128::from(acc) * i128::from(r.multiplier) + denominator).div_euclid(2 * denominator)
        as i32
}

/// The whole layer in i64: the dot product exact, then wrapped to i32 as TFLite's is.
fn dense_reference(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    requant: &[Requant],
    p: DenseI8Params,
) -> Vec<i8> {
    let cols = x.len();
    (0..bias.len())
        .map(|r| {
            let dot: i64 = (0..cols)
                .map(|c| {
                    i64::from(w[r * cols + c]) * (i64::from(x[c]) - i64::from(p.input_zero_point))
                })
                .sum();
            let acc = (dot + i64::from(bias[r])) as i32;
            let v = i64::from(p.output_zero_point) + i64::from(apply_reference(requant[r], acc));
            v.max(i64::from(p.min)).min(i64::from(p.max)) as i8
        })
        .collect()
}

fn check_dense(w: &[i8], x: &[i8], bias: &[i32], requant: &[Requant], p: DenseI8Params) {
    let want = dense_reference(w, x, bias, requant, p);
    for (name, dense) in VARIANTS {
        let mut y = vec![0x55u8 as i8; bias.len()];
        dense(w, x, bias, requant, p, &mut y);
        assert_eq!(y, want, "{name}: {} x {} with {p:?}", bias.len(), x.len());
    }
    let mut buf = vec![0x5555_5555; PackedDenseI8::buffer_len(bias.len(), x.len())];
    PackedDenseI8::pack(w, x.len(), bias, requant, p, &mut buf);
    let packed = PackedDenseI8::new(w, x.len(), bias, requant, p, &buf);
    for (name, dense) in PACKED_VARIANTS {
        let mut y = vec![0x55u8 as i8; bias.len()];
        dense(&packed, x, &mut y);
        assert_eq!(y, want, "{name}: {} x {} with {p:?}", bias.len(), x.len());
    }
    // The Cortex-M4's layout, widened as nn-build writes it to flash, through its kernel's
    // portable twin (its wide loop where the input is dense, its sparse loop otherwise).
    let layout = Layout::M4Wide;
    let mut buf = vec![0x5555_5555; layout.buffer_len(bias.len(), x.len())];
    PackedDenseI8::pack_as(layout, w, x.len(), bias, requant, p, &mut buf);
    let packed = PackedDenseI8::new_as(layout, w, x.len(), bias, requant, p, &buf);
    let mut y = vec![0x55u8 as i8; bias.len()];
    m4::dense_i8_packed(&packed, x, &mut y);
    assert_eq!(y, want, "m4-wide: {} x {} with {p:?}", bias.len(), x.len());
}

// ---------------------------------------------------------------- inputs

/// xorshift32, for the large fixed cases.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
    fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.next() as i8).collect()
    }
    /// Weights as TFLite makes them: symmetric, in [-127, 127].
    fn weights(&mut self, n: usize) -> Vec<i8> {
        (0..n)
            .map(|_| ((self.next() % 255) as i32 - 127) as i8)
            .collect()
    }
    fn in_range(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next() % (hi - lo + 1) as u32) as i32
    }
    /// A layer's requantisation: real multipliers between 2⁻¹⁶ and 1.
    fn requants(&mut self, n: usize) -> Vec<Requant> {
        (0..n)
            .map(|_| {
                let m = (f64::from(self.next()) / 4_294_967_296.0 + 0.01)
                    * 2f64.powi(-self.in_range(0, 16));
                Requant::from_real(m).expect("a multiplier in range")
            })
            .collect()
    }
}

fn layer(
    rng: &mut Rng,
    rows: usize,
    cols: usize,
) -> (Vec<i8>, Vec<i8>, Vec<i32>, Vec<Requant>, DenseI8Params) {
    let w = rng.weights(rows * cols);
    let x = rng.i8s(cols);
    let bias = (0..rows)
        .map(|_| rng.in_range(-(1 << 20), 1 << 20))
        .collect();
    let requant = rng.requants(rows);
    let p = DenseI8Params {
        input_zero_point: rng.in_range(-128, 127),
        output_zero_point: rng.in_range(-128, 127),
        min: -128,
        max: 127,
    };
    (w, x, bias, requant, p)
}

/// Column counts around every vector width (4, 8, 16, 32, 64), the model's layers, and
/// past the M4 kernel's widening buffer (`m4::MAX_COLS`).
const COLS: [usize; 25] = [
    0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 784, 1024,
    1040,
];

// ---------------------------------------------------------------- requantisation

#[test]
fn requant_matches_the_reference_at_the_corners() {
    let multipliers = [
        1 << 30,
        (1 << 30) + 1,
        i32::MAX,
        i32::MAX - 1,
        1_717_986_918,
        i32::MIN,
        0,
        -1,
    ];
    let accs = [
        0,
        1,
        -1,
        2,
        -2,
        3,
        -3,
        i32::MAX,
        i32::MIN,
        i32::MIN + 1,
        1 << 30,
        -(1 << 30),
        12345,
        -12345,
    ];
    for multiplier in multipliers {
        for shift in -31..=30 {
            for acc in accs {
                let r = Requant { multiplier, shift };
                assert_eq!(r.apply(acc), apply_reference(r, acc), "{r:?} on {acc}");
            }
        }
    }
    // The one saturating product.
    assert_eq!(
        quant::saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
        i32::MAX
    );
    assert_eq!(srdhm_reference(i32::MIN, i32::MIN), i32::MAX);
    // Single rounding does not saturate: 2⁶² / 2³¹ = 2³¹ keeps its low 32 bits.
    assert_eq!(
        Requant {
            multiplier: i32::MIN,
            shift: 0
        }
        .apply(i32::MIN),
        i32::MIN
    );
}

#[test]
fn requant_of_a_real_multiplier_is_within_a_half_of_the_product() {
    // Single rounding is off by at most 1/2 (plus the f64 product's own rounding) from
    // acc · multiplier · 2^(shift − 31), exact in f64 for these sizes.
    let mut rng = Rng(0x1234_5678);
    for _ in 0..20_000 {
        let r = rng.requants(1)[0];
        let acc = rng.in_range(-(1 << 24), 1 << 24);
        let exact = f64::from(acc) * f64::from(r.multiplier) * 2f64.powi(r.shift - 31);
        let got = f64::from(r.apply(acc));
        assert!(
            (got - exact).abs() <= 0.5 + 1e-6,
            "{r:?} on {acc}: {got} vs {exact}"
        );
    }
}

proptest! {
    #[test]
    fn srdhm_over_all_of_i32(
        a in prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX), -4i32..4],
        b in prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX), -4i32..4],
    ) {
        prop_assert_eq!(quant::saturating_rounding_doubling_high_mul(a, b), srdhm_reference(a, b));
    }

    #[test]
    fn rounding_divide_over_all_of_i32(x in prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX)], e in 0u32..=31) {
        prop_assert_eq!(quant::rounding_divide_by_pot(x, e), rdbp_reference(x, e));
    }

    #[test]
    fn apply_over_all_of_i32(
        acc in prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX), -1000i32..1000],
        multiplier in prop_oneof![(1i32 << 30)..=i32::MAX, any::<i32>(), Just(i32::MIN)],
        shift in -40i32..40,
    ) {
        let r = Requant { multiplier, shift };
        prop_assert_eq!(r.apply(acc), apply_reference(r, acc));
    }

    #[test]
    fn from_real_rounds_to_the_nearest_representable(mantissa in 0.5f64..1.0, exponent in -31i32..=30) {
        let real = mantissa * 2f64.powi(exponent);
        let r = Requant::from_real(real).expect("in range");
        prop_assert!(r.is_valid());
        // multiplier · 2^(shift − 31) is real rounded to 31 significant bits.
        let back = f64::from(r.multiplier) * 2f64.powi(r.shift - 31);
        prop_assert!((back - real).abs() <= real * 2f64.powi(-31), "{real} -> {r:?}");
    }
}

// ---------------------------------------------------------------- dense_i8

#[test]
fn dense_by_hand() {
    // W = [[1, 2, 3], [-4, 5, -6]], x = [1, 0, -1], zero points 0 in and 3 out, M = 1/2:
    // row 0: 1 − 3 + 10 = 8 → 4 → 7; row 1: −4 + 6 − 1 = 1 → 0.5 rounds up to 1 → 4.
    let half = Requant::from_real(0.5).unwrap();
    let p = DenseI8Params {
        input_zero_point: 0,
        output_zero_point: 3,
        min: -128,
        max: 127,
    };
    for (name, dense) in VARIANTS {
        let mut y = [0i8; 2];
        dense(
            &[1, 2, 3, -4, 5, -6],
            &[1, 0, -1],
            &[10, -1],
            &[half; 2],
            p,
            &mut y,
        );
        assert_eq!(y, [7, 4], "{name}");
        // No columns: the bias alone. 7 · 1/2 = 3.5 → 4, + 3.
        dense(&[], &[], &[7, -7], &[half; 2], p, &mut y);
        assert_eq!(y, [7, 0], "{name}");
        // No rows.
        dense(&[], &[1, 2], &[], &[], p, &mut []);
    }
}

#[test]
fn dense_at_every_shape() {
    let mut rng = Rng(0x2545_f491);
    for cols in COLS {
        for rows in [0, 1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13] {
            let (w, x, bias, requant, p) = layer(&mut rng, rows, cols);
            check_dense(&w, &x, &bias, &requant, p);
        }
    }
    // Past the packed kernels' `MAX_COLS` they run the plain layer.
    for (cols, rows) in [
        (784, 1024),
        (784, 128),
        (1024, 10),
        (128, 10),
        (1, 1),
        (4100, 3),
    ] {
        let (w, x, bias, requant, p) = layer(&mut rng, rows, cols);
        check_dense(&w, &x, &bias, &requant, p);
    }
}

/// Inputs like a digit's pixels: runs of −128 (black; the packed kernel skips every quad of
/// 4 of them), starting and ending anywhere, the tail quad included.
#[test]
fn dense_with_runs_of_black() {
    let mut rng = Rng(0x1357_9bdf);
    for cols in COLS {
        for rows in [1, 5, 16, 17, 40, 70] {
            let (w, mut x, bias, requant, mut p) = layer(&mut rng, rows, cols);
            for (c, xc) in x.iter_mut().enumerate() {
                if (c / 3 + c / 7) % 3 != 0 {
                    *xc = -128;
                }
            }
            check_dense(&w, &x, &bias, &requant, p);
            p.input_zero_point = -128;
            check_dense(&w, &x, &bias, &requant, p);
        }
    }
}

/// Groups of 4 inputs all at the zero point add nothing, and the M4 kernel drops them:
/// every density from none left to all left (its sparse loop, the switch to its dense
/// loop past 6 in 7, the groups left 0, 1, 2, 3 more than a multiple of 4), and the
/// groups' inputs at the ends of the lane range.
#[test]
fn dense_with_groups_at_the_zero_point() {
    let mut rng = Rng(0x0bad_5eed);
    let masks: [fn(usize) -> bool; 8] = [
        |_| false,
        |g| g == 0,
        |g| g % 8 == 3,
        |g| g % 3 == 0,
        |g| g % 2 == 1,
        |g| g % 3 != 0,
        |g| g % 8 != 7,
        |_| true,
    ];
    for cols in COLS {
        for rows in [1, 4, 8, 13] {
            for (m, kept) in masks.iter().enumerate() {
                let (w, mut x, bias, requant, mut p) = layer(&mut rng, rows, cols);
                let zp = [-128, 127, 0, 5][m % 4];
                p.input_zero_point = zp;
                for (c, xc) in x.iter_mut().enumerate() {
                    if !kept(c / 4) {
                        *xc = zp as i8;
                    } else if c % 5 == 0 {
                        // The farthest from the zero point an i8 gets.
                        *xc = if zp >= 0 { -128 } else { 127 };
                    }
                }
                check_dense(&w, &x, &bias, &requant, p);
            }
        }
    }
}

#[test]
fn dense_at_the_ends_of_every_range() {
    let mut rng = Rng(0x9e37_79b9);
    let full = |izp, ozp| DenseI8Params {
        input_zero_point: izp,
        output_zero_point: ozp,
        min: -128,
        max: 127,
    };
    for cols in [1, 17, 64, 100, 784] {
        let rows = 6;
        for (xv, wv) in [
            (-128i8, -127i8),
            (-128, 127),
            (127, 127),
            (127, -127),
            (-128, -128),
        ] {
            let x = vec![xv; cols];
            let w = vec![wv; rows * cols];
            for izp in [-128, 127, 0] {
                for ozp in [-128, 127] {
                    // Huge multipliers saturate, tiny ones flush to 0.
                    for real in [2f64.powi(29), 1.0, 2f64.powi(-31), 2f64.powi(-32)] {
                        let requant = vec![Requant::from_real(real).unwrap(); rows];
                        let bias = vec![0, 1, -1, i32::MAX, i32::MIN, rng.next() as i32];
                        check_dense(&w, &x, &bias, &requant, full(izp, ozp));
                    }
                }
            }
        }
    }
}

#[test]
fn dense_clamps_and_odd_parameters() {
    let mut rng = Rng(0x0bad_cafe);
    for cols in [3, 33, 70] {
        let (w, x, bias, requant, mut p) = layer(&mut rng, 7, cols);
        // A ReLU's clamp, a narrow one, an inverted one (TFLite's order gives `max`).
        for (min, max) in [(-5, 127), (-3, 3), (10, -10), (0, 0)] {
            p.min = min;
            p.max = max;
            check_dense(&w, &x, &bias, &requant, p);
        }
        // Zero points no TFLite model has: i16 lanes cannot hold x − zp, the twin runs.
        for izp in [32639, 32640, -32640, -32641, 1 << 20, i32::MIN, i32::MAX] {
            p.input_zero_point = izp;
            p.output_zero_point = izp.wrapping_neg();
            check_dense(&w, &x, &bias, &requant, p);
        }
        // Multipliers and shifts that are not valid still give the same bits everywhere.
        let odd: Vec<Requant> = (0..7)
            .map(|_| Requant {
                multiplier: rng.next() as i32,
                shift: rng.in_range(-50, 50),
            })
            .collect();
        check_dense(&w, &x, &bias, &odd, p);
    }
}

#[test]
#[should_panic(expected = "dense_i8: w is not (rows, cols)")]
fn dense_rejects_a_wrong_shape() {
    let p = DenseI8Params {
        input_zero_point: 0,
        output_zero_point: 0,
        min: -128,
        max: 127,
    };
    kernels::dense_i8(
        &[0; 5],
        &[0; 3],
        &[0; 2],
        &[Requant::default(); 2],
        p,
        &mut [0; 2],
    );
}

#[test]
#[should_panic(expected = "dense_i8: requant is not (rows)")]
fn dense_rejects_a_short_requant() {
    let p = DenseI8Params {
        input_zero_point: 0,
        output_zero_point: 0,
        min: -128,
        max: 127,
    };
    m4::dense_i8(DenseI8Args::new(
        &[0; 6],
        &[0; 3],
        &[0; 2],
        &[Requant::default(); 1],
        p,
        &mut [0; 2],
    ));
}

proptest! {
    #[test]
    fn random_dense(rows in 0usize..12, cols in 0usize..150, seed in any::<u32>(), izp in -128i32..=127, ozp in -128i32..=127) {
        let mut rng = Rng(seed | 1);
        let (w, x, bias, requant, mut p) = layer(&mut rng, rows, cols);
        p.input_zero_point = izp;
        p.output_zero_point = ozp;
        check_dense(&w, &x, &bias, &requant, p);
    }
}

// ---------------------------------------------------------------- softmax_i8

/// `round(256 p) − 128` clamped, with `p` the softmax of `scale · x` in f64.
fn softmax_float(x: &[i8], scale: f32) -> Vec<i32> {
    let max = x.iter().copied().max().unwrap_or(0);
    let e: Vec<f64> = x
        .iter()
        .map(|&v| (f64::from(scale) * (f64::from(v) - f64::from(max))).exp())
        .collect();
    let sum: f64 = e.iter().sum();
    e.iter()
        .map(|v| ((v / sum * 256.0).round() as i32 - 128).clamp(-128, 127))
        .collect()
}

#[test]
fn softmax_by_hand() {
    let p = SoftmaxI8Params::from_input_scale(1.0).unwrap();
    // Scale 1: multiplier 2²⁶ is 0.5 · 2²⁷, so diff_min = −floor(31 · 2²⁶ / 2²⁷) = −15.
    assert_eq!(p.diff_min, -15);
    let run = |x: &[i8]| {
        let mut y = vec![0i8; x.len()];
        kernels::softmax_i8(x, p, &mut y);
        y
    };
    // One element is certain: 256/256 − 128 = 128, clamped to 127.
    assert_eq!(run(&[5]), [127]);
    // Two equal: 128/256 each → 0. Four equal: 64 → −64.
    assert_eq!(run(&[3, 3]), [0, 0]);
    assert_eq!(run(&[-9, -9, -9, -9]), [-64; 4]);
    // A difference below diff_min counts for nothing and gives −128.
    assert_eq!(run(&[0, -16, 0]), [0, -128, 0]);
    assert_eq!(run(&[]), [0i8; 0]);
}

#[test]
fn softmax_is_within_one_step_of_the_float_softmax() {
    let mut rng = Rng(0x5eed_1234);
    for scale in [1.0 / 256.0, 1.0 / 16.0, 0.1, 0.25, 1.0, 4.0, 100.0] {
        let p = SoftmaxI8Params::from_input_scale(scale).unwrap();
        for len in [1, 2, 3, 10, 17, 100, 256] {
            for spread in [1u32, 8, 256] {
                let x: Vec<i8> = (0..len)
                    .map(|_| (rng.next() % spread) as u8 as i8)
                    .collect();
                let mut y = vec![0i8; len];
                kernels::softmax_i8(&x, p, &mut y);
                let want = softmax_float(&x, scale);
                for (i, (&got, &w)) in y.iter().zip(&want).enumerate() {
                    assert!(
                        (i32::from(got) - w).abs() <= 1,
                        "scale {scale}, {len} elements, output {i}: {got} vs {w}, x = {x:?}"
                    );
                }
            }
        }
    }
}

#[test]
#[should_panic(expected = "softmax_i8: more than 256 elements")]
fn softmax_rejects_more_than_256_elements() {
    let p = SoftmaxI8Params::from_input_scale(0.1).unwrap();
    kernels::softmax_i8(&[0; 257], p, &mut [0; 257]);
}

proptest! {
    #[test]
    fn softmax_params_keep_every_counted_difference_in_range(scale in 1e-7f32..1e3) {
        // The scaled difference of diff_min must not pass −32 in Q5.26 (TFLite's reason
        // for the radius), and one step further must (or be out of int8's reach).
        let p = SoftmaxI8Params::from_input_scale(scale).unwrap();
        prop_assert!(p.is_valid(), "{p:?}");
        let off_by_one = SoftmaxI8Params { diff_min: p.diff_min - 1, ..p };
        prop_assert!(!off_by_one.is_valid());
        prop_assert!(p.input_left_shift >= 1 && p.diff_min <= 0);
        let scaled = |d: i32| quant::saturating_rounding_doubling_high_mul(d << p.input_left_shift, p.input_multiplier);
        // diff_min · 2^left_shift is the last multiple of 2^left_shift at or above
        // −31 · 2²⁶, so that the shifted difference never wraps, nor its product.
        let radius = -(31i64 << 26);
        prop_assert!(i64::from(p.diff_min) << p.input_left_shift >= radius);
        prop_assert!(i64::from(p.diff_min - 1) << p.input_left_shift < radius);
        if p.diff_min >= -255 {
            prop_assert!(i64::from(scaled(p.diff_min)) >= radius);
        }
    }

    #[test]
    fn random_softmax(x in prop::collection::vec(any::<i8>(), 1..=256), scale in 0.01f32..2.0) {
        let p = SoftmaxI8Params::from_input_scale(scale).unwrap();
        let mut y = vec![0i8; x.len()];
        kernels::softmax_i8(&x, p, &mut y);
        let want = softmax_float(&x, scale);
        for (&got, &w) in y.iter().zip(&want) {
            prop_assert!((i32::from(got) - w).abs() <= 1, "{got} vs {w}");
        }
    }

    #[test]
    fn softmax_with_any_parameters_does_not_panic(
        x in prop::collection::vec(any::<i8>(), 0..=256),
        input_multiplier in any::<i32>(),
        input_left_shift in any::<i32>(),
        diff_min in any::<i32>(),
    ) {
        // What a corrupt model file could hold: the output is unspecified, but it comes.
        let p = SoftmaxI8Params { input_multiplier, input_left_shift, diff_min };
        let mut y = vec![0i8; x.len()];
        kernels::softmax_i8(&x, p, &mut y);
    }
}
