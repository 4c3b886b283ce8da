//! `MlpI8Packed` against `MlpI8`: the two int8 models the firmware ships, their layers packed
//! as the host packs them at load, give the same bits as the plain layers on the first 100
//! MNIST test images (real digits: the packed kernel skips their black quads) and on
//! images of every pixel value; and a buffer of the wrong length is an error, not a panic.

use nn_core::format::ModelFile;
use nn_core::{Error, MlpI8, MlpI8Packed};

const MODELS: [&str; 2] = ["mcu-int8.nnm", "seed-int8.nnm"];

fn firmware_file(path: &str) -> Vec<u8> {
    let path = format!("{}/../firmware/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `bytes` in 16-byte aligned memory, as the model file's arrays need.
fn aligned(bytes: &[u8]) -> Vec<u128> {
    let mut words = vec![0u128; bytes.len().div_ceil(16)];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks(16)) {
        let mut b = [0u8; 16];
        b[..chunk.len()].copy_from_slice(chunk);
        *word = u128::from_ne_bytes(b);
    }
    words
}

fn model(words: &[u128], len: usize) -> MlpI8<'_> {
    // Safety: `words` is `16 * words.len() ≥ len` initialised bytes.
    let bytes = unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), len) };
    ModelFile::parse(bytes).unwrap().slices_i8().unwrap()
}

/// The class and the int8 softmax output, from either model.
fn outputs(
    predict: impl Fn(&[u8], &mut [i8], &mut [i8]) -> Result<usize, Error>,
    m: &MlpI8<'_>,
    pixels: &[u8],
) -> (usize, Vec<i8>) {
    let mut scratch = vec![0x55; m.input + m.hidden + m.output];
    let mut out = vec![0x55; m.output];
    let class = predict(pixels, &mut scratch, &mut out).unwrap();
    (class, out)
}

#[test]
fn packed_models_give_the_plain_models_bits() {
    let images = firmware_file("data/t10k-100-images.bin");
    assert_eq!(images.len(), 100 * 784);
    // Beside the digits: every pixel value, flat images, and black with a few lit pixels.
    let mut extra: Vec<Vec<u8>> = (0..=255u8).step_by(15).map(|v| vec![v; 784]).collect();
    extra.push((0..784).map(|i| (i * 7 % 256) as u8).collect());
    extra.push(
        (0..784)
            .map(|i| if i % 97 == 3 { 255 } else { 0 })
            .collect(),
    );
    for name in MODELS {
        let bytes = firmware_file(&format!("models/{name}"));
        let words = aligned(&bytes);
        let m = model(&words, bytes.len());
        let mut buf = vec![0; m.packed_len()];
        m.pack(&mut buf).unwrap();
        let packed = MlpI8Packed::new(m, &buf).unwrap();
        for pixels in images.chunks(784).chain(extra.iter().map(Vec::as_slice)) {
            let plain = outputs(|p, s, o| m.predict_pixels_into(p, s, o), &m, pixels);
            let fast = outputs(|p, s, o| packed.predict_pixels_into(p, s, o), &m, pixels);
            assert_eq!(fast, plain, "{name}");
        }
    }
}

#[test]
fn a_buffer_of_the_wrong_length_is_an_error() {
    let bytes = firmware_file("models/mcu-int8.nnm");
    let words = aligned(&bytes);
    let m = model(&words, bytes.len());
    let len = m.packed_len();
    for wrong in [0, len - 1, len + 1] {
        let mut buf = vec![0; wrong];
        assert!(matches!(
            m.pack(&mut buf),
            Err(Error::LengthMismatch { expected, found, .. }) if expected == len && found == wrong
        ));
        assert!(matches!(
            MlpI8Packed::new(m, &buf),
            Err(Error::LengthMismatch { .. })
        ));
    }
}
