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
use nn_core::protocol::{Request, ResponseBody};

pub use super::link::{Link, MAX_REPLY_BYTES, MAX_SYNC_BYTES, READ_POLL, REPLY_TIMEOUT};
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
fn run_ids(count: usize) -> anyhow::Result<u32> {
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
    ensure!(
        images.len() == labels.len(),
        "{} images but {} labels",
        images.len(),
        labels.len()
    );
    let in_flight = in_flight.max(1);
    let host_model = model.classifier();
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
