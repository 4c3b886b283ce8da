//! Puts the model and the self-test digits into flash.
//!
//! The model file is `models/mcu-int8.nnm` unless `NN_MODEL` names another one (a path
//! relative to this directory, or absolute; `NN_MODEL=models/mcu.nnm` is the f32 model). It
//! is validated with nn-core's own decoder, and `OUT_DIR/model.rs` declares the model's
//! sizes, activation and scaling as consts and its arrays as statics (see `src/weights.rs`):
//! - f32: the four tensors, written to OUT_DIR as raw little-endian f32, as statics of
//!   nn-core's matrix types;
//! - int8: the two weight matrices as raw `[i8; N]` statics, the per-channel biases,
//!   requantisation pairs and scales and the sigmoid table as literals, and `MODEL_I8`, an
//!   `nn_core::MlpI8` over them; the cfg `nn_model_i8` tells `src/weights.rs` which.
//!
//! The build fails, naming the numbers, when the file is missing or invalid or when the
//! model does not fit the board's flash or RAM. The board's memory file (`boards/*.x`,
//! picked by its feature from [`BOARDS`]) is the one source of its sizes: this script
//! checks what it knows (the model, the digits, the stack) against it and hands it to the
//! linker with two assertions that check the rest (code included) with the same message,
//! so the two can never disagree.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use nn_core::format::{ElementType, ModelFile, SIGMOID_TABLE_LEN, Tensor};
use nn_core::model_i8::{MlpI8, TensorQuant};

/// The model the firmware is built with unless `NN_MODEL` says otherwise.
const DEFAULT_MODEL: &str = "models/mcu-int8.nnm";
/// 100 MNIST test images (the first 100 of t10k, 784 bytes each) and their labels;
/// README.md gives the command that made them.
const DIGIT_IMAGES: &str = "data/t10k-100-images.bin";
const DIGIT_LABELS: &str = "data/t10k-100-labels.bin";
/// Stack besides the inference scratch: the serve loop's frame buffers and every other
/// frame. The firmware measures its stack (`stack_used=` in the boot summary, and while
/// serving); this is that mark less the scratch, rounded up with room to spare
/// (README.md, "Stack").
const STACK_RESERVE: usize = 12 * 1024;

struct Board {
    name: &'static str,
    /// The board's linker memory file: the one place its flash and RAM sizes are written.
    memory_x: &'static str,
    flash: usize,
    ram: usize,
}

