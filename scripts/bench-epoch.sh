#!/usr/bin/env bash
# Seconds per epoch of `train --preset seed` against the seed blog's Keras model, measured
# back to back on this machine, both on the same thread count (issue 3: ours must be at
# most 1/3 of Keras's time per epoch).
#
# One-time setup of the Keras side (a venv outside the repository):
#   python3 -m venv /tmp/kerasenv
#   /tmp/kerasenv/bin/pip install -r benches/keras/requirements.txt
#
# Usage: scripts/bench-epoch.sh
# Environment:
#   KERAS_PYTHON  the venv's python (default /tmp/kerasenv/bin/python)
#   EPOCHS        epochs for both (default 5; the table's median skips the first)
#   THREADS       threads for both (default 2)
#   MNIST_MCU_DATA  directory with the MNIST IDX files (default ~/.cache/mnist-mcu/mnist)
#   BENCH_DIR     where the models and JSON records go (default a fresh temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."

KERAS_PYTHON=${KERAS_PYTHON:-/tmp/kerasenv/bin/python}
EPOCHS=${EPOCHS:-5}
THREADS=${THREADS:-2}
DATA=${MNIST_MCU_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/mnist-mcu/mnist}
BENCH_DIR=${BENCH_DIR:-$(mktemp -d -t bench-epoch.XXXXXX)}
mkdir -p "$BENCH_DIR"

if ! "$KERAS_PYTHON" -c 'import tensorflow, keras' 2>/dev/null; then
  echo "error: $KERAS_PYTHON cannot import tensorflow and keras; see the setup at the top of $0" >&2
  exit 1
fi

step() { printf '\n==> %s\n' "$*" >&2; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Build first so the compiler is done before anything is timed.
step "building host-trainer (release)"
cargo build --release -p host-trainer

step "ours: train --preset seed, $EPOCHS epochs, $THREADS threads"
cargo run --release -q -p host-trainer -- train --preset seed --epochs "$EPOCHS" \
  --threads "$THREADS" --data "$DATA" \
  --out "$BENCH_DIR/ours.nnm" --metrics "$BENCH_DIR/ours.json"

step "Keras: benches/keras/seed.py, $EPOCHS epochs, $THREADS threads"
"$KERAS_PYTHON" benches/keras/seed.py --epochs "$EPOCHS" --threads "$THREADS" \
  --data "$DATA" --json "$BENCH_DIR/keras.json"

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

"$KERAS_PYTHON" - "$BENCH_DIR/ours.json" "$BENCH_DIR/keras.json" <<'PY'
import json, statistics, sys

def summary(path):
    run = json.load(open(path))
    seconds = [e["seconds"] for e in run["epochs"]]
    # The first epoch pays for warm-up (Keras traces its step function); skip it when
    # there are later ones.
    steady = seconds[1:] or seconds
    return statistics.median(steady), seconds, run["test_accuracy"]

ours, ours_all, ours_acc = summary(sys.argv[1])
keras, keras_all, keras_acc = summary(sys.argv[2])
print()
print(f"{'':8} {'s/epoch (median, epochs 2..)':>29} {'test acc':>9}   all epochs (s)")
for name, s, all_, acc in (("ours", ours, ours_all, ours_acc), ("keras", keras, keras_all, keras_acc)):
    print(f"{name:8} {s:29.2f} {100 * acc:8.2f}%   " + " ".join(f"{x:.2f}" for x in all_))
print(f"ratio ours/keras: {ours / keras:.3f} (target <= 0.333); keras/ours: {keras / ours:.1f}x")
PY
echo "records in $BENCH_DIR"
