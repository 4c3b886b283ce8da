"""MNIST's IDX files as numpy arrays, for the Python scripts beside this project's Rust
(the Keras epoch bench, the TFLite bench and fixtures). Reads the files the host trainer
fetched; downloads nothing."""

import os
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
