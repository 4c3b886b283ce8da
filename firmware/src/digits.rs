//! The self-test digits: the first 100 images of MNIST's t10k set and their labels, in
//! flash (see README.md, "Self-test digits", for the command that extracted them).

use nn_core::IMAGE_PIXELS;

const LABEL_BYTES: &[u8] = include_bytes!("../data/t10k-100-labels.bin");
const COUNT: usize = LABEL_BYTES.len();

/// Labelled images to classify at boot.
pub struct Digits {
    /// One 28 × 28 image per row, 0–255 pixels, row-major.
    pub images: &'static [[u8; IMAGE_PIXELS]],
    /// The digit each image shows.
    pub labels: &'static [u8],
}

// Safety: transmute checks at compile time that the images file holds exactly COUNT
// images (one per label), and any byte is a valid u8.
static IMAGES: [[u8; IMAGE_PIXELS]; COUNT] =
    unsafe { core::mem::transmute(*include_bytes!("../data/t10k-100-images.bin")) };

/// The built-in digits.
pub static DIGITS: Digits = Digits {
    images: &IMAGES,
    labels: LABEL_BYTES,
};
