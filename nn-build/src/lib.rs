//! Puts a model file into a firmware image, from the firmware's `build.rs`.
//!
//! [`compile`] reads the file, validates it with nn-core's own decoder (the one the board
//! runs), copies its bytes to `OUT_DIR/model.nnm` and writes `OUT_DIR/model.rs`, which the
//! firmware includes with `include!(concat!(env!("OUT_DIR"), "/model.rs"))`:
//! - `MODEL_FILE`: the file's bytes in flash, 16-byte aligned
//!   (`nn_core::format::Aligned<[u8; N]>`), which `ModelFile::parse` borrows in place at boot;
//! - the consts a board sizes its buffers with, known at build time: `INPUTS`, `OUTPUTS`,
//!   `WIDEST` (the widest layer's inputs or outputs), `SCRATCH_WORDS` (the two activation
//!   buffers, in f32 words), `DEPTH`, `LAYER_OUTPUTS`, `ELEMENT`, `FRAME` (the serial frame
//!   buffer: `nn_core::protocol::max_frame_for`), and `MODEL_PATH`, `MODEL_CHECKSUM`,
//!   `MODEL_BYTES`;
//! - `PACKED`: empty, unless [`Compiled::pack_if_room`] packed an int8 model's layers for the
//!   board's kernel (`nn_core::kernels::int8::packed::Layout::M4Wide` on a Cortex-M4: the
//!   weights widened to i16, twice their bytes, which the M4 multiplies 20 % faster), the
//!   `i32` words in flash, 16-byte aligned, for `ModelI8::packed`.
//!
//! [`Compiled::fit`] then checks the model against the board's memory file (`memory.x`, the
//! one place its flash and RAM sizes are written): what is known before linking here, naming
//! the numbers, and the rest (the code) by two assertions appended to the memory file it
//! writes to `OUT_DIR`, which the linker checks with the same story.
//!
//! ```ignore
//! // build.rs of a firmware (firmware/build.rs is the full one)
//! fn main() {
//!     let board = nn_build::Board::from_memory_x("My board", include_str!("memory.x"));
//!     let result = board
//!         .and_then(|board| nn_build::compile("models/my-model.nnm")?.fit(&board, 8 * 1024, 0));
//!     if let Err(message) = result {
//!         eprintln!("error: {message}");
//!         std::process::exit(1);
//!     }
//! }
//! ```

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use nn_core::format::{ElementType, ModelFile};
use nn_core::kernels::int8::packed::Layout;
use nn_core::network::Model;

/// A board's memory, read from its linker memory file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Board {
    /// The board's name, for messages.
    pub name: String,
    /// The memory file's text (`MEMORY { FLASH ..., RAM ... }`), handed on to the linker.
    pub memory_x: String,
    /// Bytes of flash (the `FLASH` region's `LENGTH`).
    pub flash: usize,
    /// Bytes of RAM (the `RAM` region's `LENGTH`).
    pub ram: usize,
}

impl Board {
    /// The board whose linker memory file is `memory_x`.
    ///
    /// # Errors
    /// The file has no `FLASH` or `RAM` region with a `LENGTH` that is a size.
    pub fn from_memory_x(name: &str, memory_x: &str) -> Result<Self, String> {
        Ok(Self {
            name: name.to_owned(),
            memory_x: memory_x.to_owned(),
            flash: region_length(memory_x, "FLASH")?,
            ram: region_length(memory_x, "RAM")?,
        })
    }
}

/// A model file compiled into `OUT_DIR`: its sizes, for the memory check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compiled {
    /// The file, as given.
    pub path: PathBuf,
    /// Where `model.rs` and `memory.x` go.
    pub out_dir: PathBuf,
    /// f32 or int8.
    pub element: ElementType,
    /// Inputs of the first layer.
    pub inputs: usize,
    /// Each layer's outputs, input first.
    pub layer_outputs: Vec<usize>,
    /// The widest layer's inputs or outputs.
    pub widest: usize,
    /// Bytes of the file, all of which go to flash.
    pub file_bytes: usize,
    /// Bytes of `PACKED` ([`Compiled::pack_if_room`]), in flash beside the file.
    pub packed_bytes: usize,
    /// The file's CRC-32, as stored in it.
    checksum: u32,
    /// The serial frame buffer's length (`nn_core::protocol::max_frame_for`).
    pub frame: usize,
}

