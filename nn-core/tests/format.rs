//! The model file: exact bytes of a tiny model, round trips, one corruption per error variant,
//! and hostile input that must never panic.

use nn_core::format::{
    self, Aligned, ElementType, HEADER_MAX_LEN, Header, MAGIC, ModelFile, Tensor, VERSION,
};
use nn_core::{Activation, Dense, Error, InputScaling, Matrix, Mlp, Vector};
use proptest::prelude::*;

mod common;
use common::crc32_reference;

#[test]
fn reference_crc_matches_the_published_check_value() {
    assert_eq!(crc32_reference(b"123456789"), 0xCBF4_3926);
}

/// The 2-3-2 network used throughout: sigmoid hidden, softmax out, raw pixel scaling.
fn tiny() -> Mlp<2, 3, 2> {
    Mlp {
        hidden: Dense {
            weights: Matrix([[1.0, -1.0], [0.5, 2.0], [0.0, -0.5]]),
            bias: Vector([0.0, -1.0, 0.5]),
        },
        output: Dense {
            weights: Matrix([[1.0, 0.25, -2.0], [-1.0, 2.0, 0.5]]),
            bias: Vector([0.25, -0.5]),
        },
        hidden_activation: Activation::Sigmoid,
        output_activation: Activation::Softmax,
        scaling: InputScaling::RAW,
    }
}

const ONE: [u8; 4] = [0x00, 0x00, 0x80, 0x3F];
const MINUS_ONE: [u8; 4] = [0x00, 0x00, 0x80, 0xBF];
const HALF: [u8; 4] = [0x00, 0x00, 0x00, 0x3F];
const MINUS_HALF: [u8; 4] = [0x00, 0x00, 0x00, 0xBF];
const TWO: [u8; 4] = [0x00, 0x00, 0x00, 0x40];
const MINUS_TWO: [u8; 4] = [0x00, 0x00, 0x00, 0xC0];
const QUARTER: [u8; 4] = [0x00, 0x00, 0x80, 0x3E];
const ZERO: [u8; 4] = [0x00; 4];

/// `tiny()` as a file, written out field by field.
fn tiny_bytes() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"NNMF"); // magic
    b.push(0x01); // version 1 (varint)
    b.extend_from_slice(&[0x02, 0x03, 0x02]); // input 2, hidden 3, output 2 (varints)
    b.push(0x01); // hidden activation: Sigmoid (variant 1)
    b.push(0x03); // output activation: Softmax (variant 3)
    b.extend_from_slice(&ONE); // scaling.scale = 1.0
    b.extend_from_slice(&ZERO); // scaling.offset = 0.0
    b.push(0x00); // element type: F32 (variant 0)
    assert_eq!(b.len(), 19);
    b.extend_from_slice(&[0; 13]); // padding to 32
    for w in [ONE, MINUS_ONE, HALF, TWO, ZERO, MINUS_HALF] {
        b.extend_from_slice(&w); // W1, row-major
    }
    for w in [ZERO, MINUS_ONE, HALF] {
        b.extend_from_slice(&w); // b1
    }
    for w in [ONE, QUARTER, MINUS_TWO, MINUS_ONE, TWO, HALF] {
        b.extend_from_slice(&w); // W2
    }
    for w in [QUARTER, MINUS_HALF] {
        b.extend_from_slice(&w); // b2
    }
    // zlib.crc32 of the 100 bytes above is 0x2f8e2a95.
    b.extend_from_slice(&[0x95, 0x2A, 0x8E, 0x2F]);
    b
}

/// A 16-byte aligned copy of `bytes` (as firmware gets from `Aligned(include_bytes!(..))`),
/// optionally shifted by `shift` bytes to misalign it on purpose.
struct AlignedBuf {
    buf: Box<Aligned<[u8; 1 << 16]>>,
    shift: usize,
    len: usize,
}

