//! The release binary against a hostile user (issue 12): files that are not files (FIFOs,
//! devices, endless readers), files that lie (valid checksums over unusable models, gzip with
//! garbage after the stream, half a JPEG, empty sets), outputs that must not be replaced,
//! sizes that would exhaust memory, closed and full stdout, signals, two runs on one output,
//! and a "device" that floods `device-eval`.
//!
//! Every case runs under a timeout and an address-space limit (`prlimit --as`), and asserts
//! three things: the exit status, exactly one line on stderr naming the culprit (the file or
//! the flag), and that nothing on disk was harmed.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::{Opts, Run};
use nn_core::format::{Header, encode, encoded_len};
use nn_core::{Activation, InputScaling};

/// No hostile case needs more than a few seconds; past this it is a hang.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The address space each run may use: far more than any case needs, far less than an
/// endless read or a 10^9-unit allocation would take.
const MEMORY: u64 = 2 << 30;

/// The shared runner's options with this file's time and memory limits.
fn limited<'a>() -> Opts<'a> {
    Opts {
        memory: Some(MEMORY),
        timeout: TIMEOUT,
        ..Opts::default()
    }
}

fn run(args: &[&str]) -> Run {
    run_with(args, limited())
}

/// Runs the binary under `prlimit --as` with `args`, killing it after [`TIMEOUT`].
fn run_with(args: &[&str], opts: Opts<'_>) -> Run {
    common::host_trainer_with(args, opts)
}

/// Status 1, one line on stderr that contains `culprit` and each of `problem`.
fn assert_refused(run: &Run, culprit: &str, problem: &[&str]) {
    let what = format!("{:?}\nstderr: {}", run.args, run.stderr);
    assert!(!run.timed_out, "hung: {what}");
    assert_eq!(run.code, Some(1), "status: {what}");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {what}");
    assert!(run.stderr.contains(culprit), "names {culprit:?}: {what}");
    for p in problem {
        assert!(run.stderr.contains(p), "says {p:?}: {what}");
    }
}

/// A model file of shape `shape` whose every weight and bias is `w`, encoded by nn-core
/// (the encoder checks finiteness only; the decoder is what these cases test).
fn model(shape: [usize; 3], w: f32, scaling: InputScaling) -> Vec<u8> {
    let header = Header::new(shape, Activation::Relu, Activation::Softmax, scaling).unwrap();
    let [i, h, o] = shape;
    let (w1, b1, w2, b2) = (vec![w; h * i], vec![w; h], vec![w; o * h], vec![w; o]);
    let mut out = vec![0u8; encoded_len(&header).unwrap()];
    let n = encode(&header, [&w1, &b1, &w2, &b2], &mut out).unwrap();
    out.truncate(n);
    out
}

fn good_model() -> Vec<u8> {
    model([784, 4, 10], 0.01, InputScaling::UNIT)
}

/// IDX bytes of `n` images (digit `d` a bar in row band `d`) and of their labels.
fn idx(n: usize) -> (Vec<u8>, Vec<u8>) {
    let mut images = vec![0, 0, 8, 3];
    images.extend((n as u32).to_be_bytes());
    images.extend(28u32.to_be_bytes());
    images.extend(28u32.to_be_bytes());
    let mut labels = vec![0, 0, 8, 1];
    labels.extend((n as u32).to_be_bytes());
    for k in 0..n {
        let d = k % 10;
        let mut px = [0u8; 784];
        for r in 2 + 2 * d..4 + 2 * d {
            px[r * 28 + 4..r * 28 + 24].fill(220);
        }
        images.extend(px);
        labels.push(d as u8);
    }
    (images, labels)
}

