//! [`Layout`]: every layer's sizes and where each of its arrays lies in a file, for every
//! format version, computed from the header alone.

use core::ops::Range;

use super::{CHECKSUM_LEN, ElementType, Header, SIGMOID_TABLE_LEN, WEIGHTS_ALIGN};
use crate::activation::Activation;
use crate::error::Error;
use crate::network::MAX_LAYERS;
use crate::types::{TensorQuant, VERSION_3};

/// What a header says of one layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct LayerHead {
    pub(super) outputs: usize,
    /// Never `Softmax` (a version-1/2 softmax output is the model's flag).
    pub(super) activation: Activation,
    /// An int8 layer's FULLY_CONNECTED output quantisation; unused for f32.
    pub(super) output: TensorQuant,
}

impl LayerHead {
    pub(super) const EMPTY: Self = Self {
        outputs: 0,
        activation: Activation::Identity,
        output: TensorQuant {
            scale: 1.0,
            zero_point: 0,
        },
    };
}

/// Byte ranges of one layer's arrays from the start of the file; empty where the element
/// type or the activation has none.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Arrays {
    pub(super) weights: Range<usize>,
    pub(super) bias: Range<usize>,
    pub(super) requant: Range<usize>,
    pub(super) weight_scales: Range<usize>,
    pub(super) table: Range<usize>,
}

/// The layers of a file and where everything lies, computed with checked arithmetic so that
/// a hostile header (say 2^32 × 2^32 weights) becomes [`Error::TooLarge`], never an overflow.
#[derive(Clone, Copy, Debug)]
pub(super) struct Layout {
    pub(super) version: u16,
    pub(super) element: ElementType,
    pub(super) inputs: usize,
    pub(super) depth: usize,
    /// `layers[..depth]`, input first.
    pub(super) layers: [LayerHead; MAX_LAYERS],
    /// The header, its layers, quantisation and class names: everything before the padding.
    pub(super) header_len: usize,
    pub(super) weights_start: usize,
    /// Weights and biases of every layer.
    pub(super) parameters: usize,
    /// Everything, checksum included.
    pub(super) total: usize,
}

/// `n` as a size on this machine.
fn size(n: u32) -> Result<usize, Error> {
    usize::try_from(n).map_err(|_| Error::TooLarge)
}

impl Layout {
    /// The layout of a version-1 or version-2 file: two layers, the second's `Softmax` the
    /// model's softmax. `hidden` and `logits` are an int8 file's output quantisations.
    pub(super) fn two_layer(
        header: &Header,
        [hidden, logits]: [TensorQuant; 2],
        header_len: usize,
    ) -> Result<Self, Error> {
        let mut layers = [LayerHead::EMPTY; MAX_LAYERS];
        layers[0] = LayerHead {
            outputs: size(header.hidden)?,
            activation: header.hidden_activation,
            output: hidden,
        };
        layers[1] = LayerHead {
            outputs: size(header.output)?,
            activation: match header.output_activation {
                Activation::Softmax => Activation::Identity,
                a => a,
            },
            output: logits,
        };
        Self::new(
            header.version,
            header.element,
            size(header.input)?,
            &layers[..2],
            header_len,
        )
    }

    /// The layout of `layers` after `inputs` in a file of `version` whose header takes
    /// `header_len` bytes.
    pub(super) fn new(
        version: u16,
        element: ElementType,
        inputs: usize,
        heads: &[LayerHead],
        header_len: usize,
    ) -> Result<Self, Error> {
        let depth = heads.len();
        let mut layers = [LayerHead::EMPTY; MAX_LAYERS];
        layers
            .get_mut(..depth)
            .ok_or(Error::BadDepth { depth })?
            .copy_from_slice(heads);
        let mut layout = Self {
            version,
            element,
            inputs,
            depth,
            layers,
            header_len,
            weights_start: header_len
                .checked_next_multiple_of(WEIGHTS_ALIGN)
                .ok_or(Error::TooLarge)?,
            parameters: 0,
            total: 0,
        };
        let mut parameters = 0usize;
        for i in 0..depth {
            let [w, b] = layout.lens(i)?;
            parameters = parameters
                .checked_add(w)
                .and_then(|p| p.checked_add(b))
                .ok_or(Error::TooLarge)?;
        }
        layout.parameters = parameters;
        let end = layout.place(depth, |_, _| ())?;
        layout.total = end.checked_add(CHECKSUM_LEN).ok_or(Error::TooLarge)?;
        Ok(layout)
    }

    /// The layers, input first.
    pub(super) fn heads(&self) -> &[LayerHead] {
        self.layers.get(..self.depth).unwrap_or_default()
    }

    /// Layer `i`'s inputs: the model's inputs, or the previous layer's outputs.
    pub(super) fn layer_inputs(&self, i: usize) -> usize {
        match i.checked_sub(1) {
            Some(before) => self.layers.get(before).map_or(0, |l| l.outputs),
            None => self.inputs,
        }
    }

    /// The model's outputs.
    pub(super) fn outputs(&self) -> usize {
        self.heads().last().map_or(0, |l| l.outputs)
    }

    /// Elements of layer `i`'s weights and bias.
    fn lens(&self, i: usize) -> Result<[usize; 2], Error> {
        let outputs = self.layers.get(i).map_or(0, |l| l.outputs);
        let weights = outputs
            .checked_mul(self.layer_inputs(i))
            .ok_or(Error::TooLarge)?;
        Ok([weights, outputs])
    }

