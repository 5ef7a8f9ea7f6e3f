"""The IDX reader: magic numbers, big-endian dimensions, payload length, gzip or plain."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scratchnn.data import read_idx
from scratchnn.data.idx import parse_idx, read_payload

_TYPE_CODES = {"u1": 0x08, "i1": 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file written independently of the reader under test."""
    big_endian = array.astype(array.dtype.newbyteorder(">"))
    code = _TYPE_CODES[big_endian.dtype.str.replace("|", "")]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + big_endian.tobytes()


def test_reads_real_mnist_labels(shared_data):
    labels = read_idx(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz")
    assert labels.shape == (10000,)
    assert labels.dtype == np.uint8
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_reads_real_mnist_images(shared_data):
    images = read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")
    assert images.shape == (10000, 28, 28)
    assert images.dtype == np.uint8
    assert images.max() == 255
    assert images.flags.writeable


@pytest.mark.parametrize("compress", [False, True])
def test_plain_and_gzip_files(tmp_path, compress):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    data = idx_bytes(array)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    result = read_idx(path)
    np.testing.assert_array_equal(result, array)
    assert result.dtype == np.uint8


def test_gzip_is_detected_by_content_not_name(tmp_path):
    array = np.arange(5, dtype=np.uint8)
    (tmp_path / "plain.gz").write_bytes(idx_bytes(array))
    (tmp_path / "compressed").write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(tmp_path / "plain.gz"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "compressed"), array)


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", ">i4", ">f4", ">f8"])
def test_all_idx_types_in_native_byte_order(dtype):
    values = [[0, 1], [2, 100]] if dtype == "u1" else [[0, -1], [2, 100]]
    array = np.array(values, dtype=dtype)
    result = parse_idx(idx_bytes(array))
    np.testing.assert_array_equal(result, array)
    assert result.dtype.isnative
    assert result.flags.writeable


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.int16, np.int32, np.float64]),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    )
)
def test_round_trip_any_shape(array):
    result = parse_idx(idx_bytes(array))
    assert result.shape == array.shape
    np.testing.assert_array_equal(result, array)


def test_big_endian_dimensions():
    data = idx_bytes(np.zeros((300, 2), dtype=np.uint8))
    assert data[4:8] == b"\x00\x00\x01\x2c"  # 300, most significant byte first
    assert parse_idx(data).shape == (300, 2)


def test_bad_magic_number():
    with pytest.raises(ValueError, match=r"thing: not an IDX file \(magic number 1f8b0803"):
        parse_idx(b"\x1f\x8b\x08\x03" + bytes(20), name="thing")


def test_unknown_type_code():
    with pytest.raises(ValueError, match="unknown IDX type code 0x07"):
        parse_idx(b"\x00\x00\x07\x01\x00\x00\x00\x01\x00")


def test_too_short_for_magic():
    with pytest.raises(ValueError, match="not an IDX file"):
        parse_idx(b"\x00\x00")


def test_truncated_header():
    with pytest.raises(ValueError, match="truncated IDX header"):
        parse_idx(b"\x00\x00\x08\x03\x00\x00\x00\x02")


def test_truncated_payload_names_file(tmp_path):
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros((4, 28, 28), dtype=np.uint8))[:-10])
    with pytest.raises(ValueError, match=r"short-idx3-ubyte: truncated IDX file.*\(4, 28, 28\)"):
        read_idx(path)


def test_trailing_bytes():
    with pytest.raises(ValueError, match="3 unexpected bytes"):
        parse_idx(idx_bytes(np.zeros(4, dtype=np.uint8)) + b"abc")


def test_truncated_gzip_names_file(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))[:-20])
    with pytest.raises(ValueError, match="cut.gz: truncated or corrupt gzip"):
        read_payload(path)
    with pytest.raises(ValueError, match="cut.gz"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")
