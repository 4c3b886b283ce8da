//! `host-trainer import` against TFLite's own answers: the fixtures in
//! `tests/fixtures/tflite/` were made by the TFLite converter, and their `.out` files hold
//! what TFLite's reference kernels output on the firmware's 100 test digits (see `make.py`).

// Scales are written as TFLite's Python interpreter prints them (the f32 widened to f64),
// so they can be checked against it by eye.
#![allow(clippy::excessive_precision)]

use std::path::{Path, PathBuf};
use std::process::Command;

use flatbuffers::{FlatBufferBuilder, WIPOffset};
use host_trainer::convert::import::{self, ImportError, Weights};
use host_trainer::model::AlignedBytes;
use nn_core::TensorQuant;
use nn_core::activation::Activation;
use nn_core::format::ModelFile;
use nn_core::model::InputScaling;
use nn_core::model_i8::DenseI8;
use nn_core::quant::{DenseI8Params, Requant};
use nn_data::{self as data, Fetch};

const PIXELS: usize = 784;
const IMAGES: usize = 100;
const CLASSES: usize = 10;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tflite")
        .join(name)
}

fn images() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/data/t10k-100-images.bin");
    let bytes = std::fs::read(path).expect("the firmware's 100 images");
    assert_eq!(bytes.len(), IMAGES * PIXELS);
    bytes
}

