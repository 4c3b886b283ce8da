//! `dense_i8` on the host's vectors, exactly equal to the scalar twin.
//!
//! Two versions on row-major weights, picked at compile time from the build's target
//! features, like the f32 kernels' width, and a third on a layer packed at load:
//! - **AVX-512 VNNI** (`avx512vnni` + `avx512bw`): `vpdpbusd` multiplies 64 unsigned bytes
//!   by 64 signed bytes and adds each group of 4 products into one of 16 int32 lanes;
//!   8 rows share each load of `x`, each its own accumulator (8 independent chains), and
//!   every weight is read once. The inputs are made unsigned by
//!   `x' = x ^ 0x80 = x + 128`, and the row's weight sum,
//!   accumulated alongside by a second `vpdpbusd` with 1s, takes the 128 back out:
//!   `Σ w (x − zp) = Σ w x' − (128 + zp) Σ w`. Row and column tails are masked loads.
//! - **`wide`** everywhere else: inputs and weights widened to i16 (`x − zp` fits there for
//!   every zero point in [−32640, 32639]; any other falls back to the twin), multiplied
//!   and summed in pairs into int32 lanes (`pmaddwd`): 32 bytes a step with AVX-512BW,
//!   16 with AVX2 or SSE2 (plain arrays on targets without SIMD).
//!
//! - **AVX-512 VNNI on a packed layer** ([`dense_i8_packed`], the layout in
//!   [`super::packed`]): one `vpdpbusd` per 16 rows × 4 columns, the input quad broadcast,
//!   quads of `x` that are all −128 skipped (they add 0), 16 rows requantised at once.
//! - **AVX2 on a packed layer** (`avx2`, builds without VNNI): the same layout, its
//!   weights stored unsigned, and the same steps, each 8 rows × 4 columns widened to i16
//!   within 128-bit halves and two `vpmaddwd` with the input quad's pairs broadcast.
//!
//! All accumulate modulo 2³², as the twin does, so they agree with it for every input:
//! every product and pair sum is exact in int32 (at most 2 · 128 · 32768 = 2²³), and
//! wrapping addition does not care about order.

use super::{DenseI8Args, output};
use crate::quant::{DenseI8Params, Requant};

/// Rows that share each vector of `x` loaded (the `wide` version).
const ROWS: usize = 4;

/// [`crate::kernels::dense_i8`] on the host's vectors, the shapes checked in `args`.
pub fn dense_i8(args: DenseI8Args<'_>) {
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx512vnni",
        target_feature = "avx512bw"
    ))]
    vnni::dense_i8(args);
    #[cfg(not(all(
        target_arch = "x86_64",
        target_feature = "avx512vnni",
        target_feature = "avx512bw"
    )))]
    wide_i16::dense_i8(args);
}

/// Calls `dot(rows)` for each group of up to `R` rows and turns the returned
/// accumulators into outputs. `dot` gets the rows' weights and returns
/// `Σ_c w[r, c] · (x[c] − zp_in)` (mod 2³²) for each; the first `n` are used.
#[inline(always)]
fn by_row_groups<const R: usize>(
    w: &[i8],
    cols: usize,
    bias: &[i32],
    requant: &[Requant],
    p: DenseI8Params,
    y: &mut [i8],
    mut dot: impl FnMut([&[i8]; R]) -> [i32; R],
) {
    let rows = y.len();
    let mut r = 0;
    while r < rows {
        let n = (rows - r).min(R);
        // A short last group repeats its first row in the missing slots.
        let group: [&[i8]; R] = core::array::from_fn(|k| {
            let row = r + if k < n { k } else { 0 };
            &w[row * cols..(row + 1) * cols]
        });
        let dots = dot(group);
        for k in 0..n {
            y[r + k] = output(bias[r + k].wrapping_add(dots[k]), requant[r + k], p);
        }
        r += n;
    }
}

/// The `wide` version: i16 lanes and pair-wise multiply-adds into i32 lanes.
pub mod wide_i16 {
    use super::{DenseI8Args, ROWS, by_row_groups};

    #[cfg(not(target_feature = "avx512bw"))]
    use wide::{i8x16 as B, i16x16 as H, i32x8 as I};
    #[cfg(target_feature = "avx512bw")]
    use wide::{i8x32 as B, i16x32 as H, i32x16 as I};

    /// Bytes of `x` per step.
    pub const STEP: usize = core::mem::size_of::<B>();

