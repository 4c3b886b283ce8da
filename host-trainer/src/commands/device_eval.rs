//! `host-trainer device-eval`: the test set (or the rows of a `.npy` array, `--npy`) through
//! the firmware on a board, in QEMU or in rp2040js, each answer checked against the host's;
//! the comparison itself is [`crate::devices::eval`].

use std::path::PathBuf;

use anyhow::{Context, bail};
use nn_core::IMAGE_PIXELS;

use crate::devices::eval::{
    BAUD, DEFAULT_ELF, DEFAULT_MODEL, DeviceEvalReport, F32_BOUND, FileModel, TensorEvalReport,
    evaluate, evaluate_tensors, project_file,
};
use crate::devices::link::{Link, READ_POLL};
use crate::devices::qemu::Qemu;
use crate::devices::rp2040js::{self, Rp2040js};
use crate::model::HostModel;
use nn_data::{self as data, Fetch};

/// Arguments of `host-trainer device-eval`.
#[derive(clap::Args, Debug, Clone)]
pub struct DeviceEvalArgs {
    /// Serial device of a real board (e.g. /dev/ttyACM0), at 115200 baud.
    #[arg(long, conflicts_with_all = ["qemu", "pico"], required_unless_present_any = ["qemu", "pico"])]
    pub port: Option<String>,
    /// Start the firmware in QEMU, from this ELF or by default from the release build in
    /// firmware/ (build it first: `cd firmware && cargo build --release`), found from any
    /// directory inside the project.
    #[arg(long, num_args = 0..=1, default_missing_value = DEFAULT_ELF, conflicts_with = "pico")]
    pub qemu: Option<PathBuf>,
    /// Start the Raspberry Pi Pico firmware in rp2040js (Node), from this ELF or by default
    /// from `cargo build-pico` in firmware/ (found from any directory inside the project).
    #[arg(long, num_args = 0..=1, default_missing_value = rp2040js::DEFAULT_ELF)]
    pub pico: Option<PathBuf>,
    /// The host's copy of the model the firmware runs (the default is found from any
    /// directory inside the project).
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: PathBuf,
    /// Directory holding the MNIST IDX files (default: the trainer's data directory).
    #[arg(long, conflicts_with = "npy")]
    pub data: Option<PathBuf>,
    /// Send the rows of this N × inputs array instead of MNIST digits, as raw tensors
    /// (uint8 pixels, int8 already quantised, or float32), and check each output tensor
    /// against the host's: int8 outputs identical, f32 within the bound in
    /// `devices::eval::F32_BOUND`. Any model the firmware was built with.
    #[arg(long, value_name = "IN.npy")]
    pub npy: Option<PathBuf>,
    /// Evaluate only the first N test images (or rows).
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

/// Runs the evaluation described by `args`.
pub fn run(args: &DeviceEvalArgs) -> anyhow::Result<()> {
    if args.limit == Some(0) {
        bail!("--limit must be at least 1");
    }
    let model_path = project_file(&args.model, DEFAULT_MODEL, "--model FILE")?;
    // Digits need the digit classifier; raw tensors any model the decoder accepts.
    let model = match &args.npy {
        None => Loaded::Digits(HostModel::load(&model_path)?),
        Some(_) => Loaded::Tensors(FileModel::load(&model_path)?),
    };
    if let Some(path) = &args.metrics {
        crate::files::atomic::check_distinct(("--model", &model_path), ("--metrics", path))?;
        crate::files::atomic::check_writable(path, "--metrics")?;
    }
    // The device first: a wrong port fails at once, before the test set is read.
    let (device, in_flight) = open_device(args.port.as_deref(), &args.qemu, &args.pico)?;
    let in_flight = args.in_flight.unwrap_or(in_flight);
    let model = match (model, &args.npy) {
        (Loaded::Tensors(file), Some(npy)) => return run_npy(args, npy, &file, device, in_flight),
        (Loaded::Digits(model), _) => model,
        (Loaded::Tensors(_), None) => unreachable!("loaded for --npy"),
    };
    let dir = args.data.clone().unwrap_or_else(data::default_dir);
    // Image folders are matched to the model's outputs as `eval` matches them.
    let test = data::load_test_labelled(
        &dir,
        Fetch::Allowed,
        data::folder::Skip::Nothing,
        model.class_names(),
    )?
    .sets;
    let count = args.limit.unwrap_or(test.len()).min(test.len());
    let images: Vec<&[u8; IMAGE_PIXELS]> = (0..count).map(|i| test.image(i)).collect();
    let labels: Vec<u8> = (0..count).map(|i| test.label(i)).collect();

    let report = match device {
        Device::Port(serial, port) => DeviceEvalReport {
            device: port,
            ..evaluate(&mut Link::new(serial), &model, &images, &labels, in_flight)?
        },
        Device::Qemu(_qemu, stream) => {
            evaluate(&mut Link::new(stream), &model, &images, &labels, in_flight)?
        }
        Device::Pico(mut pico, pipe) => DeviceEvalReport {
            device: "rp2040js".into(),
            ..evaluate(&mut Link::new(pipe), &model, &images, &labels, in_flight)
                .map_err(|e| anyhow::anyhow!("{e:#}\n{}", pico.describe()))?
        },
    };

    crate::outputs::stdout::print_line(&format!(
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
        crate::files::atomic::write(path, &json)
            .with_context(|| format!("--metrics {}", nn_data::read::show(path)))?;
    }
    Ok(())
}

/// The host's copy of the model: a digit classifier, or (`--npy`) any model.
enum Loaded {
    Digits(HostModel),
    Tensors(FileModel),
}

/// `device-eval --npy`: the array's rows through the device, compared with the host.
fn run_npy(
    args: &DeviceEvalArgs,
    npy: &std::path::Path,
    model: &FileModel,
    device: Device,
    in_flight: usize,
) -> anyhow::Result<()> {
    let shown = nn_data::read::show(npy);
    let bytes = std::fs::read(npy).with_context(|| format!("--npy {shown}"))?;
    let array = nn_data::npy::parse(&bytes).with_context(|| format!("--npy {shown}"))?;
    let limit = args.limit;
    let report = match device {
        Device::Port(serial, port) => TensorEvalReport {
            device: port,
            ..evaluate_tensors(&mut Link::new(serial), model, &array, limit, in_flight)?
        },
        Device::Qemu(_qemu, stream) => {
            evaluate_tensors(&mut Link::new(stream), model, &array, limit, in_flight)?
        }
        Device::Pico(mut pico, pipe) => TensorEvalReport {
            device: "rp2040js".into(),
            ..evaluate_tensors(&mut Link::new(pipe), model, &array, limit, in_flight)
                .map_err(|e| anyhow::anyhow!("{e:#}\n{}", pico.describe()))?
        },
    };
    let agreement = if report.output_dtype == "int8" {
        "int8 outputs identical to the host's".to_owned()
    } else {
        format!(
            "{} identical to the host's, the rest within {F32_BOUND} x max(1, |host|)",
            report.identical_rows
        )
    };
    crate::outputs::stdout::print_line(&format!(
        "device-eval: {} rows of {shown} on {}: {} {} outputs each, {agreement}, max |Δ| {:.2e}, {:.0} rows/s",
        report.rows,
        report.device,
        report.outputs,
        report.output_dtype,
        report.max_abs_diff,
        report.rows_per_second
    ))?;
    if let Some(path) = &args.metrics {
        let mut json = serde_json::to_vec_pretty(&report)?;
        json.push(b'\n');
        crate::files::atomic::write(path, &json)
            .with_context(|| format!("--metrics {}", nn_data::read::show(path)))?;
    }
    Ok(())
}

/// Opens the device `--port`, `--qemu [ELF]` or `--pico [ELF]` names (QEMU and rp2040js
/// started from the ELF given or the default build), and the requests to keep in flight
/// there by default.
///
/// # Errors
/// None of them given, a port that does not open, an ELF that is not there, an emulator
/// that does not start.
pub(crate) fn open_device(
    port: Option<&str>,
    qemu: &Option<PathBuf>,
    pico: &Option<PathBuf>,
) -> anyhow::Result<(Device, usize)> {
    Ok(match (port, qemu, pico) {
        (Some(port), ..) => (Device::Port(open_port(port)?, port.to_owned()), 1),
        (None, Some(elf), _) => {
            let elf = project_file(
                elf,
                DEFAULT_ELF,
                "--qemu ELF, or build it: cd firmware && cargo build --release",
            )?;
            let (qemu, stream) = Qemu::start(&elf)?;
            (Device::Qemu(qemu, stream), 8)
        }
        (None, None, Some(elf)) => {
            let elf = project_file(
                elf,
                rp2040js::DEFAULT_ELF,
                "--pico ELF, or build it: cd firmware && cargo build-pico",
            )?;
            let (pico, pipe) = Rp2040js::start(&elf)?;
            (Device::Pico(pico, pipe), 8)
        }
        (None, None, None) => bail!("give --port <serial device>, --qemu [ELF] or --pico [ELF]"),
    })
}

/// Where the evaluation runs; QEMU is killed when this is dropped.
pub(crate) enum Device {
    Port(Box<dyn serialport::SerialPort>, String),
    Qemu(Qemu, std::net::TcpStream),
    Pico(Rp2040js, rp2040js::Pipe),
}

/// Opens a board's serial port and empties its input: bytes a previous run left there
/// (replies it never read) would otherwise come first.
fn open_port(port: &str) -> anyhow::Result<Box<dyn serialport::SerialPort>> {
    let serial = serialport::new(port, BAUD)
        .timeout(READ_POLL)
        .open()
        .with_context(|| format!("opening the serial port {port:?}"))?;
    serial
        .clear(serialport::ClearBuffer::Input)
        .with_context(|| format!("emptying the input of the serial port {port:?}"))?;
    Ok(serial)
}
