//! Turning a greyscale picture of a digit (any size) into an MNIST-style 28×28, the way MNIST
//! itself was made, without allocating: the trainer's `predict`, `serve`'s `POST /predict` and
//! the draw-a-digit page (this crate compiled to wasm) all run this code. Decoding image files
//! stays with the caller (the trainer's `preprocess.rs`).
//!
//! 1. grey, 0 (black) to 255 (white), one `f32` per pixel in a buffer the caller fills and this
//!    module overwrites; transparent pixels count as white paper ([`grey_over_white`]);
//! 2. polarity from the border: its median is the paper, so dark ink on light paper and light
//!    ink on dark both come out as MNIST's convention, background 0 and ink up to 255, the
//!    contrast stretched so the strongest ink is 255 and faint noise is cut to 0;
//! 3. crop to the ink's bounding box (in place); strokes far thinner than MNIST's (a fine pen on
//!    a big canvas, which would shrink to faint 1-pixel lines) are thickened to about a tenth of
//!    the digit's size, MNIST's usual stroke (MNIST digits themselves are never touched);
//! 4. scale to fit 20×20 keeping the aspect ratio, anti-aliased by area averaging when
//!    shrinking (how MNIST's bilevel NIST digits got their grey edges), bilinear when enlarging
//!    (the `image` crate's triangle filter, reproduced); then stretch again so the strongest ink
//!    is 255;
//! 5. paste into 28×28 with the ink's centre of mass at pixel (14, 14) (row, column indices),
//!    shifting by whole pixels (rounded) and never past the edge.
//!
//! Steps 1–3's crop are [`find_ink`]; the rest is [`fit_and_centre`], which needs a scratch
//! buffer of [`Ink::scratch_len`] `f32`s (known only once the ink is found, so a caller with a
//! heap sizes it then); [`preprocess`] runs both with a scratch buffer of [`scratch_len`] for
//! the picture's size, enough for any ink (for static buffers). Nothing here panics on any
//! input (it is fuzzed).

use core::fmt;

use crate::IMAGE_PIXELS;

/// Side of the output image.
pub const SIDE: usize = 28;
/// The digit is scaled so its longer side is this many pixels (MNIST's 20×20 box).
pub const BOX: usize = 20;
/// Where the centre of mass lands, as (column, row) pixel indices.
pub const CENTRE: f32 = 14.0;

/// Ink must differ from the paper by at least this much (0–255 grey levels), or the picture is blank.
const MIN_CONTRAST: f32 = 40.0;
/// After stretching to 0–255, ink below this is noise (JPEG artefacts, paper texture) and becomes 0.
const NOISE_FLOOR: f32 = 26.0;
/// Strokes thinner than this fraction of the digit's longer side get thickened...
const THIN_STROKE: f32 = 0.035;
/// ...to about this fraction (MNIST: strokes of 2–3 pixels in a 20-pixel box).
const STROKE: f32 = 0.1;

/// Why a picture could not be turned into a 28×28 digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PreprocessError {
    /// No ink: the picture is empty, uniform, or has too little contrast.
    Blank,
    /// The grey buffer does not hold `width × height` pixels (or that product overflows).
    SizeMismatch {
        /// `width × height` (saturated).
        expected: usize,
        /// The buffer's length.
        found: usize,
    },
    /// The scratch buffer is shorter than the ink needs.
    ScratchTooSmall {
        /// `f32`s needed.
        needed: usize,
        /// `f32`s given.
        found: usize,
    },
}

impl fmt::Display for PreprocessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Blank => write!(f, "no digit found (blank image or too little contrast)"),
            Self::SizeMismatch { expected, found } => write!(
                f,
                "the grey buffer holds {found} pixels, the picture's size says {expected}"
            ),
            Self::ScratchTooSmall { needed, found } => write!(
                f,
                "the scratch buffer holds {found} values, preprocessing needs {needed}"
            ),
        }
    }
}

impl core::error::Error for PreprocessError {}

/// The grey level of an sRGB colour, as the `image` crate computes it (Rec. 709 weights,
/// `(2126 r + 7152 g + 722 b) / 10000`, truncated), so a canvas read in the browser and the
/// same canvas as a PNG decoded by the trainer give the same grey.
pub const fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((2126 * r as u32 + 7152 * g as u32 + 722 * b as u32) / 10_000) as u8
}

