//! Recognising the graphs the importer reads, and lifting them into a neutral [`Network`]
//! that owns its weights and knows nothing of flatbuffers.
//!
//! The family, as the TFLite converter writes a Keras stack of `Dense` layers:
//!
//! 1. optionally QUANTIZE (an int8 model with float input);
//! 2. optionally Flatten, which the converter spells SHAPE, STRIDED_SLICE, PACK, RESHAPE:
//!    the first three only compute the new shape, so they are skipped and the RESHAPE is
//!    checked to keep the element count;
//! 3. 1 to [`MAX_LAYERS`] FULLY_CONNECTED, each with a fused NONE, RELU or RELU6, or with
//!    NONE followed by a separate RELU, RELU6, LOGISTIC or TANH;
//! 4. optionally SOFTMAX with beta 1;
//! 5. optionally DEQUANTIZE (an int8 model with float output).
//!
//! Every operator on the data path must take the previous one's output, and the last one's
//! output must be the graph's. Anything else is an [`ImportError`] naming what was found.

use nn_core::TensorQuant;
use nn_core::activation::Activation;
use nn_core::network::MAX_LAYERS;

use super::ImportError;
use super::names::{activation_name, operator_name, type_name};
use super::schema::{Model, Operator, SubGraph, Tensor, at};

/// A model of the family, with its weights, in float32 or int8.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Inputs of the first layer (the graph's input, flattened).
    pub input: usize,
    /// Each layer's outputs and activation, input first.
    pub layers: Vec<LayerShape>,
    /// A SOFTMAX follows the last layer.
    pub softmax: bool,
    /// The parameters.
    pub weights: Weights,
}

impl Network {
    /// Outputs of the last layer.
    pub fn output(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }

    /// The sizes from input to output, e.g. `[640, 128, 8, 640]`.
    pub fn sizes(&self) -> Vec<usize> {
        std::iter::once(self.input)
            .chain(self.layers.iter().map(|l| l.outputs))
            .collect()
    }
}

/// One layer's size and activation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerShape {
    /// Outputs (rows of its weights).
    pub outputs: usize,
    /// `Identity`, `Relu`, `Relu6` (fused or separate), `Sigmoid` (LOGISTIC) or `Tanh`.
    pub activation: Activation,
}

/// The parameters of a [`Network`].
#[derive(Clone, Debug, PartialEq)]
pub enum Weights {
    /// A float32 model, a layer per FULLY_CONNECTED.
    F32(Vec<DenseF32>),
    /// A fully integer-quantised model.
    I8(Int8),
}

/// One float32 FULLY_CONNECTED.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseF32 {
    /// `(outputs, inputs)` row-major, as in TFLite's FULLY_CONNECTED and in nn-core.
    pub weights: Vec<f32>,
    /// `(outputs)`; zeros when the operator has none.
    pub bias: Vec<f32>,
}

/// One int8 FULLY_CONNECTED as TFLite runs it:
/// `y[r] = clamp(out.zp + M[r] * (bias[r] + Σ_c w[r,c] (x[c] - in.zp)))`,
/// `M[r] = in.scale * weight_scales[r] / out.scale` (see [`FullyConnectedI8::real_multipliers`]).
#[derive(Clone, Debug, PartialEq)]
pub struct FullyConnectedI8 {
    /// `(rows, cols)` row-major, symmetric (zero point 0).
    pub weights: Vec<i8>,
    /// One scale per row (output channel); a per-tensor scale repeated.
    pub weight_scales: Vec<f32>,
    /// The weights have one scale for the whole tensor.
    pub per_tensor: bool,
    /// `(rows)`, in units of `input.scale * weight_scales[r]`.
    pub bias: Vec<i32>,
    /// The input tensor's quantisation.
    pub input: TensorQuant,
    /// The output tensor's quantisation.
    pub output: TensorQuant,
}

impl FullyConnectedI8 {
    /// The real multipliers `M[r]` exactly as TFLite computes them before
    /// `QuantizeMultiplier`: per channel (`PopulateConvolutionQuantizationParams`) from the
    /// scales widened to f64, `in * w[r] / out`; per tensor (`GetQuantizedConvolutionMultipler`)
    /// from the product rounded to f32, `(double)(float)(in * w) / out`. The two differ in
    /// the last bits, which can move a requantised value by one.
    pub fn real_multipliers(&self) -> Vec<f64> {
        let (input, output) = (self.input.scale, f64::from(self.output.scale));
        self.weight_scales
            .iter()
            .map(|&w| {
                if self.per_tensor {
                    f64::from(input * w) / output
                } else {
                    f64::from(input) * f64::from(w) / output
                }
            })
            .collect()
    }
}

