//! Model conversion: int8 post-training quantisation of an f32 model ([`quantize`]) and the
//! TensorFlow Lite importer ([`import`]), both writing through [`int8_model`] and
//! [`encode_model`].

pub mod import;
pub mod int8_model;
pub mod quantize;

use nn_core::Activation;
use nn_core::format::{self, Header};
use nn_core::network::Model;

/// The model file's bytes for `model`, with `names` (none, or one per output).
///
/// Bridge until nn-core's `format::encode_model` (version 3) lands: the networks versions 1
/// and 2 hold (depth 2, a softmax output) are encoded by their encoders; any other
/// network is refused. When it lands, this becomes `encoded_len_model` + `encode_model`.
///
/// # Errors
/// What the encoder finds wrong.
pub fn encode_model(model: &Model<'_>, names: &[&str]) -> anyhow::Result<Vec<u8>> {
    let v3 = || {
        anyhow::anyhow!(
            "this network needs a version 3 model file, which this build cannot write yet"
        )
    };
    let mut out;
    let n = match model {
        Model::F32(m) => {
            let (Some(l1), Some(l2), 2) = (m.layers.get(0), m.layers.get(1), m.layers.len()) else {
                return Err(v3());
            };
            let output = if m.softmax {
                Activation::Softmax
            } else {
                l2.activation
            };
            let header = Header::new(
                [l1.inputs, l1.outputs, l2.outputs],
                l1.activation,
                output,
                m.scaling,
            )?;
            out = vec![0u8; format::encoded_len_named(&header, names)?];
            format::encode_named(
                &header,
                names,
                [l1.weights, l1.bias, l2.weights, l2.bias],
                &mut out,
            )?
        }
        Model::I8(m) => {
            let mlp = crate::convert::int8_model::as_mlp(m).ok_or_else(v3)?;
            out = vec![0u8; format::encoded_len_i8(&mlp, names)?];
            format::encode_i8(&mlp, names, &mut out)?
        }
    };
    out.truncate(n);
    Ok(out)
}
