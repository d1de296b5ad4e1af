"""Moving frames over the worker's pipes without ever blocking past a deadline.

A frame is ``8-byte little-endian length`` + body (see :mod:`autograder.worker_runtime`).
The grader never waits on a worker that does not read or does not answer: every wait
is a ``select`` with a deadline, and while a call runs its CPU time is checked every
:data:`POLL_SECONDS`.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Callable

from . import wording
from .errors import StudentRaised, StudentTimeout

POLL_SECONDS = 0.2


def write_frame(fd: int, frame: bytes, deadline: float, label: str) -> None:
    """Send a request on the non-blocking ``fd``, never blocking past ``deadline``."""
    view = memoryview(frame)
    while view:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StudentTimeout(wording.stopped_reading(label), label)
        _, ready, _ = select.select([], [fd], [], min(remaining, POLL_SECONDS))
        if ready:
            with contextlib.suppress(BlockingIOError):
                view = view[os.write(fd, view[: 1 << 20]) :]


def read_frame(fd: int, deadline: float, label: str, max_bytes: int, *,
               too_late: Callable[[], str], over_cpu: Callable[[], str | None]) -> bytes:
    """Read one frame body from ``fd``.

    At ``deadline`` raises :class:`StudentTimeout` with the message ``too_late()``;
    whenever nothing arrives for a while, ``over_cpu()`` may return a message that ends
    the call. A body longer than ``max_bytes`` is refused before it is read.
    """
    buf = bytearray()
    need = 8
    size: int | None = None
    while len(buf) < need:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StudentTimeout(too_late(), label)
        ready, _, _ = select.select([fd], [], [], min(remaining, POLL_SECONDS))
        if not ready:
            message = over_cpu()
            if message is not None:
                raise StudentTimeout(message, label)
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            raise EOFError
        buf += chunk
        if size is None and len(buf) >= 8:
            size = int.from_bytes(buf[:8], "little")
            if size > max_bytes:
                raise StudentRaised(wording.reply_too_large(label, max_bytes), label)
            need = 8 + size
    return bytes(buf[8:need])
