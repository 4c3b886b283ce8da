#!/usr/bin/env bash
# Every test of the project, as CI runs it: lints and docs, the declared minimum Rust, the
# no_std build for every Cortex-M, every board release and debug, the kernels at every SIMD
# width and on their scalar path, the host workspace's quick tests and its end-to-end tests
# (marked `#[ignore = "e2e: ..."]`: they train on real MNIST, fetch it, run the firmware in
# QEMU and rp2040js, drive the page in Chromium), and a short run of every fuzzer.
#
# Two lanes run side by side, one per core: the host lane (workspace lints, docs, MSRV, the
# tests) prints as it goes; the device lane (firmware and boards, nn-core on Cortex-M, the
# wasm module, the fuzzers) writes to target/ci/device-lane.log, printed whole when it ends.
# Every cargo call is `--locked`: a stale Cargo.lock fails instead of changing a tracked file.
# FUZZ_SECONDS (default 60) sets the fuzzers' time each; SKIP_FUZZ=1 leaves them out.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> [%2d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

step "installing what the tests need"
scripts/setup.sh

step "every Cargo.lock is current, formatting, Markdown line lengths"
cargo metadata --locked --format-version 1 >/dev/null
(cd firmware && cargo metadata --locked --format-version 1 >/dev/null)
cargo fmt --all --check
(cd firmware && cargo fmt --check)
if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  # fuzz/ is its own workspace on its own (pinned nightly) toolchain; `cargo fuzz` takes no
  # --locked, so the lock is checked here, before it builds.
  (cd fuzz && cargo metadata --locked --format-version 1 >/dev/null && cargo fmt --check)
fi
scripts/check-md.sh

# ---------------------------------------------------------------------------------------
# The device lane: everything built for a Cortex-M or for wasm, and the fuzzers.
device_lane() {
  step "firmware lints (int8 default and f32)"
  (cd firmware && cargo clippy --locked --release -- -D warnings &&
    NN_MODEL=models/mcu.nnm cargo clippy --locked --release -- -D warnings)
  # The f32 build (the default is int8; see firmware/README.md), and the blog's 784-1024-10
  # in int8 running its self-test in QEMU. Their own target directory: the end-to-end tests
  # of the host lane build and run the default ELF in target/ at the same time.
  step "firmware: the f32 build, and the 784-1024-10 int8 model's self-test in QEMU"
  (cd firmware && NN_MODEL=models/mcu.nnm cargo build --locked --release --target-dir target/variants &&
    NN_MODEL=models/seed-int8.nnm cargo run --locked --release --target-dir target/variants |
    grep -E "INFO  (model|self-test)")
  step "the firmware example: lint-clean, and it runs in QEMU"
  (cd firmware && cargo clippy --locked --release --examples -- -D warnings &&
    cargo run --locked --release --example minimal)
  # The anomaly detector's ten layer shapes through the chosen int8 kernel, equal to its
  # scalar twin (the example exits 1 otherwise), on the M4 in QEMU and the M0+ in rp2040js.
  step "the dense kernels on the anomaly detector's shapes: QEMU (M4) and rp2040js (M0+)"
  (cd firmware && cargo run --locked --release --example dense_bench &&
    cargo build --locked --release --no-default-features --features pico --target thumbv6m-none-eabi \
      --target-dir target/pico --example dense_bench &&
    node scripts/rp2040js/run.mjs target/pico/thumbv6m-none-eabi/release/examples/dense_bench)

  # Every board the README names compiles and links as its alias builds it (release, in its
  # own target directory), lint-clean. The debug build, the form build.rs's messages name
  # (`--no-default-features --features <board>`), links too: checked on the NUCLEO, the
  # board with the least flash (each debug build costs 2-3 minutes of a core, which the
  # host lane's end-to-end tests need).
  step "every board builds and links in release; the NUCLEO in debug too"
  (cd firmware &&
    for board in nucleo-f411re:nucleo nrf52840dk:nrf pico2:pico2 pico:pico; do
      feature=${board%%:*} alias=${board##*:}
      case "$feature" in
        pico2) target=thumbv8m.main-none-eabihf ;;
        pico) target=thumbv6m-none-eabi ;;
        *) target=thumbv7em-none-eabihf ;;
      esac
      cargo clippy --locked --release --no-default-features --features "$feature" --target "$target" \
        --target-dir "target/$alias" -- -D warnings
      cargo "build-$alias" --locked
      if [ "$feature" = nucleo-f411re ]; then
        cargo build --locked --no-default-features --features "$feature" --target "$target" \
          --target-dir "target/$alias"
      fi
    done)

  # nn-core on every Cortex-M: M0/M0+ (v6m), M3 (v7m), M4/M7 without and with FPU (v7em),
  # M33/M35P (v8m.main). Each assembly kernel is built only where its instructions exist.
  step "nn-core without std, for every Cortex-M target"
  for target in thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabi \
    thumbv7em-none-eabihf thumbv8m.main-none-eabihf; do
    cargo build --locked -p nn-core --target "$target" --release
  done

  step "the draw-a-digit page's wasm module rebuilds to the committed one"
  scripts/build-wasm.sh --check

  if [ "${SKIP_FUZZ:-0}" != 1 ]; then
    step "fuzz/ lints"
    (cd fuzz && cargo clippy --locked --all-targets -- -D warnings)
    step "fuzzers, ${FUZZ_SECONDS:-60} s each"
    scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
  fi
  step "device lane passed"
}

mkdir -p target/ci
device_log=target/ci/device-lane.log
device_lane >"$device_log" 2>&1 &
device_pid=$!
# A host-lane failure ends the script: the device lane goes with it.
trap 'kill "$device_pid" 2>/dev/null || true' EXIT
step "the device lane runs beside this one (its log: $device_log)"

# ---------------------------------------------------------------------------------------
# The host lane.
step "host lints"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "docs build without warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps

msrv="$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml)"
step "the declared rust-version, $msrv, builds everything"
cargo +"$msrv" check --locked --workspace --all-targets --target-dir target/msrv

step "the kernels' scalar path through the whole of nn-core"
cargo test --locked -p nn-core --features scalar-kernels

# .cargo/config.toml builds for this machine's CPU (AVX-512 here: 16 lanes). RUSTFLAGS
# replaces those flags, so these runs compile `wide`'s other widths; each keeps its own
# target directory so the main build stays warm.
step "nn-core at 4 lanes (SSE2, x86-64)"
RUSTFLAGS="-C target-cpu=x86-64" cargo test --locked -p nn-core --target-dir target/lanes-v1
step "nn-core at 8 lanes (AVX2, x86-64-v3)"
RUSTFLAGS="-C target-cpu=x86-64-v3" cargo test --locked -p nn-core --target-dir target/lanes-v3

step "the workspace: every test, the end-to-end ones included"
cargo test --locked --workspace -- --include-ignored

step "host lane passed; waiting for the device lane"
device_status=0
wait "$device_pid" || device_status=$?
trap - EXIT
cat "$device_log" >&2
[ "$device_status" -eq 0 ] || { step "the device lane FAILED (exit $device_status; its log is above)"; exit 1; }

# Nothing above may have changed a tracked file (a lock file, the committed wasm module).
step "the work tree is as committed"
git diff --exit-code --stat
step "all tests passed"
