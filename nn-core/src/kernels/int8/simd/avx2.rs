//! [`crate::kernels::int8::simd::dense_i8_packed`] on AVX2 without VNNI, on the layout
//! the VNNI kernel reads ([`crate::kernels::int8::packed`]).
//!
//! AVX2's byte product, `vpmaddubsw`, multiplies 32 unsigned bytes by 32 signed ones and
//! adds each pair of products into an i16, saturating: with `x + 128` (up to 255) and a
//! weight (down to −128) a pair can pass 2¹⁵. So `x + 128` goes in as its two nibbles,
//! `16 h + l` with `h`, `l` in [0, 15]: each pair sum is then at most 2 · 15 · 128 = 3840
//! in magnitude, exact, and up to 8 of them (`SPAN`) add up in i16 lanes without leaving
//! them (8 · 3840 < 2¹⁵). Every `SPAN` quads the i16 sums are widened and combined,
//! `16 Σh + Σl`, by `vpmaddwd` with 16s and 1s into int32 lanes, which wrap modulo 2³² as
//! the twin's sum does: the outputs are the twin's bits for every input.
//!
//! A 32-byte vector of a block is 8 rows × 4 columns; with the quad's nibbles broadcast to
//! every 4 bytes, `vpmaddubsw` leaves each row's two pair sums side by side, and the
//! widening adds them: one int32 lane a row, no horizontal sums. Per 32 multiply-adds that
//! is two `vpmaddubsw` and two i16 adds, where widening the weights to i16 for `vpmaddwd`
//! takes two widenings, two `vpmaddwd` and two int32 adds.
//!
//! The rest is the VNNI kernel's: `Σ w (x + 128)` plus the folded bias is `Σ w (x − zp)`
//! plus the bias; quads of `x` that are all −128 add nothing and are skipped; `GROUP`
//! blocks share each broadcast quad, so every weight is read once; 8 rows at a time are
//! requantised in vectors ([`crate::kernels::int8::requantise`] in 32-bit lanes for the
//! usual shifts, [`crate::quant::Requant::apply`] on 64-bit lanes for the others).

use crate::kernels::int8::packed::{BLOCK_ROWS, MAX_COLS, PackedDenseI8, QUAD};
use core::arch::x86_64::*;
use core::mem::MaybeUninit;

/// Blocks of 16 rows that share each broadcast quad of `x`: 4 i16 accumulators each, 12
/// of AVX2's 16 vector registers (the int32 sums, touched once a span, may live in memory).
const GROUP: usize = 3;

/// Quads whose nibble products add up in i16 lanes before they are widened: the most for
/// which `SPAN · 2 · 15 · 128 < 2¹⁵`.
const SPAN: usize = 8;

/// Rows per int32 vector.
const LANES: usize = 8;

/// As [`super::dense_i8_packed`]:
/// 1. `x + 128` as nibbles, each quad's high and low nibbles in one word each, and the
///    list of the quads that are not all 0.
/// 2. For each group of up to `GROUP` blocks, one pass over the listed quads.
/// 3. 8 rows at a time: the folded bias, the requantisation, the zero point and the clamp.
///
/// # Panics
/// If `x` is not `(cols)` or `y` not `(rows)` of the layer.
pub fn dense_i8_packed(layer: &PackedDenseI8<'_>, x: &[i8], y: &mut [i8]) {
    let (rows, cols) = (layer.rows(), layer.cols);
    assert_eq!(x.len(), cols, "dense_i8_packed: x is not (cols)");
    assert_eq!(y.len(), rows, "dense_i8_packed: y is not (rows)");
    if !layer.takes_packed() {
        return layer.plain(x, y);
    }
    let quads = cols.div_ceil(QUAD);
    let blocks = rows.div_ceil(BLOCK_ROWS);
    let mut nibbles = MaybeUninit::<[[u32; 2]; MAX_COLS / QUAD]>::uninit();
    let mut active = MaybeUninit::<[u32; MAX_COLS / QUAD]>::uninit();
    let (nibbles, active) = split(x, &mut nibbles, &mut active);
    let mut b0 = 0;
    while b0 < blocks {
        let n = (blocks - b0).min(GROUP);
        let words = &layer.words[b0 * quads * BLOCK_ROWS..(b0 + n) * quads * BLOCK_ROWS];
        // Safety: `words` holds `n` blocks of `quads * 16` words (`PackedDenseI8::new`
        // checked the buffer's length), `nibbles` `quads` quads, and every index in
        // `active` is below `quads`; the build has AVX2 (this module's `cfg`).
        let sums: [__m256i; 2 * GROUP] = unsafe {
            match n {
                1 => pad(group::<1>(words, nibbles, active)),
                2 => pad(group::<2>(words, nibbles, active)),
                _ => pad(group::<GROUP>(words, nibbles, active)),
            }
        };
        for (k, &acc) in sums.iter().enumerate() {
            let at = b0 * BLOCK_ROWS + k * LANES;
            if at >= rows {
                break;
            }
            let live = (rows - at).min(LANES);
            // Safety: `at` is a multiple of 8 below the padded rows (`16 · blocks`), so the
            // views hold 8 words there; `y` has `live ≤ 8` bytes at `at`.
            unsafe { output(layer, at, acc, &mut y[at..at + live]) };
        }
        b0 += n;
    }
}

