//! Post-training quantisation: an f32 model file into TensorFlow Lite's int8 scheme (the
//! arithmetic is nn-core's, see `nn_core::model_i8`), and the int8 model's evaluation.
//!
//! 1. Read the f32 model and its class names.
//! 2. Calibrate: run the f32 model on the first N training images and record the range of
//!    the hidden layer's output (after a ReLU; a sigmoid's input, clipped to
//!    ±[`SIGMOID_RANGE`]) and of the logits. Min/max: on MNIST it keeps every preset within
//!    0.3 points of f32 (README), so no percentile is needed.
//! 3. Choose each activation's int8 quantisation from its range, widened to hold 0 (TFLite's
//!    asymmetric scheme: 256 steps from min to max, the zero point the int8 value of 0).
//!    The input is `q = pixel - 128` with scale `scaling.scale`, zero point -128; the scaling's
//!    offset moves into the first bias (`b1 + offset Σ_c W1[r, c]`), so it stays exact.
//! 4. Quantise each weight row symmetrically: scale `max |w| / 127`, `q = round(w / scale)`.
//! 5. Biases to int32 at scale `input scale × weight scale`; each row's requantisation pair
//!    `Requant::from_real(input scale × weight scale / output scale)`; a sigmoid's 256-entry
//!    table (TFLite LOGISTIC: output scale 1/256, zero point -128); softmax's parameters from
//!    the logits' scale.
//! 6. Write the int8 file (through [`crate::model::write`]: loaded as `eval` would load it
//!    first) and evaluate both models on the 10,000 test images.

use anyhow::{Context, Result, bail};
use nn_core::format::{ModelFile, QuantHeader};
use nn_core::kernels;
use nn_core::lut;
use nn_core::quant::{Requant, SoftmaxI8Params};
use nn_core::{Activation, MlpI8, MlpSlices, TensorQuant};
use rayon::prelude::*;

use crate::convert::int8_model::{QuantizedLayer, QuantizedModel};
use crate::model::AlignedBytes;
use nn_data::PIXELS;

/// Training images the activation ranges are measured on, by default.
pub const DEFAULT_CALIBRATION: usize = 2000;

/// A sigmoid's int8 output moves in steps of 1/256, so it is 0 or 1 for every pre-activation
/// beyond ±ln 511 ≈ ±6.24: the pre-activation's range is clipped to this, which spends the 256
/// int8 steps where the output changes (the seed preset's raw pixels reach ±hundreds).
pub const SIGMOID_RANGE: f32 = 8.0;

/// The range `[min, max]` of what calibration saw.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Range {
    min: f32,
    max: f32,
}

impl Range {
    const EMPTY: Self = Self {
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
    };

