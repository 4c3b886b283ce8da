//! `host-trainer import MODEL.tflite --out F.nnm`; the conversion itself is
//! [`crate::convert::import`].

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use nn_core::model::InputScaling;
use nn_data::read::show;

use crate::convert::import::{Weights, model_file, parse_number, read};

/// Options of `import`.
#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The TensorFlow Lite model (float32 or int8).
    pub model: PathBuf,
    /// The model file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// What each 0-255 pixel was multiplied by to make the model's float input: `1/255`,
    /// `0.00392`, `1`...
    #[arg(long, default_value = "1/255", value_parser = parse_number)]
    pub input_scale: f32,
    /// What was then added.
    #[arg(long, default_value = "0", value_parser = parse_number)]
    pub input_offset: f32,
}

/// `host-trainer import`.
pub fn run(args: &ImportArgs) -> Result<()> {
    crate::files::atomic::check_distinct(("MODEL", &args.model), ("--out", &args.out))?;
    let name = show(&args.model);
    let net = read(&args.model).with_context(|| name.clone())?;
    let scaling = InputScaling {
        scale: args.input_scale,
        offset: args.input_offset,
    };
    let bytes = model_file(&net, scaling).with_context(|| name.clone())?;
    crate::model::write_bytes(&args.out, &bytes).with_context(|| name.clone())?;
    let kind = match net.weights {
        Weights::F32 { .. } => "float32",
        Weights::I8(_) => "int8",
    };
    crate::outputs::stdout::print_line(&format!(
        "{name}: {kind} {}-{}-{} {:?}, x = pixel * {} + {}; written to {}",
        net.input,
        net.hidden,
        net.output,
        net.hidden_activation,
        scaling.scale,
        scaling.offset,
        show(&args.out)
    ))?;
    Ok(())
}