/// Step 1: quad `q` of `x + 128` (0 past `x`) as `nibbles[q] = [high, low]`, the four
/// bytes' high nibbles in one word and their low nibbles in the other, and the indices of
/// the quads that are not all 0, in order.
///
/// # Panics
/// If `x` has more than [`MAX_COLS`] columns.
fn split<'b>(
    x: &[i8],
    nibbles: &'b mut MaybeUninit<[[u32; 2]; MAX_COLS / QUAD]>,
    active: &'b mut MaybeUninit<[u32; MAX_COLS / QUAD]>,
) -> (&'b [[u32; 2]], &'b [u32]) {
    let quads = x.len().div_ceil(QUAD);
    assert!(
        quads <= MAX_COLS / QUAD,
        "dense_i8_packed: too many columns"
    );
    let nibbles = nibbles.as_mut_ptr().cast::<[u32; 2]>();
    let list = active.as_mut_ptr().cast::<u32>();
    let (body, tail) = x.as_chunks::<16>();
    let high_low = |quad: u32| [(quad >> 4) & 0x0f0f_0f0f, quad & 0x0f0f_0f0f];
    // Safety: chunk `k` writes quads `4k..4k + 4`, and the tail's quads follow, so quads
    // `0..quads` are written, each once, all inside `nibbles` (`quads ≤ MAX_COLS / 4`,
    // asserted above). Chunk `k` stores 4 list entries from `listed ≤ 4k` on, below
    // `4k + 4 ≤ quads` (the chunk is whole), and each tail write is at `listed ≤ q <
    // quads`: all inside `active`. The loads read whole chunks of `x`. The build has AVX2
    // (this module's `cfg`).
    unsafe {
        let flip = _mm_set1_epi8(-128);
        let low = _mm_set1_epi8(0x0f);
        let zero = _mm_setzero_si128();
        let mut listed = 0;
        for (k, chunk) in body.iter().enumerate() {
            let v = _mm_xor_si128(_mm_loadu_si128(chunk.as_ptr().cast()), flip);
            let high = _mm_and_si128(_mm_srli_epi16::<4>(v), low);
            let v = _mm_and_si128(v, low);
            let at = nibbles.add(4 * k).cast::<__m128i>();
            _mm_storeu_si128(at, _mm_unpacklo_epi32(high, v));
            _mm_storeu_si128(at.add(1), _mm_unpackhi_epi32(high, v));
            // The 4 quads' indices, the live ones first.
            let dead = _mm_cmpeq_epi32(_mm_or_si128(high, v), zero);
            let live = !_mm_movemask_ps(_mm_castsi128_ps(dead)) as usize & 0xf;
            let order = _mm_loadu_si128(LIVE_FIRST[live].as_ptr().cast());
            let indices = _mm_add_epi32(order, _mm_set1_epi32(4 * k as i32));
            _mm_storeu_si128(list.add(listed).cast(), indices);
            listed += live.count_ones() as usize;
        }
        for (j, part) in tail.chunks(QUAD).enumerate() {
            let mut quad = [0u8; QUAD];
            for (byte, &v) in quad.iter_mut().zip(part) {
                *byte = (v as u8) ^ 0x80;
            }
            let q = 4 * body.len() + j;
            nibbles.add(q).write(high_low(u32::from_le_bytes(quad)));
            list.add(listed).write(q as u32);
            listed += usize::from(quad != [0; QUAD]);
        }
        (
            core::slice::from_raw_parts(nibbles, quads),
            core::slice::from_raw_parts(list, listed),
        )
    }
}

