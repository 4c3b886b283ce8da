//! The page's Learn in the committed wasm module (`nn-wasm/www/nn_wasm.wasm`, run in node
//! through the exports the page's worker calls) learns the very bytes the host learns: the same
//! served model (`firmware/models/mcu.nnm`), the same kept examples and replay examples (the
//! committed MNIST digits), the same settings. Three ways of getting the tuned weights must
//! agree bit for bit: the wasm module's file, nn-wasm's `teach::learn` compiled for this
//! machine, and nn-core's `fit` called here directly with `teach::Settings`.
//!
//! End-to-end (it needs node, which `scripts/setup.sh` installs for rp2040js):
//! `cargo test -p nn-wasm --test learns_as_host -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::Command;

use nn_core::format::ModelFile;
use nn_core::network::Model;
use nn_core::train::{
    Examples, FitScratch, Learn, Learner, Net, fit, parameters, state_len, work_len,
};
use nn_core::{Activation, IMAGE_PIXELS};
use nn_wasm::teach::{self, RECORD, Records, Settings};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The committed MNIST test digits as records: `(kept, replay)`, the first 24 and the next 60.
fn records() -> (Vec<u8>, Vec<u8>) {
    let dir = root().join("firmware/data");
    let images = std::fs::read(dir.join("t10k-100-images.bin")).unwrap();
    let labels = std::fs::read(dir.join("t10k-100-labels.bin")).unwrap();
    let record = |i: usize| {
        let mut r = vec![labels[i]];
        r.extend_from_slice(&images[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS]);
        r
    };
    (
        (0..24).flat_map(record).collect(),
        (24..84).flat_map(record).collect(),
    )
}

/// The file's bytes at a 16-byte aligned address.
fn aligned(bytes: &[u8]) -> &'static [u8] {
    let words: Vec<u128> = bytes
        .chunks(16)
        .map(|c| {
            let mut b = [0u8; 16];
            b[..c.len()].copy_from_slice(c);
            u128::from_ne_bytes(b)
        })
        .collect();
    let words: &'static [u128] = Box::leak(words.into_boxed_slice());
    // Safety: a u128 slice is readable as bytes, and `bytes.len()` is within it.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), bytes.len()) }
}

/// What the page's worker does (`www/learn.js`), in node: the tuned file and the measures.
const NODE_SCRIPT: &str = r#"
const fs = require("fs");
const [wasmPath, modelPath, keptPath, replayPath, outPath] = process.argv.slice(2);
(async () => {
  const { instance } = await WebAssembly.instantiate(fs.readFileSync(wasmPath), {});
  const e = instance.exports;
  const message = () => Buffer.from(e.memory.buffer, e.message_ptr(), e.message_len()).toString();
  const put = (ptr, bytes) => new Uint8Array(e.memory.buffer, ptr, bytes.length).set(bytes);
  const model = fs.readFileSync(modelPath), kept = fs.readFileSync(keptPath), replay = fs.readFileSync(replayPath);
  put(e.model_buffer(model.length), model);
  if (e.load_model(model.length) !== 0) throw new Error(message());
  put(e.examples_ptr(), kept);
  if (e.set_examples(kept.length / 785) < 0) throw new Error(message());
  put(e.replay_ptr(), replay);
  if (e.set_replay(replay.length / 785) < 0) throw new Error(message());
  if (e.learn() !== 0) throw new Error(message());
  fs.writeFileSync(outPath, new Uint8Array(e.memory.buffer, e.tuned_ptr(), e.tuned_len()));
  console.log([e.learned_held_out(), e.learned_before(), e.learned_after(), e.learned_steps()].join(" "));
})().catch((err) => { console.error(String(err)); process.exit(1); });
"#;

