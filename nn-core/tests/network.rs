//! `network::Model`, any depth: f32 against a plain f64 reference for every activation and
//! depths 1, 2, 3 and 16; int8 against a per-element reference written here from TFLite's
//! formulas (ReLU, ReLU6, identity, sigmoid and tanh, with and without softmax) for each
//! input kind; every `check` error; and at depth 2, the same bits as the two-layer code.

use nn_core::kernels;
use nn_core::lut;
use nn_core::model_i8::{DenseI8, MlpI8Packed};
use nn_core::network::{
    ElementType, LayerF32, LayerI8, LayerTensor, Layers, MAX_LAYERS, Model, ModelF32, ModelI8,
};
use nn_core::quant::{Requant, SoftmaxI8Params};
use nn_core::{Activation, Error, InputScaling, MlpI8, MlpSlices, TensorQuant};

mod common;
use common::Rng;

const ACTIVATIONS: [Activation; 5] = [
    Activation::Identity,
    Activation::Relu,
    Activation::Relu6,
    Activation::Sigmoid,
    Activation::Tanh,
];

// ------------------------------------------------------------------------------- f32

/// An f32 layer's arrays.
struct OwnedF32 {
    w: Vec<f32>,
    b: Vec<f32>,
    inputs: usize,
    outputs: usize,
    activation: Activation,
}

impl OwnedF32 {
    fn layer(&self) -> LayerF32<'_> {
        LayerF32 {
            weights: &self.w,
            bias: &self.b,
            inputs: self.inputs,
            outputs: self.outputs,
            activation: self.activation,
        }
    }
}

/// Random layers of `sizes[i] → sizes[i + 1]`, layer `i` with `activations[i % len]`,
/// weights scaled so that activations stay of order 1 (and ReLU6 both clips and passes).
fn random_f32(rng: &mut Rng, sizes: &[usize], activations: &[Activation]) -> Vec<OwnedF32> {
    sizes
        .windows(2)
        .enumerate()
        .map(|(i, s)| {
            let (inputs, outputs) = (s[0], s[1]);
            let scale = 4.0 / (inputs as f32).sqrt();
            OwnedF32 {
                w: rng.vec(inputs * outputs, scale),
                b: rng.vec(outputs, 1.0),
                inputs,
                outputs,
                activation: activations[i % activations.len()],
            }
        })
        .collect()
}

fn model_f32(layers: &[OwnedF32], softmax: bool, scaling: InputScaling) -> ModelF32<'_> {
    let mut l = Layers::new();
    for layer in layers {
        l.push(layer.layer()).unwrap();
    }
    ModelF32 {
        layers: l,
        softmax,
        scaling,
    }
}

fn activate_f64(a: Activation, v: f64) -> f64 {
    match a {
        Activation::Identity => v,
        Activation::Relu => v.max(0.0),
        Activation::Relu6 => v.clamp(0.0, 6.0),
        Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        Activation::Tanh => v.tanh(),
        Activation::Softmax => unreachable!("a layer-wide function"),
    }
}