fn reference_f32(name: &str) -> Vec<f32> {
    let bytes = std::fs::read(fixture(name)).expect("reference outputs");
    assert_eq!(bytes.len(), IMAGES * CLASSES * 4);
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

fn int8(name: &str) -> import::Int8 {
    match import::read(&fixture(name)).expect("imports").weights {
        Weights::I8(q) => q,
        Weights::F32 { .. } => panic!("{name} read as float32"),
    }
}

/// The bound on |p - p_tflite| for the float32 import: both sides run the same float32
/// arithmetic in a different order (and nn-core's softmax has its own exp), so the
/// probabilities agree to a few float32 ulps of 1; measured 3.4e-7 (`cargo test -p host-trainer --test import`),
/// asserted with margin.
const F32_BOUND: f32 = 1e-5;

#[test]
fn float32_import_gives_tflites_probabilities() {
    let net = import::read(&fixture("relu32_f32.tflite")).expect("imports");
    assert_eq!(net.sizes(), [PIXELS, 32, CLASSES]);
    assert_eq!(net.layers[0].activation, Activation::Relu);
    assert_eq!(net.layers[1].activation, Activation::Identity);
    assert!(net.softmax);
    let bytes = import::model_file(&net, Some(ONE_255)).expect("encodes");
    let file = ModelFile::parse(&bytes).expect("a valid model file");
    let mut params = vec![0.0f32; file.parameter_count()];
    file.copy_parameters(&mut params).unwrap();
    let mlp = file.slices_in(&params).unwrap();
    assert_eq!(mlp.output_activation, Activation::Softmax);

    let reference = reference_f32("relu32_f32.out");
    let images = images();
    let mut hidden = vec![0.0f32; mlp.hidden];
    let mut p = vec![0.0f32; CLASSES];
    let mut worst = 0.0f32;
    for (pixels, expected) in images
        .chunks_exact(PIXELS)
        .zip(reference.chunks_exact(CLASSES))
    {
        // The same input as make.py feeds TFLite: pixel / 255 in float32.
        let x: Vec<f32> = pixels
            .iter()
            .map(|&v| f32::from(v) * mlp.scaling.scale + mlp.scaling.offset)
            .collect();
        let class = mlp.predict_into(&x, &mut hidden, &mut p).unwrap();
        assert_eq!(class, argmax(expected));
        for (a, b) in p.iter().zip(expected) {
            worst = worst.max((a - b).abs());
        }
    }
    assert!(worst <= F32_BOUND, "max |dp| = {worst}");
}

#[test]
fn int8_model_with_int8_io_is_recognised() {
    let net = import::read(&fixture("relu32_int8.tflite")).unwrap();
    assert_eq!(net.layers[0].activation, Activation::Relu);
    assert_eq!(net.layers[1].activation, Activation::Identity);
    let q = int8("relu32_int8.tflite");
    let [layer1, layer2] = &q.layers[..] else {
        panic!("two layers")
    };
    assert!(!q.float_input && !q.float_output);
    // The numbers TFLite's interpreter reports for these tensors.
    assert_eq!(
        q.input,
        TensorQuant {
            scale: 0.003921568859368563,
            zero_point: -128
        }
    );
    assert_eq!(layer1.weights.len(), 32 * PIXELS);
    assert_eq!(layer1.weight_scales.len(), 32);
    assert_eq!(
        layer1.weight_scales[..2],
        [0.0051102605648338795, 0.004483274184167385]
    );
    assert_eq!(layer1.bias.len(), 32);
    assert_eq!(
        layer1.output,
        TensorQuant {
            scale: 0.048496782779693604,
            zero_point: -128
        }
    );
    assert!(!layer1.per_tensor && !layer2.per_tensor);
    assert_eq!(layer2.input, layer1.output);
    assert_eq!(layer2.weights.len(), CLASSES * 32);
    assert_eq!(
        layer2.weight_scales[..2],
        [0.006733126938343048, 0.008646013215184212]
    );
    assert_eq!(
        layer2.output,
        TensorQuant {
            scale: 0.15759000182151794,
            zero_point: 23
        }
    );
    assert_eq!(q.softmax, Some(TensorQuant::PROBABILITY));
    // Weights are symmetric int8 in [-127, 127], as TFLite's spec requires.
    for w in [&layer1.weights, &layer2.weights] {
        assert!(w.iter().all(|&v| v != -128));
        assert!(
            w.iter().any(|&v| v == 127 || v == -127),
            "per-channel scales use the range"
        );
    }
}

#[test]
fn int8_requant_multipliers_are_derivable() {
    for name in [
        "relu32_int8.tflite",
        "relu32_int8_floatio.tflite",
        "sigmoid32_int8.tflite",
    ] {
        let q = int8(name);
        for layer in &q.layers {
            let m = layer.real_multipliers();
            assert_eq!(m.len(), layer.bias.len());
            // QuantizeMultiplier takes any positive finite real; these are all below 1,
            // as TFLite's FULLY_CONNECTED expects of a well-calibrated layer.
            assert!(
                m.iter().all(|&m| m.is_finite() && m > 0.0 && m < 1.0),
                "{name}: {m:?}"
            );
        }
        // The first multiplier of layer 1, by hand from the scales TFLite reports.
        let l = &q.layers[0];
        let expected =
            f64::from(q.input.scale) * f64::from(l.weight_scales[0]) / f64::from(l.output.scale);
        assert_eq!(l.real_multipliers()[0], expected);
    }
}

#[test]
fn int8_model_with_float_io_has_quantize_and_dequantize() {
    let q = int8("relu32_int8_floatio.tflite");
    assert!(q.float_input && q.float_output);
    assert_eq!(q.input.zero_point, -128);
    assert_eq!(q.input.scale, 0.003921568859368563);
    assert_eq!(q.softmax, Some(TensorQuant::PROBABILITY));
}

#[test]
fn int8_sigmoid_model_has_logistic_between_the_layers() {
    let net = import::read(&fixture("sigmoid32_int8.tflite")).unwrap();
    assert_eq!(net.layers[0].activation, Activation::Sigmoid);
    let Weights::I8(q) = net.weights else {
        panic!("not int8")
    };
    assert_eq!(
        q.layers[0].output,
        TensorQuant {
            scale: 0.17535020411014557,
            zero_point: 23
        }
    );
    assert_eq!(q.layers[1].input, TensorQuant::PROBABILITY);
    assert_eq!(
        q.layers[1].output,
        TensorQuant {
            scale: 0.06630353629589081,
            zero_point: 16
        }
    );
}

#[test]
fn int8_weights_dequantize_to_the_float_models() {
    // relu32_f32 and relu32_int8 come from the same Keras model: each int8 weight times its
    // row's scale is the float weight rounded to that grid.
    let f = import::read(&fixture("relu32_f32.tflite")).unwrap();
    let Weights::F32(dense) = f.weights else {
        panic!("not float32")
    };
    let q = int8("relu32_int8.tflite");
    for (float, layer) in dense.iter().map(|d| &d.weights).zip(&q.layers) {
        let cols = float.len() / layer.weight_scales.len();
        for (i, (&wf, &wq)) in float.iter().zip(&layer.weights).enumerate() {
            let s = layer.weight_scales[i / cols];
            assert!(
                (f32::from(wq) * s - wf).abs() <= 0.5001 * s,
                "weight {i}: {wq} * {s} vs {wf}"
            );
        }
    }
}

/// The int8 model file the importer writes for `name`, 16-byte aligned as nn-core borrows it.
fn int8_file(name: &str) -> AlignedBytes {
    let net = import::read(&fixture(name)).expect("imports");
    AlignedBytes::new(&import::model_file(&net, Some(ONE_255)).expect("encodes"))
}

/// That file run by nn-core on the 100 images: the int8 softmax output, row after row.
fn int8_outputs(name: &str) -> Vec<i8> {
    int8_outputs_on(name, &images())
}

fn int8_outputs_on(name: &str, images: &[u8]) -> Vec<i8> {
    let aligned = int8_file(name);
    let file = ModelFile::parse(aligned.bytes()).expect("a valid model file");
    let m = file.slices_i8().expect("an int8 model");
    let mut scratch = vec![0i8; m.input + m.hidden + m.output];
    let mut out = vec![0i8; images.len() / PIXELS * CLASSES];
    for (pixels, y) in images
        .chunks_exact(PIXELS)
        .zip(out.chunks_exact_mut(CLASSES))
    {
        m.predict_pixels_into(pixels, &mut scratch, y).unwrap();
    }
    out
}

fn reference_i8(name: &str) -> Vec<i8> {
    let bytes = std::fs::read(fixture(name)).expect("reference outputs");
    bytes.into_iter().map(|b| b as i8).collect()
}

/// The 10,000 MNIST test images (their first 100 are the firmware's).
fn test_images() -> Vec<u8> {
    let test = data::load_test(&data::default_dir(), Fetch::Allowed).expect("MNIST");
    assert_eq!(test.images[..IMAGES * PIXELS], images()[..]);
    test.images
}

/// TFLite's `MultiplyByQuantizedMultiplier` as the TFLite 2.21 that made the fixtures is
/// built (`TFLITE_SINGLE_ROUNDING`): `acc * m / 2^(31 - shift)` rounded once, half up.
fn requant_single_rounding(acc: i32, r: Requant) -> i32 {
    let total = 31 - r.shift;
    ((i64::from(acc) * i64::from(r.multiplier) + (1i64 << (total - 1))) >> total) as i32
}

/// One int8 FULLY_CONNECTED with that requantisation (`y` is `(rows)`, `w` `(rows, x.len())`).
fn fully_connected_single_rounding(l: &DenseI8<'_>, x: &[i8], p: DenseI8Params, y: &mut [i8]) {
    for (r, out) in y.iter_mut().enumerate() {
        let row = &l.weights[r * x.len()..(r + 1) * x.len()];
        let acc = row.iter().zip(x).fold(l.bias[r], |acc, (&w, &v)| {
            acc + i32::from(w) * (i32::from(v) - p.input_zero_point)
        });
        let v = requant_single_rounding(acc, l.requant[r]) + p.output_zero_point;
        *out = v.clamp(i32::from(p.min), i32::from(p.max)) as i8;
    }
}

/// The imported file's own parameters (requant pairs, zero points, LOGISTIC table, softmax
/// parameters) run with single rounding and nn-core's softmax: what nn-core's inference
/// computes, except for the one rounding.
fn single_rounding_outputs_on(name: &str, images: &[u8]) -> Vec<i8> {
    let aligned = int8_file(name);
    let file = ModelFile::parse(aligned.bytes()).unwrap();
    let m = file.slices_i8().unwrap();
    let relu = m.hidden_activation == Activation::Relu;
    let p1 = DenseI8Params {
        input_zero_point: m.input_quant.zero_point,
        output_zero_point: m.hidden_quant.zero_point,
        min: if relu {
            m.hidden_quant.zero_point as i8
        } else {
            i8::MIN
        },
        max: i8::MAX,
    };
    let p2 = DenseI8Params {
        input_zero_point: m.activated_quant().zero_point,
        output_zero_point: m.logits_quant.zero_point,
        min: i8::MIN,
        max: i8::MAX,
    };
    let mut out = vec![0i8; images.len() / PIXELS * CLASSES];
    let (mut hidden, mut logits) = (vec![0i8; m.hidden], vec![0i8; m.output]);
    for (pixels, y) in images
        .chunks_exact(PIXELS)
        .zip(out.chunks_exact_mut(CLASSES))
    {
        let x: Vec<i8> = pixels.iter().map(|&p| (i16::from(p) - 128) as i8).collect();
        fully_connected_single_rounding(&m.layer1, &x, p1, &mut hidden);
        if m.hidden_activation == Activation::Sigmoid {
            for h in &mut hidden {
                *h = m.sigmoid_table[(i16::from(*h) + 128) as usize];
            }
        }
        fully_connected_single_rounding(&m.layer2, &hidden, p2, &mut logits);
        nn_core::kernels::softmax_i8(&logits, m.softmax, y);
    }
    out
}

#[test]
#[ignore = "e2e: the 10,000 MNIST test images (fetched when missing)"]
fn int8_inference_gives_tflites_bytes_on_all_10000_test_images() {
    let images = test_images();
    for name in ["relu32_int8", "sigmoid32_int8"] {
        let ours = int8_outputs_on(&format!("{name}.tflite"), &images);
        let theirs = reference_i8(&format!("{name}.t10k.out"));
        assert_eq!(theirs.len(), 10_000 * CLASSES);
        assert_eq!(
            diff(&ours, &theirs),
            (0, 0),
            "{name}: (bytes that differ, by how much)"
        );
    }
}

#[test]
#[ignore = "e2e: the 10,000 MNIST test images (fetched when missing)"]
fn imported_parameters_with_single_rounding_give_tflites_bytes_on_all_10000_test_images() {
    // Pins the importer (weights, biases, requant pairs, LOGISTIC table, zero points) and
    // nn-core's softmax against TFLite on the whole test set, through the test's own
    // single-rounding layer, independently of nn-core's Requant::apply.
    let images = test_images();
    for name in ["relu32_int8", "sigmoid32_int8"] {
        let ours = single_rounding_outputs_on(&format!("{name}.tflite"), &images);
        let theirs = reference_i8(&format!("{name}.t10k.out"));
        assert_eq!(theirs.len(), 10_000 * CLASSES);
        assert_eq!(
            diff(&ours, &theirs),
            (0, 0),
            "{name}: (bytes that differ, by how much)"
        );
    }
}

const ONE_255: InputScaling = InputScaling {
    scale: 1.0 / 255.0,
    offset: 0.0,
};

/// How far two int8 outputs are apart: (values that differ, largest difference).
fn diff(ours: &[i8], theirs: &[i8]) -> (usize, i32) {
    let d = ours
        .iter()
        .zip(theirs)
        .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs());
    (d.clone().filter(|&d| d != 0).count(), d.max().unwrap_or(0))
}