/// Step 1's value for a pixel of grey `luma` and opacity `alpha` (0 transparent, 255 opaque)
/// composited over white paper.
pub fn grey_over_white(luma: u8, alpha: u8) -> f32 {
    let (l, a) = (f32::from(luma), f32::from(alpha) / 255.0);
    l * a + 255.0 * (1.0 - a)
}

/// The ink [`find_ink`] cropped: its size, and how much [`fit_and_centre`] will thicken it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ink {
    width: usize,
    height: usize,
    radius: usize,
}

impl Ink {
    /// Width and height of the ink's bounding box (the crop at the start of the grey buffer).
    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// The stroke-thickening radius of step 3 (0: the strokes are thick enough).
    pub fn radius(&self) -> usize {
        self.radius
    }

    /// `f32`s of scratch [`fit_and_centre`] needs for this ink: the thickened (padded) crop
    /// and three lines for its max filter, or the rows of the area resize.
    pub fn scratch_len(&self) -> usize {
        let r = self.radius;
        let (w, h) = (self.width + 2 * r, self.height + 2 * r);
        let (padded, lines) = if r > 0 {
            let long = w.max(h);
            (w * h, long + 2 * (long + 2 * r))
        } else {
            (0, 0)
        };
        // Rows of the area resize: one per source row, at most BOX wide.
        let rows = if w.max(h) >= BOX { h * BOX } else { 0 };
        padded + lines.max(rows)
    }
}

/// Scratch `f32`s that [`preprocess`] (or [`fit_and_centre`]) needs at most for any
/// `width × height` picture (saturating): enough for static buffers sized once.
pub const fn scratch_len(width: usize, height: usize) -> usize {
    let long = if width > height { width } else { height };
    // Step 3's radius is ceil((STROKE * long - stroke) / 2) with a stroke estimate of at least 2.
    let r = long / 20 + 1;
    let (w, h) = (width.saturating_add(2 * r), height.saturating_add(2 * r));
    let long = if w > h { w } else { h };
    let lines = long.saturating_add(2 * long.saturating_add(2 * r));
    let rows = h.saturating_mul(BOX);
    let extra = if lines > rows { lines } else { rows };
    w.saturating_mul(h).saturating_add(extra)
}

/// Steps 1–5: `grey` (`width × height` grey levels, row-major, overwritten) into MNIST's 28×28
/// in `out`, using `scratch` of at least [`scratch_len`]`(width, height)` (or the found ink's
/// [`Ink::scratch_len`]).
///
/// # Errors
/// [`PreprocessError::Blank`] when there is no ink, the other variants when a buffer is of the
/// wrong size.
pub fn preprocess(
    grey: &mut [f32],
    width: usize,
    height: usize,
    scratch: &mut [f32],
    out: &mut [u8; IMAGE_PIXELS],
) -> Result<(), PreprocessError> {
    let ink = find_ink(grey, width, height)?;
    fit_and_centre(grey, ink, scratch, out)
}

