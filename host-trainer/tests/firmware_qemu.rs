//! The firmware, end to end: built for the Cortex-M4F, run in QEMU (mps2-an386), checked
//! against the host's own nn-core results. Needs `qemu-system-arm` and `defmt-print`
//! (scripts/setup.sh installs both) and the MNIST test set (fetched on first use), so
//! every test here is an end-to-end one: `cargo test -p host-trainer --test firmware_qemu -- --ignored`.
//! The serial link's recovery is tested as a board owner meets it: `device-eval --port` on a
//! pseudo-terminal that QEMU bridges to the emulated UART (`-serial pty`), after a run that
//! was killed mid-stream.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use host_trainer::commands::device_eval::{self, DeviceEvalArgs};
use host_trainer::devices::eval::{self, HostModel, Link, Qemu};
use nn_core::IMAGE_PIXELS;
use nn_core::protocol::{self, FrameError, MAX_FRAME, Request, ResponseBody};
use nn_data::{self as data, Fetch};

mod common;

fn root() -> PathBuf {
    common::root().to_path_buf()
}

fn firmware_dir() -> PathBuf {
    root().join("firmware")
}

/// Runs cargo in firmware/ (its own config, target and lock file) and asserts success.
fn cargo_in_firmware(args: &[&str]) {
    let status = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(firmware_dir())
        // The firmware's ELF must land where device-eval looks for it.
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo {args:?} in firmware/ failed");
}

/// The QEMU firmware's ELF, built once for all tests in this file.
fn elf() -> &'static Path {
    static ELF: OnceLock<PathBuf> = OnceLock::new();
    ELF.get_or_init(|| {
        cargo_in_firmware(&["build", "--release"]);
        root().join(eval::DEFAULT_ELF)
    })
}

fn host_model() -> HostModel {
    HostModel::load(&root().join(eval::DEFAULT_MODEL)).expect("the firmware's model loads")
}

#[test]
#[ignore = "e2e: builds the firmware and boots it in QEMU"]
fn self_test_in_qemu_agrees_with_the_host_digit_by_digit() {
    let elf = elf();
    let output = Command::new(firmware_dir().join("scripts/qemu-run.sh"))
        .arg(elf)
        .output()
        .expect("the QEMU runner starts");
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "self-test failed: {}\n{log}",
        output.status
    );

    // The same 100 digits, classified by the host's kernels; the summary's accuracy too.
    let summary = common::check_self_test_log(&log, &host_model());
    let instructions: u64 = summary
        .field("instructions_per_inference=")
        .parse()
        .unwrap();
    // The image without black pixels runs every multiply-accumulate of the 784-128-10
    // network (at least one instruction each) and gets the host's class; a digit's black
    // pixels are skipped, so the digits average fewer.
    let line = common::SelfTestSummary(
        log.lines()
            .find(|l| l.contains("no black pixel"))
            .unwrap_or_else(|| panic!("no line for the image without black pixels:\n{log}"))
            .to_owned(),
    );
    let digits = std::fs::read(firmware_dir().join("data/t10k-100-images.bin")).unwrap();
    let bright: [u8; IMAGE_PIXELS] = std::array::from_fn(|i| digits[i].max(1));
    let (class, _) = host_model().predict_pixels(&bright).unwrap();
    assert_eq!(line.field("class="), class.to_string(), "{line}");
    let dense: u64 = line.field("count=").parse().unwrap();
    assert!(dense > 101_632, "{line}");
    assert!(instructions < dense, "{summary}\n{line}");
    // The stack's high-water mark: at least the int8 activations (932 B), and within the
    // stack build.rs reserves: nn-build's part (two scratch buffers of the widest layer in
    // f32 words, two frame buffers, the decoded input and output) + 12 KiB.
    let stack: u32 = summary.field("stack_used=").parse().unwrap();
    let (inputs, outputs) = (IMAGE_PIXELS, nn_core::CLASSES);
    let frame = protocol::max_frame_for(inputs, outputs);
    let reserved = 4 * 2 * inputs + 2 * frame + 4 * (inputs + outputs) + 12 * 1024;
    assert!((932..reserved as u32).contains(&stack), "{summary}");
}

