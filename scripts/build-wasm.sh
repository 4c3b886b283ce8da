#!/usr/bin/env bash
# Builds the draw-a-digit page's wasm module (nn-wasm/, nn-core inside) for
# wasm32-unknown-unknown with SIMD128, into nn-wasm/www/nn_wasm.wasm, which is committed so that
# `host-trainer serve` works on a fresh clone with no wasm toolchain. The build is reproducible:
# a pinned toolchain, no debug info, paths remapped, one codegen unit.
#   scripts/build-wasm.sh          rebuild and replace the committed module
#   scripts/build-wasm.sh --check  rebuild elsewhere and fail if it differs from the committed one
#                                  (what scripts/test.sh runs; also lints the wasm-only code)
set -euo pipefail
cd "$(dirname "$0")/.."

toolchain=1.95.0
out=nn-wasm/www/nn_wasm.wasm
target_dir=target/wasm
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
flags=(
  -C target-feature=+simd128
  "--remap-path-prefix=$PWD=."
  "--remap-path-prefix=$cargo_home=cargo"
  "--remap-path-prefix=$HOME=~"
)
config=(
  --config profile.release.debug=false
  --config profile.release.strip=true
  --config profile.release.lto=true
  --config profile.release.codegen-units=1
  --config profile.release.panic=\"abort\"
  --config profile.release.opt-level=3
)
export RUSTFLAGS="${flags[*]}"
export CARGO_TARGET_DIR="$target_dir"

cargo +"$toolchain" rustc --quiet --locked -p nn-wasm --release --target wasm32-unknown-unknown \
  "${config[@]}" --crate-type cdylib
built="$target_dir/wasm32-unknown-unknown/release/nn_wasm.wasm"

if [ "${1:-}" = --check ]; then
  cargo +"$toolchain" clippy --quiet --locked -p nn-wasm --target wasm32-unknown-unknown \
    "${config[@]}" -- -D warnings
  if ! cmp -s "$built" "$out"; then
    echo "error: $out differs from a fresh build ($(wc -c <"$built") bytes, committed $(wc -c <"$out")):" \
      "run scripts/build-wasm.sh and commit the result" >&2
    exit 1
  fi
  echo "$out matches a fresh build ($(wc -c <"$out") bytes)"
else
  cp "$built" "$out"
  echo "wrote $out ($(wc -c <"$out") bytes)"
fi
