//! The network, in flash: the model file and its sizes as nn-build compiled them
//! (`OUT_DIR/model.rs`: `MODEL_FILE`, `INPUTS`, `OUTPUTS`, `SCRATCH_WORDS`, `FRAME`...),
//! parsed once at boot into an `nn_core::network::Model` that borrows every array in place
//! (nothing is copied to RAM). [`infer`] runs one raw tensor through it, whatever its depth,
//! sizes and element type: what the serial protocol's tensor messages carry. A digit
//! classifier (784 → 10, cfg `nn_digits`) also has [`classify`].

use nn_core::format::{ElementType, ModelFile};
use nn_core::network::Model;
use nn_core::protocol::{FrameError, TensorElement};

/// What nn-build generated; not every const is needed by every model.
#[allow(dead_code)]
mod compiled {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}
pub use compiled::*;

/// Bytes of the output tensor at most (f32).
pub const OUTPUT_BYTES: usize = 4 * OUTPUTS;

/// The network the firmware runs, and (a version-2 int8 digit model) its typed view, whose
/// class is the first largest logit as the host's digit classifier computes it.
pub struct Net {
    model: Model<'static>,
    #[cfg(nn_digits)]
    digits: Option<nn_core::MlpI8Ref<'static, INPUTS, { LAYER_OUTPUTS[0] }, OUTPUTS>>,
}

/// The network built into this firmware, checked once.
///
/// # Errors
/// The file in flash is not one nn-build validated (it is), or its sizes are not the
/// consts nn-build wrote.
pub fn model() -> Result<Net, nn_core::Error> {
    let file = ModelFile::parse(&MODEL_FILE.0)?;
    let mut model = file.model()?;
    // The layers nn-build packed for this core's kernel (the M4's wide layout), if any: the
    // check below holds their length to the model's.
    if let Model::I8(m) = &mut model
        && !PACKED.0.is_empty()
    {
        m.packed = bytemuck::try_cast_slice(&PACKED.0).map_err(|_| nn_core::Error::Misaligned)?;
    }
    model.check()?;
    for (expected, found) in [
        (INPUTS, model.inputs()),
        (OUTPUTS, model.outputs()),
        (SCRATCH_WORDS, model.scratch_len()),
    ] {
        if expected != found {
            return Err(nn_core::Error::LengthMismatch {
                tensor: None,
                expected,
                found,
            });
        }
    }
    Ok(Net {
        model,
        #[cfg(nn_digits)]
        digits: file.view_i8().ok(),
    })
}

#[cfg(nn_learn)]
impl Net {
    /// The network, for code that reads its layers (the learner's features and head).
    pub fn model(&self) -> &Model<'static> {
        &self.model
    }
}

/// One input tensor through the model, its output written to `out`: 0–255 pixels or int8
/// (an int8 model) in, the int8 output tensor out, as the host computes it from the same
/// file; or f32 (little-endian) in, f32 out (`Model::predict`: an int8 model quantises the
/// input and dequantises its output). Returns the output's element type and length in bytes.
///
/// # Errors
/// [`FrameError::WrongInput`]: a length other than the model's inputs, int8 into an f32
/// model, or a non-finite f32.
pub fn infer(
    net: &Net,
    element: TensorElement,
    data: &[u8],
    out: &mut [u8; OUTPUT_BYTES],
) -> Result<(TensorElement, usize), FrameError> {
    let model = &net.model;
    if data.len() != INPUTS * element.size() {
        return Err(FrameError::WrongInput);
    }
    let mut scratch = [0.0f32; SCRATCH_WORDS];
    let wrong = |_| FrameError::WrongInput;
    match (element, model.element()) {
        (TensorElement::U8 | TensorElement::I8, ElementType::I8) => {
            let mut q = [0i8; OUTPUTS];
            if element == TensorElement::U8 {
                model.predict_pixels_i8(data, &mut scratch, &mut q)
            } else {
                let x: [i8; INPUTS] = core::array::from_fn(|i| data[i] as i8);
                model.predict_i8(&x, &mut scratch, &mut q)
            }
            .map_err(wrong)?;
            for (o, q) in out.iter_mut().zip(q) {
                *o = q as u8;
            }
            Ok((TensorElement::I8, OUTPUTS))
        }
        (TensorElement::U8 | TensorElement::F32, _) => {
            let mut y = [0.0f32; OUTPUTS];
            if element == TensorElement::U8 {
                model.predict_pixels(data, &mut scratch, &mut y)
            } else {
                let x: [f32; INPUTS] = core::array::from_fn(|i| {
                    let b = &data[4 * i..4 * i + 4];
                    f32::from_le_bytes([b[0], b[1], b[2], b[3]])
                });
                model.predict(&x, &mut scratch, &mut y)
            }
            .map_err(wrong)?;
            for (o, y) in out.chunks_exact_mut(4).zip(y) {
                o.copy_from_slice(&y.to_le_bytes());
            }
            Ok((TensorElement::F32, OUTPUT_BYTES))
        }
        (TensorElement::I8, ElementType::F32) => Err(FrameError::WrongInput),
    }
}