impl Compiled {
    /// Outputs of the last layer.
    pub fn outputs(&self) -> usize {
        self.layer_outputs.last().copied().unwrap_or(0)
    }

    /// The layers (1 to `nn_core::network::MAX_LAYERS`).
    pub fn depth(&self) -> usize {
        self.layer_outputs.len()
    }

    /// Two activation buffers of the widest layer, in f32 words (int8 uses them as bytes).
    pub fn scratch_words(&self) -> usize {
        2 * self.widest
    }

    /// `inputs-h1-...-outputs`, for messages.
    pub fn shape(&self) -> String {
        let mut s = self.inputs.to_string();
        for o in &self.layer_outputs {
            let _ = write!(s, "-{o}");
        }
        s
    }

    /// Stack an inference and the serve loop take: the scratch, a frame reader and a reply
    /// buffer of [`Compiled::frame`] bytes, and the decoded input and output (f32 at most).
    pub fn stack_bytes(&self) -> usize {
        4 * self.scratch_words() + 2 * self.frame + 4 * (self.inputs + self.outputs())
    }

    /// Packs an int8 model's layers in `layout` into `OUT_DIR/packed.bin` (`PACKED` in
    /// `model.rs`) if the board's flash holds them beside the file, `other_flash` bytes of
    /// other data and `code` bytes of code (an estimate: the linker has the last word).
    /// Returns whether it packed; an f32 model never is.
    ///
    /// # Errors
    /// `OUT_DIR` cannot be read or written.
    pub fn pack_if_room(
        &mut self,
        layout: Layout,
        board: &Board,
        other_flash: usize,
        code: usize,
    ) -> Result<bool, String> {
        let bytes = fs::read(self.out_dir.join("model.nnm"))
            .map_err(|e| format!("cannot read {}: {e}", self.out_dir.display()))?;
        let aligned = Aligned16::new(&bytes);
        let model = ModelFile::parse(aligned.bytes()).and_then(|f| f.model());
        let Ok(Model::I8(m)) = model else {
            return Ok(false);
        };
        let words = m.packed_len_as(layout);
        if self.file_bytes + 4 * words + other_flash + code > board.flash {
            return Ok(false);
        }
        let mut buf = vec![0i32; words];
        m.pack_as(layout, &mut buf)
            .map_err(|e| format!("{} cannot be packed: {e}", self.path.display()))?;
        let packed: Vec<u8> = buf.iter().flat_map(|w| w.to_le_bytes()).collect();
        write(&self.out_dir.join("packed.bin"), &packed)?;
        self.packed_bytes = packed.len();
        write(&self.out_dir.join("model.rs"), rust_source(self).as_bytes())?;
        Ok(true)
    }

    /// Checks the model against `board` and writes `OUT_DIR/memory.x` (the board's memory
    /// file with two linker assertions for what only the linker knows: the code) and tells
    /// cargo to link with it. `stack_reserve` is the stack the firmware needs besides
    /// [`Compiled::stack_bytes`] (its other frames; measure it); `other_flash` the bytes of
    /// other data it puts in flash (test inputs, say).
    ///
    /// # Errors
    /// The model and `other_flash` exceed the board's flash, or the stack its RAM; or
    /// `OUT_DIR` cannot be written.
    pub fn fit(
        &self,
        board: &Board,
        stack_reserve: usize,
        other_flash: usize,
    ) -> Result<(), String> {
        let shape = self.shape();
        let data = self.file_bytes + self.packed_bytes + other_flash;
        let stack = self.stack_bytes() + stack_reserve;
        if data > board.flash || stack > board.ram {
            return Err(format!(
                "the {shape} model does not fit the {}: {} bytes of model file (and packed \
                 layers) + {other_flash} of other data, before any code, against {} bytes of \
                 flash, and {stack} bytes of stack ({} for inference and frames + \
                 {stack_reserve}) against {} of RAM",
                board.name,
                self.file_bytes + self.packed_bytes,
                board.flash,
                self.stack_bytes(),
                board.ram
            ));
        }
        let memory_x = format!(
            "{}\n/* Added by nn-build: the budget, checked by the linker once the code is laid out. */\n\
             ASSERT(__sidata + SIZEOF(.data) <= ORIGIN(FLASH) + LENGTH(FLASH), \"the code, the \
             {shape} model ({file} bytes) and {other_flash} bytes of other data overflow the \
             {name}'s flash ({flash} bytes): build a smaller model, or for a board with more \
             flash.\");\n\
             ASSERT(_stack_start - __sheap >= {stack}, \"after the statics the {name}'s RAM \
             leaves less than the {stack} bytes of stack the {shape} model needs ({inference} \
             for inference and frames + {stack_reserve}).\");\n",
            board.memory_x,
            file = self.file_bytes,
            name = board.name,
            flash = board.flash,
            inference = self.stack_bytes(),
        );
        write(&self.out_dir.join("memory.x"), memory_x.as_bytes())?;
        println!("cargo:rustc-link-search={}", self.out_dir.display());
        Ok(())
    }
}

