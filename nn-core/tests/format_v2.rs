//! Model file version 2: class names and int8 models. Exact bytes of a tiny int8 file, round
//! trips, one corruption per new error variant, and int8 inference against a straightforward
//! i64 reference read from the file's fields.

use nn_core::format::{
    self, Aligned, ElementType, Header, ModelFile, QuantTensor, Tensor, VERSION, VERSION_2,
};
use nn_core::kernels;
use nn_core::model_i8::{DenseI8, MlpI8, TensorQuant};
use nn_core::quant::{DenseI8Params, Requant, SoftmaxI8Params};
use nn_core::{Activation, Error, InputScaling};
use proptest::prelude::*;

mod common;
use common::crc32_reference;

const W1: [i8; 6] = [127, -127, 64, 32, 0, -5];
const B1: [i32; 3] = [100, -200, 0];
const R1: [Requant; 3] = [
    Requant {
        multiplier: 1 << 30,
        shift: -8,
    },
    Requant {
        multiplier: 0x5000_0000,
        shift: -7,
    },
    Requant {
        multiplier: 0x7FFF_FFFF,
        shift: -6,
    },
];
const S1: [f32; 3] = [0.01, 0.02, 0.03];
const W2: [i8; 6] = [10, -20, 30, -127, 127, 1];
const B2: [i32; 2] = [5, -5];
const R2: [Requant; 2] = [
    Requant {
        multiplier: 1 << 30,
        shift: -6,
    },
    Requant {
        multiplier: 0x6000_0000,
        shift: -5,
    },
];
const S2: [f32; 2] = [0.5, 0.25];
/// `SoftmaxI8Params::from_input_scale(0.1)`, worked out by hand: 0.1f32 · 2²⁶ = 6710886.5 =
/// 0.80000001 · 2²³, so the multiplier is round(0.80000001 · 2³¹) = 0x66666680 with shift 23,
/// and diff_min = −floor(31 · 2²⁶ / 2²³) = −248.
const SOFTMAX: SoftmaxI8Params = SoftmaxI8Params {
    input_multiplier: 0x6666_6680,
    input_left_shift: 23,
    diff_min: -248,
};

/// A 2-3-2 int8 model: ReLU hidden, pixels scaled to 0–1.
fn tiny_i8() -> MlpI8<'static> {
    MlpI8 {
        input: 2,
        hidden: 3,
        output: 2,
        hidden_activation: Activation::Relu,
        scaling: InputScaling::UNIT,
        input_quant: TensorQuant {
            scale: 1.0 / 255.0,
            zero_point: -128,
        },
        hidden_quant: TensorQuant {
            scale: 0.05,
            zero_point: -128,
        },
        logits_quant: TensorQuant {
            scale: 0.1,
            zero_point: 3,
        },
        softmax: SOFTMAX,
        layer1: DenseI8 {
            weights: &W1,
            bias: &B1,
            requant: &R1,
            weight_scales: &S1,
        },
        layer2: DenseI8 {
            weights: &W2,
            bias: &B2,
            requant: &R2,
            weight_scales: &S2,
        },
        sigmoid_table: &[],
    }
}

const NAMES: [&str; 2] = ["cat", "dog"];

fn f32_le(v: f32) -> [u8; 4] {
    v.to_le_bytes()
}

