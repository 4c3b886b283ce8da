//! Turning a picture of a digit (PNG, JPEG or PGM, any size) into an MNIST-style 28x28: the
//! decoding, here, then nn-core's preprocessing ([`nn_core::preprocess`], whose module doc
//! numbers the steps: grey, polarity from the border, crop and thicken, fit 20x20, centre of
//! mass at the centre), the same code the draw-a-digit page runs in the browser.
//!
//! Decoding runs under [`image::Limits`] so a header claiming 100000x100000 pixels is rejected
//! before anything is allocated. Nothing here panics on any input (it is fuzzed).

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageError};

use nn_core::IMAGE_PIXELS as PIXELS;

/// Side of the output image.
pub const SIDE: usize = nn_core::preprocess::SIDE;
/// The digit is scaled so its longer side is this many pixels (MNIST's 20x20 box).
pub const BOX: u32 = nn_core::preprocess::BOX as u32;
/// Where the centre of mass lands, as (column, row) pixel indices.
pub const CENTRE: f32 = nn_core::preprocess::CENTRE;

/// Largest width or height accepted when decoding.
pub const MAX_SIDE: u32 = 16_384;
/// Most pixels preprocessed (a 48 MP phone photo fits); each costs 4 bytes of working memory
/// (its grey level) on top of the decoded image, plus nn-core's scratch for the ink's crop.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Most memory the decoder may allocate (bytes).
pub const MAX_ALLOC: u64 = 256 << 20;
/// Largest image file read from disk (bytes).
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// Why a picture could not be turned into a 28x28 digit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreprocessError {
    /// The file could not be read.
    #[error("{path}: {source}", path = crate::read::show(path))]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file could not be read: not a regular file, or over [`MAX_FILE_BYTES`].
    #[error("{file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// What went wrong.
        source: crate::read::ReadError,
    },
    /// A JPEG whose data stops before its end-of-image marker: a file cut short, which the
    /// decoder would otherwise fill with grey and classify.
    #[error("{file}: the JPEG data ends before its end-of-image marker (is the file cut short?)")]
    TruncatedJpeg {
        /// The file (or `<bytes>`).
        file: String,
    },
    /// The bytes are not a PNG, JPEG or PGM/PNM image this program can decode.
    #[error("{file}: cannot decode image: {source}")]
    Decode {
        /// The file (or `<bytes>`).
        file: String,
        /// What the decoder said.
        source: ImageError,
    },
    /// The image (or the file) is larger than the limits.
    #[error(
        "{file}: image too large ({detail}); limits are {MAX_SIDE} pixels a side, {MAX_PIXELS} pixels, {MAX_FILE_BYTES} bytes of file"
    )]
    TooLarge {
        /// The file (or `<bytes>`).
        file: String,
        /// What exceeded the limit.
        detail: String,
    },
    /// No ink: the image is empty, uniform, or has too little contrast.
    #[error("{file}: no digit found (blank image or too little contrast)")]
    Blank {
        /// The file (or `<image>`).
        file: String,
    },
    /// Grey levels given to [`from_grey`] are not `width × height` many (for the images this
    /// module decodes, nn-core never refuses the buffers it sizes).
    #[error("{file}: {source}")]
    Buffers {
        /// The file (or `<image>`).
        file: String,
        /// What nn-core said.
        source: nn_core::preprocess::PreprocessError,
    },
}

/// Reads, decodes and preprocesses the image file at `path` (a regular file of at most
/// [`MAX_FILE_BYTES`]).
pub fn load_image(path: &Path) -> Result<[u8; PIXELS], PreprocessError> {
    let name = crate::read::show(path);
    let bytes =
        crate::read::read_capped(path, MAX_FILE_BYTES, "an image").map_err(|e| match e {
            crate::read::ReadError::Io(source) => PreprocessError::Io {
                path: path.to_path_buf(),
                source,
            },
            crate::read::ReadError::TooLarge { size, .. } => PreprocessError::TooLarge {
                file: name.clone(),
                detail: format!("{size} bytes of file"),
            },
            source => PreprocessError::Read {
                file: name.clone(),
                source,
            },
        })?;
    let img = decode(&bytes, &name)?;
    preprocess_named(&img, &name)
}

/// Decodes an encoded image (PNG, JPEG, PGM/PNM) under the limits and preprocesses it,
/// holding at most [`bytes_footprint`] bytes at once.
pub fn from_bytes(bytes: &[u8]) -> Result<[u8; PIXELS], PreprocessError> {
    let img = decode(bytes, "<bytes>")?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let grey = grey_levels(&img, "<bytes>")?;
    // The decoded image is not needed past its grey levels: freed before the scratch.
    drop(img);
    from_grey_named(grey, w, h, "<bytes>")
}

