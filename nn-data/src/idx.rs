//! The IDX format, for 28x28 unsigned-byte images and their labels.
//!
//! An IDX file is a big-endian header then raw data:
//! - images: magic `0x00000803`, count, rows, cols, then `count * rows * cols` bytes;
//! - labels: magic `0x00000801`, count, then `count` bytes.
//!
//! The parsers take the whole file as bytes and check the header against the length before
//! touching the data, so a lying header can neither make them allocate nor read out of bounds.
//! They never panic, whatever the bytes (they are fuzzed).

use std::io::{BufReader, Read};
use std::path::Path;

use crate::dataset::{CLASSES, PIXELS};
use crate::error::DataError;

/// Magic number of an IDX file of unsigned bytes in 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes in 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Largest file (after decompression) this reader accepts: 1 GiB, about 1.3 million images,
/// far above MNIST (47 MB) yet low enough that a gzip bomb cannot exhaust memory.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

const IMAGES_HEADER: usize = 16;
const LABELS_HEADER: usize = 8;

/// Parses an IDX image file of 28x28 images; returns the pixels, `count * 784` bytes.
/// `name` is used in error messages (normally the path).
pub fn parse_images(bytes: &[u8], name: &str) -> Result<Vec<u8>, DataError> {
    check_images(bytes, name)?;
    Ok(bytes[IMAGES_HEADER..].to_vec())
}

/// [`parse_images`] on a buffer it takes over: the header is cut off in place, so the
/// pixels need no second buffer (a 1 GiB file stays 1 GiB in memory).
pub fn parse_images_owned(mut bytes: Vec<u8>, name: &str) -> Result<Vec<u8>, DataError> {
    check_images(&bytes, name)?;
    bytes.drain(..IMAGES_HEADER);
    Ok(bytes)
}

/// [`parse_labels`] on a buffer it takes over (see [`parse_images_owned`]).
pub fn parse_labels_owned(mut bytes: Vec<u8>, name: &str) -> Result<Vec<u8>, DataError> {
    check_labels(&bytes, name)?;
    bytes.drain(..LABELS_HEADER);
    Ok(bytes)
}

fn check_images(bytes: &[u8], name: &str) -> Result<(), DataError> {
    let [_, count, rows, cols] = header::<4>(bytes, IMAGES_MAGIC, name)?;
    if (rows, cols) != (28, 28) {
        return Err(DataError::WrongImageSize {
            file: name.to_owned(),
            rows,
            cols,
        });
    }
    check_len(bytes, IMAGES_HEADER, u64::from(count) * PIXELS as u64, name)
}

/// Parses an IDX label file; every label must be below 10. `name` is used in error messages.
pub fn parse_labels(bytes: &[u8], name: &str) -> Result<Vec<u8>, DataError> {
    check_labels(bytes, name)?;
    Ok(bytes[LABELS_HEADER..].to_vec())
}

fn check_labels(bytes: &[u8], name: &str) -> Result<(), DataError> {
    let [_, count] = header::<2>(bytes, LABELS_MAGIC, name)?;
    check_len(bytes, LABELS_HEADER, u64::from(count), name)?;
    let labels = &bytes[LABELS_HEADER..];
    if let Some((index, &label)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| usize::from(l) >= CLASSES)
    {
        return Err(DataError::LabelOutOfRange {
            file: name.to_owned(),
            index,
            label,
        });
    }
    Ok(())
}

/// Reads a whole regular file (see [`crate::read::open_regular`]), gunzipping it if its name
/// ends in `.gz`; refuses more than [`MAX_FILE_BYTES`] of content, and a `.gz` whose
/// compressed size is over that too. Every byte of a `.gz` must belong to a gzip member:
/// garbage after the stream is an error, not ignored.
pub fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    let name = crate::read::show(path);
    let read_err = |source| DataError::Read {
        file: name.clone(),
        source,
    };
    let is_gz = path.extension().is_some_and(|e| e == "gz");
    if !is_gz {
        return crate::read::read_capped(path, MAX_FILE_BYTES, "an IDX file").map_err(read_err);
    }
    let (file, size) = crate::read::open_regular(path).map_err(read_err)?;
    if size > MAX_FILE_BYTES {
        return Err(read_err(crate::read::ReadError::TooLarge {
            size,
            limit: MAX_FILE_BYTES,
            what: "a gzipped IDX file",
        }));
    }
    let mut bytes = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "over it". A multi-member
    // decoder reads to the end of the file, so trailing bytes must parse as another member.
    flate2::read::MultiGzDecoder::new(BufReader::new(file))
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| DataError::Gzip {
            file: name.clone(),
            source,
        })?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(DataError::TooLarge {
            file: name,
            limit: MAX_FILE_BYTES,
        });
    }
    Ok(bytes)
}

