"""Processes on Linux, read from ``/proc``: find a worker, measure its CPU, kill what it left.

Every worker is started with ``DLNP_WORKER_TOKEN=<token>`` in its environment, so the
processes it starts can be found again (:func:`kill_tagged`), and, when the grader is
root, as a dedicated user whose every process can be killed at once (:mod:`.users`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from typing import Any

TOKEN_VAR = "DLNP_WORKER_TOKEN"
#: Tokens of every worker this process started (the kit's tests check that none is left running).
ISSUED_TOKENS: set[str] = set()

_LIBC: Any = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError):
        _LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def prctl(option: int, value: int) -> None:
    """``prctl(option, value)`` (Linux; no-op elsewhere)."""
    if _LIBC is not None:
        _LIBC.prctl(option, value, 0, 0, 0)


def die_with_parent() -> None:
    """``preexec_fn``: the child gets SIGKILL when this process dies (Linux; no-op elsewhere)."""
    prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def no_new_privileges() -> None:
    """No exec of this process or its children can gain privileges (set-uid programs, file capabilities)."""
    prctl(_PR_SET_NO_NEW_PRIVS, 1)


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from ``/proc``; empty where unavailable)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(x) for x in fh.read().split()]
        except (OSError, ValueError):
            continue
    return out


def descendants(pid: int, limit: int = 4096) -> list[int]:
    """``pid``'s children, their children, and so on (at most ``limit``)."""
    found: list[int] = []
    queue = children(pid)
    while queue and len(found) < limit:
        found += queue
        queue = [c for p in queue for c in children(p)]
    return found[:limit]


def cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def find_worker(root: int, program: str, marker: bytes) -> int | None:
    """The host pid of the process under ``root`` running ``program`` with ``marker`` in its arguments."""
    queue = [root]
    for _ in range(6):
        if not queue:
            break
        for pid in queue:
            argv = cmdline(pid).split(b"\0")
            if argv[0] == program.encode() and marker in argv:
                return pid
        queue = [child for pid in queue for child in children(pid)]
    return None


def cpu_seconds_of(pid: int) -> float | None:
    """CPU time (user + system, all threads, waited-for children) of ``pid``, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    # fields[11..14] are utime, stime, cutime, cstime (stat fields 14-17)
    return sum(int(x) for x in fields[11:15]) / _CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU time of ``pid`` and of every live descendant (each with its waited-for children)."""
    own = cpu_seconds_of(pid)
    if own is None:
        return None
    return own + sum(cpu_seconds_of(child) or 0.0 for child in descendants(pid))


def _pids() -> list[int]:
    try:
        return [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return []


def kill_tagged(token: str) -> int:
    """SIGKILL every process whose environment carries ``TOKEN_VAR=token``; return how many."""
    needle = f"{TOKEN_VAR}={token}".encode()
    killed = 0
    me = os.getpid()
    for pid in _pids():
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                env = fh.read()
        except OSError:
            continue
        if needle in env.split(b"\0"):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
    return killed


def is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return True
    return stat[stat.rindex(b")") + 2 :][:1] in (b"Z", b"X")


def tagged_processes(token: str) -> list[int]:
    """Pids of live (non-zombie) processes tagged with ``token`` (used by the kit's tests)."""
    needle = f"{TOKEN_VAR}={token}".encode()
    found: list[int] = []
    for pid in _pids():
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if needle not in fh.read().split(b"\0"):
                    continue
        except OSError:
            continue
        if not is_zombie(pid):
            found.append(pid)
    return found


def processes_of_user(uid: int, zombies: bool = False) -> list[int]:
    """Pids of live processes (and, with ``zombies``, dead ones not yet reaped) whose real uid
    is ``uid`` (from ``/proc/<pid>/status``, which a process cannot hide by making itself non-dumpable)."""
    found: list[int] = []
    for pid in _pids():
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                status = fh.read()
        except OSError:
            continue
        start = status.find(b"\nUid:")
        if start < 0 or int(status[start + 5 :].split(maxsplit=1)[0]) != uid:
            continue
        state = status.find(b"\nState:")
        if zombies or (state >= 0 and status[state + 7 :].split(maxsplit=1)[0] not in (b"Z", b"X")):
            found.append(pid)
    return found