/// The network in f64: plain loops, straight from `y = act(W x + b)`.
fn reference_f32(layers: &[OwnedF32], softmax: bool, x: &[f32]) -> Vec<f64> {
    let mut v: Vec<f64> = x.iter().map(|&x| f64::from(x)).collect();
    for l in layers {
        v = (0..l.outputs)
            .map(|o| {
                let row = &l.w[o * l.inputs..(o + 1) * l.inputs];
                let sum: f64 = row.iter().zip(&v).map(|(&w, &x)| f64::from(w) * x).sum();
                activate_f64(l.activation, sum + f64::from(l.b[o]))
            })
            .collect();
    }
    if softmax {
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = v.iter().map(|&x| (x - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        v = e.iter().map(|e| e / sum).collect();
    }
    v
}

fn assert_close(got: &[f32], expected: &[f64], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}");
    for (k, (&g, &e)) in got.iter().zip(expected).enumerate() {
        // f32 sums of at most 40 terms of order 1 per layer, over up to 16 layers.
        assert!(
            (f64::from(g) - e).abs() <= 1e-4 * (1.0 + e.abs()),
            "{what}: output {k} is {g}, the f64 reference {e}"
        );
    }
}

/// Scratch of `n` words, full of NaN: inference must not read what it did not write.
fn scratch(n: usize) -> Vec<f32> {
    vec![f32::NAN; n]
}

#[test]
fn f32_networks_of_every_depth_and_activation_match_the_f64_reference() {
    let mut rng = Rng(0x1234_5678);
    let cases: [&[usize]; 5] = [
        &[7, 3],
        &[12, 9, 4],
        &[5, 30, 8, 6],
        &[40, 11, 3],
        &[9, 17, 13, 20, 2, 31, 8, 15, 6, 22, 14, 3, 19, 11, 7, 16, 5],
    ];
    for sizes in cases {
        for (start, _) in ACTIVATIONS.iter().enumerate() {
            // Each layer its own activation, rotating through all five.
            let acts: Vec<Activation> = (0..5).map(|i| ACTIVATIONS[(start + i) % 5]).collect();
            let layers = random_f32(&mut rng, sizes, &acts);
            for softmax in [false, true] {
                let scaling = InputScaling {
                    scale: 0.01,
                    offset: -1.0,
                };
                let model = Model::F32(model_f32(&layers, softmax, scaling));
                let what = format!("sizes {sizes:?} from {:?}, softmax {softmax}", acts[0]);
                assert_eq!(model.depth(), sizes.len() - 1);
                assert_eq!(model.depth() == 16, sizes.len() == MAX_LAYERS + 1);
                let x = rng.vec(sizes[0], 2.0);
                let mut s = scratch(model.scratch_len() + 3);
                let mut out = vec![f32::NAN; model.outputs()];
                model.predict(&x, &mut s, &mut out).unwrap();
                assert_close(&out, &reference_f32(&layers, softmax, &x), &what);

                let pixels: Vec<u8> = (0..sizes[0]).map(|i| (i * 37 % 256) as u8).collect();
                let scaled: Vec<f32> = pixels
                    .iter()
                    .map(|&p| f32::from(p) * scaling.scale + scaling.offset)
                    .collect();
                model.predict_pixels(&pixels, &mut s, &mut out).unwrap();
                assert_close(&out, &reference_f32(&layers, softmax, &scaled), &what);
            }
        }
    }
}

#[test]
fn relu6_and_tanh_bound_what_they_pass_on() {
    // One layer of large weights: ReLU6 must clip at 6 and 0, tanh stay in (-1, 1).
    let layer = |activation| OwnedF32 {
        w: vec![10.0, -10.0, 0.5, 0.0],
        b: vec![0.0, 0.0, 1.0, 0.0],
        inputs: 1,
        outputs: 4,
        activation,
    };
    let relu6 = [layer(Activation::Relu6)];
    let tanh = [layer(Activation::Tanh)];
    let mut s = scratch(8);
    let mut out = [0.0f32; 4];
    let m = Model::F32(model_f32(&relu6, false, InputScaling::RAW));
    m.predict(&[1.0], &mut s, &mut out).unwrap();
    assert_eq!(out, [6.0, 0.0, 1.5, 0.0]);
    let m = Model::F32(model_f32(&tanh, false, InputScaling::RAW));
    m.predict(&[1.0], &mut s, &mut out).unwrap();
    assert_eq!(out[3], 0.0);
    assert!((f64::from(out[2]) - 1.5f64.tanh()).abs() < 1e-6);
    assert!(out[0] > 0.999 && out[0] <= 1.0 && out[1] < -0.999);
}

// ------------------------------------------------------------------------------ int8

/// An int8 layer's arrays.
#[derive(Clone)]
struct OwnedI8 {
    w: Vec<i8>,
    b: Vec<i32>,
    r: Vec<Requant>,
    s: Vec<f32>,
    t: Vec<i8>,
    inputs: usize,
    outputs: usize,
    output: TensorQuant,
    activation: Activation,
}

impl OwnedI8 {
    fn layer(&self) -> LayerI8<'_> {
        LayerI8 {
            weights: &self.w,
            bias: &self.b,
            requant: &self.r,
            weight_scales: &self.s,
            inputs: self.inputs,
            outputs: self.outputs,
            output: self.output,
            activation: self.activation,
            table: &self.t,
        }
    }
}

/// A uniform integer in `[lo, hi]`.
fn int(rng: &mut Rng, lo: i32, hi: i32) -> i32 {
    let u = (rng.next() + 1.0) / 2.0;
    (lo + (u * (hi - lo + 1) as f32) as i32).min(hi)
}

