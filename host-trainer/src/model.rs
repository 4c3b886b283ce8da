//! The one way the host reads a model file: `eval` (through `train::export::read_model`),
//! `predict`, `inspect` and `device-eval` all call [`HostModel::load`]:
//!
//! 1. a bounded read of a regular file ([`crate::io::read_capped`], at most
//!    [`MAX_MODEL_BYTES`]);
//! 2. nn-core's decoder, [`ModelFile::parse`], which checks every byte, the shape limits and
//!    that the outputs stay finite;
//! 3. the parameters copied out, so the file's bytes can go;
//! 4. one shape check with one wording: the host runs MNIST classifiers,
//!    [`IMAGE_PIXELS`] inputs and [`CLASSES`] outputs, with at most [`MAX_HIDDEN`] hidden units.

use std::path::Path;

use nn_core::format::{Header, ModelFile};
use nn_core::{CLASSES, IMAGE_PIXELS, MlpSlices};

use crate::io::{ReadError, read_capped, show};

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

/// A model file's header and parameters, checked and owned.
#[derive(Debug, Clone)]
pub struct HostModel {
    header: Header,
    shape: [usize; 3],
    /// `W1, b1, W2, b2` in file order.
    parameters: Vec<f32>,
    bytes: usize,
    checksum: u32,
}

impl HostModel {
    /// Reads, validates and copies the model file at `path` (see the module docs).
    ///
    /// # Errors
    /// [`ModelError`], naming the file.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let name = || show(path);
        let bytes = read_bytes(path)?;
        let format = |source| ModelError::Format {
            path: name(),
            source,
        };
        let file = ModelFile::parse(&bytes).map_err(format)?;
        let shape @ [input, hidden, output] = file.shape();
        if input != IMAGE_PIXELS || output != CLASSES || hidden > MAX_HIDDEN {
            return Err(ModelError::Shape {
                path: name(),
                input,
                hidden,
                output,
            });
        }
        let mut parameters = vec![0.0; file.parameter_count()];
        file.copy_parameters(&mut parameters).map_err(format)?;
        let header = *file.header();
        header.slices_in(&parameters).map_err(format)?;
        Ok(Self {
            header,
            shape,
            parameters,
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

    /// `W1, b1, W2, b2` in file order.
    pub fn parameters(&self) -> &[f32] {
        &self.parameters
    }

    /// The parameters, giving up the rest.
    pub fn into_parameters(self) -> Vec<f32> {
        self.parameters
    }

    /// The file's length in bytes.
    pub fn file_len(&self) -> usize {
        self.bytes
    }

    /// The file's CRC-32.
    pub fn checksum(&self) -> u32 {
        self.checksum
    }

    /// The network as nn-core's size-erased model over the owned parameters.
    pub fn slices(&self) -> MlpSlices<'_> {
        // `load` made the same call on the same header and parameters, which are private.
        self.header
            .slices_in(&self.parameters)
            .expect("HostModel::load checked the parameter split")
    }

    /// The class and the probabilities for 0–255 pixels, scaled as the model file says
    /// (the same arithmetic as the firmware's `predict_pixels`).
    ///
    /// # Errors
    /// None for a model [`HostModel::load`] accepted; nn-core's error otherwise.
    pub fn predict_pixels(
        &self,
        pixels: &[u8; IMAGE_PIXELS],
    ) -> Result<(usize, [f32; CLASSES]), nn_core::Error> {
        let mlp = self.slices();
        let mut x = [0.0f32; IMAGE_PIXELS];
        mlp.scaling.apply(pixels, &mut x);
        let mut hidden = vec![0.0; mlp.hidden];
        let mut probabilities = [0.0; CLASSES];
        let class = mlp.predict_into(&x, &mut hidden, &mut probabilities)?;
        Ok((class, probabilities))
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
