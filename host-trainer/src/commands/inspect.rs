//! `host-trainer inspect`: a model file's header, shapes, layers, parameter count and
//! checksum.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use nn_core::format::ModelFile;
use nn_core::network::{LayerF32, LayerI8, Layers, Model, ModelF32, ModelI8};
use nn_core::{Activation, TensorQuant};

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
    let model = model_of(&file).map_err(|source| crate::model::ModelError::Format {
        path: show(&args.file),
        source,
    })?;
    text.extend(layer_lines(&model));
    text.extend(crate::convert::quantize::inspect_lines(&file));
    text.push(format!(
        "checksum:    ok (CRC-32 {:#010x})",
        file.checksum()
    ));
    print_line(&text.join("\n"))?;
    Ok(())
}

/// The file as nn-core's [`Model`] view, for the version 1 and 2 files this build reads:
/// their two layers through the depth-2 slices. The seam to the model file's version 3:
/// once `ModelFile::model` is in this build, this is that call.
fn model_of<'a>(file: &ModelFile<'a>) -> Result<Model<'a>, nn_core::Error> {
    let h = file.header();
    let softmax = h.output_activation == Activation::Softmax;
    let last = if softmax {
        Activation::Identity
    } else {
        h.output_activation
    };
    if h.element == nn_core::format::ElementType::I8 {
        let m = file.slices_i8()?;
        let mut layers = Layers::default();
        for (l, inputs, outputs, output, activation, table) in [
            (
                m.layer1,
                m.input,
                m.hidden,
                m.hidden_quant,
                m.hidden_activation,
                m.sigmoid_table,
            ),
            (
                m.layer2,
                m.hidden,
                m.output,
                m.logits_quant,
                Activation::Identity,
                &[][..],
            ),
        ] {
            layers.push(LayerI8 {
                weights: l.weights,
                bias: l.bias,
                requant: l.requant,
                weight_scales: l.weight_scales,
                inputs,
                outputs,
                output,
                activation,
                table,
            })?;
        }
        return Ok(Model::I8(ModelI8 {
            layers,
            input: m.input_quant,
            softmax: Some(m.softmax),
            scaling: m.scaling,
            packed: &[],
        }));
    }
    let m = file.slices()?;
    let mut layers = Layers::default();
    layers.push(LayerF32 {
        weights: m.w1,
        bias: m.b1,
        inputs: m.input,
        outputs: m.hidden,
        activation: m.hidden_activation,
    })?;
    layers.push(LayerF32 {
        weights: m.w2,
        bias: m.b2,
        inputs: m.hidden,
        outputs: m.output,
        activation: last,
    })?;
    Ok(Model::F32(ModelF32 {
        layers,
        softmax,
        scaling: m.scaling,
    }))
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
                lines.push(format!(
                    "  layer {}:   {} -> {}, {:?}, int8 output {}{table}",
                    k + 1,
                    l.inputs,
                    l.outputs,
                    l.activation,
                    t(l.output)
                ));
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
        assert_eq!(lines.len(), 5, "{lines:?}");
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
