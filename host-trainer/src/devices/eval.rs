//! `host-trainer device-eval`: streams the MNIST test set to the firmware over its serial
//! protocol (a real board on a serial port, or the firmware in QEMU with its UART on a
//! local TCP socket), and checks every answer against the host's own nn-core result.
//!
//! This module is the evaluation; the transport is beside it:
//! - [`link`](super::link): [`Link`] sends frames and reads replies, each with a deadline and a byte cap,
//!   and resynchronises a line that an interrupted run left dirty;
//! - [`qemu`](super::qemu): [`Qemu`] starts the firmware and connects to its UART, from the one QEMU
//!   command line;
//! - [`rp2040js`]: [`Rp2040js`] runs the Pico firmware in the RP2040 emulator, its UART on
//!   a pipe;
//! - the host's copy of the network is [`HostModel`], the loader every command uses.

use std::hash::{BuildHasher, RandomState};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use nn_core::IMAGE_PIXELS;
use nn_core::format::{ElementType, ModelFile};
use nn_core::network::Model;
use nn_core::protocol::{Request, ResponseBody, TensorElement, TensorRequest};
use nn_data::npy::{Array, Data};

pub use super::link::{
    Link, MAX_REPLY_BYTES, MAX_SYNC_BYTES, MAX_TENSOR_ELEMENTS, READ_POLL, REPLY_TIMEOUT, Reply,
};
pub use super::qemu::Qemu;
pub use super::rp2040js::{self, Rp2040js};
pub use crate::model::HostModel;

/// Where the firmware's build puts its ELF, relative to the repository root (found from any
/// directory: see [`project_file`]).
pub const DEFAULT_ELF: &str = "firmware/target/thumbv7em-none-eabihf/release/mnist-firmware";
/// The model the firmware is built with by default (see firmware/README.md), relative to
/// the repository root like [`DEFAULT_ELF`].
pub const DEFAULT_MODEL: &str = "firmware/models/mcu-int8.nnm";
/// The board's UART speed.
pub const BAUD: u32 = 115_200;

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

/// `path` as given when it exists or is not the default; the default (`default`, relative
/// to the repository root) is looked for in the working directory, then in the directories
/// above it (so it is found from `firmware/` too), then in the checkout this binary was built
/// from. `flag` names the option to pass when none holds it.
///
/// # Errors
/// The default is in none of those places.
pub fn project_file(path: &Path, default: &str, flag: &str) -> anyhow::Result<PathBuf> {
    if path != Path::new(default) || path.exists() {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).parent();
    cwd.ancestors()
        .skip(1)
        .chain(built_from)
        .map(|root| root.join(default))
        .find(|candidate| candidate.exists())
        .with_context(|| {
            format!(
                "no {default} here or in the project above {} (pass {flag})",
                nn_data::read::show(&cwd)
            )
        })
}

/// The ids of one run: the sync request's, then `count` consecutive request ids. Error
/// replies carry id 0, so no id here is 0; and each run starts at a random id, so a reply
/// to an interrupted run's request can never pass for one of this run's.
///
/// # Errors
/// `count` does not leave room for a random start (over 2^31 images).
pub(crate) fn run_ids(count: usize) -> anyhow::Result<u32> {
    let count = u32::try_from(count)
        .ok()
        .filter(|&c| c < 1 << 31)
        .context("too many images for one run")?;
    // The last id, sync + count, stays at most u32::MAX - 1.
    let span = u32::MAX - 1 - count;
    let random = RandomState::new().hash_one(std::process::id());
    // `span` < 2^32, so the remainder fits in a u32.
    Ok(1 + u32::try_from(random % u64::from(span)).unwrap_or(0))
}

/// Classifies `images` on the device behind `link`, keeping up to `in_flight` requests
/// outstanding, and compares every answer with `model`'s. It first resynchronises the line
/// ([`Link::sync`]), so a run that follows an interrupted one starts clean.
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
    let host_model = model.classifier();
    evaluate_with(
        link,
        |image| host_model.predict_pixels(image),
        images,
        labels,
        in_flight,
    )
}

