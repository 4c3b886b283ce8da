//! `host-trainer device-eval`: streams the MNIST test set to the firmware over its serial
//! protocol (a real board on a serial port, or the firmware in QEMU with its UART on a
//! local TCP socket), and checks every answer against the host's own nn-core result.
//!
//! This module is the evaluation; the transport is beside it:
//! - [`link`]: [`Link`] sends frames and reads replies, each with a deadline and a byte cap;
//! - [`qemu`]: [`Qemu`] starts the firmware and connects to its UART, from the one QEMU
//!   command line;
//! - [`rp2040js`]: [`Rp2040js`] runs the Pico firmware in the RP2040 emulator, its UART on
//!   a pipe;
//! - the host's copy of the network is [`HostModel`], the loader every command uses.

pub mod link;
pub mod qemu;
pub mod rp2040js;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use nn_core::IMAGE_PIXELS;
use nn_core::protocol::{Request, ResponseBody};

use crate::data::{self, Fetch};
pub use crate::model::HostModel;
pub use link::{Link, MAX_REPLY_BYTES, READ_POLL, REPLY_TIMEOUT};
pub use qemu::Qemu;
pub use rp2040js::Rp2040js;

/// Where the firmware's build puts its ELF, relative to the repository root.
pub const DEFAULT_ELF: &str = "firmware/target/thumbv7em-none-eabihf/release/mnist-firmware";
/// The model the firmware is built with by default (see firmware/README.md).
pub const DEFAULT_MODEL: &str = "firmware/models/mcu-int8.nnm";
/// The board's UART speed.
pub const BAUD: u32 = 115_200;

/// Arguments of `host-trainer device-eval`.
#[derive(clap::Args, Debug, Clone)]
pub struct DeviceEvalArgs {
    /// Serial device of a real board (e.g. /dev/ttyACM0), at 115200 baud.
    #[arg(long, conflicts_with_all = ["qemu", "pico"], required_unless_present_any = ["qemu", "pico"])]
    pub port: Option<String>,
    /// Start the firmware in QEMU, from this ELF or by default from the release build in
    /// firmware/ (build it first: `cd firmware && cargo build --release`).
    #[arg(long, num_args = 0..=1, default_missing_value = DEFAULT_ELF, conflicts_with = "pico")]
    pub qemu: Option<PathBuf>,
    /// Start the Raspberry Pi Pico firmware in rp2040js (Node), from this ELF or by default
    /// from `cargo build-pico` in firmware/.
    #[arg(long, num_args = 0..=1, default_missing_value = rp2040js::DEFAULT_ELF)]
    pub pico: Option<PathBuf>,
    /// The host's copy of the model the firmware runs.
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: PathBuf,
    /// Directory holding the MNIST IDX files (default: the trainer's data directory).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Evaluate only the first N test images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Requests sent ahead of the replies. The board's polled UART drops bytes that
    /// arrive while it computes, so the default is 1 on a serial port and 8 in QEMU and
    /// rp2040js.
    #[arg(long)]
    pub in_flight: Option<usize>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub metrics: Option<PathBuf>,
}

/// What one evaluation measured (the JSON written by `--metrics`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceEvalReport {
    /// Images classified by the device.
    pub images: usize,
    /// Fraction of them whose class equals the label.
    pub accuracy: f64,
    /// Images whose device class equals the host's.
    pub agree_with_host: usize,
    /// Largest |device − host| over every probability of every image.
    pub max_prob_diff: f32,
    /// Images per second, round trip included.
    pub images_per_second: f64,
    /// Where the device was: "qemu", "rp2040js" or the serial port.
    pub device: String,
}

