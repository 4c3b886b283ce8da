//! Your own images as a data set: one folder per class, the layout of Keras'
//! `image_dataset_from_directory`.
//!
//! ```text
//! DIR/train/<class>/*.png|jpg|jpeg
//! DIR/test/<class>/*.png|jpg|jpeg
//! ```
//!
//! 1. The class names are the folder names under `train/`, sorted (by bytes, as Python's
//!    `sorted` and Keras do); label `k` is the `k`-th name. A model has [`CLASSES`] outputs,
//!    so at most that many classes: a model trained on fewer keeps its 10 outputs, the unused
//!    ones never a target. Each name must be a valid class name of the model file (1 to 32
//!    bytes of UTF-8, no control characters), since the names go into it.
//! 2. `test/`'s folders are labelled by the same names (a test folder may be missing, not
//!    unknown); `eval` labels them by the model file's names instead, when it has some.
//! 3. Every `.png`, `.jpg` or `.jpeg` file (any case) goes through `predict`'s preprocessing,
//!    [`crate::preprocess::load_image`]; other files and anything hidden (a name starting with
//!    `.`, such as `.DS_Store` or `.ipynb_checkpoints`) are not images of the set: they are
//!    counted and shown, never read.
//! 4. A class folder without images, a folder name that cannot be a class name, more classes
//!    than outputs: an error naming the folder, found before any image is decoded. An image that does not decode (or is blank)
//!    stops the load with its path, unless the caller skips bad files ([`Skip::Bad`]), and
//!    then the [`Report`] counts them and names the first few.

use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::dataset::{CLASSES, Dataset, PIXELS};
use crate::error::DataError;

/// The image files a class folder is read for, by extension (compared ignoring case).
pub const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// The most images one split may hold: as many as the largest IDX file ([`crate::idx`])
/// holds, 1.3 million.
pub const MAX_IMAGES: usize = (crate::idx::MAX_FILE_BYTES / PIXELS as u64) as usize;

/// How many skipped or ignored files a [`Report`] names.
pub const NAMED: usize = 3;

/// What to do with an image that cannot be read, decoded or found to hold a digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Skip {
    /// Stop with its error (the default).
    #[default]
    Nothing,
    /// Leave it out and count it in the [`Report`] (`--skip-bad`).
    Bad,
}

/// What a load left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// One line per image left out under [`Skip::Bad`], naming the file and why.
    pub skipped: Vec<String>,
    /// Files and folders that are not images of the set (other extensions, hidden names).
    pub ignored: Vec<PathBuf>,
}

impl Report {
    /// Adds `other`'s files after this one's.
    pub fn extend(&mut self, other: Report) {
        self.skipped.extend(other.skipped);
        self.ignored.extend(other.ignored);
    }

    /// The lines to show a user: how many images were skipped and which (the first
    /// [`NAMED`]), how many files were ignored; nothing when nothing was left out.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if !self.skipped.is_empty() {
            lines.push(format!(
                "skipped {} bad image{} (--skip-bad): {}",
                self.skipped.len(),
                plural(self.skipped.len()),
                first_few(self.skipped.iter().cloned())
            ));
        }
        if !self.ignored.is_empty() {
            lines.push(format!(
                "ignored {} file{} (not .png/.jpg/.jpeg images): {}",
                self.ignored.len(),
                plural(self.ignored.len()),
                first_few(self.ignored.iter().map(|p| crate::read::show(p)))
            ));
        }
        lines
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The first [`NAMED`] items joined with `; `, and how many more there are.
fn first_few(items: impl ExactSizeIterator<Item = String>) -> String {
    let more = items.len().saturating_sub(NAMED);
    let mut text = items.take(NAMED).collect::<Vec<_>>().join("; ");
    if more > 0 {
        text.push_str(&format!("; and {more} more"));
    }
    text
}

/// Whether `dir` is in this layout: it has a `train` or a `test` folder.
pub fn is_folder_layout(dir: &Path) -> bool {
    dir.join("train").is_dir() || dir.join("test").is_dir()
}

