//! A dense int8 layer prepared once, when the model is loaded, in the order the host's
//! packed kernels read it (`simd::vnni::dense_i8_packed` with AVX-512 VNNI,
//! `simd::avx2::dense_i8_packed` with AVX2, through
//! [`crate::kernels::dense_i8_packed`]); the plain row-major layer it came from stays
//! beside it, for every other build and as the reference: both give the same bits.
//!
//! The caller owns the memory (nn-core does not allocate): one `i32` buffer of
//! [`PackedDenseI8::buffer_len`] words, cut into named views:
//! 1. `words`, `(blocks, quads, 16)`: word `(b, q, i)` holds the 4 weights
//!    `w[16b + i, 4q..4q + 4]`, little-endian, zero past the last row or column. One
//!    `vpdpbusd` of a block's 64-byte vector with the input quad `x[4q..4q + 4]` broadcast
//!    into every lane does 16 rows × 4 columns; the AVX2 kernel's `vpmaddubsw` does 8 rows
//!    × 4 columns with each half of a 32-byte vector.
//! 2. `bias`, `(16 · blocks)`: `bias[r] − (128 + zp_in) · Σ_c w[r, c]` (mod 2³²): the kernel
//!    multiplies unsigned bytes, `x + 128`, so `Σ w (x − zp) = Σ w (x + 128) − (128 + zp) Σ w`,
//!    and the second term is a constant of the layer.
//! 3. `multiplier`, `(16 · blocks)`: each row's [`Requant::multiplier`].
//! 4. `total_shift`, `(16 · blocks)`: each row's `31 − shift` (the shift clamped as
//!    [`Requant::apply`] clamps it): the right shift after the 64-bit product.
//!
//! Padding rows hold zeros and a total shift of 1; their outputs are never written.
//!
//! That is [`Layout::Blocks16`], the host's. The Cortex-M4 reads another,
//! [`Layout::M4Wide`] (`super::m4::wide`: the weights alone, widened to i16), which a
//! firmware's build script writes to flash (nn-build) rather than to RAM at load. Each build
//! packs and reads [`Layout::NATIVE`]; [`PackedDenseI8::pack_as`] packs for another target.

use super::m4::wide;
use crate::quant::{DenseI8Params, Requant};

/// The order a packed buffer holds a layer in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// The host's (the module docs): AVX-512 VNNI and AVX2 read it.
    Blocks16,
    /// The Cortex-M4's (`m4::wide`): blocks of 5 rows of i16 weight pairs, twice the
    /// weights' bytes.
    M4Wide,
}

impl Layout {
    /// The layout this build's packed kernel reads: the M4's on a core with the DSP
    /// extension, the host's everywhere else (where no packed kernel reads it, the plain
    /// layer runs).
    pub const NATIVE: Self = if cfg!(nn_arm_dsp) {
        Self::M4Wide
    } else {
        Self::Blocks16
    };

    /// The `i32` words a `(rows, cols)` layer packs into.
    pub const fn buffer_len(self, rows: usize, cols: usize) -> usize {
        match self {
            Self::Blocks16 => {
                let (blocks, quads) = blocks_quads(rows, cols);
                blocks * BLOCK_ROWS * (quads + 3)
            }
            Self::M4Wide => wide::buffer_len(rows, cols),
        }
    }
}

/// Rows per block: the int32 lanes of a 512-bit vector.
pub const BLOCK_ROWS: usize = 16;

/// Columns per word.
pub const QUAD: usize = 4;

/// The most columns the packed kernels take (they keep `x + 128` in a buffer on their
/// stack); wider layers run the plain kernel.
pub const MAX_COLS: usize = 4096;

