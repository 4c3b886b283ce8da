//! Damaged input given to the release binary the way a user would give it: corrupt and
//! truncated model files to `inspect`, `eval`, `predict`, `device-eval` and `train --resume`,
//! corrupt and truncated IDX files to `train --data` and `eval --data`, a model with a NaN
//! weight, and a learning rate that makes training diverge. Each must end, within a timeout,
//! with a non-zero status that is not a panic's (101) and one line on stderr that names the
//! file and the problem. Nothing here touches the network: every data set is written here.

use std::fs;
use std::path::PathBuf;

mod common;
use common::{Run, Synthetic, crc32, host_trainer};

/// A failure as the CLI promises it: non-zero, not a panic, one line naming `file` and
/// containing each of `problem` (case-insensitive).
fn assert_clean_failure(run: &Run, file: &str, problem: &[&str]) {
    let what = format!("{:?}\nstderr: {}", run.args, run.stderr);
    assert!(!run.timed_out, "hung: {what}");
    assert_ne!(run.code, Some(0), "must fail: {what}");
    assert_ne!(run.code, Some(101), "panicked: {what}");
    assert!(run.code.is_some(), "killed by a signal: {what}");
    assert_eq!(run.stderr.lines().count(), 1, "one line on stderr: {what}");
    assert!(run.stderr.contains(file), "names {file}: {what}");
    let lower = run.stderr.to_lowercase();
    for p in problem {
        assert!(lower.contains(&p.to_lowercase()), "says {p:?}: {what}");
    }
}

/// A valid 784-8-10 model file, its bytes made by nn-core's encoder.
fn valid_model() -> Vec<u8> {
    use nn_core::format::{Header, encode, encoded_len};
    use nn_core::{Activation, InputScaling};
    let header = Header::new(
        [784, 8, 10],
        Activation::Relu,
        Activation::Softmax,
        InputScaling::UNIT,
    )
    .unwrap();
    let ramp = |n: usize| -> Vec<f32> { (0..n).map(|i| ((i % 7) as f32 - 3.0) * 0.01).collect() };
    let (w1, b1, w2, b2) = (ramp(8 * 784), ramp(8), ramp(10 * 8), ramp(10));
    let mut out = vec![0u8; encoded_len(&header).unwrap()];
    let n = encode(&header, [&w1, &b1, &w2, &b2], &mut out).unwrap();
    out.truncate(n);
    out
}

/// The ways a model file gets damaged, each with words its error must contain.
fn damaged_models() -> Vec<(&'static str, Vec<u8>, &'static [&'static str])> {
    let good = valid_model();
    let len = good.len();
    let weights_start = nn_core::format::ModelFile::parse(&good)
        .unwrap()
        .weights_offset();
    let mut flipped = good.clone();
    flipped[weights_start + 100] ^= 0x10;
    let mut magic = good.clone();
    magic[0] = b'X';
    let mut appended = good.clone();
    appended.push(0);
    // A NaN weight under a correct checksum: only the finiteness check can catch it.
    let mut nan = good.clone();
    nan[weights_start + 40..weights_start + 44].copy_from_slice(&f32::NAN.to_le_bytes());
    let crc = crc32(&nan[..len - 4]);
    nan[len - 4..].copy_from_slice(&crc.to_le_bytes());
    vec![
        ("empty.nnm", Vec::new(), &["truncated"][..]),
        ("cut-in-header.nnm", good[..9].to_vec(), &["truncated"]),
        (
            "cut-in-weights.nnm",
            good[..weights_start + 1000].to_vec(),
            &["truncated"],
        ),
        (
            "cut-before-crc.nnm",
            good[..len - 1].to_vec(),
            &["truncated"],
        ),
        ("flipped-bit.nnm", flipped, &["checksum"]),
        ("bad-magic.nnm", magic, &["not a model file"]),
        ("appended-byte.nnm", appended, &["trailing"]),
        ("nan-weight.nnm", nan, &["nan"]),
    ]
}

#[test]
fn damaged_model_files_are_refused_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let data = Synthetic::write(dir.path(), 40, 20);
    let image = data.digit_pgm(dir.path());
    let image = image.to_str().unwrap();
    let data_dir = data.dir.to_str().unwrap();
    for (name, bytes, problem) in damaged_models() {
        let path = dir.path().join(name);
        fs::write(&path, &bytes).unwrap();
        let p = path.to_str().unwrap();
        let runs = [
            host_trainer(&["inspect", p]),
            host_trainer(&["eval", "--model", p, "--data", data_dir]),
            host_trainer(&["predict", "--model", p, image]),
            host_trainer(&["predict", "--json", "--model", p, image]),
            // A port that does not exist: the model must be refused before it matters.
            host_trainer(&[
                "device-eval",
                "--port",
                "/nonexistent/tty",
                "--model",
                p,
                "--data",
                data_dir,
                "--limit",
                "4",
            ]),
        ];
        for run in &runs {
            assert_clean_failure(run, name, problem);
        }
    }
}