#[test]
#[ignore = "e2e: runs the committed wasm module in node (scripts/setup.sh installs node)"]
fn the_wasm_module_learns_the_hosts_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (kept, replay) = records();
    let model_path = root().join("firmware/models/mcu.nnm");
    let served = std::fs::read(&model_path).unwrap();
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("learn.js"), NODE_SCRIPT).unwrap();
    std::fs::write(path("kept.bin"), &kept).unwrap();
    std::fs::write(path("replay.bin"), &replay).unwrap();
    let run = Command::new("node")
        .arg(path("learn.js"))
        .arg(root().join("nn-wasm/www/nn_wasm.wasm"))
        .arg(&model_path)
        .arg(path("kept.bin"))
        .arg(path("replay.bin"))
        .arg(path("tuned.nnm"))
        .output()
        .expect("node runs (scripts/setup.sh installs it)");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "node: {}{stdout}",
        String::from_utf8_lossy(&run.stderr)
    );
    let wasm_file = std::fs::read(path("tuned.nnm")).unwrap();
    let wasm_measures: Vec<usize> = stdout
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();

    // 1. nn-wasm's own Learn, built for this machine.
    let file = ModelFile::parse(aligned(&served)).unwrap();
    let (words, bytes) = teach::needs(&file, replay.len() / RECORD).unwrap();
    let mut memory = vec![0.0f32; words];
    let mut out = vec![0u8; bytes];
    let mut work = Box::new(nn_wasm::Work::ZERO);
    let outcome = teach::learn(&file, &kept, &replay, &mut memory, &mut work, &mut out).unwrap();
    assert_eq!(
        wasm_measures,
        [
            outcome.held_out,
            outcome.before,
            outcome.after,
            outcome.steps as usize
        ]
    );
    assert_eq!(outcome.held_out, 8, "the second of every three of a digit");
    assert_eq!(wasm_file.len(), outcome.file_len);
    assert!(
        wasm_file == out[..outcome.file_len],
        "the wasm module's tuned file differs from the host's"
    );

    // 2. nn-core's fit, called here on every kept example from the served weights.
    let Model::F32(m) = file.model().unwrap() else {
        panic!("mcu.nnm is f32")
    };
    let sizes = [IMAGE_PIXELS, 128, 10];
    let activations: Vec<Activation> = m.layers.iter().map(|l| l.activation).collect();
    let mut params = vec![0.0; parameters(&sizes)];
    file.copy_parameters(&mut params).unwrap();
    let before = params.clone();
    let kept_set = Records::new(&kept, m.scaling);
    let replay_set = Records::new(&replay, m.scaling);
    let settings = Settings::for_examples(kept_set.len(), replay_set.len());
    let plan = settings.plan;
    let rows = plan.batch + plan.replay;
    let mut state = vec![0.0; state_len(&sizes, Learn::All)];
    let mut work = vec![0.0; work_len(&sizes, rows)];
    let mut learner = Learner::new(
        Net {
            sizes: &sizes,
            activations: &activations,
        },
        Learn::All,
        settings.optimizer,
        &mut params,
        &mut state,
        &mut work,
        rows,
    )
    .unwrap();
    let mut x = vec![0.0; rows * IMAGE_PIXELS];
    let mut labels = vec![0; rows];
    let mut order = vec![0; kept_set.len()];
    let mut replay_order = vec![0; replay_set.len()];
    let stats = fit(
        &mut learner,
        &kept_set,
        &replay_set,
        plan,
        FitScratch {
            x: &mut x,
            labels: &mut labels,
            order: &mut order,
            replay_order: &mut replay_order,
        },
    )
    .unwrap();
    assert_eq!(stats.steps, outcome.steps);
    let learned = learner.params().to_vec();
    let mut in_wasm_file = vec![0.0; learned.len()];
    ModelFile::parse(aligned(&wasm_file))
        .unwrap()
        .copy_parameters(&mut in_wasm_file)
        .unwrap();
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert!(
        bits(&learned) == bits(&in_wasm_file),
        "the wasm module's weights differ from nn-core's fit on this machine"
    );
    let changed = learned.iter().zip(&before).filter(|(a, b)| a != b).count();
    assert!(
        changed > learned.len() / 2,
        "only {changed} of {} weights moved",
        learned.len()
    );
}