/// A `data/` directory in `parent` with `train` and `test` examples.
fn data(parent: &Path, train: usize, test: usize) -> PathBuf {
    let dir = parent.join("data");
    fs::create_dir_all(&dir).unwrap();
    for (prefix, n) in [("train", train), ("t10k", test)] {
        let (images, labels) = idx(n);
        fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
    dir
}

/// A digit as a binary PGM.
fn digit(parent: &Path) -> PathBuf {
    let path = parent.join("digit.pgm");
    let mut pgm = b"P5\n28 28\n255\n".to_vec();
    pgm.extend(&idx(4).0[16 + 3 * 784..]);
    fs::write(&path, pgm).unwrap();
    path
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The flags of a quick training run on `data` into `out`, with `over` replacing or adding
/// flags (clap refuses a flag given twice).
fn quick(data: &Path, out: &Path, over: &[(&str, &str)]) -> Vec<String> {
    let mut flags = vec![
        ("--hidden", "4"),
        ("--batch-size", "8"),
        ("--threads", "1"),
        ("--epochs", "1"),
        ("--data", s(data)),
        ("--out", s(out)),
    ];
    for &(flag, value) in over {
        match flags.iter_mut().find(|(f, _)| *f == flag) {
            Some(slot) => slot.1 = value,
            None => flags.push((flag, value)),
        }
    }
    let mut args = vec!["train".to_owned()];
    for (flag, value) in flags {
        args.push(flag.to_owned());
        if !value.is_empty() {
            args.push(value.to_owned());
        }
    }
    args
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Class 1 and 5: models that decode but cannot run (no hidden unit, fewer than two
/// outputs, weights or scaling so large that outputs overflow) are refused by the
/// decoder, with the tensor or the shape named, by every command.
#[test]
fn unrunnable_models_are_refused_by_the_decoder() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(dir.path(), 10, 10);
    let image = digit(dir.path());
    let huge_scale = InputScaling {
        scale: 3e38,
        offset: 0.0,
    };
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "hidden0.nnm",
            model([784, 0, 10], 0.01, InputScaling::UNIT),
            "784-0-10",
        ),
        (
            "out0.nnm",
            model([784, 4, 0], 0.01, InputScaling::UNIT),
            "784-4-0",
        ),
        (
            "out1.nnm",
            model([784, 4, 1], 0.01, InputScaling::UNIT),
            "784-4-1",
        ),
        (
            "huge.nnm",
            model([784, 4, 10], 3e38, InputScaling::UNIT),
            "W1 row 0",
        ),
        (
            "scale.nnm",
            model([784, 4, 10], 0.01, huge_scale),
            "input scaling",
        ),
    ];
    for (name, bytes, problem) in cases {
        let path = dir.path().join(name);
        fs::write(&path, &bytes).unwrap();
        for args in [
            vec!["inspect", s(&path)],
            vec!["eval", "--model", s(&path), "--data", s(&d)],
            vec!["predict", "--model", s(&path), s(&image)],
        ] {
            let r = run(&args);
            assert_refused(&r, name, &[problem]);
            assert!(!r.stderr.contains("digit.pgm"), "blames the image: {r:?}");
        }
        assert_eq!(fs::read(&path).unwrap(), bytes);
    }
}

/// Class 2 and 3: devices, FIFOs and directories given as model, image, checkpoint or IDX
/// file are refused by kind, at once, without reading or blocking.
#[test]
fn files_that_are_not_regular_files_are_refused_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(dir.path(), 10, 10);
    let model = dir.path().join("ok.nnm");
    fs::write(&model, good_model()).unwrap();
    let image = digit(dir.path());
    let fifo = dir.path().join("pipe");
    mkfifo(&fifo);
    let zero_link = dir.path().join("zero-link");
    std::os::unix::fs::symlink("/dev/zero", &zero_link).unwrap();
    for (thing, kind) in [
        (s(&fifo), "is a FIFO"),
        ("/dev/zero", "is a character device"),
        ("/dev/urandom", "is a character device"),
        (s(&zero_link), "is a character device"),
        (s(dir.path()), "is a directory"),
    ] {
        for args in [
            vec!["inspect", thing],
            vec!["eval", "--model", thing, "--data", s(&d)],
            vec!["predict", "--model", thing, s(&image)],
            vec!["predict", "--model", s(&model), thing],
        ] {
            assert_refused(&run(&args), thing, &[kind]);
        }
    }

    // A checkpoint that is a FIFO, or a symlink to /dev/zero, stops --resume by kind.
    let out = dir.path().join("m.nnm");
    let ckpt = dir.path().join("m.nnm.ckpt");
    for make in [mkfifo as fn(&Path), |p: &Path| {
        std::os::unix::fs::symlink("/dev/zero", p).unwrap()
    }] {
        let _ = fs::remove_file(&ckpt);
        make(&ckpt);
        let args = quick(&d, &out, &[("--resume", "")]);
        assert_refused(&run(&strs(&args)), "m.nnm.ckpt", &[]);
        assert!(!out.exists());
    }

    // An IDX file that is a FIFO.
    let case = dir.path().join("fifo-data");
    let d2 = data(&case, 10, 10);
    fs::remove_file(d2.join("t10k-labels-idx1-ubyte")).unwrap();
    mkfifo(&d2.join("t10k-labels-idx1-ubyte"));
    let r = run(&["eval", "--model", s(&model), "--data", s(&d2)]);
    assert_refused(&r, "t10k-labels-idx1-ubyte", &["is a FIFO"]);
}

