//! An int8 model being written: the arrays `quantize` makes from an f32 model and `import`
//! converts from a TensorFlow Lite file, borrowed as nn-core's [`MlpI8`] to run them and
//! encoded into a model file. Both converters stand on this; neither imports the other.

use nn_core::format::{self, Shape};
use nn_core::model_i8::DenseI8;
use nn_core::network::{LayerI8, Layers, ModelI8};
use nn_core::quant::{Requant, SoftmaxI8Params};
use nn_core::{Activation, InputScaling, MlpI8, TensorQuant};

/// An int8 model that owns its arrays; [`QuantizedModel::as_mlp`] borrows them as nn-core's
/// [`MlpI8`].
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedModel {
    /// The sizes.
    pub shape: Shape,
    /// The hidden activation (ReLU, sigmoid or identity).
    pub hidden_activation: Activation,
    /// The f32 model's pixel scaling, kept for the record.
    pub scaling: InputScaling,
    /// The int8 input's, the first layer's output's and the logits' quantisation.
    pub quant: [TensorQuant; 3],
    /// Softmax's parameters.
    pub softmax: SoftmaxI8Params,
    /// Per layer: weights, int32 biases, requantisation pairs, weight scales.
    pub layers: [QuantizedLayer; 2],
    /// The sigmoid's table (256 entries) or empty.
    pub sigmoid_table: Vec<i8>,
    /// The class names the f32 file carried.
    pub class_names: Vec<String>,
}

/// One layer of a [`QuantizedModel`].
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedLayer {
    /// `(rows, cols)` row-major, in `[-127, 127]`.
    pub weights: Vec<i8>,
    /// `(rows)`.
    pub bias: Vec<i32>,
    /// `(rows)`.
    pub requant: Vec<Requant>,
    /// `(rows)`.
    pub weight_scales: Vec<f32>,
}

impl QuantizedLayer {
    fn as_dense(&self) -> DenseI8<'_> {
        DenseI8 {
            weights: &self.weights,
            bias: &self.bias,
            requant: &self.requant,
            weight_scales: &self.weight_scales,
        }
    }
}

impl QuantizedModel {
    /// The model as nn-core runs it.
    pub fn as_mlp(&self) -> MlpI8<'_> {
        let [input_quant, hidden_quant, logits_quant] = self.quant;
        MlpI8 {
            input: self.shape.input,
            hidden: self.shape.hidden,
            output: self.shape.output,
            hidden_activation: self.hidden_activation,
            scaling: self.scaling,
            input_quant,
            hidden_quant,
            logits_quant,
            softmax: self.softmax,
            layer1: self.layers[0].as_dense(),
            layer2: self.layers[1].as_dense(),
            sigmoid_table: &self.sigmoid_table,
        }
    }

    /// The int8 model file's bytes.
    ///
    /// # Errors
    /// What nn-core's encoder finds wrong (it checks as the decoder does).
    pub fn encode(&self) -> Result<Vec<u8>, nn_core::Error> {
        let names: Vec<&str> = self.class_names.iter().map(String::as_str).collect();
        let mlp = self.as_mlp();
        let mut bytes = vec![0u8; format::encoded_len_i8(&mlp, &names)?];
        let n = format::encode_i8(&mlp, &names, &mut bytes)?;
        bytes.truncate(n);
        Ok(bytes)
    }
}

/// One layer of a [`QuantizedNetwork`]: its int8 arrays and what nn-core's [`LayerI8`]
/// needs besides.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedNetLayer {
    /// Weights, int32 biases, requantisation pairs, weight scales.
    pub arrays: QuantizedLayer,
    /// Inputs (columns of the weights).
    pub inputs: usize,
    /// Outputs (rows).
    pub outputs: usize,
    /// The quantisation of the product's output (a sigmoid's or tanh's input).
    pub output: TensorQuant,
    /// The layer's activation.
    pub activation: Activation,
    /// The sigmoid's or tanh's table (256 entries), or empty.
    pub table: Vec<i8>,
}

/// An int8 network of any depth that owns its arrays; [`QuantizedNetwork::model`] borrows
/// them as nn-core's [`ModelI8`], the form `model::write` writes.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedNetwork {
    /// The f32 model's pixel scaling, kept for the record.
    pub scaling: InputScaling,
    /// The int8 input's quantisation.
    pub input: TensorQuant,
    /// The layers, first first.
    pub layers: Vec<QuantizedNetLayer>,
    /// Softmax's parameters, when the model ends in one.
    pub softmax: Option<SoftmaxI8Params>,
    /// The class names the f32 file carried.
    pub class_names: Vec<String>,
}

impl QuantizedNetwork {
    /// The network as nn-core's [`ModelI8`] (unpacked).
    ///
    /// # Errors
    /// More layers than nn-core's `MAX_LAYERS`.
    pub fn model(&self) -> Result<ModelI8<'_>, nn_core::Error> {
        let mut layers = Layers::default();
        for l in &self.layers {
            layers.push(LayerI8 {
                weights: &l.arrays.weights,
                bias: &l.arrays.bias,
                requant: &l.arrays.requant,
                weight_scales: &l.arrays.weight_scales,
                inputs: l.inputs,
                outputs: l.outputs,
                output: l.output,
                activation: l.activation,
                table: &l.table,
            })?;
        }
        Ok(ModelI8 {
            layers,
            input: self.input,
            softmax: self.softmax,
            scaling: self.scaling,
            packed: &[],
        })
    }
}
