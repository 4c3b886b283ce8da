//! Criterion benches of the nn-core kernels: each SIMD kernel beside its scalar twin on
//! the sizes inference uses (f32 and int8), then one whole inference of each model. Run with
//! `cargo bench --bench kernels`; the table of results is in `benches/README.md`.

mod benchmarks;

criterion::criterion_main!(
    benchmarks::activations::benches,
    benchmarks::gemv::benches,
    benchmarks::dense_i8::benches,
    benchmarks::inference::benches,
);