#[test]
fn int8_relu_model_gives_tflites_bytes_exactly() {
    let ours = int8_outputs("relu32_int8.tflite");
    let theirs = reference_i8("relu32_int8.out");
    assert_eq!(theirs.len(), IMAGES * CLASSES);
    assert_eq!(diff(&ours, &theirs), (0, 0));
}

#[test]
fn int8_sigmoid_model_gives_tflites_bytes_exactly() {
    let ours = int8_outputs("sigmoid32_int8.tflite");
    let theirs = reference_i8("sigmoid32_int8.out");
    assert_eq!(theirs.len(), IMAGES * CLASSES);
    assert_eq!(diff(&ours, &theirs), (0, 0));
}

#[test]
fn int8_model_with_float_io_gives_tflites_floats_exactly() {
    // DEQUANTIZE of the softmax output is (q + 128) / 256, exact in f32: so the floats
    // TFLite returns must be exactly ours, bit for bit.
    let ours: Vec<f32> = int8_outputs("relu32_int8_floatio.tflite")
        .into_iter()
        .map(|q| TensorQuant::PROBABILITY.dequantize(q))
        .collect();
    let theirs = reference_f32("relu32_int8_floatio.out");
    let ours_bits: Vec<u32> = ours.iter().map(|v| v.to_bits()).collect();
    let theirs_bits: Vec<u32> = theirs.iter().map(|v| v.to_bits()).collect();
    assert!(
        ours_bits == theirs_bits,
        "first difference at {:?}",
        ours_bits.iter().zip(&theirs_bits).position(|(a, b)| a != b)
    );
}