/// The most bytes [`from_bytes`] holds at once for this encoded image (the bytes themselves
/// aside), read from its header without decoding it: the decoded image, its grey-and-alpha
/// copy and its grey levels, or later the grey levels and nn-core's largest scratch for its
/// size ([`grey_footprint`]). `serve` reserves this much before decoding.
///
/// # Errors
/// The errors of [`from_bytes`] that the header alone shows: not an image this program
/// decodes, or over the limits.
pub fn bytes_footprint(bytes: &[u8]) -> Result<u64, PreprocessError> {
    let (w, h, decoded) = decoded_size(bytes, "<bytes>")?;
    let (w, h) = (u64::from(w), u64::from(h));
    let pixels = w * h;
    if pixels > MAX_PIXELS {
        return Err(PreprocessError::TooLarge {
            file: "<bytes>".to_owned(),
            detail: format!("{w}x{h} is over {MAX_PIXELS} pixels"),
        });
    }
    Ok((decoded + 2 * pixels + 4 * pixels).max(grey_footprint(w as usize, h as usize)))
}

/// The most bytes [`from_grey`] holds at once for `width × height` grey levels, the levels
/// included: the levels and nn-core's largest scratch for that size (the ink found may need
/// far less, but only the picture's size is known before it is read).
pub fn grey_footprint(width: usize, height: usize) -> u64 {
    let floats = (width as u64)
        .saturating_mul(height as u64)
        .saturating_add(nn_core::preprocess::scratch_len(width, height) as u64);
    floats.saturating_mul(4)
}

/// Preprocesses an already decoded image into MNIST's 28x28 form (see the module docs).
pub fn preprocess(img: &DynamicImage) -> Result<[u8; PIXELS], PreprocessError> {
    preprocess_named(img, "<image>")
}

/// 28 lines of text showing `pixels` as the model sees them: two characters per pixel (so the
/// digit looks square in a terminal), from `' '` for 0 to `'@'` for 255, each line ending in `\n`.
pub fn render_ascii(pixels: &[u8; PIXELS]) -> String {
    const RAMP: &[u8] = b" .:-=+*#%@";
    let mut out = String::with_capacity(SIDE * (2 * SIDE + 1));
    for row in pixels.chunks_exact(SIDE) {
        for &v in row {
            let c = char::from(RAMP[usize::from(v) * RAMP.len() / 256]);
            out.push(c);
            out.push(c);
        }
        out.push('\n');
    }
    out
}

/// A reader of `bytes` under the limits, its format guessed from the content.
fn reader(bytes: &[u8]) -> std::io::Result<image::ImageReader<Cursor<&[u8]>>> {
    let mut reader = image::ImageReader::new(Cursor::new(bytes)).with_guessed_format()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    Ok(reader)
}

/// A decoder's error as this module's.
fn decode_error(name: &str, source: ImageError) -> PreprocessError {
    match source {
        ImageError::Limits(e) => PreprocessError::TooLarge {
            file: name.to_owned(),
            detail: e.to_string(),
        },
        source => PreprocessError::Decode {
            file: name.to_owned(),
            source,
        },
    }
}

/// Width, height and decoded bytes of an encoded image, from its header, under the limits.
fn decoded_size(bytes: &[u8], name: &str) -> Result<(u32, u32, u64), PreprocessError> {
    let decode_err = |source| decode_error(name, source);
    let decoder = reader(bytes)
        .map_err(|e| decode_err(ImageError::IoError(e)))?
        .into_decoder()
        .map_err(decode_err)?;
    let (w, h) = image::ImageDecoder::dimensions(&decoder);
    let decoded = image::ImageDecoder::total_bytes(&decoder);
    if decoded > MAX_ALLOC {
        return Err(PreprocessError::TooLarge {
            file: name.to_owned(),
            detail: format!("{w}x{h} decodes to {decoded} bytes, over {MAX_ALLOC}"),
        });
    }
    Ok((w, h, decoded))
}

fn decode(bytes: &[u8], name: &str) -> Result<DynamicImage, PreprocessError> {
    let decode_err = |source| decode_error(name, source);
    let img = reader(bytes)
        .map_err(|e| decode_err(ImageError::IoError(e)))?
        .decode()
        .map_err(decode_err)?;
    // The decoder fills what a cut JPEG lacks with grey; only the end marker tells.
    if !jpeg_is_complete(bytes) {
        return Err(PreprocessError::TruncatedJpeg {
            file: name.to_owned(),
        });
    }
    Ok(img)
}