/// Random int8 layers of `sizes[i] → sizes[i + 1]`, layer `i` with `activations[i % len]`:
/// weights in [-127, 127], requantisation that spreads the sums over the int8 range (so
/// that clamps bind), random output quantisations, and the tables lut computes for them.
fn random_i8(rng: &mut Rng, sizes: &[usize], activations: &[Activation]) -> Vec<OwnedI8> {
    sizes
        .windows(2)
        .enumerate()
        .map(|(i, s)| {
            let (inputs, outputs) = (s[0], s[1]);
            let activation = activations[i % activations.len()];
            // Output scale 0.02–0.1: 6 / scale = 60–300 steps, so ReLU6 clips some layers.
            let output = TensorQuant {
                scale: 0.02 + 0.08 * (rng.next() + 1.0) / 2.0,
                zero_point: int(rng, -60, 40),
            };
            let spread = 60.0 / (inputs as f64).sqrt() / (127.0 * 70.0);
            let t = match activation {
                Activation::Sigmoid => lut::logistic_table(output).to_vec(),
                Activation::Tanh => lut::tanh_table(output).to_vec(),
                _ => Vec::new(),
            };
            OwnedI8 {
                w: (0..inputs * outputs)
                    .map(|_| int(rng, -127, 127) as i8)
                    .collect(),
                b: (0..outputs).map(|_| int(rng, -3000, 3000)).collect(),
                r: (0..outputs)
                    .map(|_| {
                        let f = 0.5 + f64::from(rng.next() + 1.0);
                        Requant::from_real(spread * f).unwrap()
                    })
                    .collect(),
                s: vec![0.01; outputs],
                t,
                inputs,
                outputs,
                output,
                activation,
            }
        })
        .collect()
}

const INPUT: TensorQuant = TensorQuant {
    scale: 0.05,
    zero_point: -7,
};

fn model_i8(layers: &[OwnedI8], softmax: bool) -> ModelI8<'_> {
    let mut l = Layers::new();
    for layer in layers {
        l.push(layer.layer()).unwrap();
    }
    let last = l.last().unwrap().activated();
    ModelI8 {
        layers: l,
        input: INPUT,
        softmax: softmax.then(|| SoftmaxI8Params::from_input_scale(last.scale).unwrap()),
        scaling: InputScaling::UNIT,
        packed: &[],
    }
}

/// TFLite's `CalculateActivationRangeQuantized` for int8: the clamp a fused activation
/// leaves on the output, `quantize(f) = zp + round(f / scale)` in f32, half away from zero.
fn activation_range(a: Activation, q: TensorQuant) -> (i32, i32) {
    let quantize = |f: f32| q.zero_point + (f / q.scale).round() as i32;
    match a {
        Activation::Relu => (quantize(0.0).max(-128), 127),
        Activation::Relu6 => (quantize(0.0).max(-128), quantize(6.0).min(127)),
        _ => (-128, 127),
    }
}

/// Every int8 layer element by element from TFLite's definitions: `acc = b + Σ w (x − zp_in)`
/// in i64, `MultiplyByQuantizedMultiplier` (`Requant::apply`), `+ zp_out`, the activation's
/// clamp, then a sigmoid's or tanh's table (`table[q + 128]`); the softmax after the last.
/// Also returns the last layer's output before the softmax, and how many outputs hit the
/// top of a ReLU6 clamp (so that the tests know they exercised it).
fn reference_i8(layers: &[OwnedI8], softmax: bool, x: &[i8]) -> (Vec<i8>, Vec<i8>, usize) {
    let mut v = x.to_vec();
    let mut zp_in = INPUT.zero_point;
    let mut clipped6 = 0;
    for l in layers {
        let (lo, hi) = activation_range(l.activation, l.output);
        v = (0..l.outputs)
            .map(|o| {
                let row = &l.w[o * l.inputs..(o + 1) * l.inputs];
                let acc = i64::from(l.b[o])
                    + row
                        .iter()
                        .zip(&v)
                        .map(|(&w, &x)| i64::from(w) * (i64::from(x) - i64::from(zp_in)))
                        .sum::<i64>();
                let acc = i32::try_from(acc).expect("no int32 overflow in these models");
                let q = (l.r[o].apply(acc) + l.output.zero_point).clamp(lo, hi);
                if l.activation == Activation::Relu6 && q == hi && hi < 127 {
                    clipped6 += 1;
                }
                match l.activation {
                    Activation::Sigmoid | Activation::Tanh => l.t[(q + 128) as usize],
                    _ => q as i8,
                }
            })
            .collect();
        zp_in = match l.activation {
            Activation::Sigmoid => -128,
            Activation::Tanh => 0,
            _ => l.output.zero_point,
        };
    }
    let logits = v.clone();
    if softmax {
        let last = layers.last().unwrap().layer().activated();
        let p = SoftmaxI8Params::from_input_scale(last.scale).unwrap();
        kernels::softmax_i8(&logits, p, &mut v);
    }
    (v, logits, clipped6)
}

