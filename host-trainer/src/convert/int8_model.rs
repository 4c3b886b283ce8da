//! An int8 model being written: the arrays `quantize` makes from an f32 model and `import`
//! converts from a TensorFlow Lite file, any depth, borrowed as nn-core's [`ModelI8`] to
//! run and encode them. Both converters stand on this; neither imports the other.

use nn_core::network::{LayerI8, Layers, Model, ModelI8};
use nn_core::quant::{Requant, SoftmaxI8Params};
use nn_core::{Activation, Error, InputScaling, TensorQuant};

/// An int8 model that owns its arrays; [`QuantizedModel::view`] borrows them as nn-core's
/// [`ModelI8`].
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedModel {
    /// What the int8 input stands for.
    pub input: TensorQuant,
    /// Input first, 1 to [`nn_core::network::MAX_LAYERS`].
    pub layers: Vec<QuantizedLayer>,
    /// TFLite's int8 SOFTMAX after the last layer, or none (a logits or regression output).
    pub softmax: Option<SoftmaxI8Params>,
    /// How 0–255 pixels were scaled into the f32 model's input, kept for the record.
    pub scaling: InputScaling,
    /// Class names, one per output, or none.
    pub class_names: Vec<String>,
}

/// One layer of a [`QuantizedModel`]: the owned form of [`LayerI8`].
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedLayer {
    /// `(outputs, inputs)` row-major, in `[-127, 127]`.
    pub weights: Vec<i8>,
    /// `(outputs)`.
    pub bias: Vec<i32>,
    /// `(outputs)`.
    pub requant: Vec<Requant>,
    /// `(outputs)`.
    pub weight_scales: Vec<f32>,
    /// Inputs (columns of `weights`).
    pub inputs: usize,
    /// The FULLY_CONNECTED output's quantisation (before a sigmoid or tanh).
    pub output: TensorQuant,
    /// `Identity`, `Relu`, `Relu6`, `Sigmoid` or `Tanh`.
    pub activation: Activation,
    /// For `Sigmoid` and `Tanh`, the 256-entry table; empty otherwise.
    pub table: Vec<i8>,
}

impl QuantizedLayer {
    /// Outputs (rows of `weights`).
    pub fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// The layer as nn-core runs it.
    pub fn view(&self) -> LayerI8<'_> {
        LayerI8 {
            weights: &self.weights,
            bias: &self.bias,
            requant: &self.requant,
            weight_scales: &self.weight_scales,
            inputs: self.inputs,
            outputs: self.outputs(),
            output: self.output,
            activation: self.activation,
            table: &self.table,
        }
    }
}

impl QuantizedModel {
    /// The model as nn-core runs it (unpacked).
    ///
    /// # Errors
    /// [`Error::TooLarge`] past [`nn_core::network::MAX_LAYERS`] layers.
    pub fn view(&self) -> Result<ModelI8<'_>, Error> {
        let mut layers = Layers::new();
        for l in &self.layers {
            layers.push(l.view())?;
        }
        Ok(ModelI8 {
            layers,
            input: self.input,
            softmax: self.softmax,
            scaling: self.scaling,
            packed: &[],
        })
    }

    /// [`QuantizedModel::view`] as the one [`Model`] type.
    ///
    /// # Errors
    /// As [`QuantizedModel::view`].
    pub fn model(&self) -> Result<Model<'_>, Error> {
        self.view().map(Model::I8)
    }

    /// The int8 model file's bytes.
    ///
    /// # Errors
    /// What nn-core's encoder finds wrong (it checks as the decoder does).
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let names: Vec<&str> = self.class_names.iter().map(String::as_str).collect();
        crate::convert::encode_model(&self.model()?, &names)
    }
}