#[test]
fn logistic_table_is_tflites() {
    // Spot values of LUTPopulate for the sigmoid fixture's pre-activation quantisation
    // (scale 0.17535020, zero point 23): q = 23 is x = 0, sigmoid 1/2, 128 - 128 = 0;
    // q = -128 is x = -26.5, sigmoid ~0, -128; q = 127 is x = 18.2, sigmoid ~1, 256 - 128
    // clamped to 127.
    let t = nn_core::lut::logistic_table(TensorQuant {
        scale: 0.17535020411014557,
        zero_point: 23,
    });
    assert_eq!(t[(23 + 128) as usize], 0);
    assert_eq!(t[0], -128);
    assert_eq!(t[255], 127);
    assert!(t.windows(2).all(|w| w[0] <= w[1]), "monotonic");
}

#[test]
fn an_input_scale_that_does_not_match_the_models_is_refused() {
    let net = import::read(&fixture("relu32_int8.tflite")).unwrap();
    let e = import::model_file(&net, Some(InputScaling::RAW)).unwrap_err();
    assert!(format!("{e:#}").contains("not pixel - 128"), "{e:#}");
}

/// A tiny TFLite flatbuffer built field by field, for the graphs the converter would not
/// write: `ops` are (builtin code, inputs, outputs), with FULLY_CONNECTED options on every
/// FULLY_CONNECTED; `tensors` are (shape, type, buffer index).
fn tiny_model(
    ops: &[(i32, &[i32], &[i32])],
    tensors: &[(&[i32], i8, u32)],
    buffers: &[&[u8]],
) -> Vec<u8> {
    let mut b = FlatBufferBuilder::new();
    let codes: Vec<_> = ops
        .iter()
        .map(|&(code, _, _)| {
            let t = b.start_table();
            b.push_slot::<i8>(4, code.min(127) as i8, 0);
            b.push_slot::<i32>(10, code, 0);
            b.end_table(t)
        })
        .collect();
    let codes = b.create_vector(&codes);
    let tensors: Vec<_> = tensors
        .iter()
        .enumerate()
        .map(|(i, &(shape, ty, buffer))| {
            let shape = b.create_vector(shape);
            let name = b.create_string(&format!("t{i}"));
            let t = b.start_table();
            b.push_slot_always::<WIPOffset<_>>(4, shape);
            b.push_slot::<i8>(6, ty, 0);
            b.push_slot::<u32>(8, buffer, 0);
            b.push_slot_always::<WIPOffset<_>>(10, name);
            b.end_table(t)
        })
        .collect();
    let tensors = b.create_vector(&tensors);
    let operators: Vec<_> = ops
        .iter()
        .enumerate()
        .map(|(i, &(code, inputs, outputs))| {
            // FullyConnectedOptions (union type 8, fused activation none) on every
            // FULLY_CONNECTED, SoftmaxOptions (type 9, beta 1) on every SOFTMAX.
            let options = match code {
                9 => {
                    let t = b.start_table();
                    b.push_slot::<i8>(4, 0, 0);
                    Some((8u8, b.end_table(t)))
                }
                25 => {
                    let t = b.start_table();
                    b.push_slot::<f32>(4, 1.0, 0.0);
                    Some((9u8, b.end_table(t)))
                }
                _ => None,
            };
            let inputs = b.create_vector(inputs);
            let outputs = b.create_vector(outputs);
            let t = b.start_table();
            b.push_slot::<u32>(4, i as u32, 0);
            b.push_slot_always::<WIPOffset<_>>(6, inputs);
            b.push_slot_always::<WIPOffset<_>>(8, outputs);
            if let Some((kind, options)) = options {
                b.push_slot::<u8>(10, kind, 0);
                b.push_slot_always::<WIPOffset<_>>(12, options);
            }
            b.end_table(t)
        })
        .collect();
    let operators = b.create_vector(&operators);
    let first_input = ops.first().map_or(0, |op| op.1[0]);
    let last_output = ops.last().map_or(0, |op| op.2[0]);
    let inputs = b.create_vector(&[first_input]);
    let outputs = b.create_vector(&[last_output]);
    let sub = b.start_table();
    b.push_slot_always::<WIPOffset<_>>(4, tensors);
    b.push_slot_always::<WIPOffset<_>>(6, inputs);
    b.push_slot_always::<WIPOffset<_>>(8, outputs);
    b.push_slot_always::<WIPOffset<_>>(10, operators);
    let sub = b.end_table(sub);
    let subgraphs = b.create_vector(&[sub]);
    let buffers: Vec<_> = buffers
        .iter()
        .map(|data| {
            let data = b.create_vector(data);
            let t = b.start_table();
            b.push_slot_always::<WIPOffset<_>>(4, data);
            b.end_table(t)
        })
        .collect();
    let buffers = b.create_vector(&buffers);
    let model = b.start_table();
    b.push_slot_always::<WIPOffset<_>>(6, codes);
    b.push_slot_always::<WIPOffset<_>>(8, subgraphs);
    b.push_slot_always::<WIPOffset<_>>(12, buffers);
    let model = b.end_table(model);
    b.finish(model, Some("TFL3"));
    b.finished_data().to_vec()
}