#[test]
#[ignore = "e2e: 10,000 images through QEMU, real MNIST (fetched if missing)"]
fn device_eval_over_the_whole_test_set_matches_the_host() {
    let elf = elf();
    let test = data::load_test(&data::default_dir(), Fetch::Allowed).expect("MNIST test set");
    let images: Vec<&[u8; IMAGE_PIXELS]> = (0..test.len()).map(|i| test.image(i)).collect();
    let labels: Vec<u8> = (0..test.len()).map(|i| test.label(i)).collect();
    let (_qemu, stream) = Qemu::start(elf).expect("QEMU starts");
    let mut link = Link::new(stream);
    let report = eval::evaluate(&mut link, &host_model(), &images, &labels, 8).unwrap();
    assert_eq!(report.images, 10_000);
    assert_eq!(report.agree_with_host, 10_000, "{report:?}");
    // The default model is int8: the device sends the exact (q + 128) / 256.
    assert_eq!(report.max_prob_diff, 0.0, "{report:?}");
}

#[test]
#[ignore = "e2e: builds the firmware and boots it in QEMU"]
fn device_eval_command_writes_its_metrics() {
    let metrics = std::env::temp_dir().join(format!("device-eval-{}.json", std::process::id()));
    let args = DeviceEvalArgs {
        port: None,
        qemu: Some(elf().to_path_buf()),
        pico: None,
        model: root().join(eval::DEFAULT_MODEL),
        data: None,
        limit: Some(20),
        in_flight: None,
        metrics: Some(metrics.clone()),
        npy: None,
    };
    device_eval::run(&args).unwrap();
    let json = std::fs::read_to_string(&metrics).unwrap();
    let _ = std::fs::remove_file(&metrics);
    for key in [
        "\"images\": 20",
        "\"agree_with_host\": 20",
        "\"accuracy\"",
        "\"max_prob_diff\"",
    ] {
        assert!(json.contains(key), "{key} missing from {json}");
    }
}

