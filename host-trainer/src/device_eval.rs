//! `host-trainer device-eval`: streams the MNIST test set to the firmware over its serial
//! protocol (a real board on a serial port, or the firmware in QEMU with its UART on a
//! local TCP socket), and checks every answer against the host's own nn-core result.

use std::path::PathBuf;

/// Arguments of `host-trainer device-eval`.
#[derive(clap::Args, Debug, Clone)]
pub struct DeviceEvalArgs {
    /// Serial device of a real board (e.g. /dev/ttyACM0).
    #[arg(long, conflicts_with = "qemu")]
    pub port: Option<String>,
    /// Start the firmware in QEMU (optionally from this ELF; default: the release build in firmware/).
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    pub qemu: Option<PathBuf>,
    /// The host's copy of the model the firmware runs.
    #[arg(long, default_value = "firmware/models/mcu.nnm")]
    pub model: PathBuf,
    /// Directory holding the MNIST IDX files.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Evaluate only the first N test images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub metrics: Option<PathBuf>,
}

/// Runs the evaluation described by `args`.
pub fn run(args: &DeviceEvalArgs) -> anyhow::Result<()> {
    anyhow::bail!("device-eval is not implemented yet ({args:?})")
}
