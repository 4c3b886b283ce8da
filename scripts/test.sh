#!/usr/bin/env bash
# Every test of the project, as CI runs it: lints, the host workspace (unit, property and
# end-to-end tests, which train on real MNIST and run the firmware in QEMU), both kernel
# paths, the no_std build for the board, and a short run of every fuzzer.
# FUZZ_SECONDS (default 60) sets the fuzzers' time each; SKIP_FUZZ=1 leaves them out.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "installing what the tests need"
scripts/setup.sh

step "formatting and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
(cd firmware && cargo fmt --check && cargo clippy --release -- -D warnings)

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

step "the workspace: unit, property and end-to-end tests"
cargo test --workspace

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  step "fuzzers, ${FUZZ_SECONDS:-60} s each"
  scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
fi
step "all tests passed"
