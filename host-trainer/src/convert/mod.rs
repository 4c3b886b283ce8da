//! Model conversion: int8 post-training quantisation of an f32 model ([`quantize`]) and the
//! TensorFlow Lite importer ([`import`]), both writing through [`int8_model`].

pub mod import;
pub mod int8_model;
pub mod quantize;
