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

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension


class IdxError(Exception):
    """A file that is not the IDX array it should be."""


def default_data_dir():
    # Where the host trainer looks (data::default_dir): $MNIST_MCU_DATA, else the cache dir.
    if os.environ.get("MNIST_MCU_DATA"):
        return Path(os.environ["MNIST_MCU_DATA"])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "mnist-mcu" / "mnist"


def read_idx(path, magic):
    """The uint8 array in an IDX file whose header starts with `magic`."""
    data = path.read_bytes()
    dims = magic & 0xFF
    header = 4 + 4 * dims
    if len(data) < header:
        raise IdxError(f"{path}: {len(data)} bytes, shorter than the IDX header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise IdxError(f"{path}: magic {found:#010x}, expected {magic:#010x}")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    if len(data) - header != int(np.prod(shape)):
        raise IdxError(f"{path}: header says {shape}, body has {len(data) - header} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def load_split(directory, prefix):
    images = read_idx(directory / f"{prefix}-images-idx3-ubyte", IMAGES_MAGIC)
    labels = read_idx(directory / f"{prefix}-labels-idx1-ubyte", LABELS_MAGIC)
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise IdxError(f"{directory}/{prefix}: {images.shape} images, {labels.shape} labels")
    # Raw 0-255 pixels as the blog fed them: no scaling.
    return images.astype(np.float32), labels.astype(np.int64)


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