/// A dense int8 layer, `y = dense_i8(w, x, bias, requant, p)`, with its packed twin
/// borrowed from a buffer [`PackedDenseI8::pack`] filled.
#[derive(Clone, Copy, Debug)]
// Only the VNNI and AVX2 kernels read the packed views; other builds run the plain layer.
#[cfg_attr(
    not(all(target_arch = "x86_64", target_feature = "avx2")),
    allow(dead_code)
)]
pub struct PackedDenseI8<'a> {
    /// How `words` is laid out; the other packed views are empty in [`Layout::M4Wide`].
    pub(crate) layout: Layout,
    /// `(rows, cols)` row-major: the layer as the file stores it.
    pub(crate) w: &'a [i8],
    /// Inputs.
    pub(crate) cols: usize,
    /// `(rows)`.
    pub(crate) bias: &'a [i32],
    /// `(rows)`.
    pub(crate) requant: &'a [Requant],
    /// The zero points and the clamp.
    pub(crate) p: DenseI8Params,
    /// `(blocks, quads, 16)` words (the module docs).
    pub(crate) words: &'a [i32],
    /// `(16 · blocks)`: the bias with the `x + 128` correction folded in.
    pub(crate) folded_bias: &'a [i32],
    /// `(16 · blocks)`.
    pub(crate) multiplier: &'a [i32],
    /// `(16 · blocks)`: `31 − shift`.
    pub(crate) total_shift: &'a [i32],
}

/// Blocks of 16 rows, and quads of 4 columns, of a `(rows, cols)` layer.
const fn blocks_quads(rows: usize, cols: usize) -> (usize, usize) {
    (rows.div_ceil(BLOCK_ROWS), cols.div_ceil(QUAD))
}

/// Where the buffer's views end: words, folded bias, multiplier (the total shift runs to
/// the end).
const fn view_ends(rows: usize, cols: usize) -> [usize; 3] {
    let (blocks, quads) = blocks_quads(rows, cols);
    let padded = blocks * BLOCK_ROWS;
    let words = padded * quads;
    [words, words + padded, words + 2 * padded]
}

impl<'a> PackedDenseI8<'a> {
    /// The `i32` words a `(rows, cols)` layer packs into, in this build's layout.
    pub const fn buffer_len(rows: usize, cols: usize) -> usize {
        Layout::NATIVE.buffer_len(rows, cols)
    }

    /// Packs `w` `(rows, cols)`, `bias` and `requant` `(rows)` for the zero points and clamp
    /// `p` into `buf`, in this build's layout, every word of it written.
    ///
    /// # Panics
    /// If `w` is not `(bias.len(), cols)`, `requant` not `(bias.len())`, or `buf` not
    /// [`PackedDenseI8::buffer_len`] long.
    pub fn pack(
        w: &[i8],
        cols: usize,
        bias: &[i32],
        requant: &[Requant],
        p: DenseI8Params,
        buf: &mut [i32],
    ) {
        Self::pack_as(Layout::NATIVE, w, cols, bias, requant, p, buf);
    }

    /// [`PackedDenseI8::pack`] in `layout` ([`Layout::buffer_len`] words): what a build
    /// script on the host writes for a board.
    ///
    /// # Panics
    /// As [`PackedDenseI8::pack`], the length being `layout`'s.
    pub fn pack_as(
        layout: Layout,
        w: &[i8],
        cols: usize,
        bias: &[i32],
        requant: &[Requant],
        p: DenseI8Params,
        buf: &mut [i32],
    ) {
        let rows = bias.len();
        assert_eq!(w.len(), rows * cols, "pack: w is not (rows, cols)");
        assert_eq!(requant.len(), rows, "pack: requant is not (rows)");
        assert_eq!(
            buf.len(),
            layout.buffer_len(rows, cols),
            "pack: buffer of the wrong length"
        );
        if layout == Layout::M4Wide {
            return wide::pack(w, rows, cols, bias, requant, buf);
        }
        let (_, quads) = blocks_quads(rows, cols);
        let [a, b, c] = view_ends(rows, cols);
        let (words, rest) = buf.split_at_mut(a);
        let (folded, rest) = rest.split_at_mut(b - a);
        let (multiplier, total_shift) = rest.split_at_mut(c - b);
        let correction = 128i32.wrapping_add(p.input_zero_point);
        for (r, (b, (m, s))) in folded
            .iter_mut()
            .zip(multiplier.iter_mut().zip(total_shift.iter_mut()))
            .enumerate()
        {
            let (block, lane) = (r / BLOCK_ROWS, r % BLOCK_ROWS);
            let row = w.get(r * cols..(r + 1) * cols).unwrap_or_default();
            for q in 0..quads {
                let mut bytes = [0u8; QUAD];
                for (k, byte) in bytes.iter_mut().enumerate() {
                    *byte = row.get(q * QUAD + k).map_or(0, |&v| v as u8);
                }
                words[(block * quads + q) * BLOCK_ROWS + lane] = i32::from_le_bytes(bytes);
            }
            let sum = row.iter().fold(0i32, |s, &v| s.wrapping_add(i32::from(v)));
            (*b, *m, *s) = match (bias.get(r), requant.get(r)) {
                (Some(&bias), Some(rq)) => (
                    bias.wrapping_sub(correction.wrapping_mul(sum)),
                    rq.multiplier,
                    31 - rq.shift.clamp(-31, 30),
                ),
                _ => (0, 0, 1),
            };
        }
    }

