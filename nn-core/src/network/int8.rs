//! An int8 network's inference in TensorFlow Lite's scheme (see `model_i8` for the scheme):
//! each layer is FULLY_CONNECTED ([`kernels::dense_i8`], or its packed twin) with a ReLU or
//! ReLU6 fused as its output clamp, then a LOGISTIC or TANH as the layer's 256-entry table;
//! the last layer is followed by SOFTMAX ([`kernels::softmax_i8`]) if the model has one.
//! Inputs come as int8, as pixels (`q = pixel − 128`) or as reals (QUANTIZE).

use super::{
    Error, LayerI8, LayerTensor, ModelI8, check_arg, check_layers, check_len, weights_len, widest,
};
use crate::activation::Activation;
use crate::kernels;
use crate::kernels::int8::packed::{Layout, PackedDenseI8};
use crate::quant::DenseI8Params;
use crate::types::{MAX_OUTPUTS, SIGMOID_TABLE_LEN, TensorQuant};

/// What a call feeds the first layer.
#[derive(Clone, Copy, Debug)]
pub(super) enum Input<'x> {
    /// Real values, `(inputs)`, finite: quantised with [`ModelI8::input`].
    F32(&'x [f32]),
    /// Already quantised, `(inputs)`.
    I8(&'x [i8]),
    /// 0–255 pixels, `(inputs)`: `q = pixel − 128`.
    Pixels(&'x [u8]),
}

impl ModelI8<'_> {
    /// The `i32` words [`ModelI8::pack`] fills: every layer's
    /// [`PackedDenseI8::buffer_len`], in order, in this build's layout.
    pub fn packed_len(&self) -> usize {
        self.packed_len_as(Layout::NATIVE)
    }

    /// [`ModelI8::packed_len`] in `layout`.
    pub fn packed_len_as(&self, layout: Layout) -> usize {
        self.layers.iter().fold(0, |n, l| {
            n.saturating_add(layout.buffer_len(l.outputs, l.inputs))
        })
    }

    /// Packs every layer into `buf` ([`ModelI8::packed_len`] words), once, for this
    /// build's fastest kernel ([`kernels::dense_i8_packed`]): a host when it loads the
    /// model, a firmware's build script for the board (`pack_as`). `ModelI8 { packed: &buf,
    /// ..model }` then gives the same bytes as the plain layers.
    ///
    /// # Errors
    /// What [`super::Model::check`] finds in the layers; [`Error::LengthMismatch`] if `buf`
    /// is not [`ModelI8::packed_len`] long.
    pub fn pack(&self, buf: &mut [i32]) -> Result<(), Error> {
        self.pack_as(Layout::NATIVE, buf)
    }

    /// [`ModelI8::pack`] in `layout` ([`ModelI8::packed_len_as`] words): what nn-build
    /// writes to a Cortex-M4's flash ([`Layout::M4Wide`]).
    ///
    /// # Errors
    /// As [`ModelI8::pack`].
    pub fn pack_as(&self, layout: Layout, buf: &mut [i32]) -> Result<(), Error> {
        self.check_layers()?;
        check_arg(self.packed_len_as(layout), buf.len())?;
        let mut zp_in = self.input.zero_point;
        let mut rest = buf;
        for l in self.layers.iter() {
            let (words, next) = rest.split_at_mut(layout.buffer_len(l.outputs, l.inputs));
            let p = dense_params(l, zp_in);
            PackedDenseI8::pack_as(layout, l.weights, l.inputs, l.bias, l.requant, p, words);
            zp_in = l.activated().zero_point;
            rest = next;
        }
        Ok(())
    }

    /// [`super::Model::check`] for an int8 model.
    pub(super) fn check(&self) -> Result<(), Error> {
        self.check_layers()?;
        if !self.packed.is_empty() {
            check_arg(self.packed_len(), self.packed.len())?;
        }
        Ok(())
    }

    /// The layers' checks: every array's length, the activations, the softmax's size.
    fn check_layers(&self) -> Result<(), Error> {
        check_layers(&self.layers, |i, l| {
            let weights = weights_len(l.outputs, l.inputs)?;
            check_len(i, LayerTensor::Weights, weights, l.weights.len())?;
            check_len(i, LayerTensor::Bias, l.outputs, l.bias.len())?;
            check_len(i, LayerTensor::Requant, l.outputs, l.requant.len())?;
            check_len(
                i,
                LayerTensor::WeightScales,
                l.outputs,
                l.weight_scales.len(),
            )?;
            let table = match l.activation {
                Activation::Sigmoid | Activation::Tanh => SIGMOID_TABLE_LEN,
                Activation::Identity | Activation::Relu | Activation::Relu6 => 0,
                found @ Activation::Softmax => {
                    return Err(Error::BadActivation { layer: i, found });
                }
            };
            check_len(i, LayerTensor::Table, table, l.table.len())
        })?;
        let outputs = self.layers.last().map_or(0, |l| l.outputs);
        if self.softmax.is_some() && outputs > MAX_OUTPUTS {
            return Err(Error::TooLarge);
        }
        Ok(())
    }

    /// Runs a checked model on `input`, writing its int8 output tensor to `out`
    /// (`(outputs)`); `scratch` holds at least two [`widest`] byte buffers. Returns the last
    /// layer's outputs, before the softmax: the class is their first largest
    /// ([`argmax_i8`]; the softmax is monotonic, and its 1/256 steps would make ties the
    /// logits do not have). A caller that wants no class pays for no search.
    pub(super) fn run_i8<'s>(
        &self,
        input: Input<'s>,
        scratch: &'s mut [f32],
        out: &mut [i8],
    ) -> &'s [i8] {
        let (y, _) = self.run(input, scratch);
        match self.softmax {
            Some(p) => kernels::softmax_i8(y, p, out),
            None => out.copy_from_slice(y),
        }
        y
    }

    /// [`ModelI8::run_i8`], the output tensor dequantised into `out`.
    pub(super) fn run_dequantized(
        &self,
        input: Input<'_>,
        scratch: &mut [f32],
        out: &mut [f32],
    ) -> usize {
        let (y, spare) = self.run(input, scratch);
        let (q, quant) = match (self.softmax, self.layers.last()) {
            (Some(p), _) => {
                let q = &mut spare[..y.len()];
                kernels::softmax_i8(y, p, q);
                (&*q, TensorQuant::PROBABILITY)
            }
            (None, Some(last)) => (&*y, last.activated()),
            (None, None) => return 0,
        };
        for (o, &q) in out.iter_mut().zip(q) {
            *o = quant.dequantize(q);
        }
        argmax_i8(y)
    }

    /// The input into the first of `scratch`'s two [`widest`] buffers (unless it is
    /// int8 already), and every layer: the last layer's output and the other buffer.
    fn run<'s>(&self, input: Input<'s>, scratch: &'s mut [f32]) -> (&'s mut [i8], &'s mut [i8]) {
        let w = widest(&self.layers);
        let bytes: &mut [i8] = bytemuck::cast_slice_mut(scratch);
        let (a, rest) = bytes.split_at_mut(w);
        let b = &mut rest[..w];
        let x = match input {
            Input::I8(x) => Some(x),
            Input::Pixels(pixels) => {
                pixels_to_i8(pixels, &mut a[..pixels.len()]);
                None
            }
            Input::F32(x) => {
                quantize(x, self.input, &mut a[..x.len()]);
                None
            }
        };
        self.forward(x, a, b)
    }

    /// Every layer (the softmax is the caller's); returns the last layer's output,
    /// `(outputs)`, and the other buffer, whose contents are spent. The first layer reads
    /// `x`, or `src[..inputs]` when `x` is `None`; layer `i` writes `dst` for even `i`,
    /// `src` for odd `i`, so `dst` must hold every even layer's outputs and `src` every odd
    /// one's (and the input, when it lies there): two [`widest`] buffers always do. The
    /// caller has checked the model and `x`'s length.
    pub(crate) fn forward<'s>(
        &self,
        x: Option<&'s [i8]>,
        mut src: &'s mut [i8],
        mut dst: &'s mut [i8],
    ) -> (&'s mut [i8], &'s mut [i8]) {
        let mut zp_in = self.input.zero_point;
        let mut packed = self.packed;
        for (i, l) in self.layers.iter().enumerate() {
            let input = match x {
                Some(x) if i == 0 => x,
                _ => &src[..l.inputs],
            };
            let y = &mut dst[..l.outputs];
            let p = dense_params(l, zp_in);
            if packed.is_empty() {
                kernels::dense_i8(l.weights, input, l.bias, l.requant, p, y);
            } else {
                let (buf, rest) = packed.split_at(PackedDenseI8::buffer_len(l.outputs, l.inputs));
                packed = rest;
                let layer = PackedDenseI8::new(l.weights, l.inputs, l.bias, l.requant, p, buf);
                kernels::dense_i8_packed(&layer, input, y);
            }
            // A sigmoid's or tanh's table (the check gave every such layer one, and no other).
            if let Ok(table) = <&[i8; SIGMOID_TABLE_LEN]>::try_from(l.table) {
                for v in y.iter_mut() {
                    // Entry q + 128: flipping the top bit of q's byte.
                    *v = table[usize::from((*v as u8) ^ 0x80)];
                }
            }
            zp_in = l.activated().zero_point;
            core::mem::swap(&mut src, &mut dst);
        }
        let n = self.layers.last().map_or(0, |l| l.outputs);
        (&mut src[..n], dst)
    }
}