/// TFLite's QUANTIZE, written out: `clamp(round(x / scale) + zp)`, f32, half away from zero.
fn quantize_reference(x: &[f32], q: TensorQuant) -> Vec<i8> {
    x.iter()
        .map(|&v| ((v / q.scale).round() as i32 + q.zero_point).clamp(-128, 127) as i8)
        .collect()
}

/// The real values an int8 output tensor stands for.
fn dequantize(q: &[i8], quant: TensorQuant) -> Vec<f32> {
    q.iter().map(|&q| quant.dequantize(q)).collect()
}

#[test]
fn int8_networks_match_the_tflite_reference_for_every_input_kind() {
    let mut rng = Rng(0x9e37_79b9);
    let cases: [&[usize]; 5] = [
        &[16, 5],
        &[20, 13, 10],
        &[9, 33, 17, 4],
        &[24, 12, 24, 8, 24],
        &[9, 17, 13, 20, 2, 31, 8, 15, 6, 22, 14, 3, 19, 11, 7, 16, 5],
    ];
    let mut clipped6 = 0;
    let mut runs = 0;
    for sizes in cases {
        for start in 0..ACTIVATIONS.len() {
            let acts: Vec<Activation> = (0..5).map(|i| ACTIVATIONS[(start + i) % 5]).collect();
            let layers = random_i8(&mut rng, sizes, &acts);
            for softmax in [false, true] {
                let model = Model::I8(model_i8(&layers, softmax));
                let what = format!("sizes {sizes:?} from {:?}, softmax {softmax}", acts[0]);
                let out_quant = if softmax {
                    TensorQuant::PROBABILITY
                } else {
                    layers.last().unwrap().layer().activated()
                };
                let n = model.outputs();
                let mut s = scratch(model.scratch_len());
                let (mut q, mut f) = (vec![0i8; n], vec![0.0f32; n]);
                for _ in 0..4 {
                    // int8 in.
                    let x: Vec<i8> = (0..sizes[0])
                        .map(|_| int(&mut rng, -128, 127) as i8)
                        .collect();
                    let (expected, _, c) = reference_i8(&layers, softmax, &x);
                    clipped6 += c;
                    runs += 1;
                    model.predict_i8(&x, &mut s, &mut q).unwrap();
                    assert_eq!(q, expected, "{what}: int8 in");

                    // Pixels in: q = pixel - 128.
                    let pixels: Vec<u8> = x.iter().map(|&v| (v as u8) ^ 0x80).collect();
                    model.predict_pixels_i8(&pixels, &mut s, &mut q).unwrap();
                    assert_eq!(q, expected, "{what}: pixels in");
                    model.predict_pixels(&pixels, &mut s, &mut f).unwrap();
                    assert_eq!(
                        f,
                        dequantize(&expected, out_quant),
                        "{what}: pixels, f32 out"
                    );

                    // f32 in, through QUANTIZE, some far outside the int8 range.
                    let xf = rng.vec(sizes[0], 8.0);
                    let (expected, _, _) =
                        reference_i8(&layers, softmax, &quantize_reference(&xf, INPUT));
                    model.predict(&xf, &mut s, &mut f).unwrap();
                    assert_eq!(f, dequantize(&expected, out_quant), "{what}: f32 in");
                }
            }
        }
    }
    assert!(
        clipped6 >= runs / 10,
        "ReLU6's upper clamp bound {clipped6} times in {runs} runs"
    );
}

