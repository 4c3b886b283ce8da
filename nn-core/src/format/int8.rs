//! The int8 model's side of the file: the headers an [`MlpI8`] is written with, and every
//! check [`super::ModelFile::parse`] and [`MlpI8::check`] make of int8 fields, in one place.

use super::{Header, QuantHeader};
use crate::activation::Activation;
use crate::error::Error;
use crate::model_i8::{MAX_OUTPUTS, MlpI8, SIGMOID_TABLE_LEN};
use crate::quant::{Requant, SoftmaxI8Params};
use crate::shape::check_lengths;
use crate::types::{ElementType, QuantTensor, Tensor, TensorQuant, VERSION_2};

impl MlpI8<'_> {
    /// The model file header of this model (version 2, int8, softmax output).
    ///
    /// # Errors
    /// [`Error::TooLarge`] if a size does not fit the file's u32 fields.
    pub fn header(&self) -> Result<Header, Error> {
        Ok(Header {
            version: VERSION_2,
            element: ElementType::I8,
            ..Header::new(
                [self.input, self.hidden, self.output],
                self.hidden_activation,
                Activation::Softmax,
                self.scaling,
            )?
        })
    }

    /// The quantisation header a model file stores for this model.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if a size does not fit the file's u32 fields.
    pub fn quant_header(&self) -> Result<QuantHeader, Error> {
        let size = |n: usize| u32::try_from(n).map_err(|_| Error::TooLarge);
        Ok(QuantHeader {
            input: self.input_quant,
            hidden: self.hidden_quant,
            logits: self.logits_quant,
            softmax_input_multiplier: self.softmax.input_multiplier,
            softmax_input_left_shift: self.softmax.input_left_shift,
            softmax_diff_min: self.softmax.diff_min,
            hidden_channels: size(self.layer1.requant.len())?,
            output_channels: size(self.layer2.requant.len())?,
        })
    }

    /// Checks everything [`super::ModelFile::parse`] checks in an int8 file: the
    /// activations, every scale, zero point and requantisation pair, the softmax parameters,
    /// every length, the weight range and that no int32 sum can overflow.
    ///
    /// # Errors
    /// [`Error::BadActivation`] (one version-2 int8 has no kernel for), [`Error::BadHeader`] (a
    /// non-finite scaling),
    /// [`Error::BadScale`], [`Error::BadZeroPoint`], [`Error::BadSoftmaxParams`],
    /// [`Error::ChannelCountMismatch`], [`Error::LengthMismatch`], [`Error::BadRequant`],
    /// [`Error::WeightOutOfRange`], [`Error::AccumulatorOverflow`], [`Error::TooLarge`].
    pub fn check(&self) -> Result<(), Error> {
        let header = self.header()?;
        if !(self.scaling.scale.is_finite() && self.scaling.offset.is_finite()) {
            return Err(Error::BadHeader);
        }
        check_quant_header(&header, &self.quant_header()?)?;
        let shape = self.shape();
        let [w1, _, w2, _] = shape.tensor_lens()?;
        let table = match self.hidden_activation {
            Activation::Sigmoid => SIGMOID_TABLE_LEN,
            _ => 0,
        };
        let lengths = [
            (Some(Tensor::W1), w1, self.layer1.weights.len()),
            (Some(Tensor::B1), self.hidden, self.layer1.bias.len()),
            (None, self.hidden, self.layer1.weight_scales.len()),
            (Some(Tensor::W2), w2, self.layer2.weights.len()),
            (Some(Tensor::B2), self.output, self.layer2.bias.len()),
            (None, self.output, self.layer2.weight_scales.len()),
            (None, table, self.sigmoid_table.len()),
        ];
        check_lengths(lengths)?;
        for (names, l, cols) in [
            (
                (QuantTensor::W1, Tensor::W1, Tensor::B1),
                &self.layer1,
                self.input,
            ),
            (
                (QuantTensor::W2, Tensor::W2, Tensor::B2),
                &self.layer2,
                self.hidden,
            ),
        ] {
            check_layer(
                names,
                cols,
                l.weights,
                l.bias.iter().copied(),
                l.requant.iter().copied(),
                l.weight_scales.iter().copied(),
            )?;
        }
        Ok(())
    }
}

