//! The names of what a file holds, as this crate's docs and errors use them: the four f32
//! tensors ([`Tensor`]) and the int8 tensors whose quantisation it records ([`QuantTensor`]).

/// The four tensors of a model file, in file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Tensor {
    /// First-layer weights, `(hidden, input)` row-major.
    W1,
    /// First-layer bias, `(hidden)`.
    B1,
    /// Second-layer weights, `(output, hidden)` row-major.
    W2,
    /// Second-layer bias, `(output)`.
    B2,
}

impl Tensor {
    /// All four, in the order they are stored.
    pub const ALL: [Tensor; 4] = [Tensor::W1, Tensor::B1, Tensor::W2, Tensor::B2];

    /// The name used in this crate's docs and errors.
    pub const fn name(self) -> &'static str {
        match self {
            Tensor::W1 => "W1",
            Tensor::B1 => "b1",
            Tensor::W2 => "W2",
            Tensor::B2 => "b2",
        }
    }

    pub(super) const fn index(self) -> usize {
        self as usize
    }
}

impl core::fmt::Display for Tensor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The int8 tensors whose quantisation a model file records, as errors name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum QuantTensor {
    /// The int8 input (`pixel - 128`).
    Input,
    /// The first layer's int8 output (before a sigmoid, after a fused ReLU).
    Hidden,
    /// The second layer's int8 output, softmax's input.
    Logits,
    /// The first layer's per-channel parameters (weight scales, requantisation, bias).
    W1,
    /// The second layer's per-channel parameters.
    W2,
}

impl QuantTensor {
    /// The name used in this crate's docs and errors.
    pub const fn name(self) -> &'static str {
        match self {
            QuantTensor::Input => "input",
            QuantTensor::Hidden => "hidden",
            QuantTensor::Logits => "logits",
            QuantTensor::W1 => "W1",
            QuantTensor::W2 => "W2",
        }
    }
}

impl core::fmt::Display for QuantTensor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