/// Class 4: `--out` and `--metrics` never replace a device, a FIFO or a directory, never
/// name one file twice, and a bad location fails before training (no checkpoint is made).
#[test]
fn outputs_that_must_not_be_replaced_fail_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(dir.path(), 10, 10);
    let fifo = dir.path().join("out-fifo");
    mkfifo(&fifo);
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let file = dir.path().join("plain-file");
    fs::write(&file, b"keep").unwrap();
    let mut outs = vec![
        (s(&fifo).to_owned(), "is a FIFO"),
        (s(&sub).to_owned(), "is a directory"),
        (format!("{}/", s(&sub)), "ends in a path separator"),
        (format!("{}/m.nnm", s(&file)), "creating its directory"),
    ];
    // As root a device node can be made; `--out /dev/null` itself is checked too (it is
    // refused before anything is written, so it is not at risk).
    let is_root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let node = dir.path().join("null-node");
    if is_root {
        let ok = Command::new("mknod")
            .args([s(&node), "c", "1", "3"])
            .status()
            .unwrap()
            .success();
        assert!(ok, "mknod as root");
        outs.push((s(&node).to_owned(), "is a device"));
    }
    outs.push(("/dev/null".to_owned(), "is a device"));
    for (out, problem) in &outs {
        let r = run(&strs(&quick(&d, Path::new(out), &[])));
        assert_refused(&r, out.trim_end_matches('/'), &["--out", problem]);
        assert!(!r.stdout.contains("epoch"), "trained first: {r:?}");
        // --metrics gets the same refusals.
        let model_out = dir.path().join("fine.nnm");
        let args = quick(&d, &model_out, &[("--metrics", out)]);
        let r = run(&strs(&args));
        assert_refused(&r, out.trim_end_matches('/'), &["--metrics", problem]);
        assert!(!model_out.exists(), "trained first: {r:?}");
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(fs::metadata(&sub).unwrap().is_dir());
    assert_eq!(fs::read(&file).unwrap(), b"keep");
    if is_root {
        assert!(fs::metadata(&node).unwrap().file_type().is_char_device());
    }
    assert!(
        fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );

    // --metrics equal to --out, or to its checkpoint.
    let out = dir.path().join("m.nnm");
    for metrics in [s(&out).to_owned(), format!("{}.ckpt", s(&out))] {
        let args = quick(&d, &out, &[("--metrics", &metrics)]);
        assert_refused(&run(&strs(&args)), "--metrics", &["both name"]);
        assert!(!out.exists());
    }
}

/// Class 4: temporaries left by a killed run are removed by the next one; SIGTERM during
/// a run leaves none and exits 143.
#[test]
fn temporaries_do_not_outlive_their_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(dir.path(), 200, 10);
    let out = dir.path().join("m.nnm");
    // PID 2^22 + 1 is above Linux's largest PID: a run that can no longer be alive.
    let stale = dir.path().join(".m.nnm.tmp4194305");
    let stale_ckpt = dir.path().join(".m.nnm.ckpt.tmp4194305");
    fs::write(&stale, b"half a model").unwrap();
    fs::write(&stale_ckpt, b"half a checkpoint").unwrap();
    let r = run(&strs(&quick(&d, &out, &[])));
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(!stale.exists() && !stale_ckpt.exists());

    // Many short epochs, each ending in a checkpoint write: SIGTERM lands somewhere in them.
    let out2 = dir.path().join("n.nnm");
    let args = quick(
        &d,
        &out2,
        &[("--epochs", "100000"), ("--batch-size", "200")],
    );
    let mut child = Command::new(common::host_trainer_binary())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // Wait for the first epoch's line: the run is past its set-up and writing checkpoints.
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("epoch 1/") {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "the run ended early");
        seen.extend_from_slice(&buf[..n]);
    }
    std::thread::sleep(Duration::from_millis(50));
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    let left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporaries left: {left:?}");
}

