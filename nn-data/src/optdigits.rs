//! Other writers' digits: UCI's optdigits as scikit-learn ships them
//! (`third_party/optdigits/`, its README says where from and under which licences), embedded
//! in this crate and brought to MNIST's form.
//!
//! 1. The file: gzipped CSV, one digit a line, 64 values 0–16 (an 8×8 image, row by row,
//!    each value the count of set pixels in a 4×4 block of a 32×32 bitmap) and then the
//!    label 0–9. Every line is checked: a wrong count, a value out of range, a label that is
//!    not a digit is an error naming the line.
//! 2. Each value × 255 / 16, a grey level with the ink light on black, as MNIST draws it.
//! 3. One pixel of black paper around the 8×8, so that the border is paper even where the
//!    digit touches its box (nn-core reads the paper's colour from the border).
//! 4. nn-core's preprocessing, as for any picture: fitted to 20×20 (enlarged bilinearly) and
//!    centred by mass in 28×28 ([`crate::preprocess::from_grey`]).
//!
//! `--data optdigits` names the embedded copy ([`NAME`]); a path to a `.csv` or `.csv.gz` file
//! in the same format is read from disk instead ([`is_named`], [`load_named`]).

use std::io::Read;
use std::path::Path;

use crate::dataset::{CLASSES, Dataset, PIXELS};
use crate::error::DataError;

/// The word `--data` takes for the embedded copy.
pub const NAME: &str = "optdigits";
/// Side of an optdigits image.
pub const SIDE: usize = 8;
/// The largest value of an optdigits pixel (16 set pixels of a 4×4 block).
pub const LEVELS: u8 = 16;
/// Digits in the embedded copy.
pub const DIGITS: usize = 1797;
/// The embedded copy: scikit-learn 1.9.1's `sklearn/datasets/data/digits.csv.gz`.
pub static CSV_GZ: &[u8] = include_bytes!("../../third_party/optdigits/digits.csv.gz");

/// The most bytes of CSV read (decompressed or not): 40 times the embedded copy's.
pub const MAX_CSV_BYTES: u64 = 16 << 20;

/// Whether `--data` names optdigits: the word [`NAME`] (the embedded copy; a directory of
/// that name is reached as `./optdigits`), or a file whose name ends in `.csv` or `.csv.gz`.
pub fn is_named(data: &Path) -> bool {
    let name = data.to_string_lossy();
    name == NAME || name.ends_with(".csv") || name.ends_with(".csv.gz")
}

/// The digits `--data` names ([`is_named`]), in MNIST's form.
///
/// # Errors
/// [`DataError`], naming the file and line.
pub fn load_named(data: &Path) -> Result<Dataset, DataError> {
    if data.as_os_str() == NAME {
        return load();
    }
    let name = crate::read::show(data);
    let bytes = crate::read::read_capped(data, MAX_CSV_BYTES, "a CSV file").map_err(|source| {
        DataError::Read {
            file: name.clone(),
            source,
        }
    })?;
    if data.to_string_lossy().ends_with(".gz") {
        parse_gz(&bytes, &name)
    } else {
        parse(&bytes, &name)
    }
}

/// The embedded copy, in MNIST's form.
///
/// # Errors
/// None for the shipped file (a test reads it); the signature is [`parse_gz`]'s.
pub fn load() -> Result<Dataset, DataError> {
    parse_gz(CSV_GZ, NAME)
}

/// Gzipped CSV (`name` is what errors call it) into MNIST's form.
///
/// # Errors
/// [`DataError::Gzip`], [`DataError::TooLarge`] past [`MAX_CSV_BYTES`] decompressed, and
/// [`parse`]'s.
pub fn parse_gz(gz: &[u8], name: &str) -> Result<Dataset, DataError> {
    let mut csv = Vec::new();
    // One byte past the limit tells "at the limit" from "over it".
    flate2::read::MultiGzDecoder::new(gz)
        .take(MAX_CSV_BYTES + 1)
        .read_to_end(&mut csv)
        .map_err(|source| DataError::Gzip {
            file: name.to_owned(),
            source,
        })?;
    if csv.len() as u64 > MAX_CSV_BYTES {
        return Err(DataError::TooLarge {
            file: name.to_owned(),
            limit: MAX_CSV_BYTES,
        });
    }
    parse(&csv, name)
}

/// CSV text (see the module docs) into MNIST's form, digit after digit in file order.
///
/// # Errors
/// [`DataError::Csv`] naming the first bad line (1-based), [`DataError::Empty`] for a file
/// without digits.
pub fn parse(csv: &[u8], name: &str) -> Result<Dataset, DataError> {
    let text = std::str::from_utf8(csv).map_err(|e| DataError::Csv {
        file: name.to_owned(),
        line: 1 + csv[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        why: "not UTF-8 text".to_owned(),
    })?;
    let mut set = Dataset::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |why: String| DataError::Csv {
            file: name.to_owned(),
            line: i + 1,
            why,
        };
        let (digit, label) = parse_line(line).map_err(bad)?;
        let pixels = to_mnist(&digit)
            .map_err(|e| bad(format!("the digit cannot be brought to 28x28: {e}")))?;
        set.images.extend_from_slice(&pixels);
        set.labels.push(label);
    }
    if set.is_empty() {
        return Err(DataError::Empty {
            images_file: name.to_owned(),
            labels_file: name.to_owned(),
        });
    }
    Ok(set)
}