/// Steps 1–3 up to the crop: `grey` (`width × height` grey levels 0–255, row-major; NaN or
/// anything below 0 counts as 0, above 255 as 255) becomes ink, 0 for paper to 255, and its
/// bounding box is moved to the start of `grey`, row-major, [`Ink::size`] wide and tall.
///
/// # Errors
/// [`PreprocessError::Blank`] for an empty, uniform or faint picture,
/// [`PreprocessError::SizeMismatch`] when `grey` is not `width × height` long.
pub fn find_ink(grey: &mut [f32], width: usize, height: usize) -> Result<Ink, PreprocessError> {
    let (w, h) = (width, height);
    let expected = w.saturating_mul(h);
    if grey.len() != expected {
        return Err(PreprocessError::SizeMismatch {
            expected,
            found: grey.len(),
        });
    }
    if w == 0 || h == 0 {
        return Err(PreprocessError::Blank);
    }

    // 1. Grey levels, sanitised (`v > 0.0` is false for NaN and -0.0).
    for v in grey.iter_mut() {
        *v = if *v > 0.0 { v.min(255.0) } else { 0.0 };
    }

    // 2. The border's median is the paper; ink is how far a pixel is from it, towards the
    //    other end of the scale.
    let paper = border_median(grey, w, h);
    let dark_ink = paper > 127.5;
    let ink = grey;
    for v in ink.iter_mut() {
        *v = if dark_ink { paper - *v } else { *v - paper }.max(0.0);
    }
    let peak = ink.iter().copied().fold(0.0, f32::max);
    if peak < MIN_CONTRAST {
        return Err(PreprocessError::Blank);
    }
    for v in ink.iter_mut() {
        *v *= 255.0 / peak;
        if *v < NOISE_FLOOR {
            *v = 0.0;
        }
    }

    // 3. Bounding box of the ink (not empty: the peak pixel is 255), moved to the front of the
    //    buffer row by row (each row lands at or before where it was).
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for (i, _) in ink.iter().enumerate().filter(|&(_, &v)| v > 0.0) {
        let (x, y) = (i % w, i / w);
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    let (cw, ch) = (x1 + 1 - x0, y1 + 1 - y0);
    for (row, y) in (y0..=y1).enumerate() {
        ink.copy_within(y * w + x0..=y * w + x1, row * cw);
    }
    Ok(Ink {
        width: cw,
        height: ch,
        radius: thickening_radius(&ink[..cw * ch], cw, ch),
    })
}

/// Steps 3 (thickening) to 5: the ink [`find_ink`] left at the start of `grey` into MNIST's
/// 28×28 in `out`, using `scratch` of at least [`Ink::scratch_len`].
///
/// # Errors
/// [`PreprocessError::ScratchTooSmall`], [`PreprocessError::SizeMismatch`] when `grey` is
/// shorter than the crop, [`PreprocessError::Blank`] if no ink is left after scaling.
pub fn fit_and_centre(
    grey: &[f32],
    ink: Ink,
    scratch: &mut [f32],
    out: &mut [u8; IMAGE_PIXELS],
) -> Result<(), PreprocessError> {
    let needed = ink.scratch_len();
    if scratch.len() < needed {
        return Err(PreprocessError::ScratchTooSmall {
            needed,
            found: scratch.len(),
        });
    }
    let (cw, ch, r) = (ink.width, ink.height, ink.radius);
    if grey.len() < cw * ch {
        return Err(PreprocessError::SizeMismatch {
            expected: cw * ch,
            found: grey.len(),
        });
    }
    let crop = &grey[..cw * ch];

    // 3. Thin strokes thickened into the scratch buffer, padded so nothing is cut.
    let (w, h) = (cw + 2 * r, ch + 2 * r);
    let (image, rest): (&[f32], &mut [f32]) = if r > 0 {
        let (padded, rest) = scratch.split_at_mut(w * h);
        thicken(crop, cw, ch, r, padded, rest);
        (padded, rest)
    } else {
        (crop, scratch)
    };

    // 4. Longer side to BOX pixels, the other in proportion (at least 1). Shrinking averages
    //    areas, as MNIST's anti-aliasing did; enlarging a tiny picture interpolates instead of
    //    making blocks. Then the strongest ink is stretched back to 255, as in MNIST's digits.
    let long = w.max(h) as f32;
    let fit = |side: usize| (libm::roundf(side as f32 * BOX as f32 / long) as usize).clamp(1, BOX);
    let (nw, nh) = (fit(w), fit(h));
    let mut scaled = [0.0f32; BOX * BOX];
    let scaled = &mut scaled[..nw * nh];
    if w.max(h) >= BOX {
        area_resize(image, w, h, nw, nh, &mut rest[..h * nw], scaled);
    } else {
        triangle_resize(image, w, h, nw, nh, scaled);
    }
    let peak = scaled.iter().copied().fold(0.0, f32::max);
    if peak <= 0.0 {
        return Err(PreprocessError::Blank);
    }
    for v in scaled.iter_mut() {
        *v = (*v * 255.0 / peak).clamp(0.0, 255.0);
    }

    // 5. Whole-pixel shift putting the centre of mass on CENTRE, kept inside the 28×28.
    let (mut mass, mut mx, mut my) = (0.0f32, 0.0f32, 0.0f32);
    for (i, &v) in scaled.iter().enumerate() {
        mass += v;
        mx += v * (i % nw) as f32;
        my += v * (i / nw) as f32;
    }
    if mass <= 0.0 {
        return Err(PreprocessError::Blank);
    }
    let offset = |com: f32, size: usize| {
        libm::roundf(CENTRE - com).clamp(0.0, (SIDE - size) as f32) as usize
    };
    let (ox, oy) = (offset(mx / mass, nw), offset(my / mass, nh));

    out.fill(0);
    for (row, src) in out[oy * SIDE..]
        .chunks_exact_mut(SIDE)
        .zip(scaled.chunks_exact(nw))
    {
        for (dst, &v) in row[ox..ox + nw].iter_mut().zip(src) {
            *dst = libm::roundf(v) as u8;
        }
    }
    Ok(())
}

/// Median (upper median for an even count) of the pixels on the picture's edge, each counted
/// once, without a copy: a binary search over the bit patterns of the (non-negative, so
/// ordered as their bits) grey levels for the smallest value with more than half the edge at
/// or below it.
fn border_median(grey: &[f32], w: usize, h: usize) -> f32 {
    let count_at_most = |limit: u32| {
        let mut n = 0usize;
        for y in 0..h {
            let row = &grey[y * w..(y + 1) * w];
            if y == 0 || y == h - 1 {
                n += row.iter().filter(|v| v.to_bits() <= limit).count();
            } else {
                n += usize::from(row[0].to_bits() <= limit);
                if w > 1 {
                    n += usize::from(row[w - 1].to_bits() <= limit);
                }
            }
        }
        n
    };
    let edge = count_at_most(u32::MAX);
    let (mut lo, mut hi) = (0u32, 255.0f32.to_bits());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if count_at_most(mid) > edge / 2 {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    f32::from_bits(lo)
}

/// The radius by which [`thicken`] widens the strokes of a cropped digit (`w` × `h`, ink
/// 0–255) whose stroke width is below [`THIN_STROKE`] of its longer side, bringing it to about
/// [`STROKE`]; 0 when the strokes are thick enough.
///
/// Stroke width is estimated as 2 × area / boundary over the pixels above half ink: a stroke
/// of width `s` and length `L` covers `s L` pixels of which about `2 L` touch the background.
/// The estimate never goes below 2, so 1- and 2-pixel strokes look alike; both are thin here.
fn thickening_radius(crop: &[f32], w: usize, h: usize) -> usize {
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
        return 0;
    }
    let stroke = 2.0 * area as f32 / boundary as f32;
    if stroke >= THIN_STROKE * long {
        return 0;
    }
    libm::ceilf((STROKE * long - stroke) / 2.0) as usize
}

/// Pastes `crop` (`w` × `h`) into `padded` (`(w + 2r)` × `(h + 2r)`, centred) and runs a
/// square max filter of radius `r` over it; `lines` holds at least `L + 2 (L + 2r)` for the
/// longer padded side `L`.
fn thicken(crop: &[f32], w: usize, h: usize, r: usize, padded: &mut [f32], lines: &mut [f32]) {
    let (pw, ph) = (w + 2 * r, h + 2 * r);
    padded.fill(0.0);
    for (y, row) in crop.chunks_exact(w).enumerate() {
        padded[(y + r) * pw + r..(y + r) * pw + r + w].copy_from_slice(row);
    }
    let long = pw.max(ph);
    let (line, rest) = lines.split_at_mut(long);
    let (prefix, suffix) = rest.split_at_mut(long + 2 * r);
    // A square max filter is separable: rows, then columns.
    for row in padded.chunks_exact_mut(pw) {
        running_max(row, r, prefix, suffix);
    }
    for x in 0..pw {
        let column = &mut line[..ph];
        for (y, v) in column.iter_mut().enumerate() {
            *v = padded[y * pw + x];
        }
        running_max(column, r, prefix, suffix);
        for (y, &v) in column.iter().enumerate() {
            padded[y * pw + x] = v;
        }
    }
}

/// `v[i] ← max(v[i - r ..= i + r])` (clipped to the slice), in place and in O(n) whatever `r`
/// (van Herk / Gil-Werman: prefix and suffix maxima within blocks of `k = 2r + 1`); `prefix`
/// and `suffix` hold at least `v.len() + 2r` each.
fn running_max(v: &mut [f32], r: usize, prefix: &mut [f32], suffix: &mut [f32]) {
    let k = 2 * r + 1;
    let n = v.len() + 2 * r;
    // Padding with r of -inf each side makes every window exactly k long, so it spans the
    // tail of one block and the head of the next (or is one whole block).
    let (prefix, suffix) = (&mut prefix[..n], &mut suffix[..n]);
    prefix.fill(f32::NEG_INFINITY);
    prefix[r..r + v.len()].copy_from_slice(v);
    suffix.copy_from_slice(prefix);
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
    for (i, out) in v.iter_mut().enumerate() {
        *out = suffix[i].max(prefix[i + 2 * r]);
    }
}

/// Resamples `src` (`w` × `h`, row-major) to `out` (`nw` × `nh`, `nw ≤ w`, `nh ≤ h`): each
/// output pixel is the mean of the input area it covers, partly covered input pixels counting
/// in proportion. Separable: rows first (into `rows`, `h × nw`), then columns.
fn area_resize(
    src: &[f32],
    w: usize,
    h: usize,
    nw: usize,
    nh: usize,
    rows: &mut [f32],
    out: &mut [f32],
) {
    for (y, row) in rows.chunks_exact_mut(nw).enumerate() {
        for (j, o) in row.iter_mut().enumerate() {
            *o = area_weights(w, nw, j)
                .map(|(x, k)| k * src[y * w + x])
                .sum();
        }
    }
    for (j, o) in out.chunks_exact_mut(nw).enumerate() {
        for (x, v) in o.iter_mut().enumerate() {
            *v = area_weights(h, nh, j)
                .map(|(y, k)| k * rows[y * nw + x])
                .sum();
        }
    }
}

/// Output cell `j` of `dst` spread over `src` input cells: the input cells it overlaps and the
/// fraction of the output cell each covers (the fractions sum to 1).
fn area_weights(src: usize, dst: usize, j: usize) -> impl Iterator<Item = (usize, f32)> {
    let scale = src as f64 / dst as f64;
    let (lo, hi) = (j as f64 * scale, (j + 1) as f64 * scale);
    let first = libm::floor(lo) as usize;
    let end = (libm::ceil(hi) as usize).min(src);
    (first..end)
        .map(move |i| {
            let covered = hi.min(i as f64 + 1.0) - lo.max(i as f64);
            (i, (covered / scale) as f32)
        })
        .filter(|&(_, k)| k > 0.0)
}

/// Enlarges `src` (`w` × `h`, both below [`BOX`]) to `out` (`nw` × `nh`) as
/// `image::imageops::resize` with `FilterType::Triangle` does for an `f32` image of 0–1 (the
/// same weights, the same order of sums, columns first): bilinear interpolation between pixel
/// centres, edges clamped.
fn triangle_resize(src: &[f32], w: usize, h: usize, nw: usize, nh: usize, out: &mut [f32]) {
    let mut tmp = [0.0f32; BOX * BOX];
    let tmp = &mut tmp[..w * nh];
    for oy in 0..nh {
        let (first, weights) = triangle_weights(h, nh, oy);
        for x in 0..w {
            let mut t = 0.0f32;
            for (i, k) in weights.clone().enumerate() {
                t += src[(first + i) * w + x] / 255.0 * k;
            }
            tmp[oy * w + x] = t;
        }
    }
    for ox in 0..nw {
        let (first, weights) = triangle_weights(w, nw, ox);
        for y in 0..nh {
            let mut t = 0.0f32;
            for (i, k) in weights.clone().enumerate() {
                t += tmp[y * w + first + i] * k;
            }
            out[y * nw + ox] = t.clamp(0.0, 1.0) * 255.0;
        }
    }
}

/// The first input index and the normalised weights of output `j` of `dst` reading from
/// `src` under the triangle filter, as the `image` crate computes them: the inputs within
/// one pixel of the output's centre (the support widened by the ratio when shrinking, which
/// is not used here: when enlarging each output reads at most 3 inputs).
fn triangle_weights(
    src: usize,
    dst: usize,
    j: usize,
) -> (usize, impl Iterator<Item = f32> + Clone) {
    let ratio = src as f32 / dst as f32;
    let sratio = if ratio < 1.0 { 1.0 } else { ratio };
    let centre = (j as f32 + 0.5) * ratio;
    let first = (libm::floorf(centre - sratio) as i64).clamp(0, src as i64 - 1);
    let end = (libm::ceilf(centre + sratio) as i64).clamp(first + 1, src as i64);
    let (first, end, centre) = (first as usize, end as usize, centre - 0.5);
    let kernel = move |i: usize| {
        let x = ((i as f32 - centre) / sratio).abs();
        if x < 1.0 { 1.0 - x } else { 0.0 }
    };
    let sum: f32 = (first..end).map(kernel).sum();
    (first, (first..end).map(move |i| kernel(i) / sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_resize_by_hand() {
        let mut rows = [0.0; 8];
        let mut out = [0.0; 2];
        // 3 -> 2: the middle input pixel is split evenly between the two outputs.
        area_resize(&[0.0, 3.0, 6.0], 3, 1, 2, 1, &mut rows[..2], &mut out);
        assert_eq!(out, [1.0, 5.0]);
        // 4x2 -> 2x1: plain 2x2 means.
        let src = [1.0, 3.0, 5.0, 7.0, 3.0, 5.0, 7.0, 9.0];
        area_resize(&src, 4, 2, 2, 1, &mut rows[..4], &mut out);
        assert_eq!(out, [3.0, 7.0]);
        for (src, dst) in [(7, 3), (100, 20), (21, 20)] {
            for j in 0..dst {
                let sum: f32 = area_weights(src, dst, j).map(|w| w.1).sum();
                assert!((sum - 1.0).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn running_max_matches_the_naive_window() {
        let v: [f32; 37] = core::array::from_fn(|i| ((i * 7919) % 23) as f32);
        let (mut prefix, mut suffix) = ([0.0; 64], [0.0; 64]);
        for r in 0..12 {
            let naive: [f32; 37] = core::array::from_fn(|i| {
                let (lo, hi) = (i.saturating_sub(r), (i + r).min(v.len() - 1));
                v[lo..=hi].iter().copied().fold(f32::MIN, f32::max)
            });
            let mut out = v;
            running_max(&mut out, r, &mut prefix, &mut suffix);
            assert_eq!(out, naive, "r = {r}");
        }
        running_max(&mut [], 3, &mut prefix, &mut suffix);
    }

    #[test]
    fn thin_strokes_are_thickened_and_thick_ones_left_alone() {
        // A 1-pixel vertical line 100 long: stroke estimate 2 < 3.5, radius ceil((10 - 2) / 2) = 4.
        let line = [255.0f32; 100];
        assert_eq!(thickening_radius(&line, 1, 100), 4);
        let (mut padded, mut lines) = ([0.0f32; 9 * 108], [0.0f32; 108 * 3 + 16]);
        thicken(&line, 1, 100, 4, &mut padded, &mut lines);
        // Every padded pixel is within 4 (Chebyshev distance) of the line: all ink.
        assert!(padded.iter().all(|&v| v == 255.0));
        // A 10-wide bar 100 long is already a tenth: unchanged.
        assert_eq!(thickening_radius(&[255.0f32; 1000], 10, 100), 0);
    }

    #[test]
    fn border_median_by_hand() {
        // 3x3: every pixel but the centre (index 4, 100) is on the border; upper median of
        // 0..=8 without 4 is the fifth of eight sorted values, 5.
        let mut grey = [0.0, 1.0, 2.0, 3.0, 100.0, 5.0, 6.0, 7.0, 8.0];
        assert_eq!(border_median(&grey, 3, 3), 5.0);
        grey[4] = 0.0;
        assert_eq!(border_median(&grey, 3, 3), 5.0);
        assert_eq!(border_median(&[3.0, 1.0, 2.0], 3, 1), 2.0);
        assert_eq!(border_median(&[4.0, 1.0, 3.0, 2.0], 1, 4), 3.0);
        assert_eq!(border_median(&[0.5, 254.5], 2, 1), 254.5);
    }

    #[test]
    fn triangle_resize_interpolates_between_pixel_centres() {
        // 2 -> 4 along a row: centres at 0.25, 0.75, 1.25, 1.75 of the input pixels' width
        // minus a half: weights (1, 0), (0.75, 0.25), (0.25, 0.75), (0, 1) after clamping.
        let mut out = [0.0; 4];
        triangle_resize(&[0.0, 255.0], 2, 1, 4, 1, &mut out);
        assert_eq!(out, [0.0, 63.75, 191.25, 255.0]);
    }

    #[test]
    fn scratch_bound_covers_every_ink() {
        for (w, h) in [(1, 1), (1, 100), (100, 1), (280, 280), (5, 3), (4000, 3000)] {
            let bound = scratch_len(w, h);
            let long = w.max(h);
            // The largest radius a crop of this picture can get.
            let r = libm::ceilf((STROKE * long as f32 - 2.0) / 2.0).max(0.0) as usize;
            for radius in [0, r] {
                let ink = Ink {
                    width: w,
                    height: h,
                    radius,
                };
                assert!(ink.scratch_len() <= bound, "{w}x{h} r {radius}");
            }
        }
    }
}
