//! What host-trainer's tests share: the repository root, the host-trainer binary, a runner for it and a
//! `serve` started on a free port, the CRC-32 reference, a seeded generator, a tiny
//! MNIST-shaped data set written on the spot (so a test needs neither the network nor the
//! real MNIST), and the check of a firmware self-test log against the host.
//!
//! Each test file compiles its own copy of this module and uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use host_trainer::devices::eval::HostModel;
use nn_core::IMAGE_PIXELS;

// The committed MNIST digits (firmware/data/), read by the one helper nn-data's tests use.
#[path = "../../../nn-data/tests/common/mod.rs"]
mod nn_data_common;
#[allow(unused_imports)]
pub use nn_data_common::committed_digits;

// ---------------------------------------------------------------- the binary

/// The repository root (firmware/, models/, nn-wasm/ are found from here).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host-trainer sits in the repository root")
}

/// The host-trainer binary Cargo built for these tests (the test profile is optimised).
pub fn host_trainer_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_host-trainer"))
}

/// No run through [`host_trainer`] needs more than a few seconds; a run past this is a hang.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// What a finished (or timed-out and killed) run left.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Run {
    /// Asserts a zero exit status, showing stderr otherwise.
    pub fn assert_ok(&self) -> &Self {
        assert!(
            !self.timed_out && self.code == Some(0),
            "{:?} failed ({:?}): {}",
            self.args,
            self.code,
            self.stderr
        );
        self
    }
}

/// How [`host_trainer_with`] runs the binary.
pub struct Opts<'a> {
    /// An address-space limit (`prlimit --as`, util-linux), or none.
    pub memory: Option<u64>,
    /// Where its stdout goes (piped and collected by default).
    pub stdout: Stdio,
    /// A directory put in front of `PATH` (e.g. holding a fake `qemu-system-arm`).
    pub path_prefix: Option<&'a Path>,
    /// Past this the run is killed and counts as hung.
    pub timeout: Duration,
}

impl Default for Opts<'_> {
    fn default() -> Self {
        Self {
            memory: None,
            stdout: Stdio::piped(),
            path_prefix: None,
            timeout: TIMEOUT,
        }
    }
}

/// Runs the binary with `args` and stdin closed, killing it after [`TIMEOUT`].
pub fn host_trainer(args: &[&str]) -> Run {
    host_trainer_with(args, Opts::default())
}

/// Runs the binary with `args` and stdin closed, as `opts` says.
pub fn host_trainer_with(args: &[&str], opts: Opts<'_>) -> Run {
    let mut cmd = match opts.memory {
        Some(limit) => {
            let mut c = Command::new("prlimit");
            c.arg(format!("--as={limit}"))
                .arg("--")
                .arg(host_trainer_binary());
            c
        }
        None => Command::new(host_trainer_binary()),
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(opts.stdout)
        .stderr(Stdio::piped());
    if let Some(dir) = opts.path_prefix {
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{path}", dir.display()));
    }
    let mut child = cmd
        .spawn()
        .expect("the binary starts (prlimit from util-linux when limited)");
    // Read both pipes on the side so a chatty child cannot block on a full one.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut s);
            }
            s
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let start = Instant::now();
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break (status, false);
        }
        if start.elapsed() > opts.timeout {
            let _ = child.kill();
            break (child.wait().expect("wait"), true);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        timed_out,
    }
}

// ---------------------------------------------------------------- the server

/// A child process killed (and reaped) when the test ends, however it ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `host-trainer serve --port 0 --model <model>`, once it listens: the server, killed on
/// drop, and the address it prints (`http://127.0.0.1:PORT/`).
pub fn serve(model: &Path) -> (Running, String) {
    serve_env(model, &[])
}