/// One line: 64 values 0–16 and a label 0–9, comma-separated.
fn parse_line(line: &str) -> Result<([u8; SIDE * SIDE], u8), String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    if fields.len() != SIDE * SIDE + 1 {
        return Err(format!(
            "{} values, expected {} (an 8x8 image and a label)",
            fields.len(),
            SIDE * SIDE + 1
        ));
    }
    let mut digit = [0u8; SIDE * SIDE];
    for (k, (v, field)) in digit.iter_mut().zip(&fields).enumerate() {
        *v = field
            .parse::<u8>()
            .ok()
            .filter(|&v| v <= LEVELS)
            .ok_or_else(|| format!("value {} is '{field}', expected 0 to {LEVELS}", k + 1))?;
    }
    let field = fields[SIDE * SIDE];
    let label = field
        .parse::<u8>()
        .ok()
        .filter(|&l| usize::from(l) < CLASSES)
        .ok_or_else(|| format!("label '{field}' is not a digit 0 to {}", CLASSES - 1))?;
    Ok((digit, label))
}

/// Steps 2–4 of the module docs: an 8×8 digit of 0–16 values into MNIST's 28×28.
///
/// # Errors
/// [`crate::preprocess::PreprocessError::Blank`] for a digit without ink.
pub fn to_mnist(
    digit: &[u8; SIDE * SIDE],
) -> Result<[u8; PIXELS], crate::preprocess::PreprocessError> {
    const PADDED: usize = SIDE + 2;
    let mut grey = vec![0.0f32; PADDED * PADDED];
    for (row, values) in digit.chunks_exact(SIDE).enumerate() {
        for (col, &v) in values.iter().enumerate() {
            grey[(row + 1) * PADDED + col + 1] = f32::from(v) * 255.0 / f32::from(LEVELS);
        }
    }
    crate::preprocess::from_grey(grey, PADDED, PADDED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_copy_holds_1797_digits_of_every_class_in_mnist_form() {
        let set = load().unwrap();
        assert_eq!(set.len(), DIGITS);
        assert_eq!(set.images.len(), DIGITS * PIXELS);
        let mut per_class = [0usize; CLASSES];
        for &l in &set.labels {
            per_class[usize::from(l)] += 1;
        }
        // scikit-learn's documented class counts.
        assert_eq!(
            per_class,
            [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
        );
        // The first line of the file is a 0.
        assert_eq!(set.labels[0], 0);
        for i in 0..set.len() {
            // Stretched so the strongest ink is 255, as MNIST's digits are.
            assert_eq!(set.image(i).iter().copied().max(), Some(255), "digit {i}");
        }
    }

    #[test]
    fn an_8x8_bar_becomes_a_20_pixel_bar_centred_in_28x28() {
        // A vertical bar two columns wide, the full height of the 8×8.
        let mut digit = [0u8; 64];
        for row in 0..SIDE {
            digit[row * SIDE + 3] = 16;
            digit[row * SIDE + 4] = 16;
        }
        let out = to_mnist(&digit).unwrap();
        let rows: Vec<usize> = (0..28)
            .filter(|r| out[r * 28..(r + 1) * 28].iter().any(|&v| v > 0))
            .collect();
        // 20 rows whose centre, 9.5 down the box, lands on row 14 (rounded half up).
        assert_eq!(rows, (5..25).collect::<Vec<_>>());
        let cols: Vec<usize> = (0..28)
            .filter(|&c| (0..28).any(|r| out[r * 28 + c] > 0))
            .collect();
        // Two of eight columns, in proportion: 5 of 20, their middle on column 14.
        assert_eq!(cols, (12..17).collect::<Vec<_>>());
    }

    #[test]
    fn bad_lines_are_refused_naming_the_line() {
        let good = format!("{}0", "16,".repeat(64));
        for (csv, line, words) in [
            (format!("{good}\n1,2,3\n"), 2, "3 values"),
            (
                format!("{good}\n{}0", "17,".repeat(64)),
                2,
                "value 1 is '17'",
            ),
            (format!("{}10\n", "1,".repeat(64)), 1, "label '10'"),
            (format!("{}x\n", "1,".repeat(64)), 1, "label 'x'"),
            (format!("{}0\n", "0,".repeat(64)), 1, "no digit found"),
        ] {
            let e = parse(csv.as_bytes(), "d.csv").unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("d.csv: line {line}: ")) && e.contains(words),
                "{e}"
            );
            assert!(!e.contains('\n'), "{e}");
        }
        assert!(matches!(
            parse(b"\n\n", "d.csv"),
            Err(DataError::Empty { .. })
        ));
        assert!(matches!(
            parse_gz(b"not gzip", "d.csv.gz"),
            Err(DataError::Gzip { .. })
        ));
        assert_eq!(parse(good.as_bytes(), "d.csv").unwrap().labels, [0]);
    }

    #[test]
    fn the_word_and_csv_paths_name_optdigits_and_other_paths_do_not() {
        for yes in ["optdigits", "digits.csv", "a/b.csv.gz"] {
            assert!(is_named(Path::new(yes)), "{yes}");
        }
        for no in ["./optdigits", "mnist", "x.npy", "optdigits/"] {
            assert!(!is_named(Path::new(no)), "{no}");
        }
    }
}
