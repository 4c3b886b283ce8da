//! Model file version 3: exact bytes of a tiny model, round trips at depths 1, 3 and 16 with
//! every activation in f32 and int8, the version each model is written in, one corruption
//! per new error (checksum fixed up so the check reached is the one meant), the files
//! written before version 3 re-encoded byte for byte, decoded models predicting what their
//! sources predict, and hostile input that must never panic.

use nn_core::format::{
    self, ElementType, ModelFile, QuantTensor, Tensor, VERSION, VERSION_2, VERSION_3,
};
use nn_core::lut::{logistic_table, tanh_table};
use nn_core::network::{
    LayerF32, LayerI8, LayerTensor, Layers, MAX_LAYERS, Model, ModelF32, ModelI8,
};
use nn_core::quant::{Requant, SoftmaxI8Params};
use nn_core::{Activation, Error, InputScaling, TensorQuant};
use proptest::prelude::*;

mod common;
use common::{Rng, crc32_reference};

const ACTIVATIONS: [Activation; 5] = [
    Activation::Identity,
    Activation::Relu,
    Activation::Relu6,
    Activation::Sigmoid,
    Activation::Tanh,
];

/// Uniform in `[lo, hi)`.
fn uniform(rng: &mut Rng, lo: f32, hi: f32) -> f32 {
    lo + (rng.next() + 1.0) / 2.0 * (hi - lo)
}

/// A 16-byte aligned copy of `bytes`, as firmware gets from `Aligned(include_bytes!(..))`:
/// the bytes placed at the first 16-byte aligned address of a slightly larger buffer.
struct AlignedBuf(Vec<u8>, usize);

impl AlignedBuf {
    fn new(bytes: &[u8]) -> Self {
        let mut buf = vec![0u8; bytes.len() + 16];
        let offset = buf.as_ptr().align_offset(16);
        buf[offset..offset + bytes.len()].copy_from_slice(bytes);
        Self(buf, offset)
    }

    fn bytes(&self) -> &[u8] {
        &self.0[self.1..self.0.len() - 16 + self.1]
    }
}

