//! The page's Learn on other writers' digits, k shots per class: what a person gets who keeps
//! k optdigits digits of each class on the page and presses Learn. It runs nn-wasm's
//! `teach::learn` (the page's own code; its weights are the wasm module's bit for bit, see
//! `tests/learns_as_host.rs`) on this machine, with the replay examples `serve` offers (the
//! first 30 MNIST training images of each class), and reads the held-out optdigits digits
//! (the rest of the 1,797) and MNIST's 10,000 test images before and after.
//!
//! ```sh
//! cargo run --release -p nn-wasm --example page_kshot -- [MODEL.nnm] [SEED]
//! ```
//! (default `firmware/models/mcu.nnm`, seed 1; MNIST must be in the trainer's cache.)

use std::time::Instant;

use nn_core::CLASSES;
use nn_core::train::Rng;
use nn_data::dataset::Dataset;
use nn_data::mnist::{self, Fetch};
use nn_wasm::teach::{self, RECORD};
use nn_wasm::{Model, Work};

/// Records of `set`'s images `picked`.
fn records(set: &Dataset, picked: impl Iterator<Item = usize>) -> Vec<u8> {
    let mut out = vec![];
    for i in picked {
        out.push(set.label(i));
        out.extend_from_slice(set.image(i));
    }
    out
}

/// The file's bytes at a 16-byte aligned address.
fn aligned(bytes: &[u8]) -> &'static [u8] {
    let words: Vec<u128> = bytes
        .chunks(16)
        .map(|c| {
            let mut b = [0u8; 16];
            b[..c.len()].copy_from_slice(c);
            u128::from_ne_bytes(b)
        })
        .collect();
    let words: &'static [u128] = Box::leak(words.into_boxed_slice());
    // Safety: a u128 slice is readable as bytes, and `bytes.len()` is within it.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), bytes.len()) }
}

/// Percent of `set`'s images `which` the model file reads right.
fn accuracy(file: &'static [u8], set: &Dataset, which: &[usize], work: &mut Work) -> f64 {
    let model = Model::load(file).expect("a model the page runs");
    let mut p = [0.0; CLASSES];
    let right = which
        .iter()
        .filter(|&&i| {
            model.predict(set.image(i), work, &mut p).unwrap() == usize::from(set.label(i))
        })
        .count();
    100.0 * right as f64 / which.len() as f64
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .map_or("firmware/models/mcu.nnm", String::as_str);
    let seed: u64 = args.get(1).map_or(1, |s| s.parse().expect("a seed"));
    let served = aligned(&std::fs::read(path).expect("the model file"));
    let other = nn_data::optdigits::load().expect("optdigits");
    let mnist = mnist::load(&mnist::default_dir(), Fetch::Never).expect("MNIST in the cache");
    let mut per_class = [0usize; CLASSES];
    let replay = records(
        &mnist.train,
        (0..mnist.train.len()).filter(|&i| {
            let c = &mut per_class[usize::from(mnist.train.label(i))];
            *c += 1;
            *c <= 30
        }),
    );
    let mut work = Box::new(Work::ZERO);
    let all_mnist: Vec<usize> = (0..mnist.test.len()).collect();
    let file = nn_core::format::ModelFile::parse(served).expect("a model file");
    let (words, bytes) = teach::needs(&file, replay.len() / RECORD).expect("an f32 classifier");
    println!(
        "{path}, seed {seed}: optdigits held out, MNIST test, before → after; learn time on this machine"
    );
    for k in [5, 10, 20] {
        let mut order: Vec<usize> = (0..other.len()).collect();
        Rng::new(seed).shuffle(&mut order);
        let mut taken = [0usize; CLASSES];
        let (shots, rest): (Vec<usize>, Vec<usize>) = order.iter().partition(|&&i| {
            let t = &mut taken[usize::from(other.label(i))];
            *t += 1;
            *t <= k
        });
        // Kept in rounds of 0–9, as a person might keep them, so the page's held-out rule
        // takes every digit alike.
        let mut kept_order = shots.clone();
        kept_order.sort_by_key(|&i| {
            let rank = shots
                .iter()
                .take_while(|&&j| j != i)
                .filter(|&&j| other.label(j) == other.label(i))
                .count();
            (rank, other.label(i))
        });
        let kept = records(&other, kept_order.into_iter());
        let mut memory = vec![0.0f32; words];
        let mut out = vec![0u8; bytes];
        let start = Instant::now();
        let outcome =
            teach::learn(&file, &kept, &replay, &mut memory, &mut work, &mut out).expect("learn");
        let secs = start.elapsed().as_secs_f64();
        let tuned = aligned(&out[..outcome.file_len]);
        println!(
            "k = {k:2}: optdigits {:.1} % → {:.1} % ({} held out), MNIST {:.2} % → {:.2} %, \
             page's own measure {}/{} → {}/{}, {} steps, {secs:.2} s",
            accuracy(served, &other, &rest, &mut work),
            accuracy(tuned, &other, &rest, &mut work),
            rest.len(),
            accuracy(served, &mnist.test, &all_mnist, &mut work),
            accuracy(tuned, &mnist.test, &all_mnist, &mut work),
            outcome.before,
            outcome.held_out,
            outcome.after,
            outcome.held_out,
            outcome.steps,
        );
    }
}
