//! The one way the host reads a model file: `eval` (through `train::export::read_model`),
//! `predict`, `inspect` and `device-eval` all call [`HostModel::load`]:
//!
//! 1. a bounded read of a regular file ([`nn_data::read::read_capped`], at most
//!    [`MAX_MODEL_BYTES`]);
//! 2. nn-core's decoder, [`ModelFile::parse`], which checks every byte, the shape limits and
//!    that the outputs stay finite;
//! 3. an f32 model's parameters copied out, so the file's bytes can go; an int8 model's file
//!    kept in 16-byte aligned memory, so nn-core borrows its arrays in place as on the board;
//! 4. one shape check with one wording: the host runs MNIST classifiers,
//!    [`IMAGE_PIXELS`] inputs and [`CLASSES`] outputs, with at most [`MAX_HIDDEN`] hidden units.
//!
//! [`write()`] runs steps 2 to 4 on the bytes `import` and `quantize` are about to write.

use std::path::Path;

use nn_core::format::{ElementType, Header, ModelFile};
use nn_core::{CLASSES, IMAGE_PIXELS, MlpI8Packed, MlpSlices, TensorQuant};

use nn_data::read::{ReadError, read_capped, show};

/// The most hidden units the trainer builds and the host loads. Each costs
/// `4 × (784 + 1 + 10)` bytes in a model file and about four times that while training.
pub const MAX_HIDDEN: usize = 16_384;

/// The largest model file the host reads: a 784-[`MAX_HIDDEN`]-10 f32 model (52 MB), with
/// room for the header, its padding and the checksum.
pub const MAX_MODEL_BYTES: u64 = (64
    + 4 * (MAX_HIDDEN * (IMAGE_PIXELS + 1) + CLASSES * (MAX_HIDDEN + 1))
    + nn_core::format::CHECKSUM_LEN) as u64;

/// Why a model file could not be loaded. Every message starts with `model <path>:`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The file could not be read (missing, not a regular file, too large).
    #[error("model {path}: {source}")]
    Read {
        /// The file, as shown to the user.
        path: String,
        /// What went wrong.
        source: ReadError,
    },
    /// nn-core's decoder refused it.
    #[error("model {path}: {source}")]
    Format {
        /// The file, as shown to the user.
        path: String,
        /// What the decoder said.
        source: nn_core::Error,
    },
    /// A valid model that is not an MNIST classifier.
    #[error(
        "model {path}: shape {input}-{hidden}-{output}, but this program runs \
         {IMAGE_PIXELS}-H-{CLASSES} models (28x28 pixels into 10 classes)"
    )]
    Shape {
        /// The file, as shown to the user.
        path: String,
        /// Its inputs.
        input: usize,
        /// Its hidden units.
        hidden: usize,
        /// Its outputs.
        output: usize,
    },
}

/// Step 1 of [`HostModel::load`] alone, for `inspect`, which shows any valid model file:
/// the file's bytes, read from a regular file of at most [`MAX_MODEL_BYTES`].
///
/// # Errors
/// [`ModelError::Read`].
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, ModelError> {
    read_capped(path, MAX_MODEL_BYTES, "a model file").map_err(|source| ModelError::Read {
        path: show(path),
        source,
    })
}

/// The one way the host writes a model file it did not train (`import`, `quantize`): the
/// bytes are first checked by [`HostModel::from_bytes`], the loader's own steps 2 to 4, so
/// nothing is written that `eval` or `predict` would then refuse (an activation bound,
/// a shape); then they are written atomically ([`crate::files::atomic::write`]).
///
/// # Errors
/// What the loader says of the bytes (nothing is written then), or the write's I/O error;
/// both start with `model <path>:`.
pub fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    if let Err(e) = HostModel::from_bytes(bytes, path) {
        anyhow::bail!("{e}; not written, as eval and predict would refuse it");
    }
    crate::files::atomic::write(path, bytes).with_context(|| format!("model {}", show(path)))
}

/// A model file's header and weights, checked and owned.
#[derive(Debug, Clone)]
pub struct HostModel {
    header: Header,
    shape: [usize; 3],
    class_names: Vec<String>,
    weights: Weights,
    bytes: usize,
    checksum: u32,
}

