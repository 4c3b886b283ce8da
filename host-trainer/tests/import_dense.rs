//! `host-trainer import` on any stack of Dense layers, and `predict --npy`, against TFLite's
//! own answers: the fixtures in `tests/fixtures/dense/` and MLPerf Tiny's anomaly detector
//! in `third_party/ad01/` hold what TFLite's reference kernels (`BUILTIN_REF`) output for
//! their `.in.npy` (see `tests/fixtures/dense/make.py`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use host_trainer::convert::import::{self, Weights};
use host_trainer::convert::int8_model::QuantizedModel;
use nn_core::activation::Activation;
use nn_core::model::InputScaling;
use nn_core::network::Model;
use nn_core::quant::Requant;
use nn_data::npy::{self, Array, Data};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dense")
        .join(name)
}

fn ad01(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../third_party/ad01")
        .join(name)
}

fn read_npy(path: &Path) -> Array {
    npy::parse(&std::fs::read(path).expect("the fixture")).expect("a .npy array")
}

fn int8_data(a: &Array) -> &[i8] {
    match &a.data {
        Data::I8(v) => v,
        other => panic!("not int8: {:?}", other.dtype()),
    }
}

fn f32_data(a: &Array) -> &[f32] {
    match &a.data {
        Data::F32(v) => v,
        other => panic!("not float32: {:?}", other.dtype()),
    }
}

/// The int8 fixtures: (model, input, TFLite's output).
fn int8_fixtures() -> Vec<(PathBuf, PathBuf, PathBuf)> {
    let mut v: Vec<_> = [
        "tanh3_int8",
        "sigmoid4_int8",
        "logits3_int8",
        "relu6_3_int8",
    ]
    .into_iter()
    .map(|n| {
        (
            fixture(&format!("{n}.tflite")),
            fixture(&format!("{n}.in.npy")),
            fixture(&format!("{n}.out.npy")),
        )
    })
    .collect();
    v.push((
        ad01("ad01_int8.tflite"),
        ad01("ad01_int8.in.npy"),
        ad01("ad01_int8.out.npy"),
    ));
    v
}

fn quantized(model: &Path) -> QuantizedModel {
    let net = import::read(model).expect("imports");
    let Weights::I8(q) = &net.weights else {
        panic!("{} read as float32", model.display())
    };
    import::quantized_model(&net, q, None).expect("an int8 model")
}

/// TFLite's `MultiplyByQuantizedMultiplier` as the TFLite that made the fixtures is built
/// (`TFLITE_SINGLE_ROUNDING`): `acc * m / 2^(31 - shift)` rounded once, half up.
fn requant(acc: i32, r: Requant) -> i32 {
    let total = 31 - r.shift;
    ((i64::from(acc) * i64::from(r.multiplier) + (1i64 << (total - 1))) >> total) as i32
}

/// The imported parameters run by this test's own plain loops (TFLite's reference
/// FULLY_CONNECTED, its activation clamps and tables, nn-core's int8 softmax): pins what
/// the importer extracts, independently of nn-core's network code.
fn run_imported(m: &QuantizedModel, x: &[i8]) -> Vec<i8> {
    let mut v = x.to_vec();
    let mut zero_point = m.input.zero_point;
    for l in &m.layers {
        let out = l.output;
        let (lo, hi) = match l.activation {
            Activation::Relu => (out.zero_point.max(-128), 127),
            Activation::Relu6 => (
                out.zero_point.max(-128),
                (out.zero_point + (6.0 / out.scale).round() as i32).min(127),
            ),
            _ => (-128, 127),
        };
        let y: Vec<i8> = (0..l.outputs())
            .map(|r| {
                let row = &l.weights[r * l.inputs..(r + 1) * l.inputs];
                let acc = row.iter().zip(&v).fold(l.bias[r], |acc, (&w, &x)| {
                    acc + i32::from(w) * (i32::from(x) - zero_point)
                });
                let q = (requant(acc, l.requant[r]) + out.zero_point).clamp(lo, hi) as i8;
                match l.activation {
                    Activation::Sigmoid | Activation::Tanh => {
                        l.table[(i16::from(q) + 128) as usize]
                    }
                    _ => q,
                }
            })
            .collect();
        zero_point = l.view().activated().zero_point;
        v = y;
    }
    match m.softmax {
        Some(p) => {
            let mut y = vec![0i8; v.len()];
            nn_core::kernels::softmax_i8(&v, p, &mut y);
            y
        }
        None => v,
    }
}

