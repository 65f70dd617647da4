"""Reader for the IDX format of MNIST-style datasets (plain or gzipped).

An IDX file is two zero bytes, a type code, the number of dimensions, one big-endian uint32 per
dimension, then the values in big-endian C order. See http://yann.lecun.com/exdb/mnist/.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from nasforge.errors import DataError

__all__ = ["read_idx"]

_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path, *, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (gzipped if its name ends in `.gz`) into a read-only numpy array.

    Raises `DataError` naming the file when it cannot be read, is truncated, or its header does not
    match its size (or does not have `ndim` dimensions).
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                raw = handle.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(
            f"Cannot read IDX file {path}: {exc}. The file is missing or corrupt; delete it and fetch it again."
        ) from exc
    return parse_idx(raw, path, ndim=ndim)


def parse_idx(raw: bytes, path: str | Path, *, ndim: int | None = None) -> np.ndarray:
    """Parse the bytes of an IDX file; `path` only names the file in error messages."""

    def corrupt(what: str) -> DataError:
        return DataError(f"IDX file {path} is corrupt or truncated: {what}. Delete it and fetch it again.")

    if len(raw) < 4:
        raise corrupt(f"it holds {len(raw)} bytes, fewer than the 4-byte magic number")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise corrupt(f"bad magic number 0x{raw[:4].hex()} (expected 0x0000TTDD with a known type TT)")
    dims_count = raw[3]
    if ndim is not None and dims_count != ndim:
        raise corrupt(f"it has {dims_count} dimensions, but {ndim} were expected")
    header = 4 + 4 * dims_count
    if len(raw) < header:
        raise corrupt(f"it holds {len(raw)} bytes, fewer than its {header}-byte header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=dims_count, offset=4))
    dtype = _DTYPES[raw[2]]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise corrupt(f"the header promises shape {shape} ({expected} bytes) but it holds {len(raw)} bytes")
    # frombuffer shares the bytes instead of copying them, which keeps 70,000 images well under a second.
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
