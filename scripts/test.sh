#!/usr/bin/env bash
# Every test of the project, as CI runs it: lints and docs, the declared minimum Rust, the
# no_std build for the board, the kernels at every SIMD width and on their scalar path, the
# host workspace's quick tests and its end-to-end tests (marked `#[ignore = "e2e: ..."]`:
# they train on real MNIST, fetch it, run the firmware in QEMU), and a short run of every
# fuzzer. FUZZ_SECONDS (default 60) sets the fuzzers' time each; SKIP_FUZZ=1 leaves them out.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "installing what the tests need"
scripts/setup.sh

step "formatting and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
(cd firmware && cargo fmt --check && cargo clippy --release -- -D warnings)
# The firmware's f32 build (the default is int8; see firmware/README.md), and the blog's
# 784-1024-10 in int8 running its self-test in QEMU. The end-to-end tests rebuild the
# default, which recompiles only the firmware crate.
(cd firmware && NN_MODEL=models/mcu.nnm cargo clippy --release -- -D warnings &&
  NN_MODEL=models/mcu.nnm cargo build --release &&
  NN_MODEL=models/seed-int8.nnm cargo run --release | grep -E "INFO  (model|self-test)")
# --- boards (firmware/README.md, "Boards") ---------------------------------------------
# Every board the README names compiles and links as its alias builds it (release, in its
# own target directory), lint-clean; and the debug build of each, the form build.rs's
# messages name (`--no-default-features --features <board>`), links too.
step "every board builds and links, release and debug"
(cd firmware &&
  for board in nucleo-f411re:nucleo nrf52840dk:nrf pico2:pico2; do
    feature=${board%%:*} alias=${board##*:}
    target=thumbv7em-none-eabihf
    [ "$feature" = pico2 ] && target=thumbv8m.main-none-eabihf
    cargo clippy --release --no-default-features --features "$feature" --target "$target" \
      --target-dir "target/$alias" -- -D warnings
    cargo "build-$alias"
    cargo build --no-default-features --features "$feature" --target "$target" \
      --target-dir "target/$alias"
  done)
# --- end boards -------------------------------------------------------------------------
# --- Raspberry Pi Pico (RP2040, thumbv6m): lints, the release build and the debug one; the
# end-to-end test (tests/firmware_pico.rs, in the workspace step below) runs it in rp2040js.
(cd firmware && cargo clippy --release --no-default-features --features pico \
  --target thumbv6m-none-eabi --target-dir target/pico -- -D warnings && cargo build-pico &&
  cargo build --no-default-features --features pico --target thumbv6m-none-eabi \
    --target-dir target/pico)
if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  # fuzz/ is its own workspace on its own (pinned nightly) toolchain.
  (cd fuzz && cargo fmt --check && cargo clippy --all-targets -- -D warnings)
fi

step "docs build without warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

msrv="$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml)"
step "the declared rust-version, $msrv, builds everything"
cargo +"$msrv" check --workspace --all-targets --target-dir target/msrv

step "nn-core without std, for the board"
cargo build -p nn-core --target thumbv7em-none-eabihf --release

# nn-core on every Cortex-M: M0/M0+ (v6m), M3 (v7m), M4/M7 without and with FPU (v7em),
# M33/M35P (v8m.main). Each assembly kernel is built only where its instructions exist.
step "nn-core for every Cortex-M target"
for target in thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabi \
  thumbv7em-none-eabihf thumbv8m.main-none-eabihf; do
  cargo build -p nn-core --target "$target" --release
done

step "the kernels' scalar path through the whole of nn-core"
cargo test -p nn-core --features scalar-kernels

# .cargo/config.toml builds for this machine's CPU (AVX-512 here: 16 lanes). RUSTFLAGS
# replaces those flags, so these runs compile `wide`'s other widths; each keeps its own
# target directory so the main build stays warm.
step "nn-core at 4 lanes (SSE2, x86-64)"
RUSTFLAGS="-C target-cpu=x86-64" cargo test -p nn-core --target-dir target/lanes-v1
step "nn-core at 8 lanes (AVX2, x86-64-v3)"
RUSTFLAGS="-C target-cpu=x86-64-v3" cargo test -p nn-core --target-dir target/lanes-v3

# ---- web: the committed wasm module is what its sources build (serve embeds it) ----
step "the draw-a-digit page's wasm module rebuilds to the committed one"
scripts/build-wasm.sh --check
# ---- end web ----

step "the workspace: every test, the end-to-end ones included"
cargo test --workspace -- --include-ignored

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  step "fuzzers, ${FUZZ_SECONDS:-60} s each"
  scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
fi
step "all tests passed"