#[test]
fn imported_int8_parameters_give_tflites_bytes() {
    for (model, input, expected) in int8_fixtures() {
        let m = quantized(&model);
        let (input, expected) = (read_npy(&input), read_npy(&expected));
        let (rows, cols) = input.as_matrix().unwrap();
        let outputs = m.layers.last().unwrap().outputs();
        assert_eq!(expected.shape, [rows, outputs]);
        let ours: Vec<i8> = int8_data(&input)
            .chunks_exact(cols)
            .flat_map(|x| run_imported(&m, x))
            .collect();
        assert!(
            ours == int8_data(&expected),
            "{}: {} of {} bytes differ",
            model.display(),
            ours.iter()
                .zip(int8_data(&expected))
                .filter(|(a, b)| a != b)
                .count(),
            ours.len()
        );
    }
}

#[test]
fn imported_int8_models_run_by_nn_core_give_tflites_bytes() {
    for (model, input, expected) in int8_fixtures() {
        let q = quantized(&model);
        let m = q.model().expect("a model");
        m.check().expect("nn-core accepts it");
        let (input, expected) = (read_npy(&input), read_npy(&expected));
        let mut scratch = vec![0.0f32; m.scratch_len()];
        let mut ours = vec![0i8; int8_data(&expected).len()];
        for (x, y) in int8_data(&input)
            .chunks_exact(m.inputs())
            .zip(ours.chunks_exact_mut(m.outputs()))
        {
            m.predict_i8(x, &mut scratch, y).unwrap();
        }
        let differ = ours
            .iter()
            .zip(int8_data(&expected))
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(differ, 0, "{}: bytes that differ", model.display());
    }
}

#[test]
fn imported_float32_model_run_by_nn_core_is_within_the_bound() {
    let net = import::read(&fixture("mix3_f32.tflite")).unwrap();
    let Weights::F32(dense) = &net.weights else {
        panic!("not float32")
    };
    let m = Model::F32(import::float_model(&net, dense, InputScaling::UNIT).unwrap());
    m.check().unwrap();
    let input = read_npy(&fixture("mix3_f32.in.npy"));
    let expected = read_npy(&fixture("mix3_f32.out.npy"));
    let mut scratch = vec![0.0f32; m.scratch_len()];
    let mut y = vec![0.0f32; m.outputs()];
    let mut worst = 0.0f32;
    for (x, e) in f32_data(&input)
        .chunks_exact(m.inputs())
        .zip(f32_data(&expected).chunks_exact(m.outputs()))
    {
        m.predict(x, &mut scratch, &mut y).unwrap();
        for (a, b) in y.iter().zip(e) {
            worst = worst.max((a - b).abs());
        }
    }
    assert!(worst <= F32_BOUND, "max |dp| = {worst}");
}

#[test]
fn fixtures_import_as_the_layers_keras_made() {
    use Activation::{Identity, Relu, Relu6, Sigmoid, Tanh};
    let cases: [(&str, &[usize], &[Activation], bool); 5] = [
        (
            "tanh3_int8",
            &[64, 32, 16, 4],
            &[Tanh, Tanh, Identity],
            true,
        ),
        (
            "sigmoid4_int8",
            &[64, 32, 24, 16, 4],
            &[Sigmoid, Sigmoid, Sigmoid, Identity],
            true,
        ),
        (
            "logits3_int8",
            &[64, 32, 16, 5],
            &[Relu, Relu, Identity],
            false,
        ),
        (
            "relu6_3_int8",
            &[64, 32, 16, 4],
            &[Relu6, Relu6, Identity],
            true,
        ),
        ("mix3_f32", &[64, 32, 16, 4], &[Relu6, Tanh, Identity], true),
    ];
    for (name, sizes, activations, softmax) in cases {
        let net = import::read(&fixture(&format!("{name}.tflite"))).unwrap();
        assert_eq!(net.sizes(), sizes, "{name}");
        let found: Vec<Activation> = net.layers.iter().map(|l| l.activation).collect();
        assert_eq!(found, activations, "{name}");
        assert_eq!(net.softmax, softmax, "{name}");
    }
}

