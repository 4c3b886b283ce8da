//! Criterion benches of the nn-core kernels: each SIMD kernel beside its scalar twin on
//! the sizes inference uses, then one whole inference of each model. Run with
//! `cargo bench --bench kernels`; the table of results is in `benches/README.md`.

mod benchmarks;

criterion::criterion_main!(
    benchmarks::activations::benches,
    benchmarks::gemv::benches,
    benchmarks::inference::benches,
);
