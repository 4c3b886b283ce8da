//! Any model the decoder accepts, compiled into the firmware (`NN_MODEL`) and checked row
//! by row with `device-eval --npy` against the host's own nn-core: MLPerf Tiny's anomaly
//! detector (640 int8 in, 640 int8 out, ten layers) on the Cortex-M4 in QEMU and the
//! Cortex-M0+ in rp2040js, and a depth-3 digit model trained and quantised here. The int8
//! outputs must be identical. Needs QEMU, Node with rp2040js and `defmt-print`
//! (scripts/setup.sh), so every test here is an end-to-end one:
//! `cargo test -p host-trainer --test firmware_any_model -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::Command;

use host_trainer::commands::device_eval::{self, DeviceEvalArgs};

mod common;
use common::{Synthetic, host_trainer, synthetic_image};

fn root() -> &'static Path {
    common::root()
}

/// Builds the firmware in firmware/ with `model` compiled in, into `target_dir` (its own, so
/// the other end-to-end tests' ELFs stay as they are), for the board `features` on `target`;
/// returns the ELF.
fn build(model: &Path, target_dir: &str, board: Option<(&str, &str)>) -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--release", "--target-dir", target_dir])
        .current_dir(root().join("firmware"))
        .env_remove("CARGO_TARGET_DIR")
        .env("NN_MODEL", model);
    let target = match board {
        Some((feature, target)) => {
            cargo.args([
                "--no-default-features",
                "--features",
                feature,
                "--target",
                target,
            ]);
            target
        }
        None => "thumbv7em-none-eabihf",
    };
    let status = cargo.status().expect("cargo runs");
    assert!(
        status.success(),
        "the firmware with {} failed to build",
        model.display()
    );
    root()
        .join("firmware")
        .join(target_dir)
        .join(target)
        .join("release/mnist-firmware")
}

/// `device-eval --npy` over `npy` on `model`: QEMU for `qemu`, else rp2040js; returns the
/// metrics' JSON.
fn device_eval(model: &Path, npy: &Path, elf: PathBuf, qemu: bool, limit: Option<usize>) -> String {
    let metrics = tempfile::NamedTempFile::new().unwrap();
    let args = DeviceEvalArgs {
        port: None,
        qemu: qemu.then(|| elf.clone()),
        pico: (!qemu).then_some(elf),
        model: model.to_path_buf(),
        data: None,
        limit,
        in_flight: None,
        metrics: Some(metrics.path().to_path_buf()),
        npy: Some(npy.to_path_buf()),
    };
    device_eval::run(&args).unwrap();
    std::fs::read_to_string(metrics.path()).unwrap()
}

fn assert_identical(json: &str, rows: usize, outputs: usize) {
    for key in [
        format!("\"rows\": {rows}"),
        format!("\"outputs\": {outputs}"),
        "\"output_dtype\": \"int8\"".to_owned(),
        format!("\"identical_rows\": {rows}"),
    ] {
        assert!(json.contains(&key), "{key} missing from {json}");
    }
}

const AD01_MODEL: &str = "firmware/models/ad01-int8.nnm";
const AD01_INPUT: &str = "third_party/ad01/ad01_int8.in.npy";

#[test]
#[ignore = "e2e: builds the firmware with the anomaly detector and boots it in QEMU"]
fn the_anomaly_detector_in_qemu_gives_the_hosts_bytes() {
    let model = root().join(AD01_MODEL);
    let elf = build(&model, "target/ad01", None);
    let json = device_eval(&model, &root().join(AD01_INPUT), elf, true, None);
    assert_identical(&json, 64, 640);
}

#[test]
#[ignore = "e2e: builds the Pico firmware with the anomaly detector and boots it in rp2040js"]
fn the_anomaly_detector_in_rp2040js_gives_the_hosts_bytes() {
    let model = root().join(AD01_MODEL);
    let elf = build(
        &model,
        "target/ad01-pico",
        Some(("pico", "thumbv6m-none-eabi")),
    );
    // Eight rows: the emulator runs the M0+ at about a tenth of the QEMU M4's pace.
    let json = device_eval(&model, &root().join(AD01_INPUT), elf, false, Some(8));
    assert_identical(&json, 8, 640);
}

#[test]
#[ignore = "e2e: trains a depth-3 model, builds the firmware with it and boots it in QEMU"]
fn a_depth_3_model_trained_and_quantised_here_runs_in_qemu() {
    let dir = tempfile::tempdir().unwrap();
    let set = Synthetic::write(dir.path(), 1000, 50);
    let f32_path = dir.path().join("deep.nnm");
    let i8_path = dir.path().join("deep-int8.nnm");
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    #[rustfmt::skip]
    host_trainer(&[
        "train", "--preset", "mcu", "--hidden", "32,16", "--epochs", "10", "--lr", "0.01",
        "--data", set.dir_str(), "--out", &s(&f32_path),
    ])
    .assert_ok();
    #[rustfmt::skip]
    host_trainer(&[
        "quantize", "--model", &s(&f32_path), "--out", &s(&i8_path), "--data", set.dir_str(),
        "--calibration", "200",
    ])
    .assert_ok();

    let pixels: Vec<u8> = (0..20u8)
        .flat_map(|i| synthetic_image(i % 10, usize::from(i)))
        .collect();
    let npy = dir.path().join("digits.npy");
    let rows = nn_data::npy::Array {
        shape: vec![20, 784],
        data: nn_data::npy::Data::U8(pixels),
    };
    std::fs::write(&npy, nn_data::npy::encode(&rows)).unwrap();
    let elf = build(&i8_path, "target/deep", None);
    let json = device_eval(&i8_path, &npy, elf, true, None);
    assert_identical(&json, 20, 10);
}
