//! The parameter layout shared by the network, its gradients and Adam's moments: one flat
//! buffer cut into named views, so the optimizer is one loop and export writes one buffer.

use nn_core::format::Shape;

use crate::rng::Rng;

/// A buffer in the parameter layout `[W1 (H,IN) | b1 (H) | W2 (OUT,H) | b2 (OUT)]`.
///
/// The parameters, their gradients and Adam's two moments all use it, so the optimizer is
/// one loop over four equally laid-out slices and export writes the views as they are.
/// The weight layout `(OUT, IN)` is nn-core's, so no transpose happens on export.
#[derive(Clone, Debug, PartialEq)]
pub struct Flat {
    /// The sizes the views are cut from.
    pub shape: Shape,
    /// `shape.parameters()` values.
    pub data: Vec<f32>,
}

/// The named views of a [`Flat`] buffer.
#[derive(Clone, Copy, Debug)]
pub struct Views<'a> {
    /// `(H, IN)`.
    pub w1: &'a [f32],
    /// `(H)`.
    pub b1: &'a [f32],
    /// `(OUT, H)`.
    pub w2: &'a [f32],
    /// `(OUT)`.
    pub b2: &'a [f32],
}

/// The named views of a [`Flat`] buffer, mutable.
#[derive(Debug)]
pub struct ViewsMut<'a> {
    /// `(H, IN)`.
    pub w1: &'a mut [f32],
    /// `(H)`.
    pub b1: &'a mut [f32],
    /// `(OUT, H)`.
    pub w2: &'a mut [f32],
    /// `(OUT)`.
    pub b2: &'a mut [f32],
}

impl Flat {
    /// All zeros.
    ///
    /// # Panics
    /// If the parameter count overflows `usize` (the trainer's sizes are checked long before).
    pub fn zeros(shape: Shape) -> Self {
        let parameters = shape
            .parameters()
            .expect("a parameter count that fits usize");
        Self {
            shape,
            data: vec![0.0; parameters],
        }
    }

    /// Glorot-uniform weights (`U(±sqrt(6 / (fan_in + fan_out)))`, as Keras' `Dense`) and
    /// zero biases, drawn W1 then W2 in row-major order.
    pub fn glorot(shape: Shape, rng: &mut Rng) -> Self {
        let mut p = Self::zeros(shape);
        let v = p.views_mut();
        let limit1 = (6.0 / (shape.input + shape.hidden) as f32).sqrt();
        v.w1.iter_mut()
            .for_each(|w| *w = rng.uniform(-limit1, limit1));
        let limit2 = (6.0 / (shape.hidden + shape.output) as f32).sqrt();
        v.w2.iter_mut()
            .for_each(|w| *w = rng.uniform(-limit2, limit2));
        p
    }

    /// The named views.
    ///
    /// # Panics
    /// If `data` is not `shape.parameters()` long (both fields are public).
    pub fn views(&self) -> Views<'_> {
        let [w1, b1, w2, b2] = self
            .shape
            .split(&self.data)
            .expect("Flat holds shape.parameters() values");
        Views { w1, b1, w2, b2 }
    }

    /// The named views, mutable.
    ///
    /// # Panics
    /// As [`Flat::views`].
    pub fn views_mut(&mut self) -> ViewsMut<'_> {
        let [w1, b1, w2, b2] = self
            .shape
            .split_mut(&mut self.data)
            .expect("Flat holds shape.parameters() values");
        ViewsMut { w1, b1, w2, b2 }
    }
}
