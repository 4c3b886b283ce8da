//! `host-trainer device-eval`: streams the MNIST test set to the firmware over its serial
//! protocol (a real board on a serial port, or the firmware in QEMU with its UART on a
//! local TCP socket), and checks every answer against the host's own nn-core result.
//!
//! The pieces are public for the end-to-end tests: [`Qemu`] starts the firmware and
//! connects to its UART, [`Link`] sends frames and reads replies with a timeout on every
//! read, [`HostModel`] is the host's copy of the network.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use nn_core::format::{ElementType, Header, ModelFile};
use nn_core::protocol::{self, FrameReader, MAX_FRAME, Request, Response, ResponseBody};
use nn_core::{CLASSES, IMAGE_PIXELS, TensorQuant};

use crate::data::{self, Fetch};
use crate::quantize::AlignedBytes;

/// Where the firmware's build puts its ELF, relative to the repository root.
pub const DEFAULT_ELF: &str = "firmware/target/thumbv7em-none-eabihf/release/mnist-firmware";
/// The model the firmware is built with by default (see firmware/README.md).
pub const DEFAULT_MODEL: &str = "firmware/models/mcu-int8.nnm";
/// How long any one read may wait before the board counts as silent. QEMU needs a few
/// hundred milliseconds to boot and run the self-test before it reads its UART.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The board's UART speed.
pub const BAUD: u32 = 115_200;

/// Arguments of `host-trainer device-eval`.
#[derive(clap::Args, Debug, Clone)]
pub struct DeviceEvalArgs {
    /// Serial device of a real board (e.g. /dev/ttyACM0), at 115200 baud.
    #[arg(long, conflicts_with = "qemu", required_unless_present = "qemu")]
    pub port: Option<String>,
    /// Start the firmware in QEMU, from this ELF or by default from the release build in
    /// firmware/ (build it first: `cd firmware && cargo build --release`).
    #[arg(long, num_args = 0..=1, default_missing_value = DEFAULT_ELF)]
    pub qemu: Option<PathBuf>,
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
    /// arrive while it computes, so the default is 1 on a serial port and 8 in QEMU.
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
    /// Where the device was: "qemu" or the serial port.
    pub device: String,
}

