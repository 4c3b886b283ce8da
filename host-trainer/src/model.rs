//! The one way the host reads a model file: `eval` (through `train::export::read_model`),
//! `predict`, `serve` and `device-eval` all call [`HostModel::load`]:
//!
//! 1. a bounded read of a regular file ([`nn_data::read::read_capped`], at most
//!    [`MAX_MODEL_BYTES`]);
//! 2. nn-core's decoder, [`ModelFile::parse`], which checks every byte (any format version,
//!    any depth), the shape limits and that the outputs stay finite;
//! 3. the file's bytes kept in 16-byte aligned memory, so nn-core borrows every layer in place
//!    as on the board ([`HostModel::model`]), and an int8 model's layers packed for the host's
//!    fastest kernel (`ModelI8::pack`);
//! 4. one shape check with one wording: the host runs MNIST classifiers, [`IMAGE_PIXELS`]
//!    inputs and [`CLASSES`] outputs, no layer wider than [`MAX_HIDDEN`]
//!    ([`HostModel::load_any`] skips it, for commands that take any model).
//!
//! [`write()`] writes any [`Model`] a command built over its own vectors (`train`'s export,
//! `quantize`, `import`): it encodes it (`format::encode_model`, which checks it as the
//! decoder does) and runs steps 2 and 3 on the bytes before writing them.

use std::path::Path;
use std::sync::OnceLock;

use nn_core::format::{self, ElementType, Header, ModelFile};
use nn_core::network::{Model, ModelI8};
use nn_core::{CLASSES, IMAGE_PIXELS, TensorQuant};

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

/// The one way the host writes a model file: `model` (with `names[k]` naming output `k`,
/// or no names) is encoded ([`format::encode_model`]: the oldest format version that holds it,
/// checked as the decoder checks), then loaded by [`HostModel::from_bytes_any`], the loader's
/// own steps 2 and 3, so nothing is written that the loader would then refuse (an activation
/// bound); then written atomically ([`crate::files::atomic::write`]). Any shape is written
/// (`predict --npy` runs any model); `eval`, `predict` on images and `serve` still load only
/// MNIST's.
///
/// A command builds `model` over its own vectors, e.g. for one f32 layer:
/// `let mut layers = Layers::new(); layers.push(LayerF32 { weights: &w, bias: &b, inputs,
/// outputs, activation })?; let model = Model::F32(ModelF32 { layers, softmax, scaling });`.
///
/// # Errors
/// What the encoder or the loader says of the model (nothing is written then), or the write's
/// I/O error; all start with `model <path>:`.
pub fn write(path: &Path, model: &Model<'_>, names: &[&str]) -> anyhow::Result<()> {
    let not_written = |e: &dyn std::fmt::Display| {
        anyhow::anyhow!("{e}; not written, as eval and predict would refuse it")
    };
    let format_error = |source| ModelError::Format {
        path: show(path),
        source,
    };
    let len = format::encoded_len_model(model, names).map_err(|e| not_written(&format_error(e)))?;
    let mut bytes = vec![0u8; len];
    format::encode_model(model, names, &mut bytes).map_err(|e| not_written(&format_error(e)))?;
    write_bytes(path, &bytes)
}

/// [`write()`] for bytes already encoded: checked by [`HostModel::from_bytes_any`], then
/// written atomically.
///
/// # Errors
/// As [`write()`].
pub fn write_bytes(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    if let Err(e) = HostModel::from_bytes_any(bytes, path) {
        anyhow::bail!("{e}; not written, as eval and predict would refuse it");
    }
    crate::files::atomic::write(path, bytes).with_context(|| format!("model {}", show(path)))
}

/// A model file, checked, as its bytes: every layer is borrowed from them
/// ([`HostModel::model`]).
#[derive(Debug, Clone)]
pub struct HostModel {
    /// The whole file, which [`ModelFile::parse`] accepted.
    file: AlignedBytes,
    /// An int8 model's layers packed for the host's fastest kernel (`ModelI8::pack`):
    /// `packed_len` words, and the rest of the last line; empty for f32.
    packed: Vec<Line>,
    packed_len: usize,
    header: Header,
    shape: [usize; 3],
    class_names: Vec<String>,
    checksum: u32,
    /// An f32 model's parameters, copied out only when [`HostModel::parameters`] is asked.
    parameters: OnceLock<Vec<f32>>,
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

/// A model file read into 16-byte aligned memory, so a model borrows its arrays in place as
/// it would from flash.
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

/// A [`HostModel`] ready to classify MNIST images: its [`Model`], borrowing the model's
/// bytes (and packed layers).
#[derive(Clone, Copy, Debug)]
pub struct Classifier<'a> {
    model: Model<'a>,
}

