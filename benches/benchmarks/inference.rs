//! One whole inference, `nn_core::Mlp::predict` (the dispatched SIMD kernels) beside the
//! same steps through the scalar twins, for a 784-1024-10 and a 784-128-10 model with
//! random weights; and one int8 inference of the shipped `firmware/models/seed-int8.nnm`
//! (784-1024-10 sigmoid, the model `benches/tflite/infer.py` times TFLite on): `int8` through
//! the plain layers (`MlpI8::predict_pixels_into`), `int8-packed` through the layers packed
//! at load as `host-trainer` runs them (`MlpI8Packed`), each on the first 100 MNIST test
//! images in turn, and `int8-packed-dense` on an image with no black pixel (nothing to skip). Throughput is the model's bytes, which
//! every inference streams.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nn_core::kernels::scalar;
use nn_core::{Activation, InputScaling, Mlp};

use super::{Rng, config};

/// A model with weights uniform in ±1/√fan-in, on the heap: 784-1024-10 is 3.2 MB.
/// `Mlp::zeroed` may pass through the main thread's stack on its way into the box, which
/// holds it (8 MB).
fn boxed_model<const IN: usize, const H: usize, const OUT: usize>(
    rng: &mut Rng,
) -> Box<Mlp<IN, H, OUT>> {
    let mut model = Box::new(Mlp::<IN, H, OUT>::zeroed());
    model.hidden_activation = Activation::Sigmoid;
    model.output_activation = Activation::Softmax;
    model.scaling = InputScaling::UNIT;
    fill(
        model.hidden.weights.as_mut_slice(),
        rng,
        1.0 / (IN as f32).sqrt(),
    );
    fill(model.hidden.bias.as_mut_slice(), rng, 0.1);
    fill(
        model.output.weights.as_mut_slice(),
        rng,
        1.0 / (H as f32).sqrt(),
    );
    fill(model.output.bias.as_mut_slice(), rng, 0.1);
    model
}

fn fill(dst: &mut [f32], rng: &mut Rng, scale: f32) {
    for v in dst {
        *v = rng.next() * scale;
    }
}

/// What `Mlp::predict` does, step for step, through the scalar twins.
fn predict_scalar<const IN: usize, const H: usize, const OUT: usize>(
    m: &Mlp<IN, H, OUT>,
    x: &[f32; IN],
) -> usize {
    assert!(x.iter().all(|v| v.is_finite()));
    let mut hidden = [0.0f32; H];
    let mut out = [0.0f32; OUT];
    scalar::gemv_bias(
        m.hidden.weights.as_slice(),
        x,
        m.hidden.bias.as_slice(),
        &mut hidden,
    );
    scalar::sigmoid(&mut hidden);
    scalar::gemv_bias(
        m.output.weights.as_slice(),
        &hidden,
        m.output.bias.as_slice(),
        &mut out,
    );
    scalar::softmax(&mut out);
    scalar::argmax(&out)
}

fn bench_model<const IN: usize, const H: usize, const OUT: usize>(
    c: &mut Criterion,
    rng: &mut Rng,
) {
    let model = boxed_model::<IN, H, OUT>(rng);
    let mut x = [0.0f32; IN];
    fill(&mut x, rng, 1.0);
    let name = format!("{IN}-{H}-{OUT}");
    let mut group = c.benchmark_group("inference");
    group.throughput(Throughput::Bytes(
        (Mlp::<IN, H, OUT>::PARAMETERS * size_of::<f32>()) as u64,
    ));
    group.bench_function(BenchmarkId::new("scalar", &name), |b| {
        b.iter(|| predict_scalar(black_box(&model), black_box(&x)))
    });
    group.bench_function(BenchmarkId::new("simd", &name), |b| {
        b.iter(|| black_box(&model).predict(black_box(&x)).map(|p| p.class))
    });
    group.finish();
}

/// The int8 784-1024-10 model the firmware ships, read as the host reads any model file.
const SEED_INT8: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/firmware/models/seed-int8.nnm");

/// The first 100 MNIST test images, the ones the firmware carries (and TFLite's side times
/// the first test images too).
const DIGITS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/firmware/data/t10k-100-images.bin"
);

/// One int8 inference per iteration, the next of `images` each time.
fn cycle<'a>(images: &'a [Vec<u8>]) -> impl FnMut() -> &'a [u8] {
    let mut i = 0;
    move || {
        i = (i + 1) % images.len();
        &images[i]
    }
}

fn bench_int8(c: &mut Criterion, rng: &mut Rng) {
    let bytes = std::fs::read(SEED_INT8).unwrap_or_else(|e| panic!("{SEED_INT8}: {e}"));
    let aligned = host_trainer::model::AlignedBytes::new(&bytes);
    let file = nn_core::format::ModelFile::parse(aligned.bytes())
        .unwrap_or_else(|e| panic!("{SEED_INT8}: {e}"));
    let model = file
        .slices_i8()
        .unwrap_or_else(|e| panic!("{SEED_INT8}: {e}"));
    // The layers packed at load, as `host-trainer` loads and runs every int8 model.
    let host = host_trainer::model::HostModel::load(std::path::Path::new(SEED_INT8))
        .unwrap_or_else(|e| panic!("{SEED_INT8}: {e}"));
    let packed = host.model();
    assert!(
        matches!(packed, nn_core::network::Model::I8(_)),
        "{SEED_INT8}: not an int8 model"
    );
    let mut packed_scratch = vec![0.0f32; packed.scratch_len()];
    let shape = model.shape();
    let name = format!("{}-{}-{}", shape.input, shape.hidden, shape.output);
    let digits: Vec<Vec<u8>> = std::fs::read(DIGITS)
        .unwrap_or_else(|e| panic!("{DIGITS}: {e}"))
        .chunks_exact(shape.input)
        .map(<[u8]>::to_vec)
        .collect();
    // No black pixels: nothing for the packed kernel to skip.
    let dense: Vec<Vec<u8>> = vec![
        (0..shape.input)
            .map(|_| ((rng.next() + 1.0) * 127.5) as u8 | 1)
            .collect(),
    ];
    let mut scratch = vec![0i8; shape.input + shape.hidden + shape.output];
    let mut out = vec![0i8; shape.output];
    let mut group = c.benchmark_group("inference");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    let mut next = cycle(&digits);
    group.bench_function(BenchmarkId::new("int8", &name), |b| {
        b.iter(|| {
            model
                .predict_pixels_into(black_box(next()), &mut scratch, &mut out)
                .expect("lengths match the model")
        })
    });
    for (id, images) in [("int8-packed", &digits), ("int8-packed-dense", &dense)] {
        let mut next = cycle(images);
        group.bench_function(BenchmarkId::new(id, &name), |b| {
            b.iter(|| {
                packed
                    .predict_pixels_i8(black_box(next()), &mut packed_scratch, &mut out)
                    .expect("lengths match the model")
            })
        });
    }
    group.finish();
}

fn inference(c: &mut Criterion) {
    let mut rng = Rng(0x5eed_0001);
    bench_model::<784, 1024, 10>(c, &mut rng);
    bench_model::<784, 128, 10>(c, &mut rng);
    bench_int8(c, &mut rng);
}

criterion_group! {
    name = benches;
    config = config();
    targets = inference
}