#[test]
fn another_operator_is_named_in_the_error() {
    const CONV_2D: i32 = 3;
    let bytes = tiny_model(
        &[(CONV_2D, &[0], &[1])],
        &[(&[1, 4], 0, 0), (&[1, 4], 0, 0)],
        &[&[]],
    );
    let e = import::parse(&bytes).unwrap_err();
    assert_eq!(
        e.to_string(),
        "operator CONV_2D (operator 1 of 1) is not supported (this importer reads Flatten -> \
         FULLY_CONNECTED [RELU | RELU6 | LOGISTIC | TANH] (1 to 16 of them) -> [SOFTMAX], \
         float32 or int8)"
    );
}

#[test]
fn another_tensor_type_is_named_in_the_error() {
    const FULLY_CONNECTED: i32 = 9;
    const FLOAT16: i8 = 1;
    let bytes = tiny_model(
        &[(FULLY_CONNECTED, &[0, 1], &[2])],
        &[(&[1, 4], 0, 0), (&[2, 4], FLOAT16, 1), (&[1, 2], 0, 0)],
        &[&[], &[0; 16]],
    );
    let e = import::parse(&bytes).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tensor 't1' has type FLOAT16, which is not supported (float32 or int8 models only)"
    );
}

#[test]
fn a_graph_that_stops_early_is_refused() {
    const QUANTIZE: i32 = 114;
    let bytes = tiny_model(
        &[(QUANTIZE, &[0], &[1])],
        &[(&[1, 4], 0, 0), (&[1, 4], 9, 0)],
        &[&[]],
    );
    let e = import::parse(&bytes).unwrap_err();
    assert!(
        e.to_string().starts_with("the graph stops after Quantized"),
        "{e}"
    );
}