impl AlignedBuf {
    fn new(bytes: &[u8], shift: usize) -> Self {
        let mut buf = Box::new(Aligned([0u8; 1 << 16]));
        buf.0[shift..shift + bytes.len()].copy_from_slice(bytes);
        Self {
            buf,
            shift,
            len: bytes.len(),
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf.0[self.shift..self.shift + self.len]
    }
}

fn encode_tiny() -> Vec<u8> {
    let mlp = tiny();
    let mut out = vec![0u8; 256];
    let n = format::encode_mlp(&mlp.as_ref(), &mut out).unwrap();
    out.truncate(n);
    out
}

#[test]
fn tiny_model_encodes_to_exactly_the_bytes_written_out_by_hand() {
    let expected = tiny_bytes();
    assert_eq!(crc32_reference(&expected[..100]), 0x2F8E_2A95);
    assert_eq!(encode_tiny(), expected);
    let header = Header::for_mlp(&tiny().as_ref()).unwrap();
    assert_eq!(format::encoded_len(&header), Ok(104));
}

#[test]
fn tiny_model_parses_to_its_header_and_tensors() {
    let bytes = tiny_bytes();
    let file = ModelFile::parse(&bytes).unwrap();
    assert_eq!(
        *file.header(),
        Header {
            magic: MAGIC,
            version: VERSION,
            input: 2,
            hidden: 3,
            output: 2,
            hidden_activation: Activation::Sigmoid,
            output_activation: Activation::Softmax,
            scaling: InputScaling::RAW,
            element: ElementType::F32,
        }
    );
    assert_eq!(file.shape(), [2, 3, 2]);
    assert_eq!(file.parameter_count(), 17);
    assert_eq!(file.checksum(), 0x2F8E_2A95);
    assert_eq!(file.weights_offset(), 32);
    assert_eq!(
        file.tensor_bytes(Tensor::B1),
        [ZERO, MINUS_ONE, HALF].concat()
    );
    assert_eq!(
        file.tensor(Tensor::W2).collect::<Vec<_>>(),
        [1.0, 0.25, -2.0, -1.0, 2.0, 0.5]
    );
}

#[test]
fn header_max_len_is_reached_by_the_largest_header() {
    let header = Header {
        version: u16::MAX,
        input: u32::MAX,
        hidden: u32::MAX,
        output: u32::MAX,
        ..Header::for_mlp(&tiny().as_ref()).unwrap()
    };
    assert_eq!(
        postcard::to_allocvec(&header).unwrap().len(),
        HEADER_MAX_LEN
    );
}

#[test]
fn view_and_decode_into_give_back_the_encoded_model() {
    let bytes = encode_tiny();
    let aligned = AlignedBuf::new(&bytes, 0);
    let file = ModelFile::parse(aligned.bytes()).unwrap();
    let original = tiny();

    let view = file.view::<2, 3, 2>().unwrap();
    assert_eq!(view.hidden.weights, &original.hidden.weights.0);
    assert_eq!(view.hidden.bias, &original.hidden.bias.0);
    assert_eq!(view.output.weights, &original.output.weights.0);
    assert_eq!(view.output.bias, &original.output.bias.0);
    assert_eq!(view.hidden_activation, Activation::Sigmoid);
    assert_eq!(view.output_activation, Activation::Softmax);
    // Zero copy: the view points into the file's bytes.
    assert_eq!(
        view.hidden.weights.as_ptr().cast::<u8>(),
        aligned.bytes()[32..].as_ptr()
    );

    let mut decoded = Box::new(Mlp::<2, 3, 2> {
        hidden: Dense {
            weights: Matrix::zeros(),
            bias: Vector::zeros(),
        },
        output: Dense {
            weights: Matrix::zeros(),
            bias: Vector::zeros(),
        },
        hidden_activation: Activation::Identity,
        output_activation: Activation::Identity,
        scaling: InputScaling::UNIT,
    });
    file.decode_into(&mut decoded).unwrap();
    assert_eq!(*decoded, original);
}

#[test]
fn mnist_sized_round_trip_predicts_the_same_everywhere() {
    // Deterministic pseudo-random weights (an LCG), so the test needs no data.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
    };
    let mut mlp = Box::new(Mlp::<784, 16, 10> {
        hidden: Dense {
            weights: Matrix::zeros(),
            bias: Vector::zeros(),
        },
        output: Dense {
            weights: Matrix::zeros(),
            bias: Vector::zeros(),
        },
        hidden_activation: Activation::Relu,
        output_activation: Activation::Softmax,
        scaling: InputScaling::UNIT,
    });
    mlp.hidden.weights.as_mut_slice().fill_with(&mut next);
    mlp.hidden.bias.0.fill_with(&mut next);
    mlp.output.weights.as_mut_slice().fill_with(&mut next);
    mlp.output.bias.0.fill_with(&mut next);