/// Step 1: the class folders of `split` (`DIR/train` or `DIR/test`), sorted by name, as
/// `(name, path)`; hidden entries and plain files go to `ignored`.
///
/// # Errors
/// [`DataError::MissingSplit`], [`DataError::NoClasses`], [`DataError::TooManyClasses`],
/// [`DataError::BadClassName`], [`DataError::Io`].
pub fn class_folders(
    split: &Path,
    ignored: &mut Vec<PathBuf>,
) -> Result<Vec<(String, PathBuf)>, DataError> {
    if !split.is_dir() {
        return Err(DataError::MissingSplit {
            dir: split.to_path_buf(),
        });
    }
    let mut classes = Vec::new();
    for entry in sorted_entries(split)? {
        let path = entry.clone();
        let name = entry.file_name().unwrap_or_default();
        if name.as_encoded_bytes().starts_with(b".") || !path.is_dir() {
            ignored.push(path);
            continue;
        }
        let name = name
            .to_str()
            .filter(|n| is_class_name(n))
            .ok_or_else(|| DataError::BadClassName { dir: path.clone() })?;
        classes.push((name.to_owned(), path));
    }
    if classes.is_empty() {
        return Err(DataError::NoClasses {
            dir: split.to_path_buf(),
        });
    }
    if classes.len() > CLASSES {
        return Err(DataError::TooManyClasses {
            dir: split.to_path_buf(),
            found: classes.len(),
        });
    }
    Ok(classes)
}

/// Whether the model file accepts `name` as a class name: asked of nn-core's encoder, the
/// one home of that rule.
fn is_class_name(name: &str) -> bool {
    use nn_core::format::{Header, encoded_len_named};
    use nn_core::{Activation, IMAGE_PIXELS, InputScaling};
    Header::new(
        [IMAGE_PIXELS, 1, CLASSES],
        Activation::Relu,
        Activation::Softmax,
        InputScaling::UNIT,
    )
    .and_then(|header| encoded_len_named(&header, &[name]))
    .is_ok()
}

/// The class names of `split`, sorted (step 1).
///
/// # Errors
/// As [`class_folders`].
pub fn class_names(split: &Path) -> Result<Vec<String>, DataError> {
    let classes = class_folders(split, &mut Vec::new())?;
    Ok(classes.into_iter().map(|(name, _)| name).collect())
}

/// The image files of one split, labelled, listed but not yet read: what
/// [`list_split`] found and [`Listing::read`] decodes.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// The split (`DIR/train` or `DIR/test`).
    pub split: PathBuf,
    /// Each image file and its label, class after class, each class's files in name order.
    pub files: Vec<(PathBuf, u8)>,
    /// What is not an image of the set.
    pub ignored: Vec<PathBuf>,
}

/// Step 2: the image files of `split`, each labelled with its folder's index in `names`.
/// Only names are looked at, so a whole data set's structure is checked before any image
/// is decoded.
///
/// # Errors
/// As [`class_folders`]; [`DataError::UnknownClass`] for a folder not in `names`,
/// [`DataError::EmptyClass`], [`DataError::TooManyImages`].
pub fn list_split(split: &Path, names: &[String]) -> Result<Listing, DataError> {
    let mut listing = Listing {
        split: split.to_path_buf(),
        ..Listing::default()
    };
    for (name, dir) in class_folders(split, &mut listing.ignored)? {
        let label =
            names
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| DataError::UnknownClass {
                    dir: dir.clone(),
                    known: names.to_vec(),
                })?;
        let before = listing.files.len();
        for path in sorted_entries(&dir)? {
            if is_image_file(&path) {
                // At most CLASSES names, so the index fits.
                listing.files.push((path, label as u8));
            } else {
                listing.ignored.push(path);
            }
        }
        if listing.files.len() == before {
            return Err(DataError::EmptyClass { dir });
        }
        if listing.files.len() > MAX_IMAGES {
            return Err(DataError::TooManyImages {
                dir: split.to_path_buf(),
                limit: MAX_IMAGES,
            });
        }
    }
    Ok(listing)
}

