//! TensorFlow Lite's integer arithmetic, bit for bit: how a real multiplier becomes an
//! integer [`Requant`], how an int32 accumulator is scaled by it, and the fixed-point
//! `exp` and reciprocal behind the int8 softmax.
//!
//! 1. A real multiplier `M > 0` is stored as `M ≈ multiplier · 2^(shift − 31)` with
//!    `multiplier` in `[2³⁰, 2³¹)` ([`Requant::from_real`], TFLite's `QuantizeMultiplier`).
//! 2. An accumulator is scaled by it with one rounding ([`Requant::apply`], TFLite's
//!    `MultiplyByQuantizedMultiplier` as built with `TFLITE_SINGLE_ROUNDING`, which is
//!    what TFLite's reference kernels compute in TensorFlow 2.21): the exact 64-bit
//!    product `acc · multiplier`, divided by `2^(31 − shift)` rounding half up.
//! 3. The softmax runs on gemmlowp's fixed-point numbers: Q5.26 differences from the
//!    maximum, [`exp_on_negative_values`] into Q0.31, a Q12.19 sum, and its reciprocal
//!    through [`one_over_one_plus_x_for_x_in_0_1`] (see
//!    [`crate::kernels::int8::scalar::softmax_i8`]).
//!
//! Where TFLite's C++ overflows a signed int (undefined behaviour in C++, a wrap in the
//! machine code it compiles to), the code here wraps, and says so.

/// A real multiplier `M` in (0, 1) or above, as TFLite stores it:
/// `M ≈ multiplier · 2^(shift − 31)`, `multiplier` in `[2³⁰, 2³¹)`, `shift` in `[-31, 30]`.
/// `#[repr(C)]`, bytemuck Pod/Zeroable, so a model file in flash can be borrowed as
/// `&[Requant]` in place.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Requant {
    /// The mantissa, a Q0.31 number in `[0.5, 1)`.
    pub multiplier: i32,
    /// The power of two: positive shifts left before the multiplication, negative ones
    /// divide (rounding) after it.
    pub shift: i32,
}

// Safety: `repr(C)` with two `i32` fields: no padding, and every bit pattern is a value.
// (Written by hand rather than derived, to keep bytemuck's proc-macro out of the build.)
unsafe impl bytemuck::Zeroable for Requant {}
// Safety: as for `Zeroable`; `Requant` is also `Copy` and `'static`.
unsafe impl bytemuck::Pod for Requant {}

/// The shifts TFLite's `MultiplyByQuantizedMultiplier` accepts (its `TFLITE_DCHECK`).
const SHIFTS: core::ops::RangeInclusive<i32> = -31..=30;

impl Requant {
    /// TFLite's `QuantizeMultiplier(double)`: `real = q · 2^shift` with `q` in `[0.5, 1)`
    /// (`frexp`), `multiplier = round(q · 2³¹)` (half away from zero), and a `multiplier`
    /// that rounds up to `2³¹` becomes `2³⁰` with `shift + 1`.
    ///
    /// `None` unless `real` is finite and `> 0` and the shift lands in `[-31, 30]`: below
    /// about `2⁻³²` TFLite would flush the multiplier to zero, from `2³⁰` on its shift
    /// overflows.
    pub fn from_real(real: f64) -> Option<Self> {
        let (multiplier, shift) = quantize_multiplier(real)?;
        SHIFTS
            .contains(&shift)
            .then_some(Self { multiplier, shift })
    }

