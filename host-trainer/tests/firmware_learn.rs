//! Learning on the board, end to end: `device-learn` teaches the firmware in QEMU (the M4F,
//! hardware floats) and in rp2040js (the M0+, soft floats) optdigits' other writers, and
//! the head each reads back must equal the host's byte for byte (the command fails
//! otherwise). Needs what `firmware_qemu.rs` and `firmware_pico.rs` need; the replay run
//! needs MNIST too (fetched on first use):
//! `cargo test -p host-trainer --test firmware_learn -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use host_trainer::devices::eval;
use host_trainer::devices::rp2040js;

mod common;

fn root() -> PathBuf {
    common::root().to_path_buf()
}

/// Builds the firmware in firmware/ with `alias_args` once per ELF, and returns its path.
fn build(args: &[&str], elf: &str) -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(root().join("firmware"))
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo {args:?} in firmware/ failed");
    root().join(elf)
}

fn qemu_elf() -> &'static Path {
    static ELF: OnceLock<PathBuf> = OnceLock::new();
    ELF.get_or_init(|| build(&["build", "--release"], eval::DEFAULT_ELF))
}

fn pico_elf() -> &'static Path {
    static ELF: OnceLock<PathBuf> = OnceLock::new();
    ELF.get_or_init(|| build(&["build-pico"], rp2040js::DEFAULT_ELF))
}

/// Runs `device-learn` with `args` and the metrics file, returning the run and its JSON.
fn device_learn(args: &[&str], timeout: Duration) -> (common::Run, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("learn.json");
    let mut all = vec!["device-learn", "--metrics", metrics.to_str().unwrap()];
    all.extend_from_slice(args);
    let run = common::host_trainer_with(
        &all,
        common::Opts {
            timeout,
            ..common::Opts::default()
        },
    );
    let json = std::fs::read(&metrics)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    (run, json)
}

/// What every successful run must show: the head checked, steps taken and counted, the
/// board's answers after learning those of the host's head.
fn check_learned(run: &common::Run, json: &serde_json::Value, steps: u64) {
    run.assert_ok();
    assert!(
        run.stdout.contains("identical to the host's"),
        "{}",
        run.stdout
    );
    assert_eq!(json["steps"].as_u64(), Some(steps), "{json}");
    assert!(json["count_per_step"].as_u64().unwrap() > 0, "{json}");
    assert!(json["stack_used"].as_u64().unwrap() > 0, "{json}");
    let after = &json["board_after"];
    assert_eq!(after["agree_with_host"], after["images"], "{json}");
    assert!(after["images"].as_u64().unwrap() > 0, "{json}");
}

#[test]
#[ignore = "e2e: builds the firmware, boots it in QEMU, and teaches it optdigits"]
fn qemu_learns_the_hosts_head_byte_for_byte_and_serves_with_it() {
    let elf = qemu_elf().to_str().unwrap().to_owned();
    // 5 shots × 10 classes in batches of 10, 4 epochs: 20 steps.
    let (run, json) = device_learn(
        &[
            "--qemu", &elf, "--shots", "5", "--epochs", "4", "--batch", "10", "--replay", "0",
            "--limit", "100",
        ],
        Duration::from_secs(300),
    );
    check_learned(&run, &json, 20);
    // Learning other writers' digits helps on the held-out ones, as the host measures it.
    assert!(
        json["host_after"].as_f64() > json["host_before"].as_f64(),
        "{json}"
    );
}

#[test]
#[ignore = "e2e: QEMU learns with MNIST replay (MNIST fetched if missing)"]
fn qemu_learns_with_replay_byte_for_byte() {
    let elf = qemu_elf().to_str().unwrap().to_owned();
    let (run, json) = device_learn(
        &[
            "--qemu",
            &elf,
            "--shots",
            "2",
            "--epochs",
            "3",
            "--batch",
            "5",
            "--replay",
            "5",
            "--replay-pool",
            "40",
            "--limit",
            "20",
        ],
        Duration::from_secs(300),
    );
    check_learned(&run, &json, 12);
    assert_eq!(json["replay_pool"].as_u64(), Some(40), "{json}");
    assert!(json["mnist_after"].as_f64().is_some(), "{json}");
}

#[test]
#[ignore = "e2e: builds the Pico firmware and teaches it in rp2040js"]
fn pico_learns_the_hosts_head_byte_for_byte() {
    let elf = pico_elf().to_str().unwrap().to_owned();
    // Soft float in a JS emulator is slow: 10 examples, 2 steps.
    let (run, json) = device_learn(
        &[
            "--pico", &elf, "--shots", "1", "--epochs", "1", "--batch", "5", "--replay", "0",
            "--limit", "10",
        ],
        Duration::from_secs(600),
    );
    check_learned(&run, &json, 2);
}

#[test]
#[ignore = "e2e: builds the firmware and boots it in QEMU"]
fn a_head_that_differs_from_the_hosts_fails_in_one_line() {
    let elf = qemu_elf().to_str().unwrap().to_owned();
    // The host simulates another int8 model than the board runs: the heads must differ.
    let other = root().join("firmware/models/seed-int8.nnm");
    let (run, _) = device_learn(
        &[
            "--qemu",
            &elf,
            "--model",
            other.to_str().unwrap(),
            "--shots",
            "1",
            "--epochs",
            "1",
            "--replay",
            "0",
            "--limit",
            "1",
        ],
        Duration::from_secs(120),
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("differs from the host's at byte"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
}
