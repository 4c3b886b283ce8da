//! The int8 `dense_i8` on the layers of the two models, each version beside its scalar
//! twin. Throughput is the bytes of `W` (one per weight, a quarter of the f32 gemv's), so
//! criterion's GB/s compare directly with the `gemv` group's. "simd" is what the
//! dispatcher runs on this build (AVX-512 VNNI where the build has it), "simd-wide" the
//! `wide` i16 path that builds without VNNI (AVX2, SSE2) run.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nn_core::kernels::int8::packed::PackedDenseI8;
use nn_core::kernels::int8::{DenseI8Args, DenseI8Fn, scalar, simd};
use nn_core::quant::{DenseI8Params, Requant};

use super::{Rng, config};

fn dense_i8(c: &mut Criterion) {
    let mut group = c.benchmark_group("dense_i8");
    let mut rng = Rng(0xdead_beef);
    let mut i8s = |n: usize| -> Vec<i8> { (0..n).map(|_| (rng.next() * 127.0) as i8).collect() };
    let p = DenseI8Params {
        input_zero_point: -128,
        output_zero_point: -128,
        min: -128,
        max: 127,
    };
    // (cols, rows) = (inputs, outputs) of each layer.
    for (cols, rows) in [(784, 1024), (784, 128), (1024, 10), (128, 10)] {
        let w = i8s(rows * cols);
        let x = i8s(cols);
        let bias: Vec<i32> = (0..rows as i32).map(|r| r * 37 - 500).collect();
        let requant = vec![Requant::from_real(1.0 / 4096.0).expect("in range"); rows];
        let mut y = vec![0i8; rows];
        group.throughput(Throughput::Bytes(w.len() as u64));
        let shape = format!("{cols}x{rows}");
        let versions: [(&str, DenseI8Fn); 3] = [
            ("scalar", scalar::dense_i8),
            ("simd", simd::dense_i8),
            ("simd-wide", simd::wide_i16::dense_i8),
        ];
        for (name, dense) in versions {
            group.bench_function(BenchmarkId::new(name, &shape), |bench| {
                bench.iter(|| {
                    dense(DenseI8Args::new(
                        black_box(&w),
                        black_box(&x),
                        &bias,
                        &requant,
                        p,
                        &mut y,
                    ))
                })
            });
        }
        let mut buf = vec![0i32; PackedDenseI8::buffer_len(rows, cols)];
        PackedDenseI8::pack(&w, cols, &bias, &requant, p, &mut buf);
        let packed = PackedDenseI8::new(&w, cols, &bias, &requant, p, &buf);
        group.bench_function(BenchmarkId::new("simd-packed", &shape), |bench| {
            bench.iter(|| simd::dense_i8_packed(black_box(&packed), black_box(&x), &mut y))
        });
    }
    group.finish();
}

/// MLPerf Tiny's anomaly-detection model's shapes (640-128-128-128-128-8-128-128-128-128-640,
/// ReLU, 264,192 MACs), random weights with a fixed seed and one requantisation per layer:
/// one whole inference through `nn_core::kernels::dense_i8` (the dispatch table's choice)
/// and through the layers packed once (`dense_i8_packed`); then `model-packed`, the model
/// itself (`firmware/models/ad01-int8.nnm`) loaded as `host-trainer` loads it, its layers
/// packed, `Model::predict_i8` on 64 random int8 inputs in turn. `benches/tflite/ad.py`
/// times TFLite on the same model and the same kind of inputs, one thread, to compare.
/// The anomaly detector the firmware ships, imported from MLPerf Tiny's TFLite file.
const AD01_INT8: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/firmware/models/ad01-int8.nnm");

fn anomaly_detector(c: &mut Criterion) {
    const SIZES: [usize; 11] = [640, 128, 128, 128, 128, 8, 128, 128, 128, 128, 640];
    let mut group = c.benchmark_group("dense_i8_ad");
    let mut rng = Rng(0x5eed_0001);
    let mut i8s = |n: usize| -> Vec<i8> { (0..n).map(|_| (rng.next() * 127.0) as i8).collect() };
    let p = DenseI8Params {
        input_zero_point: -128,
        output_zero_point: -128,
        min: -128,
        max: 127,
    };
    let requant = vec![Requant::from_real(1.0 / 2048.0).expect("in range"); 640];
    let bias: Vec<i32> = (0..640).map(|r| r * 37 - 5000).collect();
    let layers: Vec<(Vec<i8>, usize, usize)> = SIZES
        .windows(2)
        .map(|s| (i8s(s[0] * s[1]), s[0], s[1]))
        .collect();
    let x = i8s(640);
    group.throughput(Throughput::Elements(
        layers.iter().map(|(w, _, _)| w.len() as u64).sum(),
    ));
    let (mut a, mut b) = (vec![0i8; 640], vec![0i8; 640]);
    group.bench_function("dense_i8", |bench| {
        bench.iter(|| {
            a.copy_from_slice(black_box(&x));
            for (w, cols, rows) in &layers {
                nn_core::kernels::dense_i8(
                    w,
                    &a[..*cols],
                    &bias[..*rows],
                    &requant[..*rows],
                    p,
                    &mut b[..*rows],
                );
                std::mem::swap(&mut a, &mut b);
            }
            black_box(&a);
        })
    });
    let bufs: Vec<Vec<i32>> = layers
        .iter()
        .map(|(w, cols, rows)| {
            let mut buf = vec![0i32; PackedDenseI8::buffer_len(*rows, *cols)];
            PackedDenseI8::pack(w, *cols, &bias[..*rows], &requant[..*rows], p, &mut buf);
            buf
        })
        .collect();
    let packed: Vec<PackedDenseI8<'_>> = layers
        .iter()
        .zip(&bufs)
        .map(|((w, cols, rows), buf)| {
            PackedDenseI8::new(w, *cols, &bias[..*rows], &requant[..*rows], p, buf)
        })
        .collect();
    group.bench_function("dense_i8_packed", |bench| {
        bench.iter(|| {
            a.copy_from_slice(black_box(&x));
            for (layer, (_, cols, rows)) in packed.iter().zip(&layers) {
                nn_core::kernels::dense_i8_packed(layer, &a[..*cols], &mut b[..*rows]);
                std::mem::swap(&mut a, &mut b);
            }
            black_box(&a);
        })
    });
    let host = host_trainer::model::HostModel::load_any(std::path::Path::new(AD01_INT8))
        .unwrap_or_else(|e| panic!("{AD01_INT8}: {e}"));
    let model = host.model();
    assert_eq!(
        (model.inputs(), model.outputs()),
        (640, 640),
        "{AD01_INT8}: not the anomaly detector"
    );
    let inputs: Vec<Vec<i8>> = (0..64).map(|_| i8s(640)).collect();
    let mut scratch = vec![0.0f32; model.scratch_len()];
    let mut out = vec![0i8; 640];
    let mut i = 0;
    group.bench_function("model-packed", |bench| {
        bench.iter(|| {
            i = (i + 1) % inputs.len();
            model
                .predict_i8(black_box(&inputs[i]), &mut scratch, &mut out)
                .expect("lengths match the model");
            black_box(&out);
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = dense_i8, anomaly_detector
}