    let header = Header::for_mlp(&Mlp::as_ref(&mlp)).unwrap();
    let mut out = vec![0u8; format::encoded_len(&header).unwrap()];
    let n = format::encode_mlp(&Mlp::as_ref(&mlp), &mut out).unwrap();
    assert_eq!(n, out.len());
    // Header 4+1+2+1+1+1+1+8+1 = 20 bytes, padded to 32; 12730 weights; checksum.
    assert_eq!(n, 32 + 4 * (784 * 16 + 16 + 16 * 10 + 10) + 4);

    let aligned = AlignedBuf::new(&out, 0);
    let file = ModelFile::parse(aligned.bytes()).unwrap();
    let view = file.view::<784, 16, 10>().unwrap();
    let slices = file.slices().unwrap();
    let mut parameters = vec![0.0f32; file.parameter_count()];
    file.copy_parameters(&mut parameters).unwrap();
    let from_vec = file.slices_in(&parameters).unwrap();

    let pixels: [u8; 784] = core::array::from_fn(|i| (i * 37 % 256) as u8);
    let expected = mlp.predict_pixels(&pixels);
    assert_eq!(view.predict_pixels(&pixels), expected);
    let x: [f32; 784] = pixels.map(|p| f32::from(p) / 255.0);
    let mut hidden = [0.0f32; 16];
    for erased in [slices, from_vec] {
        let mut probabilities = [0.0f32; 10];
        let class = erased
            .predict_into(&x, &mut hidden, &mut probabilities)
            .unwrap();
        let direct = mlp.predict(&x).unwrap();
        assert_eq!(class, direct.class);
        assert_eq!(probabilities, direct.probabilities);
    }
}

#[test]
fn tiny_network_matches_a_hand_computation() {
    // x = (1, 2)
    // W1 x + b1 = (1-2+0, 1+4-1, 0-1+0.5)             = (-1, 3.5, -0.5)
    // sigmoid    = (0.26894142, 0.97068777, 0.37754067)
    // W2 h + b2  = (0.26894142 + 0.24267194 - 0.75508134 + 0.25,
    //               -0.26894142 + 1.94137554 + 0.18877033 - 0.5) = (0.00653203, 1.36120445)
    // softmax    = 1 / (1 + e^∓1.35467243)             = (0.20510754, 0.79489246)
    let prediction = tiny().predict(&[1.0, 2.0]).unwrap();
    assert_eq!(prediction.class, 1);
    let expected = [0.205_107_54, 0.794_892_46];
    for (p, e) in prediction.probabilities.iter().zip(expected) {
        assert!((p - e).abs() < 1e-6, "{p} vs {e}");
    }
    let bytes = AlignedBuf::new(&tiny_bytes(), 0);
    let file = ModelFile::parse(bytes.bytes()).unwrap();
    assert_eq!(
        file.view::<2, 3, 2>().unwrap().predict(&[1.0, 2.0]),
        Ok(prediction)
    );
}

fn parse(bytes: &[u8]) -> Result<ModelFile<'_>, Error> {
    ModelFile::parse(bytes)
}

/// `bytes` with its checksum recomputed, so that a later check is the one that fires.
fn with_crc(mut bytes: Vec<u8>) -> Vec<u8> {
    let body = bytes.len() - 4;
    let crc = crc32_reference(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

#[test]
fn wrong_magic_is_bad_magic() {
    let mut bytes = tiny_bytes();
    bytes[0] = b'X';
    assert_eq!(
        parse(&bytes).unwrap_err(),
        Error::BadMagic { found: *b"XNMF" }
    );
    assert_eq!(
        parse(b"PK").unwrap_err(),
        Error::BadMagic {
            found: [b'P', b'K', 0, 0]
        }
    );
}

#[test]
fn version_4_is_unsupported() {
    let mut bytes = tiny_bytes();
    bytes[4] = 4;
    assert_eq!(
        parse(&bytes).unwrap_err(),
        Error::UnsupportedVersion { found: 4 }
    );
    bytes[4] = 0;
    assert_eq!(
        parse(&bytes).unwrap_err(),
        Error::UnsupportedVersion { found: 0 }
    );
}

#[test]
fn unknown_activation_or_element_type_is_a_bad_header() {
    let mut activation = tiny_bytes();
    activation[8] = 6; // one past Tanh
    assert_eq!(parse(&activation).unwrap_err(), Error::BadHeader);
    // Relu6 and Tanh exist, but only from version 3 on; softmax is never a hidden layer's.
    for (offset, tag, layer, found) in [
        (8, 4, 0, Activation::Relu6),
        (9, 5, 1, Activation::Tanh),
        (8, 3, 0, Activation::Softmax),
    ] {
        let mut newer = tiny_bytes();
        newer[offset] = tag;
        assert_eq!(
            parse(&newer).unwrap_err(),
            Error::BadActivation { layer, found },
            "tag {tag} at {offset}"
        );
    }
    let mut element = tiny_bytes();
    element[18] = 1; // one past F32
    assert_eq!(parse(&element).unwrap_err(), Error::BadHeader);
    let mut nan_scale = tiny_bytes();
    nan_scale[10..14].copy_from_slice(&f32::NAN.to_le_bytes()); // scaling.scale
    assert_eq!(parse(&with_crc(nan_scale)).unwrap_err(), Error::BadHeader);
    let mut varint = tiny_bytes();
    // A u16 varint that needs more than three bytes.
    varint[4..8].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0x01]);
    assert_eq!(parse(&varint).unwrap_err(), Error::BadHeader);
}

