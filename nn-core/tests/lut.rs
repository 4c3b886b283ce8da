//! The int8 LOGISTIC and TANH tables against what TFLite itself gives: every one of the
//! 256 inputs at 33 input quantisations per op (tiny and huge scales, zero points at both
//! edges), captured from TFLite's `BUILTIN_REF` interpreter and from TFLite Micro's by
//! `tests/fixtures/lut/make.py`. Then properties that need no fixture: monotone, odd
//! about the zero point (tanh), the value at the zero point, saturation.

use nn_core::TensorQuant;
use nn_core::lut::{self, MicroInput};
use proptest::prelude::*;

type Table = fn(TensorQuant) -> [i8; 256];

/// One fixture line: the op, the input quantisation, the 256 outputs for inputs -128..=127.
struct Case {
    op: String,
    input: TensorQuant,
    outputs: [i8; 256],
}

fn parse(text: &str) -> Vec<Case> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let mut words = line.split_whitespace();
            let op = words.next().expect("op").to_string();
            let bits = words.next().expect("scale").trim_start_matches("0x");
            let scale = f32::from_bits(u32::from_str_radix(bits, 16).expect("scale bits"));
            let zero_point = words
                .next()
                .expect("zero point")
                .parse()
                .expect("zero point");
            let values: Vec<i8> = words.map(|w| w.parse().expect("output")).collect();
            Case {
                op,
                input: TensorQuant { scale, zero_point },
                outputs: values.try_into().expect("256 outputs"),
            }
        })
        .collect()
}

const TFLITE: &str = include_str!("fixtures/lut/tflite_ref.txt");
const TFLM: &str = include_str!("fixtures/lut/tflm_ref.txt");

/// Checks every case of `fixture` against `logistic` / `tanh`, naming the first entry off.
fn check(fixture: &str, source: &str, logistic: Table, tanh: Table) {
    let cases = parse(fixture);
    assert_eq!(
        cases.len(),
        66,
        "{source}: 33 quantisations for each of the two ops"
    );
    for case in &cases {
        let table = match case.op.as_str() {
            "logistic" => logistic,
            "tanh" => tanh,
            other => panic!("{source}: unknown op {other}"),
        };
        let ours = table(case.input);
        if let Some(i) = (0..256).find(|&i| ours[i] != case.outputs[i]) {
            panic!(
                "{source} {} at scale {:e}, zero point {}: input {} gives {}, TFLite {}",
                case.op,
                case.input.scale,
                case.input.zero_point,
                i as i32 - 128,
                ours[i],
                case.outputs[i]
            );
        }
    }
}

#[test]
fn fixture_covers_odd_quantisations() {
    let cases = parse(TFLITE);
    let scales = cases.iter().map(|c| c.input.scale);
    let zps: Vec<i32> = cases.iter().map(|c| c.input.zero_point).collect();
    assert!(scales.clone().any(|s| s < 1e-7), "a tiny scale");
    assert!(scales.clone().any(|s| s > 100.0), "a huge scale");
    assert!(
        zps.contains(&-128) && zps.contains(&127),
        "zero points at both edges"
    );
    // Quantisations where TFLite and TFLite Micro part ways are in both fixtures, so that
    // each builder is told apart from the other: one where TFLite Micro's radius is 0,
    // and others where the fixed point rounds differently from f32.
    let micro = parse(TFLM);
    let radii: Vec<i32> = cases
        .iter()
        .zip(&micro)
        .filter(|(a, b)| a.outputs != b.outputs)
        .map(|(a, _)| MicroInput::from_scale(a.input.scale).radius)
        .collect();
    assert!(radii.contains(&0), "{radii:?}");
    assert!(radii.iter().filter(|&&r| r > 0).count() >= 4, "{radii:?}");
}

#[test]
fn tables_equal_tflite_builtin_ref() {
    check(TFLITE, "BUILTIN_REF", lut::logistic_table, lut::tanh_table);
}

#[test]
fn micro_tables_equal_tflite_micro() {
    check(
        TFLM,
        "TFLite Micro",
        lut::logistic_table_micro,
        lut::tanh_table_micro,
    );
}

#[test]
fn micro_prepare_by_hand() {
    // scale 1/16: real = 2^23 = 0.5 · 2^24, so multiplier 2^30, shift 24, and the radius
    // floor(15 · 2^27 / 2^24) = 120 steps of 1/16, i.e. x = 7.5.
    let p = MicroInput::from_scale(1.0 / 16.0);
    assert_eq!((p.multiplier, p.shift, p.radius), (1 << 30, 24, 120));
    // scale 2 (x = 2 per step): shift 29, radius floor(15 · 2^27 / 2^29) = 3.
    let p = MicroInput::from_scale(2.0);
    assert_eq!((p.multiplier, p.shift, p.radius), (1 << 30, 29, 3));
    // A scale of 8 leaves no room: the radius is 0.
    assert_eq!(MicroInput::from_scale(8.0).radius, 0);
    // Below 2^-28 the shift goes negative and nothing saturates.
    let p = MicroInput::from_scale(1e-9);
    assert!(p.shift < 0 && p.radius == i32::MAX, "{p:?}");
}