/// Compiles the model file at `path` (relative to the crate being built, or absolute) into
/// `OUT_DIR`: see the crate docs. Tells cargo to rerun when the file changes.
///
/// # Errors
/// `OUT_DIR` or `CARGO_MANIFEST_DIR` is not set (not run from a build script), the file
/// cannot be read, the decoder rejects it, or `OUT_DIR` cannot be written.
pub fn compile(path: impl AsRef<Path>) -> Result<Compiled, String> {
    let var = |name: &str| {
        env::var_os(name)
            .map(PathBuf::from)
            .ok_or_else(|| format!("{name} is not set: call nn_build from a build script"))
    };
    let path = var("CARGO_MANIFEST_DIR")?.join(path);
    compile_into(&path, &var("OUT_DIR")?)
}

/// [`compile`] with the paths given: `path` as it is, the output to `out_dir`.
///
/// # Errors
/// As [`compile`].
pub fn compile_into(path: &Path, out_dir: &Path) -> Result<Compiled, String> {
    println!("cargo:rerun-if-changed={}", path.display());
    let bytes = fs::read(path)
        .map_err(|e| format!("cannot read the model file {} ({e})", path.display()))?;
    // Borrowing an int8 file's arrays in place needs 4-byte alignment, which a Vec<u8> lacks.
    let aligned = Aligned16::new(&bytes);
    let file = ModelFile::parse(aligned.bytes())
        .map_err(|e| format!("{} is not a valid model file: {e}", path.display()))?;
    let (inputs, layer_outputs) =
        layers(&file).map_err(|e| format!("{} cannot run on a board: {e}", path.display()))?;
    let widest = layer_outputs.iter().copied().fold(inputs, usize::max);
    let compiled = Compiled {
        path: path.to_path_buf(),
        out_dir: out_dir.to_path_buf(),
        element: file.element(),
        inputs,
        widest,
        frame: nn_core::protocol::max_frame_for(inputs, layer_outputs.last().copied().unwrap_or(0)),
        layer_outputs,
        file_bytes: bytes.len(),
        packed_bytes: 0,
        checksum: file.checksum(),
    };
    write(&out_dir.join("model.nnm"), &bytes)?;
    write(&out_dir.join("packed.bin"), &[])?;
    write(&out_dir.join("model.rs"), rust_source(&compiled).as_bytes())?;
    Ok(compiled)
}

/// The first layer's inputs and every layer's outputs.
fn layers(file: &ModelFile<'_>) -> Result<(usize, Vec<usize>), nn_core::Error> {
    let model = file.model()?;
    model.check()?;
    let outputs = match &model {
        Model::F32(m) => m.layers.iter().map(|l| l.outputs).collect(),
        Model::I8(m) => m.layers.iter().map(|l| l.outputs).collect(),
    };
    Ok((model.inputs(), outputs))
}