#[test]
fn a_shape_other_than_the_type_is_a_shape_mismatch() {
    let bytes = AlignedBuf::new(&tiny_bytes(), 0);
    let file = parse(bytes.bytes()).unwrap();
    let mismatch = Error::ShapeMismatch {
        expected: [2, 4, 2],
        found: [2, 3, 2],
    };
    assert_eq!(file.view::<2, 4, 2>().unwrap_err(), mismatch);
    let mut mlp = Box::new(tiny_with_hidden_4());
    let before = tiny_with_hidden_4();
    assert_eq!(file.decode_into(&mut mlp).unwrap_err(), mismatch);
    assert_eq!(*mlp, before);
}

fn tiny_with_hidden_4() -> Mlp<2, 4, 2> {
    Mlp {
        hidden: Dense {
            weights: Matrix([[7.0; 2]; 4]),
            bias: Vector([7.0; 4]),
        },
        output: Dense {
            weights: Matrix([[7.0; 4]; 2]),
            bias: Vector([7.0; 2]),
        },
        hidden_activation: Activation::Relu,
        output_activation: Activation::Identity,
        scaling: InputScaling::UNIT,
    }
}

#[test]
fn truncation_anywhere_is_truncated() {
    let bytes = tiny_bytes();
    // Inside the magic and the header, only "at least one more byte" is known.
    for len in [0, 2, 4, 5, 7, 10, 18] {
        assert_eq!(
            parse(&bytes[..len]).unwrap_err(),
            Error::Truncated {
                needed: len + 1,
                found: len
            },
            "cut at {len}"
        );
    }
    // Once the header is read, the full length is.
    for len in [19, 25, 32, 50, 100, 103] {
        assert_eq!(
            parse(&bytes[..len]).unwrap_err(),
            Error::Truncated {
                needed: 104,
                found: len
            },
            "cut at {len}"
        );
    }
}

#[test]
fn a_byte_after_the_checksum_is_trailing() {
    let mut bytes = tiny_bytes();
    bytes.push(0);
    assert_eq!(
        parse(&bytes).unwrap_err(),
        Error::TrailingBytes {
            expected: 104,
            found: 105
        }
    );
}

#[test]
fn non_zero_padding_is_reported_before_the_checksum() {
    let mut bytes = tiny_bytes();
    bytes[25] = 1;
    assert_eq!(
        parse(&bytes).unwrap_err(),
        Error::NonZeroPadding { offset: 25 }
    );
}

#[test]
fn a_flipped_weight_bit_is_a_bad_checksum() {
    let mut bytes = tiny_bytes();
    bytes[60] ^= 0x01;
    assert_eq!(
        parse(&bytes).unwrap_err(),
        Error::BadChecksum {
            stored: 0x2F8E_2A95,
            computed: crc32_reference(&bytes[..100])
        }
    );
}

#[test]
fn a_nan_weight_under_a_valid_checksum_is_named() {
    let mut bytes = tiny_bytes();
    // W2 starts after W1 (6) and b1 (3): index 1 of W2 is weight 10, at byte 32 + 40.
    bytes[72..76].copy_from_slice(&f32::NAN.to_le_bytes());
    assert_eq!(
        parse(&with_crc(bytes)).unwrap_err(),
        Error::NonFiniteWeight {
            tensor: Tensor::W2,
            index: 1
        }
    );
    let mut bytes = tiny_bytes();
    bytes[32 + 4 * 16..32 + 4 * 17].copy_from_slice(&f32::NEG_INFINITY.to_le_bytes());
    assert_eq!(
        parse(&with_crc(bytes)).unwrap_err(),
        Error::NonFiniteWeight {
            tensor: Tensor::B2,
            index: 1
        }
    );
}