/// Runs the evaluation described by `args`.
pub fn run(args: &DeviceEvalArgs) -> anyhow::Result<()> {
    let model = HostModel::load(&args.model)?;
    let dir = args.data.clone().unwrap_or_else(data::default_dir);
    let test = data::load_test(&dir, Fetch::Allowed)
        .with_context(|| format!("loading the MNIST test set from {}", dir.display()))?;
    let count = args.limit.unwrap_or(test.len()).min(test.len());
    let images: Vec<&[u8; IMAGE_PIXELS]> = (0..count).map(|i| test.image(i)).collect();
    let labels: Vec<u8> = (0..count).map(|i| test.label(i)).collect();

    let (report, _qemu) = match (&args.port, &args.qemu) {
        (Some(port), _) => {
            let serial = serialport::new(port, BAUD)
                .timeout(READ_TIMEOUT)
                .open()
                .with_context(|| format!("opening the serial port {port}"))?;
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
        (None, Some(elf)) => {
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
        (None, None) => bail!("give --port <serial device> or --qemu [ELF]"),
    };

    println!(
        "device-eval: {} images on {}: accuracy {:.4}, {} agree with the host, max |Δp| {:.2e}, {:.0} images/s",
        report.images,
        report.device,
        report.accuracy,
        report.agree_with_host,
        report.max_prob_diff,
        report.images_per_second
    );
    if let Some(path) = &args.metrics {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Classifies `images` on the device behind `link`, keeping up to `in_flight` requests
/// outstanding, and compares every answer with `model`'s.
///
/// # Errors
/// A read that times out, a reply that does not decode, an error reply, or a reply whose
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
        let host = model.predict_pixels(image)?;
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

/// The host's copy of the network, run with the host's nn-core kernels.
pub struct HostModel {
    /// `W1, b1, W2, b2`, in file order (empty for an int8 model).
    parameters: Vec<f32>,
    header: Header,
    /// An int8 model's file, 16-byte aligned so its arrays are borrowed in place.
    int8: Option<AlignedBytes>,
}

impl HostModel {
    /// Reads and validates a model file of shape 784 → H → 10.
    ///
    /// # Errors
    /// The file cannot be read, is not a valid model file, or is not an MNIST classifier.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the model file {}", path.display()))?;
        let file = ModelFile::parse(&bytes)
            .map_err(|e| anyhow::anyhow!("{} is not a valid model file: {e}", path.display()))?;
        let [input, _, output] = file.shape();
        ensure!(
            input == IMAGE_PIXELS && output == CLASSES,
            "{} maps {input} inputs to {output} outputs; the firmware needs {IMAGE_PIXELS} → {CLASSES}",
            path.display()
        );
        if file.element() == ElementType::I8 {
            return Ok(Self {
                parameters: Vec::new(),
                header: *file.header(),
                int8: Some(AlignedBytes::new(&bytes)),
            });
        }
        let mut parameters = vec![0.0; file.parameter_count()];
        file.copy_parameters(&mut parameters)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(Self {
            parameters,
            header: *file.header(),
            int8: None,
        })
    }

    /// The class and the probabilities for 0–255 pixels, scaled as the model file says
    /// (the same arithmetic as the firmware's `predict_pixels`; int8: `MlpI8`, bit for bit).
    ///
    /// # Errors
    /// Only if the model is inconsistent, which [`HostModel::load`] rules out.
    pub fn predict_pixels(
        &self,
        pixels: &[u8; IMAGE_PIXELS],
    ) -> anyhow::Result<(usize, [f32; CLASSES])> {
        if let Some(bytes) = &self.int8 {
            return predict_i8(bytes, pixels);
        }
        let slices = self
            .header
            .slices_in(&self.parameters)
            .map_err(|e| anyhow::anyhow!("host model: {e}"))?;
        let x: Vec<f32> = pixels
            .iter()
            .map(|&p| f32::from(p) * slices.scaling.scale + slices.scaling.offset)
            .collect();
        let mut hidden = vec![0.0; slices.hidden];
        let mut probabilities = [0.0; CLASSES];
        let class = slices
            .predict_into(&x, &mut hidden, &mut probabilities)
            .map_err(|e| anyhow::anyhow!("host inference: {e}"))?;
        Ok((class, probabilities))
    }
}

/// An int8 model's class and probabilities: nn-core's `MlpI8`, the function the firmware
/// runs, and the exact probabilities `(q + 128) / 256` it sends. Parsing the file again on
/// every call (~0.1 ms) keeps `HostModel` free of self-borrows; the device takes ~20 ms.
fn predict_i8(
    bytes: &AlignedBytes,
    pixels: &[u8; IMAGE_PIXELS],
) -> anyhow::Result<(usize, [f32; CLASSES])> {
    let model = ModelFile::parse(bytes.bytes())
        .and_then(|f| f.slices_i8())
        .map_err(|e| anyhow::anyhow!("host model: {e}"))?;
    let mut scratch = vec![0i8; model.input + model.hidden + model.output];
    let mut q = [0i8; CLASSES];
    let class = model
        .predict_pixels_into(pixels, &mut scratch, &mut q)
        .map_err(|e| anyhow::anyhow!("host inference: {e}"))?;
    Ok((class, q.map(|q| TensorQuant::PROBABILITY.dequantize(q))))
}

/// A byte stream to the firmware (a serial port or QEMU's TCP socket), framed by
/// `nn_core::protocol`. Every read is bounded by the stream's own timeout.
pub struct Link<T> {
    stream: T,
    frames: FrameReader<MAX_FRAME>,
    /// Bytes read but not yet framed: `pending[consumed..]`.
    pending: Vec<u8>,
    consumed: usize,
}

impl<T: Read + Write> Link<T> {
    /// Wraps a stream whose reads already time out (see [`READ_TIMEOUT`]).
    pub fn new(stream: T) -> Self {
        Self {
            stream,
            frames: FrameReader::new(),
            pending: Vec::new(),
            consumed: 0,
        }
    }

    /// Sends one request frame.
    ///
    /// # Errors
    /// The stream cannot be written.
    pub fn send_request(&mut self, request: &Request) -> anyhow::Result<()> {
        let mut buf = [0u8; MAX_FRAME];
        let frame = protocol::encode_request(request, &mut buf)
            .map_err(|e| anyhow::anyhow!("encoding a request: {e}"))?;
        self.send_raw(frame)
    }

    /// Sends bytes as they are (for tests that send broken frames).
    ///
    /// # Errors
    /// The stream cannot be written.
    pub fn send_raw(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.stream
            .write_all(bytes)
            .context("writing to the device")?;
        self.stream.flush().context("writing to the device")
    }

    /// Reads the next reply frame and decodes it.
    ///
    /// # Errors
    /// The device is silent for [`READ_TIMEOUT`], closes the stream, or sends a frame that
    /// does not decode as a [`Response`].
    pub fn read_response(&mut self) -> anyhow::Result<Response> {
        loop {
            while let Some(&byte) = self.pending.get(self.consumed) {
                self.consumed += 1;
                if let Some(frame) = self.frames.push(byte) {
                    let frame =
                        frame.map_err(|e| anyhow::anyhow!("corrupt reply from the device: {e}"))?;
                    return protocol::decode_response(frame)
                        .map_err(|e| anyhow::anyhow!("corrupt reply from the device: {e}"));
                }
            }
            let mut buf = [0u8; 256];
            let n = match self.stream.read(&mut buf) {
                Ok(0) => bail!("the device closed the connection"),
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                    ) =>
                {
                    bail!("no reply from the device within {READ_TIMEOUT:?}")
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("reading from the device"),
            };
            self.pending.clear();
            self.consumed = 0;
            self.pending.extend_from_slice(&buf[..n]);
        }
    }
}

/// The firmware running in QEMU with its UART on a local TCP socket; QEMU is killed when
/// this is dropped.
pub struct Qemu {
    child: Child,
}

impl Qemu {
    /// Starts `elf` on mps2-an386 in serve mode, its UART connected to a socket on
    /// 127.0.0.1 that only this process listens on, and returns the connected stream
    /// (reads time out after [`READ_TIMEOUT`]).
    ///
    /// # Errors
    /// The ELF is missing, QEMU cannot start or exits early, or it does not connect in time.
    pub fn start(elf: &Path) -> anyhow::Result<(Self, TcpStream)> {
        ensure!(
            elf.is_file(),
            "no firmware at {} (build it: cd firmware && cargo build --release)",
            elf.display()
        );
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("opening a local socket for QEMU")?;
        let port = listener.local_addr()?.port();
        let child = Command::new("qemu-system-arm")
            .args(["-machine", "mps2-an386", "-cpu", "cortex-m4"])
            .args(["-display", "none", "-monitor", "none"])
            .args(["-serial", &format!("tcp:127.0.0.1:{port}")])
            .args([
                "-semihosting-config",
                "enable=on,target=native,arg=mnist-firmware,arg=serve",
            ])
            .arg("-kernel")
            .arg(elf)
            // The defmt log (binary, over semihosting); firmware/README.md shows how to read it.
            .stdout(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .context("starting qemu-system-arm (install it: apt-get install qemu-system-arm)")?;
        let mut qemu = Self { child };
        listener.set_nonblocking(true)?;
        let deadline = Instant::now() + READ_TIMEOUT;
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Some(status) = qemu.child.try_wait()? {
                        bail!("QEMU exited before connecting its UART ({status})");
                    }
                    ensure!(
                        Instant::now() < deadline,
                        "QEMU did not connect its UART within {READ_TIMEOUT:?}"
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e).context("waiting for QEMU to connect"),
            }
        };
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok((qemu, stream))
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        // QEMU serves forever; ending it is the only way to stop, and an error here means
        // it has already gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
