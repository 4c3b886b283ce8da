//! `host-trainer inspect`: a model file's header, shapes, layers, parameter count and
//! checksum.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use nn_core::TensorQuant;
use nn_core::format::ModelFile;
use nn_core::network::Model;

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
    let model = file
        .model()
        .map_err(|source| crate::model::ModelError::Format {
            path: show(&args.file),
            source,
        })?;
    let parameters: usize = match &model {
        Model::F32(m) => m
            .layers
            .iter()
            .map(|l| l.outputs * l.inputs + l.outputs)
            .sum(),
        Model::I8(m) => m
            .layers
            .iter()
            .map(|l| l.outputs * l.inputs + l.outputs)
            .sum(),
    };
    let mut text = vec![
        format!("file:        {} ({} bytes)", show(&args.file), bytes.len()),
        format!(
            "format:      {} version {}",
            String::from_utf8_lossy(&h.magic),
            file.version()
        ),
        format!("shape:       {}", crate::model::chain(&model)),
        format!(
            "scaling:     x = pixel * {} + {}",
            h.scaling.scale, h.scaling.offset
        ),
        format!("element:     {:?}", h.element),
        format!(
            "parameters:  {parameters} weights and biases, {} bytes of weights",
            bytes.len() - file.weights_offset() - nn_core::format::CHECKSUM_LEN
        ),
    ];
    text.extend(layer_lines(&model));
    let names: Vec<&str> = file.class_names().into_iter().collect();
    if !names.is_empty() {
        text.push(format!("classes:     {}", names.join(", ")));
    }
    text.push(format!(
        "checksum:    ok (CRC-32 {:#010x})",
        file.checksum()
    ));
    print_line(&text.join("\n"))?;
    Ok(())
}

/// `inspect`'s lines about the layers of `model`, any depth: each one's inputs → outputs,
/// activation and element, and for int8 the input's and each layer's output quantisation.
pub fn layer_lines(model: &Model<'_>) -> Vec<String> {
    let t = |t: TensorQuant| format!("scale {:e}, zero point {}", t.scale, t.zero_point);
    let (depth, softmax) = match model {
        Model::F32(m) => (m.layers.len(), m.softmax),
        Model::I8(m) => (m.layers.len(), m.softmax.is_some()),
    };
    let mut lines = vec![format!(
        "layers:      {depth}{}",
        if softmax { ", then softmax" } else { "" }
    )];
    match model {
        Model::F32(m) => {
            for (k, l) in m.layers.iter().enumerate() {
                lines.push(format!(
                    "  layer {}:   {} -> {}, {:?}, f32",
                    k + 1,
                    l.inputs,
                    l.outputs,
                    l.activation
                ));
            }
        }
        Model::I8(m) => {
            lines.push(format!("  input:     int8, {}", t(m.input)));
            for (k, l) in m.layers.iter().enumerate() {
                let table = if l.table.is_empty() { "" } else { ", table" };
                let (lo, hi) = l
                    .weight_scales
                    .iter()
                    .fold((f32::INFINITY, 0.0f32), |(lo, hi), &s| {
                        (lo.min(s), hi.max(s))
                    });
                lines.push(format!(
                    "  layer {}:   {} -> {}, {:?}, int8 output {}, weight scales {lo:e} to {hi:e}{table}",
                    k + 1,
                    l.inputs,
                    l.outputs,
                    l.activation,
                    t(l.output)
                ));
            }
            if m.softmax.is_some() {
                lines.push(
                    "  softmax:   int8 output scale 1/256, zero point -128 (p = (q + 128) / 256)"
                        .into(),
                );
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::quantize::quantize_network;
    use crate::train::export::model_view;
    use nn_train::network::{Flat, Hidden, Network};
    use nn_train::rng::Rng;

    #[test]
    fn every_layer_of_a_deep_model_is_listed_f32_and_int8() {
        let sizes = [6, 5, 4, 3];
        let net = Network {
            params: Flat::glorot(&sizes, &mut Rng::new(2)),
            activation: Hidden::Sigmoid,
        };
        let f32_model = model_view(&net, nn_core::InputScaling::UNIT).unwrap();
        let lines = layer_lines(&Model::F32(f32_model));
        assert_eq!(
            lines,
            [
                "layers:      3, then softmax",
                "  layer 1:   6 -> 5, Sigmoid, f32",
                "  layer 2:   5 -> 4, Sigmoid, f32",
                "  layer 3:   4 -> 3, Identity, f32",
            ]
        );
        let images: Vec<u8> = (0..6 * 50).map(|i| (i * 37 % 256) as u8).collect();
        let q = quantize_network(&f32_model, Vec::new(), &images).unwrap();
        let lines = layer_lines(&q.model().unwrap());
        assert_eq!(lines.len(), 6, "{lines:?}");
        assert!(lines[5].starts_with("  softmax:   int8 output scale 1/256"));
        assert_eq!(
            lines[1],
            "  input:     int8, scale 3.921569e-3, zero point -128"
        );
        assert!(lines[2].starts_with("  layer 1:   6 -> 5, Sigmoid, int8 output scale "));
        assert!(lines[2].ends_with(", table"), "{}", lines[2]);
        assert!(lines[4].starts_with("  layer 3:   4 -> 3, Identity, int8 output scale "));
        assert!(!lines[4].ends_with(", table"), "{}", lines[4]);
    }
}
