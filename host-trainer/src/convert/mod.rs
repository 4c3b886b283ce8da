//! Model conversion: int8 post-training quantisation of an f32 model ([`quantize`]) and the
//! TensorFlow Lite importer ([`import`]).

pub mod import;
pub mod quantize;
