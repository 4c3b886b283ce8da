//! The data sets of the project, read without trusting them: MNIST (its IDX files, fetched
//! and verified when missing), a user's own image folders, and the preprocessing that turns
//! any picture of a digit into the 28×28 the network takes. No command line here: the
//! trainer and the evaluator call it.
//!
//! - [`mnist`]: which layout a data directory holds, and loading it into [`Dataset`]s;
//! - [`idx`]: the IDX format; [`fetch`]: the four MNIST files, downloaded and verified;
//! - [`folder`]: `train/CLASS/*.png|jpg` and `test/…` image folders;
//! - [`preprocess`]: an image file into MNIST's 28×28 form;
//! - [`optdigits`]: other writers' digits (UCI's, as scikit-learn ships them), embedded;
//! - [`npy`]: NumPy's `.npy` arrays (uint8, int8, float32), the Python side's tensors;
//! - [`split`]: the seeded k-shot split every learner uses, on any labelled set;
//! - [`read`]: the bounded read every file goes through.

pub mod dataset;
pub mod error;
pub mod fetch;
pub mod folder;
pub mod idx;
pub mod mnist;
pub mod npy;
pub mod optdigits;
pub mod preprocess;
pub mod read;
pub mod split;

pub use dataset::{CLASSES, Dataset, Mnist, PIXELS};
pub use error::DataError;
pub use fetch::{ALL_FILES, MnistFile, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, find};
pub use mnist::{
    Fetch, Layout, Loaded, default_dir, ensure, layout, load, load_labelled, load_test,
    load_test_labelled,
};
