//! `host-trainer inspect`: a model file's header, shapes, parameter count and checksum.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use nn_core::format::ModelFile;

use crate::outputs::stdout::print_line;
use nn_data::read::show;

/// Options of `inspect`.
#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    /// The model file.
    pub file: PathBuf,
}

/// `inspect`.
pub fn run(args: &InspectArgs) -> Result<()> {
    // Any valid model file, not only MNIST's shape: the bounded read and the decoder of
    // `HostModel::load`, without its shape check.
    let bytes = crate::model::read_bytes(&args.file)?;
    let file = ModelFile::parse(&bytes).map_err(|source| crate::model::ModelError::Format {
        path: show(&args.file),
        source,
    })?;
    let h = file.header();
    let [i, hid, o] = file.shape();
    let mut text = vec![
        format!("file:        {} ({} bytes)", show(&args.file), bytes.len()),
        format!(
            "format:      {} version {}",
            String::from_utf8_lossy(&h.magic),
            h.version
        ),
        format!("shape:       {i}-{hid}-{o}"),
        format!(
            "activations: hidden {:?}, output {:?}",
            h.hidden_activation, h.output_activation
        ),
        format!(
            "scaling:     x = pixel * {} + {}",
            h.scaling.scale, h.scaling.offset
        ),
        format!("element:     {:?}", h.element),
        format!(
            "parameters:  {} (W1 {hid}x{i}, b1 {hid}, W2 {o}x{hid}, b2 {o}), {} bytes of weights",
            file.parameter_count(),
            bytes.len() - file.weights_offset() - nn_core::format::CHECKSUM_LEN
        ),
    ];
    text.extend(crate::convert::quantize::inspect_lines(&file));
    text.push(format!(
        "checksum:    ok (CRC-32 {:#010x})",
        file.checksum()
    ));
    print_line(&text.join("\n"))?;
    Ok(())
}