/// int8 in version 2 runs a ReLU, sigmoid or identity hidden layer and a softmax output.
fn check_activations(header: &Header) -> Result<(), Error> {
    let hidden_ok = matches!(
        header.hidden_activation,
        Activation::Relu | Activation::Sigmoid | Activation::Identity
    );
    if !hidden_ok {
        return Err(Error::BadActivation {
            layer: 0,
            found: header.hidden_activation,
        });
    }
    if header.output_activation != Activation::Softmax {
        return Err(Error::BadActivation {
            layer: 1,
            found: header.output_activation,
        });
    }
    Ok(())
}

/// A scale finite and positive, a zero point in `[-128, 127]`.
pub(crate) fn check_tensor_quant(tensor: QuantTensor, q: TensorQuant) -> Result<(), Error> {
    if !(q.scale.is_finite() && q.scale > 0.0) {
        return Err(Error::BadScale { tensor, index: 0 });
    }
    if !(-128..=127).contains(&q.zero_point) {
        return Err(Error::BadZeroPoint {
            tensor,
            found: q.zero_point,
        });
    }
    Ok(())
}

/// The checks of an int8 file's header fields: activations, at most [`MAX_OUTPUTS`] outputs,
/// the three activation quantisations, softmax's parameters (ones TFLite's preparation
/// produces, `SoftmaxI8Params::is_valid`) and the per-channel counts.
pub(crate) fn check_quant_header(header: &Header, q: &QuantHeader) -> Result<(), Error> {
    check_activations(header)?;
    if header.output as usize > MAX_OUTPUTS {
        return Err(Error::TooLarge);
    }
    check_tensor_quant(QuantTensor::Input, q.input)?;
    check_tensor_quant(QuantTensor::Hidden, q.hidden)?;
    check_tensor_quant(QuantTensor::Logits, q.logits)?;
    let softmax = SoftmaxI8Params {
        input_multiplier: q.softmax_input_multiplier,
        input_left_shift: q.softmax_input_left_shift,
        diff_min: q.softmax_diff_min,
    };
    if !softmax.is_valid() {
        return Err(Error::BadSoftmaxParams);
    }
    for (tensor, expected, found) in [
        (QuantTensor::W1, header.hidden, q.hidden_channels),
        (QuantTensor::W2, header.output, q.output_channels),
    ] {
        if expected != found {
            return Err(Error::ChannelCountMismatch {
                tensor,
                expected: expected as usize,
                found: found as usize,
            });
        }
    }
    Ok(())
}

/// The checks of one layer's per-channel parameters and weights: each weight scale finite and
/// positive, each requantisation pair one `Requant::from_real` can make, each weight in
/// `[-127, 127]`, and each row's int32 sum unable to overflow: `|bias| + 255 Σ|w| ≤ i32::MAX`
/// (`|x - input zero point| ≤ 255` for any int8 input and zero point). Errors name the
/// layer's per-channel parameters, weights and bias as `names` says.
pub(crate) fn check_layer(
    (layer, weights_tensor, bias_tensor): (QuantTensor, Tensor, Tensor),
    cols: usize,
    weights: &[i8],
    bias: impl Iterator<Item = i32>,
    requant: impl Iterator<Item = Requant>,
    weight_scales: impl Iterator<Item = f32>,
) -> Result<(), Error> {
    for (index, s) in weight_scales.enumerate() {
        if !(s.is_finite() && s > 0.0) {
            return Err(Error::BadScale {
                tensor: layer,
                index,
            });
        }
    }
    for (index, r) in requant.enumerate() {
        if !r.is_valid() {
            return Err(Error::BadRequant {
                tensor: layer,
                index,
            });
        }
    }
    if let Some(index) = weights.iter().position(|&w| w == i8::MIN) {
        return Err(Error::WeightOutOfRange {
            tensor: weights_tensor,
            index,
        });
    }
    for (index, b) in bias.enumerate() {
        let row = weights
            .get(index * cols..(index + 1) * cols)
            .unwrap_or_default();
        let sum: i64 = row.iter().map(|&w| i64::from(w).abs()).sum();
        let bound = i64::from(b).abs().saturating_add(sum.saturating_mul(255));
        if bound > i64::from(i32::MAX) {
            return Err(Error::AccumulatorOverflow {
                tensor: bias_tensor,
                index,
            });
        }
    }
    Ok(())
}
