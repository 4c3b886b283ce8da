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
use nn_core::network::Model;
use nn_data::npy::{self, Array, Data, Dtype};
use nn_data::read::{read_capped, show};

use crate::model::HostModel;

/// The largest `.npy` input read (1 GiB: 340,000 rows of 784 float32 inputs); the cap keeps
/// a wrong path (a disk image, /dev/zero) from filling memory.
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
    let model = HostModel::load_any(model_path)?;
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
    let model = model.model();
    let (inputs, outputs) = (model.inputs(), model.outputs());
    let int8 = matches!(model, Model::I8(_));
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
    let mut scratch = vec![0.0f32; model.scratch_len()];
    let mut out_i8 = vec![0i8; if int8 { rows * outputs } else { 0 }];
    let mut out_f32 = vec![0.0f32; if int8 { 0 } else { rows * outputs }];
    for r in 0..rows {
        let span = r * inputs..(r + 1) * inputs;
        let row = match &array.data {
            Data::U8(v) => Rows::Pixels(&v[span]),
            Data::I8(v) => Rows::Int8(&v[span]),
            Data::F32(v) => Rows::Float(&v[span]),
        };
        let done = match (&model, row) {
            (Model::I8(m), row) => {
                let y = &mut out_i8[r * outputs..(r + 1) * outputs];
                match row {
                    Rows::Pixels(p) => model.predict_pixels_i8(p, &mut scratch, y),
                    Rows::Int8(q) => model.predict_i8(q, &mut scratch, y),
                    Rows::Float(x) => {
                        let q = quantize(x, m.input).with_context(|| format!("row {r}"))?;
                        model.predict_i8(&q, &mut scratch, y)
                    }
                }
            }
            (Model::F32(_), row) => {
                let y = &mut out_f32[r * outputs..(r + 1) * outputs];
                match row {
                    Rows::Pixels(p) => model.predict_pixels(p, &mut scratch, y),
                    Rows::Float(x) => {
                        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
                            bail!("row {r}: input {i} is {}, not a finite number", x[i]);
                        }
                        model.predict(x, &mut scratch, y)
                    }
                    Rows::Int8(_) => bail!("int8 input into a float32 model"),
                }
            }
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