#[test]
fn corrupt_files_give_errors_not_panics() {
    for name in [
        "relu32_f32.tflite",
        "relu32_int8_floatio.tflite",
        "sigmoid32_int8.tflite",
    ] {
        let good = std::fs::read(fixture(name)).unwrap();
        for len in (0..good.len()).step_by(251) {
            assert!(import::parse(&good[..len]).is_err(), "{name} cut at {len}");
        }
        // Every 7th byte inverted in turn: whatever the verifier lets through, recognition
        // must refuse or accept without panicking.
        for i in (0..good.len()).step_by(7) {
            let mut bad = good.clone();
            bad[i] ^= 0xff;
            let _ = import::parse(&bad);
        }
    }
}

#[test]
fn non_regular_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        import::read(dir.path()),
        Err(ImportError::Read(nn_data::read::ReadError::NotRegular(_)))
    ));
}

fn bin(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_host-trainer"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn cli_imports_and_reports_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.nnm");
    let model = fixture("relu32_f32.tflite");
    let o = bin(&[
        "import",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--input-scale",
        "1/255",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&out).unwrap();
    let file = ModelFile::parse(&bytes).unwrap();
    assert_eq!(file.shape(), [PIXELS, 32, CLASSES]);
    assert_eq!(file.header().scaling.scale, 1.0 / 255.0);

    let not_tflite = dir.path().join("x.tflite");
    std::fs::write(&not_tflite, &bytes).unwrap();
    let o = bin(&[
        "import",
        not_tflite.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        stderr,
        format!(
            "error: {}: not a TensorFlow Lite model (no TFL3 identifier)\n",
            not_tflite.display()
        )
    );

    let o = bin(&[
        "import",
        model.to_str().unwrap(),
        "--out",
        "x",
        "--input-scale",
        "1/0",
    ]);
    assert!(!o.status.success());
}

/// The bytes of `values` as a TFLite buffer holds them (little-endian float32).
fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A float32 `input-hidden-output` model of the family (no Flatten, no fused activation),
/// its weights all `w` and biases all `b`.
fn dense_f32(input: usize, hidden: usize, output: usize, w: f32, b: f32) -> Vec<u8> {
    const FULLY_CONNECTED: i32 = 9;
    const SOFTMAX: i32 = 25;
    let dim = |n: usize| n as i32;
    let w1 = le_bytes(&vec![w; hidden * input]);
    let b1 = le_bytes(&vec![b; hidden]);
    let w2 = le_bytes(&vec![w; output * hidden]);
    let b2 = le_bytes(&vec![b; output]);
    tiny_model(
        &[
            (FULLY_CONNECTED, &[0, 1, 2], &[3]),
            (FULLY_CONNECTED, &[3, 4, 5], &[6]),
            (SOFTMAX, &[6], &[7]),
        ],
        &[
            (&[1, dim(input)], 0, 0),
            (&[dim(hidden), dim(input)], 0, 1),
            (&[dim(hidden)], 0, 2),
            (&[1, dim(hidden)], 0, 0),
            (&[dim(output), dim(hidden)], 0, 3),
            (&[dim(output)], 0, 4),
            (&[1, dim(output)], 0, 0),
            (&[1, dim(output)], 0, 0),
        ],
        &[&[], &w1, &b1, &w2, &b2],
    )
}

/// `import MODEL --out OUT` and any `extra` flags, in `dir`.
fn import_cli(model: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "import",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    bin(&args)
}

/// Whatever `import` writes, the loader `eval` and `predict` use accepts; what it would
/// refuse, `import` refuses in one line and writes nothing.
fn assert_refused_unwritten(o: &std::process::Output, out: &Path, needle: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "exit 0; stdout {}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains(needle),
        "{stderr}"
    );
    assert!(!out.exists(), "{} was written", out.display());
}

