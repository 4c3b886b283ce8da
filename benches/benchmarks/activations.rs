//! The element-wise kernels and softmax, in place. Each iteration first copies the same
//! logits back in (a sigmoid fed its own output would see only positive inputs and
//! flatter the twin's branch); the "copy only" line times that copy alone, to subtract.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nn_core::kernels::{scalar, simd};

use super::{Rng, config};

/// `(name, kernel)`.
type InPlace = (&'static str, fn(&mut [f32]));

fn bench_in_place(c: &mut Criterion, group_name: &str, sizes: &[usize], variants: [InPlace; 2]) {
    let mut group = c.benchmark_group(group_name);
    let mut rng = Rng(0x1234_5678);
    for &n in sizes {
        // Logits of the spread a trained hidden layer sees.
        let x = rng.vec(n, 8.0);
        let mut y = x.clone();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("copy only", n), &x, |b, x| {
            b.iter(|| y.copy_from_slice(black_box(x)))
        });
        for (name, kernel) in variants {
            group.bench_with_input(BenchmarkId::new(name, n), &x, |b, x| {
                b.iter(|| {
                    y.copy_from_slice(black_box(x));
                    kernel(black_box(&mut y))
                })
            });
        }
    }
    group.finish();
}

fn sigmoid(c: &mut Criterion) {
    bench_in_place(
        c,
        "sigmoid",
        &[1024, 128],
        [("scalar", scalar::sigmoid), ("simd", simd::sigmoid)],
    );
}

fn softmax(c: &mut Criterion) {
    bench_in_place(
        c,
        "softmax",
        &[10, 1024],
        [("scalar", scalar::softmax), ("simd", simd::softmax)],
    );
}

fn relu(c: &mut Criterion) {
    bench_in_place(
        c,
        "relu",
        &[1024],
        [("scalar", scalar::relu), ("simd", simd::relu)],
    );
}

fn argmax(c: &mut Criterion) {
    let mut group = c.benchmark_group("argmax");
    let mut rng = Rng(0x0bad_cafe);
    for n in [10, 1024] {
        let x = rng.vec(n, 1.0);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("scalar", n), &x, |b, x| {
            b.iter(|| scalar::argmax(black_box(x)))
        });
        group.bench_with_input(BenchmarkId::new("simd", n), &x, |b, x| {
            b.iter(|| simd::argmax(black_box(x)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = sigmoid, softmax, relu, argmax
}