/// The int8 model: input quantisation, the layers, softmax.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8 {
    /// The graph takes float input and starts with QUANTIZE (else it takes int8).
    pub float_input: bool,
    /// The graph ends with DEQUANTIZE and outputs float (else it outputs int8).
    pub float_output: bool,
    /// How the (flattened) input is quantised.
    pub input: TensorQuant,
    /// The FULLY_CONNECTEDs, input first; each one's input quantisation is the previous
    /// one's activated output (its own output, or LOGISTIC's or TANH's fixed one).
    pub layers: Vec<FullyConnectedI8>,
    /// SOFTMAX's output ([`TensorQuant::PROBABILITY`]), if there is one.
    pub softmax: Option<TensorQuant>,
}

// Builtin operator codes (`enum BuiltinOperator` in schema.fbs).
const DEQUANTIZE: i32 = 6;
const FULLY_CONNECTED: i32 = 9;
const LOGISTIC: i32 = 14;
const RELU: i32 = 19;
const RELU6: i32 = 21;
const RESHAPE: i32 = 22;
const SOFTMAX: i32 = 25;
const TANH: i32 = 28;
const STRIDED_SLICE: i32 = 45;
const SHAPE: i32 = 77;
const PACK: i32 = 83;
const QUANTIZE: i32 = 114;

// Tensor types (`enum TensorType`).
const FLOAT32: i8 = 0;
const INT32: i8 = 2;
const INT8: i8 = 9;

// Fused activations (`enum ActivationFunctionType`).
const ACT_NONE: i8 = 0;
const ACT_RELU: i8 = 1;
const ACT_RELU6: i8 = 3;

/// What the importer reads, for messages.
const FAMILY: &str = "Flatten -> FULLY_CONNECTED [RELU | RELU6 | LOGISTIC | TANH] (1 to 16 of them) \
                      -> [SOFTMAX], float32 or int8";

/// Recognises a verified model; see the module doc for the graph it accepts.
pub fn recognize(model: &Model<'_>) -> Result<Network, ImportError> {
    let subgraphs = model.subgraphs().ok_or(malformed("no subgraphs"))?;
    if subgraphs.len() != 1 {
        return Err(ImportError::Unsupported(format!(
            "{} subgraphs (this importer reads one: {FAMILY})",
            subgraphs.len()
        )));
    }
    let graph = Graph {
        model,
        sub: subgraphs.get(0),
    };
    graph.walk()
}

fn malformed(what: &str) -> ImportError {
    ImportError::Malformed(what.to_string())
}

/// Where the walk along the data path has got to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Start,
    Quantized,
    Flattened,
    Layer,
    Softmax,
    Dequantized,
}

struct Graph<'m, 'a> {
    model: &'m Model<'a>,
    sub: SubGraph<'a>,
}

/// A FULLY_CONNECTED's tensors.
struct Fc<'a> {
    input: Tensor<'a>,
    weights: Tensor<'a>,
    bias: Option<Tensor<'a>>,
    output: Tensor<'a>,
    fused: i8,
    rows: usize,
    cols: usize,
}

/// A FULLY_CONNECTED and the separate activation operator after it, if any.
struct Step<'a> {
    fc: Fc<'a>,
    /// Operator code and output tensor of a RELU, RELU6, LOGISTIC or TANH.
    after: Option<(i32, Tensor<'a>)>,
}

