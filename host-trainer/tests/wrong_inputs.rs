//! Wrong inputs refused in one line that says what is wrong, or taken as meant, through the
//! binary: an output naming its own input, class folders that do not match a model's
//! outputs, a file where a directory belongs, file names with a newline, bad flag values.
//! The images are the committed MNIST digits (no network, no MNIST download).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::committed_digits;

/// The committed f32 model: 784-128-10, without class names.
fn mcu_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/models/mcu.nnm")
}

fn bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-trainer"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `root/{train,test}/<folder>/NNN.png`: the committed digits of label `k` under
/// `folders[k]`, training and test sets alike; labels without a folder are left out.
fn digit_folders(root: &Path, folders: &[Option<&str>]) -> PathBuf {
    let (images, labels) = committed_digits();
    for split in ["train", "test"] {
        for (i, (pixels, &label)) in images.iter().zip(&labels).enumerate() {
            let Some(Some(folder)) = folders.get(usize::from(label)) else {
                continue;
            };
            let dir = root.join(split).join(folder);
            std::fs::create_dir_all(&dir).unwrap();
            image::GrayImage::from_raw(28, 28, pixels.to_vec())
                .unwrap()
                .save(dir.join(format!("{i:03}.png")))
                .unwrap();
        }
    }
    root.to_path_buf()
}

/// The accuracy `eval` printed, in percent.
fn accuracy(o: &Output) -> f64 {
    let out = String::from_utf8_lossy(&o.stdout);
    let after = out
        .split("accuracy ")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    after.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn quantize_never_writes_onto_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let data = digit_folders(&dir.path().join("data"), &[Some("0"), Some("1")]);
    let model = dir.path().join("m.nnm");
    std::fs::copy(mcu_model(), &model).unwrap();
    let before = std::fs::read(&model).unwrap();
    let link = dir.path().join("link.nnm");
    std::os::unix::fs::symlink(&model, &link).unwrap();
    let dotted = dir.path().join(".").join("m.nnm");
    for out in [&model, &dotted, &link] {
        let o = bin(&[
            "quantize",
            "--model",
            s(&model),
            "--out",
            s(out),
            "--data",
            s(&data),
        ]);
        let e = stderr(&o);
        assert!(
            !o.status.success(),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(
            e.starts_with("error: --model and --out both name ") && e.lines().count() == 1,
            "{e}"
        );
        assert_eq!(
            std::fs::read(&model).unwrap(),
            before,
            "the input was replaced"
        );
    }
}

#[test]
fn quantize_quotes_a_file_name_with_a_newline_and_writes_what_eval_reads() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<String> = (0..10).map(|k| k.to_string()).collect();
    let folders: Vec<Option<&str>> = all.iter().map(|k| Some(k.as_str())).collect();
    let data = digit_folders(&dir.path().join("data"), &folders);
    let model = dir.path().join("a\nb.nnm");
    std::fs::copy(mcu_model(), &model).unwrap();
    let out = dir.path().join("c\nd.nnm");
    let o = bin(&[
        "quantize",
        "--model",
        s(&model),
        "--out",
        s(&out),
        "--data",
        s(&data),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    // The summary line, the f32 line, the int8 line: the names do not add lines.
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(
        stdout.contains(r#"wrote "#) && stdout.contains(r#"c\nd.nnm""#),
        "{stdout}"
    );
    host_trainer::model::HostModel::load(&out).expect("eval's loader reads the int8 file");
}

#[test]
fn folders_of_a_model_without_names_are_matched_by_number_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Only the 3s and the 7s, in folders named by their digits: scored as outputs 3 and 7
    // (by folder order they would be outputs 0 and 1, and almost all wrong).
    let mut folders = vec![None; 10];
    folders[3] = Some("3");
    folders[7] = Some("7");
    let numbered = digit_folders(&dir.path().join("numbered"), &folders);
    let o = bin(&["eval", "--model", s(&mcu_model()), "--data", s(&numbered)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        accuracy(&o) >= 90.0,
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // Folders named in words match no output of a model without names.
    let words = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    let named = digit_folders(&dir.path().join("words"), &words.map(Some));
    let o = bin(&["eval", "--model", s(&mcu_model()), "--data", s(&named)]);
    let e = stderr(&o);
    assert!(
        !o.status.success(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("words/test/eight: the model has no class names")
            && e.contains("matched to its outputs by number"),
        "{e}"
    );
}

#[test]
fn data_naming_a_file_says_it_must_be_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostname");
    std::fs::write(&file, "box\n").unwrap();
    let out = dir.path().join("m.nnm");
    for args in [
        vec!["train", "--data", s(&file), "--out", s(&out)],
        vec!["eval", "--model", s(&mcu_model()), "--data", s(&file)],
    ] {
        let o = bin(&args);
        let e = stderr(&o);
        assert!(!o.status.success());
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(
            e.contains(": not a directory; --data names a directory")
                && e.contains("IDX files")
                && e.contains("train/<class>/*.png|jpg"),
            "{e}"
        );
    }
}

#[test]
fn a_bad_flag_values_first_line_names_the_flag_the_value_and_what_it_takes() {
    for (args, code, first) in [
        (
            &["--epochs", "abc"][..],
            2,
            "error: invalid value 'abc' for '--epochs <EPOCHS>': expected a whole number",
        ),
        (
            &["--lr", "-1"],
            1,
            "error: --lr must be a positive number, got -1",
        ),
        (
            &["--batch-size", "-3"],
            2,
            "error: invalid value '-3' for '--batch-size <BATCH_SIZE>': expected a whole number",
        ),
        (
            &["--preset", "x"],
            2,
            "error: invalid value 'x' for '--preset <PRESET>': expected one of seed, default, mcu",
        ),
        (
            &["serve", "--port", "99999"],
            2,
            "error: invalid value '99999' for '--port <PORT>': 99999 is not in 0..=65535",
        ),
        (
            &[
                "quantize",
                "--model",
                "m",
                "--out",
                "o",
                "--calibration",
                "abc",
            ],
            2,
            "error: invalid value 'abc' for '--calibration <CALIBRATION>': expected a whole number",
        ),
    ] {
        let o = bin(args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {e}");
        let line = e.lines().next().unwrap_or_default();
        assert!(line.starts_with(first), "{args:?}: {e}");
        // clap's hint stays, on its own line.
        if code == 2 {
            assert!(e.contains("For more information, try '--help'."), "{e}");
        }
    }
}

#[test]
fn eval_and_device_eval_never_write_onto_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = digit_folders(&dir.path().join("data"), &[Some("0"), Some("1")]);
    let report = dir.path().join("report");
    std::fs::create_dir(&report).unwrap();
    let model = report.join("report.json");
    std::fs::copy(mcu_model(), &model).unwrap();
    let before = std::fs::read(&model).unwrap();
    let runs = [
        bin(&[
            "eval",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--report",
            s(&report),
        ]),
        // A port that does not exist: the outputs are checked before the device is opened.
        bin(&[
            "device-eval",
            "--port",
            "/nonexistent/tty",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--metrics",
            s(&model),
        ]),
    ];
    for (o, flag) in runs.iter().zip(["--report", "--metrics"]) {
        let e = stderr(o);
        assert!(
            !o.status.success(),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(
            e.starts_with(&format!("error: --model and {flag} both name "))
                && e.lines().count() == 1,
            "{e}"
        );
        assert_eq!(
            std::fs::read(&model).unwrap(),
            before,
            "the model was replaced"
        );
    }
}