    fn add(&mut self, values: &[f32]) {
        for &v in values {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }

    fn merge(self, other: Self) -> Self {
        Self {
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }

    /// TFLite's asymmetric int8 quantisation of `[min, max]` widened to hold 0: 255 steps
    /// from min to max, the zero point the int8 value nearest to 0.
    fn quant(self) -> TensorQuant {
        let (mut min, mut max) = (self.min.min(0.0), self.max.max(0.0));
        if !(min.is_finite() && max.is_finite()) {
            (min, max) = (0.0, 1.0);
        }
        if max - min < 1e-6 {
            max = min + 1e-6;
        }
        let scale = (max - min) / 255.0;
        let zero_point = (-128.0 - f64::from(min) / f64::from(scale)).round() as i32;
        TensorQuant {
            scale,
            zero_point: zero_point.clamp(-128, 127),
        }
    }
}

/// Runs the f32 model on `images` (`m.input` bytes each) and returns the ranges of the hidden layer's output (after
/// a ReLU, before a sigmoid) and of the logits.
fn calibrate(m: &MlpSlices<'_>, images: &[u8]) -> [Range; 2] {
    images
        .par_chunks(m.input.max(1))
        .fold(
            || {
                (
                    vec![0.0f32; m.input],
                    vec![0.0f32; m.hidden],
                    vec![0.0f32; m.output],
                    [Range::EMPTY; 2],
                )
            },
            |(mut x, mut h, mut logits, mut ranges), pixels| {
                m.scaling.apply(pixels, &mut x);
                kernels::gemv_bias(m.w1, &x, m.b1, &mut h);
                if m.hidden_activation == Activation::Relu {
                    kernels::relu(&mut h);
                }
                ranges[0].add(&h);
                if m.hidden_activation != Activation::Relu {
                    m.hidden_activation.apply(&mut h);
                }
                kernels::gemv_bias(m.w2, &h, m.b2, &mut logits);
                ranges[1].add(&logits);
                (x, h, logits, ranges)
            },
        )
        .map(|(_, _, _, ranges)| ranges)
        .reduce(
            || [Range::EMPTY; 2],
            |a, b| [a[0].merge(b[0]), a[1].merge(b[1])],
        )
}

/// Symmetric per-row int8: `(weights, scales)` with `scale = max |w| / 127` (1 for a row of
/// zeros, whose weights are all 0 whatever the scale).
fn quantize_rows(w: &[f32], rows: usize, cols: usize) -> (Vec<i8>, Vec<f32>) {
    let mut q = vec![0i8; rows * cols];
    let mut scales = vec![1.0f32; rows];
    for r in 0..rows {
        let row = &w[r * cols..(r + 1) * cols];
        let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if max > 0.0 {
            scales[r] = max / 127.0;
        }
        for (o, &v) in q[r * cols..(r + 1) * cols].iter_mut().zip(row) {
            *o = (f64::from(v) / f64::from(scales[r]))
                .round()
                .clamp(-127.0, 127.0) as i8;
        }
    }
    (q, scales)
}

/// One layer: weights per row, `bias` (f64, already holding any folded offset) at scale
/// `input scale × weight scale`, and the requantisation into `output`.
fn quantize_layer(
    w: &[f32],
    bias: &[f64],
    cols: usize,
    input: TensorQuant,
    output: TensorQuant,
) -> Result<QuantizedLayer> {
    let rows = bias.len();
    let (weights, weight_scales) = quantize_rows(w, rows, cols);
    let mut q_bias = Vec::with_capacity(rows);
    let mut requant = Vec::with_capacity(rows);
    for (r, (&b, &s)) in bias.iter().zip(&weight_scales).enumerate() {
        let bias_scale = f64::from(input.scale) * f64::from(s);
        let q = (b / bias_scale).round();
        if !(f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&q) {
            bail!("bias {r} ({b}) does not fit int32 at scale {bias_scale:e}");
        }
        q_bias.push(q as i32);
        let real = bias_scale / f64::from(output.scale);
        requant.push(
            Requant::from_real(real)
                .with_context(|| format!("row {r}: multiplier {real:e} has no int32 form"))?,
        );
    }
    Ok(QuantizedLayer {
        weights,
        bias: q_bias,
        requant,
        weight_scales,
        inputs: cols,
        output,
        activation: Activation::Identity,
        table: Vec::new(),
    })
}

/// Quantises the f32 model `m` with activation ranges measured on `calibration` (whole
/// images, 784 bytes each); `class_names` are carried over.
///
/// # Errors
/// A model int8 cannot run (a softmax hidden layer, a non-softmax output, a scaling that is
/// not positive), or a bias or multiplier out of int32's reach.
pub fn quantize(
    m: &MlpSlices<'_>,
    class_names: Vec<String>,
    calibration: &[u8],
) -> Result<QuantizedModel> {
    if !matches!(
        m.hidden_activation,
        Activation::Relu | Activation::Sigmoid | Activation::Identity
    ) || m.output_activation != Activation::Softmax
    {
        bail!(
            "int8 runs a ReLU, sigmoid or identity hidden layer and a softmax output, not {:?} and {:?}",
            m.hidden_activation,
            m.output_activation
        );
    }
    let scale = m.scaling.scale;
    if !(scale.is_finite() && scale > 0.0) {
        bail!("int8 needs a positive pixel scale, the model has {scale}");
    }
    if calibration.is_empty() || !calibration.len().is_multiple_of(m.input) {
        bail!("calibration needs at least one whole image");
    }

    // 2., 3.: activation ranges and quantisations.
    let [mut hidden_range, logits_range] = calibrate(m, calibration);
    if m.hidden_activation == Activation::Sigmoid {
        hidden_range.min = hidden_range.min.max(-SIGMOID_RANGE);
        hidden_range.max = hidden_range.max.min(SIGMOID_RANGE);
    }
    let input = TensorQuant {
        scale,
        zero_point: -128,
    };
    let hidden = hidden_range.quant();
    let logits = logits_range.quant();
    let activated = match m.hidden_activation {
        Activation::Sigmoid => TensorQuant::PROBABILITY,
        _ => hidden,
    };

    // 4., 5.: weights, biases, requantisation, table, softmax.
    let offset = f64::from(m.scaling.offset);
    let b1: Vec<f64> =
        m.b1.iter()
            .zip(m.w1.chunks(m.input.max(1)))
            .map(|(&b, row)| f64::from(b) + offset * row.iter().map(|&w| f64::from(w)).sum::<f64>())
            .collect();
    let b2: Vec<f64> = m.b2.iter().map(|&b| f64::from(b)).collect();
    let mut layer1 = quantize_layer(m.w1, &b1, m.input, input, hidden).context("layer 1")?;
    let layer2 = quantize_layer(m.w2, &b2, m.hidden, activated, logits).context("layer 2")?;
    let softmax = SoftmaxI8Params::from_input_scale(logits.scale)
        .with_context(|| format!("softmax of logits at scale {}", logits.scale))?;
    layer1.activation = m.hidden_activation;
    if m.hidden_activation == Activation::Sigmoid {
        layer1.table = lut::logistic_table(hidden).to_vec();
    }
    Ok(QuantizedModel {
        input,
        layers: vec![layer1, layer2],
        softmax: Some(softmax),
        scaling: m.scaling,
        class_names,
    })
}

/// Classes an int8 model gives `images` (784 bytes each), in order.
///
/// # Errors
/// Only if the model's sizes disagree with 28×28 images.
pub fn classify_i8(m: &MlpI8<'_>, images: &[u8]) -> Result<Vec<usize>, nn_core::Error> {
    let scratch_len = m.input + m.hidden + m.output;
    images
        .par_chunks(PIXELS)
        .map_init(
            || (vec![0i8; scratch_len], vec![0i8; m.output]),
            |(scratch, out), pixels| m.predict_pixels_into(pixels, scratch, out),
        )
        .collect()
}

/// Classes an f32 model gives `images` (784 bytes each), in order.
///
/// # Errors
/// Only if the model's sizes disagree with 28×28 images.
pub fn classify_f32(m: &MlpSlices<'_>, images: &[u8]) -> Result<Vec<usize>, nn_core::Error> {
    images
        .par_chunks(PIXELS)
        .map_init(
            || {
                (
                    vec![0.0f32; m.input],
                    vec![0.0f32; m.hidden],
                    vec![0.0f32; m.output],
                )
            },
            |(x, h, out), pixels| {
                m.scaling.apply(pixels, x);
                m.predict_into(x, h, out)
            },
        )
        .collect()
}

/// `inspect`'s lines about an int8 file's quantisation.
pub fn describe(q: &QuantHeader, m: Option<&MlpI8<'_>>) -> Vec<String> {
    let t = |t: TensorQuant| format!("scale {:e}, zero point {}", t.scale, t.zero_point);
    let mut lines = vec![
        format!("int8 input:  {} (q = pixel - 128)", t(q.input)),
        format!("int8 hidden: {}", t(q.hidden)),
        format!("int8 logits: {}", t(q.logits)),
        "int8 output: softmax, scale 1/256, zero point -128 (p = (q + 128) / 256)".to_owned(),
    ];
    if let Some(m) = m {
        for (name, l) in [("W1", &m.layer1), ("W2", &m.layer2)] {
            let (lo, hi) = l
                .weight_scales
                .iter()
                .fold((f32::INFINITY, 0.0f32), |(lo, hi), &s| {
                    (lo.min(s), hi.max(s))
                });
            lines.push(format!(
                "int8 {name}:     {} channels, weight scales {lo:e} to {hi:e}",
                l.weight_scales.len()
            ));
        }
        if !m.sigmoid_table.is_empty() {
            lines.push(
                "int8 sigmoid: 256-entry table (LOGISTIC, scale 1/256, zero point -128)".to_owned(),
            );
        }
    }
    lines
}

/// `inspect`'s extra lines for `file`: class names, and for int8 the quantisation.
pub fn inspect_lines(file: &ModelFile<'_>) -> Vec<String> {
    let mut lines = Vec::new();
    let names: Vec<&str> = file.class_names().into_iter().collect();
    if !names.is_empty() {
        lines.push(format!("classes:     {}", names.join(", ")));
    }
    if let Some(q) = file.quant_header() {
        let aligned = AlignedBytes::new(file.as_bytes());
        let m = ModelFile::parse(aligned.bytes())
            .ok()
            .and_then(|f| f.slices_i8().ok().map(|m| describe(q, Some(&m))));
        lines.extend(m.unwrap_or_else(|| describe(q, None)));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::InputScaling;

    /// A small LCG, so the test needs no data and no extra crate.
    fn lcg(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// A 6-5-3 model on pixels scaled with an offset (`x = p / 510 − 0.25`), quantised and run:
    /// the offset folded into b1 must leave int8 close to f32 (a lost offset moves every
    /// hidden unit by 0.25 Σw and breaks the agreement).
    #[test]
    fn a_scaling_with_an_offset_quantises_faithfully() {
        let mut next = lcg(7);
        for hidden_activation in [Activation::Relu, Activation::Sigmoid, Activation::Identity] {
            let mut weights = |n: usize, k: f64| -> Vec<f32> {
                (0..n).map(|_| ((next() - 0.5) * k) as f32).collect()
            };
            let (w1, b1, w2, b2) = (
                weights(30, 4.0),
                weights(5, 1.0),
                weights(15, 4.0),
                weights(3, 1.0),
            );
            let m = MlpSlices {
                w1: &w1,
                b1: &b1,
                w2: &w2,
                b2: &b2,
                input: 6,
                hidden: 5,
                output: 3,
                hidden_activation,
                output_activation: Activation::Softmax,
                scaling: InputScaling {
                    scale: 1.0 / 510.0,
                    offset: -0.25,
                },
            };
            let mut pixels = lcg(11);
            let images: Vec<u8> = (0..6 * 1000).map(|_| (pixels() * 256.0) as u8).collect();
            let q = quantize(&m, vec!["a".into(), "b".into()], &images[..6 * 200]).unwrap();
            assert_eq!(
                q.input,
                TensorQuant {
                    scale: 1.0 / 510.0,
                    zero_point: -128
                }
            );
            let bytes = q.encode().unwrap();
            let aligned = AlignedBytes::new(&bytes);
            let file = ModelFile::parse(aligned.bytes()).unwrap();
            assert_eq!(
                file.class_names().into_iter().collect::<Vec<_>>(),
                ["a", "b"]
            );
            let i8_model = file.slices_i8().unwrap();

            let (mut x, mut h, mut p) = ([0.0f32; 6], [0.0f32; 5], [0.0f32; 3]);
            let (mut scratch, mut out) = ([0i8; 14], [0i8; 3]);
            let (mut agree, mut worst) = (0, 0.0f32);
            for image in images.chunks(6) {
                for (xi, &px) in x.iter_mut().zip(image) {
                    *xi = f32::from(px) / 510.0 - 0.25;
                }
                let class = m.predict_into(&x, &mut h, &mut p).unwrap();
                let class_i8 = i8_model
                    .predict_pixels_into(image, &mut scratch, &mut out)
                    .unwrap();
                agree += usize::from(class == class_i8);
                for (pf, &qi) in p.iter().zip(&out) {
                    worst = worst.max((pf - TensorQuant::PROBABILITY.dequantize(qi)).abs());
                }
            }
            // Three classes of random weights have many near ties; int8 still agrees on
            // almost all, and no probability is off by 0.1 (measured: 0.07 at worst, for the
            // identity's signed hidden range). A lost offset or a wrong zero point shifts
            // whole layers and fails both by far.
            eprintln!("{hidden_activation:?}: {agree}/1000 agree, worst {worst}");
            assert!(agree >= 950, "{hidden_activation:?}: {agree}/1000 agree");
            assert!(
                worst < 0.1,
                "{hidden_activation:?}: worst probability error {worst}"
            );
        }
    }
}