#[test]
fn a_missing_model_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nowhere.nnm");
    let run = host_trainer(&["inspect", path.to_str().unwrap()]);
    assert_clean_failure(&run, "nowhere.nnm", &[]);
}

#[test]
fn damaged_checkpoints_stop_resume_and_leave_the_model_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = Synthetic::write(dir.path(), 64, 20);
    let out = dir.path().join("m.nnm");
    let (o, d) = (out.to_str().unwrap(), data.dir.to_str().unwrap());
    let small = [
        "--hidden",
        "8",
        "--batch-size",
        "16",
        "--threads",
        "1",
        "--data",
        d,
        "--out",
        o,
    ];
    let first = host_trainer(&[&["train", "--epochs", "1"][..], &small].concat());
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let ckpt = PathBuf::from(format!("{o}.ckpt"));
    let model_before = fs::read(&out).unwrap();
    let good = fs::read(&ckpt).expect("a checkpoint beside the model");
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    for (what, bytes) in [
        ("empty", Vec::new()),
        ("truncated", good[..good.len() / 3].to_vec()),
        ("one byte short", good[..good.len() - 1].to_vec()),
        ("flipped bit", flipped),
        ("garbage", b"not a checkpoint at all".to_vec()),
    ] {
        fs::write(&ckpt, &bytes).unwrap();
        let run = host_trainer(&[&["train", "--epochs", "2", "--resume"][..], &small].concat());
        assert_clean_failure(&run, "m.nnm.ckpt", &[]);
        assert_eq!(
            fs::read(&out).unwrap(),
            model_before,
            "{what}: model changed"
        );
    }
}

/// Changes a file's bytes in place.
type Damage = fn(&mut Vec<u8>);

