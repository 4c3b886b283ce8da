//! The network, in flash: the statics and consts that build.rs generates from the model
//! file, borrowed in place (nothing is copied to RAM). An int8 model file (the default,
//! `models/mcu-int8.nnm`) runs as an [`MlpI8Ref`], an f32 one (`NN_MODEL=models/mcu.nnm`) as
//! an [`MlpRef`]; [`classify`] gives the application one answer type for both.

use nn_core::{CLASSES, Prediction};

include!(concat!(env!("OUT_DIR"), "/model.rs"));

#[cfg(nn_model_i8)]
mod element {
    use super::*;
    use nn_core::MlpI8Ref;

    /// The network the firmware runs, reading its weights from flash.
    pub type Model = MlpI8Ref<'static, INPUT, HIDDEN, OUTPUT>;

    /// How the weights are stored, for the log.
    pub const ELEMENT: &str = "int8";

    /// How far the probabilities may sum from 1: int8 softmax rounds each to a step of
    /// 1/256, so one step per class.
    pub const SUM_TOLERANCE: f32 = OUTPUT as f32 / 256.0;

    /// int8 models always end in softmax.
    pub const SOFTMAX_OUTPUT: bool = true;

    /// The network built into this firmware; fails only if build.rs generated arrays of
    /// the wrong lengths.
    pub fn model() -> Result<Model, nn_core::Error> {
        MlpI8Ref::new(MODEL_I8)
    }

    /// Classifies 0–255 pixels. The probabilities are the int8 softmax's exact values
    /// `(q + 128) / 256`, the numbers the host computes from the same file.
    pub fn classify(model: &Model, pixels: &[u8; INPUT]) -> Prediction<OUTPUT> {
        let p = model.predict_pixels(pixels);
        Prediction {
            class: p.class,
            probabilities: core::array::from_fn(|k| p.probability(k)),
        }
    }
}

#[cfg(not(nn_model_i8))]
mod element {
    use super::*;
    use nn_core::{DenseRef, MlpRef};

    /// The network the firmware runs, reading its weights from flash.
    pub type Model = MlpRef<'static, INPUT, HIDDEN, OUTPUT>;

    /// How the weights are stored, for the log.
    pub const ELEMENT: &str = "f32";

    /// How far the probabilities may sum from 1 (ten f32 roundings of numbers ≤ 1).
    pub const SUM_TOLERANCE: f32 = 1e-4;

    /// Whether the outputs are a probability distribution.
    pub const SOFTMAX_OUTPUT: bool = matches!(OUTPUT_ACTIVATION, nn_core::Activation::Softmax);

    /// The network built into this firmware.
    pub fn model() -> Result<Model, nn_core::Error> {
        Ok(MlpRef {
            hidden: DenseRef {
                weights: &W1.0,
                bias: &B1.0,
            },
            output: DenseRef {
                weights: &W2.0,
                bias: &B2.0,
            },
            hidden_activation: HIDDEN_ACTIVATION,
            output_activation: OUTPUT_ACTIVATION,
            scaling: SCALING,
        })
    }

    /// Classifies 0–255 pixels.
    pub fn classify(model: &Model, pixels: &[u8; INPUT]) -> Prediction<OUTPUT> {
        model.predict_pixels(pixels)
    }
}

pub use element::{Model, SOFTMAX_OUTPUT, SUM_TOLERANCE, classify, model};

// build.rs refuses any other shape; this says so to the compiler.
const _: () = assert!(OUTPUT == CLASSES && INPUT == nn_core::IMAGE_PIXELS);

/// Logs which model this firmware carries.
pub fn log_model() {
    defmt::info!(
        "model {=usize}-{=usize}-{=usize} {=str} ({=usize} bytes in flash, crc32 {=u32:#010x}) from {=str}",
        INPUT,
        HIDDEN,
        OUTPUT,
        element::ELEMENT,
        WEIGHT_BYTES,
        MODEL_CHECKSUM,
        MODEL_PATH
    );
}
