"""Bounded decoding of worker replies (``autograder.sandbox.codec``)."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from autograder.sandbox.codec import BlobDecoder, decode_reply_value, reply_special


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def test_a_blob_referenced_many_times_is_decoded_once() -> None:
    blobs = [_npy(np.arange(1000.0))]
    decoder = BlobDecoder(blobs, budget=10_000)  # room for one copy (8000 bytes), not 2000
    value = decode_reply_value([{"__nd__": 0}] * 2000, decoder, reply_special(1, None))
    assert len(value) == 2000 and all(v is value[0] for v in value)
    np.testing.assert_array_equal(value[0], np.arange(1000.0))


def test_the_budget_is_checked_from_the_header_before_allocating() -> None:
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (10000000000,), }"
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    blob = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    decoder = BlobDecoder([blob], budget=2**30)
    with pytest.raises(ValueError, match="more array data"):
        decode_reply_value({"__nd__": 0}, decoder, reply_special(1, None))


def test_distinct_blobs_share_one_budget() -> None:
    blobs = [_npy(np.zeros(100)) for _ in range(3)]  # 800 bytes each
    decoder = BlobDecoder(blobs, budget=2000)
    with pytest.raises(ValueError, match="more array data"):
        decode_reply_value([{"__nd__": 0}, {"__nd__": 1}, {"__nd__": 2}], decoder, reply_special(1, None))


def test_object_arrays_and_missing_blobs_are_refused() -> None:
    payload = np.empty(1, dtype=object)
    buf = io.BytesIO()
    np.save(buf, payload, allow_pickle=True)
    with pytest.raises(ValueError):
        BlobDecoder([buf.getvalue()], budget=2**20).load(0)
    with pytest.raises(ValueError, match="missing blob"):
        BlobDecoder([], budget=2**20).load(3)