/// False only for a JPEG (it starts with SOI, `FF D8`) whose marker segments are intact up
/// to the first scan and whose scan data has no end-of-image marker (`FF D9`) after it: the
/// file was cut. Inside scan data a `FF` byte is always followed by `00` or a restart
/// marker, so `FF D9` there can only be the end. Anything else is left to the decoder.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return true;
    }
    let mut i = 2;
    loop {
        let (Some(&ff), Some(&marker)) = (bytes.get(i), bytes.get(i + 1)) else {
            return false;
        };
        if ff != 0xFF {
            return true;
        }
        match marker {
            0xFF => i += 1,
            0xD9 => return true,
            0x01 | 0xD0..=0xD8 => i += 2,
            _ => {
                let (Some(&hi), Some(&lo)) = (bytes.get(i + 2), bytes.get(i + 3)) else {
                    return false;
                };
                let end = i + 2 + usize::from(u16::from_be_bytes([hi, lo]));
                if marker == 0xDA {
                    return bytes
                        .get(end..)
                        .is_some_and(|scan| scan.windows(2).any(|w| w == [0xFF, 0xD9]));
                }
                i = end;
            }
        }
    }
}

fn preprocess_named(img: &DynamicImage, name: &str) -> Result<[u8; PIXELS], PreprocessError> {
    let grey = grey_levels(img, name)?;
    from_grey_named(grey, img.width() as usize, img.height() as usize, name)
}

/// Step 1: the image's grey levels over white paper, if it is within [`MAX_PIXELS`].
fn grey_levels(img: &DynamicImage, name: &str) -> Result<Vec<f32>, PreprocessError> {
    let (w, h) = (img.width(), img.height());
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(PreprocessError::TooLarge {
            file: name.to_owned(),
            detail: format!("{w}x{h} is over {MAX_PIXELS} pixels"),
        });
    }
    Ok(img
        .to_luma_alpha8()
        .pixels()
        .map(|p| nn_core::preprocess::grey_over_white(p[0], p[1]))
        .collect())
}

/// Preprocesses grey levels (`width × height`, row-major, 0 black to 255 white, either
/// polarity), as `serve`'s `POST /predict` receives them in JSON.
pub fn from_grey(
    grey: Vec<f32>,
    width: usize,
    height: usize,
) -> Result<[u8; PIXELS], PreprocessError> {
    check_size(width, height, "<pixels>")?;
    from_grey_named(grey, width, height, "<pixels>")
}

/// Grey levels of `width × height` are within the limits images are held to: [`MAX_SIDE`]
/// a side, [`MAX_PIXELS`] in all.
pub fn check_size(width: usize, height: usize, name: &str) -> Result<(), PreprocessError> {
    let side = MAX_SIDE as usize;
    let detail = if width > side || height > side {
        format!("{width}x{height} is over {MAX_SIDE} pixels a side")
    } else if width as u64 * height as u64 > MAX_PIXELS {
        format!("{width}x{height} is over {MAX_PIXELS} pixels")
    } else {
        return Ok(());
    };
    Err(PreprocessError::TooLarge {
        file: name.to_owned(),
        detail,
    })
}

fn from_grey_named(
    mut grey: Vec<f32>,
    w: usize,
    h: usize,
    name: &str,
) -> Result<[u8; PIXELS], PreprocessError> {
    let refused = |source| match source {
        nn_core::preprocess::PreprocessError::Blank => PreprocessError::Blank {
            file: name.to_owned(),
        },
        source => PreprocessError::Buffers {
            file: name.to_owned(),
            source,
        },
    };
    let ink = nn_core::preprocess::find_ink(&mut grey, w, h).map_err(refused)?;
    // Sized for the ink's crop, usually far smaller than the picture.
    let mut scratch = vec![0.0f32; ink.scratch_len()];
    let mut out = [0u8; PIXELS];
    nn_core::preprocess::fit_and_centre(&grey, ink, &mut scratch, &mut out).map_err(refused)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jpeg_cut_anywhere_after_its_header_is_refused_and_a_whole_one_is_not() {
        let img = image::GrayImage::from_fn(32, 32, |x, y| image::Luma([((x * y) % 256) as u8]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
            .encode_image(&img)
            .unwrap();
        assert!(jpeg_is_complete(&jpeg));
        for cut in [4, 20, jpeg.len() / 2, jpeg.len() - 2, jpeg.len() - 1] {
            assert!(
                !jpeg_is_complete(&jpeg[..cut]),
                "cut at {cut} of {}",
                jpeg.len()
            );
        }
        // Bytes after the end marker (some cameras append data) are the decoder's business.
        jpeg.extend(b"trailer");
        assert!(jpeg_is_complete(&jpeg));
        assert!(jpeg_is_complete(b"\x89PNG not a jpeg"));
        assert!(matches!(
            from_bytes(&jpeg[..jpeg.len() / 2]),
            Err(PreprocessError::TruncatedJpeg { .. })
        ));
    }

    #[test]
    fn ascii_has_28_lines_of_56_and_maps_the_ends_of_the_ramp() {
        let mut pixels = [0u8; PIXELS];
        pixels[0] = 255;
        let text = render_ascii(&pixels);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 28);
        assert!(lines.iter().all(|l| l.len() == 56));
        assert!(lines[0].starts_with("@@ "));
        assert_eq!(lines[1], " ".repeat(56));
    }
}
