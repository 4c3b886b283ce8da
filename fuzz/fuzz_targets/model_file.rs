//! Any bytes given to the model-file decoder: `ModelFile::parse` must answer with a typed
//! error or a file whose every accessor (tensors, size-erased inference, zero-copy view,
//! decode into an owned model) works without panicking, and whose outputs are finite for
//! any pixels (the decoder's activation bounds).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_core::format::{ModelFile, Tensor};
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
    // parse promised finite outputs for any 0-255 pixels: all-black and all-white images,
    // and a checkerboard of both, through the file's own scaling.
    let s = slices.scaling;
    for pattern in [[0u8, 0], [255, 255], [0, 255]] {
        let x: Vec<f32> = (0..input)
            .map(|i| f32::from(pattern[i % 2]) * s.scale + s.offset)
            .collect();
        slices
            .predict_into(&x, &mut scratch, &mut probabilities)
            .expect("finite pixels into an accepted model");
        assert!(
            probabilities.iter().all(|p| p.is_finite()),
            "{probabilities:?}"
        );
    }
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
