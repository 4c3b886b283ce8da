//! Your own images as a data set (`--data DIR` with `DIR/train/<class>/*.png|jpg` and
//! `DIR/test/<class>/*.png|jpg`), end to end through the binary: a few hundred pictures of
//! four shapes drawn on the spot, a small model trained on them, the class names in the
//! model file and in `inspect`, `eval` and `predict`, and each bad input refused in one
//! line naming its path. No MNIST, no network.

use std::fs;
use std::path::{Path, PathBuf};

use nn_core::format::ModelFile;

mod common;
use common::{Run, Synthetic, XorShift, host_trainer};

/// The classes, in the order they are drawn (not sorted, so the sorting shows).
const SHAPES: [&str; 4] = ["ring", "bar", "dash", "cross"];
/// The names the model must carry: the folder names, sorted.
const SORTED: [&str; 4] = ["bar", "cross", "dash", "ring"];

/// A picture of `shape`, dark ink on light paper, on a canvas of 32 to 72 pixels a side,
/// with its position, size, slant and stroke jittered: the preprocessing must find, crop
/// and centre it as it does a photographed digit.
fn draw(shape: &str, rng: &mut XorShift) -> image::GrayImage {
    let size = 32 + (rng.unit() * 40.0) as u32;
    let mut j = |k: f64| (rng.unit() - 0.5) * k;
    let (cx, cy) = (0.5 + j(0.1), 0.5 + j(0.1));
    let segments: Vec<[(f64, f64); 2]> = match shape {
        "ring" => {
            let r = 0.3 + j(0.1);
            let at = |k: usize| {
                let a = k as f64 * std::f64::consts::TAU / 16.0;
                (cx + r * a.cos(), cy + r * a.sin())
            };
            (0..16).map(|k| [at(k), at(k + 1)]).collect()
        }
        "bar" => vec![[(cx + j(0.1), 0.15 + j(0.1)), (cx + j(0.1), 0.85 + j(0.1))]],
        "dash" => vec![[(0.15 + j(0.1), cy + j(0.1)), (0.85 + j(0.1), cy + j(0.1))]],
        "cross" => vec![
            [(0.2 + j(0.1), 0.2 + j(0.1)), (0.8 + j(0.1), 0.8 + j(0.1))],
            [(0.8 + j(0.1), 0.2 + j(0.1)), (0.2 + j(0.1), 0.8 + j(0.1))],
        ],
        other => panic!("no shape {other}"),
    };
    let half_stroke = 0.04 + j(0.03);
    image::GrayImage::from_fn(size, size, |x, y| {
        let p = (
            (f64::from(x) + 0.5) / f64::from(size),
            (f64::from(y) + 0.5) / f64::from(size),
        );
        let ink = segments.iter().any(|s| distance(p, s) < half_stroke);
        image::Luma([if ink { 30 } else { 230 }])
    })
}

/// Distance from `p` to the segment `s`.
fn distance(p: (f64, f64), [a, b]: &[(f64, f64); 2]) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
    (p.0 - a.0 - t * dx).hypot(p.1 - a.1 - t * dy)
}

/// Writes `<root>/data/{train,test}/<shape>/NNN.png` (every fifth one a `.jpg`): `train`
/// and `test` pictures per class.
fn write_set(root: &Path, train: usize, test: usize) -> PathBuf {
    let dir = root.join("data");
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for (split, n) in [("train", train), ("test", test)] {
        for shape in SHAPES {
            let class = dir.join(split).join(shape);
            fs::create_dir_all(&class).unwrap();
            for i in 0..n {
                let ext = if i % 5 == 4 { "jpg" } else { "png" };
                draw(shape, &mut rng)
                    .save(class.join(format!("{i:03}.{ext}")))
                    .unwrap();
            }
        }
    }
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A quick training run of `epochs` on `data` into `out`, plus `extra` flags.
fn train(data: &Path, out: &Path, epochs: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "train",
        "--preset",
        "mcu",
        "--hidden",
        "16",
        "--batch-size",
        "8",
        "--threads",
        "1",
        "--epochs",
        epochs,
        "--data",
        s(data),
        "--out",
        s(out),
    ];
    args.extend(extra);
    host_trainer(&args)
}

/// Asserts a refusal: status 1 (not a panic's 101), one line on stderr holding each of
/// `needles`.
fn assert_refused(r: &Run, needles: &[&str]) {
    assert!(!r.timed_out, "hung: {r:?}");
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    for needle in needles {
        assert!(r.stderr.contains(needle), "no {needle:?} in {r:?}");
    }
}