fn with_crc(mut bytes: Vec<u8>) -> Vec<u8> {
    let body = bytes.len() - 4;
    let crc = crc32_reference(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

fn encode(model: &Model<'_>, names: &[&str]) -> Result<Vec<u8>, Error> {
    let len = format::encoded_len_model(model, names)?;
    let mut out = vec![0xAA; len];
    let written = format::encode_model(model, names, &mut out)?.len();
    assert_eq!(
        written, len,
        "encoded_len_model says what encode_model writes"
    );
    Ok(out)
}

/// An f32 network's arrays, owned; [`OwnedF32::model`] borrows them.
struct OwnedF32 {
    sizes: Vec<usize>,
    activations: Vec<Activation>,
    weights: Vec<Vec<f32>>,
    biases: Vec<Vec<f32>>,
    softmax: bool,
}

impl OwnedF32 {
    /// Layers `sizes[i] → sizes[i + 1]`, small seeded weights.
    fn new(sizes: &[usize], activations: &[Activation], softmax: bool, seed: u64) -> Self {
        let mut rng = Rng((seed as u32).wrapping_mul(2_654_435_761) | 1);
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        for pair in sizes.windows(2) {
            let w = (0..pair[0] * pair[1])
                .map(|_| uniform(&mut rng, -1.0, 1.0))
                .collect();
            let b = (0..pair[1]).map(|_| uniform(&mut rng, -0.5, 0.5)).collect();
            weights.push(w);
            biases.push(b);
        }
        Self {
            sizes: sizes.to_vec(),
            activations: activations.to_vec(),
            weights,
            biases,
            softmax,
        }
    }

    fn model(&self) -> Model<'_> {
        let mut layers = Layers::new();
        for (i, pair) in self.sizes.windows(2).enumerate() {
            layers
                .push(LayerF32 {
                    weights: &self.weights[i],
                    bias: &self.biases[i],
                    inputs: pair[0],
                    outputs: pair[1],
                    activation: self.activations[i],
                })
                .unwrap();
        }
        Model::F32(ModelF32 {
            layers,
            softmax: self.softmax,
            scaling: InputScaling::UNIT,
        })
    }
}

/// An int8 network's arrays, owned, quantised as TFLite would (values only need to be valid).
struct OwnedI8 {
    sizes: Vec<usize>,
    activations: Vec<Activation>,
    weights: Vec<Vec<i8>>,
    biases: Vec<Vec<i32>>,
    requants: Vec<Vec<Requant>>,
    scales: Vec<Vec<f32>>,
    outputs: Vec<TensorQuant>,
    tables: Vec<Vec<i8>>,
    softmax: bool,
}

impl OwnedI8 {
    fn new(sizes: &[usize], activations: &[Activation], softmax: bool, seed: u64) -> Self {
        let mut rng = Rng((seed as u32).wrapping_mul(2_654_435_761) | 1);
        let mut m = Self {
            sizes: sizes.to_vec(),
            activations: activations.to_vec(),
            weights: Vec::new(),
            biases: Vec::new(),
            requants: Vec::new(),
            scales: Vec::new(),
            outputs: Vec::new(),
            tables: Vec::new(),
            softmax,
        };
        for (i, pair) in sizes.windows(2).enumerate() {
            let (n_in, n_out) = (pair[0], pair[1]);
            m.weights.push(
                (0..n_in * n_out)
                    .map(|_| uniform(&mut rng, -127.0, 127.0) as i8)
                    .collect(),
            );
            m.biases.push(
                (0..n_out)
                    .map(|_| uniform(&mut rng, -5000.0, 5000.0) as i32)
                    .collect(),
            );
            m.scales
                .push((0..n_out).map(|_| uniform(&mut rng, 0.001, 0.01)).collect());
            m.requants.push(
                (0..n_out)
                    .map(|_| {
                        Requant::from_real(f64::from(uniform(&mut rng, 0.0005, 0.02))).unwrap()
                    })
                    .collect(),
            );
            let output = TensorQuant {
                scale: uniform(&mut rng, 0.02, 0.2),
                zero_point: uniform(&mut rng, -20.0, 20.0) as i32,
            };
            m.outputs.push(output);
            m.tables.push(match activations[i] {
                Activation::Sigmoid => logistic_table(output).to_vec(),
                Activation::Tanh => tanh_table(output).to_vec(),
                _ => Vec::new(),
            });
        }
        m
    }

    fn model(&self) -> Model<'_> {
        let mut layers = Layers::new();
        for (i, pair) in self.sizes.windows(2).enumerate() {
            layers
                .push(LayerI8 {
                    weights: &self.weights[i],
                    bias: &self.biases[i],
                    requant: &self.requants[i],
                    weight_scales: &self.scales[i],
                    inputs: pair[0],
                    outputs: pair[1],
                    output: self.outputs[i],
                    activation: self.activations[i],
                    table: &self.tables[i],
                })
                .unwrap();
        }
        let last = layers.last().unwrap().activated();
        Model::I8(ModelI8 {
            layers,
            input: TensorQuant {
                scale: 1.0 / 255.0,
                zero_point: -128,
            },
            softmax: self
                .softmax
                .then(|| SoftmaxI8Params::from_input_scale(last.scale).unwrap()),
            scaling: InputScaling::UNIT,
            packed: &[],
        })
    }
}

/// Every field of two models, layer by layer.
fn assert_same(a: &Model<'_>, b: &Model<'_>) {
    match (a, b) {
        (Model::F32(a), Model::F32(b)) => {
            assert_eq!(a.layers.len(), b.layers.len());
            for (x, y) in a.layers.iter().zip(b.layers.iter()) {
                assert_eq!(x, y);
            }
            assert_eq!((a.softmax, a.scaling), (b.softmax, b.scaling));
        }
        (Model::I8(a), Model::I8(b)) => {
            assert_eq!(a.layers.len(), b.layers.len());
            for (x, y) in a.layers.iter().zip(b.layers.iter()) {
                assert_eq!(x, y);
            }
            assert_eq!(
                (a.input, a.softmax, a.scaling),
                (b.input, b.softmax, b.scaling)
            );
            assert!(b.packed.is_empty());
        }
        _ => panic!("element types differ"),
    }
}

/// `sizes` and activations of a `depth`-layer network that uses every activation in turn,
/// starting at `start`.
fn shape(depth: usize, start: usize) -> (Vec<usize>, Vec<Activation>) {
    let sizes = (0..=depth).map(|i| 3 + (i * 5) % 7).collect();
    let activations = (0..depth)
        .map(|i| ACTIVATIONS[(i + start) % ACTIVATIONS.len()])
        .collect();
    (sizes, activations)
}