    /// Bytes of layer `i`'s arrays in the order version 3 stores them: f32 weights and bias;
    /// int8 bias, requantisation pairs, weight scales, weights and table.
    fn array_bytes(&self, i: usize) -> Result<[usize; 5], Error> {
        let [w, b] = self.lens(i)?;
        let times = |n: usize, k: usize| n.checked_mul(k).ok_or(Error::TooLarge);
        Ok(match self.element {
            ElementType::F32 => [times(w, 4)?, times(b, 4)?, 0, 0, 0],
            ElementType::I8 => {
                let table = match self.layers.get(i).map(|l| l.activation) {
                    Some(Activation::Sigmoid | Activation::Tanh) => SIGMOID_TABLE_LEN,
                    _ => 0,
                };
                [times(b, 4)?, times(b, 8)?, times(b, 4)?, w, table]
            }
        })
    }

    /// Walks the body in file order, calling `found(layer, arrays)` for each of the first
    /// `upto` layers; with `upto` at least the depth, returns where the body ends. Every
    /// offset is checked.
    fn place(&self, upto: usize, mut found: impl FnMut(usize, Arrays)) -> Result<usize, Error> {
        let add = |a: usize, b: usize| a.checked_add(b).ok_or(Error::TooLarge);
        let mut cursor = self.weights_start;
        if self.version >= VERSION_3 {
            // Every array starts 16-byte aligned; an absent one takes no room.
            for i in 0..upto.min(self.depth) {
                let mut ranges: [Range<usize>; 5] = Default::default();
                for (range, len) in ranges.iter_mut().zip(self.array_bytes(i)?) {
                    if len > 0 {
                        cursor = cursor
                            .checked_next_multiple_of(WEIGHTS_ALIGN)
                            .ok_or(Error::TooLarge)?;
                    }
                    *range = cursor..add(cursor, len)?;
                    cursor = range.end;
                }
                let [r0, r1, r2, r3, r4] = ranges;
                found(
                    i,
                    match self.element {
                        ElementType::F32 => Arrays {
                            weights: r0,
                            bias: r1,
                            ..Arrays::default()
                        },
                        ElementType::I8 => Arrays {
                            bias: r0,
                            requant: r1,
                            weight_scales: r2,
                            weights: r3,
                            table: r4,
                        },
                    },
                );
            }
            return Ok(cursor);
        }
        match self.element {
            // W1, b1, W2, b2, back to back.
            ElementType::F32 => {
                for i in 0..upto.min(self.depth) {
                    let [w, b, ..] = self.array_bytes(i)?;
                    let weights = cursor..add(cursor, w)?;
                    let bias = weights.end..add(weights.end, b)?;
                    cursor = bias.end;
                    found(
                        i,
                        Arrays {
                            weights,
                            bias,
                            ..Arrays::default()
                        },
                    );
                }
                Ok(cursor)
            }
            // Every 4-byte array first (16 bytes per channel, so the int8 weights start
            // 16-byte aligned too): b1, requant1, scales1, b2, requant2, scales2; then W1, W2
            // and a sigmoid hidden layer's table.
            ElementType::I8 => {
                let mut per_channel: [[Range<usize>; 3]; 2] = Default::default();
                for (i, slot) in per_channel.iter_mut().enumerate().take(self.depth) {
                    let [b, r, s, _, _] = self.array_bytes(i)?;
                    let bias = cursor..add(cursor, b)?;
                    let requant = bias.end..add(bias.end, r)?;
                    let scales = requant.end..add(requant.end, s)?;
                    cursor = scales.end;
                    *slot = [bias, requant, scales];
                }
                let mut weights: [Range<usize>; 2] = Default::default();
                for (i, slot) in weights.iter_mut().enumerate().take(self.depth) {
                    let [_, _, _, w, _] = self.array_bytes(i)?;
                    *slot = cursor..add(cursor, w)?;
                    cursor = slot.end;
                }
                let [_, _, _, _, t] = self.array_bytes(0)?;
                let table = cursor..add(cursor, t)?;
                cursor = table.end;
                for (i, ([bias, requant, weight_scales], weights)) in
                    per_channel.into_iter().zip(weights).enumerate().take(upto)
                {
                    let table = if i == 0 {
                        table.clone()
                    } else {
                        cursor..cursor
                    };
                    found(
                        i,
                        Arrays {
                            weights,
                            bias,
                            requant,
                            weight_scales,
                            table,
                        },
                    );
                }
                Ok(cursor)
            }
        }
    }

    /// Byte ranges of layer `i`'s arrays (valid once `total` is checked); empty past the
    /// last layer.
    pub(super) fn arrays(&self, i: usize) -> Arrays {
        let mut out = Arrays::default();
        // The walk succeeded when the layout was made, so it cannot fail here.
        let _ = self.place(i.saturating_add(1), |j, a| {
            if j == i {
                out = a;
            }
        });
        out
    }

    /// Every padding range between the header and the checksum, in file order, for
    /// [`super::ModelFile::parse`] to check is zero.
    pub(super) fn for_each_gap(&self, mut gap: impl FnMut(Range<usize>)) {
        gap(self.header_len..self.weights_start);
        if self.version < VERSION_3 {
            return;
        }
        let mut cursor = self.weights_start;
        let _ = self.place(self.depth, |_, a| {
            let ranges = match self.element {
                ElementType::F32 => [a.weights, a.bias, 0..0, 0..0, 0..0],
                ElementType::I8 => [a.bias, a.requant, a.weight_scales, a.weights, a.table],
            };
            for r in ranges.into_iter().filter(|r| r.start != r.end) {
                gap(cursor..r.start);
                cursor = r.end;
            }
        });
    }
}