#[test]
#[ignore = "e2e: builds the firmware and boots it in QEMU"]
fn raw_tensor_rows_come_back_as_the_hosts_int8_output_tensors() {
    // The 100 self-test digits as a uint8 .npy, through the command as a user runs it.
    let digits = std::fs::read(firmware_dir().join("data/t10k-100-images.bin")).unwrap();
    let dir = std::env::temp_dir().join(format!("device-eval-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let npy = dir.join("digits.npy");
    let array = nn_data::npy::Array {
        shape: vec![100, IMAGE_PIXELS],
        data: nn_data::npy::Data::U8(digits.clone()),
    };
    std::fs::write(&npy, nn_data::npy::encode(&array)).unwrap();
    let metrics = dir.join("metrics.json");
    let args = DeviceEvalArgs {
        port: None,
        qemu: Some(elf().to_path_buf()),
        pico: None,
        model: root().join(eval::DEFAULT_MODEL),
        data: None,
        limit: None,
        in_flight: None,
        metrics: Some(metrics.clone()),
        npy: Some(npy),
    };
    device_eval::run(&args).unwrap();
    let json = std::fs::read_to_string(&metrics).unwrap();
    for key in [
        "\"rows\": 100",
        "\"outputs\": 10",
        "\"output_dtype\": \"int8\"",
        "\"identical_rows\": 100",
    ] {
        assert!(json.contains(key), "{key} missing from {json}");
    }
    std::fs::remove_dir_all(&dir).unwrap();

    // A row of the wrong length gets WrongInput with its id, and serving goes on.
    let (_qemu, stream) = Qemu::start(elf()).expect("QEMU starts");
    let mut link = Link::new(stream);
    link.sync(90).unwrap();
    let short = protocol::TensorRequest {
        id: 91,
        element: protocol::TensorElement::U8,
        data: &digits[..IMAGE_PIXELS - 1],
    };
    link.send_tensor(&short).unwrap();
    let reply = link.read_reply().unwrap();
    let expected = eval::Reply::Digit(protocol::Response {
        id: 91,
        body: ResponseBody::Error(FrameError::WrongInput),
    });
    assert_eq!(reply, expected);
    let first = protocol::TensorRequest {
        id: 92,
        element: protocol::TensorElement::U8,
        data: &digits[..IMAGE_PIXELS],
    };
    link.send_tensor(&first).unwrap();
    let eval::Reply::Tensor { id, element, data } = link.read_reply().unwrap() else {
        panic!("no tensor reply");
    };
    assert_eq!(
        (id, element, data.len()),
        (92, protocol::TensorElement::I8, 10)
    );
}

#[test]
#[ignore = "e2e: builds the firmware and boots it in QEMU"]
fn broken_frames_get_error_replies_and_serving_goes_on() {
    let (_qemu, stream) = Qemu::start(elf()).expect("QEMU starts");
    let mut link = Link::new(stream);
    let image = [7u8; IMAGE_PIXELS];
    let mut buf = [0u8; MAX_FRAME];

    // A valid frame with one byte changed inside: COBS still parses, the CRC does not.
    let mut corrupt = protocol::encode_request(
        &Request {
            id: 5,
            pixels: image,
        },
        &mut buf,
    )
    .unwrap()
    .to_vec();
    corrupt[100] = corrupt[100].wrapping_add(1).max(1);
    link.send_raw(&corrupt).unwrap();
    let reply = link.read_response().unwrap();
    assert_eq!(reply.id, 0);
    assert!(
        matches!(
            reply.body,
            ResponseBody::Error(FrameError::BadCrc | FrameError::Corrupt)
        ),
        "{reply:?}"
    );

    // Twice the longest frame the firmware reads (its buffer holds the model's largest
    // tensor message, an f32 input of 784 values), then the terminator.
    let longest = protocol::max_frame_for(IMAGE_PIXELS, nn_core::CLASSES);
    let mut oversized = vec![0x55u8; 2 * longest];
    oversized.push(0);
    link.send_raw(&oversized).unwrap();
    let reply = link.read_response().unwrap();
    assert_eq!(
        reply.body,
        ResponseBody::Error(FrameError::Oversized),
        "{reply:?}"
    );

    // Bytes without a terminator, as an interrupted run leaves them: the 0x00 that goes
    // before every request ends them (one error reply), and the request is answered.
    link.send_raw(&[0x13, 0x37, 0x42, 0x42]).unwrap();
    link.send_request(&Request {
        id: 42,
        pixels: image,
    })
    .unwrap();
    let reply = link.read_response().unwrap();
    assert_eq!(reply.id, 0);
    assert!(matches!(reply.body, ResponseBody::Error(_)), "{reply:?}");
    let reply = link.read_response().unwrap();
    assert_eq!(reply.id, 42);
    let (host_class, host_p) = host_model().predict_pixels(&image).unwrap();
    match reply.body {
        ResponseBody::Prediction {
            class,
            probabilities,
        } => {
            assert_eq!(usize::from(class), host_class);
            assert_eq!(probabilities, host_p);
        }
        other => panic!("expected a prediction, got {other:?}"),
    }
}

#[test]
#[ignore = "e2e: real MNIST (fetched if missing)"]
fn mnist_requests_travel_in_under_a_third_of_the_raw_bytes() {
    let test = data::load_test(&data::default_dir(), Fetch::Allowed).expect("MNIST test set");
    let mut buf = [0u8; MAX_FRAME];
    let (mut bytes, mut longest) = (0usize, 0usize);
    for i in 0..test.len() {
        // A 5-byte id, as device-eval's random ones mostly are.
        let request = Request {
            id: 3_000_000_000 + i as u32,
            pixels: *test.image(i),
        };
        let frame = protocol::encode_request(&request, &mut buf).unwrap();
        let mut copy = frame.to_vec();
        assert_eq!(protocol::decode_request(&mut copy), Ok(request));
        // The 0x00 that goes before every request counts too.
        bytes += 1 + frame.len();
        longest = longest.max(1 + frame.len());
    }
    let average = bytes as f64 / test.len() as f64;
    // Raw, the same requests take 797 bytes on the line (their 0x00 included).
    eprintln!("bytes on the line per request: {average:.1} on average, {longest} at most, raw 797");
    assert!(average * 3.0 < 797.0, "{average}");
}

/// The firmware in QEMU with its UART on a pseudo-terminal, which stands in for a board's
/// USB serial port (`/dev/ttyACM0`); QEMU is killed on drop.
struct PtyBoard {
    qemu: Child,
    pty: String,
}

impl PtyBoard {
    fn start() -> Self {
        let mut qemu = host_trainer::devices::qemu::serve_command(elf(), "pty")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("qemu-system-arm starts");
        // "char device redirected to /dev/pts/3 (label serial0)" comes first on stdout, then
        // the defmt log (semihosting), drained on the side so QEMU never blocks on it.
        let mut stdout = BufReader::new(qemu.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let pty = line
            .split_whitespace()
            .find(|w| w.starts_with("/dev/"))
            .unwrap_or_else(|| panic!("QEMU did not name its pty: {line:?}"))
            .to_string();
        Self { qemu, pty }
    }

    /// `host-trainer device-eval --port PTY ARGS…`, as a user runs it.
    fn device_eval(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(common::host_trainer_binary());
        cmd.args(["device-eval", "--port", &self.pty]).args(args);
        cmd
    }
}

impl Drop for PtyBoard {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}

#[test]
#[ignore = "e2e: boots the firmware in QEMU, real MNIST (fetched if missing)"]
fn a_port_run_after_an_interrupted_one_succeeds_with_parity() {
    let board = PtyBoard::start();

    // 1. A run killed in the middle, with 8 requests in flight: it leaves requests in the
    //    line and in the board, and replies nobody reads.
    let mut interrupted = board
        .device_eval(&["--in-flight", "8"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        interrupted.try_wait().unwrap().is_none(),
        "the first run ended before it could be interrupted"
    );
    interrupted.kill().unwrap();
    interrupted.wait().unwrap();

    // 2. Garbage and half a request, no terminator, straight into the port.
    let mut half = [0u8; MAX_FRAME];
    let half = protocol::encode_request(
        &Request {
            id: 9,
            pixels: [200; IMAGE_PIXELS],
        },
        &mut half,
    )
    .unwrap();
    let mut port = std::fs::OpenOptions::new()
        .write(true)
        .open(&board.pty)
        .unwrap();
    port.write_all(&[0xDE, 0xAD, 0xBE, 0xEF]).unwrap();
    port.write_all(&half[..half.len() / 2]).unwrap();
    drop(port);

    // 3. A clean run, as the README shows it: every answer equal to the host's.
    let metrics = std::env::temp_dir().join(format!("pty-eval-{}.json", std::process::id()));
    let output = board
        .device_eval(&["--limit", "200", "--metrics", metrics.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the clean run failed: {stderr}");
    let json = std::fs::read_to_string(&metrics).unwrap();
    let _ = std::fs::remove_file(&metrics);
    for key in [
        "\"images\": 200",
        "\"agree_with_host\": 200",
        "\"max_prob_diff\": 0.0",
    ] {
        assert!(json.contains(key), "{key} missing from {json}");
    }
    assert!(json.contains(&board.pty), "{json}");
}

#[test]
#[ignore = "e2e: builds the firmware for the board"]
fn nucleo_f411re_firmware_compiles() {
    cargo_in_firmware(&["build-nucleo"]);
}