/// `tiny_i8()` with the names "cat" and "dog", written out field by field.
fn tiny_i8_bytes() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"NNMF"); // magic
    b.push(0x02); // version 2
    b.extend_from_slice(&[0x02, 0x03, 0x02]); // input 2, hidden 3, output 2
    b.push(0x02); // hidden activation: Relu
    b.push(0x03); // output activation: Softmax
    b.extend_from_slice(&[0x81, 0x80, 0x80, 0x3B]); // scaling.scale = 1/255
    b.extend_from_slice(&[0; 4]); // scaling.offset = 0
    b.push(0x01); // element type: I8
    assert_eq!(b.len(), 19);
    b.push(0x02); // two class names
    b.extend_from_slice(b"\x03cat\x03dog"); // each: varint length, UTF-8
    // Quantisation header: (scale f32, zero point zigzag varint) for input, hidden, logits.
    b.extend_from_slice(&[0x81, 0x80, 0x80, 0x3B, 0xFF, 0x01]); // 1/255, -128
    b.extend_from_slice(&[0xCD, 0xCC, 0x4C, 0x3D, 0xFF, 0x01]); // 0.05, -128
    b.extend_from_slice(&[0xCD, 0xCC, 0xCC, 0x3D, 0x06]); // 0.1, 3
    b.extend_from_slice(&[0x80, 0x9A, 0xB3, 0xE6, 0x0C]); // softmax multiplier 0x66666680
    b.push(0x2E); // softmax left shift 23
    b.extend_from_slice(&[0xEF, 0x03]); // softmax diff_min -248
    b.extend_from_slice(&[0x03, 0x02]); // channels: 3, 2
    assert_eq!(b.len(), 55);
    b.extend_from_slice(&[0; 9]); // padding to 64
    for v in B1 {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for r in R1 {
        b.extend_from_slice(&r.multiplier.to_le_bytes());
        b.extend_from_slice(&r.shift.to_le_bytes());
    }
    for s in S1 {
        b.extend_from_slice(&f32_le(s));
    }
    for v in B2 {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for r in R2 {
        b.extend_from_slice(&r.multiplier.to_le_bytes());
        b.extend_from_slice(&r.shift.to_le_bytes());
    }
    for s in S2 {
        b.extend_from_slice(&f32_le(s));
    }
    assert_eq!(b.len(), 64 + 16 * 5); // 16 bytes per channel: W1 starts 16-byte aligned
    b.extend(W1.iter().map(|&w| w as u8));
    b.extend(W2.iter().map(|&w| w as u8));
    // zlib.crc32 of the 156 bytes above.
    b.extend_from_slice(&0x7984_A007u32.to_le_bytes());
    b
}

/// A 16-byte aligned copy, as firmware gets from `Aligned(*include_bytes!(..))`.
fn aligned(bytes: &[u8]) -> Box<Aligned<[u8; 4096]>> {
    let mut buf = Box::new(Aligned([0u8; 4096]));
    buf.0[..bytes.len()].copy_from_slice(bytes);
    buf
}

fn encode_i8(m: &MlpI8<'_>, names: &[&str]) -> Result<Vec<u8>, Error> {
    let mut out = vec![0u8; format::encoded_len_i8(m, names)?];
    let n = format::encode_i8(m, names, &mut out)?;
    assert_eq!(n, out.len());
    Ok(out)
}

/// `bytes` with its checksum recomputed, so that a later check is the one that fires.
fn with_crc(mut bytes: Vec<u8>) -> Vec<u8> {
    let body = bytes.len() - 4;
    let crc = crc32_reference(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

#[test]
fn the_softmax_parameters_are_tflites_for_scale_0_1() {
    assert_eq!(SoftmaxI8Params::from_input_scale(0.1), Some(SOFTMAX));
}

#[test]
fn tiny_int8_model_encodes_to_exactly_the_bytes_written_out_by_hand() {
    let expected = tiny_i8_bytes();
    assert_eq!(crc32_reference(&expected[..156]), 0x7984_A007);
    assert_eq!(encode_i8(&tiny_i8(), &NAMES).unwrap(), expected);
    assert_eq!(format::encoded_len_i8(&tiny_i8(), &NAMES), Ok(160));
}

#[test]
fn tiny_int8_model_parses_and_borrows_in_place() {
    let bytes = aligned(&tiny_i8_bytes());
    let file = ModelFile::parse(&bytes.0[..160]).unwrap();
    assert_eq!(file.header().version, VERSION_2);
    assert_eq!(file.element(), ElementType::I8);
    assert_eq!(file.shape(), [2, 3, 2]);
    assert_eq!(file.weights_offset(), 64);
    assert_eq!(file.class_names().into_iter().collect::<Vec<_>>(), NAMES);
    assert_eq!(file.class_names().count(), 2);
    assert_eq!(file.class_names().get(1), Some("dog"));
    assert_eq!(
        file.tensor_bytes(Tensor::B2),
        [5, 0, 0, 0, 0xFB, 0xFF, 0xFF, 0xFF]
    );
    assert_eq!(
        file.tensor(Tensor::W1).count(),
        0,
        "no f32 values in an int8 file"
    );
    let q = *file.quant_header().unwrap();
    assert_eq!(
        q.logits,
        TensorQuant {
            scale: 0.1,
            zero_point: 3
        }
    );
    assert_eq!((q.hidden_channels, q.output_channels), (3, 2));

    let m = file.slices_i8().unwrap();
    let original = tiny_i8();
    assert_eq!(m.layer1, original.layer1);
    assert_eq!(m.layer2, original.layer2);
    assert_eq!(m.softmax, SOFTMAX);
    assert_eq!(
        (m.input_quant, m.hidden_quant, m.logits_quant),
        (
            original.input_quant,
            original.hidden_quant,
            original.logits_quant
        )
    );
    // Zero copy: W1 lies in the file's bytes, at 64 + 16 per channel.
    assert_eq!(
        m.layer1.weights.as_ptr().cast::<u8>(),
        bytes.0[64 + 80..].as_ptr()
    );
    // f32 accessors refuse, by name.
    let mismatch = Error::ElementMismatch {
        expected: ElementType::F32,
        found: ElementType::I8,
    };
    assert_eq!(file.slices().unwrap_err(), mismatch);
    assert_eq!(file.view::<2, 3, 2>().unwrap_err(), mismatch);
    assert_eq!(file.copy_parameters(&mut [0.0; 17]), Err(mismatch));
    // A shifted copy parses but cannot be borrowed.
    let mut shifted = Box::new(Aligned([0u8; 4096]));
    shifted.0[1..161].copy_from_slice(&tiny_i8_bytes());
    let file = ModelFile::parse(&shifted.0[1..161]).unwrap();
    assert_eq!(file.slices_i8().unwrap_err(), Error::Misaligned);
}

/// The int8 forward pass written from the TFLite definitions with i64 sums, from the raw
/// fields: `q = pixel − 128`, each layer `clamp(zp_out + requant(b + Σ w (x − zp_in)))`, ReLU
/// as the clamp at the hidden zero point, then softmax; the class is the first largest logit.
fn reference(m: &MlpI8<'_>, pixels: &[u8]) -> (usize, Vec<i8>, Vec<i8>) {
    let dense = |l: &DenseI8<'_>, x: &[i8], zp_in: i32, zp_out: i32, min: i32| -> Vec<i8> {
        (0..l.bias.len())
            .map(|r| {
                let row = &l.weights[r * x.len()..(r + 1) * x.len()];
                let acc: i64 = i64::from(l.bias[r])
                    + row
                        .iter()
                        .zip(x)
                        .map(|(&w, &v)| i64::from(w) * (i64::from(v) - i64::from(zp_in)))
                        .sum::<i64>();
                let acc = i32::try_from(acc).expect("no overflow in a checked model");
                (zp_out + l.requant[r].apply(acc)).clamp(min, 127) as i8
            })
            .collect()
    };
    let x: Vec<i8> = pixels.iter().map(|&p| (i32::from(p) - 128) as i8).collect();
    let relu_min = if m.hidden_activation == Activation::Relu {
        m.hidden_quant.zero_point
    } else {
        -128
    };
    let mut h = dense(
        &m.layer1,
        &x,
        m.input_quant.zero_point,
        m.hidden_quant.zero_point,
        relu_min,
    );
    if m.hidden_activation == Activation::Sigmoid {
        h = h
            .iter()
            .map(|&v| m.sigmoid_table[(i32::from(v) + 128) as usize])
            .collect();
    }
    let logits = dense(
        &m.layer2,
        &h,
        m.activated_quant().zero_point,
        m.logits_quant.zero_point,
        -128,
    );
    let mut out = vec![0i8; logits.len()];
    kernels::softmax_i8(&logits, m.softmax, &mut out);
    let max = logits.iter().copied().max().unwrap_or(0);
    let class = logits.iter().position(|&v| v == max).unwrap_or(0);
    (class, logits, out)
}

#[test]
fn tiny_int8_model_matches_a_hand_computation() {
    // pixels (255, 0): x − zp = (255, 0).
    // hidden row 0: 100 + 127·255 = 32485; ·2³⁰/2³¹ = 16242.5 → 16243 (half up); /2⁸ → 63.4 → 63;
    //   −128 → −65.  row 1: −200 + 64·255 = 16120; ·0.625 = 10075; /2⁷ = 78.7 → 79; → −49.
    //   row 2: 0 → −128.
    // logits row 0: 5 + 10·63 − 20·79 + 30·0 = −945; /2 → −472.5 → −472 (half up); /2⁶ =
    //   −7.375 → −7; +3 → −4.  row 1: −5 − 127·63 + 127·79 + 0 = 2027; ·0.75 = 1520.25 → 1520;
    //   /2⁵ = 47.5 → 48 (half away from zero); +3 → 51.
    let bytes = aligned(&tiny_i8_bytes());
    let file = ModelFile::parse(&bytes.0[..160]).unwrap();
    let m = file.slices_i8().unwrap();
    let (class, logits, out) = reference(&m, &[255, 0]);
    assert_eq!((class, logits.as_slice()), (1, [-4i8, 51].as_slice()));
    // e^(−5.5) / (1 + e^(−5.5)) = 0.0041: one step of 1/256 at most.
    assert!(out[0] <= -127 && out[1] >= 126, "{out:?}");

    let view = file.view_i8::<2, 3, 2>().unwrap();
    let p = view.predict_pixels(&[255, 0]);
    assert_eq!(p.class, 1);
    assert_eq!(p.probabilities.as_slice(), out.as_slice());
    assert!((p.probability(1) - (f32::from(out[1]) + 128.0) / 256.0).abs() < 1e-9);
}

#[test]
fn int8_inference_equals_the_reference_on_every_pixel_pair() {
    let bytes = aligned(&tiny_i8_bytes());
    let file = ModelFile::parse(&bytes.0[..160]).unwrap();
    let m = file.slices_i8().unwrap();
    let view = file.view_i8::<2, 3, 2>().unwrap();
    let (mut scratch, mut out) = ([0i8; 7], [0i8; 2]);
    for a in (0..=255u8).step_by(5) {
        for b in (0..=255u8).step_by(3) {
            let (class, _, expected) = reference(&m, &[a, b]);
            let got = m.predict_pixels_into(&[a, b], &mut scratch, &mut out);
            assert_eq!(got, Ok(class), "pixels {a} {b}");
            assert_eq!(out.as_slice(), expected.as_slice(), "pixels {a} {b}");
            assert_eq!(view.predict_pixels(&[a, b]).probabilities, out);
        }
    }
}

#[test]
fn a_sigmoid_model_stores_its_table_and_runs_it() {
    let table: Vec<i8> = (0..256).map(|i| ((i * 7) % 256 - 128) as i8).collect();
    let sigmoid = MlpI8 {
        hidden_activation: Activation::Sigmoid,
        sigmoid_table: &table,
        ..tiny_i8()
    };
    let bytes = encode_i8(&sigmoid, &[]).unwrap();
    // No names: a count of 0, so the preamble is 19 + 1 + 27 bytes, padded to 48. The table
    // follows W2 directly.
    assert_eq!(bytes.len(), 48 + 80 + 12 + 256 + 4);
    let buf = aligned(&bytes);
    let file = ModelFile::parse(&buf.0[..bytes.len()]).unwrap();
    assert_eq!(file.class_names().count(), 0);
    let m = file.slices_i8().unwrap();
    assert_eq!(m.sigmoid_table, table.as_slice());
    let (mut scratch, mut out) = ([0i8; 7], [0i8; 2]);
    for pixels in [[0, 0], [255, 0], [10, 200], [255, 255]] {
        let (class, _, expected) = reference(&m, &pixels);
        assert_eq!(
            m.predict_pixels_into(&pixels, &mut scratch, &mut out),
            Ok(class)
        );
        assert_eq!(out.as_slice(), expected.as_slice());
    }
    // A table of the wrong length is refused on the way in.
    let short = MlpI8 {
        sigmoid_table: &table[..255],
        ..sigmoid
    };
    assert_eq!(
        encode_i8(&short, &[]).unwrap_err(),
        Error::LengthMismatch {
            tensor: None,
            expected: 256,
            found: 255
        }
    );
}

#[test]
fn f32_files_with_names_are_version_2_and_without_are_version_1() {
    let header = Header::new(
        [2, 3, 2],
        Activation::Sigmoid,
        Activation::Softmax,
        InputScaling::RAW,
    )
    .unwrap();
    let params: Vec<f32> = (0..17).map(|i| i as f32 * 0.25).collect();
    let [w1, b1, w2, b2] = format::Shape::from([2, 3, 2]).split(&params).unwrap();
    let write = |names: &[&str]| {
        let mut out = vec![0u8; format::encoded_len_named(&header, names).unwrap()];
        let n = format::encode_named(&header, names, [w1, b1, w2, b2], &mut out).unwrap();
        assert_eq!(n, out.len());
        out
    };
    let plain = write(&[]);
    let mut v1 = vec![0u8; 104];
    format::encode(&header, [w1, b1, w2, b2], &mut v1).unwrap();
    assert_eq!(plain, v1, "no names: the version-1 bytes");
    assert_eq!(ModelFile::parse(&plain).unwrap().header().version, VERSION);

    let named = write(&["zero", "ünï"]);
    // Header 19, then 02 04 "zero" 05 "ünï" (ü and ï are two bytes each): 31, padded to 32.
    assert_eq!(&named[4..5], &[2]);
    assert_eq!(&named[19..31], b"\x02\x04zero\x05\xc3\xbcn\xc3\xaf");
    assert_eq!(named.len(), 104);
    let file = ModelFile::parse(&named).unwrap();
    assert_eq!(file.header().version, VERSION_2);
    assert_eq!(
        file.class_names().into_iter().collect::<Vec<_>>(),
        ["zero", "ünï"]
    );
    let mut copied = vec![0.0; 17];
    file.copy_parameters(&mut copied).unwrap();
    assert_eq!(copied, params);

    // A hand-made version-2 f32 file with an empty name list reads as no names.
    let mut empty = plain.clone();
    empty[4] = 2;
    empty[19] = 0; // the count, in what was padding
    let empty = with_crc(empty);
    let file = ModelFile::parse(&empty).unwrap();
    assert_eq!(file.class_names().count(), 0);
    assert_eq!(file.weights_offset(), 32);
}

#[test]
fn bad_class_names_are_refused_both_ways() {
    let header = Header::new(
        [2, 3, 2],
        Activation::Relu,
        Activation::Softmax,
        InputScaling::UNIT,
    )
    .unwrap();
    let zeros = [0.0f32; 6];
    let tensors = [&zeros[..], &zeros[..3], &zeros[..], &zeros[..2]];
    let mut out = [0u8; 512];
    let long = "x".repeat(format::CLASS_NAME_MAX_LEN + 1);
    let max = "x".repeat(format::CLASS_NAME_MAX_LEN);
    for (names, expected) in [
        (
            &["a", "b", "c"][..],
            Err(Error::TooManyClassNames { found: 3, max: 2 }),
        ),
        (&["a", ""][..], Err(Error::BadClassName { index: 1 })),
        (&[long.as_str()][..], Err(Error::BadClassName { index: 0 })),
        (&["new\nline"][..], Err(Error::BadClassName { index: 0 })),
        (&[max.as_str()][..], Ok(())),
    ] {
        let got = format::encode_named(&header, names, tensors, &mut out).map(|_| ());
        assert_eq!(got, expected, "{names:?}");
    }

    // The same in the bytes: one name "ab" at offset 19, then patched.
    let n = format::encode_named(&header, &["ab"], tensors, &mut out).unwrap();
    let good = out[..n].to_vec();
    assert_eq!(&good[19..23], b"\x01\x02ab");
    let mut count = good.clone();
    count[19] = 3; // three names for two outputs
    assert_eq!(
        ModelFile::parse(&with_crc(count)).unwrap_err(),
        Error::TooManyClassNames { found: 3, max: 2 }
    );
    let mut utf8 = good.clone();
    utf8[22] = 0xFF; // not UTF-8
    assert_eq!(
        ModelFile::parse(&with_crc(utf8)).unwrap_err(),
        Error::BadClassName { index: 0 }
    );
    let mut control = good.clone();
    control[22] = 0x07; // BEL
    assert_eq!(
        ModelFile::parse(&with_crc(control)).unwrap_err(),
        Error::BadClassName { index: 0 }
    );
    let mut empty = good.clone();
    empty[20] = 0; // a name of length 0; "ab" becomes padding-like bytes after it
    assert_eq!(
        ModelFile::parse(&with_crc(empty)).unwrap_err(),
        Error::BadClassName { index: 0 }
    );
}

/// The tiny int8 file with the bytes at `at` replaced and the checksum made right again.
fn patched(at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut b = tiny_i8_bytes();
    b[at..at + bytes.len()].copy_from_slice(bytes);
    with_crc(b)
}

#[test]
fn every_bad_quantisation_field_has_its_error() {
    let parse = |b: Vec<u8>| ModelFile::parse(&b).map(|_| ()).unwrap_err();
    // Header fields: input scale at 28, its zero point at 32; hidden at 34/38; logits at 40/44.
    assert_eq!(
        parse(patched(28, &f32_le(f32::NAN))),
        Error::BadScale {
            tensor: QuantTensor::Input,
            index: 0
        }
    );
    assert_eq!(
        parse(patched(34, &f32_le(-0.05))),
        Error::BadScale {
            tensor: QuantTensor::Hidden,
            index: 0
        }
    );
    assert_eq!(
        parse(patched(40, &f32_le(0.0))),
        Error::BadScale {
            tensor: QuantTensor::Logits,
            index: 0
        }
    );
    // Zero point 128 is zigzag 256: 80 02, the same length as -128's ff 01.
    assert_eq!(
        parse(patched(32, &[0x80, 0x02])),
        Error::BadZeroPoint {
            tensor: QuantTensor::Input,
            found: 128
        }
    );
    assert_eq!(
        parse(patched(38, &[0x80, 0x02])),
        Error::BadZeroPoint {
            tensor: QuantTensor::Hidden,
            found: 128
        }
    );
    // Softmax (`SoftmaxI8Params::is_valid`): left shift 0 (byte 50) is outside [1, 31].
    assert_eq!(parse(patched(50, &[0x00])), Error::BadSoftmaxParams);
    // diff_min −247 (zigzag 493 = ed 03) is not the radius of shift 23 (−248).
    assert_eq!(parse(patched(51, &[0xED, 0x03])), Error::BadSoftmaxParams);
    // Channel counts at 53, 54.
    assert_eq!(
        parse(patched(53, &[0x04])),
        Error::ChannelCountMismatch {
            tensor: QuantTensor::W1,
            expected: 3,
            found: 4
        }
    );
    assert_eq!(
        parse(patched(54, &[0x01])),
        Error::ChannelCountMismatch {
            tensor: QuantTensor::W2,
            expected: 2,
            found: 1
        }
    );
    // Body: b1 at 64, requant1 at 76, scales1 at 100, b2 at 112, requant2 at 120,
    // scales2 at 136, W1 at 144, W2 at 150.
    assert_eq!(
        parse(patched(76 + 8 + 4, &31i32.to_le_bytes())),
        Error::BadRequant {
            tensor: QuantTensor::W1,
            index: 1
        }
    );
    assert_eq!(
        parse(patched(120 + 8, &0x3FFF_FFFFi32.to_le_bytes())),
        Error::BadRequant {
            tensor: QuantTensor::W2,
            index: 1
        }
    );
    assert_eq!(
        parse(patched(100 + 8, &f32_le(f32::INFINITY))),
        Error::BadScale {
            tensor: QuantTensor::W1,
            index: 2
        }
    );
    assert_eq!(
        parse(patched(136, &f32_le(-0.5))),
        Error::BadScale {
            tensor: QuantTensor::W2,
            index: 0
        }
    );
    assert_eq!(
        parse(patched(144 + 3, &[0x80])),
        Error::WeightOutOfRange {
            tensor: Tensor::W1,
            index: 3
        }
    );
    assert_eq!(
        parse(patched(150 + 5, &[0x80])),
        Error::WeightOutOfRange {
            tensor: Tensor::W2,
            index: 5
        }
    );
    // Row 0 of W1 sums |w| to 254: 255 · 254 + |bias| overflows i32 for bias = i32::MAX − 1000.
    assert_eq!(
        parse(patched(64, &(i32::MAX - 1000).to_le_bytes())),
        Error::AccumulatorOverflow {
            tensor: Tensor::B1,
            index: 0
        }
    );
    assert_eq!(
        parse(patched(112 + 4, &i32::MIN.to_le_bytes())),
        Error::AccumulatorOverflow {
            tensor: Tensor::B2,
            index: 1
        }
    );
    // An int8 model with a softmax hidden layer has a bad activation; in a version-1 file, a
    // bad header.
    assert_eq!(
        parse(patched(8, &[0x03])),
        Error::BadActivation {
            layer: 0,
            found: Activation::Softmax
        }
    );
    assert_eq!(parse(patched(4, &[0x01])), Error::BadHeader);
    // The untouched file parses.
    assert!(ModelFile::parse(&tiny_i8_bytes()).is_ok());
}

#[test]
fn the_encoder_refuses_what_the_decoder_would() {
    let m = tiny_i8();
    let bad_requant = [
        R1[0],
        Requant {
            multiplier: 5,
            shift: 0,
        },
        R1[2],
    ];
    let cases: [(MlpI8<'_>, Error); 5] = [
        (
            MlpI8 {
                logits_quant: TensorQuant {
                    scale: f32::INFINITY,
                    zero_point: 0,
                },
                ..m
            },
            Error::BadScale {
                tensor: QuantTensor::Logits,
                index: 0,
            },
        ),
        (
            MlpI8 {
                layer1: DenseI8 {
                    requant: &bad_requant,
                    ..m.layer1
                },
                ..m
            },
            Error::BadRequant {
                tensor: QuantTensor::W1,
                index: 1,
            },
        ),
        (
            MlpI8 {
                layer2: DenseI8 {
                    weights: &[10, -20, 30, -127, -128, 1],
                    ..m.layer2
                },
                ..m
            },
            Error::WeightOutOfRange {
                tensor: Tensor::W2,
                index: 4,
            },
        ),
        (
            MlpI8 {
                layer2: DenseI8 {
                    requant: &R2[..1],
                    ..m.layer2
                },
                ..m
            },
            Error::ChannelCountMismatch {
                tensor: QuantTensor::W2,
                expected: 2,
                found: 1,
            },
        ),
        (
            MlpI8 {
                hidden_activation: Activation::Softmax,
                ..m
            },
            Error::BadActivation {
                layer: 0,
                found: Activation::Softmax,
            },
        ),
    ];
    for (model, expected) in cases {
        assert_eq!(encode_i8(&model, &[]).unwrap_err(), expected);
        assert_eq!(model.check(), Err(expected));
    }
    let mut small = [0u8; 159];
    assert_eq!(
        format::encode_i8(&m, &NAMES, &mut small),
        Err(Error::BufferTooSmall {
            needed: 160,
            found: 159
        })
    );
}

#[test]
fn predict_checks_lengths_instead_of_panicking() {
    let m = tiny_i8();
    let (mut scratch, mut out) = ([0i8; 7], [0i8; 2]);
    assert_eq!(
        m.predict_pixels_into(&[1, 2, 3], &mut scratch, &mut out),
        Err(Error::LengthMismatch {
            tensor: None,
            expected: 2,
            found: 3
        })
    );
    assert_eq!(
        m.predict_pixels_into(&[1, 2], &mut scratch[..6], &mut out),
        Err(Error::LengthMismatch {
            tensor: None,
            expected: 7,
            found: 6
        })
    );
    let short = MlpI8 {
        layer1: DenseI8 {
            bias: &B1[..2],
            ..m.layer1
        },
        ..m
    };
    assert_eq!(
        short.predict_pixels_into(&[1, 2], &mut scratch, &mut out),
        Err(Error::LengthMismatch {
            tensor: Some(Tensor::B1),
            expected: 3,
            found: 2
        })
    );
    assert!(nn_core::MlpI8Ref::<2, 3, 2>::new(short).is_err());
    assert_eq!(
        nn_core::MlpI8Ref::<2, 4, 2>::new(m).unwrap_err(),
        Error::ShapeMismatch {
            expected: [2, 4, 2],
            found: [2, 3, 2]
        }
    );
}

#[test]
fn truncation_and_trailing_bytes_in_a_v2_file() {
    let bytes = tiny_i8_bytes();
    for len in [19, 20, 25, 30, 54] {
        assert_eq!(
            ModelFile::parse(&bytes[..len]).unwrap_err(),
            Error::Truncated {
                needed: len + 1,
                found: len
            },
            "cut at {len}"
        );
    }
    for len in [55, 64, 150, 159] {
        assert_eq!(
            ModelFile::parse(&bytes[..len]).unwrap_err(),
            Error::Truncated {
                needed: 160,
                found: len
            },
            "cut at {len}"
        );
    }
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(
        ModelFile::parse(&long).unwrap_err(),
        Error::TrailingBytes {
            expected: 160,
            found: 161
        }
    );
}

proptest! {
    #[test]
    fn any_single_byte_change_to_an_int8_file_is_caught(index in 0usize..160, xor in 1u8..=255) {
        let mut bytes = tiny_i8_bytes();
        bytes[index] ^= xor;
        prop_assert!(ModelFile::parse(&bytes).is_err());
    }

    #[test]
    fn mutated_int8_files_never_panic(
        edits in proptest::collection::vec((0usize..170, any::<u8>(), 0u8..4), 1..8)
    ) {
        let mut bytes = tiny_i8_bytes();
        for (at, byte, kind) in edits {
            let at = at.min(bytes.len());
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                2 => bytes.truncate(at),
                _ => {}
            }
        }
        // Half the time with the checksum fixed, so the value checks run too.
        for b in [bytes.clone(), if bytes.len() >= 4 { with_crc(bytes.clone()) } else { bytes.clone() }] {
            let buf = aligned(&b);
            if let Ok(file) = ModelFile::parse(&buf.0[..b.len()]) {
                let _ = file.class_names().into_iter().count();
                if let Ok(view) = file.view_i8::<2, 3, 2>() {
                    let _ = view.predict_pixels(&[7, 250]);
                }
                if let Ok(m) = file.slices_i8() {
                    let (mut scratch, mut out) = (vec![0i8; m.input + m.hidden + m.output], vec![0i8; m.output]);
                    let pixels = vec![100u8; m.input];
                    let _ = m.predict_pixels_into(&pixels, &mut scratch, &mut out);
                }
            }
        }
    }
}

/// The requantisation `kernels::dense_i8` applies is the one the reference uses.
#[test]
fn dense_i8_params_clamp_as_the_reference_does() {
    let mut y = [0i8; 1];
    let p = DenseI8Params {
        input_zero_point: 0,
        output_zero_point: -128,
        min: -100,
        max: 127,
    };
    kernels::dense_i8(&[1], &[0], &[0], &[R1[0]], p, &mut y);
    assert_eq!(y, [-100]);
}

#[test]
fn quant_header_max_len_is_reached_by_the_largest_quant_header() {
    let extreme = TensorQuant {
        scale: 1.0,
        zero_point: i32::MIN,
    };
    let header = nn_core::format::QuantHeader {
        input: extreme,
        hidden: extreme,
        logits: extreme,
        softmax_input_multiplier: i32::MIN,
        softmax_input_left_shift: i32::MIN,
        softmax_diff_min: i32::MIN,
        hidden_channels: u32::MAX,
        output_channels: u32::MAX,
    };
    assert_eq!(
        postcard::to_allocvec(&header).unwrap().len(),
        format::QUANT_HEADER_MAX_LEN
    );
}