/// Class 9: a second run on one --out fails at once and writes nothing.
#[test]
fn a_second_run_on_one_output_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(dir.path(), 10, 10);
    let out = dir.path().join("m.nnm");
    fs::write(&out, b"the other run's model").unwrap();
    // The lock a running `train` holds: this test holds it instead.
    let lock = fs::File::create(dir.path().join(".m.nnm.lock")).unwrap();
    lock.try_lock().unwrap();
    let r = run(&strs(&quick(&d, &out, &[])));
    assert_refused(&r, "m.nnm", &["another run is writing it"]);
    assert_eq!(fs::read(&out).unwrap(), b"the other run's model");
    assert!(!dir.path().join("m.nnm.ckpt").exists());
    drop(lock);
    assert_eq!(run(&strs(&quick(&d, &out, &[]))).code, Some(0));
}

/// Class 1: sizes from the command line are refused up front, naming the flag and limit.
#[test]
fn sizes_that_would_exhaust_memory_are_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(dir.path(), 10, 10);
    let out = dir.path().join("m.nnm");
    for (flag, value) in [
        ("--hidden", "1000000000"),
        ("--hidden", "18446744073709551615"),
        ("--batch-size", "1000000000"),
        ("--batch-size", "18446744073709551615"),
        ("--threads", "1000000000"),
    ] {
        let args = quick(&d, &out, &[(flag, value)]);
        // 200 MB is far less than any of these would allocate.
        let r = run_with(
            &strs(&args),
            Opts {
                memory: Some(200 << 20),
                ..limited()
            },
        );
        assert_refused(&r, flag, &["limit"]);
        assert!(!out.exists());
    }
}

/// Class 1: a closed stdout ends quietly with status 0; a full one is one line and status 1.
#[test]
fn closed_and_full_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("ok.nnm");
    fs::write(&model, good_model()).unwrap();
    let image = digit(dir.path());
    // 300 images print ~300 KB, more than a pipe holds: some write meets the closed pipe.
    let mut args = vec!["predict", "--model", s(&model)];
    args.extend(std::iter::repeat_n(s(&image), 300));
    let mut child = Command::new(common::host_trainer_binary())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");

    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    for args in [
        vec!["predict", "--model", s(&model), s(&image)],
        vec!["inspect", s(&model)],
    ] {
        let r = run_with(
            &args,
            Opts {
                stdout: full.try_clone().unwrap().into(),
                ..limited()
            },
        );
        assert_refused(&r, "writing to stdout", &["No space left"]);
    }
}

/// Class 5 and 6: bad data accepted before: an empty test or training set, a .gz with
/// garbage after the stream, half a JPEG.
#[test]
fn bad_input_that_used_to_pass() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("ok.nnm");
    fs::write(&model, good_model()).unwrap();

    let empty = data(&dir.path().join("empty"), 0, 0);
    let r = run(&["eval", "--model", s(&model), "--data", s(&empty)]);
    assert_refused(&r, "t10k-images-idx3-ubyte", &["hold no images"]);
    let out = dir.path().join("m.nnm");
    let r = run(&strs(&quick(&empty, &out, &[])));
    assert_refused(&r, "train-images-idx3-ubyte", &["hold no images"]);
    assert!(!out.exists());

    let gz = data(&dir.path().join("gz"), 10, 10);
    let raw = gz.join("t10k-labels-idx1-ubyte");
    let ok = Command::new("gzip").arg(&raw).status().unwrap().success();
    assert!(ok, "gzip");
    let r = run(&["eval", "--model", s(&model), "--data", s(&gz)]);
    assert_eq!(r.code, Some(0), "a clean .gz loads: {r:?}");
    let gz_file = gz.join("t10k-labels-idx1-ubyte.gz");
    let mut bytes = fs::read(&gz_file).unwrap();
    bytes.extend(b"garbage after the gzip stream");
    fs::write(&gz_file, &bytes).unwrap();
    let r = run(&["eval", "--model", s(&model), "--data", s(&gz)]);
    assert_refused(&r, "t10k-labels-idx1-ubyte.gz", &["gzip"]);

    let jpeg = common::root().join("nn-data/tests/fixtures/mnist-test-1-label-2-light-on-dark.jpg");
    let whole = fs::read(&jpeg).unwrap();
    let half = dir.path().join("half.jpg");
    fs::write(&half, &whole[..whole.len() / 2]).unwrap();
    let r = run(&["predict", "--model", s(&model), s(&jpeg)]);
    assert_eq!(r.code, Some(0), "the whole JPEG: {r:?}");
    let r = run(&["predict", "--model", s(&model), s(&half)]);
    assert_refused(&r, "half.jpg", &["end-of-image"]);
}

