//! `train --init`: a shipped model fine-tuned by the binary as a user runs it. The quick tests
//! learn small synthetic sets with MNIST kept out of reach (an empty cache directory); the
//! end-to-end one is the k-shot goal on other writers' digits, with MNIST replayed:
//! `cargo test -p host-trainer --test finetune -- --ignored`.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Synthetic, host_trainer, host_trainer_binary, root};
use nn_data::npy::{self, Array, Data};

/// Runs the binary with `args`, MNIST's cache directory set to `cache`; returns whether it
/// succeeded, its stdout and its stderr.
fn run_with_cache(cache: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(host_trainer_binary())
        .args(args)
        .env("MNIST_MCU_DATA", cache)
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The two percentages of the report line starting with `label` (`before -> after`).
fn before_after(out: &str, label: &str) -> (f64, f64) {
    let line = out
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no '{label}' line in {out}"));
    let numbers: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

fn mcu() -> String {
    root().join("firmware/models/mcu.nnm").display().to_string()
}

#[test]
fn synthetic_digits_are_learned_from_five_each_and_idx_and_npy_give_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("no-mnist");
    let set = Synthetic::write(dir.path(), 200, 10);
    let (images, labels) = (
        set.dir.join("train-images-idx3-ubyte"),
        set.dir.join("train-labels-idx1-ubyte"),
    );
    let from_idx = dir.path().join("idx.nnm");
    // The synthetic digits are bars told apart by their row: shifted copies would blur them.
    let args = [
        "--shots", "5", "--epochs", "20", "--lr", "1e-3", "--seed", "4", "--shift", "0",
    ];
    let (ok, out, err) = run_with_cache(
        &cache,
        &[
            &[
                "train",
                "--init",
                &mcu(),
                "--out",
                from_idx.to_str().unwrap(),
            ][..],
            &["--idx", images.to_str().unwrap(), labels.to_str().unwrap()],
            &args,
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    assert!(out.contains("MNIST is not in"), "{out}");
    assert!(out.contains("50 examples to learn from (5 per class, seed 4), 150 held out"));
    let (before, after) = before_after(&out, "held out:");
    assert!(
        after >= 90.0 && after > before + 20.0,
        "{before} -> {after}"
    );

    // The same examples as .npy arrays: the same split, the same steps, the same bytes.
    let mnist = nn_data::idx::load_pair(&images, &labels).unwrap();
    let (x, y) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    let write = |path: &Path, shape: Vec<usize>, data: Vec<u8>| {
        std::fs::write(
            path,
            npy::encode(&Array {
                shape,
                data: Data::U8(data),
            }),
        )
        .unwrap();
    };
    write(&x, vec![mnist.len(), 784], mnist.images.clone());
    write(&y, vec![mnist.len()], mnist.labels.clone());
    let from_npy = dir.path().join("npy.nnm");
    let (ok, _, err) = run_with_cache(
        &cache,
        &[
            &[
                "train",
                "--init",
                &mcu(),
                "--out",
                from_npy.to_str().unwrap(),
            ][..],
            &["--npy", x.to_str().unwrap(), y.to_str().unwrap()],
            &args,
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read(&from_idx).unwrap(),
        std::fs::read(&from_npy).unwrap()
    );
    // eval reads what was written, and finds the digits learned.
    let eval = host_trainer(&[
        "eval",
        "--model",
        from_npy.to_str().unwrap(),
        "--data",
        set.dir_str(),
    ]);
    assert!(
        eval.assert_ok().stdout.contains("(10/10)"),
        "{}",
        eval.stdout
    );
}

#[test]
fn bad_requests_are_refused_in_one_line_and_nothing_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("no-mnist");
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "mine").unwrap();
    let out = dir.path().join("out.nnm");
    let int8 = root().join("firmware/models/mcu-int8.nnm");
    let mcu = mcu();
    for (args, words) in [
        (
            vec![
                "train",
                "--init",
                int8.to_str().unwrap(),
                "--data",
                "optdigits",
                "--out",
                out.to_str().unwrap(),
            ],
            "int8",
        ),
        (
            vec!["train", "--init", &mcu, "--data", "optdigits"],
            "needs --out",
        ),
        (
            vec![
                "train",
                "--init",
                &mcu,
                "--data",
                "optdigits",
                "--out",
                notes.to_str().unwrap(),
            ],
            "not a model file; not replacing it",
        ),
        (
            vec![
                "train",
                "--init",
                &mcu,
                "--data",
                "optdigits",
                "--out",
                &mcu,
            ],
            "both name",
        ),
        (
            vec![
                "train",
                "--init",
                &mcu,
                "--data",
                "optdigits",
                "--shots",
                "0",
                "--out",
                out.to_str().unwrap(),
            ],
            "at least 1",
        ),
        (
            vec![
                "train",
                "--init",
                &mcu,
                "--data",
                "optdigits",
                "--shots",
                "200",
                "--out",
                out.to_str().unwrap(),
            ],
            "leaves none of it held out",
        ),
        (vec!["train", "--learn", "last"], "--init"),
        (
            vec![
                "train",
                "--init",
                &mcu,
                "--hidden",
                "64",
                "--out",
                out.to_str().unwrap(),
            ],
            "cannot be used with",
        ),
    ] {
        let (ok, _, err) = run_with_cache(&cache, &args);
        assert!(
            !ok && err.starts_with("error: ") && err.contains(words),
            "{args:?}: {err}"
        );
    }
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "mine");
    assert!(!out.exists());
}

#[test]
#[ignore = "e2e: fine-tunes the shipped mcu model on optdigits with MNIST replayed (fetched if missing)"]
fn ten_shots_of_other_writers_lift_the_mcu_model_and_mnist_stays_within_a_point() {
    nn_data::ensure(&nn_data::default_dir()).expect("MNIST");
    let dir = tempfile::tempdir().unwrap();
    let tuned = |name: &str| {
        let out = dir.path().join(name);
        let run = host_trainer(&[
            "train",
            "--init",
            &mcu(),
            "--data",
            "optdigits",
            "--shots",
            "10",
            "--out",
            out.to_str().unwrap(),
        ]);
        (run.assert_ok().stdout.clone(), std::fs::read(&out).unwrap())
    };
    let (out, bytes) = tuned("a.nnm");
    let (before, after) = before_after(&out, "held out:");
    // The last-layer experiment reached 92.5 % on this model; every layer, with
    // shifted copies, does better (93.28 % at seed 1 when written).
    assert!(after >= 92.0, "held out {before} -> {after}");
    let (mnist_before, mnist_after) = before_after(&out, "MNIST test:");
    assert!(
        mnist_after >= mnist_before - 1.0,
        "MNIST {mnist_before} -> {mnist_after}"
    );
    // eval measures the written model as the report did.
    let eval = host_trainer(&[
        "eval",
        "--model",
        dir.path().join("a.nnm").to_str().unwrap(),
    ]);
    let expected = format!("accuracy {mnist_after:.2} %");
    assert!(
        eval.assert_ok().stdout.contains(&expected),
        "{}",
        eval.stdout
    );
    // Same model, examples, plan and seed: the same bytes.
    assert_eq!(bytes, tuned("b.nnm").1);
}