/// For each set of live quads among 4 (bit `j` for quad `j`), their positions, in order,
/// first.
const LIVE_FIRST: [[u32; 4]; 16] = {
    let mut table = [[0; 4]; 16];
    let mut live = 0;
    while live < 16 {
        let (mut j, mut n) = (0, 0);
        while j < 4 {
            if live >> j & 1 == 1 {
                table[live][n] = j as u32;
                n += 1;
            }
            j += 1;
        }
        live += 1;
    }
    table
};

/// `[a…, 0…]`.
fn pad<const N: usize>(a: [[__m256i; 2]; N]) -> [__m256i; 2 * GROUP] {
    // Safety: the build has AVX2 (this module's `cfg`).
    let zero = unsafe { _mm256_setzero_si256() };
    core::array::from_fn(|k| a.get(k / 2).map_or(zero, |block| block[k % 2]))
}

/// Step 2: for each of the `N` blocks in `words` (`(N, nibbles.len(), 16)` words), the 16
/// row sums `Σ_{q in active} Σ_j w[row, 4q + j] · (16 high_j + low_j)` of `nibbles[q]`,
/// wrapping, as two vectors (rows 0–7, rows 8–15).
///
/// # Safety
/// `words.len() == N * nibbles.len() * 16`, every index in `active` below
/// `nibbles.len()`, every nibble at most 15; AVX2.
#[inline(always)]
unsafe fn group<const N: usize>(
    words: &[i32],
    nibbles: &[[u32; 2]],
    active: &[u32],
) -> [[__m256i; 2]; N] {
    let quads = nibbles.len();
    assert_eq!(words.len(), N * quads * BLOCK_ROWS);
    // Safety: every load reads 32 bytes at byte `64 (k · quads + q) + 32 h` with `k < N`,
    // `q < quads` (the caller's promise for `active`) and `h < 2`, inside `words`
    // (asserted above), and `nibbles[q]`; the caller promises AVX2.
    unsafe {
        let zero = _mm256_setzero_si256();
        let sixteen = _mm256_set1_epi16(16);
        let one = _mm256_set1_epi16(1);
        let base = words.as_ptr().cast::<u8>();
        let mut acc = [[zero; 2]; N];
        for span in active.chunks(SPAN) {
            // Each i16 lane: at most `SPAN` pair sums of nibble × weight, |·| ≤ 3840 each.
            let mut high = [[zero; 2]; N];
            let mut low = [[zero; 2]; N];
            for &q in span {
                let q = q as usize;
                let [h, l] = *nibbles.get_unchecked(q);
                let (h, l) = (_mm256_set1_epi32(h as i32), _mm256_set1_epi32(l as i32));
                for k in 0..N {
                    let tile = base.add((k * quads + q) * BLOCK_ROWS * QUAD);
                    for half in 0..2 {
                        let w = _mm256_loadu_si256(tile.add(32 * half).cast());
                        high[k][half] = _mm256_add_epi16(high[k][half], _mm256_maddubs_epi16(h, w));
                        low[k][half] = _mm256_add_epi16(low[k][half], _mm256_maddubs_epi16(l, w));
                    }
                }
            }
            for k in 0..N {
                for half in 0..2 {
                    let sums = _mm256_add_epi32(
                        _mm256_madd_epi16(high[k][half], sixteen),
                        _mm256_madd_epi16(low[k][half], one),
                    );
                    acc[k][half] = _mm256_add_epi32(acc[k][half], sums);
                }
            }
        }
        acc
    }
}