/// A labelled set from an IDX image file and its label file (each raw or `.gz`, read by
/// [`read_file`]), as MNIST's own are read.
///
/// # Errors
/// [`DataError`], naming the file.
pub fn load_pair(images: &Path, labels: &Path) -> Result<crate::Dataset, DataError> {
    let (images_file, labels_file) = (crate::read::show(images), crate::read::show(labels));
    let pixels = parse_images_owned(read_file(images)?, &images_file)?;
    let labels = parse_labels_owned(read_file(labels)?, &labels_file)?;
    crate::Dataset::from_files(pixels, &images_file, labels, &labels_file)
}

/// The `N` big-endian u32 of the header, the first being `magic`. A wrong magic is reported
/// before a short header: "this is a label file" helps more than "truncated".
fn header<const N: usize>(bytes: &[u8], magic: u32, name: &str) -> Result<[u32; N], DataError> {
    let word = |i: usize| {
        bytes
            .get(4 * i..4 * i + 4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
    };
    if let Some(found) = word(0) {
        check_magic(found, magic, name)?;
    }
    let mut out = [0u32; N];
    for (i, value) in out.iter_mut().enumerate() {
        *value = word(i).ok_or_else(|| DataError::SizeMismatch {
            file: name.to_owned(),
            expected: 4 * N as u64,
            actual: bytes.len() as u64,
        })?;
    }
    Ok(out)
}

fn check_magic(found: u32, expected: u32, name: &str) -> Result<(), DataError> {
    if found == expected {
        Ok(())
    } else {
        Err(DataError::BadMagic {
            file: name.to_owned(),
            found,
            expected,
        })
    }
}

/// The data after the header must be exactly `data_len` bytes (computed in u64: no overflow).
fn check_len(bytes: &[u8], header_len: usize, data_len: u64, name: &str) -> Result<(), DataError> {
    let expected = header_len as u64 + data_len;
    if bytes.len() as u64 == expected {
        Ok(())
    } else {
        Err(DataError::SizeMismatch {
            file: name.to_owned(),
            expected,
            actual: bytes.len() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image file written by hand: 2 images, the first all 0, the second counting up.
    fn two_images() -> Vec<u8> {
        let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
        bytes.extend(std::iter::repeat_n(0u8, 784));
        bytes.extend((0..784).map(|i| (i % 256) as u8));
        bytes
    }

    #[test]
    fn parses_images_written_by_hand() {
        let pixels = parse_images(&two_images(), "x").unwrap();
        assert_eq!(pixels.len(), 2 * 784);
        assert_eq!(pixels[784 + 300], 44); // 300 % 256
    }

    #[test]
    fn parses_labels_written_by_hand() {
        let bytes = [0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 9];
        assert_eq!(parse_labels(&bytes, "x").unwrap(), vec![7, 2, 9]);
    }

    #[test]
    fn count_near_u32_max_is_a_size_mismatch_not_an_allocation() {
        let bytes = [0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 28, 0, 0, 0, 28];
        match parse_images(&bytes, "huge") {
            Err(DataError::SizeMismatch {
                expected,
                actual: 16,
                ..
            }) => {
                assert_eq!(expected, 16 + 0xffff_ffffu64 * 784)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn short_header_is_a_size_mismatch() {
        for len in 0..16 {
            let bytes = &two_images()[..len];
            assert!(matches!(
                parse_images(bytes, "x"),
                Err(DataError::SizeMismatch { expected: 16, .. })
            ));
        }
        assert!(matches!(
            parse_labels(&[0, 0, 8], "x"),
            Err(DataError::SizeMismatch {
                expected: 8,
                actual: 3,
                ..
            })
        ));
    }
}
