//! The activation functions a layer can apply, as they are named in the model file.

use serde::{Deserialize, Serialize};

/// An element-wise (or, for softmax, row-wise) function applied after a dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activation {
    /// `y = x`.
    Identity,
    /// `y = 1 / (1 + e^-x)`.
    Sigmoid,
    /// `y = max(x, 0)`.
    Relu,
    /// `y_i = e^(x_i - max x) / Σ_j e^(x_j - max x)`.
    Softmax,
    /// `y = min(max(x, 0), 6)`. Format version 3 only.
    Relu6,
    /// `y = tanh(x)`. Format version 3 only.
    Tanh,
}

impl Activation {
    /// Applies the activation to `x` in place with the dispatched kernels.
    pub fn apply(self, x: &mut [f32]) {
        match self {
            Activation::Identity => {}
            Activation::Sigmoid => crate::kernels::sigmoid(x),
            Activation::Relu => crate::kernels::relu(x),
            Activation::Softmax => crate::kernels::softmax(x),
            Activation::Relu6 => x.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0)),
            Activation::Tanh => x.iter_mut().for_each(|v| *v = libm::tanhf(*v)),
        }
    }
}
