//! One training step of the seed preset (784-1024-10 sigmoid, batch 32) and its parts, as
//! training runs them (`nn_train::fast`): forward, the Adam update alone, and backward fused
//! with the update. An epoch is 1,875 steps, so `seconds per epoch ≈ 1875 × (forward +
//! fused)`. nn-core's plain step (`nn_core::train::Learner`), the readable one that the page
//! and the boards run, is timed beside them.
//! Run with `cargo bench --bench train_epoch`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nn_core::train::{self, Learn, Learner, Net, Optimizer};
use nn_data::Dataset;
use nn_train::fast;
use nn_train::network::{self, Flat, Workspace};
use nn_train::presets::Preset;
use nn_train::rng::Rng;
use nn_train::{Silent, Trainer};

const BATCH: usize = 32;

/// MNIST-like synthetic digits: about a fifth of the pixels inked, as in MNIST, so the
/// products see the same numbers of zeros without needing the data set on disk.
fn synthetic(n: usize) -> Dataset {
    let mut rng = Rng::new(9);
    let images = (0..n * 784)
        .map(|_| {
            if rng.below(5) == 0 {
                rng.below(256) as u8
            } else {
                0
            }
        })
        .collect();
    let labels = (0..n).map(|_| rng.below(10) as u8).collect();
    Dataset { images, labels }
}

fn step(c: &mut Criterion) {
    let config = Preset::Seed.config(1);
    let data = synthetic(BATCH);
    let mut trainer = Trainer::new(config.clone()).expect("valid preset");
    let mut ws = Workspace::new(&config.sizes(), BATCH);
    let indices: Vec<usize> = (0..BATCH).collect();
    ws.load(&data.images, &data.labels, &indices, config.scaling);
    // Real gradients for the Adam bench to apply (the fused step leaves grads.w1 alone).
    let mut grads = Flat::zeros(&config.sizes());
    network::forward(&trainer.net, &mut ws, BATCH);
    network::backward(&trainer.net, &mut ws, &mut grads, BATCH);

    nn_train::denormals::flush_to_zero_everywhere();
    let mut g = c.benchmark_group("seed_step");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("forward", |b| {
        b.iter(|| fast::forward(&trainer.net, &mut ws, BATCH))
    });
    g.bench_function("adam", |b| {
        b.iter(|| trainer.adam.step(&mut trainer.net.params, &grads))
    });
    g.bench_function("backward_and_step_fused", |b| {
        b.iter(|| {
            fast::backward_and_step(
                &mut trainer.net,
                &mut ws,
                &mut grads,
                &mut trainer.adam,
                BATCH,
            )
        })
    });
    g.finish();

    // nn-core's plain step, naive loops throughout: what the fast one is tested against,
    // and what the page and the boards run.
    let sizes = config.sizes();
    let activations = [trainer.net.activation.into(), nn_core::Activation::Identity];
    let mut params = trainer.net.params.data.clone();
    let mut state = vec![0.0; train::state_len(&sizes, Learn::All)];
    let mut work = vec![0.0; train::work_len(&sizes, BATCH)];
    let net = Net {
        sizes: &sizes,
        activations: &activations,
    };
    let adam = Optimizer::Adam(config.adam);
    let mut learner = Learner::new(
        net,
        Learn::All,
        adam,
        &mut params,
        &mut state,
        &mut work,
        BATCH,
    )
    .expect("a valid learner");
    let mut g = c.benchmark_group("seed_step_plain");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10);
    g.bench_function("step", |b| {
        b.iter(|| learner.step(&ws.x, &ws.labels).expect("a valid step"))
    });
    g.finish();

    // A short epoch over 100 batches through the real loop (shuffle, load, step), from a
    // fresh network: the one above has taken thousands of steps on a single batch.
    let mut trainer = Trainer::new(config).expect("valid preset");
    let data = synthetic(100 * BATCH);
    let mut g = c.benchmark_group("seed_epoch");
    g.throughput(Throughput::Elements(data.len() as u64));
    g.sample_size(10);
    g.bench_function("100_batches", |b| {
        b.iter(|| {
            trainer
                .train_epoch(&data, &mut Silent)
                .expect("finite loss")
        })
    });
    g.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
