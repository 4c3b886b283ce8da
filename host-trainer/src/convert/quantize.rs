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
use nn_core::kernels;
use nn_core::lut;
use nn_core::network::ModelF32;
use nn_core::quant::{Requant, SoftmaxI8Params};
use nn_core::{Activation, MlpI8, MlpSlices, TensorQuant};
use rayon::prelude::*;

use crate::convert::int8_model::{QuantizedLayer, QuantizedModel};
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

    quantize_network(&m.network(), class_names, calibration)
}

/// A tanh's int8 output moves in steps of 1/128, so it is ±1 for every pre-activation beyond
/// about ±3.1: the pre-activation's range is clipped to this, as [`SIGMOID_RANGE`] does.
pub const TANH_RANGE: f32 = 4.0;

/// Runs the f32 network `m` on `images` (`inputs` bytes each) and returns each layer's
/// range: after a ReLU or ReLU6, before a sigmoid or tanh (their tables read the
/// pre-activation), the product itself otherwise.
fn calibrate_layers(m: &ModelF32<'_>, images: &[u8]) -> Vec<Range> {
    let sizes: Vec<usize> = m.layers.iter().map(|l| l.outputs).collect();
    let inputs = m.layers.get(0).map_or(1, |l| l.inputs.max(1));
    images
        .par_chunks(inputs)
        .fold(
            || {
                let bufs: Vec<Vec<f32>> = std::iter::once(inputs)
                    .chain(sizes.iter().copied())
                    .map(|n| vec![0.0f32; n])
                    .collect();
                (bufs, vec![Range::EMPTY; sizes.len()])
            },
            |(mut bufs, mut ranges), pixels| {
                m.scaling.apply(pixels, &mut bufs[0]);
                for (k, l) in m.layers.iter().enumerate() {
                    let (inp, out) = bufs.split_at_mut(k + 1);
                    let out = &mut out[0];
                    kernels::gemv_bias(l.weights, &inp[k], l.bias, out);
                    if matches!(l.activation, Activation::Relu | Activation::Relu6) {
                        l.activation.apply(out);
                        ranges[k].add(out);
                    } else {
                        ranges[k].add(out);
                        l.activation.apply(out);
                    }
                }
                (bufs, ranges)
            },
        )
        .map(|(_, ranges)| ranges)
        .reduce(
            || vec![Range::EMPTY; sizes.len()],
            |a, b| a.iter().zip(&b).map(|(x, y)| x.merge(*y)).collect(),
        )
}