#[test]
fn quantize_rounds_half_away_from_zero_and_clamps() {
    // One identity layer that passes its input through: weight 1, multiplier 1 (2^30 · 2^1
    // / 2^31), zero points 0, so the output is the quantised input.
    let layer = OwnedI8 {
        w: vec![1],
        b: vec![0],
        r: vec![Requant {
            multiplier: 1 << 30,
            shift: 1,
        }],
        s: vec![1.0],
        t: vec![],
        inputs: 1,
        outputs: 1,
        output: TensorQuant {
            scale: 0.5,
            zero_point: 0,
        },
        activation: Activation::Identity,
    };
    let mut m = model_i8(std::slice::from_ref(&layer), false);
    m.input = TensorQuant {
        scale: 0.5,
        zero_point: 0,
    };
    let model = Model::I8(m);
    let mut s = scratch(2);
    let mut out = [0.0f32];
    // x / 0.5: 1.25 → 2.5 → 3; -1.25 → -2.5 → -3; 0.74 → 1.48 → 1; 1000 → 127; -1000 → -128.
    for (x, q) in [
        (1.25, 3),
        (-1.25, -3),
        (0.74, 1),
        (1000.0, 127),
        (-1000.0, -128),
    ] {
        model.predict(&[x], &mut s, &mut out).unwrap();
        assert_eq!(out[0], 0.5 * q as f32, "x = {x}");
    }
}

#[test]
fn packed_layers_give_the_plain_layers_bytes() {
    let mut rng = Rng(77);
    let sizes = [37, 70, 19, 33, 5];
    let layers = random_i8(&mut rng, &sizes, &ACTIVATIONS);
    for softmax in [false, true] {
        let plain = model_i8(&layers, softmax);
        let mut buf = vec![0i32; plain.packed_len()];
        plain.pack(&mut buf).unwrap();
        let packed = Model::I8(ModelI8 {
            packed: &buf,
            ..plain
        });
        let plain = Model::I8(plain);
        let mut s = scratch(plain.scratch_len());
        let (mut a, mut b) = ([0i8; 5], [0i8; 5]);
        for _ in 0..20 {
            let x: Vec<i8> = (0..37).map(|_| int(&mut rng, -128, 127) as i8).collect();
            plain.predict_i8(&x, &mut s, &mut a).unwrap();
            packed.predict_i8(&x, &mut s, &mut b).unwrap();
            assert_eq!(a, b);
            assert_eq!(a.to_vec(), reference_i8(&layers, softmax, &x).0);
        }
    }
    // A buffer of the wrong length is refused, when packing and when running.
    let plain = model_i8(&layers, false);
    let n = plain.packed_len();
    let short = LengthMismatch(n, n - 1);
    assert_eq!(plain.pack(&mut vec![0; n - 1]), Err(short));
    let buf = vec![0; n - 1];
    let m = Model::I8(ModelI8 {
        packed: &buf,
        ..plain
    });
    assert_eq!(m.check(), Err(short));
}

/// An argument's `LengthMismatch`.
#[allow(non_snake_case)]
fn LengthMismatch(expected: usize, found: usize) -> Error {
    Error::LengthMismatch {
        tensor: None,
        expected,
        found,
    }
}

// ------------------------------------------------------------------------ the front

#[test]
fn sizes_and_element_come_from_the_layers() {
    let mut rng = Rng(5);
    let f = random_f32(&mut rng, &[3, 50, 7, 2], &[Activation::Relu]);
    let m = Model::F32(model_f32(&f, true, InputScaling::RAW));
    assert_eq!(
        (
            m.inputs(),
            m.outputs(),
            m.depth(),
            m.widest(),
            m.scratch_len()
        ),
        (3, 2, 3, 50, 100)
    );
    assert_eq!(m.element(), ElementType::F32);
    let q = random_i8(&mut rng, &[60, 4, 9], &[Activation::Tanh]);
    let m = Model::I8(model_i8(&q, false));
    assert_eq!(
        (
            m.inputs(),
            m.outputs(),
            m.depth(),
            m.widest(),
            m.scratch_len()
        ),
        (60, 9, 2, 60, 120)
    );
    assert_eq!(m.element(), ElementType::I8);
    // Layers hold MAX_LAYERS at most.
    let mut layers = Layers::new();
    for _ in 0..MAX_LAYERS {
        layers.push(f[1].layer()).unwrap();
    }
    assert_eq!(layers.push(f[1].layer()), Err(Error::TooLarge));
}

