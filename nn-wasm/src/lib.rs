//! nn-core in the browser: what the draw-a-digit page (`www/`, served by `host-trainer serve`)
//! runs, compiled to `wasm32-unknown-unknown` with SIMD128 by `scripts/build-wasm.sh`.
//!
//! 1. the page fetches the model file and copies it into the model buffer (`exports.rs`, built
//!    for wasm32 only, holds the exported functions and the buffers); nn-core's validating decoder ([`Model::load`]) checks it, and the page shows its error message if
//!    it refuses;
//! 2. on every stroke the page copies the canvas (RGBA) into the canvas buffer; it becomes grey
//!    over white paper ([`canvas_to_grey`]) and goes through nn-core's MNIST preprocessing, the
//!    very code `predict` and `POST /predict` run;
//! 3. the 28×28 runs through the model ([`Model::predict`]: nn-core's one front,
//!    `network::Model::classify_pixels`), as the host's `predict` does it: the page reads the
//!    28×28, the ten probabilities, the class and its name.
//!
//! Everything but the exported functions is plain safe Rust, tested on the host against the
//! trainer's own model loader.
#![no_std]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

use core::fmt;

use nn_core::format::{ElementType, ModelFile};
use nn_core::network;
use nn_core::preprocess::{grey_over_white, luma};
use nn_core::{CLASSES, IMAGE_PIXELS};

#[cfg(target_arch = "wasm32")]
pub mod exports;
pub mod teach;

/// Side of the page's square canvas, in pixels.
pub const CANVAS: usize = 280;
/// The most hidden units the page runs: the trainer's own limit (`host-trainer`'s
/// `model::MAX_HIDDEN`), so every model the trainer writes loads.
pub const MAX_HIDDEN: usize = 16_384;

/// Why the page cannot run a model file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError {
    /// nn-core's decoder refused the file.
    Format(nn_core::Error),
    /// A valid model that is not an MNIST classifier of at most [`MAX_HIDDEN`] hidden units.
    Shape([usize; 3]),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format(e) => write!(f, "{e}"),
            Self::Shape([i, h, o]) => write!(
                f,
                "shape {i}-{h}-{o}, but this page runs {IMAGE_PIXELS}-H-{CLASSES} models \
                 (28x28 pixels into 10 classes, H at most {MAX_HIDDEN})"
            ),
        }
    }
}

/// A model file the decoder accepted, borrowed in place: an f32 or an int8 network.
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    file: ModelFile<'a>,
    net: network::Model<'a>,
}

/// The widest layer of any model the page runs: its hidden layer or its 784 inputs.
const WIDEST: usize = if MAX_HIDDEN > IMAGE_PIXELS {
    MAX_HIDDEN
} else {
    IMAGE_PIXELS
};

/// Scratch for one prediction of any model the page runs: `network::Model::scratch_len`
/// words for the widest.
#[derive(Debug)]
pub struct Work {
    scratch: [f32; 2 * WIDEST],
}

impl Work {
    /// All zero.
    pub const ZERO: Self = Self {
        scratch: [0.0; 2 * WIDEST],
    };
}

impl<'a> Model<'a> {
    /// Validates `bytes` (a whole `.nnm` file, at a 16-byte aligned address so an f32 or int8
    /// model is borrowed in place) as a 784-H-10 classifier with H ≤ [`MAX_HIDDEN`].
    ///
    /// # Errors
    /// [`LoadError`].
    pub fn load(bytes: &'a [u8]) -> Result<Self, LoadError> {
        let file = ModelFile::parse(bytes).map_err(LoadError::Format)?;
        let shape @ [input, hidden, output] = file.shape();
        if input != IMAGE_PIXELS || output != CLASSES || hidden > MAX_HIDDEN {
            return Err(LoadError::Shape(shape));
        }
        let net = match file.element() {
            ElementType::F32 => {
                network::Model::F32(file.slices().map_err(LoadError::Format)?.network())
            }
            ElementType::I8 => {
                network::Model::I8(file.slices_i8().map_err(LoadError::Format)?.network())
            }
        };
        net.check().map_err(LoadError::Format)?;
        Ok(Self { file, net })
    }