fn main() {
    if let Err(message) = run() {
        // A panic would bury the message under a backtrace; this is the whole story.
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let out = PathBuf::from(env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let board = board()?;

    println!("cargo::rustc-check-cfg=cfg(nn_model_i8)");
    println!("cargo:rerun-if-env-changed=NN_MODEL");
    let model_path = match env::var_os("NN_MODEL") {
        Some(p) => manifest.join(p),
        None => manifest.join(DEFAULT_MODEL),
    };
    println!("cargo:rerun-if-changed={}", model_path.display());
    let bytes = fs::read(&model_path).map_err(|e| {
        format!(
            "cannot read the model file {} ({e}); build one with `host-trainer train --preset mcu` \
             or point NN_MODEL at a model file",
            model_path.display()
        )
    })?;
    let model = ModelFile::parse(&bytes)
        .map_err(|e| format!("{} is not a valid model file: {e}", model_path.display()))?;
    let header = model.header();
    let (input, hidden, output) = (
        header.input as usize,
        header.hidden as usize,
        header.output as usize,
    );
    if input != nn_core::IMAGE_PIXELS || output != nn_core::CLASSES {
        return Err(format!(
            "{} is a {input}-{hidden}-{output} model; the firmware classifies {}-pixel images into {} classes",
            model_path.display(),
            nn_core::IMAGE_PIXELS,
            nn_core::CLASSES
        ));
    }

    let digits = read_digits(&manifest)?;
    // The arrays that go into flash, and the scratch an inference keeps on the stack.
    let (weight_bytes, scratch_bytes) = match model.element() {
        ElementType::F32 => (4 * model.parameter_count(), 4 * (input + hidden + output)),
        ElementType::I8 => (
            // int8 weights, then per channel an i32 bias, a Requant pair and an f32 scale.
            hidden * input
                + output * hidden
                + 16 * (hidden + output)
                + match header.hidden_activation {
                    nn_core::Activation::Sigmoid => SIGMOID_TABLE_LEN,
                    _ => 0,
                },
            input + hidden + 2 * output,
        ),
    };
    // What is known here is checked here: the model and the digits alone, and the stack.
    // Whether the code fits too is the linker's call, which cannot be known before it
    // runs; the assertions appended to memory.x below make it answer with the same story.
    let data_bytes = weight_bytes + digits;
    let stack_needed = scratch_bytes + STACK_RESERVE;
    if data_bytes > board.flash || stack_needed > board.ram {
        return Err(format!(
            "the {input}-{hidden}-{output} model does not fit the {}: {weight_bytes} bytes of \
             weights + {digits} of test digits, before any code, against {} bytes of flash, \
             and {stack_needed} bytes of stack against {} of RAM",
            board.name, board.flash, board.ram
        ));
    }
    let mut rust = String::new();
    let _ = write!(
        rust,
        "// Generated by build.rs from {path}.\n\
         /// Where the weights came from, as given at build time.\n\
         pub const MODEL_PATH: &str = {path:?};\n\
         /// CRC-32 of the model file, as stored in it.\n\
         pub const MODEL_CHECKSUM: u32 = {crc:#010x};\n\
         /// Inputs (pixels).\n\
         pub const INPUT: usize = {input};\n\
         /// Hidden units.\n\
         pub const HIDDEN: usize = {hidden};\n\
         /// Outputs (classes).\n\
         pub const OUTPUT: usize = {output};\n\
         /// Bytes of weights and biases (and an int8 model's quantisation) in flash.\n\
         pub const WEIGHT_BYTES: usize = {weight_bytes};\n\
         const HIDDEN_ACTIVATION: nn_core::Activation = nn_core::Activation::{ha:?};\n\
         const SCALING: nn_core::InputScaling = nn_core::InputScaling {{ \
            scale: {scale}, offset: {offset} }};\n",
        path = model_path.display().to_string(),
        crc = model.checksum(),
        ha = header.hidden_activation,
        scale = f32_literal(header.scaling.scale),
        offset = f32_literal(header.scaling.offset),
    );
    match model.element() {
        ElementType::F32 => f32_statics(&model, &out, &mut rust)?,
        ElementType::I8 => {
            println!("cargo:rustc-cfg=nn_model_i8");
            // Borrowing an int8 file's arrays needs 4-byte alignment, which a Vec<u8> lacks.
            let aligned = Aligned16::new(&bytes);
            let model = ModelFile::parse(aligned.bytes())
                .and_then(|m| m.slices_i8())
                .map_err(|e| format!("{}: {e}", model_path.display()))?;
            i8_statics(&model, &out, &mut rust)?;
        }
    }
    write(&out.join("model.rs"), rust.as_bytes())?;

    let memory_x = format!(
        "{}\n/* Added by build.rs: the budget, checked by the linker once the code is laid out. */\n\
         ASSERT(__sidata + SIZEOF(.data) <= ORIGIN(FLASH) + LENGTH(FLASH), \"mnist-firmware: \
         the code, the {input}-{hidden}-{output} model ({weight_bytes} bytes) and the test digits \
         ({digits} bytes) overflow the {name}'s flash ({flash} bytes): build a smaller \
         model (NN_MODEL), or for a board with more flash (README.md, On a board).\");\n\
         ASSERT(_stack_start - __sheap >= {stack_needed}, \"mnist-firmware: after the statics \
         the {name}'s RAM leaves less than the {stack_needed} bytes of stack this model needs \
         ({scratch_bytes} of inference scratch + {STACK_RESERVE}).\");\n",
        board.memory_x,
        name = board.name,
        flash = board.flash,
    );
    write(&out.join("memory.x"), memory_x.as_bytes())?;
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=boards");
    println!("cargo:rerun-if-changed=build.rs");
    Ok(())
}

/// An f32 model: its four tensors as raw little-endian f32 files in `out`, declared as
/// `nn_core::Matrix`/`Vector` statics.
fn f32_statics(model: &ModelFile<'_>, out: &Path, rust: &mut String) -> Result<(), String> {
    let _ = writeln!(
        rust,
        "const OUTPUT_ACTIVATION: nn_core::Activation = nn_core::Activation::{:?};",
        model.header().output_activation
    );
    let names = ["w1", "b1", "w2", "b2"];
    let types = [
        ("Matrix<HIDDEN, INPUT>", "Matrix", "[[f32; INPUT]; HIDDEN]"),
        ("Vector<HIDDEN>", "Vector", "[f32; HIDDEN]"),
        (
            "Matrix<OUTPUT, HIDDEN>",
            "Matrix",
            "[[f32; HIDDEN]; OUTPUT]",
        ),
        ("Vector<OUTPUT>", "Vector", "[f32; OUTPUT]"),
    ];
    for ((name, tensor), (ty, wrapper, array)) in names.iter().zip(Tensor::ALL).zip(types) {
        let bytes = model.tensor_bytes(tensor);
        write(&out.join(format!("{name}.bin")), bytes)?;
        // Safety (of the generated code): the file holds exactly the array's bytes as
        // little-endian f32 (checked by the decoder above, and by transmute's size check),
        // the target is little-endian, and every bit pattern is a valid f32.
        let _ = writeln!(
            rust,
            "static {upper}: nn_core::{ty} = nn_core::{wrapper}(unsafe {{ \
             core::mem::transmute::<[u8; {len}], {array}>(\
             *include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}.bin\"))) }});",
            upper = name.to_uppercase(),
            len = bytes.len(),
        );
    }
    Ok(())
}

/// An int8 model: the two weight matrices as raw files in `out` (`[i8; N]` statics), the
/// per-channel arrays and the sigmoid table as literals, and `MODEL_I8`, an
/// `nn_core::MlpI8` over them with the file's quantisation.
fn i8_statics(m: &MlpI8<'_>, out: &Path, rust: &mut String) -> Result<(), String> {
    let quant = |q: TensorQuant| {
        format!(
            "nn_core::TensorQuant {{ scale: {}, zero_point: {} }}",
            f32_literal(q.scale),
            q.zero_point
        )
    };
    for (n, layer) in [(1, &m.layer1), (2, &m.layer2)] {
        let weights: Vec<u8> = layer.weights.iter().map(|&w| w as u8).collect();
        write(&out.join(format!("w{n}.bin")), &weights)?;
        // Every byte is a valid i8, and transmute checks the length at compile time. The
        // kernel loads 4 weights at a time: aligned, each load is one bus access.
        let _ = writeln!(
            rust,
            "static W{n}: nn_core::format::Aligned<[i8; {len}]> = nn_core::format::Aligned(unsafe {{ \
             core::mem::transmute::<[u8; {len}], [i8; {len}]>(\
             *include_bytes!(concat!(env!(\"OUT_DIR\"), \"/w{n}.bin\"))) }});",
            len = weights.len()
        );
        let list = |items: Vec<String>| items.join(", ");
        let _ = writeln!(
            rust,
            "static B{n}: [i32; {len}] = [{}];\n\
             static R{n}: [nn_core::quant::Requant; {len}] = [{}];\n\
             static S{n}: [f32; {len}] = [{}];",
            list(layer.bias.iter().map(i32::to_string).collect()),
            list(
                layer
                    .requant
                    .iter()
                    .map(|r| format!(
                        "nn_core::quant::Requant {{ multiplier: {}, shift: {} }}",
                        r.multiplier, r.shift
                    ))
                    .collect()
            ),
            list(
                layer
                    .weight_scales
                    .iter()
                    .map(|&s| f32_literal(s))
                    .collect()
            ),
            len = layer.bias.len(),
        );
    }
    let table: Vec<String> = m.sigmoid_table.iter().map(i8::to_string).collect();
    let _ = writeln!(
        rust,
        "static SIGMOID_TABLE: [i8; {}] = [{}];",
        table.len(),
        table.join(", ")
    );
    let layer = |n: u32| {
        format!(
            "nn_core::model_i8::DenseI8 {{ weights: &W{n}.0, bias: &B{n}, requant: &R{n}, \
             weight_scales: &S{n} }}"
        )
    };
    let _ = writeln!(
        rust,
        "/// The int8 network in flash, every array borrowed from the statics above.\n\
         static MODEL_I8: nn_core::MlpI8<'static> = nn_core::MlpI8 {{\n\
         input: INPUT, hidden: HIDDEN, output: OUTPUT,\n\
         hidden_activation: HIDDEN_ACTIVATION, scaling: SCALING,\n\
         input_quant: {iq}, hidden_quant: {hq}, logits_quant: {lq},\n\
         softmax: nn_core::quant::SoftmaxI8Params {{ input_multiplier: {sm}, \
         input_left_shift: {ss}, diff_min: {sd} }},\n\
         layer1: {l1},\n\
         layer2: {l2},\n\
         sigmoid_table: &SIGMOID_TABLE,\n\
         }};",
        iq = quant(m.input_quant),
        hq = quant(m.hidden_quant),
        lq = quant(m.logits_quant),
        sm = m.softmax.input_multiplier,
        ss = m.softmax.input_left_shift,
        sd = m.softmax.diff_min,
        l1 = layer(1),
        l2 = layer(2),
    );
    Ok(())
}

/// `x` as Rust source that evaluates to exactly `x` (`x` is finite: the decoder checked).
fn f32_literal(x: f32) -> String {
    format!("f32::from_bits({:#010x})", x.to_bits())
}

/// A copy of some bytes at a 16-byte aligned address.
struct Aligned16 {
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl Aligned16 {
    fn new(bytes: &[u8]) -> Self {
        let mut buf = vec![0u8; bytes.len() + 15];
        // For a byte pointer the offset is always found, and below 16.
        let start = buf.as_ptr().align_offset(16).min(15);
        buf[start..start + bytes.len()].copy_from_slice(bytes);
        Self {
            buf,
            start,
            len: bytes.len(),
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }
}

/// Every board: its cargo feature, its name, and its linker memory file, the one place
/// its flash and RAM sizes are written (the budget check below and the linker both read
/// it). Its target and cargo alias: `.cargo/config.toml`; README.md has the same table.
const BOARDS: &[(&str, &str, &str)] = &[
    (
        "qemu-mps2",
        "QEMU mps2-an386",
        include_str!("boards/qemu-mps2-an386.x"),
    ),
    (
        "nucleo-f411re",
        "NUCLEO-F411RE",
        include_str!("boards/nucleo-f411re.x"),
    ),
    (
        "nrf52840dk",
        "nRF52840-DK",
        include_str!("boards/nrf52840dk.x"),
    ),
    ("pico", "Raspberry Pi Pico", include_str!("boards/pico.x")),
    (
        "pico2",
        "Raspberry Pi Pico 2",
        include_str!("boards/pico2.x"),
    ),
];

/// The board picked by the cargo features, exactly one.
fn board() -> Result<Board, String> {
    let picked: Vec<_> = BOARDS
        .iter()
        .filter(|(feature, _, _)| {
            let var = format!("CARGO_FEATURE_{}", feature.to_uppercase().replace('-', "_"));
            env::var_os(var).is_some()
        })
        .collect();
    let &[&(_, name, memory_x)] = picked.as_slice() else {
        let features: Vec<_> = BOARDS.iter().map(|(f, _, _)| *f).collect();
        return Err(format!(
            "pick exactly one board feature of {}: qemu-mps2 is the default, any other \
             with --no-default-features --features <board> (or its cargo alias, see README.md)",
            features.join(", ")
        ));
    };
    Ok(Board {
        name,
        memory_x,
        flash: region_length(memory_x, "FLASH")?,
        ram: region_length(memory_x, "RAM")?,
    })
}

/// The `LENGTH` of `region` in a linker memory file, e.g. 512 KiB from
/// `FLASH : ORIGIN = 0x08000000, LENGTH = 512K` (a plain number, or with K or M).
fn region_length(memory_x: &str, region: &str) -> Result<usize, String> {
    let line = memory_x
        .lines()
        .find(|l| l.trim_start().starts_with(region) && l.contains("LENGTH"))
        .ok_or_else(|| format!("the board's memory file has no {region} region"))?;
    let value = line
        .split("LENGTH")
        .nth(1)
        .and_then(|rest| rest.split('=').nth(1))
        .map(|v| v.trim().trim_end_matches([',', ';']).trim())
        .ok_or_else(|| format!("the board's {region} line has no LENGTH = value"))?;
    let (digits, unit) = match value.strip_suffix(['K', 'k']) {
        Some(d) => (d, 1 << 10),
        None => match value.strip_suffix(['M', 'm']) {
            Some(d) => (d, 1 << 20),
            None => (value, 1),
        },
    };
    digits
        .trim()
        .parse::<usize>()
        .map(|n| n * unit)
        .map_err(|_| format!("the board's {region} LENGTH {value:?} is not a size"))
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

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