    #[inline(always)]
    fn widen(v: &[i8; STEP]) -> H {
        #[cfg(target_feature = "avx512bw")]
        {
            H::from_i8x32(B::new(*v))
        }
        #[cfg(not(target_feature = "avx512bw"))]
        {
            H::from_i8x16(B::new(*v))
        }
    }

    /// As [`super::dense_i8`].
    pub fn dense_i8(args: DenseI8Args<'_>) {
        if !crate::kernels::int8::I16_ZERO_POINTS.contains(&args.p.input_zero_point) {
            return crate::kernels::int8::scalar::dense_i8(args);
        }
        let (w, x, bias, requant, p, y) = args.parts();
        let cols = x.len();
        let zp = p.input_zero_point;
        let zp_h = H::splat(zp as i16);
        let (x_body, x_tail) = x.as_chunks::<STEP>();
        let split = x_body.len() * STEP;
        by_row_groups(w, cols, bias, requant, p, y, |rows: [&[i8]; ROWS]| {
            let bodies: [&[[i8; STEP]]; ROWS] =
                core::array::from_fn(|r| rows[r][..split].as_chunks().0);
            let mut acc = [I::ZERO; ROWS];
            for (k, xk) in x_body.iter().enumerate() {
                let xz = widen(xk) - zp_h;
                for r in 0..ROWS {
                    acc[r] += widen(&bodies[r][k]).dot(xz);
                }
            }
            core::array::from_fn(|r| {
                let body = acc[r]
                    .to_array()
                    .iter()
                    .fold(0i32, |s, &v| s.wrapping_add(v));
                rows[r][split..]
                    .iter()
                    .zip(x_tail)
                    .fold(body, |s, (&wc, &xc)| {
                        s.wrapping_add(i32::from(wc) * (i32::from(xc) - zp))
                    })
            })
        });
    }
}

/// The AVX-512 VNNI version.
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx512vnni",
    target_feature = "avx512bw"
))]
pub mod vnni {
    use super::{DenseI8Args, by_row_groups};
    use crate::kernels::int8::packed::{BLOCK_ROWS, MAX_COLS, PackedDenseI8, QUAD};
    use core::arch::x86_64::*;

    /// Bytes per vector.
    const STEP: usize = 64;

    /// Rows that share each vector of `x` loaded: 8 independent `vpdpbusd` chains
    /// (16 with the weight sums), enough to cover its latency.
    const ROWS: usize = 8;

    /// As [`super::dense_i8`].
    pub fn dense_i8(args: DenseI8Args<'_>) {
        let (w, x, bias, requant, p, y) = args.parts();
        let cols = x.len();
        // 128 + zp, modulo 2³²: what each unit of Σ w is worth in the correction. It is 0
        // for the usual zero point of −128 (pixels, and activations after a ReLU), and
        // then the weight sums are not computed at all: half the multiply-adds.
        let correction = 128i32.wrapping_add(p.input_zero_point);
        if correction == 0 {
            by_row_groups(w, cols, bias, requant, p, y, |rows: [&[i8]; ROWS]| {
                dots::<false>(rows, x, 0)
            });
        } else {
            by_row_groups(w, cols, bias, requant, p, y, |rows: [&[i8]; ROWS]| {
                dots::<true>(rows, x, correction)
            });
        }
    }

    /// Blocks of 16 rows that share each broadcast quad of `x`.
    const GROUP: usize = 4;