/// [`evaluate`] against any host computation of the device's answer: `host` gives the class
/// and probabilities the device should answer for an image (`device-learn` passes the
/// learned head's).
///
/// # Errors
/// As [`evaluate`]; `host`'s error.
pub fn evaluate_with<T: Read + Write>(
    link: &mut Link<T>,
    host: impl Fn(&[u8; IMAGE_PIXELS]) -> Result<(usize, [f32; nn_core::CLASSES]), nn_core::Error>,
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
    let sync_id = run_ids(images.len())?;
    // Consecutive after the sync's id, never 0 (see run_ids).
    let request_id = |index: usize| sync_id.wrapping_add(1).wrapping_add(index as u32);
    link.sync(sync_id)?;
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
            ResponseBody::Error(e) => bail!(
                "the device could not read request {i} (noise on the line, or a baud rate \
                 other than {BAUD}?): {e}"
            ),
        };
        ensure!(
            response.id == request_id(i),
            "reply out of order: expected id {}, got {}",
            request_id(i),
            response.id
        );
        let host = host(image).context("the host's inference")?;
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

/// How far an f32 output of the device may be from the host's: `|d - h| <= F32_BOUND ·
/// max(1, |h|)`. Both run nn-core's code on the same f32 weights, but the kernels sum in
/// different orders (the Cortex-M4F's assembly, the host's SIMD lanes), each rounding once
/// per addition: for a layer of n inputs the difference is at most about n · 2^-24 of the
/// sum of |products|, far below this for the widths a board holds. int8 outputs are
/// integer arithmetic on both sides and must be identical.
pub const F32_BOUND: f32 = 1e-4;

/// What one `device-eval --npy` run measured (the JSON written by `--metrics`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TensorEvalReport {
    /// Rows sent.
    pub rows: usize,
    /// Outputs per row.
    pub outputs: usize,
    /// The output tensor's type: "int8" or "float32".
    pub output_dtype: &'static str,
    /// Rows whose output equals the host's element for element (every row, or the run fails
    /// for int8; f32 rows within [`F32_BOUND`] pass too).
    pub identical_rows: usize,
    /// Largest |device − host| over every output of every row.
    pub max_abs_diff: f32,
    /// Rows per second, round trip included.
    pub rows_per_second: f64,
    /// Where the device was: "qemu", "rp2040js" or the serial port.
    pub device: String,
}

/// One row of an input array as it travels: the element type and the bytes.
fn wire_rows(array: &Array) -> anyhow::Result<(TensorElement, usize, Vec<u8>)> {
    let Some((_, cols)) = array.as_matrix() else {
        bail!(
            "the input array has shape {:?}; device-eval takes N x inputs (or one row)",
            array.shape
        );
    };
    let (element, bytes) = match &array.data {
        Data::U8(v) => (TensorElement::U8, v.clone()),
        Data::I8(v) => (TensorElement::I8, v.iter().map(|&q| q as u8).collect()),
        Data::F32(v) => (
            TensorElement::F32,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
    };
    Ok((element, cols, bytes))
}

/// A model file's bytes at a 16-byte aligned address, for `ModelFile::model` to borrow
/// its arrays in place: any model the decoder accepts, of any depth and size.
// `HostModel` holds 784-H-10 digit classifiers; this holds what a board may run.
pub struct FileModel {
    file: crate::model::AlignedBytes,
}

impl FileModel {
    /// Reads and validates the model file at `path`.
    ///
    /// # Errors
    /// The file cannot be read, or the decoder rejects it (naming the file).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let bytes = crate::model::read_bytes(path)?;
        let file = Self {
            file: crate::model::AlignedBytes::new(&bytes),
        };
        file.model()
            .and_then(|m| m.check().map(|()| m))
            .with_context(|| format!("{} cannot run", nn_data::read::show(path)))?;
        Ok(file)
    }

    /// The network, borrowing the file's arrays.
    ///
    /// # Errors
    /// The decoder's error (none for a file [`FileModel::load`] accepted).
    pub fn model(&self) -> Result<Model<'_>, nn_core::Error> {
        ModelFile::parse(self.file.bytes())?.model()
    }
}