/// Classifies 0–255 pixels: the probabilities (an int8 softmax's exact `(q + 128) / 256`,
/// the numbers the host computes from the same file) and the class, the first largest
/// logit of a version-2 int8 model (its typed view), else the first largest output.
#[cfg(nn_digits)]
pub fn classify(net: &Net, pixels: &[u8; INPUTS]) -> nn_core::Prediction<{ nn_core::CLASSES }> {
    if let Some(typed) = &net.digits {
        let p = typed.predict_pixels(pixels);
        return nn_core::Prediction {
            class: p.class,
            probabilities: core::array::from_fn(|k| p.probability(k)),
        };
    }
    classify_any(&net.model, pixels)
}

/// [`classify`] through the `Model`: out of line, so that its scratch is on the stack only
/// while it runs.
#[cfg(nn_digits)]
#[inline(never)]
fn classify_any(
    model: &Model<'static>,
    pixels: &[u8; INPUTS],
) -> nn_core::Prediction<{ nn_core::CLASSES }> {
    let mut scratch = [0.0f32; SCRATCH_WORDS];
    let mut probabilities = [f32::NAN; OUTPUTS];
    // Pixels are always finite and the model was checked at boot: a NaN output says otherwise.
    let _ = model.predict_pixels(pixels, &mut scratch, &mut probabilities);
    let class = (0..OUTPUTS).fold(0, |best, k| {
        if probabilities[k] > probabilities[best] {
            k
        } else {
            best
        }
    });
    nn_core::Prediction {
        class,
        probabilities,
    }
}

/// How far the probabilities may sum from 1: int8 softmax rounds each to a step of 1/256,
/// so one step per class; f32, ten roundings of numbers ≤ 1.
#[cfg(nn_digits)]
pub const SUM_TOLERANCE: f32 = match ELEMENT {
    ElementType::I8 => OUTPUTS as f32 / 256.0,
    ElementType::F32 => 1e-4,
};

/// Whether the outputs are a probability distribution (the model ends in a softmax).
#[cfg(nn_digits)]
pub fn softmax_output(net: &Net) -> bool {
    match &net.model {
        Model::F32(m) => m.softmax,
        Model::I8(m) => m.softmax.is_some(),
    }
}

// build.rs sets nn_digits for this shape only; this says so to the compiler.
#[cfg(nn_digits)]
const _: () = assert!(OUTPUTS == nn_core::CLASSES && INPUTS == nn_core::IMAGE_PIXELS);

/// Logs which model this firmware carries.
pub fn log_model() {
    defmt::info!(
        "model {=usize}-...-{=usize}, {=usize} layers, {=str} ({=usize} bytes in flash, crc32 {=u32:#010x}; {=usize} bytes of packed layers) from {=str}",
        INPUTS,
        OUTPUTS,
        DEPTH,
        match ELEMENT {
            ElementType::I8 => "int8",
            ElementType::F32 => "f32",
        },
        MODEL_BYTES,
        MODEL_CHECKSUM,
        PACKED.0.len(),
        MODEL_PATH
    );
}