#[test]
fn a_model_trained_on_image_folders_carries_and_prints_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_set(dir.path(), 50, 10);
    let model = dir.path().join("shapes.nnm");
    let run = train(&data, &model, "3", &[]);
    assert!(
        run.assert_ok()
            .stdout
            .contains("classes: bar, cross, dash, ring"),
        "{run:?}"
    );

    // The names are in the file (version 2), in the folders' sorted order.
    let bytes = fs::read(&model).unwrap();
    let file = ModelFile::parse(&bytes).unwrap();
    assert_eq!(file.header().version, nn_core::format::VERSION_2);
    assert_eq!(file.class_names().into_iter().collect::<Vec<_>>(), SORTED);
    let run = host_trainer(&["inspect", s(&model)]);
    assert!(
        run.assert_ok()
            .stdout
            .contains("classes:     bar, cross, dash, ring"),
        "{run:?}"
    );

    // The shapes are easy: nearly every test picture is right, class by class.
    let run = host_trainer(&["eval", "--model", s(&model), "--data", s(&data)]);
    let out = &run.assert_ok().stdout;
    let accuracy: f64 = out
        .split("accuracy ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in {out}"));
    assert!(accuracy >= 90.0, "{out}");
    assert!(out.contains("/40)"), "{out}");
    for name in SORTED {
        assert!(out.contains(&format!("\n  {name:5}  ")), "{name}: {out}");
    }

    // predict names the class of a picture of each shape.
    let pictures: Vec<PathBuf> = SORTED
        .iter()
        .map(|shape| data.join("test").join(shape).join("000.png"))
        .collect();
    let mut args = vec!["predict", "--model", s(&model)];
    args.extend(pictures.iter().map(|p| s(p)));
    let run = host_trainer(&args);
    let out = &run.assert_ok().stdout;
    for (shape, picture) in SORTED.iter().zip(&pictures) {
        assert!(
            out.contains(&format!("{}: {shape}\n", s(picture))),
            "{shape}: {out}"
        );
        assert!(out.contains(&format!("  {shape:>5}: ")), "{shape}: {out}");
    }
    // Outputs 4 to 9 were never a target: one line, holding little (5.9 to 6.6 % after
    // these 3 short epochs, falling with every epoch).
    let rest = out
        .split("(outputs 4-9 have no class: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no line for the unnamed outputs in {out}"));
    assert!(rest < 15.0, "{out}");
    args.insert(1, "--json");
    let run = host_trainer(&args);
    let names: Vec<String> = run
        .assert_ok()
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let name = v["name"].as_str().unwrap().to_owned();
            assert_eq!(SORTED[v["class"].as_u64().unwrap() as usize], name);
            name
        })
        .collect();
    assert_eq!(names, SORTED);

    // quantize calibrates on the folders' training pictures and keeps the names.
    let int8 = dir.path().join("shapes-int8.nnm");
    let run = host_trainer(&[
        "quantize",
        "--model",
        s(&model),
        "--out",
        s(&int8),
        "--data",
        s(&data),
    ]);
    assert!(run.assert_ok().stdout.contains("/40)"), "{run:?}");
    let bytes = fs::read(&int8).unwrap();
    let aligned = host_trainer::model::AlignedBytes::new(&bytes);
    let file = ModelFile::parse(aligned.bytes()).unwrap();
    assert_eq!(file.class_names().into_iter().collect::<Vec<_>>(), SORTED);
}

#[test]
fn an_idx_model_stays_version_1_without_names() {
    let dir = tempfile::tempdir().unwrap();
    let set = Synthetic::write(dir.path(), 100, 20);
    let model = dir.path().join("digits.nnm");
    train(&set.dir, &model, "1", &[]).assert_ok();
    let bytes = fs::read(&model).unwrap();
    let file = ModelFile::parse(&bytes).unwrap();
    assert_eq!(file.header().version, nn_core::format::VERSION);
    assert_eq!(file.class_names().count(), 0);
    let run = host_trainer(&["eval", "--model", s(&model), "--data", set.dir_str()]);
    assert_eq!(run.assert_ok().stdout.lines().count(), 1, "{run:?}");
}