/// [`serve`] with environment variables set (e.g. `MNIST_MCU_DATA`, where replay examples
/// come from).
pub fn serve_env(model: &Path, env: &[(&str, &Path)]) -> (Running, String) {
    let mut child = Command::new(host_trainer_binary())
        .args(["serve", "--port", "0", "--model"])
        .arg(model)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("host-trainer starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("serve printed no address: {line:?}"))
        .to_owned();
    (Running(child), url)
}

// ---------------------------------------------------------------- the firmware's self-test

/// The summary line of a firmware self-test
/// (`self-test images=… correct=… accuracy=… malformed=… <unit>_per_inference=… stack_used=…`).
pub struct SelfTestSummary(pub String);

impl SelfTestSummary {
    /// The value of `name` (e.g. `"accuracy="`) in the line; a panic when it has none.
    pub fn field(&self, name: &str) -> &str {
        self.0
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in `{self}`"))
    }
}

impl std::fmt::Display for SelfTestSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a firmware self-test log (QEMU's or the Pico's) against the host: the 100
/// committed digits (`firmware/data/`), each classified by `model` on the host, must appear
/// as `digit I label=L class=C `; the summary line's accuracy must be the host's and no
/// answer malformed. Returns the summary, for each board's own fields.
pub fn check_self_test_log(log: &str, model: &HostModel) -> SelfTestSummary {
    let data = root().join("firmware/data");
    let images = std::fs::read(data.join("t10k-100-images.bin")).unwrap();
    let labels = std::fs::read(data.join("t10k-100-labels.bin")).unwrap();
    let mut correct = 0;
    for (i, (image, &label)) in images.chunks_exact(IMAGE_PIXELS).zip(&labels).enumerate() {
        let (class, _) = model.predict_pixels(image.try_into().unwrap()).unwrap();
        correct += usize::from(class == usize::from(label));
        let line = format!("digit {i} label={label} class={class} ");
        assert!(
            log.contains(&line),
            "the firmware does not say `{line}`:\n{log}"
        );
    }

    let summary = SelfTestSummary(
        log.lines()
            .find(|l| l.contains("self-test images="))
            .unwrap_or_else(|| panic!("no summary line:\n{log}"))
            .to_owned(),
    );
    let accuracy: f64 = summary.field("accuracy=").parse().unwrap();
    assert!(
        (accuracy - correct as f64 / 100.0).abs() < 1e-6,
        "{summary}"
    );
    assert_eq!(summary.field("malformed="), "0", "{summary}");
    summary
}

// ---------------------------------------------------------------- references

/// CRC-32/ISO-HDLC written out bit by bit (the model file's checksum), so a test can
/// forge a file whose checksum is right and whose content is not: nn-core's test reference.
#[allow(unused_imports, reason = "not every test file forges a checksum")]
pub use reference::crc32_reference as crc32;

#[path = "../../../nn-core/tests/common/reference.rs"]
mod reference;

/// A small xorshift64, so that "random" choices in a test are spread but repeatable.
pub struct XorShift(pub u64);

impl XorShift {
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

// ---------------------------------------------------------------- a tiny data set

/// A tiny MNIST-shaped data set in IDX files: digit `d` is a bright bar in row band `d`,
/// so a network can learn it and a run takes milliseconds.
pub struct Synthetic {
    pub dir: PathBuf,
}

/// Digit `label`, drawn in one of a few variants (the bar's start and brightness).
pub fn synthetic_image(label: u8, variant: usize) -> [u8; 784] {
    let mut px = [0u8; 784];
    let top = 2 + 2 * usize::from(label);
    for r in top..top + 2 {
        for c in 4 + variant % 3..24 {
            px[r * 28 + c] = 200 + (variant % 50) as u8;
        }
    }
    px
}

/// An IDX3 file of `n` 28×28 images: image `i` is digit `i % 10`.
fn idx_images(n: usize) -> Vec<u8> {
    let mut b = vec![0, 0, 8, 3];
    b.extend((n as u32).to_be_bytes());
    b.extend(28u32.to_be_bytes());
    b.extend(28u32.to_be_bytes());
    for i in 0..n {
        b.extend(synthetic_image((i % 10) as u8, i));
    }
    b
}

/// The IDX1 labels of [`idx_images`].
fn idx_labels(n: usize) -> Vec<u8> {
    let mut b = vec![0, 0, 8, 1];
    b.extend((n as u32).to_be_bytes());
    b.extend((0..n).map(|i| (i % 10) as u8));
    b
}

impl Synthetic {
    /// Writes `train` and `test` examples into `<parent>/data`.
    pub fn write(parent: &Path, train: usize, test: usize) -> Self {
        let dir = parent.join("data");
        std::fs::create_dir_all(&dir).unwrap();
        let w = |name: &str, bytes: Vec<u8>| std::fs::write(dir.join(name), bytes).unwrap();
        w("train-images-idx3-ubyte", idx_images(train));
        w("train-labels-idx1-ubyte", idx_labels(train));
        w("t10k-images-idx3-ubyte", idx_images(test));
        w("t10k-labels-idx1-ubyte", idx_labels(test));
        Self { dir }
    }

    /// The directory as a `&str`, for command lines.
    pub fn dir_str(&self) -> &str {
        self.dir.to_str().expect("a UTF-8 temporary path")
    }

    /// A digit `3` as a binary PGM, for `predict`.
    pub fn digit_pgm(&self, parent: &Path) -> PathBuf {
        let path = parent.join("three.pgm");
        write_pgm(&path, &synthetic_image(3, 0));
        path
    }
}

/// Writes 28×28 grey `pixels` as a binary PGM (one of the formats `predict` reads).
pub fn write_pgm(path: &Path, pixels: &[u8; 784]) {
    let mut pgm = b"P5\n28 28\n255\n".to_vec();
    pgm.extend(pixels);
    std::fs::write(path, pgm).unwrap();
}
