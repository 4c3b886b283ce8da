//! Recognising the one graph family the importer reads, and lifting it into a neutral
//! [`Network`] that owns its weights and knows nothing of flatbuffers.
//!
//! The family, as the TFLite converter writes a Keras `Flatten -> Dense -> Dense(softmax)`:
//!
//! 1. optionally QUANTIZE (an int8 model with float input);
//! 2. Flatten, which the converter spells SHAPE, STRIDED_SLICE, PACK, RESHAPE: the first
//!    three only compute the new shape, so they are skipped and the RESHAPE is checked to
//!    keep the element count (a reshape to `input`);
//! 3. FULLY_CONNECTED, with a fused RELU or none, optionally followed by LOGISTIC;
//! 4. FULLY_CONNECTED without activation;
//! 5. SOFTMAX with beta 1;
//! 6. optionally DEQUANTIZE (an int8 model with float output).
//!
//! Every operator on the data path must take the previous one's output, and the last one's
//! output must be the graph's. Anything else is an [`ImportError`] naming what was found.

use nn_core::TensorQuant;
use nn_core::activation::Activation;

use super::ImportError;
use super::names::{activation_name, operator_name, type_name};
use super::schema::{Model, Operator, SubGraph, Tensor, at};

/// A model of the family, with its weights, in float32 or int8.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Inputs (784 for MNIST).
    pub input: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Outputs (classes).
    pub output: usize,
    /// After the first layer: `Relu` (fused), `Sigmoid` (LOGISTIC) or `Identity`.
    pub hidden_activation: Activation,
    /// The parameters.
    pub weights: Weights,
}

/// The parameters of a [`Network`].
#[derive(Clone, Debug, PartialEq)]
pub enum Weights {
    /// A float32 model. `w1` is `(hidden, input)`, `w2` `(output, hidden)`, row-major as in
    /// TFLite's FULLY_CONNECTED and in nn-core.
    F32 {
        /// First-layer weights, `(hidden, input)`.
        w1: Vec<f32>,
        /// First-layer bias, `(hidden)`.
        b1: Vec<f32>,
        /// Second-layer weights, `(output, hidden)`.
        w2: Vec<f32>,
        /// Second-layer bias, `(output)`.
        b2: Vec<f32>,
    },
    /// A fully integer-quantised model.
    I8(Int8),
}

/// One int8 FULLY_CONNECTED as TFLite runs it:
/// `y[r] = clamp(out.zp + M[r] * (bias[r] + Σ_c w[r,c] (x[c] - in.zp)))`,
/// `M[r] = in.scale * weight_scales[r] / out.scale`.
#[derive(Clone, Debug, PartialEq)]
pub struct FullyConnectedI8 {
    /// `(rows, cols)` row-major, symmetric (zero point 0).
    pub weights: Vec<i8>,
    /// One scale per row (output channel).
    pub weight_scales: Vec<f32>,
    /// `(rows)`, in units of `input.scale * weight_scales[r]`.
    pub bias: Vec<i32>,
    /// The input tensor's quantisation.
    pub input: TensorQuant,
    /// The output tensor's quantisation.
    pub output: TensorQuant,
    /// A fused RELU: the clamp starts at the output zero point.
    pub relu: bool,
}

impl FullyConnectedI8 {
    /// The real multipliers `M[r]`, computed in f64 from the f32 scales exactly as
    /// TFLite's `PopulateConvolutionQuantizationParams` does before `QuantizeMultiplier`.
    pub fn real_multipliers(&self) -> Vec<f64> {
        self.weight_scales
            .iter()
            .map(|&w| f64::from(self.input.scale) * f64::from(w) / f64::from(self.output.scale))
            .collect()
    }

    /// The output clamp, as TFLite's `CalculateActivationRangeQuantized`: the int8 range,
    /// cut below at the quantised 0 for a fused RELU.
    pub fn output_range(&self) -> (i8, i8) {
        let zero = self.output.zero_point.clamp(-128, 127) as i8;
        if self.relu { (zero, 127) } else { (-128, 127) }
    }
}