#[test]
fn every_check_error() {
    let mut rng = Rng(99);
    let f = random_f32(&mut rng, &[4, 6, 3], &[Activation::Relu]);
    let good_f = model_f32(&f, false, InputScaling::RAW);
    let with_f = |edit: &dyn Fn(&mut LayerF32<'_>)| {
        let mut layers = Layers::new();
        for (i, l) in f.iter().enumerate() {
            let mut l = l.layer();
            if i == 1 {
                edit(&mut l);
            }
            layers.push(l).unwrap();
        }
        Model::F32(ModelF32 { layers, ..good_f }).check()
    };
    assert_eq!(Model::F32(good_f).check(), Ok(()));
    let empty = Model::F32(ModelF32 {
        layers: Layers::new(),
        ..good_f
    });
    assert_eq!(empty.check(), Err(Error::BadDepth { depth: 0 }));
    let layer_len = |tensor, expected, found| Error::LayerLength {
        layer: 1,
        tensor,
        expected,
        found,
    };
    assert_eq!(
        with_f(&|l| l.inputs = 5),
        Err(Error::LayerInputs {
            layer: 1,
            expected: 6,
            found: 5
        })
    );
    assert_eq!(
        with_f(&|l| l.weights = &l.weights[1..]),
        Err(layer_len(LayerTensor::Weights, 18, 17))
    );
    assert_eq!(
        with_f(&|l| l.bias = &l.bias[1..]),
        Err(layer_len(LayerTensor::Bias, 3, 2))
    );
    assert_eq!(
        with_f(&|l| l.outputs = usize::MAX),
        Err(Error::TooLarge),
        "outputs × inputs overflows"
    );
    // f32 runs a softmax layer (a version-1 file's hidden layer may be one).
    assert_eq!(with_f(&|l| l.activation = Activation::Softmax), Ok(()));

    let q = random_i8(&mut rng, &[4, 6, 3], &[Activation::Relu]);
    let good_q = model_i8(&q, true);
    static TABLE: [i8; 256] = [0; 256];
    let table = &TABLE;
    let with_q = |edit: &dyn Fn(&mut LayerI8<'_>)| {
        let mut layers = Layers::new();
        for (i, l) in q.iter().enumerate() {
            let mut l = l.layer();
            if i == 1 {
                edit(&mut l);
            }
            layers.push(l).unwrap();
        }
        Model::I8(ModelI8 { layers, ..good_q }).check()
    };
    assert_eq!(Model::I8(good_q).check(), Ok(()));
    type Edit = dyn Fn(&mut LayerI8<'_>);
    let cases: [(&Edit, Error); 10] = [
        (
            &|l| l.inputs = 7,
            Error::LayerInputs {
                layer: 1,
                expected: 6,
                found: 7,
            },
        ),
        (
            &|l| l.weights = &l.weights[1..],
            layer_len(LayerTensor::Weights, 18, 17),
        ),
        (
            &|l| l.bias = &l.bias[1..],
            layer_len(LayerTensor::Bias, 3, 2),
        ),
        (
            &|l| l.requant = &l.requant[1..],
            layer_len(LayerTensor::Requant, 3, 2),
        ),
        (
            &|l| l.weight_scales = &[],
            layer_len(LayerTensor::WeightScales, 3, 0),
        ),
        (
            &|l| l.activation = Activation::Sigmoid,
            layer_len(LayerTensor::Table, 256, 0),
        ),
        (
            &|l| {
                l.activation = Activation::Tanh;
                l.table = &table[1..];
            },
            layer_len(LayerTensor::Table, 256, 255),
        ),
        (&|l| l.table = table, layer_len(LayerTensor::Table, 0, 256)),
        (
            &|l| l.activation = Activation::Softmax,
            Error::BadActivation {
                layer: 1,
                found: Activation::Softmax,
            },
        ),
        (&|l| l.outputs = usize::MAX, Error::TooLarge),
    ];
    for (i, (edit, error)) in cases.into_iter().enumerate() {
        assert_eq!(with_q(edit), Err(error), "case {i}");
    }
    // With a table, a sigmoid layer is fine.
    let sigmoid = with_q(&|l| {
        l.activation = Activation::Sigmoid;
        l.table = table;
    });
    assert_eq!(sigmoid, Ok(()));

    // An int8 softmax takes 256 outputs at most; without one, any number runs.
    let wide = random_i8(&mut rng, &[2, 257], &[Activation::Identity]);
    let mut m = model_i8(&wide, false);
    assert_eq!(Model::I8(m).check(), Ok(()));
    m.softmax = SoftmaxI8Params::from_input_scale(0.1);
    assert_eq!(Model::I8(m).check(), Err(Error::TooLarge));
    let narrow = random_i8(&mut rng, &[2, 256], &[Activation::Identity]);
    assert_eq!(Model::I8(model_i8(&narrow, true)).check(), Ok(()));
}

#[test]
fn predict_refuses_wrong_arguments_and_broken_models_without_running() {
    let mut rng = Rng(3);
    let f = random_f32(&mut rng, &[4, 6, 3], &[Activation::Relu]);
    let q = random_i8(&mut rng, &[4, 6, 3], &[Activation::Relu]);
    let models = [
        Model::F32(model_f32(&f, true, InputScaling::RAW)),
        Model::I8(model_i8(&q, true)),
    ];
    for m in models {
        let mut s = scratch(12);
        let mut out = [7.0f32; 3];
        assert_eq!(
            m.predict(&[0.0; 5], &mut s, &mut out),
            Err(LengthMismatch(4, 5))
        );
        assert_eq!(
            m.predict_pixels(&[0; 3], &mut s, &mut out),
            Err(LengthMismatch(4, 3))
        );
        assert_eq!(
            m.predict(&[0.0; 4], &mut s, &mut out[..2]),
            Err(LengthMismatch(3, 2))
        );
        assert_eq!(
            m.predict(&[0.0; 4], &mut s[..11], &mut out),
            Err(LengthMismatch(12, 11))
        );
        assert_eq!(
            m.predict(&[0.0, f32::NAN, 0.0, 0.0], &mut s, &mut out),
            Err(Error::NonFiniteInput)
        );
        assert_eq!(
            m.predict(&[0.0, 0.0, f32::INFINITY, 0.0], &mut s, &mut out),
            Err(Error::NonFiniteInput)
        );
        assert_eq!(out, [7.0; 3], "nothing written");
        assert_eq!(m.predict(&[0.0; 4], &mut s, &mut out), Ok(()));
    }

    // int8 in or out needs an int8 model.
    let [f32_model, i8_model] = models;
    let mut s = scratch(12);
    let mismatch = Err(Error::ElementMismatch {
        expected: ElementType::I8,
        found: ElementType::F32,
    });
    let mut q_out = [0i8; 3];
    assert_eq!(f32_model.predict_i8(&[0; 4], &mut s, &mut q_out), mismatch);
    assert_eq!(
        f32_model.predict_pixels_i8(&[0; 4], &mut s, &mut q_out),
        mismatch
    );
    assert_eq!(
        i8_model.predict_i8(&[0; 4], &mut s, &mut q_out[..1]),
        Err(LengthMismatch(3, 1))
    );
    assert_eq!(
        i8_model.predict_pixels_i8(&[0; 5], &mut s, &mut q_out),
        Err(LengthMismatch(4, 5))
    );

    // A model check() refuses is refused by every call, before anything runs.
    let Model::I8(good) = i8_model else {
        unreachable!()
    };
    let mut out = [0i8; 6];
    let mut l = good.layers.get(0).copied().unwrap();
    l.bias = &l.bias[1..];
    let mut layers = Layers::new();
    layers.push(l).unwrap();
    let broken = Model::I8(ModelI8 { layers, ..good });
    assert_eq!(
        broken.predict_i8(&[0; 4], &mut s, &mut out),
        Err(Error::LayerLength {
            layer: 0,
            tensor: LayerTensor::Bias,
            expected: 6,
            found: 5
        })
    );
}

// ------------------------------------------------------- depth 2: the two-layer code

fn dense(l: &OwnedI8) -> DenseI8<'_> {
    DenseI8 {
        weights: &l.w,
        bias: &l.b,
        requant: &l.r,
        weight_scales: &l.s,
    }
}