#[test]
fn ad01_imports_as_mlperf_tiny_describes_it() {
    let net = import::read(&ad01("ad01_int8.tflite")).unwrap();
    assert_eq!(
        net.sizes(),
        [640, 128, 128, 128, 128, 8, 128, 128, 128, 128, 640]
    );
    let activations: Vec<Activation> = net.layers.iter().map(|l| l.activation).collect();
    let mut expected = vec![Activation::Relu; 9];
    expected.push(Activation::Identity);
    assert_eq!(activations, expected);
    assert!(!net.softmax);
    let Weights::I8(q) = &net.weights else {
        panic!("not int8")
    };
    assert!(!q.float_input && !q.float_output);
    assert_eq!((q.input.scale, q.input.zero_point), (0.39101523, 89));
    let last = q.layers.last().unwrap().output;
    assert_eq!((last.scale, last.zero_point), (0.36449847, 96));
    let macs: usize = net.sizes().windows(2).map(|w| w[0] * w[1]).sum();
    assert_eq!(macs, 264_192);
}

#[test]
fn per_tensor_multipliers_come_from_the_float32_scale_product() {
    // TFLite's GetQuantizedConvolutionMultipler rounds `input scale × filter scale` to
    // float32 before dividing in double; per-channel layers multiply in double.
    let net = import::read(&ad01("ad01_int8.tflite")).unwrap();
    let Weights::I8(q) = &net.weights else {
        panic!("not int8")
    };
    let mut differs = 0;
    for l in &q.layers {
        let m = l.real_multipliers();
        for (&w, &m) in l.weight_scales.iter().zip(&m) {
            let (i, o) = (l.input.scale, l.output.scale);
            if l.per_tensor {
                assert_eq!(m, f64::from(i * w) / f64::from(o));
                let wide = f64::from(i) * f64::from(w) / f64::from(o);
                differs += usize::from(Requant::from_real(m) != Requant::from_real(wide));
            } else {
                assert_eq!(m, f64::from(i) * f64::from(w) / f64::from(o));
            }
        }
    }
    // ad01's layers are all per tensor, and for some the two products give different
    // int32 multipliers: the f64 product would not be TFLite's.
    assert!(q.layers.iter().all(|l| l.per_tensor));
    eprintln!("ad01: {differs} rows whose requantisation the f64 product would change");
    assert!(differs > 0);
}

/// How far the float32 import may be from TFLite's float32 output: both sides run the same
/// float32 arithmetic in a different order (and nn-core's tanh and softmax their own
/// approximations), so outputs in [0, 1] agree to a few float32 ulps of 1.
const F32_BOUND: f32 = 1e-5;

#[test]
fn float32_import_holds_keras_weights() {
    // The imported weights run by plain loops: relu6, tanh, softmax in f64.
    let net = import::read(&fixture("mix3_f32.tflite")).unwrap();
    let Weights::F32(dense) = &net.weights else {
        panic!("not float32")
    };
    let input = read_npy(&fixture("mix3_f32.in.npy"));
    let expected = read_npy(&fixture("mix3_f32.out.npy"));
    let mut worst = 0.0f32;
    for (x, e) in f32_data(&input)
        .chunks_exact(64)
        .zip(f32_data(&expected).chunks_exact(4))
    {
        let mut v: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        for (d, shape) in dense.iter().zip(&net.layers) {
            v = (0..shape.outputs)
                .map(|r| {
                    let row = &d.weights[r * v.len()..(r + 1) * v.len()];
                    let s = row
                        .iter()
                        .zip(&v)
                        .fold(f64::from(d.bias[r]), |s, (&w, &x)| s + f64::from(w) * x);
                    match shape.activation {
                        Activation::Relu6 => s.clamp(0.0, 6.0),
                        Activation::Tanh => s.tanh(),
                        _ => s,
                    }
                })
                .collect();
        }
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = v.iter().map(|&z| (z - max).exp()).sum();
        for (z, &e) in v.iter().zip(e) {
            worst = worst.max((((z - max).exp() / sum) as f32 - e).abs());
        }
    }
    assert!(worst <= F32_BOUND, "max |dp| = {worst}");
}