/// Parses `bytes` from aligned memory and checks every field of its model against `expected`.
fn round_trip(bytes: &[u8], expected: &Model<'_>, version: u16) {
    let aligned = AlignedBuf::new(bytes);
    let file = ModelFile::parse(aligned.bytes()).unwrap();
    assert_eq!(file.version(), version);
    let decoded = file.model().unwrap();
    assert_same(expected, &decoded);
    assert_eq!(file.depth(), decoded_depth(&decoded));
    // The decoded model writes the same bytes back.
    assert_eq!(encode(&decoded, &[]).unwrap(), bytes);
}

fn decoded_depth(m: &Model<'_>) -> usize {
    match m {
        Model::F32(m) => m.layers.len(),
        Model::I8(m) => m.layers.len(),
    }
}

#[test]
fn f32_models_of_depth_1_3_and_16_round_trip_with_every_activation() {
    for depth in [1, 3, MAX_LAYERS] {
        for start in 0..ACTIVATIONS.len() {
            for softmax in [false, true] {
                let (sizes, acts) = shape(depth, start);
                let owned = OwnedF32::new(&sizes, &acts, softmax, (depth * 10 + start) as u64);
                let model = owned.model();
                let bytes = encode(&model, &[]).unwrap();
                round_trip(&bytes, &model, VERSION_3);
            }
        }
    }
}

#[test]
fn int8_models_of_depth_1_3_and_16_round_trip_with_every_activation() {
    for depth in [1, 3, MAX_LAYERS] {
        for start in 0..ACTIVATIONS.len() {
            for softmax in [false, true] {
                let (sizes, acts) = shape(depth, start);
                let owned = OwnedI8::new(&sizes, &acts, softmax, (depth * 10 + start) as u64);
                let model = owned.model();
                let bytes = encode(&model, &[]).unwrap();
                round_trip(&bytes, &model, VERSION_3);
            }
        }
    }
}

#[test]
fn every_array_of_a_version_3_file_starts_16_byte_aligned() {
    let (sizes, acts) = shape(3, 3); // sigmoid, tanh, identity: tables in two layers
    let owned = OwnedI8::new(&sizes, &acts, false, 7);
    let bytes = encode(&owned.model(), &[]).unwrap();
    let aligned = AlignedBuf::new(&bytes);
    let file = ModelFile::parse(aligned.bytes()).unwrap();
    let Model::I8(m) = file.model().unwrap() else {
        panic!("int8")
    };
    let base = aligned.bytes().as_ptr() as usize;
    for l in m.layers.iter() {
        let starts = [
            l.weights.as_ptr() as usize,
            l.bias.as_ptr() as usize,
            l.requant.as_ptr() as usize,
            l.weight_scales.as_ptr() as usize,
        ];
        for s in starts {
            assert_eq!((s - base) % 16, 0);
        }
        if !l.table.is_empty() {
            assert_eq!((l.table.as_ptr() as usize - base) % 16, 0);
        }
    }
}

