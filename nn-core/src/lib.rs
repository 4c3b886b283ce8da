#![no_std]
#![deny(missing_docs)]
#![doc = include_str!("../README.md")]

pub mod activation;
pub mod error;
pub mod format;
pub mod kernels;
pub mod lut;
pub mod matrix;
pub mod model;
pub mod model_i8;
pub mod network;
pub mod preprocess;
pub mod protocol;
pub mod quant;
mod shape;
pub mod train;
mod types;

pub use activation::Activation;
pub use error::Error;
pub use matrix::{Matrix, Vector};
pub use model::{Dense, DenseRef, Mlp, MlpRef, MlpSlices, NonFiniteInput, Prediction};
pub use model_i8::{MlpI8, MlpI8Packed, MlpI8Ref, PredictionI8};
pub use types::{InputScaling, TensorQuant};

/// Pixels in one MNIST image (28 × 28).
pub const IMAGE_PIXELS: usize = 784;
/// Classes in MNIST (the digits 0–9).
pub const CLASSES: usize = 10;