#[test]
fn import_refuses_what_the_loader_would_refuse_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.nnm");
    let good = std::fs::read(fixture("relu32_f32.tflite")).unwrap();
    let net = import::read(&fixture("relu32_f32.tflite")).unwrap();
    let Weights::F32(dense) = &net.weights else {
        panic!("not float32")
    };
    let (w1, b1) = (&dense[0].weights, &dense[0].bias);

    // An input scaling the activation bound refuses.
    let o = import_cli(
        &fixture("relu32_f32.tflite"),
        &out,
        &["--input-scale", "1e35"],
    );
    assert_refused_unwritten(&o, &out, "outputs could overflow");

    // The first layer's weights all 3e38, or its biases all 1e37, in the converter's file.
    let find = |needle: &[u8]| {
        good.windows(needle.len())
            .position(|w| w == needle)
            .expect("the tensor's bytes are in the file")
    };
    for (tensor, value) in [(w1, 3e38f32), (b1, 1e37)] {
        let at = find(&le_bytes(tensor));
        let mut bad = good.clone();
        bad[at..at + 4 * tensor.len()].copy_from_slice(&le_bytes(&vec![value; tensor.len()]));
        let model = dir.path().join("huge.tflite");
        std::fs::write(&model, &bad).unwrap();
        let o = import_cli(&model, &out, &[]);
        // nn-core's encoder refuses the bound itself, before the loader's check.
        assert_refused_unwritten(&o, &out, "overflow");
    }
}

