//! The binary as a user meets it: every command's output on a small real model, and every
//! failure as one line on stderr with a non-zero status.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use host_trainer::data::{self, Dataset, Fetch};
use host_trainer::train::presets::Preset;
use host_trainer::train::{self, Silent, Trainer, export};

/// Runs the binary, with MNIST already in its default folder: on a fresh machine the first
/// run would otherwise fetch it and report that on stderr, which these tests read.
fn bin(args: &[&str]) -> Output {
    static MNIST: OnceLock<()> = OnceLock::new();
    MNIST.get_or_init(|| data::ensure(&data::default_dir()).expect("MNIST"));
    Command::new(env!("CARGO_BIN_EXE_host-trainer"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn test_set() -> &'static Dataset {
    static TEST: OnceLock<Dataset> = OnceLock::new();
    TEST.get_or_init(|| data::load_test(&data::default_dir(), Fetch::Allowed).expect("MNIST"))
}

/// A 784-16-10 relu model trained for one epoch on the first 2,000 test images (the test
/// set is what these tests have loaded; the model only needs to be a real one).
fn model(dir: &Path) -> (std::path::PathBuf, train::EvalStats) {
    let mut config = Preset::Mcu.config(1);
    config.hidden = 16;
    let mut t = Trainer::new(config).unwrap();
    t.train_epoch(&test_set().subset(0..2000), &mut Silent)
        .unwrap();
    let path = dir.join("small.nnm");
    export::write_model(&path, &t.net, t.config.scaling).unwrap();
    (path, train::evaluate(&t.net, t.config.scaling, test_set()))
}

/// A failure is exactly one line on stderr and a non-zero status.
fn assert_one_line_failure(o: &Output, needle: &str) {
    assert!(!o.status.success(), "must fail: {}", stdout(o));
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
    assert!(err.contains(needle), "{err:?} should name {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn inspect_shows_shape_parameters_and_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = model(dir.path());
    let o = bin(&["inspect", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("shape:       784-16-10"), "{out}");
    // 16·784 + 16 + 10·16 + 10
    assert!(out.contains("parameters:  12730 "), "{out}");
    assert!(out.contains("hidden Relu, output Softmax"), "{out}");
    assert!(out.contains("checksum:    ok"), "{out}");
}

#[test]
fn inspect_refuses_a_damaged_file_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = model(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    let bad = dir.path().join("damaged.nnm");
    std::fs::write(&bad, &bytes).unwrap();
    assert_one_line_failure(&bin(&["inspect", bad.to_str().unwrap()]), "damaged.nnm");
    let missing = dir.path().join("missing.nnm");
    assert_one_line_failure(&bin(&["inspect", missing.to_str().unwrap()]), "missing.nnm");
}

#[test]
fn eval_prints_the_trainers_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let (path, stats) = model(dir.path());
    let o = bin(&["eval", "--model", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let expected = format!("accuracy {:.2} %", 100.0 * stats.accuracy);
    assert!(
        stdout(&o).contains(&expected),
        "{} vs {expected}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("/10000)"), "{}", stdout(&o));
}

#[test]
fn predict_json_gives_one_object_per_image() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = model(dir.path());
    let mut files = Vec::new();
    for i in 0..2 {
        let img = image::GrayImage::from_raw(28, 28, test_set().image(i).to_vec()).unwrap();
        let file = dir.path().join(format!("digit{i}.png"));
        img.save(&file).unwrap();
        files.push(file);
    }
    let mut args = vec!["predict", "--json", "--model", path.to_str().unwrap()];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let o = bin(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for (line, file) in lines.iter().zip(&files) {
        assert_eq!(line["file"], file.to_str().unwrap());
        let probs: Vec<f64> = line["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .collect();
        assert_eq!(probs.len(), 10);
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-4);
        let best = (0..10)
            .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
            .unwrap();
        assert_eq!(line["class"].as_u64().unwrap() as usize, best);
    }
}

#[test]
fn diverging_training_fails_in_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.nnm");
    let o = bin(&[
        "train",
        "--preset",
        "mcu",
        "--hidden",
        "8",
        "--lr",
        "1e30",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_one_line_failure(&o, "diverged");
    assert!(!out.exists());
}

#[test]
fn resume_with_other_settings_fails_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.nnm");
    let o = out.to_str().unwrap();
    let first = bin(&[
        "--preset", "mcu", "--hidden", "4", "--epochs", "1", "--out", o,
    ]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).contains("test: accuracy"));
    let again = bin(&[
        "train", "--preset", "mcu", "--hidden", "5", "--epochs", "2", "--resume", "--out", o,
    ]);
    assert_one_line_failure(&again, "m.nnm.ckpt");
}

#[test]
fn kill_9_then_resume_gives_the_uninterrupted_model() {
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &Path| -> Vec<String> {
        [
            "train", "--preset", "mcu", "--hidden", "48", "--epochs", "4", "--seed", "7",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(["--out".to_string(), out.display().to_string()])
        .collect()
    };
    let whole = dir.path().join("whole.nnm");
    let o = bin(&args(&whole).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));

    let killed = dir.path().join("killed.nnm");
    let ckpt = dir.path().join("killed.nnm.ckpt");
    let mut child = Command::new(env!("CARGO_BIN_EXE_host-trainer"))
        .args(args(&killed))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // SIGKILL as soon as the first epoch's checkpoint lands, mid-way through the second.
    while !ckpt.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "exited before its first checkpoint"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!killed.exists(), "killed before the end, so no model yet");

    let mut resume = args(&killed);
    resume.push("--resume".into());
    let o = bin(&resume.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let from = out
        .lines()
        .find_map(|l| l.strip_prefix("(resumed after epoch "))
        .expect("the run says it resumed");
    assert!(from.starts_with(['1', '2', '3']), "{out}");
    assert_eq!(
        std::fs::read(&killed).unwrap(),
        std::fs::read(&whole).unwrap(),
        "byte-identical to the uninterrupted run"
    );
}