#[test]
fn depth_2_f32_gives_the_two_layer_codes_bits() {
    let mut rng = Rng(2024);
    for (hidden_activation, output_activation) in [
        (Activation::Relu, Activation::Softmax),
        (Activation::Sigmoid, Activation::Softmax),
        (Activation::Identity, Activation::Sigmoid),
        (Activation::Relu, Activation::Identity),
    ] {
        let (i, h, o) = (23, 17, 10);
        let (w1, b1) = (rng.vec(h * i, 0.5), rng.vec(h, 0.5));
        let (w2, b2) = (rng.vec(o * h, 0.5), rng.vec(o, 0.5));
        let scaling = InputScaling {
            scale: 1.0 / 255.0,
            offset: -0.5,
        };
        let mlp = MlpSlices {
            w1: &w1,
            b1: &b1,
            w2: &w2,
            b2: &b2,
            input: i,
            hidden: h,
            output: o,
            hidden_activation,
            output_activation,
            scaling,
        };
        let softmax = output_activation == Activation::Softmax;
        let mut layers = Layers::new();
        let layer = |w, b, inputs, outputs, activation| LayerF32 {
            weights: w,
            bias: b,
            inputs,
            outputs,
            activation,
        };
        let last = if softmax {
            Activation::Identity
        } else {
            output_activation
        };
        layers
            .push(layer(&w1, &b1, i, h, hidden_activation))
            .unwrap();
        layers.push(layer(&w2, &b2, h, o, last)).unwrap();
        let model = Model::F32(ModelF32 {
            layers,
            softmax,
            scaling,
        });
        let mut s = scratch(model.scratch_len());
        let mut out = vec![0.0; o];
        for _ in 0..10 {
            let x = rng.vec(i, 1.0);
            // The two-layer code as it was: two gemv_bias, each with its activation.
            let mut hid = vec![0.0; h];
            let mut old = vec![0.0; o];
            kernels::gemv_bias(&w1, &x, &b1, &mut hid);
            hidden_activation.apply(&mut hid);
            kernels::gemv_bias(&w2, &hid, &b2, &mut old);
            output_activation.apply(&mut old);
            model.predict(&x, &mut s, &mut out).unwrap();
            assert_eq!(out, old);
            let mut slices_out = vec![0.0; o];
            let class = mlp.predict_into(&x, &mut hid, &mut slices_out).unwrap();
            assert_eq!(slices_out, old);
            assert_eq!(class, kernels::argmax(&old));

            let pixels: Vec<u8> = x.iter().map(|&v| (v * 127.0 + 128.0) as u8).collect();
            let mut scaled = vec![0.0; i];
            scaling.apply(&pixels, &mut scaled);
            let class = mlp
                .predict_into(&scaled, &mut hid, &mut slices_out)
                .unwrap();
            assert_eq!(model.classify_pixels(&pixels, &mut s, &mut out), Ok(class));
            assert_eq!(out, slices_out);
        }
    }
}