/// The host's output for one row, as the firmware computes it (`firmware/src/weights.rs`,
/// `infer`): pixels or int8 into an int8 model give its int8 output tensor; pixels or f32
/// into an f32 model, or f32 into an int8 one, give f32 (`Model::predict`).
///
/// # Errors
/// An input the model does not take (int8 into an f32 model, a non-finite f32).
fn host_output(
    model: &Model<'_>,
    element: TensorElement,
    row: &[u8],
) -> anyhow::Result<(TensorElement, Vec<u8>)> {
    let mut scratch = vec![0.0f32; model.scratch_len()];
    match (element, model.element()) {
        (TensorElement::U8 | TensorElement::I8, ElementType::I8) => {
            let mut q = vec![0i8; model.outputs()];
            if element == TensorElement::U8 {
                model.predict_pixels_i8(row, &mut scratch, &mut q)?;
            } else {
                let x: Vec<i8> = row.iter().map(|&b| b as i8).collect();
                model.predict_i8(&x, &mut scratch, &mut q)?;
            }
            Ok((TensorElement::I8, q.iter().map(|&q| q as u8).collect()))
        }
        (TensorElement::U8 | TensorElement::F32, _) => {
            let mut y = vec![0.0f32; model.outputs()];
            if element == TensorElement::U8 {
                model.predict_pixels(row, &mut scratch, &mut y)?;
            } else {
                let x: Vec<f32> = row
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                model.predict(&x, &mut scratch, &mut y)?;
            }
            Ok((
                TensorElement::F32,
                y.iter().flat_map(|y| y.to_le_bytes()).collect(),
            ))
        }
        (TensorElement::I8, ElementType::F32) => {
            bail!("int8 inputs for an f32 model: give uint8 pixels or float32")
        }
    }
}

