//! `host-trainer quantize`: an f32 model file into int8 on calibration images, written beside
//! both models' test accuracy; the quantisation itself is [`crate::convert::quantize`].

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use nn_core::format::{ElementType, ModelFile};
use nn_core::network::Model;

use crate::convert::quantize::{DEFAULT_CALIBRATION, quantize_network};
use crate::evaluate::evaluate;
use crate::model::HostModel;
use nn_data::read::show;
use nn_data::{self as data, Fetch, PIXELS};

/// Options of `quantize`.
#[derive(Args, Debug, Clone)]
pub struct QuantizeArgs {
    /// The f32 model file.
    #[arg(long)]
    pub model: PathBuf,
    /// The int8 model file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Training images to measure the activation ranges on.
    #[arg(long, default_value_t = DEFAULT_CALIBRATION)]
    pub calibration: usize,
    /// Directory with the MNIST IDX files (fetched there when missing).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// `quantize`: reads the f32 model, quantises it on the calibration images, writes the int8
/// file and prints both models' test accuracy side by side.
pub fn run(args: &QuantizeArgs) -> Result<()> {
    crate::files::atomic::check_distinct(("--model", &args.model), ("--out", &args.out))?;
    let name = show(&args.model);
    let bytes = crate::model::read_bytes(&args.model)?;
    let file = ModelFile::parse(&bytes).with_context(|| format!("model {name}"))?;
    if file.element() != ElementType::F32 {
        bail!(
            "model {name}: already {:?}; quantize takes an f32 model",
            file.element()
        );
    }
    let model = file.model().with_context(|| format!("model {name}"))?;
    let Model::F32(f32_model) = model else {
        bail!("model {name}: already int8; quantize takes an f32 model");
    };
    if model.inputs() != PIXELS || model.outputs() != data::CLASSES {
        bail!(
            "model {name}: {} inputs and {} outputs do not take 28x28 images into 10 classes",
            model.inputs(),
            model.outputs()
        );
    }
    if args.calibration == 0 {
        bail!("--calibration must be at least 1");
    }
    let names: Vec<String> = file.class_names().into_iter().map(str::to_owned).collect();

    let dir = args.data.clone().unwrap_or_else(data::default_dir);
    let mnist = data::load(&dir, Fetch::Allowed)?;
    let n = args.calibration.min(mnist.train.len());
    // The test set again, its folders matched to the model's outputs as `eval` matches
    // them (the training set's labels are not used: calibration reads only its images).
    let test =
        &data::load_test_labelled(&dir, Fetch::Allowed, data::folder::Skip::Nothing, &names)?.sets;
    let q = quantize_network(&f32_model, names, &mnist.train.images[..n * PIXELS])
        .with_context(|| format!("quantizing {name}"))?;
    let out_bytes = q
        .encode()
        .with_context(|| format!("model {}", show(&args.out)))?;
    crate::model::write_bytes(&args.out, &out_bytes)?;

    // Both models through `eval`'s own pass, so that these lines agree with `eval`'s.
    let f32_eval = evaluate(
        &args.model,
        &HostModel::from_bytes(&bytes, &args.model)?,
        test,
    )?;
    let i8_eval = evaluate(
        &args.out,
        &HostModel::from_bytes(&out_bytes, &args.out)?,
        test,
    )?;
    let (f32_correct, f32_acc) = (f32_eval.correct, f32_eval.accuracy());
    let (i8_correct, i8_acc) = (i8_eval.correct, i8_eval.accuracy());
    let agree = f32_eval
        .classes()
        .zip(i8_eval.classes())
        .filter(|(a, b)| a == b)
        .count();
    crate::outputs::stdout::print_line(&format!(
        "calibrated on {n} training images; wrote {} ({} bytes, f32 file {} bytes)\n\
         f32:  accuracy {:.2} % ({f32_correct}/{})\n\
         int8: accuracy {:.2} % ({i8_correct}/{}), {:+.2} points; same class as f32 on {agree}/{}",
        show(&args.out),
        out_bytes.len(),
        bytes.len(),
        100.0 * f32_acc,
        test.len(),
        100.0 * i8_acc,
        test.len(),
        100.0 * (i8_acc - f32_acc),
        test.len()
    ))?;
    Ok(())
}
