"""Reader for the IDX format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the
values in C order. The magic number is two zero bytes, a type code and the number of
dimensions: ``00 00 08 03`` is "unsigned bytes, 3 dimensions" (the image files),
``00 00 08 01`` is "unsigned bytes, 1 dimension" (the label files).
See http://yann.lecun.com/exdb/mnist/ (bottom of the page) for the original description.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["parse_idx", "read_idx", "read_payload"]

# Type code -> element type. IDX stores multi-byte numbers big-endian, hence the '>'.
_IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"

#: The most bytes a data file may hold, decompressed (MNIST's largest holds 47 MB): a few
#: kilobytes of gzip can decompress to gigabytes, and a server may send without end.
MAX_PAYLOAD = 1 << 28


def read_payload(path: str | os.PathLike[str]) -> bytes:
    """Return the bytes of ``path``, decompressed if it is gzip.

    Compression is detected from the content, not the name, so a plain file called
    ``*.gz`` (or a gzip file without the suffix) is read correctly.

    Raises:
        ValueError: the file is gzip but truncated or corrupt, or holds more than
            :data:`MAX_PAYLOAD` bytes; the message names it.
    """
    path = Path(path)
    too_large = ValueError(f"{path}: more than {MAX_PAYLOAD} bytes of data: not a data set "
                           "file of scratchnn's")
    if path.stat().st_size > MAX_PAYLOAD:
        raise too_large
    data = path.read_bytes()
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            payload = f.read(MAX_PAYLOAD + 1)
    except (EOFError, OSError, zlib.error) as err:
        # EOFError is what a cut-off download looks like; the others are damaged bytes.
        raise ValueError(f"{path}: truncated or corrupt gzip file ({err})") from err
    if len(payload) > MAX_PAYLOAD:
        raise too_large
    return payload


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode the (already decompressed) bytes of an IDX file into an array.

    Args:
        data: the whole file content.
        name: what to call the data in error messages, usually its path.

    Returns:
        A new, writable array in native byte order with the shape from the header.

    Raises:
        ValueError: bad magic number, unknown type code, or a payload whose length does
            not match the dimensions in the header (truncated or with trailing bytes).
    """
    if len(data) < 4:
        raise ValueError(f"{name}: not an IDX file (only {len(data)} bytes)")
    zero1, zero2, type_code, ndim = data[:4]
    if zero1 != 0 or zero2 != 0:
        raise ValueError(
            f"{name}: not an IDX file (magic number {data[:4].hex()}, "
            "expected 0000 followed by a type code and the number of dimensions)"
        )
    if type_code not in _IDX_TYPES:
        raise ValueError(f"{name}: unknown IDX type code 0x{type_code:02x}")
    dtype = _IDX_TYPES[type_code]

    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"{name}: truncated IDX header ({len(data)} bytes, "
            f"{ndim} dimensions need {header_size})"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    count = math.prod(shape)
    expected = count * dtype.itemsize
    actual = len(data) - header_size
    if actual < expected:
        raise ValueError(
            f"{name}: truncated IDX file: header says shape {shape} ({expected} bytes of data), "
            f"but only {actual} bytes follow"
        )
    if actual > expected:
        raise ValueError(
            f"{name}: IDX file has {actual - expected} unexpected bytes after the data of "
            f"shape {shape}"
        )
    values = np.frombuffer(data, dtype=dtype, count=count, offset=header_size)
    # frombuffer shares the (read-only) bytes; astype gives an owned, writable, native copy.
    return values.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, plain or gzip-compressed, into a NumPy array.

    >>> images = read_idx("mnist/train-images-idx3-ubyte.gz")  # doctest: +SKIP
    >>> images.shape, images.dtype  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a valid IDX file; the message names the file and the problem.
    """
    return parse_idx(read_payload(path), name=str(path))
