//! Model conversion: int8 post-training quantisation of an f32 model ([`quantize`]) and the
//! TensorFlow Lite importer ([`import`]), both writing through [`int8_model`] and
//! [`encode_model`].

pub mod import;
pub mod int8_model;
pub mod quantize;

use nn_core::format;
use nn_core::network::Model;

/// The model file's bytes for `model`, with `names` (none, or one per output): nn-core's
/// encoder, which picks version 1, 2 or 3 as the model needs.
///
/// # Errors
/// What the encoder finds wrong (it checks as the decoder does).
pub fn encode_model(model: &Model<'_>, names: &[&str]) -> Result<Vec<u8>, nn_core::Error> {
    let mut out = vec![0u8; format::encoded_len_model(model, names)?];
    let n = format::encode_model(model, names, &mut out)?.len();
    out.truncate(n);
    Ok(out)
}