#[test]
fn bad_folders_and_bad_images_are_one_line_errors_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_set(dir.path(), 4, 1);
    let out = dir.path().join("m.nnm");
    let quick = |extra: &[&str]| train(&data, &out, "1", extra);

    // An empty class folder.
    let empty = data.join("train").join("empty");
    fs::create_dir(&empty).unwrap();
    assert_refused(&quick(&[]), &[s(&empty), "no .png/.jpg/.jpeg images"]);
    fs::remove_dir(&empty).unwrap();

    // More classes than the model's 10 outputs.
    let extra: Vec<PathBuf> = (0..7)
        .map(|k| data.join("train").join(format!("x{k}")))
        .collect();
    for class in &extra {
        fs::create_dir(class).unwrap();
        fs::copy(data.join("train/bar/000.png"), class.join("a.png")).unwrap();
    }
    let train_dir = data.join("train");
    assert_refused(
        &quick(&[]),
        &[
            &format!("{}: 11 class folders", s(&train_dir)),
            "10 outputs",
        ],
    );
    for class in &extra {
        fs::remove_dir_all(class).unwrap();
    }

    // A test folder that is not one of the training classes.
    let stray = data.join("test").join("cat");
    fs::create_dir(&stray).unwrap();
    fs::copy(data.join("test/bar/000.png"), stray.join("a.png")).unwrap();
    assert_refused(
        &quick(&[]),
        &[s(&stray), "not one of the classes (bar, cross"],
    );
    fs::remove_dir_all(&stray).unwrap();
    assert!(!out.exists());

    // An unreadable image and a blank one stop the run, naming the file...
    let broken = data.join("train").join("ring").join("zz-broken.png");
    fs::write(&broken, b"not a PNG at all").unwrap();
    assert_refused(&quick(&[]), &[s(&broken), "cannot decode", "--skip-bad"]);
    let blank = data.join("test").join("bar").join("blank.png");
    image::GrayImage::from_pixel(30, 30, image::Luma([255]))
        .save(&blank)
        .unwrap();
    fs::remove_file(&broken).unwrap();
    assert_refused(&quick(&[]), &[s(&blank), "no digit found"]);
    assert!(!out.exists());
    // ...unless --skip-bad, which counts them and names them.
    fs::write(&broken, b"not a PNG at all").unwrap();
    fs::write(data.join("train/ring/notes.txt"), "not an image").unwrap();
    let run = quick(&["--skip-bad"]);
    let stdout = &run.assert_ok().stdout;
    assert!(
        stdout.contains("skipped 2 bad images (--skip-bad): ") && stdout.contains(s(&broken)),
        "{stdout}"
    );
    assert!(stdout.contains(s(&blank)), "{stdout}");
    assert!(stdout.contains("ignored 1 file"), "{stdout}");
    assert!(
        stdout.contains("on 4 images"),
        "the blank test picture is out: {stdout}"
    );
    let model = ModelFile::parse(&fs::read(&out).unwrap())
        .map(|f| f.class_names().count())
        .unwrap();
    assert_eq!(model, 4);

    // eval stops at the bad test picture too, or counts it.
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", "--model", s(&out), "--data", s(&data)];
        args.extend(extra);
        host_trainer(&args)
    };
    assert_refused(&eval(&[]), &[s(&blank), "no digit found"]);
    let run = eval(&["--skip-bad"]);
    assert!(
        run.assert_ok().stdout.contains("skipped 1 bad image"),
        "{run:?}"
    );
    fs::remove_file(&blank).unwrap();

    // eval labels test folders by the model's names: a folder it does not know is refused.
    fs::rename(data.join("test/ring"), data.join("test/circle")).unwrap();
    assert_refused(
        &eval(&[]),
        &["circle", "not one of the classes (bar, cross, dash, ring)"],
    );
    fs::rename(data.join("test/circle"), data.join("test/ring")).unwrap();

    // No test/ folder.
    fs::rename(data.join("test"), dir.path().join("elsewhere")).unwrap();
    let test_dir = data.join("test");
    assert_refused(&quick(&[]), &[&format!("{}: missing", s(&test_dir))]);

    // A directory that is neither layout.
    let neither = dir.path().join("photos");
    fs::create_dir(&neither).unwrap();
    fs::copy(
        dir.path().join("elsewhere/bar/000.png"),
        neither.join("a.png"),
    )
    .unwrap();
    let r = host_trainer(&["eval", "--model", s(&out), "--data", s(&neither)]);
    assert_refused(&r, &[s(&neither), "neither", "train/<class>/*.png|jpg"]);
}
