//! The trainer's three presets, trained in full by the binary as a user would run it, must reach their accuracy targets on the 10,000 test images (read back from the
//! `--metrics` file). Each takes five epochs of 60,000 images, so they are end-to-end tests:
//! `cargo test -p host-trainer --test train_e2e -- --ignored`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// The runs share two cores: one at a time, or each is slower than all of them in a row.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Trains `preset` with the host-trainer binary and returns its metrics.
fn train(preset: &str) -> serde_json::Value {
    train_with(preset, &[])
}

/// Trains `preset` with `extra` flags with the host-trainer binary and returns its metrics.
fn train_with(preset: &str, extra: &[&str]) -> serde_json::Value {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let model: PathBuf = dir.path().join(format!("{preset}.nnm"));
    let metrics = dir.path().join(format!("{preset}.json"));
    let status = Command::new(env!("CARGO_BIN_EXE_host-trainer"))
        .arg("train")
        .args(["--preset", preset, "--seed", "1"])
        .args(extra)
        .arg("--out")
        .arg(&model)
        .arg("--metrics")
        .arg(&metrics)
        .status()
        .expect("the binary starts");
    assert!(status.success(), "training {preset} failed");
    assert!(model.is_file(), "{preset}: no model written");
    let json = std::fs::read(&metrics).expect("metrics written");
    let m: serde_json::Value = serde_json::from_slice(&json).expect("metrics are JSON");
    assert_eq!(m["epochs"].as_array().map(Vec::len), Some(5), "{m}");
    assert_eq!(m["config"]["preset"], preset);
    m
}

fn accuracy(m: &serde_json::Value) -> f64 {
    m["test_accuracy"]
        .as_f64()
        .expect("test_accuracy is a number")
}

#[test]
#[ignore = "e2e: trains a full preset on real MNIST (fetched if missing)"]
fn seed_preset_matches_the_blogs_keras_model() {
    // The blog's Keras model reaches 93.82 % here; the target is 93.67 % ± 0.7.
    let a = accuracy(&train("seed"));
    assert!((a - 0.9367).abs() <= 0.007, "seed preset: {a}");
}

#[test]
#[ignore = "e2e: trains a full preset on real MNIST (fetched if missing)"]
fn default_preset_reaches_97_8_percent() {
    let a = accuracy(&train("default"));
    assert!(a >= 0.978, "default preset: {a}");
}

#[test]
#[ignore = "e2e: trains a full preset on real MNIST (fetched if missing)"]
fn mcu_preset_reaches_97_percent() {
    let a = accuracy(&train("mcu"));
    assert!(a >= 0.97, "mcu preset: {a}");
}

#[test]
#[ignore = "e2e: trains a two-hidden-layer network on real MNIST (fetched if missing)"]
fn two_hidden_layers_reach_98_3_percent_in_the_default_epochs() {
    let m = train_with("default", &["--hidden", "256,128"]);
    assert_eq!(m["config"]["hidden"], serde_json::json!([256, 128]));
    let a = accuracy(&m);
    assert!(a >= 0.983, "784-256-128-10: {a}");
}