    /// The class and the ten probabilities for a 28×28 of 0–255 pixels, computed as the
    /// host's `predict` does (`host-trainer`'s `Classifier::predict_pixels`): an f32 model
    /// scales the pixels as its file says; an int8 model's probabilities are the exact
    /// `(q + 128) / 256`, its class the first largest logit.
    ///
    /// # Errors
    /// None for a model [`Model::load`] accepted; nn-core's error otherwise.
    pub fn predict(
        &self,
        pixels: &[u8; IMAGE_PIXELS],
        work: &mut Work,
        probabilities: &mut [f32; CLASSES],
    ) -> Result<usize, nn_core::Error> {
        self.net
            .classify_pixels(pixels, &mut work.scratch, probabilities)
    }

    /// The validated file.
    pub fn file(&self) -> &ModelFile<'a> {
        &self.file
    }

    /// Class `k`'s name, when the file has class names.
    pub fn class_name(&self, k: usize) -> Option<&'a str> {
        self.file.class_names().get(k)
    }

    /// The model's outputs (the probabilities [`Model::predict`] writes).
    pub fn outputs(&self) -> usize {
        self.file.shape()[2]
    }

    /// `"f32"` or `"int8"`, and the hidden units.
    pub fn describe(&self) -> (&'static str, usize) {
        let element = match self.net.element() {
            ElementType::F32 => "f32",
            ElementType::I8 => "int8",
        };
        (element, self.file.shape()[1])
    }
}

/// Step 1 of the preprocessing for a canvas's RGBA bytes: each pixel's grey level
/// ([`luma`], as the `image` crate decodes the same canvas saved as PNG) over white paper
/// ([`grey_over_white`]). Stops at the shorter of `rgba` (4 bytes a pixel) and `grey`.
pub fn canvas_to_grey(rgba: &[u8], grey: &mut [f32]) {
    for (g, p) in grey.iter_mut().zip(rgba.chunks_exact(4)) {
        *g = grey_over_white(luma(p[0], p[1], p[2]), p[3]);
    }
}

#[cfg(test)]
mod tests {
    use std::boxed::Box;
    use std::path::Path;
    use std::vec::Vec;

    use host_trainer::model::HostModel;
    use nn_core::preprocess::{preprocess, scratch_len};

    use super::*;

    fn committed(path: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
    }

