//! Any bytes given to the model-file decoder: `ModelFile::parse` must answer with a typed
//! error or a file whose every accessor (tensors, size-erased inference, zero-copy view,
//! decode into an owned model; for version 2 the class names and the int8 model) works
//! without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_core::format::{CLASS_NAME_MAX_LEN, ElementType, ModelFile, Tensor};
use nn_core::{Matrix, Mlp, Vector};

fuzz_target!(|bytes: &[u8]| {
    // Once as given (any alignment), once copied to a 4-byte aligned buffer so the zero-copy
    // paths run past their alignment check.
    exercise(bytes);
    let mut words = vec![0u32; bytes.len().div_ceil(4)];
    let aligned: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    aligned[..bytes.len()].copy_from_slice(bytes);
    exercise(&aligned[..bytes.len()]);
});

fn exercise(bytes: &[u8]) {
    let Ok(file) = ModelFile::parse(bytes) else {
        return;
    };
    let [input, hidden, output] = file.shape();
    assert_eq!(
        file.parameter_count(),
        input * hidden + hidden + hidden * output + output
    );
    // parse promised at most `output` names, each 1 to 32 bytes.
    let names = file.class_names();
    assert!(names.count() <= output);
    assert_eq!(names.into_iter().count(), names.count());
    assert!(
        names
            .into_iter()
            .all(|n| !n.is_empty() && n.len() <= CLASS_NAME_MAX_LEN)
    );
    if file.element() == ElementType::I8 {
        exercise_i8(&file);
        return;
    }
    for t in Tensor::ALL {
        // parse promised finite weights.
        assert!(file.tensor(t).all(f32::is_finite));
    }

    let mut parameters = vec![0.0f32; file.parameter_count()];
    file.copy_parameters(&mut parameters)
        .expect("a buffer of parameter_count values");
    let slices = file.slices_in(&parameters).expect("same length");
    let x = vec![0.5f32; input];
    let mut scratch = vec![0.0f32; hidden];
    let mut probabilities = vec![0.0f32; output];
    let _ = slices.predict_into(&x, &mut scratch, &mut probabilities);
    if let Ok(borrowed) = file.slices() {
        let _ = borrowed.predict_into(&x, &mut scratch, &mut probabilities);
    }

    // The typed paths only succeed for this shape (the seed corpus has 2-3-2 files).
    if let Ok(view) = file.view::<2, 3, 2>() {
        let _ = view.predict(&[0.5, 0.25]);
    }
    let mut mlp = Box::new(Mlp::<2, 3, 2> {
        hidden: nn_core::Dense {
            weights: Matrix::zeros(),
            bias: Vector::zeros(),
        },
        output: nn_core::Dense {
            weights: Matrix::zeros(),
            bias: Vector::zeros(),
        },
        hidden_activation: nn_core::Activation::Identity,
        output_activation: nn_core::Activation::Identity,
        scaling: nn_core::InputScaling::RAW,
    });
    if file.decode_into(&mut mlp).is_ok() {
        let _ = mlp.as_ref().predict(&[0.5, 0.25]);
    }
}

/// An int8 file: where it can be borrowed (aligned input), the model passes the encoder's own
/// checks, runs on both APIs, and writes back to the same bytes.
fn exercise_i8(file: &ModelFile<'_>) {
    let mut parameters = vec![0.0f32; file.parameter_count()];
    assert!(file.copy_parameters(&mut parameters).is_err());
    assert!(file.slices().is_err());
    let Ok(m) = file.slices_i8() else {
        return;
    };
    m.check().expect("parse checked every int8 value");
    let pixels = vec![200u8; m.input];
    let mut scratch = vec![0i8; m.input + m.hidden + m.output];
    let mut out = vec![0i8; m.output];
    let class = m
        .predict_pixels_into(&pixels, &mut scratch, &mut out)
        .expect("lengths checked by parse");
    assert!(class < m.output.max(1));
    if let Ok(view) = file.view_i8::<2, 3, 2>() {
        let p = view.predict_pixels(&[200, 200]);
        assert_eq!(p.probabilities.as_slice(), out.as_slice());
    }
}
