"""The seed blog's Keras model, timed per epoch: the reference for `--preset seed`.

Flatten -> Dense(1024, sigmoid) -> Dense(10, softmax), Adam with Keras's defaults
(lr 1e-3, beta 0.9/0.999, eps 1e-7), sparse categorical cross-entropy, batch 32, raw 0-255
pixels, on MNIST read from the raw IDX files (nothing is downloaded). TensorFlow is held to
2 threads (intra- and inter-op) so the comparison with our trainer is on equal cores.

An epoch's seconds are the wall time of its training pass (the fit has no validation data),
the same span the host trainer's metrics report; the test set is evaluated once, at the end.
The first epoch also traces and compiles the training step, so compare later epochs.

    python benches/keras/seed.py [--data DIR] [--epochs 5] [--threads 2] [--json FILE]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from mnist_idx import IdxError, default_data_dir, load_split


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=default_data_dir(), help="directory with the MNIST IDX files")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2, help="TensorFlow intra- and inter-op threads")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, help="write per-epoch seconds and test accuracy here")
    args = p.parse_args()

    try:
        x_train, y_train = load_split(args.data, "train")
        x_test, y_test = load_split(args.data, "t10k")
    except (OSError, IdxError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import keras

    # Must happen before TensorFlow runs its first op.
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(args.seed)

    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(1024, activation="sigmoid"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.start
            logs = logs or {}
            self.epochs.append(
                {
                    "epoch": epoch + 1,
                    "seconds": seconds,
                    "loss": float(logs.get("loss", float("nan"))),
                    "accuracy": float(logs.get("accuracy", float("nan"))),
                }
            )
            print(f"epoch {epoch + 1}: {seconds:.2f} s", flush=True)

    print(
        f"tensorflow {tf.__version__}, keras {keras.__version__}, {args.threads} threads, "
        f"batch {args.batch_size}, {args.epochs} epochs, {len(x_train)} examples",
        flush=True,
    )
    timer = EpochTimer()
    model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.epochs,
        callbacks=[timer],
        verbose=2,
    )
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test: accuracy {100 * test_accuracy:.2f} % loss {test_loss:.4f}")

    if args.json:
        record = {
            "epochs": timer.epochs,
            "test_accuracy": float(test_accuracy),
            "test_loss": float(test_loss),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "threads": args.threads,
            "batch_size": args.batch_size,
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