/// The oldest version that holds a model is the one written: version 1 for an f32 depth-2
/// model without names, 2 with names or int8 with softmax, 3 for anything else.
#[test]
fn each_model_is_written_in_the_oldest_version_that_holds_it() {
    let relu = [Activation::Relu, Activation::Identity];
    let f32_cases: [(&[Activation], bool, &[&str], u16); 6] = [
        (&relu, true, &[], VERSION),
        (
            &[Activation::Sigmoid, Activation::Relu],
            false,
            &[],
            VERSION,
        ),
        (&relu, true, &["a"], VERSION_2),
        (
            &[Activation::Relu6, Activation::Identity],
            true,
            &[],
            VERSION_3,
        ),
        (&[Activation::Relu, Activation::Tanh], false, &[], VERSION_3),
        (
            &[Activation::Relu, Activation::Sigmoid],
            true,
            &[],
            VERSION_3,
        ),
    ];
    for (acts, softmax, names, version) in f32_cases {
        let owned = OwnedF32::new(&[4, 3, 2], acts, softmax, 1);
        let bytes = encode(&owned.model(), names).unwrap();
        let file = ModelFile::parse(&bytes).unwrap();
        assert_eq!(
            file.version(),
            version,
            "{acts:?} softmax {softmax} {names:?}"
        );
        assert_eq!(file.class_names().into_iter().collect::<Vec<_>>(), names);
    }
    let i8_cases: [(&[Activation], bool, u16); 5] = [
        (&relu, true, VERSION_2),
        (
            &[Activation::Sigmoid, Activation::Identity],
            true,
            VERSION_2,
        ),
        (&relu, false, VERSION_3),
        (&[Activation::Tanh, Activation::Identity], true, VERSION_3),
        (&[Activation::Relu, Activation::Sigmoid], true, VERSION_3),
    ];
    for (acts, softmax, version) in i8_cases {
        let owned = OwnedI8::new(&[4, 3, 2], acts, softmax, 2);
        let model = owned.model();
        let bytes = encode(&model, &[]).unwrap();
        assert_eq!(ModelFile::parse(&bytes).unwrap().version(), version);
        round_trip(&bytes, &model, version);
    }
    // Depth 2 in version 3: the two-layer accessors still read an f32 one.
    let owned = OwnedF32::new(
        &[4, 3, 2],
        &[Activation::Tanh, Activation::Identity],
        true,
        3,
    );
    let bytes = encode(&owned.model(), &[]).unwrap();
    let aligned = AlignedBuf::new(&bytes);
    let file = ModelFile::parse(aligned.bytes()).unwrap();
    assert_eq!(file.shape(), [4, 3, 2]);
    let slices = file.slices().unwrap();
    assert_eq!(slices.w2, &owned.weights[1][..]);
    assert_eq!(slices.hidden_activation, Activation::Tanh);
    assert_eq!(slices.output_activation, Activation::Softmax);
    let mut params = vec![0.0; file.parameter_count()];
    file.copy_parameters(&mut params).unwrap();
    let expected: Vec<f32> = [
        &owned.weights[0],
        &owned.biases[0],
        &owned.weights[1],
        &owned.biases[1],
    ]
    .into_iter()
    .flatten()
    .copied()
    .collect();
    assert_eq!(params, expected);
}