    /// TFLite's `MultiplyByQuantizedMultiplier(acc, multiplier, shift)` as built with
    /// `TFLITE_SINGLE_ROUNDING` (TensorFlow 2.21's reference kernels), bit for bit:
    /// `(acc · multiplier + 2^(total_shift − 1)) >> total_shift` in i64, with
    /// `total_shift = 31 − shift` in `[1, 62]`: one rounding, half up (a tie goes towards
    /// +∞, for either sign).
    ///
    /// The i64 sum cannot overflow (`|acc · multiplier| ≤ 2⁶²`). A result outside i32
    /// (only for shifts far above any real layer's, where TFLite `DCHECK`s) keeps its low
    /// 32 bits, as TFLite's `static_cast<int32_t>` does. Defined for every pair, valid or
    /// not (no panic): a shift outside `[-31, 30]` is clamped into it.
    #[inline]
    pub fn apply(self, acc: i32) -> i32 {
        let shift = self.shift.clamp(*SHIFTS.start(), *SHIFTS.end());
        let total_shift = (31 - shift) as u32;
        let round = 1i64 << (total_shift - 1);
        ((i64::from(acc) * i64::from(self.multiplier) + round) >> total_shift) as i32
    }

    /// Whether a decoded pair is one [`Requant::from_real`] can produce: `multiplier` in
    /// `[2³⁰, 2³¹)` and `shift` in `[-31, 30]`.
    pub fn is_valid(self) -> bool {
        self.multiplier >= 1 << 30 && SHIFTS.contains(&self.shift)
    }
}

/// 2³¹ as an f64.
const TWO_POW_31: f64 = 2_147_483_648.0;

/// TFLite's `QuantizeMultiplier(double)` for a finite `real > 0`, any shift:
/// `real = q · 2^shift` with `q` in `[0.5, 1)` (`frexp`), `multiplier = round(q · 2³¹)`
/// (half away from zero, `TfLiteRound`), and a `multiplier` that rounds up to `2³¹`
/// becomes `2³⁰` with `shift + 1`. `None` for a non-finite or non-positive `real`, and
/// where TFLite flushes to zero (shift below −31).
fn quantize_multiplier(real: f64) -> Option<(i32, i32)> {
    if !(real.is_finite() && real > 0.0) {
        return None;
    }
    let (q, mut shift) = libm::frexp(real);
    let mut q_fixed = libm::round(q * TWO_POW_31) as i64;
    if q_fixed == 1 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    (shift >= -31).then_some((q_fixed as i32, shift))
}

/// Zero points and output clamp of one int8 fully connected layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseI8Params {
    /// The input's zero point (TFLite's `input_offset` is its negation).
    pub input_zero_point: i32,
    /// The output's zero point, added after requantisation.
    pub output_zero_point: i32,
    /// The smallest output (the fused activation's lower bound, e.g. the zero point for ReLU).
    pub min: i8,
    /// The largest output.
    pub max: i8,
}

/// The precomputed parameters of TFLite's int8 softmax (beta = 1), so that no float
/// runs per call: input differences from the maximum are scaled by
/// `input_multiplier · 2^input_left_shift` into Q5.26, and those below `diff_min` give 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftmaxI8Params {
    /// Q0.31 mantissa of `input_scale · 2²⁶`.
    pub input_multiplier: i32,
    /// Its power of two, at least 1.
    pub input_left_shift: i32,
    /// The most negative input difference (in input steps) that still counts; ≤ 0.
    pub diff_min: i32,
}

/// Integer bits of the softmax's scaled differences (TFLite's `kScaledDiffIntegerBits`).
const SCALED_DIFF_INTEGER_BITS: i32 = 5;

impl SoftmaxI8Params {
    /// TFLite's `PreprocessSoftmaxScaling(beta = 1, input_scale, 5)` and
    /// `diff_min = −CalculateInputRadius(5, left_shift)`: the real multiplier
    /// `min(input_scale · 2²⁶, 2³¹ − 1)` goes through `QuantizeMultiplierGreaterThanOne`,
    /// and `diff_min = −floor(31 · 2²⁶ / 2^left_shift)`.
    ///
    /// `None` unless `input_scale` is finite and the real multiplier is above 1 (TFLite's
    /// check; i.e. `input_scale > 2⁻²⁶`).
    pub fn from_input_scale(input_scale: f32) -> Option<Self> {
        if !input_scale.is_finite() {
            return None;
        }
        let cap = TWO_POW_31 - 1.0;
        let real =
            (f64::from(input_scale) * f64::from(1u32 << (31 - SCALED_DIFF_INTEGER_BITS))).min(cap);
        if real <= 1.0 {
            return None;
        }
        // Above 1, so the shift is at least 1 (TFLite checks it); at most 31 under the cap.
        let (multiplier, shift) = quantize_multiplier(real)?;
        Some(Self {
            input_multiplier: multiplier,
            input_left_shift: shift,
            diff_min: -input_radius(shift),
        })
    }