impl<'a> Graph<'_, 'a> {
    fn tensor(&self, index: i32) -> Result<Tensor<'a>, ImportError> {
        let tensors = self.sub.tensors().ok_or(malformed("no tensors"))?;
        usize::try_from(index)
            .ok()
            .and_then(|i| at(tensors, i))
            .ok_or_else(|| ImportError::Malformed(format!("tensor index {index} out of range")))
    }

    /// The single graph input or output index.
    fn only(v: Option<flatbuffers::Vector<'a, i32>>, what: &str) -> Result<i32, ImportError> {
        match v {
            Some(v) if v.len() == 1 => Ok(v.get(0)),
            Some(v) => Err(ImportError::Unsupported(format!(
                "{} graph {what}s (this importer reads one: {FAMILY})",
                v.len()
            ))),
            None => Err(ImportError::Malformed(format!("graph has no {what}s"))),
        }
    }

    fn op_code(&self, op: &Operator<'a>) -> Result<(i32, String), ImportError> {
        let codes = self
            .model
            .operator_codes()
            .ok_or(malformed("no operator codes"))?;
        let code = usize::try_from(op.opcode_index())
            .ok()
            .and_then(|i| at(codes, i))
            .ok_or(malformed("operator code index out of range"))?;
        let n = code.builtin_code();
        let name = match (n, code.custom_code()) {
            (32, Some(custom)) => format!("CUSTOM '{custom}'"),
            _ => operator_name(n),
        };
        Ok((n, name))
    }

    fn walk(&self) -> Result<Network, ImportError> {
        let graph_input = Self::only(self.sub.inputs(), "input")?;
        let graph_output = Self::only(self.sub.outputs(), "output")?;
        let operators = self.sub.operators().ok_or(malformed("no operators"))?;

        let mut stage = Stage::Start;
        let mut current = graph_input;
        let mut steps: Vec<Step<'a>> = Vec::new();
        let mut softmax_out = None;
        let mut quantize_out = None;

        for (index, op) in operators.iter().enumerate() {
            let (code, name) = self.op_code(&op)?;
            let place = format!("operator {} of {}", index + 1, operators.len());
            if matches!(code, SHAPE | STRIDED_SLICE | PACK) {
                // Flatten's shape arithmetic: it only feeds RESHAPE's shape input, which
                // is not read (the element count is checked instead).
                continue;
            }
            let inputs = op.inputs().ok_or(malformed("operator without inputs"))?;
            let outputs = op.outputs().ok_or(malformed("operator without outputs"))?;
            let data_in = at(inputs, 0).ok_or(malformed("operator without inputs"))?;
            let data_out = match (outputs.len(), at(outputs, 0)) {
                (1, Some(o)) => o,
                _ => return Err(ImportError::Malformed(format!("{name} without one output"))),
            };
            let misplaced = || {
                ImportError::Unsupported(format!(
                    "operator {name} ({place}) after {stage:?} does not fit {FAMILY}"
                ))
            };
            let next = match (code, stage) {
                (QUANTIZE, Stage::Start) => {
                    quantize_out = Some(self.tensor(data_out)?);
                    Stage::Quantized
                }
                (RESHAPE, Stage::Start | Stage::Quantized) => {
                    let (from, to) = (self.tensor(data_in)?, self.tensor(data_out)?);
                    if elements(&from)? != elements(&to)? {
                        return Err(ImportError::Unsupported(format!(
                            "RESHAPE from {:?} to {:?} changes the element count",
                            dims(&from)?,
                            dims(&to)?
                        )));
                    }
                    if quant_of(&from) != quant_of(&to) {
                        return Err(ImportError::Unsupported(
                            "RESHAPE changes the quantisation".into(),
                        ));
                    }
                    Stage::Flattened
                }
                (
                    FULLY_CONNECTED,
                    Stage::Start | Stage::Quantized | Stage::Flattened | Stage::Layer,
                ) => {
                    if steps.len() == MAX_LAYERS {
                        return Err(ImportError::Unsupported(format!(
                            "more than {MAX_LAYERS} FULLY_CONNECTED layers"
                        )));
                    }
                    steps.push(Step {
                        fc: self.fully_connected(&op, &name)?,
                        after: None,
                    });
                    Stage::Layer
                }
                (RELU | RELU6 | LOGISTIC | TANH, Stage::Layer) => {
                    let Some(step) = steps.last_mut() else {
                        return Err(misplaced());
                    };
                    if step.after.is_some() || step.fc.fused != ACT_NONE {
                        return Err(ImportError::Unsupported(format!(
                            "operator {name} ({place}) is a second activation on one \
                             FULLY_CONNECTED (its fused {} or a separate one before)",
                            activation_name(step.fc.fused)
                        )));
                    }
                    step.after = Some((code, self.tensor(data_out)?));
                    Stage::Layer
                }
                (SOFTMAX, Stage::Layer) => {
                    let beta = op.softmax_options().map_or(0.0, |o| o.beta());
                    if beta != 1.0 {
                        return Err(ImportError::Unsupported(format!(
                            "SOFTMAX with beta {beta} (only beta 1 is supported)"
                        )));
                    }
                    softmax_out = Some(self.tensor(data_out)?);
                    Stage::Softmax
                }
                (DEQUANTIZE, Stage::Layer | Stage::Softmax) => Stage::Dequantized,
                (
                    QUANTIZE | RESHAPE | FULLY_CONNECTED | RELU | RELU6 | LOGISTIC | TANH | SOFTMAX
                    | DEQUANTIZE,
                    _,
                ) => return Err(misplaced()),
                _ => {
                    return Err(ImportError::UnsupportedOperator {
                        name,
                        place,
                        family: FAMILY,
                    });
                }
            };
            if data_in != current {
                return Err(ImportError::Unsupported(format!(
                    "operator {name} ({place}) does not read the previous operator's output"
                )));
            }
            current = data_out;
            stage = next;
        }
        if steps.is_empty() || stage == Stage::Start {
            return Err(ImportError::Unsupported(format!(
                "the graph stops after {stage:?}; expected {FAMILY}"
            )));
        }
        if !matches!(stage, Stage::Layer | Stage::Softmax | Stage::Dequantized) {
            return Err(ImportError::Unsupported(format!(
                "the graph stops after {stage:?}; expected {FAMILY}"
            )));
        }
        if current != graph_output {
            return Err(ImportError::Unsupported(
                "the graph's output is not the last operator's".into(),
            ));
        }

        let graph_in = self.tensor(graph_input)?;
        let input = steps[0].fc.cols;
        if elements(&graph_in)? != input {
            return Err(ImportError::Unsupported(format!(
                "the input {:?} does not flatten to the {input} inputs of the first FULLY_CONNECTED",
                dims(&graph_in)?,
            )));
        }
        let mut layers = Vec::with_capacity(steps.len());
        let mut cols = input;
        for (i, step) in steps.iter().enumerate() {
            if step.fc.cols != cols {
                return Err(ImportError::Unsupported(format!(
                    "FULLY_CONNECTED {} takes {} inputs, the layer before gives {cols}",
                    i + 1,
                    step.fc.cols
                )));
            }
            cols = step.fc.rows;
            layers.push(LayerShape {
                outputs: step.fc.rows,
                activation: activation(step, i)?,
            });
        }

        let weights = match steps[0].fc.weights.type_() {
            FLOAT32 => {
                expect_type(&graph_in, FLOAT32)?;
                let mut dense = Vec::with_capacity(steps.len());
                for step in &steps {
                    expect_type(&step.fc.output, FLOAT32)?;
                    if let Some((_, t)) = &step.after {
                        expect_type(t, FLOAT32)?;
                    }
                    dense.push(DenseF32 {
                        weights: self.floats(&step.fc.weights, step.fc.rows * step.fc.cols)?,
                        bias: self.float_bias(&step.fc)?,
                    });
                }
                if let Some(t) = &softmax_out {
                    expect_type(t, FLOAT32)?;
                }
                if stage == Stage::Dequantized {
                    return Err(ImportError::Unsupported(
                        "DEQUANTIZE in a float32 model".into(),
                    ));
                }
                Weights::F32(dense)
            }
            INT8 => Weights::I8(self.int8(
                &steps,
                &layers,
                quantize_out.is_some(),
                stage == Stage::Dequantized,
                &graph_in,
                graph_output,
                softmax_out.as_ref(),
            )?),
            other => return Err(type_error(&steps[0].fc.weights, other)),
        };
        Ok(Network {
            input,
            layers,
            softmax: softmax_out.is_some(),
            weights,
        })
    }

    /// The int8 side of [`Graph::walk`]: the layers' parameters, and every quantisation
    /// along the chain checked against what nn-core assumes.
    #[allow(clippy::too_many_arguments)]
    fn int8(
        &self,
        steps: &[Step<'a>],
        shapes: &[LayerShape],
        float_input: bool,
        float_output: bool,
        graph_in: &Tensor<'a>,
        graph_output: i32,
        softmax_out: Option<&Tensor<'a>>,
    ) -> Result<Int8, ImportError> {
        expect_type(graph_in, if float_input { FLOAT32 } else { INT8 })?;
        let out = self.tensor(graph_output)?;
        expect_type(&out, if float_output { FLOAT32 } else { INT8 })?;
        let mut layers: Vec<FullyConnectedI8> = Vec::with_capacity(steps.len());
        let mut activated = None;
        for (i, (step, shape)) in steps.iter().zip(shapes).enumerate() {
            let layer = self.dense_i8(&step.fc)?;
            if let Some(expected) = activated
                && layer.input != expected
            {
                return Err(ImportError::Unsupported(format!(
                    "FULLY_CONNECTED {}'s input quantisation (scale {}, zero point {}) differs \
                     from the previous layer's output (scale {}, zero point {})",
                    i + 1,
                    layer.input.scale,
                    layer.input.zero_point,
                    expected.scale,
                    expected.zero_point
                )));
            }
            activated = Some(match &step.after {
                None => layer.output,
                Some((code, t)) => {
                    expect_type(t, INT8)?;
                    let q = per_tensor_quant(t)?;
                    let op = operator_name(*code);
                    let fixed = match shape.activation {
                        Activation::Sigmoid => Some(TensorQuant::PROBABILITY),
                        Activation::Tanh => Some(TensorQuant::TANH),
                        _ => None,
                    };
                    match fixed {
                        Some(f) if q == f => q,
                        Some(f) => {
                            return Err(ImportError::Unsupported(format!(
                                "{op} output quantised with scale {} zero point {} \
                                 (TFLite's int8 kernel needs {}, {})",
                                q.scale, q.zero_point, f.scale, f.zero_point
                            )));
                        }
                        // A separate int8 RELU or RELU6 requantises unless its input and
                        // output quantisations agree; then it is the fused clamp.
                        None if q == layer.output => q,
                        None => {
                            return Err(ImportError::Unsupported(format!(
                                "{op} after FULLY_CONNECTED {} changes the quantisation \
                                 (scale {} zero point {} to scale {} zero point {}); only a \
                                 {op} that keeps it can be folded into the layer",
                                i + 1,
                                layer.output.scale,
                                layer.output.zero_point,
                                q.scale,
                                q.zero_point
                            )));
                        }
                    }
                }
            });
            layers.push(layer);
        }
        let softmax = match softmax_out {
            Some(t) => {
                expect_type(t, INT8)?;
                Some(unit_interval(t, "SOFTMAX")?)
            }
            None => None,
        };
        Ok(Int8 {
            float_input,
            float_output,
            input: layers[0].input,
            layers,
            softmax,
        })
    }

    fn fully_connected(&self, op: &Operator<'a>, name: &str) -> Result<Fc<'a>, ImportError> {
        let inputs = op.inputs().ok_or(malformed("operator without inputs"))?;
        let outputs = op.outputs().ok_or(malformed("operator without outputs"))?;
        if !(2..=3).contains(&inputs.len()) {
            return Err(ImportError::Malformed(format!(
                "{name} with {} inputs",
                inputs.len()
            )));
        }
        let weights = self.tensor(inputs.get(1))?;
        let [rows, cols] = match dims(&weights)?[..] {
            [r, c] => [r, c],
            ref d => {
                return Err(ImportError::Unsupported(format!(
                    "FULLY_CONNECTED weights of shape {d:?}"
                )));
            }
        };
        let bias = match at(inputs, 2) {
            Some(i) if i >= 0 => Some(self.tensor(i)?),
            _ => None,
        };
        let input = self.tensor(inputs.get(0))?;
        let output =
            self.tensor(at(outputs, 0).ok_or(malformed("FULLY_CONNECTED without output"))?)?;
        for t in [&input, &weights, &output].into_iter().chain(bias.as_ref()) {
            if !matches!(t.type_(), FLOAT32 | INT8 | INT32) {
                return Err(type_error(t, t.type_()));
            }
        }
        match (input.type_(), weights.type_()) {
            (FLOAT32, FLOAT32) | (INT8, INT8) => {}
            (FLOAT32, INT8) => {
                return Err(ImportError::Unsupported(
                    "FULLY_CONNECTED with float32 input and int8 weights (dynamic-range quantisation); convert with full integer quantisation".into(),
                ));
            }
            (_, w) => return Err(type_error(&weights, w)),
        }
        let options = op
            .fully_connected_options()
            .ok_or(malformed("FULLY_CONNECTED without options"))?;
        if options.weights_format() != 0 {
            return Err(ImportError::Unsupported(
                "FULLY_CONNECTED with shuffled weights".into(),
            ));
        }
        Ok(Fc {
            input,
            weights,
            bias,
            output,
            fused: options.fused_activation_function(),
            rows,
            cols,
        })
    }

    /// A constant tensor's bytes, exactly `count * size` of them.
    fn constant(&self, t: &Tensor<'a>, count: usize, size: usize) -> Result<&'a [u8], ImportError> {
        let buffers = self.model.buffers().ok_or(malformed("no buffers"))?;
        let buffer = usize::try_from(t.buffer())
            .ok()
            .and_then(|i| at(buffers, i))
            .ok_or_else(|| {
                ImportError::Malformed(format!("tensor '{}': buffer out of range", tname(t)))
            })?;
        let data = match buffer.data() {
            Some(d) if !d.is_empty() => d,
            _ if buffer.external_size() > 0 => {
                return Err(ImportError::Unsupported(format!(
                    "tensor '{}' keeps its data outside the flatbuffer",
                    tname(t)
                )));
            }
            _ => {
                return Err(ImportError::Unsupported(format!(
                    "tensor '{}' is not a constant (weights must be stored in the file)",
                    tname(t)
                )));
            }
        };
        let expected = count
            .checked_mul(size)
            .ok_or(malformed("tensor too large"))?;
        if data.len() != expected {
            return Err(ImportError::Malformed(format!(
                "tensor '{}' has {} bytes of data, its shape needs {expected}",
                tname(t),
                data.len()
            )));
        }
        Ok(data)
    }

    fn floats(&self, t: &Tensor<'a>, count: usize) -> Result<Vec<f32>, ImportError> {
        expect_type(t, FLOAT32)?;
        let data = self.constant(t, count, 4)?;
        Ok(data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn float_bias(&self, fc: &Fc<'a>) -> Result<Vec<f32>, ImportError> {
        match &fc.bias {
            Some(b) => self.floats(b, fc.rows),
            None => Ok(vec![0.0; fc.rows]),
        }
    }

    fn dense_i8(&self, fc: &Fc<'a>) -> Result<FullyConnectedI8, ImportError> {
        expect_type(&fc.input, INT8)?;
        expect_type(&fc.output, INT8)?;
        let weights: Vec<i8> = self
            .constant(&fc.weights, fc.rows * fc.cols, 1)?
            .iter()
            .map(|&b| b as i8)
            .collect();
        let (weight_scales, per_tensor) = per_channel(&fc.weights, fc.rows)?;
        let bias = match &fc.bias {
            Some(b) => {
                expect_type(b, INT32)?;
                self.constant(b, fc.rows, 4)?
                    .chunks_exact(4)
                    .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            }
            None => vec![0; fc.rows],
        };
        Ok(FullyConnectedI8 {
            weights,
            weight_scales,
            bias,
            per_tensor,
            input: per_tensor_quant(&fc.input)?,
            output: per_tensor_quant(&fc.output)?,
        })
    }
}

fn tname<'a>(t: &Tensor<'a>) -> &'a str {
    t.name().unwrap_or("?")
}

fn dims(t: &Tensor<'_>) -> Result<Vec<usize>, ImportError> {
    t.shape()
        .map(|s| s.iter().map(usize::try_from).collect::<Result<Vec<_>, _>>())
        .unwrap_or(Ok(Vec::new()))
        .map_err(|_| {
            ImportError::Unsupported(format!("tensor '{}' has an unknown dimension", tname(t)))
        })
}

/// Element count, the batch of 1 included.
fn elements(t: &Tensor<'_>) -> Result<usize, ImportError> {
    dims(t)?
        .into_iter()
        .try_fold(1usize, usize::checked_mul)
        .ok_or(malformed("tensor too large"))
}

fn expect_type(t: &Tensor<'_>, want: i8) -> Result<(), ImportError> {
    let found = t.type_();
    if found == want {
        Ok(())
    } else if matches!(found, FLOAT32 | INT8 | INT32) {
        Err(ImportError::Unsupported(format!(
            "tensor '{}' is {}, expected {} (mixed float and int8 layers)",
            tname(t),
            type_name(found),
            type_name(want)
        )))
    } else {
        Err(type_error(t, found))
    }
}

fn type_error(t: &Tensor<'_>, found: i8) -> ImportError {
    ImportError::UnsupportedType {
        tensor: tname(t).to_string(),
        type_name: type_name(found),
    }
}

/// The raw (scale, zero point) lists, if any.
fn quant_of(t: &Tensor<'_>) -> Option<(Vec<f32>, Vec<i64>)> {
    let q = t.quantization()?;
    Some((
        q.scale().map(|v| v.iter().collect()).unwrap_or_default(),
        q.zero_point()
            .map(|v| v.iter().collect())
            .unwrap_or_default(),
    ))
}

fn per_tensor_quant(t: &Tensor<'_>) -> Result<TensorQuant, ImportError> {
    let bad = |why: &str| ImportError::Unsupported(format!("tensor '{}': {why}", tname(t)));
    if t.quantization().is_some_and(|q| q.details_type() != 0) {
        return Err(bad("custom quantisation"));
    }
    let (scales, zero_points) = quant_of(t).ok_or_else(|| bad("int8 without quantisation"))?;
    match (&scales[..], &zero_points[..]) {
        (&[scale], &[zp]) if scale.is_finite() && scale > 0.0 && (-128..=127).contains(&zp) => {
            Ok(TensorQuant {
                scale,
                zero_point: zp as i32,
            })
        }
        ([_], [_]) => Err(bad("scale or zero point out of range")),
        _ => Err(bad("per-channel quantisation of an activation")),
    }
}

/// Symmetric per-output-channel weight scales (one per row; a single scale is repeated),
/// and whether there was a single one.
fn per_channel(t: &Tensor<'_>, rows: usize) -> Result<(Vec<f32>, bool), ImportError> {
    let bad = |why: &str| ImportError::Unsupported(format!("weights '{}': {why}", tname(t)));
    let q = t
        .quantization()
        .ok_or_else(|| bad("int8 without quantisation"))?;
    if q.details_type() != 0 {
        return Err(bad("custom quantisation"));
    }
    let (scales, zero_points) = quant_of(t).ok_or_else(|| bad("int8 without quantisation"))?;
    if scales.len() > 1 && q.quantized_dimension() != 0 {
        return Err(bad("quantised along the input dimension"));
    }
    if zero_points.iter().any(|&z| z != 0) || zero_points.len() != scales.len() {
        return Err(bad("zero points other than 0 (weights must be symmetric)"));
    }
    if scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(bad("a scale that is not positive and finite"));
    }
    match scales.len() {
        1 => Ok((vec![scales[0]; rows], true)),
        n if n == rows => Ok((scales, false)),
        n => Err(bad(&format!("{n} scales for {rows} rows"))),
    }
}

fn unit_interval(t: &Tensor<'_>, op: &str) -> Result<TensorQuant, ImportError> {
    let q = per_tensor_quant(t)?;
    if q == TensorQuant::PROBABILITY {
        Ok(q)
    } else {
        Err(ImportError::Unsupported(format!(
            "{op} output quantised with scale {} zero point {} (TFLite's int8 kernels need 1/256, -128)",
            q.scale, q.zero_point
        )))
    }
}

/// A layer's activation: its fused one, or the separate operator after it.
fn activation(step: &Step<'_>, i: usize) -> Result<Activation, ImportError> {
    Ok(match (step.fc.fused, step.after.as_ref().map(|a| a.0)) {
        (ACT_NONE, None) => Activation::Identity,
        (ACT_RELU, None) | (ACT_NONE, Some(RELU)) => Activation::Relu,
        (ACT_RELU6, None) | (ACT_NONE, Some(RELU6)) => Activation::Relu6,
        (ACT_NONE, Some(LOGISTIC)) => Activation::Sigmoid,
        (ACT_NONE, Some(TANH)) => Activation::Tanh,
        (fused, _) => {
            return Err(ImportError::Unsupported(format!(
                "fused activation {} on FULLY_CONNECTED {} (NONE, RELU or RELU6 only)",
                activation_name(fused),
                i + 1
            )));
        }
    })
}
