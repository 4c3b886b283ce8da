//! Turning a picture of a digit (PNG, JPEG or PGM, any size) into an MNIST-style 28x28,
//! the way MNIST itself was made:
//!
//! 1. to grey (transparent pixels count as white paper);
//! 2. polarity from the border: its median is the paper, so dark ink on light paper and light
//!    ink on dark both come out as MNIST's convention, background 0 and ink up to 255, the
//!    contrast stretched so the strongest ink is 255 and faint noise is cut to 0;
//! 3. crop to the ink's bounding box; strokes far thinner than MNIST's (a fine pen on a big
//!    canvas, which would shrink to faint 1-pixel lines) are thickened to about a tenth of the
//!    digit's size, MNIST's usual stroke (MNIST digits themselves are never touched);
//! 4. scale to fit 20x20 keeping the aspect ratio, anti-aliased by area averaging when
//!    shrinking (how MNIST's bilevel NIST digits got their grey edges), bilinear when enlarging;
//!    then stretch again so the strongest ink is 255;
//! 5. paste into 28x28 with the ink's centre of mass at pixel (14, 14) (row, column indices),
//!    shifting by whole pixels (rounded) and never past the edge.
//!
//! Decoding runs under [`image::Limits`] so a header claiming 100000x100000 pixels is rejected
//! before anything is allocated. Nothing here panics on any input (it is fuzzed).

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, ImageBuffer, ImageError, Luma};

use crate::data::PIXELS;

/// Side of the output image.
pub const SIDE: usize = 28;
/// The digit is scaled so its longer side is this many pixels (MNIST's 20x20 box).
pub const BOX: u32 = 20;
/// Where the centre of mass lands, as (column, row) pixel indices.
pub const CENTRE: f32 = 14.0;

/// Largest width or height accepted when decoding.
pub const MAX_SIDE: u32 = 16_384;
/// Most pixels preprocessed (a 48 MP phone photo fits); each costs about 6 bytes of working
/// memory on top of the decoded image.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Most memory the decoder may allocate (bytes).
pub const MAX_ALLOC: u64 = 256 << 20;
/// Largest image file read from disk (bytes).
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// Ink must differ from the paper by at least this much (0-255 grey levels), or the picture is blank.
const MIN_CONTRAST: f32 = 40.0;
/// After stretching to 0-255, ink below this is noise (JPEG artefacts, paper texture) and becomes 0.
const NOISE_FLOOR: f32 = 26.0;

/// Why a picture could not be turned into a 28x28 digit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreprocessError {
    /// The file could not be read.
    #[error("{path}: {source}", path = crate::io::show(path))]
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
        source: crate::io::ReadError,
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
}