/// Class 7: a file name with a newline is quoted, so the error stays one line.
#[test]
fn odd_file_names_are_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("two\nlines.nnm");
    fs::write(&odd, b"not a model").unwrap();
    let r = run(&["inspect", s(&odd)]);
    assert_refused(&r, "two\\nlines.nnm", &["not a model file"]);
}

/// Class 3: a "device" (a stand-in for QEMU on PATH) that floods bytes without a frame
/// delimiter, or endless empty frames: device-eval ends at once, saying what it got.
#[test]
fn a_flooding_device_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(dir.path(), 10, 10);
    let model = dir.path().join("ok.nnm");
    fs::write(&model, good_model()).unwrap();
    let elf = dir.path().join("fake.elf");
    fs::write(&elf, b"not firmware").unwrap();
    for (flood, says) in [
        ("yes A | tr -d '\\n'", "starting 41 41"),
        ("yes '' | tr '\\n' '\\0'", "frame delimiters"),
    ] {
        let bin = dir.path().join(format!("bin-{}", says.len()));
        fs::create_dir_all(&bin).unwrap();
        let script = bin.join("qemu-system-arm");
        // Connects to the UART socket it is given, as QEMU would, and floods it.
        fs::write(
            &script,
            format!(
                "#!/bin/bash\nfor a in \"$@\"; do case $a in tcp:*) hp=${{a#tcp:}};; esac; done\n\
                 exec 3<>/dev/tcp/${{hp%:*}}/${{hp##*:}}\n{flood} >&3\n"
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let args = [
            "device-eval",
            "--qemu",
            s(&elf),
            "--model",
            s(&model),
            "--data",
            s(&d),
            "--limit",
            "4",
        ];
        let r = run_with(
            &args,
            Opts {
                path_prefix: Some(&bin),
                ..limited()
            },
        );
        assert_refused(&r, "no reply from the device within", &[says]);
    }
}

/// Class 8: an IDX .gz that inflates to 256 MiB is held once, not twice: `eval` runs
/// within 1.2 times that plus the program's own fixed overhead.
#[test]
fn memory_is_proportional_to_the_input() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let d = data(dir.path(), 10, 10);
    let model = dir.path().join("ok.nnm");
    fs::write(&model, good_model()).unwrap();
    let n: usize = (256 << 20) / 784;
    let images = d.join("t10k-images-idx3-ubyte");
    fs::remove_file(&images).unwrap();
    let file = fs::File::create(d.join("t10k-images-idx3-ubyte.gz")).unwrap();
    let mut gz = Command::new("gzip")
        .arg("-1")
        .stdin(Stdio::piped())
        .stdout(file)
        .spawn()
        .unwrap();
    let mut pipe = gz.stdin.take().unwrap();
    let mut header = vec![0, 0, 8, 3];
    header.extend((n as u32).to_be_bytes());
    header.extend([0, 0, 0, 28, 0, 0, 0, 28]);
    pipe.write_all(&header).unwrap();
    let block = vec![0u8; 784 * 1024];
    for _ in 0..n / 1024 {
        pipe.write_all(&block).unwrap();
    }
    pipe.write_all(&block[..784 * (n % 1024)]).unwrap();
    drop(pipe);
    assert!(gz.wait().unwrap().success());
    let (_, labels) = idx(n);
    fs::write(d.join("t10k-labels-idx1-ubyte"), labels).unwrap();
    let pixels = (n * 784) as u64;
    // The binary's own address space (code, thread stacks, allocator arenas) measured
    // on a 20-image set below, then the limit: that plus 1.2 times the pixels and labels.
    let small = data(&dir.path().join("small"), 10, 20);
    let base = (1u64..)
        .map(|k| k * (16 << 20))
        .find(|&limit| {
            let r = run_with(
                &["eval", "--model", s(&model), "--data", s(&small)],
                Opts {
                    memory: Some(limit),
                    ..limited()
                },
            );
            r.code == Some(0)
        })
        .unwrap();
    let limit = base + (pixels + n as u64) * 12 / 10;
    let r = run_with(
        &["eval", "--model", s(&model), "--data", s(&d)],
        Opts {
            memory: Some(limit),
            ..limited()
        },
    );
    assert_eq!(
        r.code,
        Some(0),
        "needs more than {limit} bytes (base {base}): {r:?}"
    );
    assert!(r.stdout.contains(&format!("/{n})")), "{r:?}");
}