/// Runs the evaluation described by `args`.
pub fn run(args: &DeviceEvalArgs) -> anyhow::Result<()> {
    if args.limit == Some(0) {
        bail!("--limit must be at least 1");
    }
    let model = HostModel::load(&args.model)?;
    if let Some(path) = &args.metrics {
        crate::atomic::check_writable(path, "--metrics")?;
    }
    let dir = args.data.clone().unwrap_or_else(data::default_dir);
    let test = data::load_test(&dir, Fetch::Allowed)?;
    let count = args.limit.unwrap_or(test.len()).min(test.len());
    let images: Vec<&[u8; IMAGE_PIXELS]> = (0..count).map(|i| test.image(i)).collect();
    let labels: Vec<u8> = (0..count).map(|i| test.label(i)).collect();

    let (report, _qemu) = match (&args.port, &args.qemu, &args.pico) {
        (Some(port), ..) => {
            let serial = serialport::new(port, BAUD)
                .timeout(READ_POLL)
                .open()
                .with_context(|| format!("opening the serial port {port:?}"))?;
            let mut link = Link::new(serial);
            let report = evaluate(
                &mut link,
                &model,
                &images,
                &labels,
                args.in_flight.unwrap_or(1),
            )?;
            (
                DeviceEvalReport {
                    device: port.clone(),
                    ..report
                },
                None,
            )
        }
        (None, Some(elf), _) => {
            let (qemu, stream) = Qemu::start(elf)?;
            let mut link = Link::new(stream);
            let report = evaluate(
                &mut link,
                &model,
                &images,
                &labels,
                args.in_flight.unwrap_or(8),
            )?;
            (report, Some(qemu))
        }
        (None, None, Some(elf)) => {
            let (mut pico, pipe) = Rp2040js::start(elf)?;
            let report = evaluate(
                &mut Link::new(pipe),
                &model,
                &images,
                &labels,
                args.in_flight.unwrap_or(8),
            )
            .map_err(|e| anyhow::anyhow!("{e:#}\n{}", pico.describe()))?;
            (
                DeviceEvalReport {
                    device: "rp2040js".into(),
                    ..report
                },
                None,
            )
        }
        (None, None, None) => bail!("give --port <serial device>, --qemu [ELF] or --pico [ELF]"),
    };

    crate::io::print_line(&format!(
        "device-eval: {} images on {}: accuracy {:.4}, {} agree with the host, max |Δp| {:.2e}, {:.0} images/s",
        report.images,
        report.device,
        report.accuracy,
        report.agree_with_host,
        report.max_prob_diff,
        report.images_per_second
    ))?;
    if let Some(path) = &args.metrics {
        let mut json = serde_json::to_vec_pretty(&report)?;
        json.push(b'\n');
        crate::atomic::write(path, &json)
            .with_context(|| format!("--metrics {}", crate::io::show(path)))?;
    }
    Ok(())
}

/// Classifies `images` on the device behind `link`, keeping up to `in_flight` requests
/// outstanding, and compares every answer with `model`'s.
///
/// # Errors
/// A reply that does not come in time, one that does not decode, an error reply, or a reply whose
/// id is not the next one expected.
pub fn evaluate<T: Read + Write>(
    link: &mut Link<T>,
    model: &HostModel,
    images: &[&[u8; IMAGE_PIXELS]],
    labels: &[u8],
    in_flight: usize,
) -> anyhow::Result<DeviceEvalReport> {
    ensure!(
        images.len() == labels.len(),
        "{} images but {} labels",
        images.len(),
        labels.len()
    );
    let in_flight = in_flight.max(1);
    let host_model = model.classifier();
    let start = Instant::now();
    let (mut sent, mut correct, mut agree, mut max_diff) = (0usize, 0usize, 0usize, 0.0f32);
    for (i, (image, &label)) in images.iter().zip(labels).enumerate() {
        while sent < images.len() && sent < i + in_flight {
            link.send_request(&Request {
                id: request_id(sent),
                pixels: *images[sent],
            })?;
            sent += 1;
        }
        let response = link.read_response()?;
        let (class, probabilities) = match response.body {
            ResponseBody::Prediction {
                class,
                probabilities,
            } => (class, probabilities),
            ResponseBody::Error(e) => bail!("the device rejected request {i}: {e}"),
        };
        ensure!(
            response.id == request_id(i),
            "reply out of order: expected id {}, got {}",
            request_id(i),
            response.id
        );
        let host = host_model
            .predict_pixels(image)
            .context("the host's inference")?;
        correct += usize::from(usize::from(class) == usize::from(label));
        agree += usize::from(usize::from(class) == host.0);
        for (d, h) in probabilities.iter().zip(&host.1) {
            let diff = (d - h).abs();
            // A NaN must count as the largest difference, not vanish in max().
            max_diff = max_diff.max(if diff.is_nan() { f32::MAX } else { diff });
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(DeviceEvalReport {
        images: images.len(),
        accuracy: if images.is_empty() {
            0.0
        } else {
            correct as f64 / images.len() as f64
        },
        agree_with_host: agree,
        max_prob_diff: max_diff,
        images_per_second: images.len() as f64 / seconds.max(1e-9),
        device: "qemu".into(),
    })
}

/// Request ids start at 1: the firmware answers an unreadable frame with id 0.
fn request_id(index: usize) -> u32 {
    (index as u32).wrapping_add(1)
}
