//! Adam (Kingma and Ba 2015) in the form Keras implements, over flat buffers.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::flat::Flat;

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

/// The optimizer's state: both moments in the parameters' layout, and the step count.
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    /// Hyper-parameters.
    pub config: AdamConfig,
    /// First moment, laid out as the parameters.
    pub m: Flat,
    /// Second moment, laid out as the parameters.
    pub v: Flat,
    /// Steps taken so far.
    pub t: u64,
}

/// Elements per parallel task: big enough that scheduling costs nothing next to the work,
/// small enough that two threads share 813k parameters evenly.
const CHUNK: usize = 16 * 1024;

impl Adam {
    /// Zero moments for parameters of `params`' shape.
    pub fn new(config: AdamConfig, params: &Flat) -> Self {
        Self {
            config,
            m: Flat::zeros(&params.sizes),
            v: Flat::zeros(&params.sizes),
            t: 0,
        }
    }

    /// Counts one more step and returns its scalars; [`AdamStep::update`] then moves any
    /// part of the parameters. Keras' form (bias correction folded into the step size):
    ///
    /// ```text
    /// t ← t + 1
    /// α ← lr · sqrt(1 − β2^t) / (1 − β1^t)
    /// m ← m + (g − m)(1 − β1)
    /// v ← v + (g² − v)(1 − β2)
    /// p ← p − α m / (sqrt(v) + ε)
    /// ```
    pub fn next_step(&mut self) -> AdamStep {
        self.t += 1;
        let c = self.config;
        // Powers in f64, then rounded once: the same α as Keras to f32 precision.
        let t = i32::try_from(self.t).unwrap_or(i32::MAX);
        let alpha = (f64::from(c.lr) * (1.0 - f64::from(c.beta2).powi(t)).sqrt()
            / (1.0 - f64::from(c.beta1).powi(t))) as f32;
        AdamStep {
            alpha,
            one_minus_beta1: 1.0 - c.beta1,
            one_minus_beta2: 1.0 - c.beta2,
            epsilon: c.epsilon,
        }
    }

    /// One step over every parameter. Each element is independent, so splitting the loop
    /// over threads changes nothing.
    pub fn step(&mut self, params: &mut Flat, grads: &Flat) {
        let s = self.next_step();
        params
            .data
            .par_chunks_mut(CHUNK)
            .zip(self.m.data.par_chunks_mut(CHUNK))
            .zip(self.v.data.par_chunks_mut(CHUNK))
            .zip(grads.data.par_chunks(CHUNK))
            .for_each(|(((p, m), v), g)| s.update(p, m, v, g));
    }
}

/// The scalars of one Adam step, shared by every part of the parameters it moves.
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
    /// Moves parameters `p` by gradients `g`, updating their moments `m` and `v`; all four
    /// slices are the same part of the flat layout. Memory-bound: 16 bytes read and 12
    /// written per parameter, so callers run it on data still in cache where they can.
    ///
    /// # Panics
    /// If the four slices differ in length (zipping them would silently skip the rest).
    pub fn update(&self, p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        assert!(
            p.len() == m.len() && m.len() == v.len() && v.len() == g.len(),
            "Adam: parameters, moments and gradients differ in length"
        );
        let (b1, b2) = (self.one_minus_beta1, self.one_minus_beta2);
        // Zipped iterators, not indices: no bounds checks, so the loop vectorises.
        for (((p, m), v), &g) in p.iter_mut().zip(m).zip(v).zip(g) {
            *m += (g - *m) * b1;
            *v += (g * g - *v) * b2;
            *p -= self.alpha * *m / (v.sqrt() + self.epsilon);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_steps_match_hand_computed_values() {
        // One hidden unit, one input, one output: four parameters.
        let sizes = vec![1, 1, 1];
        let mut p = Flat {
            sizes: sizes.clone(),
            data: vec![1.0, -2.0, 0.5, 0.0],
        };
        let g = Flat {
            sizes,
            data: vec![0.1, -0.2, 0.0, 4.0],
        };
        let mut adam = Adam::new(AdamConfig::default(), &p);
        adam.step(&mut p, &g);
        // Step 1: m = 0.1 g, v = 0.001 g², α = 1e-3 · sqrt(0.001) / 0.1,
        // so p moves by α · 0.1g / (sqrt(0.001)|g| + 1e-7) ≈ 1e-3 · sign(g).
        // For g = 0.1: 1e-3·0.0316228/0.1 · 0.01 / (0.00316228 + 1e-7) = 9.99968e-4.
        let expected1 = [
            1.0 - 9.999_684e-4,
            -2.0 + 9.999_842e-4,
            0.5,
            0.0 - 9.999_992e-4,
        ];
        for (a, e) in p.data.iter().zip(expected1) {
            assert!((a - e).abs() < 2e-7, "{a} vs {e}");
        }
        // Step 2 with the same gradient: m = 0.19 g, v = 0.001999 g²,
        // α = 1e-3 · sqrt(1 − 0.998001) / (1 − 0.81) = 1e-3 · 0.0447102 / 0.19.
        // For g = 0.1: α · 0.019 / (sqrt(0.001999)·0.1 + 1e-7) = 9.99978e-4.
        adam.step(&mut p, &g);
        let e0 = expected1[0] - 9.999_78e-4;
        assert!((p.data[0] - e0).abs() < 2e-7, "{} vs {e0}", p.data[0]);
        assert_eq!(p.data[2], 0.5, "a zero gradient leaves the parameter alone");
        assert_eq!(adam.t, 2);
    }
}