/// Quantises the f32 network `m` of any depth, as [`quantize`] does a depth-2 one: each
/// layer's output quantisation from its calibrated range (a sigmoid's input clipped to
/// ±[`SIGMOID_RANGE`], a tanh's to ±[`TANH_RANGE`], each with its table), weights per
/// row, biases at `input scale × weight scale`, the pixel offset folded into the first
/// bias, and softmax's parameters from the last layer's (activated) scale when `m` ends
/// in a softmax. At depth 2 its arrays are [`quantize`]'s (a test holds them equal).
///
/// # Errors
/// A hidden activation int8 cannot run, a scaling that is not positive, no whole
/// calibration image, or a bias or multiplier out of int32's reach.
pub fn quantize_network(
    m: &ModelF32<'_>,
    class_names: Vec<String>,
    calibration: &[u8],
) -> Result<QuantizedModel> {
    let Some(first) = m.layers.get(0) else {
        bail!("the model has no layer");
    };
    for (k, l) in m.layers.iter().enumerate() {
        if l.activation == Activation::Softmax {
            bail!(
                "layer {}: int8 runs a softmax only at the end of the model",
                k + 1
            );
        }
    }
    let scale = m.scaling.scale;
    if !(scale.is_finite() && scale > 0.0) {
        bail!("int8 needs a positive pixel scale, the model has {scale}");
    }
    if calibration.is_empty() || !calibration.len().is_multiple_of(first.inputs.max(1)) {
        bail!("calibration needs at least one whole image");
    }
    let ranges = calibrate_layers(m, calibration);
    let input = TensorQuant {
        scale,
        zero_point: -128,
    };
    let offset = f64::from(m.scaling.offset);
    let mut layers: Vec<QuantizedLayer> = Vec::with_capacity(m.layers.len());
    let mut activated = input;
    for (k, (l, mut range)) in m.layers.iter().zip(ranges).enumerate() {
        let clip = match l.activation {
            Activation::Sigmoid => Some(SIGMOID_RANGE),
            Activation::Tanh => Some(TANH_RANGE),
            _ => None,
        };
        if let Some(c) = clip {
            (range.min, range.max) = (range.min.max(-c), range.max.min(c));
        }
        let output = range.quant();
        let bias: Vec<f64> = l
            .bias
            .iter()
            .zip(l.weights.chunks(l.inputs.max(1)))
            .map(|(&b, row)| match k {
                0 => f64::from(b) + offset * row.iter().map(|&w| f64::from(w)).sum::<f64>(),
                _ => f64::from(b),
            })
            .collect();
        let mut layer = quantize_layer(l.weights, &bias, l.inputs, activated, output)
            .with_context(|| format!("layer {}", k + 1))?;
        let (table, next) = match l.activation {
            Activation::Sigmoid => (
                lut::logistic_table(output).to_vec(),
                TensorQuant::PROBABILITY,
            ),
            Activation::Tanh => (lut::tanh_table(output).to_vec(), TensorQuant::TANH),
            _ => (Vec::new(), output),
        };
        activated = next;
        layer.activation = l.activation;
        layer.table = table;
        layers.push(layer);
    }
    let softmax = match m.softmax {
        true => Some(
            SoftmaxI8Params::from_input_scale(activated.scale)
                .with_context(|| format!("softmax of logits at scale {}", activated.scale))?,
        ),
        false => None,
    };
    Ok(QuantizedModel {
        input,
        layers,
        softmax,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AlignedBytes;
    use nn_core::InputScaling;
    use nn_core::format::ModelFile;

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

    /// A depth-2 model quantised through either front is the same file; at depth 3 each
    /// layer reads the previous one's activated quantisation.
    #[test]
    fn the_general_quantiser_is_the_depth_2_one_at_depth_2() {
        use nn_core::network::{LayerF32, Layers};
        let mut next = lcg(3);
        let mut weights = |n: usize, k: f64| -> Vec<f32> {
            (0..n).map(|_| ((next() - 0.5) * k) as f32).collect()
        };
        let (w1, b1, w2, b2, w3, b3) = (
            weights(30, 4.0),
            weights(5, 1.0),
            weights(20, 4.0),
            weights(4, 1.0),
            weights(12, 4.0),
            weights(3, 1.0),
        );
        let mut pixels = lcg(5);
        let images: Vec<u8> = (0..6 * 300).map(|_| (pixels() * 256.0) as u8).collect();
        let scaling = InputScaling {
            scale: 1.0 / 510.0,
            offset: -0.25,
        };
        let layer = |weights, bias, inputs, outputs, activation| LayerF32 {
            weights,
            bias,
            inputs,
            outputs,
            activation,
        };
        for hidden_activation in [Activation::Relu, Activation::Sigmoid, Activation::Identity] {
            let m = MlpSlices {
                w1: &w1,
                b1: &b1,
                w2: &w2[..15],
                b2: &b2[..3],
                input: 6,
                hidden: 5,
                output: 3,
                hidden_activation,
                output_activation: Activation::Softmax,
                scaling,
            };
            // Depth 2 through the Mlp front and through the network front: one file.
            let old = quantize(&m, vec!["a".into()], &images).unwrap();
            let mut layers = Layers::default();
            layers
                .push(layer(&w1, &b1, 6, 5, hidden_activation))
                .unwrap();
            layers
                .push(layer(&w2[..15], &b2[..3], 5, 3, Activation::Identity))
                .unwrap();
            let general = ModelF32 {
                layers,
                softmax: true,
                scaling,
            };
            let new = quantize_network(&general, vec!["a".into()], &images).unwrap();
            assert_eq!(new.encode().unwrap(), old.encode().unwrap());

            // Depth 3: the middle layer's inputs are the first one's activated values.
            let mut layers = Layers::default();
            layers
                .push(layer(&w1, &b1, 6, 5, hidden_activation))
                .unwrap();
            layers
                .push(layer(&w2, &b2, 5, 4, Activation::Tanh))
                .unwrap();
            layers
                .push(layer(&w3, &b3, 4, 3, Activation::Identity))
                .unwrap();
            let deep = ModelF32 {
                layers,
                softmax: false,
                scaling,
            };
            let q = quantize_network(&deep, Vec::new(), &images).unwrap();
            assert_eq!(q.layers.len(), 3);
            assert_eq!(q.layers[1].table, lut::tanh_table(q.layers[1].output));
            let first_out = match hidden_activation {
                Activation::Sigmoid => TensorQuant::PROBABILITY,
                _ => q.layers[0].output,
            };
            // Layer 2's bias scale is its input's (layer 1's activated) scale × weight scale.
            let l2 = &q.layers[1];
            let real = f64::from(first_out.scale) * f64::from(l2.weight_scales[0])
                / f64::from(q.layers[1].output.scale);
            assert_eq!(l2.requant[0], Requant::from_real(real).unwrap());
            assert_eq!(q.softmax, None);
            let model = q.view().unwrap();
            assert_eq!(model.layers.len(), 3);
            assert_eq!(model.layers.last().unwrap().outputs, 3);
        }
    }
}
