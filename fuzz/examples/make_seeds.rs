//! Writes the seed corpora into `fuzz/seeds/<target>/`: small valid inputs of each kind, so
//! libFuzzer starts from bytes that get past the magic numbers and checksums.
//!
//! `cd fuzz && cargo run --example make_seeds` (scripts/fuzz.sh runs it when seeds are missing).

use std::fs;
use std::io::Cursor;
use std::path::Path;

use nn_core::format::{
    Header, encode, encode_i8, encode_model, encode_named, encoded_len, encoded_len_i8,
    encoded_len_model, encoded_len_named,
};
use nn_core::lut::{logistic_table, tanh_table};
use nn_core::model_i8::{DenseI8, MlpI8, TensorQuant};
use nn_core::network::{LayerF32, LayerI8, Layers, Model, ModelF32, ModelI8};
use nn_core::protocol::{
    MAX_FRAME, Request, Response, ResponseBody, TensorElement, TensorRequest, TensorResponse,
    encode_request, encode_response, encode_tensor_request, encode_tensor_response,
    tensor_frame_len,
};
use nn_core::quant::{Requant, SoftmaxI8Params};
use nn_core::{Activation, InputScaling};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let write = |target: &str, name: &str, bytes: &[u8]| -> std::io::Result<()> {
        let dir = root.join(target);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(name), bytes)
    };

    // Model files: the 2-3-2 shape the fuzz target views as a typed model, and a 4-2-3 one.
    for (name, shape, hidden, scaling) in [
        (
            "mlp-2-3-2-sigmoid",
            [2, 3, 2],
            Activation::Sigmoid,
            InputScaling::RAW,
        ),
        (
            "mlp-4-2-3-relu",
            [4, 2, 3],
            Activation::Relu,
            InputScaling::UNIT,
        ),
    ] {
        let header = Header::new(shape, hidden, Activation::Softmax, scaling)?;
        let [i, h, o] = shape;
        let ramp = |n: usize, k: f32| (0..n).map(|j| (j as f32 - k) * 0.25).collect::<Vec<_>>();
        let (w1, b1, w2, b2) = (
            ramp(h * i, 1.0),
            ramp(h, 0.5),
            ramp(o * h, 2.0),
            ramp(o, 0.0),
        );
        let mut out = vec![0u8; encoded_len(&header)?];
        let n = encode(&header, [&w1, &b1, &w2, &b2], &mut out)?;
        write("model_file", &format!("{name}.nnm"), &out[..n])?;
    }

    // Version 2: an f32 file with class names, and int8 files (ReLU with names, sigmoid
    // with its table) of the 2-3-2 shape the target views as typed models.
    let header = Header::new(
        [2, 3, 2],
        Activation::Relu,
        Activation::Softmax,
        InputScaling::UNIT,
    )?;
    let ramp = |n: usize| (0..n).map(|j| (j as f32 - 2.0) * 0.25).collect::<Vec<_>>();
    let (w1, b1, w2, b2) = (ramp(6), ramp(3), ramp(6), ramp(2));
    let names = ["zero", "one"];
    let mut out = vec![0u8; encoded_len_named(&header, &names)?];
    let n = encode_named(&header, &names, [&w1, &b1, &w2, &b2], &mut out)?;
    write("model_file", "mlp-2-3-2-relu-named.nnm", &out[..n])?;

    let requant = |m: f64| Requant::from_real(m).ok_or("multiplier");
    let r1 = [requant(0.004)?, requant(0.0021)?, requant(0.0007)?];
    let r2 = [requant(0.03)?, requant(0.011)?];
    let table: Vec<i8> = (0..256i32).map(|i| (i - 128) as i8).collect();
    let relu = MlpI8 {
        input: 2,
        hidden: 3,
        output: 2,
        hidden_activation: Activation::Relu,
        scaling: InputScaling::UNIT,
        input_quant: TensorQuant {
            scale: 1.0 / 255.0,
            zero_point: -128,
        },
        hidden_quant: TensorQuant {
            scale: 0.05,
            zero_point: -128,
        },
        logits_quant: TensorQuant {
            scale: 0.1,
            zero_point: 3,
        },
        softmax: SoftmaxI8Params::from_input_scale(0.1).ok_or("softmax")?,
        layer1: DenseI8 {
            weights: &[127, -127, 64, 32, 0, -5],
            bias: &[100, -200, 0],
            requant: &r1,
            weight_scales: &[0.01, 0.02, 0.03],
        },
        layer2: DenseI8 {
            weights: &[10, -20, 30, -127, 127, 1],
            bias: &[5, -5],
            requant: &r2,
            weight_scales: &[0.5, 0.25],
        },
        sigmoid_table: &[],
    };
    let sigmoid = MlpI8 {
        hidden_activation: Activation::Sigmoid,
        sigmoid_table: &table,
        ..relu
    };
    for (name, model, names) in [
        ("int8-2-3-2-relu-named.nnm", &relu, &["cat", "dog"][..]),
        ("int8-2-3-2-sigmoid.nnm", &sigmoid, &[][..]),
    ] {
        let mut out = vec![0u8; encoded_len_i8(model, names)?];
        let n = encode_i8(model, names, &mut out)?;
        write("model_file", name, &out[..n])?;
    }

    // Version 3: depth 3 in f32 (relu6, tanh, identity, softmax, named) and in int8 (tanh,
    // relu6, sigmoid, no softmax: the output is the int8 tensor).
    let sizes = [5usize, 4, 3, 2];
    let acts = [Activation::Relu6, Activation::Tanh, Activation::Identity];
    let ramp = |n: usize, k: f32| (0..n).map(|j| (j as f32 - k) * 0.125).collect::<Vec<_>>();
    let weights: Vec<Vec<f32>> = sizes.windows(2).map(|p| ramp(p[0] * p[1], 3.0)).collect();
    let biases: Vec<Vec<f32>> = sizes.windows(2).map(|p| ramp(p[1], 1.0)).collect();
    let mut layers = Layers::new();
    for (i, p) in sizes.windows(2).enumerate() {
        layers.push(LayerF32 {
            weights: &weights[i],
            bias: &biases[i],
            inputs: p[0],
            outputs: p[1],
            activation: acts[i],
        })?;
    }
    let f32_model = Model::F32(ModelF32 {
        layers,
        softmax: true,
        scaling: InputScaling::UNIT,
    });
    let acts = [Activation::Tanh, Activation::Relu6, Activation::Sigmoid];
    let outputs = [
        TensorQuant {
            scale: 0.02,
            zero_point: 5,
        },
        TensorQuant {
            scale: 0.05,
            zero_point: -128,
        },
        TensorQuant {
            scale: 0.1,
            zero_point: -3,
        },
    ];
    let tables = [
        tanh_table(outputs[0]).to_vec(),
        Vec::new(),
        logistic_table(outputs[2]).to_vec(),
    ];
    let wq: Vec<Vec<i8>> = sizes
        .windows(2)
        .map(|p| {
            (0..p[0] * p[1])
                .map(|j| (j as i32 * 37 % 255 - 127) as i8)
                .collect()
        })
        .collect();
    let bq: Vec<Vec<i32>> = sizes
        .windows(2)
        .map(|p| (0..p[1] as i32).map(|j| 100 * j - 150).collect())
        .collect();
    let rq: Vec<Vec<Requant>> = sizes
        .windows(2)
        .map(|p| (0..p[1]).map(|j| requant(0.001 * (j + 1) as f64)).collect())
        .collect::<Result<_, _>>()?;
    let sq: Vec<Vec<f32>> = sizes.windows(2).map(|p| vec![0.01; p[1]]).collect();
    let mut layers = Layers::new();
    for (i, p) in sizes.windows(2).enumerate() {
        layers.push(LayerI8 {
            weights: &wq[i],
            bias: &bq[i],
            requant: &rq[i],
            weight_scales: &sq[i],
            inputs: p[0],
            outputs: p[1],
            output: outputs[i],
            activation: acts[i],
            table: &tables[i],
        })?;
    }
    let i8_model = Model::I8(ModelI8 {
        layers,
        input: TensorQuant {
            scale: 1.0 / 255.0,
            zero_point: -128,
        },
        softmax: None,
        scaling: InputScaling::UNIT,
        packed: &[],
    });
    for (name, model, names) in [
        ("v3-f32-5-4-3-2-named.nnm", &f32_model, &["yes", "no"][..]),
        ("v3-int8-5-4-3-2-raw.nnm", &i8_model, &[][..]),
    ] {
        let mut out = vec![0u8; encoded_len_model(model, names)?];
        let file = encode_model(model, names, &mut out)?;
        write("model_file", name, file)?;
    }

    // Frames: a request, a prediction and an error response, and all three on one line.
    let mut pixels = [0u8; 784];
    for (j, p) in pixels.iter_mut().enumerate() {
        *p = if (j / 28) % 7 < 3 {
            255
        } else {
            (j % 251) as u8
        };
    }
    let mut buf = [0u8; MAX_FRAME];
    let request = encode_request(&Request { id: 7, pixels }, &mut buf)?.to_vec();
    let prediction = Response {
        id: 7,
        body: ResponseBody::Prediction {
            class: 3,
            probabilities: [0.05, 0.05, 0.05, 0.55, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05],
        },
    };
    let prediction = encode_response(&prediction, &mut buf)?.to_vec();
    let error = Response {
        id: 0,
        body: ResponseBody::Error(nn_core::protocol::FrameError::BadCrc),
    };
    let error = encode_response(&error, &mut buf)?.to_vec();
    // A sparse digit (a bar on blank), which travels as zero runs (protocol version 2).
    let sparse: [u8; 784] = core::array::from_fn(|j| if j % 28 == 14 { 200 } else { 0 });
    let mut sparse_buf = [0u8; MAX_FRAME];
    let sparse = encode_request(
        &Request {
            id: 8,
            pixels: sparse,
        },
        &mut sparse_buf,
    )?;
    write("frame", "request", &request)?;
    write("frame", "request-zero-runs", sparse)?;
    write("frame", "prediction", &prediction)?;
    write("frame", "error-response", &error)?;
    // Raw tensors (protocol version 3): 640 int8 inputs, 8 f32 outputs.
    let inputs: Vec<u8> = (0..640).map(|j| (j * 37 % 256) as u8).collect();
    let mut tensor_buf = vec![0u8; tensor_frame_len(inputs.len())];
    let tensor_request = encode_tensor_request(
        &TensorRequest {
            id: 9,
            element: TensorElement::I8,
            data: &inputs,
        },
        &mut tensor_buf,
    )?
    .to_vec();
    let outputs: Vec<u8> = [0.5f32, -1.25, 3.0, 0.0, 1e-3, -7.5, 2.0, 0.25]
        .iter()
        .flat_map(|y| y.to_le_bytes())
        .collect();
    let tensor_response = encode_tensor_response(
        &TensorResponse {
            id: 9,
            element: TensorElement::F32,
            data: &outputs,
        },
        &mut tensor_buf,
    )?
    .to_vec();
    write("frame", "tensor-request", &tensor_request)?;
    write("frame", "tensor-response", &tensor_response)?;
    write(
        "frame",
        "stream",
        &[&b"garbage"[..], &[0], &request, &prediction, &error].concat(),
    )?;

    // IDX: two 28×28 images and their labels.
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
    images.extend(pixels.iter().chain(pixels.iter().rev()));
    write("idx", "images-2", &images)?;
    write("idx", "labels-2", &[0, 0, 8, 1, 0, 0, 0, 2, 7, 2])?;

    // Images: a small dark "7" on white in each format `predict` reads, and one inverted.
    let seven = image::GrayImage::from_fn(16, 20, |x, y| {
        let ink = y < 3 && x > 2 || (y >= 3 && x + y / 2 >= 12 && x + y / 2 <= 14);
        image::Luma([if ink { 20 } else { 240 }])
    });
    let inverted =
        image::GrayImage::from_fn(16, 20, |x, y| image::Luma([255 - seven[(x, y)].0[0]]));
    for (name, img, format) in [
        ("seven.png", &seven, image::ImageFormat::Png),
        ("seven.jpg", &seven, image::ImageFormat::Jpeg),
        ("seven.pgm", &seven, image::ImageFormat::Pnm),
        ("seven-inverted.png", &inverted, image::ImageFormat::Png),
    ] {
        let mut bytes = Cursor::new(Vec::new());
        img.write_to(&mut bytes, format)?;
        write("preprocess", name, bytes.get_ref())?;
    }
    Ok(())
}