/// How a [`HostModel`] holds its weights.
#[derive(Debug, Clone)]
enum Weights {
    /// `W1, b1, W2, b2` in file order.
    F32(Vec<f32>),
    /// The whole int8 file, which [`ModelFile::parse`] accepted, and its layers packed for
    /// the host's fastest kernel (`MlpI8::pack`).
    I8 {
        /// The file.
        file: AlignedBytes,
        /// `MlpI8::packed_len` words, and the rest of the last line.
        packed: Vec<Line>,
    },
}

/// A 64-byte cache line of packed int8 weights, aligned to one: the packed kernel's 64-byte
/// loads then never straddle two lines (about 6 % faster on the 784×1024 layer).
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Line([i32; 16]);

/// The words of `lines`, in order.
fn words(lines: &[Line]) -> &[i32] {
    // Safety: `Line` is `repr(C)` around `[i32; 16]`, 64 bytes with no padding, so `lines`
    // is `16 * lines.len()` initialised, aligned `i32`s, borrowed as long as `lines`.
    unsafe { std::slice::from_raw_parts(lines.as_ptr().cast::<i32>(), 16 * lines.len()) }
}

/// The words of `lines`, in order, to write.
fn words_mut(lines: &mut [Line]) -> &mut [i32] {
    // Safety: as in `words`, borrowed mutably as long as `lines`.
    unsafe { std::slice::from_raw_parts_mut(lines.as_mut_ptr().cast::<i32>(), 16 * lines.len()) }
}

/// A model file read into 16-byte aligned memory, so an int8 model borrows its arrays in
/// place as it would from flash.
#[derive(Clone, Debug)]
pub struct AlignedBytes {
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBytes {
    /// A 16-byte aligned copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
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

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }
}

/// A [`HostModel`] ready to classify: nn-core's size-erased f32 or int8 network, borrowing
/// the model's weights.
#[derive(Clone, Debug)]
pub enum Classifier<'a> {
    /// An f32 model.
    F32(MlpSlices<'a>),
    /// An int8 model, its layers packed (boxed: the views of both packings are a few
    /// hundred bytes).
    I8(Box<MlpI8Packed<'a>>),
}

impl Classifier<'_> {
    /// The class and the probabilities for 0–255 pixels, computed as the firmware does: an
    /// f32 model scales the pixels as its file says and runs `predict_into`; an int8 model
    /// runs `MlpI8Packed::predict_pixels_into` (`MlpI8::predict_pixels_into`'s bits), and its
    /// probabilities are the exact `(q + 128) / 256`.
    ///
    /// # Errors
    /// None for a model [`HostModel::load`] accepted; nn-core's error otherwise.
    pub fn predict_pixels(
        &self,
        pixels: &[u8; IMAGE_PIXELS],
    ) -> Result<(usize, [f32; CLASSES]), nn_core::Error> {
        match self {
            Classifier::F32(mlp) => {
                let mut x = [0.0f32; IMAGE_PIXELS];
                mlp.scaling.apply(pixels, &mut x);
                let mut hidden = vec![0.0; mlp.hidden];
                let mut probabilities = [0.0; CLASSES];
                let class = mlp.predict_into(&x, &mut hidden, &mut probabilities)?;
                Ok((class, probabilities))
            }
            Classifier::I8(mlp) => {
                let m = mlp.model();
                let mut scratch = vec![0i8; m.input + m.hidden + m.output];
                let mut q = [0i8; CLASSES];
                let class = mlp.predict_pixels_into(pixels, &mut scratch, &mut q)?;
                Ok((class, q.map(|q| TensorQuant::PROBABILITY.dequantize(q))))
            }
        }
    }
}