#[test]
fn sizes_that_overflow_are_too_large_not_a_panic() {
    let hostile = |input, hidden, output| {
        let header = Header {
            input,
            hidden,
            output,
            ..Header::for_mlp(&tiny().as_ref()).unwrap()
        };
        let mut bytes = postcard::to_allocvec(&header).unwrap();
        bytes.resize(64, 0);
        bytes
    };
    // 2^32 × 2^32 weights, four bytes each: more than any usize.
    let bytes = hostile(u32::MAX, u32::MAX, 1);
    assert_eq!(parse(&bytes).unwrap_err(), Error::TooLarge);
    assert_eq!(
        parse(&hostile(u32::MAX, u32::MAX, u32::MAX)).unwrap_err(),
        Error::TooLarge
    );
    // Large but representable: an honest truncation.
    // Header 4+1+3+3+1+1+1+8+1 = 23 bytes, padded to 32.
    assert_eq!(
        parse(&hostile(1 << 20, 1 << 20, 1)).unwrap_err(),
        Error::Truncated {
            needed: 32 + 4 * ((1 << 40) + (1 << 20) + (1 << 20) + 1) + 4,
            found: 64
        }
    );
    assert_eq!(
        format::encoded_len(&Header {
            input: u32::MAX,
            hidden: u32::MAX,
            ..Header::for_mlp(&tiny().as_ref()).unwrap()
        }),
        Err(Error::TooLarge)
    );
}

#[test]
fn a_misaligned_buffer_parses_and_copies_but_cannot_be_borrowed() {
    let shifted = AlignedBuf::new(&tiny_bytes(), 1);
    let file = parse(shifted.bytes()).unwrap();
    assert_eq!(file.view::<2, 3, 2>().unwrap_err(), Error::Misaligned);
    assert_eq!(file.slices().unwrap_err(), Error::Misaligned);
    let mut mlp = Box::new(tiny());
    mlp.hidden.bias.0 = [9.0; 3];
    file.decode_into(&mut mlp).unwrap();
    assert_eq!(*mlp, tiny());
}

#[test]
fn encode_rejects_what_parse_would() {
    let mlp = tiny();
    let header = Header::for_mlp(&mlp.as_ref()).unwrap();
    let r = mlp.as_ref();
    let w1 = r.hidden.weights.as_flattened();
    let w2 = r.output.weights.as_flattened();
    let mut out = [0u8; 104];

    assert_eq!(
        format::encode(&header, [w1, &[0.0; 2], w2, r.output.bias], &mut out),
        Err(Error::LengthMismatch {
            tensor: Some(Tensor::B1),
            expected: 3,
            found: 2
        })
    );
    let mut w2_nan = [0.0f32; 6];
    w2_nan[4] = f32::INFINITY;
    assert_eq!(
        format::encode(
            &header,
            [w1, r.hidden.bias, &w2_nan, r.output.bias],
            &mut out
        ),
        Err(Error::NonFiniteWeight {
            tensor: Tensor::W2,
            index: 4
        })
    );
    assert_eq!(
        format::encode(
            &header,
            [w1, r.hidden.bias, w2, r.output.bias],
            &mut out[..103]
        ),
        Err(Error::BufferTooSmall {
            needed: 104,
            found: 103
        })
    );
    let infinite_offset = Header {
        scaling: InputScaling {
            scale: 1.0,
            offset: f32::INFINITY,
        },
        ..header
    };
    assert_eq!(
        format::encode(
            &infinite_offset,
            [w1, r.hidden.bias, w2, r.output.bias],
            &mut out
        ),
        Err(Error::BadHeader)
    );
    let v2 = Header {
        version: 2,
        ..header
    };
    assert_eq!(
        format::encode(&v2, [w1, r.hidden.bias, w2, r.output.bias], &mut out),
        Err(Error::UnsupportedVersion { found: 2 })
    );
    assert_eq!(
        format::encode(&header, [w1, r.hidden.bias, w2, r.output.bias], &mut out),
        Ok(104)
    );
    assert_eq!(out.as_slice(), tiny_bytes());
}

