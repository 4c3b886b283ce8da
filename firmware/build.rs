//! Puts the model and (for a digit model) the self-test digits into flash.
//!
//! The model file is `models/mcu-int8.nnm` unless `NN_MODEL` names another one (a path
//! relative to this directory, or absolute; `NN_MODEL=models/mcu.nnm` is the f32 model).
//! `nn-build` (../nn-build) validates it with nn-core's own decoder and writes
//! `OUT_DIR/model.rs`: the file's bytes in flash and its sizes as consts (see
//! `src/weights.rs`, which parses it once at boot), and checks it against the board's memory
//! file (`boards/*.x`, picked by its feature from [`BOARDS`]), the one source of its sizes.
//!
//! The build fails, naming the numbers, when the file is missing or invalid or when the
//! model does not fit the board's flash or RAM.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// The model the firmware is built with unless `NN_MODEL` says otherwise.
const DEFAULT_MODEL: &str = "models/mcu-int8.nnm";
/// 100 MNIST test images (the first 100 of t10k, 784 bytes each) and their labels;
/// README.md gives the command that made them.
const DIGIT_IMAGES: &str = "data/t10k-100-images.bin";
const DIGIT_LABELS: &str = "data/t10k-100-labels.bin";
/// Stack besides the inference scratch and the frame buffers (which nn-build counts): every
/// other frame. The firmware measures its stack (`stack_used=` in the boot summary, and while
/// serving); this is that mark less nn-build's part, rounded up with room to spare
/// (README.md, "Stack").
const STACK_RESERVE: usize = 12 * 1024;
/// Stack learning takes besides (src/learn.rs, `train::fit`): the mark after `device-learn`
/// was 34,032 B on the Pico and 31,816 B in QEMU, against 28 KiB for inference; this with
/// room to spare.
const LEARN_STACK: usize = 16 * 1024;
/// Flash left for the code when nn-build decides whether packed layers fit beside the model:
/// the anomaly detector's M4 build has 68 KB of code; this with room to spare.
const CODE_ESTIMATE: usize = 128 * 1024;

fn main() {
    if let Err(message) = run() {
        // A panic would bury the message under a backtrace; this is the whole story.
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let (board, dsp) = board()?;
    println!("cargo::rustc-check-cfg=cfg(nn_model_i8)");
    println!("cargo::rustc-check-cfg=cfg(nn_digits)");
    println!("cargo::rustc-check-cfg=cfg(nn_learn)");
    println!("cargo:rerun-if-env-changed=NN_MODEL");
    let model = env::var_os("NN_MODEL").map_or(PathBuf::from(DEFAULT_MODEL), PathBuf::from);
    let mut model = nn_build::compile(&model).map_err(|e| {
        format!("{e}; build one with `host-trainer train --preset mcu` or point NN_MODEL at a model file")
    })?;
    if model.element == nn_core::format::ElementType::I8 {
        println!("cargo:rustc-cfg=nn_model_i8");
    }
    // The 100 digits are the self-test of a digit classifier; any other model checks one
    // inference instead and leaves them out of flash.
    let digits_model = (model.inputs, model.outputs()) == (nn_core::IMAGE_PIXELS, nn_core::CLASSES);
    // An int8 digit classifier learns its last layer on the board (src/learn.rs).
    let learns =
        digits_model && model.element == nn_core::format::ElementType::I8 && model.depth() >= 2;
    let digits = if digits_model {
        println!("cargo:rustc-cfg=nn_digits");
        read_digits(&manifest)?
    } else {
        0
    };
    if learns {
        println!("cargo:rustc-cfg=nn_learn");
    }
    // A model other than a digit classifier (which classifies through the typed 784-H-10
    // view of the plain weights) runs its int8 layers from the M4's wide packed layout on a
    // core with the DSP extension, where the flash has room for it.
    if dsp && !digits_model {
        let layout = nn_core::kernels::int8::packed::Layout::M4Wide;
        model.pack_if_room(layout, &board, digits, CODE_ESTIMATE)?;
    }
    let reserve = STACK_RESERVE + if learns { LEARN_STACK } else { 0 };
    model.fit(&board, reserve, digits)?;
    println!("cargo:rerun-if-changed=boards");
    println!("cargo:rerun-if-changed=build.rs");
    Ok(())
}

/// Every board: its cargo feature, its name, its linker memory file, the one place its
/// flash and RAM sizes are written (nn-build's budget check and the linker both read it),
/// and whether its core has the DSP extension as its build targets it (nn-core's `SMLAD`
/// kernels: the M4s, and the Pico 2's M33 built for `cortex-m33`). Its target and cargo
/// alias: `.cargo/config.toml`; README.md has the same table.
const BOARDS: &[(&str, &str, &str, bool)] = &[
    (
        "qemu-mps2",
        "QEMU mps2-an386",
        include_str!("boards/qemu-mps2-an386.x"),
        true,
    ),
    (
        "nucleo-f411re",
        "NUCLEO-F411RE",
        include_str!("boards/nucleo-f411re.x"),
        true,
    ),
    (
        "nrf52840dk",
        "nRF52840-DK",
        include_str!("boards/nrf52840dk.x"),
        true,
    ),
    (
        "pico",
        "Raspberry Pi Pico",
        include_str!("boards/pico.x"),
        false,
    ),
    (
        "pico2",
        "Raspberry Pi Pico 2",
        include_str!("boards/pico2.x"),
        true,
    ),
];

/// The board picked by the cargo features, exactly one, and whether its core has DSP.
fn board() -> Result<(nn_build::Board, bool), String> {
    let picked: Vec<_> = BOARDS
        .iter()
        .filter(|(feature, _, _, _)| {
            let var = format!("CARGO_FEATURE_{}", feature.to_uppercase().replace('-', "_"));
            env::var_os(var).is_some()
        })
        .collect();
    let &[&(_, name, memory_x, dsp)] = picked.as_slice() else {
        let features: Vec<_> = BOARDS.iter().map(|(f, _, _, _)| *f).collect();
        return Err(format!(
            "pick exactly one board feature of {}: qemu-mps2 is the default, any other \
             with --no-default-features --features <board> (or its cargo alias, see README.md)",
            features.join(", ")
        ));
    };
    Ok((nn_build::Board::from_memory_x(name, memory_x)?, dsp))
}

/// Checks the self-test digits' files agree with each other; returns their size in bytes.
fn read_digits(manifest: &Path) -> Result<usize, String> {
    let mut sizes = [0; 2];
    for (size, file) in sizes.iter_mut().zip([DIGIT_IMAGES, DIGIT_LABELS]) {
        let path = manifest.join(file);
        println!("cargo:rerun-if-changed={}", path.display());
        *size = fs::metadata(&path)
            .map_err(|e| {
                format!(
                    "cannot read {} ({e}); see README.md, \"Self-test digits\"",
                    path.display()
                )
            })?
            .len() as usize;
    }
    let [images, labels] = sizes;
    if images != labels * nn_core::IMAGE_PIXELS {
        return Err(format!(
            "{DIGIT_IMAGES} holds {images} bytes, not {labels} images of {} pixels as {DIGIT_LABELS} says",
            nn_core::IMAGE_PIXELS
        ));
    }
    Ok(images + labels)
}