fn bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-trainer"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `import MODEL --out DIR/m.nnm`, then `predict --npy IN --out DIR/out.npy`: the output.
fn import_and_predict(dir: &Path, model: &Path, input: &Path) -> Array {
    let nnm = dir.join("m.nnm");
    let out = dir.join("out.npy");
    ok(&bin(&["import", s(model), "--out", s(&nnm)]));
    ok(&bin(&[
        "predict",
        "--model",
        s(&nnm),
        "--npy",
        s(input),
        "--out",
        s(&out),
    ]));
    read_npy(&out)
}

#[test]
fn cli_int8_outputs_are_tflites_bytes() {
    let dir = tempfile::tempdir().unwrap();
    for (model, input, expected) in int8_fixtures() {
        let ours = import_and_predict(dir.path(), &model, &input);
        assert_eq!(ours, read_npy(&expected), "{}", model.display());
    }
}

#[test]
fn cli_float32_outputs_are_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let ours = import_and_predict(
        dir.path(),
        &fixture("mix3_f32.tflite"),
        &fixture("mix3_f32.in.npy"),
    );
    let expected = read_npy(&fixture("mix3_f32.out.npy"));
    assert_eq!(ours.shape, expected.shape);
    let worst = f32_data(&ours)
        .iter()
        .zip(f32_data(&expected))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= F32_BOUND, "max |dp| = {worst}");
}

#[test]
fn an_operator_outside_the_family_is_named_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.nnm");
    let o = bin(&["import", s(&fixture("elu_f32.tflite")), "--out", s(&out)]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("operator ELU (operator 2 of 3) is not supported"),
        "{stderr}"
    );
    assert!(!out.exists());
}

const PIXELS: usize = 784;

/// The firmware's 100 test digits, as `tests/fixtures/tflite/make.py` fed them to TFLite.
fn digits() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/data/t10k-100-images.bin");
    std::fs::read(path).expect("the firmware's 100 images")
}

fn tflite_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tflite")
        .join(name)
}

fn write_npy(path: &Path, shape: Vec<usize>, data: Data) {
    std::fs::write(path, npy::encode(&Array { shape, data })).unwrap();
}

fn predict_npy(model: &Path, input: &Path, out: &Path) -> Output {
    bin(&[
        "predict",
        "--model",
        s(model),
        "--npy",
        s(input),
        "--out",
        s(out),
    ])
}

#[test]
fn predict_npy_takes_pixels_int8_and_float32_into_an_int8_model() {
    let dir = tempfile::tempdir().unwrap();
    let nnm = dir.path().join("m.nnm");
    ok(&bin(&[
        "import",
        s(&tflite_fixture("relu32_int8.tflite")),
        "--out",
        s(&nnm),
    ]));
    let pixels = digits();
    let expected: Vec<i8> = std::fs::read(tflite_fixture("relu32_int8.out"))
        .unwrap()
        .into_iter()
        .map(|b| b as i8)
        .collect();
    let inputs = [
        Data::U8(pixels.clone()),
        Data::I8(pixels.iter().map(|&p| (i16::from(p) - 128) as i8).collect()),
        // pixel / 255, quantised by the model's input tensor (1/255, -128) back to the same.
        Data::F32(pixels.iter().map(|&p| f32::from(p) / 255.0).collect()),
    ];
    for data in inputs {
        let dtype = data.dtype();
        let (input, out) = (dir.path().join("in.npy"), dir.path().join("out.npy"));
        write_npy(&input, vec![100, PIXELS], data);
        ok(&predict_npy(&nnm, &input, &out));
        let ours = read_npy(&out);
        assert_eq!(ours.shape, [100, 10], "{dtype:?}");
        assert_eq!(int8_data(&ours), expected, "{dtype:?}");
    }
}

#[test]
fn predict_npy_gives_a_float32_model_float32() {
    let dir = tempfile::tempdir().unwrap();
    let nnm = dir.path().join("m.nnm");
    ok(&bin(&[
        "import",
        s(&tflite_fixture("relu32_f32.tflite")),
        "--out",
        s(&nnm),
    ]));
    let expected: Vec<f32> = std::fs::read(tflite_fixture("relu32_f32.out"))
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let pixels = digits();
    for data in [
        Data::U8(pixels.clone()),
        Data::F32(pixels.iter().map(|&p| f32::from(p) / 255.0).collect()),
    ] {
        let (input, out) = (dir.path().join("in.npy"), dir.path().join("out.npy"));
        write_npy(&input, vec![100, PIXELS], data);
        ok(&predict_npy(&nnm, &input, &out));
        let ours = read_npy(&out);
        assert_eq!(ours.shape, [100, 10]);
        let worst = f32_data(&ours)
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= F32_BOUND, "max |dp| = {worst}");
    }
}