impl Listing {
    /// Steps 3 and 4: every image through `predict`'s preprocessing, in parallel, kept in
    /// the listing's order.
    ///
    /// # Errors
    /// [`DataError::Image`] for the first bad image (in the listing's order) unless `skip`
    /// is [`Skip::Bad`], and [`DataError::NoImagesLeft`] when skipping left nothing.
    pub fn read(self, skip: Skip) -> Result<(Dataset, Report), DataError> {
        let mut report = Report {
            skipped: Vec::new(),
            ignored: self.ignored,
        };
        // Decoding is the slow part; every core takes some of the files.
        let loaded: Vec<_> = self
            .files
            .par_iter()
            .map(|(path, _)| crate::preprocess::load_image(path))
            .collect();
        let mut set = Dataset::default();
        for ((_, label), image) in self.files.iter().zip(loaded) {
            match image {
                Ok(pixels) => {
                    set.images.extend_from_slice(&pixels);
                    set.labels.push(*label);
                }
                Err(e) if skip == Skip::Bad => report.skipped.push(e.to_string()),
                Err(source) => return Err(DataError::Image { source }),
            }
        }
        if set.is_empty() {
            return Err(DataError::NoImagesLeft {
                dir: self.split,
                skipped: report.skipped.len(),
            });
        }
        Ok((set, report))
    }
}

/// Whether `path` names an image of the set: not hidden, with one of [`EXTENSIONS`].
fn is_image_file(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."));
    let image = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)));
    !hidden && image
}

/// The entries of `dir`, sorted by name.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let io = |source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?;
    entries.sort();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkdirs(root: &Path, dirs: &[&str]) {
        for d in dirs {
            fs::create_dir_all(root.join(d)).unwrap();
        }
    }

    #[test]
    fn classes_are_the_sorted_folder_names_and_the_rest_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        mkdirs(
            dir.path(),
            &["train/ring", "train/Bar", "train/bar", "train/.cache"],
        );
        fs::write(dir.path().join("train/notes.txt"), "x").unwrap();
        let mut ignored = Vec::new();
        let classes = class_folders(&dir.path().join("train"), &mut ignored).unwrap();
        let names: Vec<_> = classes.iter().map(|(n, _)| n.as_str()).collect();
        // Byte order: upper case first, as Python's `sorted`.
        assert_eq!(names, ["Bar", "bar", "ring"]);
        assert_eq!(
            ignored,
            [
                dir.path().join("train/.cache"),
                dir.path().join("train/notes.txt")
            ]
        );
    }

    #[test]
    fn more_classes_than_outputs_names_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let split = dir.path().join("train");
        for k in 0..=CLASSES {
            fs::create_dir_all(split.join(format!("c{k:02}"))).unwrap();
        }
        let err = class_names(&split).unwrap_err();
        assert!(
            matches!(err, DataError::TooManyClasses { found: 11, .. }),
            "{err}"
        );
        assert!(
            err.to_string().starts_with(&crate::read::show(&split)),
            "{err}"
        );
    }

    #[test]
    fn a_folder_name_the_model_file_cannot_hold_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let long = "x".repeat(nn_core::format::CLASS_NAME_MAX_LEN + 1);
        mkdirs(dir.path(), &[&format!("train/{long}")]);
        let err = class_names(&dir.path().join("train")).unwrap_err();
        assert!(matches!(err, DataError::BadClassName { .. }), "{err}");
        assert!(err.to_string().contains(&long), "{err}");
        let fits = "x".repeat(nn_core::format::CLASS_NAME_MAX_LEN);
        assert!(is_class_name(&fits));
    }

    #[test]
    fn image_files_by_extension_in_any_case() {
        for (name, image) in [
            ("a.png", true),
            ("a.JPG", true),
            ("a.jpeg", true),
            ("a.pgm", false),
            ("a.png.txt", false),
            (".a.png", false),
            ("png", false),
        ] {
            assert_eq!(is_image_file(Path::new(name)), image, "{name}");
        }
    }

    #[test]
    fn the_report_counts_and_names_the_first_few() {
        let report = Report {
            skipped: (0..5).map(|i| format!("f{i}.png: bad")).collect(),
            ignored: vec![PathBuf::from("x.txt")],
        };
        assert_eq!(
            report.lines(),
            [
                "skipped 5 bad images (--skip-bad): f0.png: bad; f1.png: bad; f2.png: bad; and 2 more",
                "ignored 1 file (not .png/.jpg/.jpeg images): x.txt",
            ]
        );
        assert!(Report::default().lines().is_empty());
    }
}
