//! The optimisers: Adam (Kingma and Ba 2015) in the form Keras implements, and plain SGD.
//! Each moves a parameter from its gradient alone, so any part of the parameters can be
//! updated on its own and in any order.

use serde::{Deserialize, Serialize};

/// Adam's hyper-parameters. [`Default`] is Keras': lr 1e-3, β1 0.9, β2 0.999, ε 1e-7.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the first moment.
    pub beta1: f32,
    /// Decay of the second moment.
    pub beta2: f32,
    /// Added to `sqrt(v)` (Keras' "epsilon hat": after bias correction is folded into lr).
    pub epsilon: f32,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
        }
    }
}

/// How learned parameters move.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Optimizer {
    /// Adam: two moments per learned parameter.
    Adam(AdamConfig),
    /// Plain gradient descent, `p ← p − lr · g`: no moments, a third of Adam's state.
    Sgd {
        /// Learning rate.
        lr: f32,
    },
}

/// The scalars of Adam's step number `t` (from 1), shared by every parameter it moves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    /// `lr · sqrt(1 − β2^t) / (1 − β1^t)`.
    pub alpha: f32,
    /// `1 − β1`.
    pub one_minus_beta1: f32,
    /// `1 − β2`.
    pub one_minus_beta2: f32,
    /// `ε`.
    pub epsilon: f32,
}

impl AdamStep {
    /// Step `t`'s scalars. Keras' form, bias correction folded into the step size:
    ///
    /// ```text
    /// α ← lr · sqrt(1 − β2^t) / (1 − β1^t)
    /// ```
    ///
    /// The powers are taken in f64 by [`powi`] and `α` rounded once to f32: the same α as
    /// Keras to f32 precision, and the same bits on every target (f64 is exact IEEE
    /// arithmetic in hardware or in software, and `libm::sqrt` is correctly rounded).
    pub fn new(config: AdamConfig, t: u32) -> Self {
        let t = i32::try_from(t).unwrap_or(i32::MAX);
        let alpha = (f64::from(config.lr) * libm::sqrt(1.0 - powi(f64::from(config.beta2), t))
            / (1.0 - powi(f64::from(config.beta1), t))) as f32;
        Self {
            alpha,
            one_minus_beta1: 1.0 - config.beta1,
            one_minus_beta2: 1.0 - config.beta2,
            epsilon: config.epsilon,
        }
    }

    /// Moves parameters `p` by gradients `g`, updating their moments `m` and `v`; all four
    /// slices are the same part of the parameters:
    ///
    /// ```text
    /// m ← m + (g − m)(1 − β1)
    /// v ← v + (g² − v)(1 − β2)
    /// p ← p − α m / (sqrt(v) + ε)
    /// ```
    ///
    /// with tiny values flushed to zero in software, the same on every target: `g`, `m` and
    /// `v` below 1e-30 in magnitude, and `g²` when `|g| < 1e-17`. Otherwise they would
    /// sink into subnormals, which x86 (and so the page's wasm) computes a hundred times
    /// slower, while a Cortex-M4's FPU does not; flushing in hardware would break the bit
    /// identity. It moves no parameter by a visible amount: such a `v` is far below `ε²`,
    /// and such an `m` moves `p` by `α · 1e-30 / ε`.
    ///
    /// # Panics
    /// If the four slices differ in length (zipping them would silently skip the rest).
    pub fn update(&self, p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        self.run::<true>(p, m, v, g, libm::sqrtf);
    }

    /// The update without the flushes, with the square root given: what a host that
    /// flushes subnormals in hardware runs (the trainer's epochs), where `f32::sqrt` lets
    /// the loop vectorise. Any correctly rounded square root gives the same bits.
    ///
    /// # Panics
    /// As [`update`](Self::update).
    #[inline]
    pub fn update_with(
        &self,
        p: &mut [f32],
        m: &mut [f32],
        v: &mut [f32],
        g: &[f32],
        sqrt: impl Fn(f32) -> f32,
    ) {
        self.run::<false>(p, m, v, g, sqrt);
    }