/// The int8 model: input quantisation, the two layers, what sits between them, softmax.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8 {
    /// The graph takes float input and starts with QUANTIZE (else it takes int8).
    pub float_input: bool,
    /// The graph ends with DEQUANTIZE and outputs float (else it outputs int8).
    pub float_output: bool,
    /// How the (flattened) input is quantised.
    pub input: TensorQuant,
    /// First layer; its output is the pre-LOGISTIC tensor when there is one.
    pub layer1: FullyConnectedI8,
    /// The hidden activations as the second layer reads them: LOGISTIC's output
    /// ([`TensorQuant::PROBABILITY`]) or the first layer's output.
    pub hidden: TensorQuant,
    /// Second layer, whose output (the logits) feeds SOFTMAX.
    pub layer2: FullyConnectedI8,
    /// SOFTMAX's output ([`TensorQuant::PROBABILITY`]).
    pub softmax: TensorQuant,
}

// Builtin operator codes (`enum BuiltinOperator` in schema.fbs).
const DEQUANTIZE: i32 = 6;
const FULLY_CONNECTED: i32 = 9;
const LOGISTIC: i32 = 14;
const RESHAPE: i32 = 22;
const SOFTMAX: i32 = 25;
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

/// What the importer reads, for messages.
const FAMILY: &str = "Flatten -> FULLY_CONNECTED -> FULLY_CONNECTED -> SOFTMAX";

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
    Layer1,
    Logistic,
    Layer2,
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