#[test]
fn import_writes_any_shape_and_eval_refuses_the_ones_it_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.nnm");
    let model = dir.path().join("m.tflite");
    // `predict --npy` runs any model, so import writes it; eval's loader (MNIST classifiers
    // only) refuses it, naming the shape, and the any-shape loader reads it.
    for (i, h, o) in [(100, 16, 3), (784, 16, 300)] {
        std::fs::write(&model, dense_f32(i, h, o, 0.01, 0.0)).unwrap();
        let run = import_cli(&model, &out, &[]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let err = host_trainer::model::HostModel::load(&out).unwrap_err();
        assert!(
            err.to_string().contains(&format!("shape {i}-{h}-{o}")),
            "{err}"
        );
        let any = host_trainer::model::HostModel::load_any(&out).expect("any shape loads");
        assert_eq!(any.shape(), [i, h, o]);
    }
    // The same construction at the host's shape imports, and eval's loader reads it.
    std::fs::write(&model, dense_f32(784, 16, 10, 0.01, 0.0)).unwrap();
    let run = import_cli(&model, &out, &[]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    host_trainer::model::HostModel::load(&out).expect("eval's loader reads it");
}

#[test]
fn whatever_import_writes_from_bit_flips_the_loader_reads() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixture("relu32_f32.tflite")).unwrap();
    let net = import::read(&fixture("relu32_f32.tflite")).unwrap();
    let Weights::F32(dense) = &net.weights else {
        panic!("not float32")
    };
    let w1 = &dense[0].weights;
    let w1_at = good
        .windows(8)
        .position(|w| w == le_bytes(&w1[..2]).as_slice())
        .expect("W1 is in the file");
    // Seeded flips anywhere, and flips of the top exponent bit of a few weights (a weight
    // of ~0.05 becomes ~1.7e37), which the activation bound must catch.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut flips: Vec<(usize, u8)> = (0..60)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 8) as usize % good.len(), 1 << (state % 8))
        })
        .collect();
    flips.extend((0..4).map(|k| (w1_at + 4 * (97 * k) + 3, 0x40)));
    let (model, out) = (dir.path().join("m.tflite"), dir.path().join("m.nnm"));
    let mut refused_by_the_loader = 0;
    for (at, bit) in flips {
        let mut bad = good.clone();
        bad[at] ^= bit;
        std::fs::write(&model, &bad).unwrap();
        let _ = std::fs::remove_file(&out);
        let o = import_cli(&model, &out, &[]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        if o.status.success() {
            host_trainer::model::HostModel::load_any(&out)
                .unwrap_or_else(|e| panic!("byte {at} ^ {bit:#x}: written, then refused: {e}"));
        } else {
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(!out.exists(), "byte {at} ^ {bit:#x}: refused, yet written");
            refused_by_the_loader +=
                usize::from(stderr.contains("not written") || stderr.contains("overflow"));
        }
    }
    assert!(refused_by_the_loader >= 4, "{refused_by_the_loader}");
}

#[test]
fn import_never_writes_onto_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.tflite");
    let good = std::fs::read(fixture("relu32_f32.tflite")).unwrap();
    std::fs::write(&model, &good).unwrap();
    let link = dir.path().join("link.tflite");
    std::os::unix::fs::symlink(&model, &link).unwrap();
    let dotted = dir.path().join(".").join("m.tflite");
    for (input, out) in [
        (&model, &model),
        (&model, &dotted),
        (&link, &model),
        (&model, &link),
    ] {
        let o = import_cli(input, out, &[]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert!(
            stderr.starts_with("error: MODEL and --out both name ") && stderr.lines().count() == 1,
            "{stderr}"
        );
        assert_eq!(
            std::fs::read(&model).unwrap(),
            good,
            "the input was replaced"
        );
    }
}

#[test]
fn import_quotes_a_file_name_with_a_newline() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("a\nb.tflite");
    std::fs::copy(fixture("relu32_f32.tflite"), &model).unwrap();
    let out = dir.path().join("c\nd.nnm");
    let o = import_cli(&model, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.contains(r#"a\nb.tflite""#) && stdout.ends_with("c\\nd.nnm\"\n"),
        "{stdout}"
    );
}