#[test]
fn depth_2_int8_gives_the_two_layer_codes_bytes_and_class() {
    let mut rng = Rng(4048);
    for hidden_activation in [Activation::Relu, Activation::Sigmoid, Activation::Identity] {
        let layers = random_i8(
            &mut rng,
            &[30, 12, 10],
            &[hidden_activation, Activation::Identity],
        );
        let (l1, l2) = (&layers[0], &layers[1]);
        let model = model_i8(&layers, true);
        let mlp = MlpI8 {
            input: 30,
            hidden: 12,
            output: 10,
            hidden_activation,
            scaling: InputScaling::UNIT,
            input_quant: INPUT,
            hidden_quant: l1.output,
            logits_quant: l2.output,
            softmax: model.softmax.unwrap(),
            layer1: dense(l1),
            layer2: dense(l2),
            sigmoid_table: &l1.t,
        };
        let mut buf = vec![0; mlp.packed_len()];
        mlp.pack(&mut buf).unwrap();
        let mlp_packed = MlpI8Packed::new(mlp, &buf).unwrap();
        let model = Model::I8(model);
        let mut s = scratch(model.scratch_len());
        let (mut old_scratch, mut old, mut new, mut packed) =
            ([0i8; 52], [0i8; 10], [0i8; 10], [0i8; 10]);
        for _ in 0..30 {
            let pixels: Vec<u8> = (0..30).map(|_| int(&mut rng, 0, 255) as u8).collect();
            let x: Vec<i8> = pixels.iter().map(|&p| (i32::from(p) - 128) as i8).collect();
            let (expected, logits, _) = reference_i8(&layers, true, &x);
            let class = mlp
                .predict_pixels_into(&pixels, &mut old_scratch, &mut old)
                .unwrap();
            model.predict_pixels_i8(&pixels, &mut s, &mut new).unwrap();
            assert_eq!(old.to_vec(), expected);
            assert_eq!(new, old);
            // The class is the first largest logit, before the softmax's ties.
            let max = logits.iter().max().unwrap();
            assert_eq!(class, logits.iter().position(|v| v == max).unwrap());
            new.fill(0);
            let classified = model.classify_pixels_i8(&pixels, &mut s, &mut new);
            assert_eq!((classified, new), (Ok(class), old));
            let mut p = [0.0f32; 10];
            assert_eq!(model.classify_pixels(&pixels, &mut s, &mut p), Ok(class));
            assert_eq!(p.to_vec(), dequantize(&old, TensorQuant::PROBABILITY));
            let packed_class = mlp_packed
                .predict_pixels_into(&pixels, &mut old_scratch, &mut packed)
                .unwrap();
            assert_eq!((packed_class, packed), (class, old));
        }
    }
}