    /// Whether decoded parameters are ones [`SoftmaxI8Params::from_input_scale`] can
    /// produce (decoder check): `input_multiplier` in `[2³⁰, 2³¹)`, `input_left_shift` in
    /// `[1, 31]`, and `diff_min` the radius that shift gives.
    pub fn is_valid(self) -> bool {
        self.input_multiplier >= 1 << 30
            && (1..=31).contains(&self.input_left_shift)
            && self.diff_min == -input_radius(self.input_left_shift)
    }
}

/// TFLite's `CalculateInputRadius(5, left_shift)`: `floor(31 · 2²⁶ / 2^left_shift)`, the
/// largest input difference whose scaled value stays within Q5.26 (computed exactly in
/// integers here, which is what TFLite's double arithmetic gives: every term is exact).
fn input_radius(left_shift: i32) -> i32 {
    let max_scaled = ((1i64 << SCALED_DIFF_INTEGER_BITS) - 1) << (31 - SCALED_DIFF_INTEGER_BITS);
    (max_scaled >> left_shift.clamp(0, 62)) as i32
}

// ---------------------------------------------------------------- gemmlowp primitives

/// gemmlowp's `SaturatingRoundingDoublingHighMul`: `a · b / 2³¹` rounded half up
/// (`(a·b + 2³⁰) / 2³¹` for a non-negative product, `(a·b + 1 − 2³⁰) / 2³¹` truncated
/// for a negative one: both round a tie towards +∞), and `i32::MAX` for the one product
/// that does not fit, `i32::MIN · i32::MIN`.
#[inline]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp's `RoundingDivideByPOT`: `x / 2^exponent` rounded to nearest, ties away from
/// zero.
///
/// # Panics
/// If `exponent > 31` (gemmlowp asserts the same).
#[inline]
pub fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    assert!(exponent <= 31, "rounding_divide_by_pot: exponent above 31");
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// gemmlowp's `SaturatingRoundingMultiplyByPOT<exponent>`: `x · 2^exponent`, saturated
/// for `exponent > 0`, [`rounding_divide_by_pot`] for `exponent < 0`.
#[inline]
fn saturating_rounding_multiply_by_pot(x: i32, exponent: i32) -> i32 {
    if exponent >= 0 {
        let threshold = (1i32 << (31 - exponent)).wrapping_sub(1);
        if x > threshold {
            i32::MAX
        } else if x < -threshold {
            i32::MIN
        } else {
            x << exponent
        }
    } else {
        rounding_divide_by_pot(x, exponent.unsigned_abs())
    }
}

/// gemmlowp's `Rescale`: a fixed-point raw value with `from` integer bits to one with
/// `to` integer bits.
#[inline]
fn rescale(x: i32, from: i32, to: i32) -> i32 {
    saturating_rounding_multiply_by_pot(x, from - to)
}

/// gemmlowp's `RoundingHalfSum` on int32: `(a + b) / 2`, a tie rounded away from zero.
#[inline]
fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = i64::from(a) + i64::from(b);
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// The fixed-point product: raw values multiply by [`saturating_rounding_doubling_high_mul`]
/// and their integer bits add up.
#[inline]
fn mul(a: i32, b: i32) -> i32 {
    saturating_rounding_doubling_high_mul(a, b)
}

/// 1.0 in Q0.31, which cannot hold it: the largest raw value (gemmlowp's `One()`).
const Q0_ONE: i32 = i32::MAX;