    /// The file's bytes at a 16-byte aligned address, for the whole test run.
    fn aligned(bytes: &[u8]) -> &'static [u8] {
        let words: Vec<u128> = bytes
            .chunks(16)
            .map(|c| {
                let mut b = [0u8; 16];
                b[..c.len()].copy_from_slice(c);
                u128::from_ne_bytes(b)
            })
            .collect();
        let words: &'static [u128] = Box::leak(words.into_boxed_slice());
        // Safety: a u128 slice is readable as bytes, and `bytes.len()` is within it.
        unsafe { core::slice::from_raw_parts(words.as_ptr().cast::<u8>(), bytes.len()) }
    }

    /// The committed MNIST digits (`firmware/data/`).
    fn digits() -> Vec<[u8; IMAGE_PIXELS]> {
        let bytes = std::fs::read(committed("firmware/data/t10k-100-images.bin")).unwrap();
        bytes
            .chunks_exact(IMAGE_PIXELS)
            .map(|c| c.try_into().unwrap())
            .collect()
    }

    #[test]
    fn the_committed_models_predict_as_the_host_does() {
        for name in ["firmware/models/mcu.nnm", "firmware/models/mcu-int8.nnm"] {
            let path = committed(name);
            let host = HostModel::load(&path).unwrap();
            let model = Model::load(aligned(&std::fs::read(&path).unwrap())).unwrap();
            let mut work = Box::new(Work::ZERO);
            let mut p = [0.0; CLASSES];
            for pixels in digits() {
                let (class, expected) = host.predict_pixels(&pixels).unwrap();
                assert_eq!(model.predict(&pixels, &mut work, &mut p).unwrap(), class);
                // The same kernels, at this machine's SIMD width in both.
                assert_eq!(p, expected, "{name}");
            }
        }
    }

    #[test]
    fn bad_files_are_refused_with_the_decoders_message() {
        let good = std::fs::read(committed("firmware/models/mcu.nnm")).unwrap();
        let mut flipped = good.clone();
        flipped[200] ^= 1;
        let err = Model::load(aligned(&flipped)).unwrap_err();
        assert!(matches!(
            err,
            LoadError::Format(nn_core::Error::BadChecksum { .. })
        ));
        assert!(std::format!("{err}").contains("checksum"), "{err}");
        let err = Model::load(aligned(b"not a model")).unwrap_err();
        assert!(matches!(err, LoadError::Format(_)), "{err}");

        // A valid 2-3-2 file is not an MNIST classifier.
        let header = nn_core::format::Header::new(
            [2, 3, 2],
            nn_core::Activation::Relu,
            nn_core::Activation::Softmax,
            nn_core::InputScaling::UNIT,
        )
        .unwrap();
        let mut bytes = std::vec![0u8; nn_core::format::encoded_len(&header).unwrap()];
        let params = [0.5f32; 6 + 3 + 6 + 2];
        let (w1, rest) = params.split_at(6);
        let (b1, rest) = rest.split_at(3);
        let (w2, b2) = rest.split_at(6);
        nn_core::format::encode(&header, [w1, b1, w2, b2], &mut bytes).unwrap();
        let err = Model::load(aligned(&bytes)).unwrap_err();
        assert_eq!(err, LoadError::Shape([2, 3, 2]));
        assert!(std::format!("{err}").starts_with("shape 2-3-2, but this page runs 784-H-10"));
    }

    #[test]
    fn class_names_come_from_the_file() {
        // The committed f32 model's weights written again with names, as a version-2 file.
        let path = committed("firmware/models/mcu.nnm");
        let bytes = std::fs::read(&path).unwrap();
        let file = ModelFile::parse(&bytes).unwrap();
        let mut params = std::vec![0.0; file.parameter_count()];
        file.copy_parameters(&mut params).unwrap();
        let [i, h, o] = file.shape();
        let (w1, rest) = params.split_at(h * i);
        let (b1, rest) = rest.split_at(h);
        let (w2, b2) = rest.split_at(o * h);
        let names = [
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        ];
        let mut named =
            std::vec![0u8; nn_core::format::encoded_len_named(file.header(), &names).unwrap()];
        nn_core::format::encode_named(file.header(), &names, [w1, b1, w2, b2], &mut named).unwrap();
        let model = Model::load(aligned(&named)).unwrap();
        assert_eq!(model.class_name(7), Some("seven"));
        assert_eq!(model.class_name(10), None);
        assert_eq!(model.describe(), ("f32", 128));
        assert_eq!(model.outputs(), 10);
        let plain = Model::load(aligned(&bytes)).unwrap();
        assert_eq!(plain.class_name(0), None);
    }

    #[test]
    fn a_canvas_becomes_the_grey_the_trainer_decodes() {
        // Black ink, white paper, a transparent pixel (paper) and a half-transparent blue one.
        let rgba = [
            0, 0, 0, 255, 255, 255, 255, 255, 9, 9, 9, 0, 20, 40, 200, 128,
        ];
        let mut grey = [0.0; 4];
        canvas_to_grey(&rgba, &mut grey);
        let a = 128.0 / 255.0;
        assert_eq!(grey[..3], [0.0, 255.0, 255.0]);
        assert!((grey[3] - (47.0 * a + 255.0 * (1.0 - a))).abs() < 1e-3);

        // A committed digit drawn black on a white canvas 10x its size comes back close.
        let digit = digits()[0];
        let mut rgba = std::vec![255u8; CANVAS * CANVAS * 4];
        for (i, px) in rgba.chunks_exact_mut(4).enumerate() {
            let v = 255 - digit[(i / CANVAS / 10) * 28 + (i % CANVAS) / 10];
            px[..3].fill(v);
        }
        let mut grey = std::vec![0.0; CANVAS * CANVAS];
        canvas_to_grey(&rgba, &mut grey);
        let mut scratch = std::vec![0.0; scratch_len(CANVAS, CANVAS)];
        let mut out = [0u8; IMAGE_PIXELS];
        preprocess(&mut grey, CANVAS, CANVAS, &mut scratch, &mut out).unwrap();
        let close = (0..IMAGE_PIXELS)
            .filter(|&i| out[i].abs_diff(digit[i]) <= 2)
            .count();
        assert!(close > 770, "{close} of 784 pixels within 2");
    }
}
