//! `y ← W x + b` on the layers of the two models. Throughput is the bytes of `W`, the
//! one operand too big for L1/L2 (3.2 MB for 784×1024), so criterion prints GB/s to
//! compare with the memory bandwidth, and "read-only sum" times a loop that only reads
//! `W`: the bound. Benched hot: 3.2 MB overflows this machine's 2 MB L2 but stays in L3.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nn_core::kernels::{scalar, simd};

use super::{Rng, config};

fn gemv(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemv");
    let mut rng = Rng(0xdead_beef);
    // (cols, rows) = (inputs, outputs) of each layer.
    for (cols, rows) in [(784, 1024), (784, 128), (1024, 10), (128, 10)] {
        let w = rng.vec(rows * cols, 0.05);
        let x = rng.vec(cols, 1.0);
        let b = rng.vec(rows, 0.1);
        let mut y = vec![0.0; rows];
        group.throughput(Throughput::Bytes((w.len() * size_of::<f32>()) as u64));
        let shape = format!("{cols}x{rows}");
        group.bench_function(BenchmarkId::new("scalar", &shape), |bench| {
            bench.iter(|| scalar::gemv_bias(black_box(&w), black_box(&x), &b, &mut y))
        });
        group.bench_function(BenchmarkId::new("simd", &shape), |bench| {
            bench.iter(|| simd::gemv_bias(black_box(&w), black_box(&x), &b, &mut y))
        });
        // Only where `W` overflows the 2 MB L2: smaller ones are bound by the core, not memory.
        if w.len() * size_of::<f32>() > 2 << 20 {
            group.bench_function(BenchmarkId::new("read-only sum", &shape), |bench| {
                bench.iter(|| read_only_sum(black_box(&w)))
            });
        }
    }
    group.finish();
}

/// Σ w, in 32 independent lanes that the compiler vectorises: the least work that still
/// reads all of `w`, so its time is the memory bound a gemv of that size can approach.
fn read_only_sum(w: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 32];
    let (chunks, tail) = w.as_chunks::<32>();
    for chunk in chunks {
        for (l, v) in lanes.iter_mut().zip(chunk) {
            *l += v;
        }
    }
    lanes.iter().sum::<f32>() + tail.iter().sum::<f32>()
}

criterion_group! {
    name = benches;
    config = config();
    targets = gemv
}