/// Input quantisations a converter can produce: scales from 1e-9 to 1e4, any zero point.
fn quant() -> impl Strategy<Value = TensorQuant> {
    (-9.0f32..4.0, -128i32..=127).prop_map(|(log_scale, zero_point)| TensorQuant {
        scale: 10f32.powf(log_scale),
        zero_point,
    })
}

const ALL: [(&str, Table); 4] = [
    ("logistic", lut::logistic_table),
    ("tanh", lut::tanh_table),
    ("logistic micro", lut::logistic_table_micro),
    ("tanh micro", lut::tanh_table_micro),
];

proptest! {
    #[test]
    fn monotone(input in quant()) {
        for (name, table) in ALL {
            let t = table(input);
            prop_assert!(t.windows(2).all(|w| w[0] <= w[1]), "{} not monotone: {:?}", name, t);
        }
    }

    #[test]
    fn tanh_is_odd_about_the_zero_point(input in quant()) {
        // tanh(-x) = -tanh(x), and the f32 table rounds symmetrically, except where +1
        // would be 128 and clamps to 127 while -1 stays -128. TFLite Micro scales `d` into
        // Q4.27 rounding a tie up, so `d` and `-d` can land one Q4.27 step apart, and an
        // entry near a half step one output step apart; at a radius of 0 (huge scales) it
        // sends the zero point itself to -128, and then has no symmetry to check.
        let micro_radius = MicroInput::from_scale(input.scale).radius;
        let tables: &[(Table, i32)] = if micro_radius > 0 {
            &[(lut::tanh_table, 0), (lut::tanh_table_micro, 1)]
        } else {
            &[(lut::tanh_table, 0)]
        };
        for &(table, slack) in tables {
            let t = table(input);
            for d in 0..=127i32 {
                let (Some(up), Some(down)) = (
                    usize::try_from(input.zero_point + d + 128).ok().filter(|&i| i < 256),
                    usize::try_from(input.zero_point - d + 128).ok().filter(|&i| i < 256),
                ) else {
                    continue;
                };
                let (up, down) = (i32::from(t[up]), i32::from(t[down]));
                prop_assert!(
                    (up + down).abs() <= slack || (up == 127 && down == -128),
                    "d {}: {} and {}", d, up, down
                );
            }
        }
    }

    #[test]
    fn sigmoid_is_symmetric_about_one_half(input in quant()) {
        // σ(-x) = 1 - σ(x), so the outputs around the zero point sum to 0 (in steps of
        // 1/256 from -128), give or take one: f32's σ(x) + σ(-x) is not always exactly 1,
        // a tie rounds away from 0 on both sides, and 1 (128) clamps to 127.
        let t = lut::logistic_table(input);
        for d in 0..=127i32 {
            let up = input.zero_point + d + 128;
            let down = input.zero_point - d + 128;
            if !(0..256).contains(&up) || !(0..256).contains(&down) {
                continue;
            }
            let (up, down) = (i32::from(t[up as usize]), i32::from(t[down as usize]));
            prop_assert!((up + down).abs() <= 1, "d {}: {} {}", d, up, down);
        }
    }

    #[test]
    fn zero_point_maps_to_the_middle(input in quant()) {
        let zp = (input.zero_point + 128) as usize;
        prop_assert_eq!(lut::logistic_table(input)[zp], 0);
        prop_assert_eq!(lut::tanh_table(input)[zp], 0);
        if MicroInput::from_scale(input.scale).radius > 0 {
            prop_assert_eq!(lut::logistic_table_micro(input)[zp], 0);
            prop_assert_eq!(lut::tanh_table_micro(input)[zp], 0);
        }
    }
}

#[test]
fn saturation() {
    // At a scale of 1 the ends are x = -128 and 127: both ops fully saturated.
    let input = TensorQuant {
        scale: 1.0,
        zero_point: 0,
    };
    for (name, table) in ALL {
        let t = table(input);
        assert_eq!((t[0], t[255]), (-128, 127), "{name}");
    }
    // At a scale of 1e-6 nothing moves off the middle.
    let input = TensorQuant {
        scale: 1e-6,
        zero_point: 5,
    };
    for (name, table) in ALL {
        assert!(table(input).iter().all(|&v| v == 0), "{name}");
    }
}
