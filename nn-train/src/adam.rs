//! Adam (Kingma and Ba 2015) in the form Keras implements, over flat buffers.

pub use nn_core::train::{AdamConfig, AdamStep};
use rayon::prelude::*;

use crate::flat::Flat;

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
        AdamStep::new(self.config, u32::try_from(self.t).unwrap_or(u32::MAX))
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
            .for_each(|(((p, m), v), g)| s.update_with(p, m, v, g, f32::sqrt));
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

    #[test]
    fn nn_cores_step_size_is_the_f64_powi_formula_bit_for_bit() {
        // nn-core computes α without std; the trainer's runs must not move by a bit.
        let c = AdamConfig::default();
        for t in (1..20_000).chain([1 << 20, i32::MAX as u32]) {
            let by_std = (f64::from(c.lr) * (1.0 - f64::from(c.beta2).powi(t as i32)).sqrt()
                / (1.0 - f64::from(c.beta1).powi(t as i32))) as f32;
            assert_eq!(
                AdamStep::new(c, t).alpha.to_bits(),
                by_std.to_bits(),
                "t = {t}"
            );
        }
    }
}
