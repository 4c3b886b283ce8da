//! A network deeper than one hidden layer through every command a user runs on it:
//! `train --hidden 32,16`, `inspect`, `quantize`, `eval` and `predict --npy`, on the tiny
//! synthetic data set from `common` (no MNIST, no network).

use std::path::Path;

use nn_data::npy::{self, Array, Data};

mod common;
use common::{Synthetic, host_trainer, synthetic_image};

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

#[test]
fn a_depth_3_model_trains_quantises_inspects_and_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let set = Synthetic::write(dir.path(), 1000, 50);
    let (f32_path, i8_path) = (
        dir.path().join("deep.nnm"),
        dir.path().join("deep-int8.nnm"),
    );

    #[rustfmt::skip]
    let train = host_trainer(&[
        "train", "--preset", "mcu", "--hidden", "32,16", "--epochs", "10", "--lr", "0.01",
        "--data", set.dir_str(), "--out", s(&f32_path),
    ]);
    train.assert_ok();

    let inspect = host_trainer(&["inspect", s(&f32_path)]);
    let out = &inspect.assert_ok().stdout;
    assert!(out.contains("format:      NNMF version 3"), "{out}");
    assert!(out.contains("shape:       784-32-16-10"), "{out}");
    assert!(out.contains("layers:      3, then softmax"), "{out}");
    assert!(
        out.contains("  layer 3:   16 -> 10, Identity, f32"),
        "{out}"
    );

    let quantize = host_trainer(&[
        "quantize",
        "--model",
        s(&f32_path),
        "--out",
        s(&i8_path),
        "--data",
        set.dir_str(),
        "--calibration",
        "200",
    ]);
    let out = &quantize.assert_ok().stdout;
    assert!(out.contains("int8: accuracy"), "{out}");
    let inspect = host_trainer(&["inspect", s(&i8_path)]);
    let out = &inspect.assert_ok().stdout;
    assert!(out.contains("element:     I8"), "{out}");
    assert!(
        out.contains("  layer 2:   32 -> 16, Relu, int8 output scale"),
        "{out}"
    );

    // The bars are easy: both models read every test digit, through eval...
    for model in [&f32_path, &i8_path] {
        let eval = host_trainer(&["eval", "--model", s(model), "--data", set.dir_str()]);
        let out = &eval.assert_ok().stdout;
        assert!(out.contains("(50/50)"), "{}: {out}", model.display());
    }

    // ... and through predict --npy: the int8 model gives its int8 output tensor, whose
    // largest entry is the digit drawn.
    let labels: Vec<u8> = (0..10).collect();
    let pixels: Vec<u8> = labels.iter().flat_map(|&d| synthetic_image(d, 1)).collect();
    let input = dir.path().join("digits.npy");
    let rows = Array {
        shape: vec![10, 784],
        data: Data::U8(pixels),
    };
    std::fs::write(&input, npy::encode(&rows)).unwrap();
    let output = dir.path().join("out.npy");
    let predict = host_trainer(&[
        "predict",
        "--model",
        s(&i8_path),
        "--npy",
        s(&input),
        "--out",
        s(&output),
    ]);
    predict.assert_ok();
    let out = npy::parse(&std::fs::read(&output).unwrap()).unwrap();
    assert_eq!(out.shape, [10, 10]);
    let Data::I8(q) = out.data else {
        panic!(
            "an int8 model writes int8 outputs, got {:?}",
            out.data.dtype()
        );
    };
    for (row, &label) in q.chunks(10).zip(&labels) {
        let best = (0..10)
            .max_by_key(|&k| (row[k], std::cmp::Reverse(k)))
            .unwrap();
        assert_eq!(best, usize::from(label), "{row:?}");
    }
}
