//! The binary as a user meets it: `inspect`, `eval` and `predict --json` on a small real
//! model, and `train --resume` refusing other settings in one line. Everything runs on the
//! tiny synthetic data set from `common`, so no test here needs MNIST or the network. (The
//! failures on damaged input are in `bad_input.rs`.)

use std::path::{Path, PathBuf};

use host_trainer::train::export;
use nn_data::{self as data, Fetch, Mnist};
use nn_train::presets::Preset;
use nn_train::{self as train, Silent, Trainer};

mod common;
use common::{Synthetic, host_trainer, root, synthetic_image, write_pgm};

/// The synthetic set in `dir`, as the trainer loads it.
fn synthetic(dir: &Path) -> (Synthetic, Mnist) {
    let set = Synthetic::write(dir, 200, 50);
    let loaded = data::load(&set.dir, Fetch::Never).expect("the synthetic set loads");
    (set, loaded)
}

/// A 784-16-10 relu model trained for one epoch on the synthetic set (it only needs to be
/// a real one), and the trainer's own evaluation of it on the synthetic test images.
fn model(dir: &Path, mnist: &Mnist) -> (PathBuf, train::EvalStats) {
    let mut config = Preset::Mcu.config(1);
    config.hidden = vec![16];
    let mut t = Trainer::new(config).unwrap();
    t.train_epoch(&mnist.train, &mut Silent).unwrap();
    let path = dir.join("small.nnm");
    export::write_model(&path, &t.net, t.config.scaling).unwrap();
    (path, train::evaluate(&t.net, t.config.scaling, &mnist.test))
}

#[test]
fn inspect_shows_shape_parameters_and_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mnist) = synthetic(dir.path());
    let (path, _) = model(dir.path(), &mnist);
    let run = host_trainer(&["inspect", path.to_str().unwrap()]);
    let out = &run.assert_ok().stdout;
    assert!(out.contains("shape:       784-16-10"), "{out}");
    // 16·784 + 16 + 10·16 + 10
    assert!(out.contains("parameters:  12730 "), "{out}");
    assert!(out.contains("layers:      2, then softmax"), "{out}");
    assert!(out.contains("  layer 1:   784 -> 16, Relu, f32"), "{out}");
    assert!(
        out.contains("  layer 2:   16 -> 10, Identity, f32"),
        "{out}"
    );
    assert!(out.contains("checksum:    ok"), "{out}");
}

#[test]
fn eval_prints_the_trainers_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let (set, mnist) = synthetic(dir.path());
    let (path, stats) = model(dir.path(), &mnist);
    let run = host_trainer(&[
        "eval",
        "--model",
        path.to_str().unwrap(),
        "--data",
        set.dir_str(),
    ]);
    let out = &run.assert_ok().stdout;
    let expected = format!("accuracy {:.2} %", 100.0 * stats.accuracy);
    assert!(out.contains(&expected), "{out} vs {expected}");
    assert!(out.contains("/50)"), "{out}");
}

#[test]
fn predict_json_gives_one_object_per_image() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mnist) = synthetic(dir.path());
    let (path, _) = model(dir.path(), &mnist);
    let files: Vec<PathBuf> = [3u8, 8]
        .iter()
        .map(|&digit| {
            let file = dir.path().join(format!("digit{digit}.pgm"));
            write_pgm(&file, &synthetic_image(digit, 1));
            file
        })
        .collect();
    let mut args = vec!["predict", "--json", "--model", path.to_str().unwrap()];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let run = host_trainer(&args);
    let lines: Vec<serde_json::Value> = run
        .assert_ok()
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON object"))
        .collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
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
fn resume_with_other_settings_fails_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (set, _) = synthetic(dir.path());
    let out = dir.path().join("m.nnm");
    let (o, d) = (out.to_str().unwrap(), set.dir_str());
    // `train` is the default command.
    let first = host_trainer(&[
        "--preset", "mcu", "--hidden", "4", "--epochs", "1", "--data", d, "--out", o,
    ]);
    assert!(first.assert_ok().stdout.contains("test: accuracy"));
    let again = host_trainer(&[
        "train", "--preset", "mcu", "--hidden", "5", "--epochs", "2", "--resume", "--data", d,
        "--out", o,
    ]);
    assert!(!again.timed_out && again.code.is_some(), "{again:?}");
    assert_ne!(again.code, Some(0), "{again:?}");
    assert_ne!(again.code, Some(101), "panicked: {again:?}");
    assert_eq!(again.stderr.lines().count(), 1, "{again:?}");
    assert!(again.stderr.contains("m.nnm.ckpt"), "{again:?}");
}

#[test]
fn eval_reads_the_shipped_optdigits_by_name_and_by_path_alike() {
    let model = root().join("firmware/models/mcu.nnm");
    let csv = root().join("third_party/optdigits/digits.csv.gz");
    let eval = |data: &str| {
        let run = host_trainer(&["eval", "--model", model.to_str().unwrap(), "--data", data]);
        run.assert_ok().stdout.clone()
    };
    let by_name = eval("optdigits");
    assert!(by_name.contains("/1797) loss"), "{by_name}");
    assert_eq!(by_name, eval(csv.to_str().unwrap()));
}