/// Sends every row of `array` (N × the model's inputs: uint8 pixels, int8 or float32) to
/// the device behind `link` as raw tensors, up to `in_flight` outstanding, and compares each
/// output tensor with the host's: int8 outputs identical, f32 within [`F32_BOUND`].
///
/// # Errors
/// An array the model does not take, a reply that does not come in time or does not
/// decode, an error reply, a reply out of order, or an output that differs (the first, with
/// its row and index).
pub fn evaluate_tensors<T: Read + Write>(
    link: &mut Link<T>,
    model: &FileModel,
    array: &Array,
    limit: Option<usize>,
    in_flight: usize,
) -> anyhow::Result<TensorEvalReport> {
    let (element, cols, bytes) = wire_rows(array)?;
    let row_bytes = cols * element.size();
    let rows = (bytes.len() / row_bytes.max(1)).min(limit.unwrap_or(usize::MAX));
    ensure!(
        cols <= MAX_TENSOR_ELEMENTS,
        "rows of {cols} elements; the host sends at most {MAX_TENSOR_ELEMENTS}"
    );
    let model = model.model()?;
    ensure!(
        cols == model.inputs(),
        "rows of {cols} elements; the model takes {}",
        model.inputs()
    );
    let row = |i: usize| &bytes[i * row_bytes..(i + 1) * row_bytes];
    // The host's answers first: an input the model does not take fails before the device.
    let expected: Vec<(TensorElement, Vec<u8>)> = (0..rows)
        .map(|i| host_output(&model, element, row(i)).with_context(|| format!("row {i}")))
        .collect::<anyhow::Result<_>>()?;
    let out_bytes = expected.first().map_or(0, |(_, d)| d.len());
    link.expect_tensors(out_bytes);
    let in_flight = in_flight.max(1);
    let sync_id = run_ids(rows)?;
    let request_id = |index: usize| sync_id.wrapping_add(1).wrapping_add(index as u32);
    link.sync(sync_id)?;
    let start = Instant::now();
    let (mut sent, mut identical, mut max_diff) = (0usize, 0usize, 0.0f32);
    for (i, (host_element, host)) in expected.iter().enumerate() {
        while sent < rows && sent < i + in_flight {
            link.send_tensor(&TensorRequest {
                id: request_id(sent),
                element,
                data: row(sent),
            })?;
            sent += 1;
        }
        let (id, device_element, device) = match link.read_reply()? {
            Reply::Tensor { id, element, data } => (id, element, data),
            Reply::Learn { .. } => bail!("the device answered row {i} with a learning reply"),
            Reply::Digit(r) => match r.body {
                ResponseBody::Error(e) => bail!("the device could not take row {i}: {e}"),
                ResponseBody::Prediction { .. } => {
                    bail!("the device answered row {i} with a digit prediction, not a tensor")
                }
            },
        };
        ensure!(
            id == request_id(i),
            "reply out of order: expected id {}, got {id}",
            request_id(i)
        );
        ensure!(
            device_element == *host_element && device.len() == host.len(),
            "row {i}: the device sent {} bytes of {device_element:?}, the host computes {} of {host_element:?}: is the device built with this model?",
            device.len(),
            host.len()
        );
        identical += usize::from(device == *host);
        match host_element {
            TensorElement::F32 => {
                let f = |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                for (k, (d, h)) in device.chunks_exact(4).zip(host.chunks_exact(4)).enumerate() {
                    let (d, h) = (f(d), f(h));
                    let diff = (d - h).abs();
                    let diff = if diff.is_nan() { f32::MAX } else { diff };
                    max_diff = max_diff.max(diff);
                    ensure!(
                        diff <= F32_BOUND * h.abs().max(1.0),
                        "row {i} output {k}: the device computes {d}, the host {h}, beyond the bound {F32_BOUND} x max(1, |host|)"
                    );
                }
            }
            _ => {
                for (k, (&d, &h)) in device.iter().zip(host).enumerate() {
                    max_diff = max_diff.max(f32::from((d as i8).abs_diff(h as i8)));
                    ensure!(
                        d == h,
                        "row {i} output {k}: the device computes {}, the host {} (int8 outputs must be identical)",
                        d as i8,
                        h as i8
                    );
                }
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(TensorEvalReport {
        rows,
        outputs: match expected.first() {
            Some((e, d)) => d.len() / e.size(),
            None => 0,
        },
        output_dtype: match expected.first() {
            Some((TensorElement::F32, _)) => "float32",
            _ => "int8",
        },
        identical_rows: identical,
        max_abs_diff: max_diff,
        rows_per_second: rows as f64 / seconds.max(1e-9),
        device: "qemu".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_never_zero_and_differ_between_runs() {
        for count in [0, 1, 10_000, (1 << 31) - 1] {
            let first = run_ids(count).unwrap();
            assert!(first >= 1);
            assert!(u64::from(first) + (count as u64) < u64::from(u32::MAX));
        }
        assert!(run_ids(1 << 31).is_err());
        let ids: std::collections::HashSet<u32> =
            (0..8).map(|_| run_ids(10_000).unwrap()).collect();
        assert!(ids.len() > 1, "{ids:?}");
    }

    #[test]
    fn the_default_model_is_found_from_a_directory_inside_the_project() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let found = project_file(Path::new(DEFAULT_MODEL), DEFAULT_MODEL, "--model FILE").unwrap();
        assert_eq!(
            found.canonicalize().unwrap(),
            root.join(DEFAULT_MODEL).canonicalize().unwrap()
        );
        // A path the user chose is taken as it is, even when missing.
        let chosen = Path::new("no/such/model.nnm");
        assert_eq!(
            project_file(chosen, DEFAULT_MODEL, "--model FILE").unwrap(),
            chosen
        );
        // A default that exists nowhere says which flag to pass.
        let msg = project_file(Path::new("no/such.elf"), "no/such.elf", "--qemu ELF")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("pass --qemu ELF"), "{msg}");
    }
}