impl<'a> Classifier<'a> {
    /// The network.
    pub fn model(&self) -> &Model<'a> {
        &self.model
    }

    /// The class and the outputs for 0–255 pixels, computed as the firmware does
    /// ([`Model::predict_pixels`]): an f32 model scales the pixels as its file says, and its
    /// class is the first largest output; an int8 model's class is the first largest int8
    /// output of its last layer (softmax is monotonic; the int8 logits break the ties its
    /// 1/256 steps would make), and its outputs are the exact dequantised int8 ones (for a
    /// softmax, `(q + 128) / 256`).
    ///
    /// # Errors
    /// None for a model [`HostModel::load`] accepted; nn-core's error otherwise.
    pub fn predict_pixels(
        &self,
        pixels: &[u8; IMAGE_PIXELS],
    ) -> Result<(usize, [f32; CLASSES]), nn_core::Error> {
        let mut scratch = vec![0.0f32; self.model.scratch_len()];
        let mut outputs = [0.0f32; CLASSES];
        match self.model {
            Model::F32(_) => {
                self.model
                    .predict_pixels(pixels, &mut scratch, &mut outputs)?;
                Ok((nn_core::kernels::argmax(&outputs), outputs))
            }
            Model::I8(m) => {
                // The last layer's int8 tensor first (the class), then the softmax on it.
                let logits = Model::I8(ModelI8 { softmax: None, ..m });
                let mut q = [0i8; CLASSES];
                logits.predict_pixels_i8(pixels, &mut scratch, &mut q)?;
                let class = (0..CLASSES).fold(0, |best, k| if q[k] > q[best] { k } else { best });
                let quant = match m.softmax {
                    Some(p) => {
                        let mut probabilities = [0i8; CLASSES];
                        nn_core::kernels::softmax_i8(&q, p, &mut probabilities);
                        q = probabilities;
                        TensorQuant::PROBABILITY
                    }
                    None => m
                        .layers
                        .last()
                        .map_or(TensorQuant::PROBABILITY, |l| l.activated()),
                };
                Ok((class, q.map(|q| quant.dequantize(q))))
            }
        }
    }
}

/// `model`'s sizes as a chain, inputs first: `784-32-16-10`.
pub fn chain(model: &Model<'_>) -> String {
    let sizes: Vec<(usize, usize)> = match model {
        Model::F32(m) => m.layers.iter().map(|l| (l.inputs, l.outputs)).collect(),
        Model::I8(m) => m.layers.iter().map(|l| (l.inputs, l.outputs)).collect(),
    };
    let first = sizes.first().map(|l| l.0);
    first
        .into_iter()
        .chain(sizes.iter().map(|l| l.1))
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join("-")
}

