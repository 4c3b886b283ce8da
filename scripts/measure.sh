#!/usr/bin/env bash
# Remakes the machine-independent figures of README.md's tables and docs/measurements.md, and prints them:
# instruction counts in QEMU, cycle counts in rp2040js, flash and RAM sizes, the wasm module's size, and (with
# `accuracy`) the int8 models' accuracies. It does not edit the Markdown; compare by eye. Timings are not here:
# they depend on the machine (docs/measurements.md gives each one's command).
#
# Usage: scripts/measure.sh [PART...]
#   qemu      the self-test in QEMU: int8, f32 and the 784-1024-10 int8 model (instructions per inference)
#   pico      the self-test in rp2040js (cycles per inference)
#   sizes     `size` of every board's release build (flash = text + data, RAM besides the stack = data + bss)
#   wasm      the committed .wasm's size
#   accuracy  `quantize` on the shipped f32 model: f32 and int8 accuracy (needs MNIST, fetched on first use)
# Without a PART: qemu pico sizes wasm. Needs what scripts/setup.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(qemu pico sizes wasm)

# The firmware's summary lines, from its defmt log (stdout and stderr together).
summary() {
  grep -E 'INFO +(model |no black pixel|self-test images=)' | sed -E 's/^INFO +//; s/ from .*//'
}

qemu() {
  local model
  for model in models/mcu-int8.nnm models/mcu.nnm models/seed-int8.nnm; do
    echo "== QEMU mps2-an386, $model (cd firmware && NN_MODEL=$model cargo run --release)"
    (cd firmware && NN_MODEL=$model cargo run --release 2>&1) | summary
  done
}

pico() {
  echo "== Raspberry Pi Pico in rp2040js (cd firmware && cargo run-pico)"
  (cd firmware && cargo run-pico 2>&1) | summary
}

# size of one ELF: flash (text + data) and RAM besides the stack (data + bss), in bytes.
size_of() {
  size "$1" | awk 'NR == 2 { printf "flash %d B (text %d + data %d), RAM %d B (data %d + bss %d)\n",
    $1 + $2, $1, $2, $2 + $3, $2, $3 }'
}

sizes() {
  local board alias dir target elf
  (cd firmware && cargo build --release -q)
  echo "== sizes, int8 784-128-10"
  echo "QEMU mps2-an386: $(size_of firmware/target/thumbv7em-none-eabihf/release/mnist-firmware)"
  for board in nucleo:nucleo:thumbv7em-none-eabihf nrf:nrf:thumbv7em-none-eabihf \
    pico:pico:thumbv6m-none-eabi pico2:pico2:thumbv8m.main-none-eabihf; do
    IFS=: read -r alias dir target <<<"$board"
    (cd firmware && cargo "build-$alias" -q)
    elf=firmware/target/$dir/$target/release/mnist-firmware
    echo "$alias: $(size_of "$elf")"
  done
  (cd firmware && NN_MODEL=models/mcu.nnm cargo build-nucleo -q)
  elf=firmware/target/nucleo/thumbv7em-none-eabihf/release/mnist-firmware
  echo "nucleo, f32 (NN_MODEL=models/mcu.nnm): $(size_of "$elf")"
  (cd firmware && NN_MODEL=models/seed-int8.nnm cargo build --release -q)
  elf=firmware/target/thumbv7em-none-eabihf/release/mnist-firmware
  echo "QEMU, 784-1024-10 int8 (NN_MODEL=models/seed-int8.nnm): $(size_of "$elf")"
  # Leave the default build in place, as a plain `cargo build --release` would.
  (cd firmware && cargo build --release -q)
}

wasm() {
  echo "== the page's wasm: $(wc -c <nn-wasm/www/nn_wasm.wasm) B (nn-wasm/www/nn_wasm.wasm)"
}

accuracy() {
  local out
  out=$(mktemp -d)
  trap 'rm -rf "$out"' RETURN
  echo "== int8 quantisation of firmware/models/mcu.nnm (host-trainer quantize)"
  cargo run --release -q -p host-trainer -- quantize --model firmware/models/mcu.nnm --out "$out/mcu-int8.nnm"
  echo "file sizes: $(wc -c <firmware/models/mcu.nnm) B f32, $(wc -c <"$out/mcu-int8.nnm") B int8"
}

for part in "${parts[@]}"; do
  case $part in
    qemu | pico | sizes | wasm | accuracy) "$part" ;;
    *) echo "measure.sh: unknown part '$part' (qemu, pico, sizes, wasm, accuracy)" >&2; exit 2 ;;
  esac
done
