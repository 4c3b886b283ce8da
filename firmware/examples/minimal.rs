//! The smallest board program: the network in flash, one inference, the class printed.
//! QEMU's mps2-an386 (a Cortex-M4F) and the default int8 model; from firmware/:
//! `cargo run --release --example minimal`. A real board adds its clocks and UART
//! (see `src/boards/`); the four steps stay the same.
#![no_std]
#![no_main]

use cortex_m_semihosting::debug;
use defmt_semihosting as _;
use nn_core::format::ModelFile;

// The model file build.rs compiled into flash with nn-build (`NN_MODEL`): `MODEL_FILE`,
// `INPUTS`, `OUTPUTS`, `LAYER_OUTPUTS`...
#[allow(dead_code)]
mod compiled {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}
use compiled::{INPUTS, LAYER_OUTPUTS, MODEL_FILE, OUTPUTS};

/// The firmware's self-test digits, 28 × 28 pixels each; the first is a 7.
static IMAGES: &[u8] = include_bytes!("../data/t10k-100-images.bin");

#[cortex_m_rt::entry]
fn main() -> ! {
    // 1. The network, borrowed from flash in place; the file is checked once, here.
    let Ok(model) = ModelFile::parse(&MODEL_FILE.0)
        .and_then(|file| file.view_i8::<INPUTS, { LAYER_OUTPUTS[0] }, OUTPUTS>())
    else {
        exit(false)
    };
    // 2. One image of 0–255 pixels.
    let Some(pixels) = IMAGES.first_chunk::<INPUTS>() else {
        exit(false)
    };
    // 3. One inference: integer arithmetic in the kernel nn-core chose for this core.
    let prediction = model.predict_pixels(pixels);
    // 4. The answer, over semihosting (QEMU prints it, defmt-print decodes it).
    let p = prediction.probability(prediction.class);
    defmt::info!("class {=usize}, probability {=f32}", prediction.class, p);
    exit(true)
}

/// Ends QEMU with status 0 (`true`) or 1.
fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(false)
}
