//! The network, in flash: the model file and its sizes as nn-build compiled them
//! (`OUT_DIR/model.rs`: `MODEL_FILE`, `INPUTS`, `OUTPUTS`, `FRAME`...), parsed once at boot
//! and borrowed in place (nothing is copied to RAM). [`infer`] runs one raw tensor through
//! it, whatever its sizes and element type: what the serial protocol's tensor messages
//! carry. A digit classifier (784 → 10, cfg `nn_digits`) also has [`classify`].

use nn_core::format::ModelFile;
use nn_core::protocol::{FrameError, TensorElement};

/// What nn-build generated; not every const is needed by every model.
#[allow(dead_code)]
mod compiled {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}
pub use compiled::*;

/// Bytes of the output tensor at most (f32).
pub const OUTPUT_BYTES: usize = 4 * OUTPUTS;

// Format versions 1 and 2 hold depth-2 networks, which run as nn-core's typed `Mlp*Ref`;
// nn-build reads every layer's size for when deeper files come.
const _: () = assert!(DEPTH == 2);
const HIDDEN: usize = LAYER_OUTPUTS[0];

#[cfg(nn_model_i8)]
mod element {
    use super::*;
    use nn_core::MlpI8Ref;

    /// The network the firmware runs, reading its weights from flash.
    pub type Model = MlpI8Ref<'static, INPUTS, HIDDEN, OUTPUTS>;

    /// How the weights are stored, for the log.
    pub const ELEMENT_NAME: &str = "int8";

    /// The network built into this firmware, checked once.
    ///
    /// # Errors
    /// The file in flash is not the one nn-build validated (it is).
    pub fn model() -> Result<Model, nn_core::Error> {
        ModelFile::parse(&MODEL_FILE.0)?.view_i8()
    }

    /// One input tensor through the model: 0–255 pixels in, the int8 output tensor (the
    /// softmax's `q`, probability `(q + 128) / 256`) out, as the host computes it from the
    /// same file. Returns the output's element type and length in bytes.
    pub fn infer(
        model: &Model,
        element: TensorElement,
        data: &[u8],
        out: &mut [u8; OUTPUT_BYTES],
    ) -> Result<(TensorElement, usize), FrameError> {
        let pixels: &[u8; INPUTS] = data.try_into().map_err(|_| FrameError::WrongInput)?;
        if element != TensorElement::U8 {
            return Err(FrameError::WrongInput);
        }
        let p = model.predict_pixels(pixels);
        for (o, q) in out.iter_mut().zip(p.probabilities) {
            *o = q as u8;
        }
        Ok((TensorElement::I8, OUTPUTS))
    }

    /// Classifies 0–255 pixels. The probabilities are the int8 softmax's exact values
    /// `(q + 128) / 256`, the numbers the host computes from the same file.
    #[cfg(nn_digits)]
    pub fn classify(
        model: &Model,
        pixels: &[u8; INPUTS],
    ) -> nn_core::Prediction<{ nn_core::CLASSES }> {
        let p = model.predict_pixels(pixels);
        nn_core::Prediction {
            class: p.class,
            probabilities: core::array::from_fn(|k| p.probability(k)),
        }
    }

    /// How far the probabilities may sum from 1: int8 softmax rounds each to a step of
    /// 1/256, so one step per class.
    #[cfg(nn_digits)]
    pub const SUM_TOLERANCE: f32 = OUTPUTS as f32 / 256.0;

    /// Whether the outputs are a probability distribution (version 2 int8 files end in
    /// softmax).
    #[cfg(nn_digits)]
    pub fn softmax_output(_: &Model) -> bool {
        true
    }
}

#[cfg(not(nn_model_i8))]
mod element {
    use super::*;
    use nn_core::MlpRef;

    /// The network the firmware runs, reading its weights from flash.
    pub type Model = MlpRef<'static, INPUTS, HIDDEN, OUTPUTS>;

    /// How the weights are stored, for the log.
    pub const ELEMENT_NAME: &str = "f32";

    /// The network built into this firmware, checked once.
    ///
    /// # Errors
    /// The file in flash is not the one nn-build validated (it is).
    pub fn model() -> Result<Model, nn_core::Error> {
        ModelFile::parse(&MODEL_FILE.0)?.view()
    }

    /// One input tensor through the model: 0–255 pixels or f32 (little-endian) in, the f32
    /// output tensor out (little-endian). Returns the output's element type and length in
    /// bytes.
    pub fn infer(
        model: &Model,
        element: TensorElement,
        data: &[u8],
        out: &mut [u8; OUTPUT_BYTES],
    ) -> Result<(TensorElement, usize), FrameError> {
        let p = match element {
            TensorElement::U8 => {
                let pixels: &[u8; INPUTS] = data.try_into().map_err(|_| FrameError::WrongInput)?;
                model.predict_pixels(pixels)
            }
            TensorElement::F32 if data.len() == 4 * INPUTS => {
                let mut x = [0.0f32; INPUTS];
                for (x, b) in x.iter_mut().zip(data.chunks_exact(4)) {
                    *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
                model.predict(&x).map_err(|_| FrameError::WrongInput)?
            }
            _ => return Err(FrameError::WrongInput),
        };
        for (o, y) in out.chunks_exact_mut(4).zip(p.probabilities) {
            o.copy_from_slice(&y.to_le_bytes());
        }
        Ok((TensorElement::F32, OUTPUT_BYTES))
    }

    /// Classifies 0–255 pixels.
    #[cfg(nn_digits)]
    pub fn classify(
        model: &Model,
        pixels: &[u8; INPUTS],
    ) -> nn_core::Prediction<{ nn_core::CLASSES }> {
        model.predict_pixels(pixels)
    }

    /// How far the probabilities may sum from 1 (ten f32 roundings of numbers ≤ 1).
    #[cfg(nn_digits)]
    pub const SUM_TOLERANCE: f32 = 1e-4;

    /// Whether the outputs are a probability distribution.
    #[cfg(nn_digits)]
    pub fn softmax_output(model: &Model) -> bool {
        model.output_activation == nn_core::Activation::Softmax
    }
}

pub use element::{Model, infer, model};
#[cfg(nn_digits)]
pub use element::{SUM_TOLERANCE, classify, softmax_output};

// build.rs sets nn_digits for this shape only; this says so to the compiler.
#[cfg(nn_digits)]
const _: () = assert!(OUTPUTS == nn_core::CLASSES && INPUTS == nn_core::IMAGE_PIXELS);

/// Logs which model this firmware carries.
pub fn log_model() {
    defmt::info!(
        "model {=usize}-{=usize}-{=usize} {=str} ({=usize} bytes in flash, crc32 {=u32:#010x}) from {=str}",
        INPUTS,
        HIDDEN,
        OUTPUTS,
        element::ELEMENT_NAME,
        MODEL_BYTES,
        MODEL_CHECKSUM,
        MODEL_PATH
    );
}