/// `model.rs`: the consts and the static that holds the file.
fn rust_source(m: &Compiled) -> String {
    let outputs: Vec<String> = m.layer_outputs.iter().map(usize::to_string).collect();
    format!(
        "// Generated by nn-build from {path}.\n\
         /// The model file, as given at build time.\n\
         pub const MODEL_PATH: &str = {path:?};\n\
         /// CRC-32 of the model file, as stored in it.\n\
         pub const MODEL_CHECKSUM: u32 = {checksum:#010x};\n\
         /// Bytes of the model file, all in flash.\n\
         pub const MODEL_BYTES: usize = {file};\n\
         /// The first layer's inputs.\n\
         pub const INPUTS: usize = {inputs};\n\
         /// The last layer's outputs.\n\
         pub const OUTPUTS: usize = {outputs_n};\n\
         /// Layers.\n\
         pub const DEPTH: usize = {depth};\n\
         /// Each layer's outputs, input first.\n\
         pub const LAYER_OUTPUTS: [usize; {depth}] = [{outputs}];\n\
         /// The widest layer's inputs or outputs.\n\
         pub const WIDEST: usize = {widest};\n\
         /// Two activation buffers of the widest layer, in f32 words.\n\
         pub const SCRATCH_WORDS: usize = {scratch};\n\
         /// The model's element type.\n\
         pub const ELEMENT: nn_core::format::ElementType = nn_core::format::ElementType::{element:?};\n\
         /// Bytes of a serial frame buffer for this model's tensors and the digit messages.\n\
         pub const FRAME: usize = {frame};\n\
         /// The model file in flash, aligned for `ModelFile::parse` to borrow its arrays.\n\
         pub static MODEL_FILE: nn_core::format::Aligned<[u8; {file}]> =\n\
         \x20   nn_core::format::Aligned(*include_bytes!(concat!(env!(\"OUT_DIR\"), \"/model.nnm\")));\n\
         /// The int8 layers packed for this board's kernel (`ModelI8::packed`), little-endian \
         i32 words, or empty.\n\
         pub static PACKED: nn_core::format::Aligned<[u8; {packed}]> =\n\
         \x20   nn_core::format::Aligned(*include_bytes!(concat!(env!(\"OUT_DIR\"), \"/packed.bin\")));\n",
        path = m.path.display().to_string(),
        file = m.file_bytes,
        inputs = m.inputs,
        outputs_n = m.outputs(),
        depth = m.depth(),
        outputs = outputs.join(", "),
        widest = m.widest,
        scratch = m.scratch_words(),
        element = m.element,
        frame = m.frame,
        packed = m.packed_bytes,
        checksum = m.checksum,
    )
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

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_lengths_read_plain_kilo_and_mega() {
        let x = "MEMORY {\n FLASH : ORIGIN = 0x0, LENGTH = 2096896\n RAM : ORIGIN = 0x2, LENGTH = 256K\n}";
        let b = Board::from_memory_x("b", x).unwrap();
        assert_eq!((b.flash, b.ram), (2_096_896, 256 * 1024));
        let m = Board::from_memory_x("m", "FLASH : ORIGIN = 0, LENGTH = 4M\nRAM : LENGTH = 1k")
            .unwrap();
        assert_eq!((m.flash, m.ram), (4 << 20, 1024));
        let e = Board::from_memory_x("x", "RAM : LENGTH = 1K").unwrap_err();
        assert!(e.contains("no FLASH region"), "{e}");
        let e = Board::from_memory_x("x", "FLASH : LENGTH = lots\nRAM : LENGTH = 1K").unwrap_err();
        assert!(e.contains("is not a size"), "{e}");
    }

    fn model_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/models")
    }

    fn out_dir(name: &str) -> PathBuf {
        let dir = env::temp_dir().join(format!("nn-build-test-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_digit_model_compiles_to_its_consts_and_bytes() {
        let out = out_dir("digits");
        let path = model_dir().join("mcu-int8.nnm");
        let m = compile_into(&path, &out).unwrap();
        assert_eq!((m.inputs, m.outputs(), m.depth()), (784, 10, 2));
        assert_eq!(m.element, ElementType::I8);
        assert_eq!(m.widest, 784);
        assert_eq!(
            fs::read(out.join("model.nnm")).unwrap(),
            fs::read(&path).unwrap()
        );
        let rust = fs::read_to_string(out.join("model.rs")).unwrap();
        for line in [
            "pub const INPUTS: usize = 784;",
            "pub const OUTPUTS: usize = 10;",
            "pub const SCRATCH_WORDS: usize = 1568;",
            "ElementType::I8;",
            &format!("pub const MODEL_BYTES: usize = {};", m.file_bytes),
        ] {
            assert!(rust.contains(line), "{line} not in\n{rust}");
        }
        fs::remove_dir_all(out).unwrap();
    }

    #[test]
    fn a_model_too_big_for_the_board_names_the_numbers() {
        let out = out_dir("big");
        let m = compile_into(&model_dir().join("mcu-int8.nnm"), &out).unwrap();
        let small =
            Board::from_memory_x("Tiny", "FLASH : LENGTH = 64K\nRAM : LENGTH = 16K").unwrap();
        let e = m.fit(&small, 4096, 100).unwrap_err();
        assert!(e.contains("does not fit the Tiny"), "{e}");
        assert!(
            e.contains(&format!(
                "{} bytes of model file (and packed layers) + 100",
                m.file_bytes
            )),
            "{e}"
        );
        assert!(!out.join("memory.x").exists());
        let big = Board::from_memory_x("Big", "FLASH : LENGTH = 1M\nRAM : LENGTH = 256K").unwrap();
        m.fit(&big, 4096, 100).unwrap();
        let x = fs::read_to_string(out.join("memory.x")).unwrap();
        assert!(x.starts_with("FLASH : LENGTH = 1M"), "{x}");
        assert!(x.contains("ASSERT(_stack_start - __sheap >="), "{x}");
        fs::remove_dir_all(out).unwrap();
    }

    #[test]
    fn an_int8_model_is_packed_for_the_m4_where_the_flash_has_room() {
        let out = out_dir("packed");
        let path = model_dir().join("ad01-int8.nnm");
        let mut m = compile_into(&path, &out).unwrap();
        assert_eq!(fs::read(out.join("packed.bin")).unwrap().len(), 0);
        let f411 =
            Board::from_memory_x("F411", "FLASH : LENGTH = 512K\nRAM : LENGTH = 128K").unwrap();
        assert!(!m.pack_if_room(Layout::M4Wide, &f411, 0, 64 << 10).unwrap());
        assert_eq!(m.packed_bytes, 0);
        let mps2 = Board::from_memory_x("mps2", "FLASH : LENGTH = 4M\nRAM : LENGTH = 4M").unwrap();
        assert!(m.pack_if_room(Layout::M4Wide, &mps2, 0, 64 << 10).unwrap());
        // Ten layers of 5-row blocks, 10 words per 4 columns (640-128 is 26 blocks of 160
        // groups, and so on), then a flag and 3 words per row for the output stage.
        let words: usize = [(640, 128), (128, 128), (128, 128), (128, 128), (128, 8)]
            .iter()
            .chain(&[(8, 128), (128, 128), (128, 128), (128, 128), (128, 640)])
            .map(|&(cols, rows): &(usize, usize)| {
                rows.div_ceil(5) * cols.div_ceil(4) * 10 + 1 + 3 * rows
            })
            .sum();
        let packed = fs::read(out.join("packed.bin")).unwrap();
        assert_eq!((packed.len(), m.packed_bytes), (4 * words, 4 * words));
        let rust = fs::read_to_string(out.join("model.rs")).unwrap();
        assert!(
            rust.contains(&format!("Aligned<[u8; {}]>", 4 * words)),
            "{rust}"
        );
        // The first word: rows 0's columns 0 and 2, as i16 lanes.
        let bytes = fs::read(&path).unwrap();
        let aligned = Aligned16::new(&bytes);
        let Model::I8(model) = ModelFile::parse(aligned.bytes()).unwrap().model().unwrap() else {
            panic!("not int8")
        };
        let w = model.layers.iter().next().unwrap().weights;
        let first = u32::from_le_bytes(packed[..4].try_into().unwrap());
        assert_eq!(
            first,
            w[0] as i16 as u16 as u32 | (w[2] as i16 as u16 as u32) << 16
        );
        // A float model is never packed.
        let mut f = compile_into(&model_dir().join("mcu.nnm"), &out).unwrap();
        assert!(!f.pack_if_room(Layout::M4Wide, &mps2, 0, 0).unwrap());
        fs::remove_dir_all(out).unwrap();
    }

    #[test]
    fn a_file_the_decoder_rejects_is_one_line_naming_it() {
        let out = out_dir("bad");
        let bad = out.join("bad.nnm");
        let mut bytes = fs::read(model_dir().join("mcu-int8.nnm")).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&bad, &bytes).unwrap();
        let e = compile_into(&bad, &out).unwrap_err();
        assert!(e.contains("bad.nnm is not a valid model file"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = compile_into(&out.join("missing.nnm"), &out).unwrap_err();
        assert!(e.contains("cannot read the model file"), "{e}");
        fs::remove_dir_all(out).unwrap();
    }
}
