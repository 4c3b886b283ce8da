//! Any bytes given to the model-file decoder (versions 1, 2 and 3): `ModelFile::parse` must
//! answer with a typed error or a file whose every accessor works without panicking: its
//! `Model` (any depth, f32 or int8) passes `Model::check`, runs on pixels, f32 and int8 inputs
//! with finite outputs for any pixels (the decoder's bounds), packed int8 gives the plain
//! bytes, and `encode_model` writes it back as a file that reads as the same model; at depth 2
//! also the two-layer accessors (tensors, size-erased inference, zero-copy view, decode into an
//! owned model, the int8 `MlpI8`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_core::format::{self, CLASS_NAME_MAX_LEN, ElementType, ModelFile, Tensor, VERSION_3};
use nn_core::network::Model;
use nn_core::{Error, Matrix, Mlp, Vector};

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
    // parse promised at most `output` names (in version 3 none or all), each 1 to 32 bytes.
    let names = file.class_names();
    assert!(names.count() <= output);
    if file.version() == VERSION_3 {
        assert!(names.count() == 0 || names.count() == output);
    }
    assert_eq!(names.into_iter().count(), names.count());
    assert!(
        names
            .into_iter()
            .all(|n| !n.is_empty() && n.len() <= CLASS_NAME_MAX_LEN)
    );
    match file.model() {
        Ok(model) => exercise_model(&file, &model),
        // Only an unaligned f32 or int8 array may stop the zero-copy view.
        Err(e) => assert_eq!(e, Error::Misaligned),
    }
    if file.depth() != 2 {
        assert_eq!(
            file.slices().map(|_| ()).unwrap_err(),
            expected_two_layer(&file)
        );
        return;
    }
    assert_eq!(
        file.parameter_count(),
        input * hidden + hidden + hidden * output + output
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

/// What the two-layer f32 accessors say of a file of another depth.
fn expected_two_layer(file: &ModelFile<'_>) -> Error {
    match file.element() {
        ElementType::F32 => Error::NotTwoLayer,
        ElementType::I8 => Error::ElementMismatch {
            expected: ElementType::F32,
            found: ElementType::I8,
        },
    }
}

/// Every layer of `a` equals `b`'s, and so do the model's fields (weights by value).
fn same_model(a: &Model<'_>, b: &Model<'_>) -> bool {
    match (a, b) {
        (Model::F32(a), Model::F32(b)) => {
            a.layers.iter().eq(b.layers.iter()) && a.softmax == b.softmax && a.scaling == b.scaling
        }
        (Model::I8(a), Model::I8(b)) => {
            a.layers.iter().eq(b.layers.iter())
                && (a.input, a.softmax, a.scaling) == (b.input, b.softmax, b.scaling)
        }
        _ => false,
    }
}

/// The model of an accepted file: checked, runnable with finite outputs, packable, and
/// written back by `encode_model` as a file that reads as the same model, in the same or an
/// older version.
fn exercise_model(file: &ModelFile<'_>, model: &Model<'_>) {
    model
        .check()
        .expect("parse checked what Model::check checks");
    assert_eq!(model.depth(), file.depth());
    let [input, _, output] = file.shape();
    assert_eq!((model.inputs(), model.outputs()), (input, output));

    let mut scratch = vec![0.0f32; model.scratch_len()];
    let mut out = vec![0.0f32; output];
    // parse promised finite outputs for any 0-255 pixels: all-black and all-white images,
    // and a checkerboard of both (for f32, through the file's own scaling).
    for pattern in [[0u8, 0], [255, 255], [0, 255]] {
        let pixels: Vec<u8> = (0..input).map(|i| pattern[i % 2]).collect();
        model
            .predict_pixels(&pixels, &mut scratch, &mut out)
            .expect("pixels of the model's size");
        assert!(out.iter().all(|p| p.is_finite()), "{out:?}");
    }
    let x = vec![0.5f32; input];
    model
        .predict(&x, &mut scratch, &mut out)
        .expect("finite inputs of the model's size");
    if let Model::I8(m) = model {
        let q: Vec<i8> = (0..input).map(|i| (i * 37 % 256) as u8 as i8).collect();
        let mut plain = vec![0i8; output];
        model
            .predict_i8(&q, &mut scratch, &mut plain)
            .expect("int8 inputs of the model's size");
        let mut packed = vec![0i32; m.packed_len()];
        m.pack(&mut packed).expect("a buffer of packed_len words");
        let with_packed = Model::I8(nn_core::network::ModelI8 {
            packed: &packed,
            ..*m
        });
        let mut fast = vec![0i8; output];
        with_packed
            .predict_i8(&q, &mut scratch, &mut fast)
            .expect("the same model, packed");
        assert_eq!(fast, plain);
    }

    let names: Vec<&str> = file.class_names().into_iter().collect();
    let len = format::encoded_len_model(model, &names).expect("an accepted model encodes");
    let mut again = vec![0u32; len.div_ceil(4)];
    let again: &mut [u8] = bytemuck::cast_slice_mut(&mut again);
    let written = format::encode_model(model, &names, &mut again[..len])
        .expect("an accepted model encodes")
        .len();
    let reread = ModelFile::parse(&again[..written]).expect("encode_model parses what it writes");
    assert!(reread.version() <= file.version());
    let remodel = reread.model().expect("aligned");
    assert!(same_model(model, &remodel));
    assert!(reread.class_names().into_iter().eq(names.iter().copied()));
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