/// A depth-1 f32 model, 2 inputs → 2 outputs, tanh, no softmax, named, written out field by
/// field.
#[test]
fn a_tiny_version_3_model_encodes_to_exactly_the_bytes_written_out_by_hand() {
    let weights = [1.0f32, -2.0, 0.5, 0.25];
    let bias = [0.0f32, -1.0];
    let mut layers = Layers::new();
    layers
        .push(LayerF32 {
            weights: &weights,
            bias: &bias,
            inputs: 2,
            outputs: 2,
            activation: Activation::Tanh,
        })
        .unwrap();
    let model = Model::F32(ModelF32 {
        layers,
        softmax: false,
        scaling: InputScaling::RAW,
    });
    let mut b = Vec::new();
    b.extend_from_slice(b"NNMF");
    b.push(3); // version 3
    b.push(0); // element: F32
    b.push(2); // inputs
    b.extend_from_slice(&1.0f32.to_le_bytes()); // scaling.scale
    b.extend_from_slice(&0.0f32.to_le_bytes()); // scaling.offset
    b.push(0); // softmax: false
    b.push(1); // depth
    b.extend_from_slice(&[2, 5]); // layer 0: 2 outputs, Tanh (variant 5)
    b.extend_from_slice(&[2, 1, b'x', 1, b'y']); // two class names
    assert_eq!(b.len(), 24);
    b.resize(32, 0); // padding to 32
    for w in weights {
        b.extend_from_slice(&w.to_le_bytes()); // W, 16 bytes: the bias needs no padding
    }
    for w in bias {
        b.extend_from_slice(&w.to_le_bytes());
    }
    let crc = crc32_reference(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(encode(&model, &["x", "y"]).unwrap(), b);
    let file = ModelFile::parse(&b).unwrap();
    assert_eq!(file.weights_offset(), 32);
    assert_eq!(file.class_names().get(1), Some("y"));
    assert_eq!(file.header().version, VERSION_3);
    assert_eq!(file.shape(), [2, 0, 2]);
    assert_eq!(file.tensor(Tensor::Bias(0)).collect::<Vec<_>>(), bias);
    assert_eq!(file.slices().unwrap_err(), Error::NotTwoLayer);
}

/// A depth-2 f32 model with relu6 then tanh in version 3, whose offsets the corruptions use.
fn small_f32() -> Vec<u8> {
    // Header 17 bytes (depth at 16), layers at 17..21, no names at 21; weights at 32.
    // Layer 0: W 3×2 f32 at 32..56, b at 64..76; layer 1: W 2×3 at 80..104, b at 112..120.
    let owned = OwnedF32::new(&[2, 3, 2], &[Activation::Relu6, Activation::Tanh], false, 5);
    let bytes = encode(&owned.model(), &[]).unwrap();
    assert_eq!(bytes.len(), 124);
    bytes
}

fn patched(mut bytes: Vec<u8>, at: usize, new: &[u8]) -> Vec<u8> {
    bytes[at..at + new.len()].copy_from_slice(new);
    with_crc(bytes)
}

fn parse_err(bytes: &[u8]) -> Error {
    ModelFile::parse(bytes).map(|_| ()).unwrap_err()
}

#[test]
fn every_new_header_field_has_its_error() {
    let f = small_f32();
    assert!(ModelFile::parse(&f).is_ok());
    assert_eq!(
        parse_err(&patched(f.clone(), 16, &[0])),
        Error::BadDepth { depth: 0 }
    );
    assert_eq!(
        parse_err(&patched(f.clone(), 16, &[17])),
        Error::BadDepth { depth: 17 }
    );
    assert_eq!(
        parse_err(&patched(f.clone(), 19, &[0])),
        Error::EmptyLayer { layer: 1 }
    );
    assert_eq!(
        parse_err(&patched(f.clone(), 18, &[3])), // Softmax as layer 0's activation
        Error::BadActivation {
            layer: 0,
            found: Activation::Softmax
        }
    );
    assert_eq!(parse_err(&patched(f.clone(), 20, &[6])), Error::BadHeader);
    assert_eq!(parse_err(&patched(f.clone(), 5, &[2])), Error::BadHeader); // element
    assert_eq!(parse_err(&patched(f.clone(), 15, &[2])), Error::BadHeader); // bool
    assert_eq!(
        parse_err(&patched(f.clone(), 7, &f32::NAN.to_le_bytes())),
        Error::BadHeader
    );
    assert_eq!(
        parse_err(&patched(f.clone(), 21, &[1])),
        Error::ClassNameCount {
            found: 1,
            expected: 2
        }
    );
    assert_eq!(
        parse_err(&patched(f.clone(), 21, &[3])),
        Error::ClassNameCount {
            found: 3,
            expected: 2
        }
    );
    assert_eq!(
        parse_err(&patched(f.clone(), 4, &[4])),
        Error::UnsupportedVersion { found: 4 }
    );
    // Names that are there but bad: count 2, a one-byte name that is a control character.
    let mut named = f[..21].to_vec();
    named.extend_from_slice(&[2, 1, 0x07, 1, b'y']);
    named.resize(32, 0);
    named.extend_from_slice(&f[32..]);
    assert_eq!(
        parse_err(&with_crc(named)),
        Error::BadClassName { index: 0 }
    );
}

#[test]
fn every_new_body_check_has_its_error() {
    let f = small_f32();
    // Padding inside the body, between layer 0's weights and its bias.
    assert_eq!(
        parse_err(&patched(f.clone(), 60, &[1])),
        Error::NonZeroPadding { offset: 60 }
    );
    assert_eq!(
        parse_err(&patched(f.clone(), 30, &[1])),
        Error::NonZeroPadding { offset: 30 }
    );
    let nan = f32::NAN.to_le_bytes();
    assert_eq!(
        parse_err(&patched(f.clone(), 32 + 4 * 5, &nan)),
        Error::NonFiniteWeight {
            tensor: Tensor::Weights(0),
            index: 5
        }
    );
    assert_eq!(
        parse_err(&patched(f.clone(), 112 + 4, &f32::INFINITY.to_le_bytes())),
        Error::NonFiniteWeight {
            tensor: Tensor::Bias(1),
            index: 1
        }
    );
    let mut short = f.clone();
    short.pop();
    assert_eq!(
        parse_err(&short),
        Error::Truncated {
            needed: 124,
            found: 123
        }
    );
    let mut long = f.clone();
    long.push(0);
    assert_eq!(
        parse_err(&long),
        Error::TrailingBytes {
            expected: 124,
            found: 125
        }
    );
    let mut crc = f.clone();
    crc[40] ^= 1;
    assert!(matches!(parse_err(&crc), Error::BadChecksum { .. }));
}

/// The f32 bound of each layer follows its input's bound: sigmoid and tanh outputs are at
/// most 1, relu6's 6, identity's and relu's what came in.
#[test]
fn the_overflow_bound_is_checked_per_layer_through_each_activation() {
    let big = 1e33f32;
    for (act, passes) in [
        (Activation::Tanh, true),
        (Activation::Sigmoid, true),
        (Activation::Relu6, true),
        (Activation::Identity, false),
        (Activation::Relu, false),
    ] {
        // Layer 0's rows reach 255 · 1e33 / 255 = 1e33; layer 1 multiplies by 10^4 more.
        let mut owned = OwnedF32::new(&[1, 1, 1, 1], &[act, Activation::Identity, act], false, 1);
        owned.weights[0] = vec![big];
        owned.biases[0] = vec![0.0];
        owned.weights[1] = vec![1e4];
        owned.biases[1] = vec![0.0];
        let result = encode(&owned.model(), &[]);
        if passes {
            assert!(result.is_ok(), "{act:?}");
        } else {
            assert_eq!(
                result.unwrap_err(),
                Error::MayOverflow {
                    tensor: Tensor::Weights(1),
                    row: 0
                },
                "{act:?}"
            );
        }
    }
}

/// An int8 depth-2 model, tanh then relu6, softmax: offsets of its quantisation fields.
fn small_i8() -> (Vec<u8>, OwnedI8) {
    let owned = OwnedI8::new(&[2, 3, 2], &[Activation::Tanh, Activation::Relu6], true, 9);
    let bytes = encode(&owned.model(), &[]).unwrap();
    (bytes, owned)
}

/// Where the int8 header fields lie: after the 17-byte header and 4 bytes of layer headers,
/// the input quantisation (f32 scale, zigzag varint zero point), then each layer's.
fn i8_offsets(bytes: &[u8]) -> [usize; 4] {
    let zp_len = |at: usize| {
        let mut n = 1;
        while bytes[at + n - 1] & 0x80 != 0 {
            n += 1;
        }
        n
    };
    let input = 21;
    let out0 = input + 4 + zp_len(input + 4);
    let out1 = out0 + 4 + zp_len(out0 + 4);
    let softmax = out1 + 4 + zp_len(out1 + 4);
    [input, out0, out1, softmax]
}

#[test]
fn every_int8_field_has_its_error() {
    let (f, owned) = small_i8();
    assert!(ModelFile::parse(&f).is_ok());
    let [input, out0, out1, softmax] = i8_offsets(&f);
    let zero = 0.0f32.to_le_bytes();
    assert_eq!(
        parse_err(&patched(f.clone(), input, &zero)),
        Error::BadScale {
            tensor: QuantTensor::Input,
            index: 0
        }
    );
    assert_eq!(
        parse_err(&patched(f.clone(), out1, &f32::NAN.to_le_bytes())),
        Error::BadScale {
            tensor: QuantTensor::Output(1),
            index: 0
        }
    );
    // Zigzag 0xFE 0x03 is 255, outside [-128, 127]; written over a one-byte zero point
    // and the next field's first byte, which the error precedes.
    let mut wide = f.clone();
    wide.splice(out0 + 4..out0 + 5, [0xFE, 0x03]);
    wide.pop();
    assert_eq!(
        parse_err(&with_crc(wide)),
        Error::BadZeroPoint {
            tensor: QuantTensor::Output(0),
            found: 255
        }
    );
    // A softmax input multiplier of 1 (zigzag 2) is not one TFLite computes.
    assert_eq!(
        parse_err(&patched(f.clone(), softmax, &[2])),
        Error::BadSoftmaxParams
    );

    // The body: layer 0 is bias 3 i32 at 48, requant at 64, scales at 96, weights at 112,
    // table at 128; layer 1 from 384.
    let file = ModelFile::parse(&f).unwrap();
    assert_eq!(file.weights_offset(), 48);
    let mut bad = owned.requants.clone();
    bad[1][1] = Requant {
        multiplier: 5,
        shift: 0,
    };
    let with = |f: &dyn Fn(&mut OwnedI8)| {
        let mut o = OwnedI8::new(&[2, 3, 2], &[Activation::Tanh, Activation::Relu6], true, 9);
        f(&mut o);
        let m = o.model();
        format::encode_model(&m, &[], &mut vec![0; 1024])
            .map(|_| ())
            .unwrap_err()
    };
    assert_eq!(
        with(&|o| o.requants[1][1] = bad[1][1]),
        Error::BadRequant {
            tensor: QuantTensor::Layer(1),
            index: 1
        }
    );
    assert_eq!(
        with(&|o| o.weights[0][4] = -128),
        Error::WeightOutOfRange {
            tensor: Tensor::Weights(0),
            index: 4
        }
    );
    assert_eq!(
        with(&|o| o.biases[1][0] = i32::MAX),
        Error::AccumulatorOverflow {
            tensor: Tensor::Bias(1),
            index: 0
        }
    );
    assert_eq!(
        with(&|o| o.scales[0][2] = -1.0),
        Error::BadScale {
            tensor: QuantTensor::Layer(0),
            index: 2
        }
    );
    // The same refusals from a file: a weight of -128 patched into layer 0.
    assert_eq!(
        parse_err(&patched(f.clone(), 112 + 4, &[0x80])),
        Error::WeightOutOfRange {
            tensor: Tensor::Weights(0),
            index: 4
        }
    );
    assert_eq!(
        parse_err(&patched(f.clone(), 64 + 8, &[5, 0, 0, 0])),
        Error::BadRequant {
            tensor: QuantTensor::Layer(0),
            index: 1
        }
    );
    // More outputs than int8 softmax takes.
    let wide = OwnedI8::new(&[1, 300], &[Activation::Identity], true, 4);
    assert_eq!(encode(&wide.model(), &[]).unwrap_err(), Error::TooLarge);
}

#[test]
fn the_encoder_refuses_a_model_whose_slices_do_not_fit() {
    let base = || {
        OwnedI8::new(
            &[2, 3, 2],
            &[Activation::Sigmoid, Activation::Relu],
            false,
            3,
        )
    };
    let err = |o: &OwnedI8| encode(&o.model(), &[]).unwrap_err();
    let mut o = base();
    o.tables[0].pop();
    assert_eq!(
        err(&o),
        Error::LayerLength {
            layer: 0,
            tensor: LayerTensor::Table,
            expected: 256,
            found: 255
        }
    );
    let mut o = base();
    o.tables[1] = vec![0; 256];
    assert_eq!(
        err(&o),
        Error::LayerLength {
            layer: 1,
            tensor: LayerTensor::Table,
            expected: 0,
            found: 256
        }
    );
    let mut o = base();
    o.requants[1].pop();
    assert_eq!(
        err(&o),
        Error::LayerLength {
            layer: 1,
            tensor: LayerTensor::Requant,
            expected: 2,
            found: 1
        }
    );
    let mut o = base();
    o.weights[1].push(1);
    assert_eq!(
        err(&o),
        Error::LayerLength {
            layer: 1,
            tensor: LayerTensor::Weights,
            expected: 6,
            found: 7
        }
    );
    let mut o = base();
    o.activations[1] = Activation::Softmax;
    assert_eq!(
        err(&o),
        Error::BadActivation {
            layer: 1,
            found: Activation::Softmax
        }
    );
    // f32 runs a softmax layer, but a file keeps softmax as the model's flag.
    let f = OwnedF32::new(
        &[2, 3, 2],
        &[Activation::Softmax, Activation::Relu],
        false,
        1,
    );
    assert_eq!(
        encode(&f.model(), &[]).unwrap_err(),
        Error::BadActivation {
            layer: 0,
            found: Activation::Softmax
        }
    );
    // A chain that does not link: layer 1 takes 4 inputs after 3 outputs.
    let f = OwnedF32::new(&[2, 3, 2], &[Activation::Relu, Activation::Relu], false, 1);
    let Model::F32(mut m) = f.model() else {
        unreachable!()
    };
    let mut layers = Layers::new();
    let l0 = *m.layers.get(0).unwrap();
    let w = vec![0.0; 8];
    layers.push(l0).unwrap();
    layers
        .push(LayerF32 {
            weights: &w,
            inputs: 4,
            ..*m.layers.get(1).unwrap()
        })
        .unwrap();
    m.layers = layers;
    assert_eq!(
        encode(&Model::F32(m), &[]).unwrap_err(),
        Error::LayerInputs {
            layer: 1,
            expected: 3,
            found: 4
        }
    );
    let empty = Model::F32(ModelF32 {
        layers: Layers::new(),
        softmax: false,
        scaling: InputScaling::RAW,
    });
    assert_eq!(
        format::encoded_len_model(&empty, &[]),
        Err(Error::BadDepth { depth: 0 })
    );
    let f = OwnedF32::new(&[2, 3, 0], &[Activation::Relu, Activation::Relu], false, 1);
    assert_eq!(
        encode(&f.model(), &[]).unwrap_err(),
        Error::EmptyLayer { layer: 1 }
    );
    // Version 3 names: none or one per output.
    let f = OwnedF32::new(&[2, 3, 3, 2], &[Activation::Relu; 3], false, 1);
    assert_eq!(
        encode(&f.model(), &["a"]).unwrap_err(),
        Error::ClassNameCount {
            found: 1,
            expected: 2
        }
    );
    assert_eq!(
        encode(&f.model(), &["a", ""]).unwrap_err(),
        Error::BadClassName { index: 1 }
    );
    let mut small = [0u8; 16];
    assert!(matches!(
        format::encode_model(&f.model(), &[], &mut small),
        Err(Error::BufferTooSmall { found: 16, .. })
    ));
}

/// The files written before version 3 (the firmware's models and the fuzz seeds), and the
/// version-3 fuzz seeds, read as models that write back the same bytes.
#[test]
fn version_1_and_2_files_re_encode_byte_for_byte() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut seen = 0;
    for dir in ["firmware/models", "fuzz/seeds/model_file"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "nnm") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let aligned = AlignedBuf::new(&bytes);
            let file = ModelFile::parse(aligned.bytes()).unwrap();
            if file.version() < VERSION_3 {
                seen += 1;
                assert_eq!(file.depth(), 2);
            }
            let names: Vec<&str> = file.class_names().into_iter().collect();
            let model = file.model().unwrap();
            assert_eq!(encode(&model, &names).unwrap(), bytes, "{}", path.display());
        }
    }
    assert!(seen >= 8, "{seen} files");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any byte changed, removed or appended in a version-3 file: parse never panics, and
    /// what it accepts gives a model.
    #[test]
    fn corrupted_version_3_files_never_panic(
        at in 0usize..2000,
        value: u8,
        fix_crc: bool,
        int8: bool,
    ) {
        let bytes = if int8 { small_i8().0 } else { small_f32() };
        let mut b = bytes.clone();
        let at = at % b.len();
        b[at] = value;
        if fix_crc {
            b = with_crc(b);
        }
        let aligned = AlignedBuf::new(&b);
        if let Ok(file) = ModelFile::parse(aligned.bytes()) {
            let model = file.model().unwrap();
            prop_assert_eq!(decoded_depth(&model), file.depth());
            prop_assert_eq!(file.element(), match model {
                Model::F32(_) => ElementType::F32,
                Model::I8(_) => ElementType::I8,
            });
        }
        let _ = ModelFile::parse(&b[..at]);
    }
}

