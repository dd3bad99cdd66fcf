"""The IDX file format of (Fashion-)MNIST: a big-endian header (magic, then one int32 per dimension), then
the uint8 values. Written here; torchvision parses it, after check_idx_file has vouched for the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from betavae.errors import DataError
from betavae.io import atomic_write

_IDX_UINT8 = 0x08


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (big-endian header: magic, then one int32 per dim)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, _IDX_UINT8, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    with atomic_write(path, "wb") as f:
        f.write(header + array.tobytes())


def check_idx_file(path: Path, ndim: int) -> None:
    """Check an uncompressed uint8 IDX file's magic number and size before anything parses it."""
    if not path.is_file():
        raise DataError(f"missing data file {path}; run `dvc repro download`")
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(4 + 4 * ndim)
    expected_magic = bytes([0, 0, _IDX_UINT8, ndim])
    if header[:4] != expected_magic:
        raise DataError(f"{path}: not a uint8 IDX file of {ndim} dimensions (magic {header[:4].hex() or 'none'}, "
                        f"expected {expected_magic.hex()}); run `dvc repro download` to fetch it again")
    if len(header) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated header ({size} bytes)")
    expected_size = len(header) + int(np.prod(np.frombuffer(header[4:], dtype=">i4").astype(np.int64)))
    if size != expected_size:
        raise DataError(f"{path}: {size} bytes, expected {expected_size} from its header (truncated or corrupt); "
                        f"run `dvc repro download` to fetch it again")
