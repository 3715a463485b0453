"""The IDX file format of MNIST and Fashion-MNIST (LeCun et al.), usually gzip-compressed.

    offset  type         value
    0       int32 (BE)   magic: 0x00 0x00, a type code (0x08 = unsigned byte), the number of dims
    4       int32 (BE)   size of dim 0 (N)
    8 ...   int32 (BE)   sizes of the other dims
    ...     uint8        N * prod(other dims) values, row-major

So the magic is 2051 (0x0803) for an image file (N, rows, cols) and 2049 (0x0801) for a label
file (N,). Every check below names the file, since "a wrong file in the cache" is the usual cause.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
GZIP_MAGIC = b"\x1f\x8b"
UBYTE = 0x08


class DataFormatError(ValueError):
    """A data file is not what it should be (wrong magic, wrong dims, truncated, not gzip)."""


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    if raw[:2] != GZIP_MAGIC:
        raise DataFormatError(f"{path}: not a gzip file (starts with {raw[:2].hex() or 'nothing'})")
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:   # EOFError: truncated stream; OSError: bad CRC
        raise DataFormatError(f"{path}: corrupt or truncated gzip data ({e})") from None


def read_idx(path, magic: int, shape: tuple) -> np.ndarray:
    """Read an unsigned-byte IDX file (gzip-compressed when its name ends in .gz).

    `magic`: the expected magic number (2051 images, 2049 labels). `shape`: the expected dims, with
    None for "any" (usually N), e.g. (None, 28, 28). Returns a writable uint8 array of that
    shape. Raises DataFormatError naming the file when any check fails.

        >>> read_idx("mnist/t10k-labels-idx1-ubyte.gz", 2049, (None,)).shape   # doctest: +SKIP
        (10000,)
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataFormatError(f"{path}: too short for an IDX header ({len(data)} bytes)")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataFormatError(f"{path}: wrong IDX magic number {found}, expected {magic}")
    type_code, ndim = data[2], data[3]
    if type_code != UBYTE:
        raise DataFormatError(f"{path}: IDX type code {type_code:#04x}, expected 0x08 (ubyte)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFormatError(f"{path}: truncated IDX header ({len(data)} of {header} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    same_rank = len(dims) == len(shape)
    if not same_rank or any(e is not None and d != e for d, e in zip(dims, shape, strict=True)):
        wanted = "(" + ", ".join("N" if e is None else str(e) for e in shape) + ")"
        raise DataFormatError(f"{path}: IDX dims {dims}, expected {wanted}")
    count = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != count:
        what = "truncated" if len(data) - header < count else "has trailing bytes"
        raise DataFormatError(
            f"{path}: {what}: {len(data) - header} data bytes after the header, "
            f"expected {count} for dims {dims}")
    # copy: frombuffer over bytes is read-only, and datasets may be normalised in place by users
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def write_idx(path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write a uint8 array as an IDX file (gzip when the name ends in .gz, or when asked).
    The inverse of read_idx; used by the tests to build small files."""
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, UBYTE, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + array.tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
    return path