/// `predict --npy` on `bytes` fails in one line containing `needle`, and writes nothing.
fn refused(model: &Path, dir: &Path, bytes: &[u8], needle: &str) {
    let (input, out) = (dir.join("bad.npy"), dir.join("bad-out.npy"));
    std::fs::write(&input, bytes).unwrap();
    let o = predict_npy(model, &input, &out);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "accepted; wanted {needle}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains(needle),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn predict_npy_refuses_bad_arrays_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let nnm = dir.path().join("m.nnm");
    ok(&bin(&[
        "import",
        s(&tflite_fixture("relu32_f32.tflite")),
        "--out",
        s(&nnm),
    ]));
    let good = npy::encode(&Array {
        shape: vec![2, PIXELS],
        data: Data::U8(vec![0; 2 * PIXELS]),
    });
    let encode = |shape: Vec<usize>, data| npy::encode(&Array { shape, data });
    let d = dir.path();
    refused(
        &nnm,
        d,
        &encode(vec![2, PIXELS], Data::I8(vec![0; 2 * PIXELS])),
        "int8 input is an already quantised tensor for int8 models",
    );
    refused(
        &nnm,
        d,
        &encode(vec![2, 2, PIXELS / 2], Data::U8(vec![0; 2 * PIXELS])),
        "shape [2, 2, 392]: expected a 2-D array",
    );
    refused(
        &nnm,
        d,
        &encode(vec![PIXELS], Data::U8(vec![0; PIXELS])),
        "expected a 2-D array",
    );
    refused(
        &nnm,
        d,
        &encode(vec![2, 10], Data::F32(vec![0.0; 20])),
        "10 columns, but the model takes 784 inputs",
    );
    refused(&nnm, d, &good[..good.len() - 1], "truncated");
    let order = b"'fortran_order': False";
    let at = good
        .windows(order.len())
        .position(|w| w == order)
        .expect("the header names its order");
    let mut bytes = good.clone();
    bytes[at..at + order.len()].copy_from_slice(b"'fortran_order': True ");
    refused(&nnm, d, &bytes, "Fortran order");
    let mut nan = vec![0.5f32; 2 * PIXELS];
    nan[PIXELS + 3] = f32::NAN;
    refused(
        &nnm,
        d,
        &encode(vec![2, PIXELS], Data::F32(nan)),
        "row 1: input 3 is NaN",
    );
    refused(&nnm, d, b"not an array", "not a .npy file");
}

#[test]
fn predict_npy_never_writes_onto_its_input_or_model() {
    let dir = tempfile::tempdir().unwrap();
    let nnm = dir.path().join("m.nnm");
    ok(&bin(&[
        "import",
        s(&tflite_fixture("relu32_f32.tflite")),
        "--out",
        s(&nnm),
    ]));
    let input = dir.path().join("in.npy");
    write_npy(&input, vec![1, PIXELS], Data::U8(vec![7; PIXELS]));
    let (before_in, before_model) = (std::fs::read(&input).unwrap(), std::fs::read(&nnm).unwrap());
    for (out, flag) in [(&input, "--npy"), (&nnm, "--model")] {
        let o = predict_npy(&nnm, &input, out);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert!(
            stderr.starts_with(&format!("error: {flag} and --out both name ")),
            "{stderr}"
        );
    }
    assert_eq!(std::fs::read(&input).unwrap(), before_in);
    assert_eq!(std::fs::read(&nnm).unwrap(), before_model);
}

