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
use compiled::{INPUTS, MODEL_FILE, OUTPUTS, SCRATCH_WORDS};

/// The firmware's self-test digits, 28 × 28 pixels each; the first is a 7.
static IMAGES: &[u8] = include_bytes!("../data/t10k-100-images.bin");

#[cortex_m_rt::entry]
fn main() -> ! {
    // 1. The network (any depth, f32 or int8), borrowed from flash in place; the file is
    // checked once, here.
    let Ok(model) = ModelFile::parse(&MODEL_FILE.0).and_then(|file| file.model()) else {
        exit(false)
    };
    // 2. One image of 0–255 pixels.
    let Some(pixels) = IMAGES.first_chunk::<INPUTS>() else {
        exit(false)
    };
    // 3. One inference in the kernels nn-core chose for this core, its two activation
    // buffers sized at build time.
    let mut scratch = [0.0f32; SCRATCH_WORDS];
    let mut p = [0.0f32; OUTPUTS];
    if model.predict_pixels(pixels, &mut scratch, &mut p).is_err() {
        exit(false)
    }
    // 4. The answer, over semihosting (QEMU prints it, defmt-print decodes it).
    let class = (0..OUTPUTS).fold(0, |best, k| if p[k] > p[best] { k } else { best });
    defmt::info!("class {=usize}, probability {=f32}", class, p[class]);
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
