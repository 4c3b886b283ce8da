//! The Raspberry Pi Pico firmware, end to end: built for the RP2040 (`cargo build-pico` in
//! firmware/), run in rp2040js, the RP2040 emulator with the Cortex-M0+'s cycle counts
//! (`firmware/scripts/rp2040js/run.mjs`), and checked against the host's own nn-core.
//! Needs Node with the pinned rp2040js (`npm ci` in firmware/scripts/rp2040js),
//! `defmt-print` and the MNIST test set; scripts/setup.sh installs all of it. A missing
//! piece fails these tests, it does not skip them:
//! `cargo test -p host-trainer --test firmware_pico -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use host_trainer::devices::eval::{self, HostModel, Link, Rp2040js, rp2040js};
use nn_core::IMAGE_PIXELS;
use nn_data::{self as data, Fetch};

mod common;

fn root() -> PathBuf {
    common::root().to_path_buf()
}

/// The Pico ELF, built once for all tests in this file (its own target directory in
/// firmware/, so the QEMU ELF stays as it is).
fn elf() -> &'static Path {
    static ELF: OnceLock<PathBuf> = OnceLock::new();
    ELF.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .arg("build-pico")
            .current_dir(root().join("firmware"))
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build-pico in firmware/ failed");
        root().join(rp2040js::DEFAULT_ELF)
    })
}

fn host_model() -> HostModel {
    HostModel::load(&root().join(eval::DEFAULT_MODEL)).expect("the firmware's model loads")
}

#[test]
#[ignore = "e2e: builds the Pico firmware and boots it in rp2040js"]
fn self_test_in_rp2040js_agrees_with_the_host_and_counts_cycles() {
    let output = Command::new("node")
        .arg(rp2040js::script())
        .arg(elf())
        .output()
        .expect("node runs (apt-get install nodejs)");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "self-test failed: {}\n{log}",
        output.status
    );
    // The M0+ kernel, in assembly, against its scalar twin on the emulated core.
    assert!(
        log.contains("kernel check: m0 dense_i8 equals the scalar twin"),
        "{log}"
    );

    // The same 100 digits, classified by the host's kernels; the summary's accuracy too.
    let summary = common::check_self_test_log(&log, &host_model());
    let cycles: u64 = summary.field("cycles_per_inference=").parse().unwrap();
    // At least one cycle per multiply-accumulate of a 784-H-10 network (MULS is one), and
    // far less than the 2^24 the SysTick stopwatch wraps at.
    assert!(cycles > 101_632 && cycles < 1 << 24, "{summary}");
}

#[test]
#[ignore = "e2e: 10,000 images through rp2040js, real MNIST (fetched if missing)"]
fn device_eval_over_the_whole_test_set_matches_the_host() {
    let test = data::load_test(&data::default_dir(), Fetch::Allowed).expect("MNIST test set");
    let images: Vec<&[u8; IMAGE_PIXELS]> = (0..test.len()).map(|i| test.image(i)).collect();
    let labels: Vec<u8> = (0..test.len()).map(|i| test.label(i)).collect();
    let (mut pico, pipe) = Rp2040js::start(elf()).expect("rp2040js starts");
    let report = eval::evaluate(&mut Link::new(pipe), &host_model(), &images, &labels, 8)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", pico.describe()));
    eprintln!("{report:?}");
    assert_eq!(report.images, 10_000);
    assert_eq!(report.agree_with_host, 10_000, "{report:?}");
    // The int8 model: the device sends the exact (q + 128) / 256, as the host computes it.
    assert_eq!(report.max_prob_diff, 0.0, "{report:?}");
}