    /// As [`super::dense_i8_packed`]:
    /// 1. `x + 128` as unsigned bytes, and the list of the quads of them that are not all
    ///    0 (`x = −128`): a zero quad adds nothing to any row, so its weights are never
    ///    read. (For the first layer that is every quad of black pixels, most of an MNIST
    ///    digit; the sum stays exact, in any order, for any zero point, which the folded
    ///    bias carries.)
    /// 2. For each group of up to [`GROUP`] blocks, one pass over the listed quads, each
    ///    broadcast to 16 lanes and multiplied by each block's 64-byte word vector
    ///    (`vpdpbusd`: 16 rows × 4 columns), with 2 accumulators per block (4 for a group
    ///    of 1 or 2 blocks) to cover the latency.
    /// 3. 16 rows at a time: the folded bias, [`Requant::apply`] on 64-bit lanes, the zero
    ///    point and the clamp.
    pub fn dense_i8_packed(layer: &PackedDenseI8<'_>, x: &[i8], y: &mut [i8]) {
        let (rows, cols) = (layer.rows(), layer.cols);
        assert_eq!(x.len(), cols, "dense_i8_packed: x is not (cols)");
        assert_eq!(y.len(), rows, "dense_i8_packed: y is not (rows)");
        if !layer.takes_packed() {
            return layer.plain(x, y);
        }
        let quads = cols.div_ceil(QUAD);
        let blocks = rows.div_ceil(BLOCK_ROWS);
        let mut xu = core::mem::MaybeUninit::<[u32; MAX_COLS / QUAD]>::uninit();
        // One vector of slack: each chunk stores 16 words from its first listed index on.
        let mut active = core::mem::MaybeUninit::<[u32; MAX_COLS / QUAD + 16]>::uninit();
        let chunks = cols.div_ceil(STEP);
        // Safety: `chunks * STEP ≤ MAX_COLS` bytes (`MAX_COLS` is a multiple
        // of `STEP`), so every store of `xu` lands inside it; each masked load reads only
        // the bytes of `x` from `at` on. Each chunk's store of `active` writes 16 words
        // from `listed`, which is below `quads ≤ MAX_COLS / 4` (one index per quad
        // listed), so inside `active` with its slack.
        // AVX-512F and BW: this module's `cfg`. The stores initialise the first
        // `chunks * STEP ≥ quads * 4` bytes of `xu` and `listed` words of `active`.
        let (xu, active): (&[u32], &[u32]) = unsafe {
            let flip = _mm512_set1_epi8(-128);
            let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            let base = xu.as_mut_ptr().cast::<u8>();
            let list = active.as_mut_ptr().cast::<u32>();
            let mut listed = 0;
            for chunk in 0..chunks {
                let at = chunk * STEP;
                let mask = u64::MAX
                    .checked_shr((STEP - (cols - at).min(STEP)) as u32)
                    .unwrap_or(0);
                // Bytes past the end of x are 0 here, 128 after the flip: never listed
                // alone, and multiplied by the padding's zero weights when their quad is.
                let v = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, x.as_ptr().add(at)), flip);
                _mm512_storeu_si512(base.add(at).cast(), v);
                let first = chunk * (STEP / QUAD);
                let in_layer = u16::MAX
                    .checked_shr((STEP / QUAD - (quads - first).min(STEP / QUAD)) as u32)
                    .unwrap_or(0);
                let live = _mm512_test_epi32_mask(v, v) & in_layer;
                let index = _mm512_add_epi32(lanes, _mm512_set1_epi32(first as i32));
                // Compressed in a register and stored whole (16 words, the listed ones
                // first): a compressing store to memory is microcoded on some cores (Zen 4).
                _mm512_storeu_si512(
                    list.add(listed).cast(),
                    _mm512_maskz_compress_epi32(live, index),
                );
                listed += live.count_ones() as usize;
            }
            (
                core::slice::from_raw_parts(xu.as_ptr().cast::<u32>(), quads),
                core::slice::from_raw_parts(list, listed),
            )
        };
        let mut b0 = 0;
        while b0 < blocks {
            let n = (blocks - b0).min(GROUP);
            let words = &layer.words[b0 * quads * BLOCK_ROWS..(b0 + n) * quads * BLOCK_ROWS];
            // Safety: `words` holds `n` blocks of `quads * 16` words (`PackedDenseI8::new`
            // checked the buffer's length), `xu` `quads` words, and every index in
            // `active` is below `quads`; the build has AVX-512F, BW and VNNI (this
            // module's `cfg`).
            let accs: [__m512i; GROUP] = unsafe {
                match n {
                    1 => pad(group::<1, 4>(words, xu, active)),
                    2 => pad(group::<2, 4>(words, xu, active)),
                    3 => pad(group::<3, 2>(words, xu, active)),
                    _ => group::<GROUP, 2>(words, xu, active),
                }
            };
            for (k, &acc) in accs.iter().enumerate().take(n) {
                let b = b0 + k;
                let live = (rows - b * BLOCK_ROWS).min(BLOCK_ROWS);
                // Safety: as above; `b < blocks`, so the views hold 16 words at `16 b`, and
                // `y` has `live` bytes at `16 b`, all the masked store writes.
                unsafe { output_block(layer, b, acc, &mut y[b * BLOCK_ROWS..][..live]) };
            }
            b0 += n;
        }
    }

    /// `[a…, 0…]`.
    fn pad<const N: usize>(a: [__m512i; N]) -> [__m512i; GROUP] {
        // Safety: the build has AVX-512F (this module's `cfg`).
        let zero = unsafe { _mm512_setzero_si512() };
        core::array::from_fn(|k| a.get(k).copied().unwrap_or(zero))
    }

    /// For each of the `N` blocks in `words` (`(N, xu.len(), 16)`), the 16 row sums
    /// `Σ_{q in active} Σ_j w[row, 4q + j] · xu[q].byte(j)`, wrapping; `P` accumulators per
    /// block, taking the listed quads in turn.
    ///
    /// # Safety
    /// `words.len() == N * xu.len() * 16`, every index in `active` below `xu.len()`;
    /// AVX-512F, BW and VNNI.
    #[inline(always)]
    unsafe fn group<const N: usize, const P: usize>(
        words: &[i32],
        xu: &[u32],
        active: &[u32],
    ) -> [__m512i; N] {
        let quads = xu.len();
        assert_eq!(words.len(), N * quads * BLOCK_ROWS);
        // Safety: every load reads 16 words at `(k · quads + q) · 16` with `k < N` and
        // `q < quads` (the caller's promise for `active`), inside `words` (asserted
        // above), and `xu[q]`; the caller promises the features.
        unsafe {
            let mut acc = [[_mm512_setzero_si512(); P]; N];
            let base = words.as_ptr();
            let (body, tail) = active.as_chunks::<P>();
            for qs in body {
                for phase in 0..P {
                    let q = qs[phase] as usize;
                    let xq = _mm512_set1_epi32(*xu.get_unchecked(q) as i32);
                    for (k, acc) in acc.iter_mut().enumerate() {
                        let w = _mm512_loadu_si512(base.add((k * quads + q) * BLOCK_ROWS).cast());
                        acc[phase] = _mm512_dpbusd_epi32(acc[phase], xq, w);
                    }
                }
            }
            for (phase, &q) in tail.iter().enumerate() {
                let q = q as usize;
                let xq = _mm512_set1_epi32(*xu.get_unchecked(q) as i32);
                for (k, acc) in acc.iter_mut().enumerate() {
                    let w = _mm512_loadu_si512(base.add((k * quads + q) * BLOCK_ROWS).cast());
                    acc[phase] = _mm512_dpbusd_epi32(acc[phase], xq, w);
                }
            }
            acc.map(|a| {
                a.into_iter()
                    .fold(_mm512_setzero_si512(), |s, v| _mm512_add_epi32(s, v))
            })
        }
    }

    /// Block `b`'s 16 outputs from its sums `acc`: `clamp(zp_out + requant.apply(acc +
    /// folded_bias))` (as [`super::super::output`]), the first `y.len()` stored.
    ///
    /// # Safety
    /// `b` is a block of `layer`, `y.len() ≤ 16`; AVX-512F, BW and VNNI.
    #[inline(always)]
    unsafe fn output_block(layer: &PackedDenseI8<'_>, b: usize, acc: __m512i, y: &mut [i8]) {
        let at = b * BLOCK_ROWS;
        assert!(layer.folded_bias.len() >= at + BLOCK_ROWS && y.len() <= BLOCK_ROWS);
        // Safety: the loads read 16 words at `at`, inside the three views (asserted above,
        // all three are the same length); the masked store writes `y.len()` bytes.
        unsafe {
            let load = |v: &[i32]| _mm512_loadu_si512(v.as_ptr().add(at).cast());
            let acc = _mm512_add_epi32(acc, load(layer.folded_bias));
            let multiplier = load(layer.multiplier);
            let shift = load(layer.total_shift);
            let low = _mm512_set1_epi64(0xffff_ffff);
            let one = _mm512_set1_epi64(1);
            // (acc · multiplier + 2^(shift − 1)) >> shift on the even lanes (the low half of
            // each 64-bit lane), then the odd ones moved down.
            let apply = |acc: __m512i, multiplier: __m512i, shift: __m512i| {
                let shift = _mm512_and_si512(shift, low);
                let round = _mm512_sllv_epi64(one, _mm512_sub_epi64(shift, one));
                let product = _mm512_mul_epi32(acc, multiplier);
                _mm512_srav_epi64(_mm512_add_epi64(product, round), shift)
            };
            let even = apply(acc, multiplier, shift);
            let odd = apply(
                _mm512_srli_epi64::<32>(acc),
                _mm512_srli_epi64::<32>(multiplier),
                _mm512_srli_epi64::<32>(shift),
            );
            let scaled = _mm512_mask_blend_epi32(0xaaaa, even, _mm512_slli_epi64::<32>(odd));
            let bound = _mm512_set1_epi32(1 << 30);
            let scaled = _mm512_max_epi32(
                _mm512_min_epi32(scaled, bound),
                _mm512_sub_epi32(_mm512_setzero_si512(), bound),
            );
            let p = layer.p;
            let v = _mm512_add_epi32(scaled, _mm512_set1_epi32(p.output_zero_point));
            let v = _mm512_min_epi32(
                _mm512_max_epi32(v, _mm512_set1_epi32(i32::from(p.min))),
                _mm512_set1_epi32(i32::from(p.max)),
            );
            let mask = u16::MAX
                .checked_shr((BLOCK_ROWS - y.len()) as u32)
                .unwrap_or(0);
            _mm512_mask_cvtepi32_storeu_epi8(y.as_mut_ptr().cast(), mask, v);
        }
    }

    /// `Σ_c rows[r][c] · x'[c] − correction · Σ_c rows[r][c]` for each row, modulo 2³²,
    /// with `x' = x + 128`; `SUMS = false` leaves out the second term (for a `correction`
    /// of 0).
    ///
    /// # Panics
    /// If a row is not `x.len()` long.
    #[inline(always)]
    fn dots<const SUMS: bool>(rows: [&[i8]; ROWS], x: &[i8], correction: i32) -> [i32; ROWS] {
        assert!(
            rows.iter().all(|row| row.len() == x.len()),
            "dense_i8: a row is not (cols)"
        );
        // Safety: every load reads `STEP` bytes at offset `k * STEP` with `k < whole`, so
        // below `whole * STEP ≤ x.len()`, inside `x` and each row (asserted above); the
        // masked tail loads read only the `x.len() % STEP` bytes after those, also inside
        // (masked-off lanes are neither read nor able to fault). The build has AVX-512F,
        // BW and VNNI (this module's `cfg`).
        unsafe {
            let whole = x.len() / STEP;
            // The tail's bytes: masked loads read exactly these and zero the other lanes.
            let mask = u64::MAX
                .checked_shr((STEP - x.len() % STEP) as u32)
                .unwrap_or(0);
            let flip = _mm512_set1_epi8(-128);
            let ones = _mm512_set1_epi8(1);
            let mut dots = [_mm512_setzero_si512(); ROWS];
            let mut sums = [_mm512_setzero_si512(); ROWS];
            let mut step = |xv: __m512i, wv: [__m512i; ROWS]| {
                let xu = _mm512_xor_si512(xv, flip);
                for r in 0..ROWS {
                    dots[r] = _mm512_dpbusd_epi32(dots[r], xu, wv[r]);
                    if SUMS {
                        sums[r] = _mm512_dpbusd_epi32(sums[r], ones, wv[r]);
                    }
                }
            };
            for k in 0..whole {
                let at = k * STEP;
                step(
                    _mm512_loadu_si512(x.as_ptr().add(at).cast()),
                    core::array::from_fn(|r| _mm512_loadu_si512(rows[r].as_ptr().add(at).cast())),
                );
            }
            if mask != 0 {
                let at = whole * STEP;
                // A masked-off byte of x is 0, flipped to 128, times a weight of 0.
                step(
                    _mm512_maskz_loadu_epi8(mask, x.as_ptr().add(at)),
                    core::array::from_fn(|r| {
                        _mm512_maskz_loadu_epi8(mask, rows[r].as_ptr().add(at))
                    }),
                );
            }
            core::array::from_fn(|r| {
                let dot = _mm512_reduce_add_epi32(dots[r]);
                let sum = if SUMS {
                    _mm512_reduce_add_epi32(sums[r])
                } else {
                    0
                };
                dot.wrapping_sub(correction.wrapping_mul(sum))
            })
        }
    }
}

/// The AVX2 version of [`dense_i8_packed`], for builds without VNNI.
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    not(all(target_feature = "avx512vnni", target_feature = "avx512bw"))
))]
pub mod avx2;

/// `y = dense_i8(w, x, bias, requant, p)` of a layer packed at load
/// ([`super::packed::PackedDenseI8`]): the VNNI version where the build has it, else the
/// AVX2 one, the plain layer through [`dense_i8`] everywhere else.
///
/// # Panics
/// If `x` is not `(cols)` or `y` not `(rows)`.
pub fn dense_i8_packed(layer: &super::packed::PackedDenseI8<'_>, x: &[i8], y: &mut [i8]) {
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx512vnni",
        target_feature = "avx512bw"
    ))]
    vnni::dense_i8_packed(layer, x, y);
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        not(all(target_feature = "avx512vnni", target_feature = "avx512bw"))
    ))]
    avx2::dense_i8_packed(layer, x, y);
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx2")))]
    layer.plain(x, y);
}