/// IDX files damaged in each way the reader checks, in a `--data` directory of their own.
#[test]
fn damaged_idx_files_are_refused_by_train_and_eval() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("ok.nnm");
    fs::write(&model, valid_model()).unwrap();
    let cases: [(&str, &str, Damage); 7] = [
        ("t10k-images-idx3-ubyte", "truncated images", |b| {
            b.truncate(b.len() - 100)
        }),
        ("t10k-images-idx3-ubyte", "extra bytes", |b| {
            b.extend([1, 2, 3])
        }),
        ("t10k-images-idx3-ubyte", "wrong magic", |b| b[3] = 0x01),
        ("t10k-images-idx3-ubyte", "14x14 images", |b| {
            b[11] = 14;
            b[15] = 14
        }),
        ("t10k-images-idx3-ubyte", "cut inside header", |b| {
            b.truncate(7)
        }),
        ("t10k-labels-idx1-ubyte", "label 10", |b| b[8 + 3] = 10),
        ("t10k-labels-idx1-ubyte", "truncated labels", |b| {
            b.truncate(b.len() - 1)
        }),
    ];
    for (i, (file, what, damage)) in cases.into_iter().enumerate() {
        let case = dir.path().join(format!("case{i}"));
        let data = Synthetic::write(&case, 40, 20);
        let path = data.dir.join(file);
        let mut bytes = fs::read(&path).unwrap();
        damage(&mut bytes);
        fs::write(&path, &bytes).unwrap();
        let d = data.dir.to_str().unwrap();
        let out = case.join("m.nnm");
        let eval = host_trainer(&["eval", "--model", model.to_str().unwrap(), "--data", d]);
        assert_clean_failure(&eval, file, &[]);
        let train = host_trainer(&[
            "train",
            "--epochs",
            "1",
            "--hidden",
            "8",
            "--threads",
            "1",
            "--data",
            d,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_clean_failure(&train, file, &[]);
        assert!(!out.exists(), "{what}: a model was written");
    }
    // The training files too: a truncated train-images file.
    let case = dir.path().join("train-cut");
    let data = Synthetic::write(&case, 40, 20);
    let path = data.dir.join("train-images-idx3-ubyte");
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let out = case.join("m.nnm");
    let train = host_trainer(&[
        "train",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--data",
        data.dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure(&train, "train-images-idx3-ubyte", &[]);
    assert!(!out.exists());
}

#[test]
fn images_count_disagreeing_with_labels_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = Synthetic::write(dir.path(), 40, 20);
    // 19 labels for 20 images: both files are well-formed on their own.
    let mut labels = fs::read(data.dir.join("t10k-labels-idx1-ubyte")).unwrap();
    labels[7] = 19;
    labels.pop();
    fs::write(data.dir.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
    let model = dir.path().join("ok.nnm");
    fs::write(&model, valid_model()).unwrap();
    let run = host_trainer(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.dir.to_str().unwrap(),
    ]);
    assert_clean_failure(&run, "t10k-labels-idx1-ubyte", &[]);
}

/// Two ways training diverges, each of which must stop the run with one line saying so and
/// write no model: at `--lr 1e30` the loss overflows to infinity; at `--lr 1e9` (the issue's
/// example) it stays finite (about 4e17 on real MNIST) but passes the trainer's bound on a
/// sane loss.
#[test]
fn diverging_runs_stop_with_a_message_and_write_no_model() {
    for lr in ["1e30", "1e9"] {
        let dir = tempfile::tempdir().unwrap();
        let data = Synthetic::write(dir.path(), 64, 20);
        let out = dir.path().join("m.nnm");
        let run = host_trainer(&[
            "train",
            "--epochs",
            "2",
            "--hidden",
            "16",
            "--batch-size",
            "8",
            &format!("--lr={lr}"),
            "--data",
            data.dir_str(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(!run.timed_out && run.code != Some(101), "{run:?}");
        assert_ne!(run.code, Some(0), "lr {lr}: training went on: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
        assert!(run.stderr.contains("diverged"), "lr {lr}: {run:?}");
        assert!(!out.exists(), "lr {lr}: a model was written");
    }
}

#[test]
fn nonsense_learning_rates_are_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let data = Synthetic::write(dir.path(), 40, 20);
    for lr in ["NaN", "inf", "-1", "0"] {
        let out = dir.path().join("m.nnm");
        let run = host_trainer(&[
            "train",
            &format!("--lr={lr}"),
            "--data",
            data.dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(!run.timed_out && run.code != Some(101), "{run:?}");
        assert_ne!(run.code, Some(0), "{run:?}");
        assert!(run.stderr.contains("--lr"), "lr {lr}: {run:?}");
        assert!(!out.exists());
    }
}

/// A picture that is not an image, and one with no ink, given to `predict` with a good model.
#[test]
fn bad_images_are_named_by_predict() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("ok.nnm");
    fs::write(&model, valid_model()).unwrap();
    let not_image = dir.path().join("notes.png");
    fs::write(&not_image, b"\x89PNG\r\n\x1a\n but then nothing").unwrap();
    let blank = dir.path().join("blank.pgm");
    let mut pgm = b"P5\n28 28\n255\n".to_vec();
    pgm.extend([255u8; 784]);
    fs::write(&blank, &pgm).unwrap();
    for (path, name) in [(&not_image, "notes.png"), (&blank, "blank.pgm")] {
        let run = host_trainer(&[
            "predict",
            "--model",
            model.to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
        assert_clean_failure(&run, name, &[]);
    }
}
