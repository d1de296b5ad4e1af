"""The resource limits of student code (:class:`Limits`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

ISOLATIONS = ("auto", "bwrap", "unshare", "none")


@dataclass(frozen=True)
class Limits:
    """Resource limits of student code.

    Time: every call has a wall-clock limit (``call_seconds``); every test has a
    wall-clock limit (``test_seconds``) and a CPU-time budget (``cpu_seconds``)
    shared by its calls. Memory: address space per process (``memory_bytes``), and the
    whole tree of a worker's processes where a cgroup can hold it. ``processes`` bounds
    the processes and threads of a worker's tree, ``open_files`` its open files per
    process. ``output_bytes`` is the largest file the worker may write (its
    stdout/stderr are discarded), ``reply_bytes`` the largest reply accepted,
    ``decoded_bytes`` the most array data decoded from one reply, ``scratch_bytes``
    the size of its private ``/tmp`` when isolated. ``isolation``: ``auto`` (best
    available), ``bwrap``, ``unshare`` or ``none``.
    """

    call_seconds: float = 30.0
    cpu_seconds: float = 20.0
    test_seconds: float = 60.0
    memory_bytes: int = 2 * 1024**3
    output_bytes: int = 1024**2
    reply_bytes: int = 64 * 1024**2
    decoded_bytes: int = 256 * 1024**2
    scratch_bytes: int = 64 * 1024**2
    processes: int = 64
    open_files: int = 256
    start_seconds: float = 30.0
    isolation: str = field(default_factory=lambda: os.environ.get("DLNP_ISOLATION", "auto"))
