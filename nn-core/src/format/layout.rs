//! [`Layout`]: where each tensor and int8 array lies in a file, from its header alone.

use super::{CHECKSUM_LEN, ElementType, Header, SIGMOID_TABLE_LEN, Shape, Tensor, WEIGHTS_ALIGN};
use crate::activation::Activation;
use crate::error::Error;

/// The arrays of an int8 file's body, in file order: everything 4-byte wide first (16 bytes
/// per channel, so the int8 weights start 16-byte aligned too), then the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum I8Array {
    B1,
    Requant1,
    WeightScales1,
    B2,
    Requant2,
    WeightScales2,
    W1,
    W2,
    SigmoidTable,
}

impl I8Array {
    pub(super) const ALL: [I8Array; 9] = [
        I8Array::B1,
        I8Array::Requant1,
        I8Array::WeightScales1,
        I8Array::B2,
        I8Array::Requant2,
        I8Array::WeightScales2,
        I8Array::W1,
        I8Array::W2,
        I8Array::SigmoidTable,
    ];
}

/// Where everything lies in a file, computed from a header with checked arithmetic so that a
/// hostile header (say 2^32 × 2^32 weights) becomes [`Error::TooLarge`], never an overflow.
#[derive(Clone, Copy, Debug)]
pub(super) struct Layout {
    pub(super) shape: [usize; 3],
    pub(super) element: ElementType,
    /// The header, class names and quantisation header: everything before the padding.
    pub(super) header_len: usize,
    pub(super) weights_start: usize,
    /// Elements of W1, b1, W2, b2.
    pub(super) tensor_lens: [usize; 4],
    pub(super) parameters: usize,
    /// [`SIGMOID_TABLE_LEN`] for an int8 model with a sigmoid hidden layer, else 0.
    pub(super) table_len: usize,
    /// Everything, checksum included.
    pub(super) total: usize,
}

impl Layout {
    pub(super) fn new(header: &Header, header_len: usize) -> Result<Self, Error> {
        let shape = header.shape()?;
        let tensor_lens = Shape::from(shape).tensor_lens()?;
        let parameters = Shape::from(shape).parameters()?;
        let table_len = match (header.element, header.hidden_activation) {
            (ElementType::I8, Activation::Sigmoid) => SIGMOID_TABLE_LEN,
            _ => 0,
        };
        let body = match header.element {
            ElementType::F32 => parameters.checked_mul(4),
            // Per channel: bias i32, requant (i32, i32), weight scale f32.
            ElementType::I8 => (shape[1].checked_add(shape[2]))
                .and_then(|channels| channels.checked_mul(16))
                .and_then(|n| n.checked_add(tensor_lens[0]))
                .and_then(|n| n.checked_add(tensor_lens[2]))
                .and_then(|n| n.checked_add(table_len)),
        };
        let weights_start = header_len
            .checked_next_multiple_of(WEIGHTS_ALIGN)
            .ok_or(Error::TooLarge)?;
        let total = body
            .and_then(|bytes| bytes.checked_add(weights_start))
            .and_then(|end| end.checked_add(CHECKSUM_LEN))
            .ok_or(Error::TooLarge)?;
        Ok(Self {
            shape,
            element: header.element,
            header_len,
            weights_start,
            tensor_lens,
            parameters,
            table_len,
            total,
        })
    }

    /// Byte range of tensor `t` from the start of the file (valid once `total` is checked).
    pub(super) fn tensor_range(&self, t: Tensor) -> core::ops::Range<usize> {
        match self.element {
            ElementType::F32 => {
                let before: usize = self.tensor_lens.iter().take(t.index()).sum();
                let start = self.weights_start + 4 * before;
                start..start + 4 * self.tensor_lens[t.index()]
            }
            ElementType::I8 => self.i8_range(match t {
                Tensor::W1 => I8Array::W1,
                Tensor::B1 => I8Array::B1,
                Tensor::W2 => I8Array::W2,
                Tensor::B2 => I8Array::B2,
            }),
        }
    }

    /// Byte range of an int8 file's array `a` (valid once `total` is checked).
    pub(super) fn i8_range(&self, a: I8Array) -> core::ops::Range<usize> {
        let [_, hidden, output] = self.shape;
        let len = |a: I8Array| match a {
            I8Array::B1 | I8Array::WeightScales1 => 4 * hidden,
            I8Array::Requant1 => 8 * hidden,
            I8Array::B2 | I8Array::WeightScales2 => 4 * output,
            I8Array::Requant2 => 8 * output,
            I8Array::W1 => self.tensor_lens[0],
            I8Array::W2 => self.tensor_lens[2],
            I8Array::SigmoidTable => self.table_len,
        };
        let mut start = self.weights_start;
        for b in I8Array::ALL {
            if b == a {
                break;
            }
            start += len(b);
        }
        start..start + len(a)
    }
}