    /// The layer with the packed twin `buf` that [`PackedDenseI8::pack`] filled from the
    /// same `w`, `cols`, `bias`, `requant` and `p` (other contents give other outputs, but
    /// nothing worse).
    ///
    /// # Panics
    /// If the lengths disagree, as for [`PackedDenseI8::pack`].
    pub fn new(
        w: &'a [i8],
        cols: usize,
        bias: &'a [i32],
        requant: &'a [Requant],
        p: DenseI8Params,
        buf: &'a [i32],
    ) -> Self {
        Self::new_as(Layout::NATIVE, w, cols, bias, requant, p, buf)
    }

    /// [`PackedDenseI8::new`] for a `buf` that [`PackedDenseI8::pack_as`] filled in `layout`
    /// (the kernels of another layout run the plain layer).
    ///
    /// # Panics
    /// If the lengths disagree, as for [`PackedDenseI8::pack_as`].
    pub fn new_as(
        layout: Layout,
        w: &'a [i8],
        cols: usize,
        bias: &'a [i32],
        requant: &'a [Requant],
        p: DenseI8Params,
        buf: &'a [i32],
    ) -> Self {
        let rows = bias.len();
        assert_eq!(w.len(), rows * cols, "packed: w is not (rows, cols)");
        assert_eq!(requant.len(), rows, "packed: requant is not (rows)");
        assert_eq!(
            buf.len(),
            layout.buffer_len(rows, cols),
            "packed: buffer of the wrong length"
        );
        let [a, b, c] = match layout {
            Layout::Blocks16 => view_ends(rows, cols),
            Layout::M4Wide => [buf.len(); 3],
        };
        let (words, rest) = buf.split_at(a);
        let (folded_bias, rest) = rest.split_at(b - a);
        let (multiplier, total_shift) = rest.split_at(c - b);
        Self {
            layout,
            w,
            cols,
            bias,
            requant,
            p,
            words,
            folded_bias,
            multiplier,
            total_shift,
        }
    }

    /// Outputs.
    pub fn rows(&self) -> usize {
        self.bias.len()
    }

    /// Whether the host's packed kernels take this layer: in their layout, at most
    /// [`MAX_COLS`] columns, and an output zero point in `[−2²⁹, 2²⁹]`, for which adding it
    /// in int32 to the requantised value clamped to ±2³⁰ gives what [`super::output`]'s
    /// saturating sum gives, once clamped to an i8.
    #[cfg_attr(
        not(all(target_arch = "x86_64", target_feature = "avx2")),
        allow(dead_code)
    )]
    pub(crate) fn takes_packed(&self) -> bool {
        self.layout == Layout::Blocks16
            && self.cols <= MAX_COLS
            && (-(1 << 29)..=(1 << 29)).contains(&self.p.output_zero_point)
    }

    /// The plain layer through the dispatched [`crate::kernels::dense_i8`], for the builds
    /// and the shapes the packed versions leave to it.
    ///
    /// # Panics
    /// If `x` is not `(cols)` or `y` not `(rows)`.
    pub fn plain(&self, x: &[i8], y: &mut [i8]) {
        crate::kernels::dense_i8(self.w, x, self.bias, self.requant, self.p, y)
    }
}
