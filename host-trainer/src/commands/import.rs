//! `host-trainer import MODEL.tflite --out F.nnm`; the conversion itself is
//! [`crate::convert::import`].

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use nn_core::model::InputScaling;
use nn_data::read::show;

use crate::convert::import::{Weights, model_file, parse_number, read, scaling_for};

/// Options of `import`.
#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The TensorFlow Lite model (float32 or int8).
    pub model: PathBuf,
    /// The model file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// What each 0-255 pixel was multiplied by to make the model's float input: `1/255`,
    /// `0.00392`, `1`... Default: 1/255 for a float32 model; for an int8 model, its input
    /// quantisation (pixels are its int8 input, `q = pixel - 128`).
    #[arg(long, value_parser = parse_number)]
    pub input_scale: Option<f32>,
    /// What was then added (default 0, or as `--input-scale`'s default for int8).
    #[arg(long, value_parser = parse_number)]
    pub input_offset: Option<f32>,
}

/// `host-trainer import`.
pub fn run(args: &ImportArgs) -> Result<()> {
    crate::files::atomic::check_distinct(("MODEL", &args.model), ("--out", &args.out))?;
    let name = show(&args.model);
    let net = read(&args.model).with_context(|| name.clone())?;
    let scaling = match (args.input_scale, args.input_offset) {
        (None, None) => None,
        (scale, offset) => Some(InputScaling {
            scale: scale.unwrap_or(1.0 / 255.0),
            offset: offset.unwrap_or(0.0),
        }),
    };
    let bytes = model_file(&net, scaling).with_context(|| name.clone())?;
    crate::model::write_bytes(&args.out, &bytes).with_context(|| name.clone())?;
    let kind = match net.weights {
        Weights::F32(_) => "float32",
        Weights::I8(_) => "int8",
    };
    let sizes: Vec<String> = net.sizes().iter().map(usize::to_string).collect();
    let activations: Vec<String> = net
        .layers
        .iter()
        .map(|l| format!("{:?}", l.activation))
        .collect();
    let scaling = scaling_for(&net, scaling);
    crate::outputs::stdout::print_line(&format!(
        "{name}: {kind} {} ({}){}, x = pixel * {} + {}; written to {}",
        sizes.join("-"),
        activations.join(", "),
        if net.softmax { " + softmax" } else { "" },
        scaling.scale,
        scaling.offset,
        show(&args.out)
    ))?;
    Ok(())
}
