"""Turning grader values into request frames, and reply frames back into values, with bounds.

The frame format and the plain-data encoding are defined once, in
:mod:`autograder.worker_runtime` (the worker imports the same file). This module adds
the trusted side's part: the tags for values that are not data (:mod:`.values`), and a
bounded reading of replies, which come from student code and are never trusted: each
``.npy`` blob is decoded at most once however often the reply refers to it, its size is
read from its header and checked against a budget *before* anything is allocated, and
nothing is ever unpickled.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import worker_runtime as wire
from .errors import StudentCrashed
from .values import Fixture, Remote, RngState, Seed, StudentFunction

Array = np.ndarray[Any, Any]


def encode_request_value(obj: Any, modules: dict[str, str], generation: int, used: set[str]) -> Any:
    """The tag of a value that is not plain data (``NotImplemented`` for plain data).

    ``used`` collects the student modules the request refers to (they must be imported first).
    """
    if isinstance(obj, Seed):
        return {"__seed__": int(obj.value)}
    if isinstance(obj, StudentFunction):
        used.add(modules[obj.name])
        return {"__fn__": ["student", f"{modules[obj.name]}.{obj.name}"]}
    if isinstance(obj, Fixture):
        return {"__fn__": ["fixture", obj.name]}
    if isinstance(obj, Remote):
        if obj.generation != generation:
            raise StudentCrashed("this object was lost when an earlier call crashed the worker")
        return {"__handle__": obj.handle}
    return NotImplemented


class BlobDecoder:
    """Loads the ``.npy`` blobs of one reply: each at most once, all within ``budget`` bytes."""

    def __init__(self, blobs: list[bytes], budget: int) -> None:
        self.blobs = blobs
        self.budget = budget
        self.decoded: dict[int, Array] = {}

    def load(self, index: int) -> Array:
        if index in self.decoded:
            return self.decoded[index]
        if not 0 <= index < len(self.blobs):
            raise ValueError("reference to a missing blob")
        stream = io.BytesIO(self.blobs[index])
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy version {version}")
        if dtype.kind not in "biufc":
            raise ValueError(f"arrays of dtype {dtype} are not accepted")
        size = dtype.itemsize
        for n in shape:
            size *= int(n)
        if size > self.budget:
            raise ValueError("the reply holds more array data than the grader accepts")
        offset = stream.tell()
        if len(self.blobs[index]) - offset != size:
            raise ValueError("the array data does not match its header")
        self.budget -= size
        count = size // dtype.itemsize if dtype.itemsize else 0
        flat = np.frombuffer(self.blobs[index], dtype=dtype, count=count, offset=offset)
        array: Array = flat.reshape(shape, order="F" if fortran else "C").copy(order="K")
        self.decoded[index] = array
        return array


def decode_reply_value(data: Any, blobs: BlobDecoder, special: Callable[[str, Any], Any]) -> Any:
    """A value of a reply, decoded with ``blobs`` (bounded) and ``special`` for the trusted-side tags."""
    return wire.decode(data, blobs.blobs, special, load=blobs.load)


def reply_special(generation: int, owner: Any) -> Callable[[str, Any], Any]:
    """Decoder of the tags a worker may send back: object handles and generator states."""

    def special(key: str, value: Any) -> Any:
        if key == "__obj__":
            handle, type_name = value
            return Remote(owner, int(handle), str(type_name)[:100], generation)
        if key == "__rngstate__":
            return RngState(str(value)[:10_000])
        return wire.Opaque(f"unknown value {str(key)[:50]}")

    return special
