//! The decoder's limits (`ModelFile::parse`): a shape that is a classifier, and weights and
//! scaling small enough that no 0–255 image can drive an activation to infinity. Files
//! exactly at the bound are accepted and give finite outputs; just past it, refused with the
//! tensor and row named.

use nn_core::format::{Header, MAX_ACTIVATION, ModelFile, Tensor, encode, encoded_len};
use nn_core::{Activation, Error, InputScaling};

/// A model of `shape` whose every W1 entry is `w1`, W2 entry `w2`, biases 0.
fn file(shape: [usize; 3], hidden: Activation, scaling: InputScaling, w1: f32, w2: f32) -> Vec<u8> {
    let header = Header::new(shape, hidden, Activation::Softmax, scaling).unwrap();
    let [i, h, o] = shape;
    let mut out = vec![0u8; encoded_len(&header).unwrap()];
    let n = encode(
        &header,
        [
            &vec![w1; h * i],
            &vec![0.0; h],
            &vec![w2; o * h],
            &vec![0.0; o],
        ],
        &mut out,
    )
    .unwrap();
    out.truncate(n);
    out
}

/// Probabilities for an all-`pixel` image.
fn outputs(bytes: &[u8], pixel: u8) -> Vec<f32> {
    let file = ModelFile::parse(bytes).unwrap();
    let [i, h, o] = file.shape();
    let mut params = vec![0.0; file.parameter_count()];
    file.copy_parameters(&mut params).unwrap();
    let mlp = file.slices_in(&params).unwrap();
    let x = vec![f32::from(pixel) * mlp.scaling.scale + mlp.scaling.offset; i];
    let (mut hidden, mut p) = (vec![0.0; h], vec![0.0; o]);
    mlp.predict_into(&x, &mut hidden, &mut p).unwrap();
    p
}

#[test]
fn shapes_that_are_not_classifiers_are_refused() {
    for shape in [[2, 0, 2], [2, 3, 0], [2, 3, 1], [0, 0, 0]] {
        let bytes = file(shape, Activation::Relu, InputScaling::RAW, 0.5, 0.5);
        assert_eq!(
            ModelFile::parse(&bytes).unwrap_err(),
            Error::BadShape { shape },
            "{shape:?}"
        );
    }
    assert!(
        ModelFile::parse(&file(
            [1, 1, 2],
            Activation::Relu,
            InputScaling::RAW,
            1.0,
            1.0
        ))
        .is_ok()
    );
}

#[test]
fn scaling_that_can_overflow_is_refused() {
    let huge = InputScaling {
        scale: 3e38,
        offset: 0.0,
    };
    let bytes = file([2, 3, 2], Activation::Relu, huge, 0.0, 0.0);
    assert_eq!(
        ModelFile::parse(&bytes).unwrap_err(),
        Error::ScalingTooLarge
    );
    let offset = InputScaling {
        scale: 0.0,
        offset: 2.0 * MAX_ACTIVATION,
    };
    let bytes = file([2, 3, 2], Activation::Relu, offset, 0.0, 0.0);
    assert_eq!(
        ModelFile::parse(&bytes).unwrap_err(),
        Error::ScalingTooLarge
    );
}

#[test]
fn weights_at_the_bound_pass_and_give_finite_outputs_past_it_fail() {
    // Raw pixels: |x| <= 255; 4 inputs; W1 entries w: |pre-activation| <= 4 * 255 * w.
    let at = MAX_ACTIVATION / (4.0 * 255.0) * 0.99;
    let bytes = file([4, 2, 3], Activation::Relu, InputScaling::RAW, at, 0.0);
    for pixel in [0, 255] {
        assert!(outputs(&bytes, pixel).iter().all(|p| p.is_finite()));
    }
    let past = MAX_ACTIVATION / (4.0 * 255.0) * 1.01;
    let bytes = file([4, 2, 3], Activation::Relu, InputScaling::RAW, past, 0.0);
    assert_eq!(
        ModelFile::parse(&bytes).unwrap_err(),
        Error::MayOverflow {
            tensor: Tensor::W1,
            row: 0
        }
    );

    // Through W2: ReLU passes the hidden bound on; sigmoid caps it at 1.
    let w1 = 1.0 / 255.0;
    let big = MAX_ACTIVATION / 2.0;
    let relu = file([4, 2, 3], Activation::Relu, InputScaling::RAW, w1, big);
    assert_eq!(
        ModelFile::parse(&relu).unwrap_err(),
        Error::MayOverflow {
            tensor: Tensor::W2,
            row: 0
        }
    );
    let sigmoid = file(
        [4, 2, 3],
        Activation::Sigmoid,
        InputScaling::RAW,
        w1,
        big * 0.99,
    );
    for pixel in [0, 255] {
        assert!(outputs(&sigmoid, pixel).iter().all(|p| p.is_finite()));
    }
}

#[test]
fn the_errors_name_what_is_wrong() {
    let text = Error::MayOverflow {
        tensor: Tensor::W2,
        row: 7,
    }
    .to_string();
    assert!(text.starts_with("W2 row 7"), "{text}");
    let text = Error::BadShape {
        shape: [784, 0, 10],
    }
    .to_string();
    assert!(text.contains("784-0-10"), "{text}");
}