/// Step 3, for rows `at..at + 8` and their sums `acc`: `clamp(zp_out + requant.apply(acc +
/// folded_bias))` (as [`crate::kernels::int8::output`]), the first `y.len()` stored.
///
/// # Safety
/// `at + 8 ≤ 16 · blocks` of `layer`, `y.len() ≤ 8`; AVX2, and [`PackedDenseI8::takes_packed`].
#[inline(always)]
unsafe fn output(layer: &PackedDenseI8<'_>, at: usize, acc: __m256i, y: &mut [i8]) {
    assert!(layer.folded_bias.len() >= at + LANES && y.len() <= LANES);
    // Safety: the loads read 8 words at `at`, inside the three views (asserted above, all
    // three are the same length); the stores write `y.len()` bytes of `y`.
    unsafe {
        let load = |v: &[i32]| _mm256_loadu_si256(v.as_ptr().add(at).cast());
        let acc = _mm256_add_epi32(acc, load(layer.folded_bias));
        let multiplier = load(layer.multiplier);
        let shift = load(layer.total_shift);
        let zero = _mm256_setzero_si256();
        // The total shifts every real layer has, 33 to 62 (`shift` in [−31, −2]), with a
        // multiplier other than `i32::MIN`: `requantise`'s form in 32-bit lanes, from the
        // product's bits 31 to 62, `⌊acc · m / 2³¹⌋` (an i32 there): shifted right by
        // `total − 32 ≥ 1` it leaves room for the `+ 1`, then halved. Its result is below
        // 2³⁰ in magnitude.
        let usual = _mm256_andnot_si256(
            _mm256_cmpeq_epi32(multiplier, _mm256_set1_epi32(i32::MIN)),
            _mm256_and_si256(
                _mm256_cmpgt_epi32(shift, _mm256_set1_epi32(32)),
                _mm256_cmpgt_epi32(_mm256_set1_epi32(63), shift),
            ),
        );
        let scaled = if _mm256_movemask_epi8(usual) == -1 {
            let even = _mm256_srli_epi64::<31>(_mm256_mul_epi32(acc, multiplier));
            let odd = _mm256_slli_epi64::<1>(_mm256_mul_epi32(
                _mm256_srli_epi64::<32>(acc),
                _mm256_srli_epi64::<32>(multiplier),
            ));
            let high = _mm256_blend_epi32::<0b1010_1010>(even, odd);
            let halved = _mm256_srav_epi32(high, _mm256_sub_epi32(shift, _mm256_set1_epi32(32)));
            _mm256_srai_epi32::<1>(_mm256_add_epi32(halved, _mm256_set1_epi32(1)))
        } else {
            // Any shift: (acc · multiplier + 2^(total − 1)) >> total on 64-bit lanes, even
            // lanes (the low half of each) then odd ones, clamped to ±2³⁰. AVX2 has no
            // arithmetic 64-bit shift: a negative sum is complemented, shifted logically and
            // complemented back.
            let low = _mm256_set1_epi64x(0xffff_ffff);
            let one = _mm256_set1_epi64x(1);
            let apply = |acc: __m256i, multiplier: __m256i, shift: __m256i| {
                let shift = _mm256_and_si256(shift, low);
                let round = _mm256_sllv_epi64(one, _mm256_sub_epi64(shift, one));
                let sum = _mm256_add_epi64(_mm256_mul_epi32(acc, multiplier), round);
                let sign = _mm256_cmpgt_epi64(zero, sum);
                _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(sum, sign), shift), sign)
            };
            let even = apply(acc, multiplier, shift);
            let odd = apply(
                _mm256_srli_epi64::<32>(acc),
                _mm256_srli_epi64::<32>(multiplier),
                _mm256_srli_epi64::<32>(shift),
            );
            let scaled = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
            let bound = _mm256_set1_epi32(1 << 30);
            _mm256_max_epi32(
                _mm256_min_epi32(scaled, bound),
                _mm256_sub_epi32(zero, bound),
            )
        };
        let p = layer.p;
        let v = _mm256_add_epi32(scaled, _mm256_set1_epi32(p.output_zero_point));
        let v = _mm256_min_epi32(
            _mm256_max_epi32(v, _mm256_set1_epi32(i32::from(p.min))),
            _mm256_set1_epi32(i32::from(p.max)),
        );
        // Every value is an i8 now, so the saturating packs only narrow: [v0..v3 ×4 |
        // v4..v7 ×4] as bytes, then the two halves' first words side by side.
        let words = _mm256_packs_epi32(v, v);
        let bytes = _mm256_packs_epi16(words, words);
        let bytes = _mm_unpacklo_epi32(
            _mm256_castsi256_si128(bytes),
            _mm256_extracti128_si256::<1>(bytes),
        );
        if y.len() == LANES {
            _mm_storel_epi64(y.as_mut_ptr().cast(), bytes);
        } else {
            let mut all = [0i8; 16];
            _mm_storeu_si128(all.as_mut_ptr().cast(), bytes);
            y.copy_from_slice(&all[..y.len()]);
        }
    }
}