/// gemmlowp's `exp_on_interval_between_negative_one_quarter_and_0_excl`: `e^a` for `a`
/// in `[-1/4, 0)`, both Q0.31, by the Taylor expansion to the 4th order around −1/8.
fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    const EXP_MINUS_ONE_EIGHTH: i32 = 1_895_147_668; // e^(-1/8)
    const ONE_THIRD: i32 = 715_827_883;
    let x = a.wrapping_add(1 << 28); // a + 1/8
    let x2 = mul(x, x);
    let x3 = mul(x2, x);
    let x4 = mul(x2, x2);
    let x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2);
    let poly = saturating_rounding_multiply_by_pot(
        mul(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2),
        -1,
    );
    EXP_MINUS_ONE_EIGHTH.wrapping_add(mul(EXP_MINUS_ONE_EIGHTH, x.wrapping_add(poly)))
}

/// gemmlowp's `exp_on_negative_values` for a Q5.26 input `a ≤ 0` (the softmax's scaled
/// difference), into Q0.31: `e^a = e^(a mod 1/4 − 1/4) · Π e^(−2^k)` over the bits `k`
/// (from −2 to 4) of the remainder, each factor a Q0.31 constant. `e^0` is `Q0_ONE`.
pub fn exp_on_negative_values(a: i32) -> i32 {
    exp_on_negative_values_q(a, SCALED_DIFF_INTEGER_BITS)
}

/// gemmlowp's `one_over_one_plus_x_for_x_in_0_1`: `1 / (1 + a)` for `a` in `[0, 1)`,
/// Q0.31 in and out, by three Newton–Raphson steps on `d = (1 + a) / 2` from the
/// estimate `48/17 − 32/17 · d`, in Q2.29.
pub fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    const Q2_ONE: i32 = 1 << 29;
    const FORTY_EIGHT_OVER_SEVENTEEN: i32 = 1_515_870_810;
    const MINUS_THIRTY_TWO_OVER_SEVENTEEN: i32 = -1_010_580_540;
    let half_denominator = rounding_half_sum(a, Q0_ONE);
    let mut x = FORTY_EIGHT_OVER_SEVENTEEN
        .wrapping_add(mul(half_denominator, MINUS_THIRTY_TWO_OVER_SEVENTEEN));
    for _ in 0..3 {
        let half_denominator_times_x = mul(half_denominator, x);
        let one_minus = Q2_ONE.wrapping_sub(half_denominator_times_x);
        // Q2 · Q2 is Q4, rescaled to Q2.
        x = x.wrapping_add(rescale(mul(x, one_minus), 4, 2));
    }
    // x / 2 exactly as a Q1 number, then to Q0.
    rescale(x, 1, 0)
}

/// TFLite's `GetReciprocal(x, x_integer_digits)`: for `x > 0` with `x_integer_digits`
/// integer bits, `(scale, bits_over_unit)` with `scale` the Q0.31 value of
/// `2^bits_over_unit / x_real`: `x` is normalised into `[1, 2)` by its leading zeros and
/// its reciprocal taken by [`one_over_one_plus_x_for_x_in_0_1`].
pub fn get_reciprocal(x: i32, x_integer_digits: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros();
    let bits_over_unit = x_integer_digits - headroom_plus_one as i32;
    let shifted_sum_minus_one =
        ((x as u32).wrapping_shl(headroom_plus_one)).wrapping_sub(1 << 31) as i32;
    (
        one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one),
        bits_over_unit,
    )
}

// ------------------------------------------- the logistic's and tanh's (TFLite Micro)

/// gemmlowp's `exp_on_negative_values` for an input `a ≤ 0` with `integer_bits` integer
/// bits (5: the softmax's [`exp_on_negative_values`]; 4 or 5: TFLite Micro's logistic, and
/// its tanh after `ExactMulByPot<1>`), into Q0.31: the factors `e^(−2^k)` run over the
/// bits `k` from −2 up to `integer_bits − 1` only.
pub(crate) fn exp_on_negative_values_q(a: i32, integer_bits: i32) -> i32 {
    // e^(−2^k) in Q0.31, for k = −2, …, 4.
    const FACTORS: [(i32, i32); 7] = [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ];
    let fractional_bits = 31 - integer_bits;
    let one_quarter = 1 << (fractional_bits - 2);
    if a == 0 {
        return Q0_ONE;
    }
    let a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)).wrapping_sub(one_quarter);
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(rescale(
        a_mod_quarter_minus_one_quarter,
        integer_bits,
        0,
    ));
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
    for (k, factor) in FACTORS {
        if k < integer_bits && remainder & (1 << (fractional_bits + k)) != 0 {
            result = mul(result, factor);
        }
    }
    result
}