/// The zero points and output clamp of layer `l`'s FULLY_CONNECTED, its input's zero point
/// `zp_in`: a fused ReLU or ReLU6 is the clamp TFLite's `CalculateActivationRangeQuantized`
/// computes, `[max(zp, −128), 127]` and `[max(zp, −128), min(zp + round(6 / scale), 127)]`
/// (the division and the rounding, half away from zero, in f32 as TFLite's `TfLiteRound`).
pub(crate) fn dense_params(l: &LayerI8<'_>, zp_in: i32) -> DenseI8Params {
    let zp = l.output.zero_point;
    let to_i8 = |v: i32| v.clamp(-128, 127) as i8;
    let (min, max) = match l.activation {
        Activation::Relu => (to_i8(zp), i8::MAX),
        Activation::Relu6 => {
            // `as` saturates, as no real scale needs.
            let six = libm::roundf(6.0 / l.output.scale) as i32;
            (to_i8(zp), to_i8(zp.saturating_add(six)))
        }
        _ => (i8::MIN, i8::MAX),
    };
    DenseI8Params {
        input_zero_point: zp_in,
        output_zero_point: zp,
        min,
        max,
    }
}

/// `q = pixel − 128` exactly: flipping the top bit of a u8 gives the i8 with that offset.
/// Four at a time (a word's load, `eor` and store on a Cortex-M). Stops at the shorter.
pub(crate) fn pixels_to_i8(pixels: &[u8], x: &mut [i8]) {
    let n = x.len().min(pixels.len());
    let (x, pixels) = (&mut x[..n], &pixels[..n]);
    let done = n / 4 * 4;
    for (q, p) in x[..done].chunks_exact_mut(4).zip(pixels.chunks_exact(4)) {
        let flipped = u32::from_ne_bytes([p[0], p[1], p[2], p[3]]) ^ 0x8080_8080;
        q.copy_from_slice(&bytemuck::cast::<u32, [i8; 4]>(flipped));
    }
    for (q, &p) in x[done..].iter_mut().zip(&pixels[done..]) {
        *q = (p ^ 0x80) as i8;
    }
}

/// TFLite's QUANTIZE (`AffineQuantize`): `q = clamp(round(x / scale) + zero_point, −128,
/// 127)`, the division in f32, the rounding half away from zero (`TfLiteRound`). Stops at
/// the shorter.
pub(crate) fn quantize(x: &[f32], quant: TensorQuant, q: &mut [i8]) {
    for (q, &v) in q.iter_mut().zip(x) {
        // `as` saturates where C++ would overflow; no finite input of a real scale does.
        let steps = libm::roundf(v / quant.scale) as i32;
        *q = steps.saturating_add(quant.zero_point).clamp(-128, 127) as i8;
    }
}

/// The index of the first largest value; 0 for an empty slice.
pub(crate) fn argmax_i8(x: &[i8]) -> usize {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best
}