impl HostModel {
    /// Reads, validates and keeps the MNIST model file at `path` (see the module docs).
    ///
    /// # Errors
    /// [`ModelError`], naming the file.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        Self::from_bytes(&read_bytes(path)?, path)
    }

    /// Reads, validates and keeps the model file at `path`, of any shape (steps 1 to 3).
    ///
    /// # Errors
    /// [`ModelError::Read`], [`ModelError::Format`], naming the file.
    pub fn load_any(path: &Path) -> Result<Self, ModelError> {
        Self::from_bytes_any(&read_bytes(path)?, path)
    }

    /// Validates and keeps an MNIST model file's `bytes`, read from `path` (which errors
    /// name).
    ///
    /// # Errors
    /// [`ModelError`], naming the file.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, ModelError> {
        let model = Self::from_bytes_any(bytes, path)?;
        let [input, hidden, output] = model.shape;
        let widest = match model.model() {
            Model::F32(m) => m.layers.iter().map(|l| l.outputs).max(),
            Model::I8(m) => m.layers.iter().map(|l| l.outputs).max(),
        };
        if input != IMAGE_PIXELS || output != CLASSES || widest.unwrap_or(0) > MAX_HIDDEN {
            return Err(ModelError::Shape {
                path: show(path),
                input,
                hidden,
                output,
            });
        }
        Ok(model)
    }

    /// Validates and keeps a model file's `bytes` of any shape, read from `path` (which errors
    /// name).
    ///
    /// # Errors
    /// [`ModelError::Format`], naming the file.
    pub fn from_bytes_any(bytes: &[u8], path: &Path) -> Result<Self, ModelError> {
        let format = |source| ModelError::Format {
            path: show(path),
            source,
        };
        let aligned = AlignedBytes::new(bytes);
        let file = ModelFile::parse(aligned.bytes()).map_err(format)?;
        let (packed, packed_len) = match file.model().map_err(format)? {
            Model::F32(_) => (Vec::new(), 0),
            Model::I8(m) => {
                let len = m.packed_len();
                let mut packed = vec![Line([0; 16]); len.div_ceil(16)];
                m.pack(&mut words_mut(&mut packed)[..len]).map_err(format)?;
                (packed, len)
            }
        };
        let (header, shape, checksum) = (*file.header(), file.shape(), file.checksum());
        let class_names = file.class_names().into_iter().map(str::to_owned).collect();
        Ok(Self {
            file: aligned,
            packed,
            packed_len,
            header,
            shape,
            class_names,
            checksum,
            parameters: OnceLock::new(),
        })
    }

    /// The network, every layer borrowed from the file's bytes, an int8 model's packed
    /// layers attached.
    pub fn model(&self) -> Model<'_> {
        // `from_bytes_any` parsed these very bytes and viewed them, which are private.
        let model = ModelFile::parse(self.file.bytes())
            .and_then(|f| f.model())
            .expect("HostModel::load checked the file");
        match model {
            Model::I8(m) => Model::I8(ModelI8 {
                packed: &words(&self.packed)[..self.packed_len],
                ..m
            }),
            f32 => f32,
        }
    }

    /// The file's header (for a version-3 file, the summary `ModelFile::header` gives).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// `[input, hidden, output]` of the header.
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

    /// An f32 model's parameters, each layer's weights then its bias in layer order (`W1,
    /// b1, W2, b2` at depth 2); `None` for an int8 model.
    pub fn parameters(&self) -> Option<&[f32]> {
        if self.element() != ElementType::F32 {
            return None;
        }
        let parameters = self.parameters.get_or_init(|| {
            let file = ModelFile::parse(self.file.bytes()).expect("checked at load");
            let mut parameters = vec![0.0; file.parameter_count()];
            file.copy_parameters(&mut parameters)
                .expect("an f32 file and a buffer of its parameter count");
            parameters
        });
        Some(parameters)
    }

    /// The file's bytes, as read.
    pub fn bytes(&self) -> &[u8] {
        self.file.bytes()
    }

    /// The file's length in bytes.
    pub fn file_len(&self) -> usize {
        self.file.len
    }

    /// The file's CRC-32.
    pub fn checksum(&self) -> u32 {
        self.checksum
    }

    /// The network, ready to classify MNIST images.
    pub fn classifier(&self) -> Classifier<'_> {
        Classifier {
            model: self.model(),
        }
    }

    /// [`Classifier::predict_pixels`] of [`HostModel::classifier`]: for one image (the file
    /// is checked again on each call; classify many through one classifier).
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

    /// A depth-3 f32 model built over plain vectors goes through `write` and `load` and
    /// classifies as the model it was built from; a model of another shape is written, and
    /// `load_any` reads what `load` refuses for its shape.
    #[test]
    fn write_then_load_gives_back_a_depth_3_model() {
        use nn_core::Activation;
        use nn_core::network::{LayerF32, Layers, ModelF32};
        let sizes = [IMAGE_PIXELS, 12, 11, CLASSES];
        let params: Vec<(Vec<f32>, Vec<f32>)> = sizes
            .windows(2)
            .map(|p| {
                let w = (0..p[0] * p[1])
                    .map(|j| ((j % 7) as f32 - 3.0) * 0.01)
                    .collect();
                let b = (0..p[1]).map(|j| (j as f32 - 5.0) * 0.1).collect();
                (w, b)
            })
            .collect();
        let build = |sizes: &[usize]| {
            let mut layers = Layers::new();
            for (i, p) in sizes.windows(2).enumerate() {
                layers
                    .push(LayerF32 {
                        weights: &params[i].0,
                        bias: &params[i].1,
                        inputs: p[0],
                        outputs: p[1],
                        activation: [Activation::Relu6, Activation::Tanh, Activation::Identity][i],
                    })
                    .unwrap();
            }
            Model::F32(ModelF32 {
                layers,
                softmax: true,
                scaling: InputScaling::UNIT,
            })
        };
        let dir = std::env::temp_dir().join(format!("host-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("deep.nnm");
        let model = build(&sizes);
        write(&path, &model, &[]).unwrap();
        let host = HostModel::load(&path).unwrap();
        assert_eq!(host.model().depth(), 3);
        let pixels: [u8; IMAGE_PIXELS] = std::array::from_fn(|i| (i * 31 % 256) as u8);
        let mut scratch = vec![0.0; model.scratch_len()];
        let mut expected = [0.0f32; CLASSES];
        model
            .predict_pixels(&pixels, &mut scratch, &mut expected)
            .unwrap();
        let (class, outputs) = host.predict_pixels(&pixels).unwrap();
        assert_eq!(outputs, expected);
        assert_eq!(class, nn_core::kernels::argmax(&expected));

        // 784-12-11 is a valid model but not an MNIST classifier: written, and read by
        // `load_any` only.
        let other = dir.join("other.nnm");
        write(&other, &build(&sizes[..3]), &[]).unwrap();
        let err = HostModel::load(&other).unwrap_err();
        assert!(err.to_string().contains("784-H-10"), "{err}");
        assert_eq!(HostModel::load_any(&other).unwrap().shape(), [784, 12, 11]);
        std::fs::remove_dir_all(&dir).unwrap();
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
