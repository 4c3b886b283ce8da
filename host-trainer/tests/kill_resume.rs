//! `kill -9` at the worst moments, on real MNIST with the optimised binary (end-to-end tests:
//! `cargo test -p host-trainer --test kill_resume -- --ignored`):
//! - in the middle of an epoch: `--resume` continues after the last completed epoch and ends
//!   with the same model, byte for byte, as a run never interrupted;
//! - at random moments around the model file's write: the file on disk is always a complete
//!   model, the old one or the new one, never a torn mix.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nn_core::format::ModelFile;

/// Both tests train on the same two cores: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// No run here takes more than a few seconds; a run past this is a hang.
const TIMEOUT: Duration = Duration::from_secs(300);

mod common;
use common::XorShift;
use common::host_trainer_binary as binary;

/// The real MNIST directory, fetched first if it is missing so that no run spends its time
/// before the kill downloading.
fn mnist() -> String {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        nn_data::ensure(&nn_data::default_dir()).expect("MNIST");
    });
    nn_data::default_dir()
        .to_str()
        .expect("a UTF-8 path")
        .to_owned()
}

/// `train` with a small network on real MNIST, two threads (the result depends on the
/// thread count, so every run here uses the same).
fn train(out: &Path, hidden: &str, epochs: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(binary());
    c.args(["train", "--preset", "mcu", "--seed", "7", "--threads", "2"])
        .args(["--hidden", hidden, "--epochs", epochs, "--data", &mnist()])
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdin(Stdio::null());
    c
}

/// Waits for `child` to end, killing it after [`TIMEOUT`].
fn finish(mut child: Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("the run hung for {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn run_ok(mut c: Command) {
    let out = c
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{:?}: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "e2e: trains on real MNIST (fetched if missing) and kills the run"]
fn resume_after_kill_mid_epoch_continues_and_matches_an_uninterrupted_run() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let killed = dir.path().join("killed.nnm");
    let metrics = dir.path().join("resumed.json");

    // Progress lines (stdout is a pipe, so plain lines) say where the run is: "epoch 2/3
    // 50% ..." is printed halfway through the second epoch, after the first one's checkpoint.
    let mut child = train(&killed, "32", "3", &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("piped");
    let mut seen = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("utf-8 progress");
        let halfway = line.starts_with("epoch 2/3") && line.contains("50%");
        seen.push(line);
        if halfway {
            break;
        }
    }
    child.kill().expect("kill -9");
    let status = finish(child);
    assert!(status.code().is_none(), "ended by the signal: {seen:?}");
    assert!(
        seen.iter().any(|l| l.starts_with("epoch 1/3:")),
        "epoch 1 completed before the kill: {seen:?}"
    );
    assert!(!killed.exists(), "no model file before the run ends");
    assert!(PathBuf::from(format!("{}.ckpt", killed.display())).exists());

    run_ok(train(
        &killed,
        "32",
        "3",
        &["--resume", "--metrics", metrics.to_str().unwrap()],
    ));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&metrics).unwrap()).unwrap();
    assert_eq!(m["resumed_from_epoch"], 1, "{m}");
    let epochs: Vec<u64> = m["epochs"]
        .as_array()
        .expect("epochs")
        .iter()
        .map(|e| e["epoch"].as_u64().expect("epoch number"))
        .collect();
    assert_eq!(epochs, [2, 3], "{m}");

    let straight = dir.path().join("straight.nnm");
    run_ok(train(&straight, "32", "3", &[]));
    let (a, b) = (
        std::fs::read(&killed).unwrap(),
        std::fs::read(&straight).unwrap(),
    );
    ModelFile::parse(&a).expect("the resumed model parses");
    assert!(a == b, "resumed and uninterrupted runs differ");
}

#[test]
#[ignore = "e2e: 33 runs on real MNIST (fetched if missing)"]
fn kill_during_the_model_write_leaves_the_old_or_the_new_file() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.nnm");
    // The old model after 1 epoch, the new one after 2. A `--resume` with the checkpoint
    // already at epoch 2 trains nothing: it loads, evaluates and writes the 800 KB file, so
    // the write is a good part of each run and random kills land before, in and after it.
    run_ok(train(&out, "256", "1", &[]));
    let old = std::fs::read(&out).unwrap();
    run_ok(train(&out, "256", "2", &["--resume"]));
    let new = std::fs::read(&out).unwrap();
    assert_ne!(old, new);
    ModelFile::parse(&old).expect("old parses");
    ModelFile::parse(&new).expect("new parses");

    // How long one write-only run takes, to spread the kills over it.
    std::fs::write(&out, &old).unwrap();
    let start = Instant::now();
    run_ok(train(&out, "256", "2", &["--resume"]));
    let full = start.elapsed();
    assert_eq!(std::fs::read(&out).unwrap(), new);

    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let (mut kept_old, mut got_new) = (0, 0);
    for round in 0..30 {
        std::fs::write(&out, &old).unwrap();
        let child = train(&out, "256", "2", &["--resume"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts");
        // Uniform over 0.3–1.3 of a run: early kills keep the old file, late ones the new.
        std::thread::sleep(full.mul_f64(0.3 + rng.unit()));
        let mut child = child;
        let _ = child.kill();
        finish(child);
        let on_disk = std::fs::read(&out).expect("the model file is never absent");
        ModelFile::parse(&on_disk)
            .unwrap_or_else(|e| panic!("round {round}: torn model file: {e}"));
        if on_disk == old {
            kept_old += 1;
        } else if on_disk == new {
            got_new += 1;
        } else {
            panic!("round {round}: a complete file that is neither the old nor the new model");
        }
    }
    eprintln!("30 kills: {kept_old} left the old model, {got_new} the new one");
    // Both outcomes seen means the kills spanned the write.
    assert!(kept_old > 0 && got_new > 0, "{kept_old} old, {got_new} new");
}
