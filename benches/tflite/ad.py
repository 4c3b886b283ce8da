"""TensorFlow Lite's side of the anomaly-detection comparison: MLPerf Tiny's AD model
(640-128-128-128-128-8-128-128-128-128-640, int8, 264,192 MACs) on one thread.

Times `invoke()` on random int8 inputs (a fixed seed): --repeats runs of --inferences
inferences each, the median microseconds per inference and the fastest run's. The
interpreter is ai-edge-litert's default (its optimised kernels, XNNPACK where it applies),
held to one thread. This project's side is `cargo bench --bench kernels -- dense_i8_ad`,
the same shapes through `nn_core::kernels::dense_i8`.

    python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install -r benches/tflite/requirements.txt
    /tmp/tfenv/bin/python benches/tflite/ad.py [--model ../shared/models/ad01_int8.tflite]
"""

import argparse
import statistics
import sys
import time

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="../shared/models/ad01_int8.tflite")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--inferences", type=int, default=2000)
    args = parser.parse_args()
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        print(f"ad.py: ai-edge-litert is not installed ({e})", file=sys.stderr)
        return 2
    try:
        interpreter = Interpreter(model_path=args.model, num_threads=1)
    except (OSError, ValueError) as e:
        print(f"ad.py: cannot load {args.model}: {e}", file=sys.stderr)
        return 2
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    if inp["dtype"] != np.int8:
        print(f"ad.py: {args.model} takes {inp['dtype']}, not int8", file=sys.stderr)
        return 2
    rng = np.random.default_rng(1)
    xs = rng.integers(-128, 128, size=(64, *inp["shape"][1:]), dtype=np.int8)
    per_run = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for i in range(args.inferences):
            interpreter.set_tensor(inp["index"], xs[i % len(xs)][None])
            interpreter.invoke()
        per_run.append((time.perf_counter() - start) / args.inferences * 1e6)
    print(
        f"tflite int8 AD, 1 thread: median {statistics.median(per_run):.2f} us/inference, "
        f"fastest run {min(per_run):.2f} us"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