/// Reads, decodes and preprocesses the image file at `path` (a regular file of at most
/// [`MAX_FILE_BYTES`]).
pub fn load_image(path: &Path) -> Result<[u8; PIXELS], PreprocessError> {
    let name = crate::io::show(path);
    let bytes = crate::io::read_capped(path, MAX_FILE_BYTES, "an image").map_err(|e| match e {
        crate::io::ReadError::Io(source) => PreprocessError::Io {
            path: path.to_path_buf(),
            source,
        },
        crate::io::ReadError::TooLarge { size, .. } => PreprocessError::TooLarge {
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

/// Decodes an encoded image (PNG, JPEG, PGM/PNM) under the limits and preprocesses it.
pub fn from_bytes(bytes: &[u8]) -> Result<[u8; PIXELS], PreprocessError> {
    let img = decode(bytes, "<bytes>")?;
    preprocess_named(&img, "<bytes>")
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

fn decode(bytes: &[u8], name: &str) -> Result<DynamicImage, PreprocessError> {
    let decode_err = |source: ImageError| match source {
        ImageError::Limits(e) => PreprocessError::TooLarge {
            file: name.to_owned(),
            detail: e.to_string(),
        },
        source => PreprocessError::Decode {
            file: name.to_owned(),
            source,
        },
    };
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_err(ImageError::IoError(e)))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(decode_err)?;
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
    let blank = || PreprocessError::Blank {
        file: name.to_owned(),
    };
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        return Err(blank());
    }
    if u64::from(img.width()) * u64::from(img.height()) > MAX_PIXELS {
        return Err(PreprocessError::TooLarge {
            file: name.to_owned(),
            detail: format!("{w}x{h} is over {MAX_PIXELS} pixels"),
        });
    }

    // 1. Grey, composited over white paper.
    let grey: Vec<f32> = img
        .to_luma_alpha8()
        .pixels()
        .map(|p| {
            let (l, a) = (f32::from(p[0]), f32::from(p[1]) / 255.0);
            l * a + 255.0 * (1.0 - a)
        })
        .collect();

    // 2. The border's median is the paper; ink is how far a pixel is from it, towards the
    //    other end of the scale.
    let paper = median(border(&grey, w, h));
    let dark_ink = paper > 127.5;
    // In place: a phone photo is tens of megapixels, and each f32 copy is 4 bytes a pixel.
    let mut ink = grey;
    for v in &mut ink {
        *v = if dark_ink { paper - *v } else { *v - paper }.max(0.0);
    }
    let peak = ink.iter().copied().fold(0.0, f32::max);
    if peak < MIN_CONTRAST {
        return Err(blank());
    }
    for v in &mut ink {
        *v *= 255.0 / peak;
        if *v < NOISE_FLOOR {
            *v = 0.0;
        }
    }

    // 3. Bounding box of the ink (not empty: the peak pixel is 255).
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for (i, _) in ink.iter().enumerate().filter(|&(_, &v)| v > 0.0) {
        let (x, y) = (i % w, i / w);
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    let (cw, ch) = (x1 + 1 - x0, y1 + 1 - y0);
    let crop: Vec<f32> = (y0..=y1)
        .flat_map(|y| ink[y * w + x0..=y * w + x1].iter().copied())
        .collect();
    let (crop, cw, ch) = thicken_thin_strokes(crop, cw, ch);

    // 4. Longer side to BOX pixels, the other in proportion (at least 1). Shrinking averages
    //    areas, as MNIST's anti-aliasing did; enlarging a tiny picture interpolates instead of
    //    making blocks. Then the strongest ink is stretched back to 255, as in MNIST's digits.
    let long = cw.max(ch) as f32;
    let fit =
        |side: usize| ((side as f32 * BOX as f32 / long).round() as usize).clamp(1, BOX as usize);
    let (nw, nh) = (fit(cw), fit(ch));
    let mut scaled = if cw.max(ch) >= BOX as usize {
        area_resize(&crop, cw, ch, nw, nh)
    } else {
        // `image` clamps f32 pixels to 0..=1, so the crop is handed over scaled to that range.
        let small = ImageBuffer::from_fn(cw as u32, ch as u32, |x, y| {
            Luma([crop[y as usize * cw + x as usize] / 255.0])
        });
        let big = image::imageops::resize(&small, nw as u32, nh as u32, FilterType::Triangle);
        big.pixels().map(|p| p[0] * 255.0).collect()
    };
    let peak = scaled.iter().copied().fold(0.0, f32::max);
    if peak <= 0.0 {
        return Err(blank());
    }
    for v in &mut scaled {
        *v = (*v * 255.0 / peak).clamp(0.0, 255.0);
    }

    // 5. Whole-pixel shift putting the centre of mass on CENTRE, kept inside the 28x28.
    let (mut mass, mut mx, mut my) = (0.0f32, 0.0f32, 0.0f32);
    for (i, &v) in scaled.iter().enumerate() {
        mass += v;
        mx += v * (i % nw) as f32;
        my += v * (i / nw) as f32;
    }
    if mass <= 0.0 {
        return Err(blank());
    }
    let offset =
        |com: f32, size: usize| (CENTRE - com).round().clamp(0.0, (SIDE - size) as f32) as usize;
    let (ox, oy) = (offset(mx / mass, nw), offset(my / mass, nh));

    let mut out = [0u8; PIXELS];
    for (row, src) in out[oy * SIDE..]
        .chunks_exact_mut(SIDE)
        .zip(scaled.chunks_exact(nw))
    {
        for (dst, &v) in row[ox..ox + nw].iter_mut().zip(src) {
            *dst = v.round() as u8;
        }
    }
    Ok(out)
}

/// Strokes thinner than this fraction of the digit's longer side get thickened...
const THIN_STROKE: f32 = 0.035;
/// ...to about this fraction (MNIST: strokes of 2-3 pixels in a 20-pixel box).
const STROKE: f32 = 0.1;

/// Thickens the strokes of a cropped digit (`w` x `h`, ink 0-255) whose stroke width is below
/// [`THIN_STROKE`] of its longer side, by a square max filter bringing it to about [`STROKE`];
/// returns the (padded, so nothing is cut) image and its size, or the input unchanged.
///
/// Stroke width is estimated as 2 * area / boundary over the pixels above half ink: a stroke of
/// width `s` and length `L` covers `s L` pixels of which about `2 L` touch the background.
/// The estimate never goes below 2, so 1- and 2-pixel strokes look alike; both are thin here.
fn thicken_thin_strokes(crop: Vec<f32>, w: usize, h: usize) -> (Vec<f32>, usize, usize) {
    let is_ink = |x: usize, y: usize| crop[y * w + x] > 127.5;
    let (mut area, mut boundary) = (0usize, 0usize);
    for y in 0..h {
        for x in 0..w {
            if !is_ink(x, y) {
                continue;
            }
            area += 1;
            // Pixels on the crop's edge count as boundary (the crop is the ink's bounding box).
            let interior = x > 0 && y > 0 && x + 1 < w && y + 1 < h;
            let surrounded = interior
                && is_ink(x - 1, y)
                && is_ink(x + 1, y)
                && is_ink(x, y - 1)
                && is_ink(x, y + 1);
            if !surrounded {
                boundary += 1;
            }
        }
    }
    let long = w.max(h) as f32;
    if boundary == 0 {
        return (crop, w, h);
    }
    let stroke = 2.0 * area as f32 / boundary as f32;
    if stroke >= THIN_STROKE * long {
        return (crop, w, h);
    }
    let r = ((STROKE * long - stroke) / 2.0).ceil() as usize;
    let (pw, ph) = (w + 2 * r, h + 2 * r);
    let mut padded = vec![0.0f32; pw * ph];
    for (y, row) in crop.chunks_exact(w).enumerate() {
        padded[(y + r) * pw + r..(y + r) * pw + r + w].copy_from_slice(row);
    }
    // A square max filter is separable: rows, then columns.
    for row in padded.chunks_exact_mut(pw) {
        let out = running_max(row, r);
        row.copy_from_slice(&out);
    }
    for x in 0..pw {
        let column: Vec<f32> = (0..ph).map(|y| padded[y * pw + x]).collect();
        for (y, v) in running_max(&column, r).into_iter().enumerate() {
            padded[y * pw + x] = v;
        }
    }
    (padded, pw, ph)
}

/// `out[i] = max(v[i - r ..= i + r])` (clipped to the slice), in O(n) whatever `r`
/// (van Herk / Gil-Werman: prefix and suffix maxima within blocks of `k = 2r + 1`).
fn running_max(v: &[f32], r: usize) -> Vec<f32> {
    let k = 2 * r + 1;
    // Padding with r of -inf each side makes every window exactly k long, so it spans the
    // tail of one block and the head of the next (or is one whole block).
    let padded: Vec<f32> = std::iter::repeat_n(f32::NEG_INFINITY, r)
        .chain(v.iter().copied())
        .chain(std::iter::repeat_n(f32::NEG_INFINITY, r))
        .collect();
    let n = padded.len();
    let (mut prefix, mut suffix) = (padded.clone(), padded);
    for i in 1..n {
        if i % k != 0 {
            prefix[i] = prefix[i].max(prefix[i - 1]);
        }
    }
    for i in (0..n.saturating_sub(1)).rev() {
        if (i + 1) % k != 0 {
            suffix[i] = suffix[i].max(suffix[i + 1]);
        }
    }
    // Window i of the input is padded[i ..= i + 2r].
    (0..v.len())
        .map(|i| suffix[i].max(prefix[i + 2 * r]))
        .collect()
}

/// Resamples a `w` x `h` image (row-major) to `nw` x `nh`: each output pixel is the mean of the
/// input area it covers, partly covered input pixels counting in proportion. Separable: rows
/// first, then columns.
fn area_resize(src: &[f32], w: usize, h: usize, nw: usize, nh: usize) -> Vec<f32> {
    let (wx, wy) = (area_weights(w, nw), area_weights(h, nh));
    let mut rows = vec![0.0f32; h * nw];
    for (y, out) in rows.chunks_exact_mut(nw).enumerate() {
        for (o, weights) in out.iter_mut().zip(&wx) {
            *o = weights.iter().map(|&(x, k)| k * src[y * w + x]).sum();
        }
    }
    let mut out = vec![0.0f32; nh * nw];
    for (o, weights) in out.chunks_exact_mut(nw).zip(&wy) {
        for x in 0..nw {
            o[x] = weights.iter().map(|&(y, k)| k * rows[y * nw + x]).sum();
        }
    }
    out
}

/// For each of `dst` output cells spread over `src` input cells: the input cells it overlaps
/// and the fraction of the output cell each covers (the fractions sum to 1).
fn area_weights(src: usize, dst: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|j| {
            let (lo, hi) = (j as f64 * scale, (j + 1) as f64 * scale);
            (lo.floor() as usize..(hi.ceil() as usize).min(src))
                .map(|i| {
                    (
                        i,
                        ((hi.min(i as f64 + 1.0) - lo.max(i as f64)) / scale) as f32,
                    )
                })
                .filter(|&(_, k)| k > 0.0)
                .collect()
        })
        .collect()
}

/// The pixels on the image's edge (each once).
fn border(grey: &[f32], w: usize, h: usize) -> Vec<f32> {
    (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| x == 0 || y == 0 || x == w - 1 || y == h - 1)
        .map(|(x, y)| grey[y * w + x])
        .collect()
}

/// Median (upper median for an even count) of a non-empty list.
fn median(mut values: Vec<f32>) -> f32 {
    values.sort_by(f32::total_cmp);
    values[values.len() / 2]
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
    fn area_resize_by_hand() {
        // 3 -> 2: the middle input pixel is split evenly between the two outputs.
        assert_eq!(area_resize(&[0.0, 3.0, 6.0], 3, 1, 2, 1), vec![1.0, 5.0]);
        // 4x2 -> 2x1: plain 2x2 means.
        assert_eq!(
            area_resize(&[1.0, 3.0, 5.0, 7.0, 3.0, 5.0, 7.0, 9.0], 4, 2, 2, 1),
            vec![3.0, 7.0]
        );
        for (src, dst) in [(7, 3), (100, 20), (21, 20)] {
            for weights in area_weights(src, dst) {
                assert!((weights.iter().map(|w| w.1).sum::<f32>() - 1.0).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn running_max_matches_the_naive_window() {
        let v: Vec<f32> = (0..37).map(|i| ((i * 7919) % 23) as f32).collect();
        for r in 0..12 {
            let naive: Vec<f32> = (0..v.len())
                .map(|i| {
                    let (lo, hi) = (i.saturating_sub(r), (i + r).min(v.len() - 1));
                    v[lo..=hi].iter().copied().fold(f32::MIN, f32::max)
                })
                .collect();
            assert_eq!(running_max(&v, r), naive, "r = {r}");
        }
        assert!(running_max(&[], 3).is_empty());
    }

    #[test]
    fn thin_strokes_are_thickened_and_thick_ones_left_alone() {
        // A 1-pixel vertical line 100 long: stroke estimate 2 < 3.5, radius ceil((10 - 2) / 2) = 4.
        let line = vec![255.0f32; 100];
        let (out, w, h) = thicken_thin_strokes(line, 1, 100);
        assert_eq!((w, h), (9, 108));
        assert_eq!(out[50 * 9..51 * 9], [255.0; 9]);
        // A 10-wide bar 100 long is already a tenth: unchanged.
        let bar = vec![255.0f32; 1000];
        let (out, w, h) = thicken_thin_strokes(bar.clone(), 10, 100);
        assert_eq!((out, w, h), (bar, 10, 100));
    }

    #[test]
    fn median_and_border_by_hand() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 3.0);
        // 3x3: every pixel but the centre (index 4) is on the border.
        let grey: Vec<f32> = (0..9).map(|i| i as f32).collect();
        assert_eq!(
            border(&grey, 3, 3),
            vec![0.0, 1.0, 2.0, 3.0, 5.0, 6.0, 7.0, 8.0]
        );
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