    #[inline]
    fn run<const FLUSH: bool>(
        &self,
        p: &mut [f32],
        m: &mut [f32],
        v: &mut [f32],
        g: &[f32],
        sqrt: impl Fn(f32) -> f32,
    ) {
        assert!(
            p.len() == m.len() && m.len() == v.len() && v.len() == g.len(),
            "Adam: parameters, moments and gradients differ in length"
        );
        const SQUARE_FLUSH: f32 = 1e-17;
        const MOMENT_FLUSH: f32 = 1e-30;
        let (b1, b2) = (self.one_minus_beta1, self.one_minus_beta2);
        for (((p, m), v), &g) in p.iter_mut().zip(m).zip(v).zip(g) {
            let g = if FLUSH && g.abs() < MOMENT_FLUSH {
                0.0
            } else {
                g
            };
            let g2 = if FLUSH && g.abs() < SQUARE_FLUSH {
                0.0
            } else {
                g * g
            };
            *m += (g - *m) * b1;
            *v += (g2 - *v) * b2;
            if FLUSH {
                if m.abs() < MOMENT_FLUSH {
                    *m = 0.0;
                }
                if *v < MOMENT_FLUSH {
                    *v = 0.0;
                }
            }
            *p -= self.alpha * *m / (sqrt(*v) + self.epsilon);
        }
    }
}

/// `p ← p − lr · g`.
///
/// # Panics
/// If `p` and `g` differ in length.
pub fn sgd_update(lr: f32, p: &mut [f32], g: &[f32]) {
    assert_eq!(p.len(), g.len(), "SGD: parameters and gradients differ");
    for (p, &g) in p.iter_mut().zip(g) {
        *p -= lr * g;
    }
}

/// `a^b` by binary powering, the algorithm of compiler-rt's `__powidf2` (what `f64::powi`
/// calls): the same bits as `powi` on a host, and on targets without std.
pub fn powi(mut a: f64, b: i32) -> f64 {
    let reciprocal = b < 0;
    let mut b = b.unsigned_abs();
    let mut r = 1.0;
    loop {
        if b & 1 != 0 {
            r *= a;
        }
        b /= 2;
        if b == 0 {
            break;
        }
        a *= a;
    }
    if reciprocal { 1.0 / r } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_adam_steps_match_hand_computed_values() {
        let c = AdamConfig::default();
        let (mut p, mut m, mut v) = ([0.5f32, -0.5], [0.0f32; 2], [0.0f32; 2]);
        let g = [0.1f32, -0.2];
        AdamStep::new(c, 1).update(&mut p, &mut m, &mut v, &g);
        // Step 1: m = 0.1 g, v = 0.001 g², α = 1e-3 · sqrt(0.001) / 0.1, so each parameter
        // moves by α · 0.1 g / (sqrt(0.001) |g| + 1e-7) ≈ 1e-3 against its gradient.
        assert!((p[0] - (0.5 - 1e-3)).abs() < 1e-6, "{p:?}");
        assert!((p[1] - (-0.5 + 1e-3)).abs() < 1e-6, "{p:?}");
        AdamStep::new(c, 2).update(&mut p, &mut m, &mut v, &g);
        assert!((p[0] - (0.5 - 2e-3)).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn powi_is_exact_for_small_powers() {
        assert_eq!(powi(2.0, 10), 1024.0);
        assert_eq!(powi(0.5, 3), 0.125);
        assert_eq!(powi(2.0, -2), 0.25);
        assert_eq!(powi(7.0, 0), 1.0);
    }

    #[test]
    fn sgd_moves_against_the_gradient() {
        let mut p = [1.0f32, 2.0];
        sgd_update(0.5, &mut p, &[2.0, -2.0]);
        assert_eq!(p, [0.0, 3.0]);
    }
}
