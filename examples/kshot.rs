//! The k-shot benchmark on the host: a model fine-tuned on `k` of other writers' digits per
//! class (UCI's optdigits, shipped in `third_party/optdigits/`), for k = 5, 10 and 20, and
//! measured on the digits it did not see and on MNIST's test set, before and after.
//!
//! The same split (`nn_data::split::k_shot`, seeded), the same plan and the same learner as
//! `host-trainer train --init M --data optdigits --shots K`; one Markdown row per k.
//!
//! ```sh
//! cargo run --release --example kshot -- --model models/default.nnm [--learn all|last|biases]
//!     [--shots 5,10,20] [--seeds 1,2,3] [--epochs E] [--batch B] [--replay N] [--lr LR] [--shift R]
//! ```
//!
//! MNIST must be in its cache directory (`host-trainer eval` fetches it there): it is the
//! replay set and the forgetting measure.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use host_trainer::commands::finetune::{DEFAULT_PLAN, Trainable, cached_mnist, tune};
use host_trainer::evaluate::evaluate;
use host_trainer::model::HostModel;
use nn_core::train::{Learn, Plan};
use nn_data::{optdigits, split};

/// The command line: every flag as `--name value`.
struct Options {
    model: PathBuf,
    learn: Learn,
    shots: Vec<usize>,
    seeds: Vec<u64>,
    plan: Plan,
    lr: f32,
    shift: usize,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        model: PathBuf::from("models/default.nnm"),
        learn: Learn::All,
        shots: vec![5, 10, 20],
        seeds: vec![1, 2, 3],
        plan: Plan {
            epochs: DEFAULT_PLAN.epochs,
            batch: DEFAULT_PLAN.batch,
            replay: DEFAULT_PLAN.replay,
            seed: 1,
        },
        lr: DEFAULT_PLAN.lr,
        shift: DEFAULT_PLAN.shift,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [flag, value] = pair else {
            return Err(format!("{} has no value", pair[0]));
        };
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--model" => o.model = PathBuf::from(value),
            "--learn" => {
                o.learn = value
                    .parse()
                    .map_err(|()| bad(&"expected all, last or biases"))?;
            }
            "--shots" => o.shots = list(value).map_err(|e| bad(&e))?,
            "--seeds" => o.seeds = list(value).map_err(|e| bad(&e))?,
            "--epochs" => o.plan.epochs = value.parse().map_err(|e| bad(&e))?,
            "--batch" => o.plan.batch = value.parse().map_err(|e| bad(&e))?,
            "--replay" => o.plan.replay = value.parse().map_err(|e| bad(&e))?,
            "--lr" => o.lr = value.parse().map_err(|e| bad(&e))?,
            "--shift" => o.shift = value.parse().map_err(|e| bad(&e))?,
            _ => {
                return Err(format!(
                    "unknown flag {flag} (see the example's doc comment)"
                ));
            }
        }
    }
    if o.seeds.is_empty() || o.shots.is_empty() {
        return Err("--shots and --seeds each need at least one value".into());
    }
    Ok(o)
}

/// `5,10,20` as numbers.
fn list<T: std::str::FromStr>(value: &str) -> Result<Vec<T>, T::Err> {
    value.split(',').map(str::parse).collect()
}

/// One k at one seed.
struct Row {
    held_out: usize,
    before: f64,
    after: f64,
    mnist_after: f64,
    steps: u32,
    seconds: f64,
}

fn run() -> Result<(), String> {
    let o = options()?;
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let model = HostModel::load(&o.model).map_err(|e| err(&e))?;
    let init = Trainable::of(&model, &o.model).map_err(|e| err(&e))?;
    let digits = optdigits::load().map_err(|e| err(&e))?;
    let (Some(mnist), _) = cached_mnist().map_err(|e| err(&e))? else {
        return Err("MNIST is not in its cache directory: run `host-trainer eval` once".into());
    };
    let mnist_before = evaluate(&o.model, &model, &mnist.test).map_err(|e| err(&e))?;
    println!(
        "{}: learn {}, {} epochs, batch {} + {} replay, shifts up to {}, Adam lr {}, seeds {:?}; \
         accuracy in % as the mean over the seeds (lowest, highest)",
        o.model.display(),
        o.learn.name(),
        o.plan.epochs,
        o.plan.batch,
        o.plan.replay,
        o.shift,
        o.lr,
        o.seeds
    );
    println!("| k | held out | before | after | MNIST before | MNIST after | steps | time |");
    println!("|---|---|---|---|---|---|---|---|");
    for &k in &o.shots {
        let mut rows = Vec::new();
        for &seed in &o.seeds {
            let parts = split::k_shot(&digits.labels, k, seed).map_err(|e| err(&e))?;
            let (learn, held_out) = (digits.select(&parts.shots), digits.select(&parts.held_out));
            let before = evaluate(&o.model, &model, &held_out).map_err(|e| err(&e))?;
            let mut tuned = init.clone();
            let plan = Plan { seed, ..o.plan };
            let started = Instant::now();
            let stats = tune(
                &mut tuned,
                o.learn,
                o.lr,
                plan,
                &learn,
                o.shift,
                Some(&mnist.train),
            )
            .map_err(|e| err(&e))?;
            let seconds = started.elapsed().as_secs_f64();
            let bytes = tuned.encode(model.class_names()).map_err(|e| err(&e))?;
            let tuned = HostModel::from_bytes(&bytes, &o.model).map_err(|e| err(&e))?;
            let after = evaluate(&o.model, &tuned, &held_out).map_err(|e| err(&e))?;
            let mnist_after = evaluate(&o.model, &tuned, &mnist.test).map_err(|e| err(&e))?;
            rows.push(Row {
                held_out: held_out.len(),
                before: 100.0 * before.accuracy(),
                after: 100.0 * after.accuracy(),
                mnist_after: 100.0 * mnist_after.accuracy(),
                steps: stats.steps,
                seconds,
            });
        }
        let spread = |f: fn(&Row) -> f64| {
            let values: Vec<f64> = rows.iter().map(f).collect();
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let (lo, hi) = values
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            format!("{mean:.2} ({lo:.2}–{hi:.2})")
        };
        println!(
            "| {k} | {} | {} | {} | {:.2} | {} | {} | {} s |",
            rows[0].held_out,
            spread(|r| r.before),
            spread(|r| r.after),
            100.0 * mnist_before.accuracy(),
            spread(|r| r.mnist_after),
            rows[0].steps,
            spread(|r| r.seconds)
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
