//! SIMD versions of the kernels, built on `wide`. (Placeholder: delegates to the twins
//! until the vector versions land.)

pub use super::scalar::{argmax, gemv_bias, relu, sigmoid, softmax};
