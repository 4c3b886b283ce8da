"""TensorFlow Lite's side of the host inference comparison: one image through the
seed-sized model (784-1024-10, sigmoid hidden layer, softmax), float32 and int8, one thread.

Trains the seed architecture on 0-1 pixels with Keras (--epochs, default 1: inference speed
does not depend on the weights, accuracy does), converts it with the TFLite converter to
float32 and to int8 (post-training quantisation, 500 calibration images, float input and
output as a user would convert it), then for each model
  - evaluates the 10,000 test images (accuracy), and
  - times `invoke()` on single test images: --repeats runs of --images images each,
    the median microseconds per image and the fastest run's.
The interpreter is ai-edge-litert's default (its optimised kernels; XNNPACK for float32),
held to one thread. This project's side is `cargo bench --bench kernels -- inference`.

    python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install -r benches/tflite/requirements.txt
    /tmp/tfenv/bin/python benches/tflite/infer.py [--data DIR] [--epochs 1] [--json FILE]
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "keras"))
from mnist_idx import IdxError, default_data_dir, load_split  # noqa: E402


def timed_runs(interpreter, images, repeats):
    """Microseconds per image of each of `repeats` passes over `images`."""
    inp = interpreter.get_input_details()[0]["index"]
    per_image = []
    for _ in range(repeats):
        start = time.perf_counter()
        for x in images:
            interpreter.set_tensor(inp, x)
            interpreter.invoke()
        per_image.append(1e6 * (time.perf_counter() - start) / len(images))
    return per_image


def accuracy(interpreter, x_test, y_test):
    inp = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]
    correct = 0
    for x, y in zip(x_test, y_test):
        interpreter.set_tensor(inp, x[None, ...])
        interpreter.invoke()
        correct += int(interpreter.get_tensor(out).argmax() == y)
    return correct / len(y_test)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=default_data_dir(), help="directory with the MNIST IDX files")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--images", type=int, default=1000, help="images per timed pass")
    p.add_argument("--repeats", type=int, default=7, help="timed passes")
    p.add_argument("--json", type=Path, help="write the numbers here")
    args = p.parse_args()

    try:
        x_train, y_train = load_split(args.data, "train")
        x_test, y_test = load_split(args.data, "t10k")
    except (OSError, IdxError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    x_train, x_test = x_train / 255.0, x_test / 255.0

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(1024, activation="sigmoid"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, verbose=2)

    def convert(int8):
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        if int8:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([x[None, ...].astype(np.float32)] for x in x_train[:500])
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        return converter.convert()

    singles = [x[None, ...].astype(np.float32) for x in x_test[: args.images]]
    record = {"tensorflow": tf.__version__, "epochs": args.epochs, "models": {}}
    for name, int8 in (("float32", False), ("int8", True)):
        interpreter = Interpreter(model_content=convert(int8), num_threads=1)
        interpreter.allocate_tensors()
        acc = accuracy(interpreter, x_test.astype(np.float32), y_test)
        runs = timed_runs(interpreter, singles, args.repeats)
        record["models"][name] = {
            "test_accuracy": acc,
            "us_per_image_median": statistics.median(runs),
            "us_per_image_min": min(runs),
        }
        print(
            f"tflite {name}: accuracy {100 * acc:.2f} %, {statistics.median(runs):.1f} us/image "
            f"(median of {args.repeats} passes over {args.images} images; fastest {min(runs):.1f})",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
