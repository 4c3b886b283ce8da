//! An f32 network's inference: each layer `y = activation(W x + b)` through the dispatched
//! kernels ([`kernels::gemv_bias`], and [`Activation::apply`]'s), ping-ponging between two
//! buffers, then the softmax if the model has one.

use super::{Error, LayerTensor, ModelF32, check_layers, check_len, weights_len, widest};
use crate::kernels;

/// What a call feeds the first layer.
#[derive(Clone, Copy, Debug)]
pub(super) enum Input<'x> {
    /// Real values, `(inputs)`, finite.
    F32(&'x [f32]),
    /// 0–255 pixels, `(inputs)`, through the model's scaling.
    Pixels(&'x [u8]),
}

impl ModelF32<'_> {
    /// [`super::Model::check`] for an f32 model: every layer's weights and bias as long as
    /// its sizes say (every activation runs in f32; a softmax layer is what version-1 files
    /// may hold in the hidden layer).
    pub(super) fn check(&self) -> Result<(), Error> {
        check_layers(&self.layers, |i, l| {
            let weights = weights_len(l.outputs, l.inputs)?;
            check_len(i, LayerTensor::Weights, weights, l.weights.len())?;
            check_len(i, LayerTensor::Bias, l.outputs, l.bias.len())
        })
    }

    /// Runs a checked model on `input` into `out` (`(outputs)`), with `scratch` at least two
    /// [`widest`] buffers. Returns the class: the first largest output.
    pub(super) fn run(&self, input: Input<'_>, scratch: &mut [f32], out: &mut [f32]) -> usize {
        let w = widest(&self.layers);
        let (a, rest) = scratch.split_at_mut(w);
        let b = &mut rest[..w];
        let x = match input {
            Input::F32(x) => Some(x),
            Input::Pixels(pixels) => {
                self.scaling.apply(pixels, &mut a[..pixels.len()]);
                None
            }
        };
        out.copy_from_slice(self.forward(x, a, b));
        kernels::argmax(out)
    }

    /// Every layer, then the softmax if any; returns the output, `(outputs)`, which lies in
    /// `src` for an even depth and in `dst` for an odd one. The first layer reads `x`, or
    /// `src[..inputs]` when `x` is `None`; layer `i` writes `dst` for even `i`, `src` for odd
    /// `i`, so `dst` must hold every even layer's outputs and `src` every odd one's (and the
    /// input, when it lies there): two [`widest`] buffers always do. The caller has checked
    /// the model and `x`'s length.
    pub(crate) fn forward<'s>(
        &self,
        x: Option<&'s [f32]>,
        mut src: &'s mut [f32],
        mut dst: &'s mut [f32],
    ) -> &'s mut [f32] {
        for (i, l) in self.layers.iter().enumerate() {
            let input = match x {
                Some(x) if i == 0 => x,
                _ => &src[..l.inputs],
            };
            let y = &mut dst[..l.outputs];
            kernels::gemv_bias(l.weights, input, l.bias, y);
            l.activation.apply(y);
            core::mem::swap(&mut src, &mut dst);
        }
        let n = self.layers.last().map_or(0, |l| l.outputs);
        let y = &mut src[..n];
        if self.softmax {
            kernels::softmax(y);
        }
        y
    }
}