/// A tiny int8 TFLite flatbuffer: `ops` are (builtin code, inputs, outputs), every
/// FULLY_CONNECTED with fused NONE; `tensors` are (shape, type, buffer, scale, zero point).
fn tiny_int8(
    ops: &[(i32, &[i32], &[i32])],
    tensors: &[(&[i32], i8, u32, f32, i64)],
    buffers: &[&[u8]],
) -> Vec<u8> {
    use flatbuffers::{FlatBufferBuilder, WIPOffset};
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
        .map(|(i, &(shape, ty, buffer, scale, zero_point))| {
            let shape = b.create_vector(shape);
            let name = b.create_string(&format!("t{i}"));
            let scales = b.create_vector(&[scale]);
            let zero_points = b.create_vector(&[zero_point]);
            let q = b.start_table();
            b.push_slot_always::<WIPOffset<_>>(8, scales);
            b.push_slot_always::<WIPOffset<_>>(10, zero_points);
            let q = b.end_table(q);
            let t = b.start_table();
            b.push_slot_always::<WIPOffset<_>>(4, shape);
            b.push_slot::<i8>(6, ty, 0);
            b.push_slot::<u32>(8, buffer, 0);
            b.push_slot_always::<WIPOffset<_>>(10, name);
            b.push_slot_always::<WIPOffset<_>>(12, q);
            b.end_table(t)
        })
        .collect();
    let tensors = b.create_vector(&tensors);
    let operators: Vec<_> = ops
        .iter()
        .enumerate()
        .map(|(i, &(code, inputs, outputs))| {
            let options = (code == 9).then(|| {
                let t = b.start_table();
                b.push_slot::<i8>(4, 0, 0);
                b.end_table(t)
            });
            let inputs = b.create_vector(inputs);
            let outputs = b.create_vector(outputs);
            let t = b.start_table();
            b.push_slot::<u32>(4, i as u32, 0);
            b.push_slot_always::<WIPOffset<_>>(6, inputs);
            b.push_slot_always::<WIPOffset<_>>(8, outputs);
            if let Some(options) = options {
                b.push_slot::<u8>(10, 8, 0);
                b.push_slot_always::<WIPOffset<_>>(12, options);
            }
            b.end_table(t)
        })
        .collect();
    let operators = b.create_vector(&operators);
    let inputs = b.create_vector(&[ops[0].1[0]]);
    let outputs = b.create_vector(&[ops[ops.len() - 1].2[0]]);
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

/// int8 `FULLY_CONNECTED(2 -> 2)` then operator `code`, whose output is quantised
/// `(scale, zero_point)`; the FULLY_CONNECTED's output is (0.25, -10).
fn fc_then(code: i32, scale: f32, zero_point: i64) -> Vec<u8> {
    const FULLY_CONNECTED: i32 = 9;
    const INT8: i8 = 9;
    tiny_int8(
        &[(FULLY_CONNECTED, &[0, 1], &[2]), (code, &[2], &[3])],
        &[
            (&[1, 2], INT8, 0, 1.0, 0),
            (&[2, 2], INT8, 1, 0.5, 0),
            (&[1, 2], INT8, 0, 0.25, -10),
            (&[1, 2], INT8, 0, scale, zero_point),
        ],
        &[&[], &[1, 2, 3, 4]],
    )
}

#[test]
fn a_separate_int8_relu_folds_only_when_it_keeps_the_quantisation() {
    const RELU: i32 = 19;
    const RELU6: i32 = 21;
    const LOGISTIC: i32 = 14;
    const TANH: i32 = 28;
    for (code, activation) in [(RELU, Activation::Relu), (RELU6, Activation::Relu6)] {
        let net = import::parse(&fc_then(code, 0.25, -10)).expect("folds");
        assert_eq!(net.layers[0].activation, activation);
        let e = import::parse(&fc_then(code, 0.5, -10))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("after FULLY_CONNECTED 1 changes the quantisation") && !e.contains('\n'),
            "{e}"
        );
    }
    let net = import::parse(&fc_then(LOGISTIC, 1.0 / 256.0, -128)).expect("a sigmoid");
    assert_eq!(net.layers[0].activation, Activation::Sigmoid);
    let net = import::parse(&fc_then(TANH, 1.0 / 128.0, 0)).expect("a tanh");
    assert_eq!(net.layers[0].activation, Activation::Tanh);
    for (code, name) in [(LOGISTIC, "LOGISTIC"), (TANH, "TANH")] {
        let e = import::parse(&fc_then(code, 0.25, -10))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!(
                "{name} output quantised with scale 0.25 zero point -10"
            )),
            "{e}"
        );
    }
}