/// gemmlowp's `one_minus_x_over_one_plus_x_for_x_in_0_1`: `(1 − a) / (1 + a)` for `a` in
/// `[0, 1)`, Q0.31 in and out, by the same three Newton–Raphson steps on
/// `d = (1 + a) / 2` as [`one_over_one_plus_x_for_x_in_0_1`], then `x − 1`, to Q0.
pub(crate) fn one_minus_x_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    const Q2_ONE: i32 = 1 << 29;
    const FORTY_EIGHT_OVER_SEVENTEEN: i32 = 1_515_870_810;
    const MINUS_THIRTY_TWO_OVER_SEVENTEEN: i32 = -1_010_580_540;
    let half_denominator = rounding_half_sum(a, Q0_ONE);
    let mut x = FORTY_EIGHT_OVER_SEVENTEEN
        .wrapping_add(mul(half_denominator, MINUS_THIRTY_TWO_OVER_SEVENTEEN));
    for _ in 0..3 {
        let one_minus = Q2_ONE.wrapping_sub(mul(half_denominator, x));
        x = x.wrapping_add(rescale(mul(x, one_minus), 4, 2));
    }
    rescale(x.wrapping_sub(Q2_ONE), 2, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_real_by_hand() {
        // 0.5 = 0.5 · 2⁰: multiplier 2³⁰, shift 0.
        assert_eq!(
            Requant::from_real(0.5),
            Some(Requant {
                multiplier: 1 << 30,
                shift: 0
            })
        );
        // 1 = 0.5 · 2¹.
        assert_eq!(
            Requant::from_real(1.0),
            Some(Requant {
                multiplier: 1 << 30,
                shift: 1
            })
        );
        // 0.1 = 0.8 · 2⁻³; 0.8 · 2³¹ = 1717986918.4.
        assert_eq!(
            Requant::from_real(0.1),
            Some(Requant {
                multiplier: 1_717_986_918,
                shift: -3
            })
        );
        // Just below 1: q · 2³¹ rounds to 2³¹, which becomes 2³⁰ with one more shift.
        assert_eq!(
            Requant::from_real(1.0 - 1e-12),
            Some(Requant {
                multiplier: 1 << 30,
                shift: 1
            })
        );
        // The ends of the shift range.
        assert_eq!(
            Requant::from_real(0.5f64.powi(32)).map(|r| r.shift),
            Some(-31)
        );
        assert_eq!(Requant::from_real(0.5f64.powi(33)), None);
        assert_eq!(Requant::from_real(2f64.powi(29)).map(|r| r.shift), Some(30));
        assert_eq!(Requant::from_real(2f64.powi(30)), None);
        for bad in [0.0, -0.5, f64::NAN, f64::INFINITY, f64::MIN_POSITIVE / 4.0] {
            assert_eq!(Requant::from_real(bad), None, "{bad}");
        }
    }

    #[test]
    fn apply_by_hand() {
        let half = Requant::from_real(0.5).unwrap();
        // One rounding, half up: 1.5 → 2, −1.5 → −1, 0.5 → 1, −0.5 → 0.
        assert_eq!(half.apply(3), 2);
        assert_eq!(half.apply(-3), -1);
        assert_eq!(half.apply(1), 1);
        assert_eq!(half.apply(-1), 0);
        let quarter = Requant::from_real(0.25).unwrap();
        // 5 / 4 = 1.25 → 1 (two roundings, 2.5 → 3 then 1.5 → 2, gave 2).
        assert_eq!(quarter.apply(5), 1);
        // −5 / 4 = −1.25 → −1; −6 / 4 = −1.5 → −1 (up); 6 / 4 = 1.5 → 2.
        assert_eq!(quarter.apply(-5), -1);
        assert_eq!(quarter.apply(-6), -1);
        assert_eq!(quarter.apply(6), 2);
        // 0.1 = 1717986918 · 2⁻³⁴: 10 · 0.1 is just below 1 and rounds to 1; 15 · 0.1
        // is just below 1.5 and rounds to 1.
        let tenth = Requant::from_real(0.1).unwrap();
        assert_eq!(tenth.apply(10), 1);
        assert_eq!(tenth.apply(15), 1);
        assert_eq!(tenth.apply(-15), -1);
        assert_eq!(tenth.apply(25), 2);
        // 1.0 is the identity, everywhere.
        let one = Requant::from_real(1.0).unwrap();
        for acc in [0, 1, -1, 12345, i32::MAX, i32::MIN] {
            assert_eq!(one.apply(acc), acc);
        }
        // The extreme shifts: 2⁻³² · multiplier 2³⁰ at shift −31 (total shift 62).
        let tiny = Requant {
            multiplier: 1 << 30,
            shift: -31,
        };
        assert_eq!(tiny.apply(i32::MAX), 0);
        assert_eq!(tiny.apply(i32::MIN), 0);
        // Shift 30 (total shift 1): 2³⁰ · 2⁻¹ · acc wraps to its low 32 bits.
        let huge = Requant {
            multiplier: 1 << 30,
            shift: 30,
        };
        assert_eq!(huge.apply(1), 1 << 29);
        // 4 · 2²⁹ = 2³¹ does not fit: its low 32 bits are i32::MIN.
        assert_eq!(huge.apply(4), i32::MIN);
    }

    /// TFLite's single-rounding formula from its definition, in i128: `acc · m / 2^(31 −
    /// shift)` rounded half up (floor of the value plus one half), low 32 bits kept.
    fn apply_reference(r: Requant, acc: i32) -> i32 {
        let shift = r.shift.clamp(-31, 30);
        let denominator = 1i128 << (31 - shift);
        let numerator = 2 * i128::from(acc) * i128::from(r.multiplier) + denominator;
        numerator.div_euclid(2 * denominator) as i32
    }

    #[test]
    fn apply_matches_an_i128_reference() {
        let mut state = 0x9e37_79b9u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        let edges = [
            0,
            1,
            -1,
            2,
            -2,
            i32::MAX,
            i32::MIN,
            i32::MAX - 1,
            i32::MIN + 1,
        ];
        for shift in -33..=32 {
            for multiplier in [1 << 30, (1 << 30) + 1, 1_717_986_918, i32::MAX, 0, 7] {
                let r = Requant { multiplier, shift };
                for acc in edges.into_iter().chain((0..200).map(|_| next() as i32)) {
                    assert_eq!(r.apply(acc), apply_reference(r, acc), "{r:?} {acc}");
                    // Small accumulators, where the ties are.
                    let small = acc >> 16;
                    assert_eq!(r.apply(small), apply_reference(r, small), "{r:?} {small}");
                }
            }
        }
    }

    #[test]
    fn primitives_by_hand() {
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MAX),
            -i32::MAX
        );
        assert_eq!(
            saturating_rounding_doubling_high_mul(1 << 30, 1 << 30),
            1 << 29
        );
        assert_eq!(rounding_divide_by_pot(3, 1), 2);
        assert_eq!(rounding_divide_by_pot(-3, 1), -2);
        assert_eq!(rounding_divide_by_pot(-1, 1), -1);
        assert_eq!(rounding_divide_by_pot(5, 2), 1);
        assert_eq!(rounding_divide_by_pot(6, 2), 2);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
        assert_eq!(rounding_divide_by_pot(i32::MAX, 31), 1);
        assert_eq!(rounding_divide_by_pot(7, 0), 7);
    }

    #[test]
    fn is_valid_matches_from_real() {
        assert!(!Requant::default().is_valid());
        assert!(
            !Requant {
                multiplier: (1 << 30) - 1,
                shift: 0
            }
            .is_valid()
        );
        assert!(
            !Requant {
                multiplier: 1 << 30,
                shift: 31
            }
            .is_valid()
        );
        assert!(
            !Requant {
                multiplier: 1 << 30,
                shift: -32
            }
            .is_valid()
        );
        assert!(
            Requant {
                multiplier: i32::MAX,
                shift: -31
            }
            .is_valid()
        );
        for k in -40..40 {
            for m in [0.5, 0.7, 0.999_999_999] {
                if let Some(r) = Requant::from_real(m * 2f64.powi(k)) {
                    assert!(r.is_valid(), "{r:?}");
                }
            }
        }
    }

    #[test]
    fn exp_and_reciprocal_against_f64() {
        // Q5.26 inputs over [-16, 0]. gemmlowp's exp is a 4th-order Taylor polynomial on
        // intervals of 1/8 around -1/8: its truncation error, e^(-1/8) (1/8)^5 / 5!, is 2.2e-7.
        let mut worst = 0.0f64;
        for k in 0..=(16 * 64) {
            let a = -(k << 20); // −k / 64
            let got = f64::from(exp_on_negative_values(a)) / TWO_POW_31;
            let want = libm::exp(f64::from(a) / f64::from(1 << 26));
            worst = worst.max((got - want).abs());
        }
        assert!(worst < 2.5e-7, "exp is {worst} off");
        for k in 0..1024 {
            let a = k << 21; // k / 1024
            let got = f64::from(one_over_one_plus_x_for_x_in_0_1(a)) / TWO_POW_31;
            let want = 1.0 / (1.0 + f64::from(a) / TWO_POW_31);
            assert!((got - want).abs() < 1e-8, "1/(1+{a}): {got} vs {want}");
        }
    }

    #[test]
    fn logistic_and_tanh_primitives_against_the_softmaxs_and_f64() {
        // With 5 integer bits the general exp is the softmax's, bit for bit.
        for k in 0..(32 * 256) {
            let a = -(k << 18) - (k & 7); // −k / 256, plus low bits
            assert_eq!(
                exp_on_negative_values_q(a, 5),
                exp_on_negative_values(a),
                "{a}"
            );
        }
        // Q4.27 inputs over [-15, 0]: the same polynomial, so the same error bound.
        for k in 0..=(15 * 64) {
            let a = -(k << 21); // −k / 64
            let got = f64::from(exp_on_negative_values_q(a, 4)) / TWO_POW_31;
            let want = libm::exp(f64::from(a) / f64::from(1 << 27));
            assert!((got - want).abs() < 2.5e-7, "e^{a}: {got} vs {want}");
        }
        for k in 0..1024 {
            let a = k << 21; // k / 1024
            let got = f64::from(one_minus_x_over_one_plus_x_for_x_in_0_1(a)) / TWO_POW_31;
            let x = f64::from(a) / TWO_POW_31;
            let want = (1.0 - x) / (1.0 + x);
            assert!(
                (got - want).abs() < 1e-8,
                "(1-x)/(1+x) at {x}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn softmax_params_by_hand() {
        // 1/16: 2²² is 0.5 · 2²³, multiplier 2³⁰, left shift 23; radius 31 · 2²⁶ / 2²³ = 248.
        let p = SoftmaxI8Params::from_input_scale(1.0 / 16.0).unwrap();
        assert_eq!(
            p,
            SoftmaxI8Params {
                input_multiplier: 1 << 30,
                input_left_shift: 23,
                diff_min: -248
            }
        );
        // A huge scale is capped at 2³¹ − 1: shift 31, radius floor(31/32) = 0.
        let p = SoftmaxI8Params::from_input_scale(1e6).unwrap();
        assert_eq!(
            p,
            SoftmaxI8Params {
                input_multiplier: i32::MAX,
                input_left_shift: 31,
                diff_min: 0
            }
        );
        for bad in [0.0, -1.0, f32::NAN, f32::INFINITY, 1e-9] {
            assert_eq!(SoftmaxI8Params::from_input_scale(bad), None, "{bad}");
        }
    }
}
