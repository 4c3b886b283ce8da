//! `host-trainer predict --model M --npy IN.npy --out OUT.npy`: raw tensors in, raw tensors
//! out, row by row, for the Python side.
//!
//! `IN.npy` is `N × inputs` in C order:
//! - uint8: 0–255 pixels, through the model's input scaling (an int8 model takes them as
//!   `q = pixel - 128`), as `predict` does for images;
//! - int8: an already quantised input tensor, for int8 models only;
//! - float32: the model's real-valued input (an int8 model quantises it with its input
//!   tensor's scale and zero point, as TFLite's QUANTIZE).
//!
//! `OUT.npy` is `N × outputs` in the model's own output type: the int8 output tensor of an
//! int8 model, float32 otherwise. It is written atomically and never onto the model or the
//! input.

use std::path::Path;

use anyhow::{Context, Result, bail};
use nn_core::TensorQuant;
use nn_data::npy::{self, Array, Data, Dtype};
use nn_data::read::{read_capped, show};

use crate::model::{Classifier, HostModel};

/// The largest `.npy` input read: a million 784-pixel rows in float32 is 3.1 GB, well past
/// what a command-line check needs; the cap keeps a wrong path from filling memory.
pub const MAX_NPY_BYTES: u64 = 1 << 30;

/// What one model run takes, row by row.
enum Rows<'a> {
    Pixels(&'a [u8]),
    Int8(&'a [i8]),
    Float(&'a [f32]),
}

/// `predict --npy IN --out OUT` with the model file at `model_path`.
///
/// # Errors
/// One line: the files' problems (naming the file), a dtype or shape the model cannot take,
/// or the write's error.
pub fn run(model_path: &Path, input: &Path, out: &Path) -> Result<()> {
    crate::files::atomic::check_distinct(("--npy", input), ("--out", out))?;
    crate::files::atomic::check_distinct(("--model", model_path), ("--out", out))?;
    let model = HostModel::load(model_path)?;
    let name = show(input);
    let bytes = read_capped(input, MAX_NPY_BYTES, "a .npy file").with_context(|| name.clone())?;
    let array = npy::parse(&bytes).with_context(|| name.clone())?;
    crate::files::atomic::check_writable(out, "--out")?;
    let result = predict(&model, &array).with_context(|| name.clone())?;
    crate::files::atomic::write(out, &npy::encode(&result))
        .with_context(|| format!("--out {}", show(out)))
}

/// The outputs for every row of `array` (see the module docs).
///
/// # Errors
/// A shape or dtype the model cannot take, or nn-core's error on a row (a non-finite input).
pub fn predict(model: &HostModel, array: &Array) -> Result<Array> {
    let [inputs, outputs] = [model.shape()[0], model.shape()[2]];
    let int8 = model.element() == nn_core::format::ElementType::I8;
    let rows = match array.shape[..] {
        [rows, cols] if cols == inputs => rows,
        [_, cols] => bail!(
            "{cols} columns, but the model takes {inputs} inputs (the array must be N × {inputs})"
        ),
        ref shape => bail!(
            "shape {shape:?}: expected a 2-D array, N rows × {inputs} inputs (numpy.reshape(-1, {inputs}))"
        ),
    };
    if array.data.dtype() == Dtype::I8 && !int8 {
        bail!(
            "int8 input is an already quantised tensor for int8 models, and this model is \
             float32; give float32 values or uint8 pixels"
        );
    }
    let classifier = model.classifier();
    let mut out_i8 = vec![0i8; if int8 { rows * outputs } else { 0 }];
    let mut out_f32 = vec![0.0f32; if int8 { 0 } else { rows * outputs }];
    for r in 0..rows {
        let span = r * inputs..(r + 1) * inputs;
        let row = match &array.data {
            Data::U8(v) => Rows::Pixels(&v[span]),
            Data::I8(v) => Rows::Int8(&v[span]),
            Data::F32(v) => Rows::Float(&v[span]),
        };
        let done = if int8 {
            run_i8(
                &classifier,
                row,
                &mut out_i8[r * outputs..(r + 1) * outputs],
            )
        } else {
            run_f32(
                &classifier,
                row,
                &mut out_f32[r * outputs..(r + 1) * outputs],
            )
        };
        done.with_context(|| format!("row {r}"))?;
    }
    Ok(Array {
        shape: vec![rows, outputs],
        data: if int8 {
            Data::I8(out_i8)
        } else {
            Data::F32(out_f32)
        },
    })
}

// The two functions below are the seam to nn-core's `Model` (`predict_pixels`, `predict_i8`,
// `predict`): until it lands they run today's depth-2 classifiers, feeding an int8 input
// `q` as the pixel `q + 128`, which nn-core's int8 models take as exactly `q`.

/// An int8 model's int8 output tensor for one row.
fn run_i8(classifier: &Classifier<'_>, row: Rows<'_>, out: &mut [i8]) -> Result<()> {
    let Classifier::I8(mlp) = classifier else {
        bail!("not an int8 model");
    };
    let input = mlp.model().input_quant;
    let pixels: Vec<u8> = match row {
        Rows::Pixels(p) => p.to_vec(),
        Rows::Int8(q) => q.iter().map(|&q| (i16::from(q) + 128) as u8).collect(),
        Rows::Float(x) => quantize(x, input)?
            .into_iter()
            .map(|q| (i16::from(q) + 128) as u8)
            .collect(),
    };
    let m = mlp.model();
    let mut scratch = vec![0i8; m.input + m.hidden + m.output];
    mlp.predict_pixels_into(&pixels, &mut scratch, out)?;
    Ok(())
}

/// A float32 model's output for one row.
fn run_f32(classifier: &Classifier<'_>, row: Rows<'_>, out: &mut [f32]) -> Result<()> {
    let Classifier::F32(mlp) = classifier else {
        bail!("not a float32 model");
    };
    let x: Vec<f32> = match row {
        Rows::Pixels(p) => {
            let mut x = vec![0.0; p.len()];
            mlp.scaling.apply(p, &mut x);
            x
        }
        Rows::Float(x) => x.to_vec(),
        Rows::Int8(_) => bail!("int8 input into a float32 model"),
    };
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        bail!("input {i} is {}, not a finite number", x[i]);
    }
    let mut hidden = vec![0.0; mlp.hidden];
    mlp.predict_into(&x, &mut hidden, out)?;
    Ok(())
}

/// TFLite's QUANTIZE of `x` into `q`: `round(x / scale) + zero_point` in f32, rounded half
/// away from zero, clamped to int8.
fn quantize(x: &[f32], q: TensorQuant) -> Result<Vec<i8>> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            if !v.is_finite() {
                bail!("input {i} is {v}, not a finite number");
            }
            let r = (v / q.scale).round() + q.zero_point as f32;
            Ok(r.clamp(-128.0, 127.0) as i8)
        })
        .collect()
}
