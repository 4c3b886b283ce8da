//! The parameter layout shared by the network, its gradients and Adam's moments: one flat
//! buffer cut into each layer's weights and bias, so the optimizer is one loop and export
//! writes one buffer.

use crate::rng::Rng;

/// A buffer in the parameter layout `[W1 (H1,IN) | b1 (H1) | W2 (H2,H1) | b2 (H2) | … |
/// Wn (OUT,Hn-1) | bn (OUT)]`, the layers of `sizes = [IN, H1, …, OUT]` in order.
///
/// The parameters, their gradients and Adam's two moments all use it, so the optimizer is
/// one loop over four equally laid-out slices and export writes the layers as they are.
/// The weight layout `(OUT, IN)` is nn-core's, so no transpose happens on export. At depth 2
/// this is `[W1 | b1 | W2 | b2]`, nn-core's [`Shape`](nn_core::format::Shape) layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Flat {
    /// The width of every layer boundary: inputs, each hidden layer, outputs.
    pub sizes: Vec<usize>,
    /// [`parameters`]`(&sizes)` values.
    pub data: Vec<f32>,
}

/// Values in the layout of `sizes`: `Σ (inputs + 1) · outputs` over the layers, or `None`
/// if that overflows `usize`.
pub fn parameters(sizes: &[usize]) -> Option<usize> {
    sizes.windows(2).try_fold(0usize, |sum, w| {
        w[0].checked_add(1)?.checked_mul(w[1])?.checked_add(sum)
    })
}

impl Flat {
    /// All zeros.
    ///
    /// # Panics
    /// If `sizes` has fewer than two entries or the parameter count overflows `usize` (the
    /// trainer's sizes are checked long before).
    pub fn zeros(sizes: &[usize]) -> Self {
        assert!(sizes.len() >= 2, "a network has inputs and outputs");
        let parameters = parameters(sizes).expect("a parameter count that fits usize");
        Self {
            sizes: sizes.to_vec(),
            data: vec![0.0; parameters],
        }
    }

    /// Glorot-uniform weights (`U(±sqrt(6 / (fan_in + fan_out)))`, as Keras' `Dense`) and
    /// zero biases, drawn W1, W2, … in row-major order.
    pub fn glorot(sizes: &[usize], rng: &mut Rng) -> Self {
        let mut p = Self::zeros(sizes);
        for ((w, _), pair) in p.layers_mut().into_iter().zip(sizes.windows(2)) {
            let limit = (6.0 / (pair[0] + pair[1]) as f32).sqrt();
            w.iter_mut().for_each(|w| *w = rng.uniform(-limit, limit));
        }
        p
    }

    /// Dense layers: `sizes.len() - 1`.
    pub fn depth(&self) -> usize {
        self.sizes.len().saturating_sub(1)
    }

    /// Each layer's `(weights (OUT, IN), bias (OUT))`, first layer first.
    ///
    /// # Panics
    /// If `data` is not [`parameters`]`(&sizes)` long (both fields are public).
    pub fn layers(&self) -> Vec<(&[f32], &[f32])> {
        self.check_len();
        let mut rest = &self.data[..];
        let mut out = Vec::with_capacity(self.depth());
        for w in self.sizes.windows(2) {
            let (weights, tail) = rest.split_at(w[0] * w[1]);
            let (bias, tail) = tail.split_at(w[1]);
            out.push((weights, bias));
            rest = tail;
        }
        out
    }

    /// Each layer's `(weights, bias)`, mutable.
    ///
    /// # Panics
    /// As [`Flat::layers`].
    pub fn layers_mut(&mut self) -> Vec<(&mut [f32], &mut [f32])> {
        self.check_len();
        let mut rest = &mut self.data[..];
        let mut out = Vec::with_capacity(self.sizes.len().saturating_sub(1));
        for w in self.sizes.windows(2) {
            let (weights, tail) = rest.split_at_mut(w[0] * w[1]);
            let (bias, tail) = tail.split_at_mut(w[1]);
            out.push((weights, bias));
            rest = tail;
        }
        out
    }

    fn check_len(&self) {
        assert_eq!(
            parameters(&self.sizes),
            Some(self.data.len()),
            "Flat holds parameters(sizes) values"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_cut_the_buffer_in_order() {
        let sizes = [3, 2, 2, 1];
        assert_eq!(parameters(&sizes), Some(3 * 2 + 2 + 2 * 2 + 2 + 2 + 1));
        let p = Flat {
            sizes: sizes.to_vec(),
            data: (0..17).map(|i| i as f32).collect(),
        };
        let l = p.layers();
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].0, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(l[0].1, [6.0, 7.0]);
        assert_eq!(l[1].0, [8.0, 9.0, 10.0, 11.0]);
        assert_eq!(l[2], (&[14.0, 15.0][..], &[16.0][..]));
        assert_eq!(parameters(&[usize::MAX, 2]), None);
    }

    #[test]
    fn the_depth_2_layout_is_nn_cores_shape() {
        let shape = nn_core::format::Shape {
            input: 5,
            hidden: 4,
            output: 3,
        };
        let sizes = <[usize; 3]>::from(shape);
        assert_eq!(parameters(&sizes), shape.parameters().ok());
        let p = Flat::glorot(&sizes, &mut Rng::new(1));
        let split = shape.split(&p.data).unwrap();
        let l = p.layers();
        assert_eq!([l[0].0, l[0].1, l[1].0, l[1].1], split);
    }
}
