//! Kernels shaped for the Cortex-M4F (placeholder: the scalar twins until measured).
pub use super::scalar::gemv_bias;