/// A model read back from its file predicts exactly what the model it was written from
/// predicts, f32 and int8, pixels, f32 and int8 inputs.
#[test]
fn a_decoded_model_predicts_what_its_source_predicts() {
    for depth in [1, 3, MAX_LAYERS] {
        for softmax in [false, true] {
            let (sizes, acts) = shape(depth, depth);
            let inputs = sizes[0];
            let outputs = sizes[depth];
            let f = OwnedF32::new(&sizes, &acts, softmax, 11);
            let q = OwnedI8::new(&sizes, &acts, softmax, 12);
            for source in [f.model(), q.model()] {
                let bytes = encode(&source, &[]).unwrap();
                let aligned = AlignedBuf::new(&bytes);
                let file = ModelFile::parse(aligned.bytes()).unwrap();
                let decoded = file.model().unwrap();
                let mut scratch = vec![0.0; source.scratch_len()];
                assert_eq!(decoded.scratch_len(), source.scratch_len());
                let pixels: Vec<u8> = (0..inputs).map(|i| (i * 97 % 256) as u8).collect();
                let x: Vec<f32> = pixels.iter().map(|&p| f32::from(p) / 64.0 - 2.0).collect();
                let run = |m: &Model<'_>, scratch: &mut [f32]| {
                    let mut a = vec![0.0; outputs];
                    let mut b = vec![0.0; outputs];
                    m.predict_pixels(&pixels, scratch, &mut a).unwrap();
                    m.predict(&x, scratch, &mut b).unwrap();
                    let mut c = vec![0i8; outputs];
                    if let Model::I8(_) = m {
                        let q: Vec<i8> = pixels.iter().map(|&p| (p as i32 - 128) as i8).collect();
                        m.predict_i8(&q, scratch, &mut c).unwrap();
                    }
                    (a, b, c)
                };
                let expected = run(&source, &mut scratch);
                assert_eq!(run(&decoded, &mut scratch), expected, "depth {depth}");
                assert!(expected.0.iter().chain(&expected.1).all(|v| v.is_finite()));
            }
        }
    }
}