#[test]
fn slices_reject_wrong_lengths() {
    let bytes = AlignedBuf::new(&tiny_bytes(), 0);
    let file = parse(bytes.bytes()).unwrap();
    assert_eq!(
        file.copy_parameters(&mut [0.0; 16]),
        Err(Error::LengthMismatch {
            tensor: None,
            expected: 17,
            found: 16
        })
    );
    let slices = file.slices().unwrap();
    let (mut hidden, mut out) = ([0.0; 3], [0.0; 2]);
    assert_eq!(
        slices.predict_into(&[1.0], &mut hidden, &mut out),
        Err(Error::LengthMismatch {
            tensor: None,
            expected: 2,
            found: 1
        })
    );
    assert_eq!(
        slices.predict_into(&[1.0, f32::NAN], &mut hidden, &mut out),
        Err(Error::NonFiniteInput)
    );
    let short_b2 = nn_core::MlpSlices {
        b2: &[0.0],
        ..slices
    };
    assert_eq!(
        short_b2.predict_into(&[1.0, 2.0], &mut hidden, &mut out),
        Err(Error::LengthMismatch {
            tensor: Some(Tensor::B2),
            expected: 2,
            found: 1
        })
    );
}

#[test]
fn a_model_with_no_inputs_views_without_panicking() {
    let header = Header::new(
        [0, 3, 2],
        Activation::Relu,
        Activation::Identity,
        InputScaling::RAW,
    )
    .unwrap();
    let mut out = [0u8; 128];
    let b1 = [1.0, 2.0, 3.0];
    let w2 = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0];
    let n = format::encode(&header, [&[], &b1, &w2, &[0.5, 0.25]], &mut out).unwrap();
    // Header 19 bytes, padded to 32; 3 + 6 + 2 weights; checksum.
    assert_eq!(n, 32 + 4 * 11 + 4);
    let aligned = AlignedBuf::new(&out[..n], 0);
    let file = ModelFile::parse(aligned.bytes()).unwrap();
    let view = file.view::<0, 3, 2>().unwrap();
    assert_eq!(view.hidden.bias, &b1);
    assert_eq!(view.output.bias, &[0.5, 0.25]);
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = ModelFile::parse(&bytes);
        // The same behind a valid magic and version, to get past the first checks.
        let mut prefixed = b"NNMF\x01".to_vec();
        prefixed.extend_from_slice(&bytes);
        if let Ok(file) = ModelFile::parse(&prefixed) {
            let _ = file.view::<2, 3, 2>();
        }
    }

    #[test]
    fn any_single_byte_change_is_caught(index in 0usize..104, xor in 1u8..=255) {
        let mut bytes = tiny_bytes();
        bytes[index] ^= xor;
        prop_assert!(ModelFile::parse(&bytes).is_err());
    }

    #[test]
    fn mutated_files_never_panic(
        edits in proptest::collection::vec((0usize..120, any::<u8>(), 0u8..3), 1..8)
    ) {
        let mut bytes = tiny_bytes();
        for (at, byte, kind) in edits {
            let at = at.min(bytes.len());
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ => bytes.truncate(at),
            }
        }
        let aligned = AlignedBuf::new(&bytes, 0);
        if let Ok(file) = ModelFile::parse(aligned.bytes()) {
            if let Ok(view) = file.view::<2, 3, 2>() {
                let _ = view.predict(&[0.5, -0.5]);
            }
            let _ = file.slices();
        }
    }
}

/// A host that kept only the header and a `Vec<f32>` gets the same network back, and a
/// buffer of the wrong length is refused, not split at the wrong places.
#[test]
fn header_slices_in_splits_the_parameters_and_checks_their_length() {
    let header = Header::new(
        [2, 3, 2],
        Activation::Sigmoid,
        Activation::Softmax,
        InputScaling::RAW,
    )
    .unwrap();
    let parameters: Vec<f32> = (0..17).map(|i| i as f32).collect();
    let m = header.slices_in(&parameters).unwrap();
    assert_eq!((m.input, m.hidden, m.output), (2, 3, 2));
    assert_eq!(m.w1, &parameters[0..6]);
    assert_eq!(m.b1, &parameters[6..9]);
    assert_eq!(m.w2, &parameters[9..15]);
    assert_eq!(m.b2, &parameters[15..17]);
    assert_eq!(
        header.slices_in(&parameters[..16]).err(),
        Some(Error::LengthMismatch {
            tensor: None,
            expected: 17,
            found: 16
        })
    );
}
