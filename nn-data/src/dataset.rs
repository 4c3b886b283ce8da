//! A data set as the trainer and the evaluator take it: labelled 28×28 images, stored flat.

use std::ops::Range;

use crate::error::DataError;

/// Pixels in one MNIST image (28 x 28): nn-core's [`nn_core::IMAGE_PIXELS`], the one home
/// of that number.
pub const PIXELS: usize = nn_core::IMAGE_PIXELS;

/// Number of classes (digits 0-9): nn-core's [`nn_core::CLASSES`].
pub const CLASSES: usize = nn_core::CLASSES;

/// Labelled 28x28 images, stored flat.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dataset {
    /// `len * 784` pixels, image after image, each row-major; 0 is background, 255 full ink.
    pub images: Vec<u8>,
    /// One label 0-9 per image.
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The `i`-th image. Panics if `i >= len()` (like slice indexing).
    pub fn image(&self, i: usize) -> &[u8; PIXELS] {
        self.images[i * PIXELS..(i + 1) * PIXELS]
            .try_into()
            .expect("slice of PIXELS bytes")
    }

    /// The `i`-th label. Panics if `i >= len()`.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// Images and labels read from two files (named `images_file` and `labels_file` in
    /// errors) as one set: as many images as labels, at least one, each label below
    /// [`CLASSES`] (`images` is `n × 784` pixels).
    ///
    /// # Errors
    /// [`DataError::CountMismatch`], [`DataError::Empty`], [`DataError::LabelOutOfRange`].
    pub fn from_files(
        images: Vec<u8>,
        images_file: &str,
        labels: Vec<u8>,
        labels_file: &str,
    ) -> Result<Dataset, DataError> {
        if images.len() != labels.len() * PIXELS {
            return Err(DataError::CountMismatch {
                images_file: images_file.to_owned(),
                images: images.len() / PIXELS,
                labels_file: labels_file.to_owned(),
                labels: labels.len(),
            });
        }
        if labels.is_empty() {
            return Err(DataError::Empty {
                images_file: images_file.to_owned(),
                labels_file: labels_file.to_owned(),
            });
        }
        if let Some((index, &label)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| usize::from(l) >= CLASSES)
        {
            return Err(DataError::LabelOutOfRange {
                file: labels_file.to_owned(),
                index,
                label,
            });
        }
        Ok(Dataset { images, labels })
    }

    /// The examples at `indices`, in that order, as a set of their own. Panics if an index
    /// is out of bounds.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let mut out = Dataset {
            images: Vec::with_capacity(indices.len() * PIXELS),
            labels: Vec::with_capacity(indices.len()),
        };
        for &i in indices {
            out.images.extend_from_slice(self.image(i));
            out.labels.push(self.label(i));
        }
        out
    }

    /// A copy of images `range`. Panics if the range is out of bounds.
    pub fn subset(&self, range: Range<usize>) -> Dataset {
        Dataset {
            images: self.images[range.start * PIXELS..range.end * PIXELS].to_vec(),
            labels: self.labels[range].to_vec(),
        }
    }
}

/// The training and test sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mnist {
    /// 60000 images for MNIST.
    pub train: Dataset,
    /// 10000 images for MNIST.
    pub test: Dataset,
}