impl HostModel {
    /// Reads, validates and copies the model file at `path` (see the module docs).
    ///
    /// # Errors
    /// [`ModelError`], naming the file.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        Self::from_bytes(&read_bytes(path)?, path)
    }

    /// Validates and copies a model file's `bytes`, read from `path` (which errors name).
    ///
    /// # Errors
    /// [`ModelError`], naming the file.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, ModelError> {
        let name = || show(path);
        let format = |source| ModelError::Format {
            path: name(),
            source,
        };
        let file = ModelFile::parse(bytes).map_err(format)?;
        let shape @ [input, hidden, output] = file.shape();
        if input != IMAGE_PIXELS || output != CLASSES || hidden > MAX_HIDDEN {
            return Err(ModelError::Shape {
                path: name(),
                input,
                hidden,
                output,
            });
        }
        let weights = match file.element() {
            ElementType::F32 => {
                let mut parameters = vec![0.0; file.parameter_count()];
                file.copy_parameters(&mut parameters).map_err(format)?;
                file.header().slices_in(&parameters).map_err(format)?;
                Weights::F32(parameters)
            }
            ElementType::I8 => {
                let file = AlignedBytes::new(bytes);
                let model = ModelFile::parse(file.bytes())
                    .and_then(|f| f.slices_i8())
                    .map_err(format)?;
                let len = model.packed_len();
                let mut packed = vec![Line([0; 16]); len.div_ceil(16)];
                model
                    .pack(&mut words_mut(&mut packed)[..len])
                    .map_err(format)?;
                Weights::I8 { file, packed }
            }
        };
        Ok(Self {
            header: *file.header(),
            shape,
            class_names: file.class_names().into_iter().map(str::to_owned).collect(),
            weights,
            bytes: bytes.len(),
            checksum: file.checksum(),
        })
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// `[input, hidden, output]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// The file's class names, `k`-th for output `k`: none in a version-1 file, and never
    /// more than the outputs (there may be fewer).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// What to call output `k`: its index in a file without names (MNIST's digits), its
    /// class name in one with names, and `output k` for an output past the names (a model
    /// trained on fewer classes than outputs).
    pub fn class_label(&self, k: usize) -> String {
        match self.class_names.get(k) {
            Some(name) => name.clone(),
            None if self.class_names.is_empty() => k.to_string(),
            None => format!("output {k}"),
        }
    }

    /// How the file stores its weights.
    pub fn element(&self) -> ElementType {
        self.header.element
    }

    /// An f32 model's `W1, b1, W2, b2` in file order; `None` for an int8 model.
    pub fn parameters(&self) -> Option<&[f32]> {
        match &self.weights {
            Weights::F32(parameters) => Some(parameters),
            Weights::I8 { .. } => None,
        }
    }

    /// The file's length in bytes.
    pub fn file_len(&self) -> usize {
        self.bytes
    }

    /// The file's CRC-32.
    pub fn checksum(&self) -> u32 {
        self.checksum
    }

    /// The network, ready to classify.
    pub fn classifier(&self) -> Classifier<'_> {
        // `load` made the same calls on the same header and bytes, which are private.
        match &self.weights {
            Weights::F32(parameters) => Classifier::F32(
                self.header
                    .slices_in(parameters)
                    .expect("HostModel::load checked the parameter split"),
            ),
            Weights::I8 { file, packed } => Classifier::I8(
                ModelFile::parse(file.bytes())
                    .and_then(|f| f.slices_i8())
                    .and_then(|m| MlpI8Packed::new(m, &words(packed)[..m.packed_len()]))
                    .map(Box::new)
                    .expect("HostModel::load checked and packed the int8 file"),
            ),
        }
    }

    /// [`Classifier::predict_pixels`] of [`HostModel::classifier`]: for one image (the
    /// int8 file is checked again on each call; classify many through one classifier).
    ///
    /// # Errors
    /// None for a model [`HostModel::load`] accepted; nn-core's error otherwise.
    pub fn predict_pixels(
        &self,
        pixels: &[u8; IMAGE_PIXELS],
    ) -> Result<(usize, [f32; CLASSES]), nn_core::Error> {
        self.classifier().predict_pixels(pixels)
    }
}

#[cfg(test)]
mod tests {
    use nn_core::InputScaling;

    use super::*;

    #[test]
    fn the_size_cap_admits_the_largest_model_and_no_more() {
        let header = Header::new(
            [IMAGE_PIXELS, MAX_HIDDEN, CLASSES],
            nn_core::Activation::Relu,
            nn_core::Activation::Softmax,
            InputScaling::UNIT,
        )
        .unwrap();
        let largest = nn_core::format::encoded_len(&header).unwrap() as u64;
        assert!(largest <= MAX_MODEL_BYTES && MAX_MODEL_BYTES - largest < 64);
    }

    #[test]
    fn scaling_is_pixel_times_scale_plus_offset() {
        let s = InputScaling {
            scale: 0.5,
            offset: -1.0,
        };
        let mut x = [0.0; 3];
        s.apply(&[0, 2, 255], &mut x);
        assert_eq!(x, [-1.0, 0.0, 126.5]);
    }
}
