//! The network, in flash: the statics and consts that build.rs generates from the model
//! file, borrowed in place as an [`MlpRef`] (nothing is copied to RAM).

use nn_core::{DenseRef, MlpRef};

include!(concat!(env!("OUT_DIR"), "/model.rs"));

/// The network the firmware runs, reading its weights from flash.
pub type Model = MlpRef<'static, INPUT, HIDDEN, OUTPUT>;

/// The network built into this firmware.
pub static MODEL: Model = MlpRef {
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
};

/// Logs which model this firmware carries.
pub fn log_model() {
    defmt::info!(
        "model {=usize}-{=usize}-{=usize} ({=usize} bytes in flash, crc32 {=u32:#010x}) from {=str}",
        INPUT,
        HIDDEN,
        OUTPUT,
        WEIGHT_BYTES,
        MODEL_CHECKSUM,
        MODEL_PATH
    );
}