impl<'a> Graph<'_, 'a> {
    fn tensor(&self, index: i32) -> Result<Tensor<'a>, ImportError> {
        let tensors = self
            .sub
            .tensors()
            .ok_or(malformed("subgraph has no tensors"))?;
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
        let mut fc1 = None;
        let mut fc2 = None;
        let mut logistic_out = None;
        let mut softmax_out = None;
        let mut quantize_out = None;

        for op in operators.iter() {
            let (code, name) = self.op_code(&op)?;
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
                (FULLY_CONNECTED, Stage::Start | Stage::Quantized | Stage::Flattened) => {
                    fc1 = Some(self.fully_connected(&op, &name)?);
                    Stage::Layer1
                }
                (LOGISTIC, Stage::Layer1) => {
                    logistic_out = Some(self.tensor(data_out)?);
                    Stage::Logistic
                }
                (FULLY_CONNECTED, Stage::Layer1 | Stage::Logistic) => {
                    fc2 = Some(self.fully_connected(&op, &name)?);
                    Stage::Layer2
                }
                (SOFTMAX, Stage::Layer2) => {
                    let beta = op.softmax_options().map_or(0.0, |o| o.beta());
                    if beta != 1.0 {
                        return Err(ImportError::Unsupported(format!(
                            "SOFTMAX with beta {beta} (only beta 1 is supported)"
                        )));
                    }
                    softmax_out = Some(self.tensor(data_out)?);
                    Stage::Softmax
                }
                (DEQUANTIZE, Stage::Softmax) => Stage::Dequantized,
                (QUANTIZE | RESHAPE | FULLY_CONNECTED | LOGISTIC | SOFTMAX | DEQUANTIZE, _) => {
                    return Err(ImportError::Unsupported(format!(
                        "operator {name} after {stage:?} does not fit {FAMILY}"
                    )));
                }
                _ => {
                    return Err(ImportError::UnsupportedOperator {
                        name,
                        family: FAMILY,
                    });
                }
            };
            if data_in != current {
                return Err(ImportError::Unsupported(format!(
                    "operator {name} does not read the previous operator's output"
                )));
            }
            current = data_out;
            stage = next;
        }
        if !matches!(stage, Stage::Softmax | Stage::Dequantized) {
            return Err(ImportError::Unsupported(format!(
                "the graph stops after {stage:?}; expected {FAMILY}"
            )));
        }
        if current != graph_output {
            return Err(ImportError::Unsupported(
                "the graph's output is not the SOFTMAX's".into(),
            ));
        }
        let (Some(fc1), Some(fc2), Some(softmax_out)) = (fc1, fc2, softmax_out) else {
            return Err(malformed("walk ended without both layers"));
        };

        let hidden_activation = match (fc1.fused, logistic_out.is_some()) {
            (ACT_RELU, false) => Activation::Relu,
            (ACT_NONE, true) => Activation::Sigmoid,
            (ACT_NONE, false) => Activation::Identity,
            (ACT_RELU, true) => {
                return Err(ImportError::Unsupported(
                    "a fused RELU followed by LOGISTIC".into(),
                ));
            }
            (other, _) => {
                return Err(ImportError::Unsupported(format!(
                    "fused activation {} on the first FULLY_CONNECTED (RELU or none only)",
                    activation_name(other)
                )));
            }
        };
        if fc2.fused != ACT_NONE {
            return Err(ImportError::Unsupported(format!(
                "fused activation {} on the second FULLY_CONNECTED (none only)",
                activation_name(fc2.fused)
            )));
        }
        if fc2.cols != fc1.rows {
            return Err(ImportError::Unsupported(format!(
                "the second FULLY_CONNECTED takes {} inputs, the first gives {}",
                fc2.cols, fc1.rows
            )));
        }
        if fc2.rows < 2 {
            return Err(ImportError::Unsupported(format!(
                "{} output(s); a classifier needs at least 2",
                fc2.rows
            )));
        }
        let graph_in = self.tensor(graph_input)?;
        if elements(&graph_in)? != fc1.cols {
            return Err(ImportError::Unsupported(format!(
                "the input {:?} does not flatten to the {} inputs of the first FULLY_CONNECTED",
                dims(&graph_in)?,
                fc1.cols
            )));
        }

        let weights = match fc1.weights.type_() {
            FLOAT32 => {
                for t in [&graph_in, &fc1.output, &fc2.output, &softmax_out] {
                    expect_type(t, FLOAT32)?;
                }
                if let Some(t) = &logistic_out {
                    expect_type(t, FLOAT32)?;
                }
                Weights::F32 {
                    w1: self.floats(&fc1.weights, fc1.rows * fc1.cols)?,
                    b1: self.float_bias(&fc1)?,
                    w2: self.floats(&fc2.weights, fc2.rows * fc2.cols)?,
                    b2: self.float_bias(&fc2)?,
                }
            }
            INT8 => {
                let float_input = quantize_out.is_some();
                let float_output = stage == Stage::Dequantized;
                expect_type(&graph_in, if float_input { FLOAT32 } else { INT8 })?;
                let out = self.tensor(graph_output)?;
                expect_type(&out, if float_output { FLOAT32 } else { INT8 })?;
                let layer1 = self.dense_i8(&fc1)?;
                let layer2 = self.dense_i8(&fc2)?;
                let hidden = match &logistic_out {
                    Some(t) => {
                        expect_type(t, INT8)?;
                        unit_interval(t, "LOGISTIC")?
                    }
                    None => layer1.output,
                };
                if layer2.input != hidden {
                    return Err(ImportError::Unsupported(
                        "the second FULLY_CONNECTED's input quantisation differs from the hidden activations'".into(),
                    ));
                }
                expect_type(&softmax_out, INT8)?;
                let softmax = unit_interval(&softmax_out, "SOFTMAX")?;
                Weights::I8(Int8 {
                    float_input,
                    float_output,
                    input: layer1.input,
                    layer1,
                    hidden,
                    layer2,
                    softmax,
                })
            }
            other => return Err(type_error(&fc1.weights, other)),
        };
        Ok(Network {
            input: fc1.cols,
            hidden: fc1.rows,
            output: fc2.rows,
            hidden_activation,
            weights,
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
        let weight_scales = per_channel(&fc.weights, fc.rows)?;
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
            input: per_tensor(&fc.input)?,
            output: per_tensor(&fc.output)?,
            relu: fc.fused == ACT_RELU,
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

fn per_tensor(t: &Tensor<'_>) -> Result<TensorQuant, ImportError> {
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

/// Symmetric per-output-channel weight scales (one per row; a single scale is repeated).
fn per_channel(t: &Tensor<'_>, rows: usize) -> Result<Vec<f32>, ImportError> {
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
        1 => Ok(vec![scales[0]; rows]),
        n if n == rows => Ok(scales),
        n => Err(bad(&format!("{n} scales for {rows} rows"))),
    }
}

fn unit_interval(t: &Tensor<'_>, op: &str) -> Result<TensorQuant, ImportError> {
    let q = per_tensor(t)?;
    if q == TensorQuant::PROBABILITY {
        Ok(q)
    } else {
        Err(ImportError::Unsupported(format!(
            "{op} output quantised with scale {} zero point {} (TFLite's int8 kernels need 1/256, -128)",
            q.scale, q.zero_point
        )))
    }
}
