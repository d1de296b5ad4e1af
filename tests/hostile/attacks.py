"""Attack code run as a student's module (``neural_network/attacks.py``) by the containment tests.

Each function tries one thing a hostile submission would try and returns what it
managed, as plain data; it never relies on the kit (it runs inside the worker).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time


def identity() -> dict[str, object]:
    """Who the worker is, as the kernel sees it from inside."""
    status = open("/proc/self/status").read().splitlines()
    fields = {line.split(":")[0]: line.split(":", 1)[1].strip() for line in status if ":" in line}
    return {"uid": os.getuid(), "groups": sorted(os.getgroups()), "cap_eff": fields.get("CapEff", ""),
            "cap_bnd": fields.get("CapBnd", ""), "no_new_privs": fields.get("NoNewPrivs", "")}


def read_files(paths: list[str]) -> list[str]:
    """The paths whose contents could be read."""
    opened: list[str] = []
    for path in paths:
        try:
            with open(path, "rb") as fh:
                fh.read(16)
            opened.append(path)
        except OSError:
            pass
    return opened


def write_sysctls() -> list[str]:
    """Sysctls that could be opened for writing (the same value is written back)."""
    written: list[str] = []
    for path in ("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/hostname", "/proc/sys/vm/overcommit_memory",
                 "/proc/sysrq-trigger"):
        try:
            fd = os.open(path, os.O_WRONLY)
        except OSError:
            continue
        os.close(fd)
        written.append(path)
    return written


def open_devices(names: list[str], mode: str) -> list[str]:
    """The ``/dev`` entries that could be opened (``mode``: "r" or "w"), without blocking."""
    flags = (os.O_RDONLY if mode == "r" else os.O_WRONLY) | os.O_NONBLOCK | os.O_NOCTTY
    opened: list[str] = []
    for name in names:
        try:
            fd = os.open(f"/dev/{name}", flags)
        except OSError:
            continue
        os.close(fd)
        opened.append(name)
    return opened


def fork_bomb(count: int) -> int:
    """Start ``count`` sleeping processes; return how many started."""
    started = 0
    for _ in range(count):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        started += 1
    return started


def thread_bomb(count: int) -> int:
    """Start ``count`` sleeping threads; return how many started."""
    started = 0
    for _ in range(count):
        try:
            threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        except (RuntimeError, MemoryError):
            break
        started += 1
    return started


def memory_in_children(children: int, mib: int) -> int:
    """Fork ``children`` processes that each touch ``mib`` MiB and hold it; return how many hold it at
    once (reported their memory and are still alive: a cgroup's OOM killer may end a child after it reported)."""
    pipes = []
    pids = []
    for _ in range(children):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                block = bytearray(mib * 2**20)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                os.write(w, b"1")
                time.sleep(30)
            finally:
                os._exit(0)
        os.close(w)
        pipes.append(r)
        pids.append(pid)
    reported = []
    for r, pid in zip(pipes, pids, strict=True):
        with contextlib.suppress(OSError):
            if os.read(r, 1) == b"1":
                reported.append(pid)
    time.sleep(0.5)  # let a pending OOM kill land
    held = 0
    for pid in reported:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG) == (0, 0):
                held += 1
    return held


def memfd_fill(mib: int) -> int:
    """Write ``mib`` MiB into an anonymous memory file; return how many MiB it took."""
    fd = os.memfd_create("dlnp-hostile")
    chunk = b"x" * 2**20
    written = 0
    try:
        for _ in range(mib):
            os.write(fd, chunk)
            written += 1
    except OSError:
        pass
    return written


def shm_fill(mib: int) -> int:
    """Write ``mib`` MiB into files in ``/dev/shm``; return how many MiB it took."""
    written = 0
    chunk = b"x" * 2**20
    for i in range(mib):
        try:
            with open(f"/dev/shm/dlnp-hostile-{os.getpid()}-{i}", "wb") as fh:
                fh.write(chunk)
            written += 1
        except OSError:
            break
    return written


def cpu_in_child(seconds: float) -> float:
    """Burn CPU in a child process and wait for it: the parent itself uses none."""
    pid = os.fork()
    if pid == 0:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
        os._exit(0)
    os.waitpid(pid, 0)
    return seconds


def daemon(marker: str, target: str) -> int:
    """A double-forked daemon in a new session, re-executed with an empty environment, that
    keeps appending to ``target`` (if it can) for a minute. Returns at once."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                code = ("import sys, time\nfor _ in range(600):\n    try:\n"
                        "        open(sys.argv[1], 'a').write('x')\n    except OSError:\n        pass\n"
                        "    time.sleep(0.1)\n")
                os.execve(sys.executable, [sys.executable, "-c", code, target, marker], {})
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return 1


def forged_reply(references: int, mib: int) -> int:
    """Answer with a hand-made frame: one ``.npy`` blob of ``mib`` MiB referenced ``references`` times."""
    import io
    import json
    import struct

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.zeros(mib * 2**20 // 8), allow_pickle=False)
    blob = buf.getvalue()
    request_id, frame = None, sys._getframe()
    while frame is not None:
        header = frame.f_locals.get("header")
        if isinstance(header, dict) and "id" in header:
            request_id = header["id"]
        frame = frame.f_back
    value = [{"__nd__": 0}] * references
    head = json.dumps({"ok": True, "value": value, "id": request_id, "__blobs__": [len(blob)]}).encode()
    body = struct.pack("<I", len(head)) + head + blob
    os.write(int(sys.argv[2]), struct.pack("<Q", len(body)) + body)
    time.sleep(30)  # the grader has its reply: it must not wait for this call
    return 0


def forged_header(claimed: int) -> int:
    """Answer with a blob whose ``.npy`` header claims ``claimed`` float64 values (and holds none)."""
    import json
    import struct

    header = ("{'descr': '<f8', 'fortran_order': False, 'shape': (" + str(claimed) + ",), }").encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    blob = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    request_id, frame = None, sys._getframe()
    while frame is not None:
        found = frame.f_locals.get("header")
        if isinstance(found, dict) and "id" in found:
            request_id = found["id"]
        frame = frame.f_back
    head = json.dumps({"ok": True, "value": {"__nd__": 0}, "id": request_id, "__blobs__": [len(blob)]}).encode()
    body = struct.pack("<I", len(head)) + head + blob
    os.write(int(sys.argv[2]), struct.pack("<Q", len(body)) + body)
    time.sleep(30)
    return 0



def open_many(count: int) -> int:
    """Open ``count`` files at once; return how many could be open together."""
    held: list[int] = []
    try:
        for _ in range(count):
            held.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    finally:
        for fd in held:
            os.close(fd)
    return len(held)


def fill_scratch(mib: int) -> int:
    """Write up to ``mib`` files of 1 MiB in the working folder; return how many were written whole."""
    chunk = b"x" * 2**20
    written = 0
    for i in range(mib):
        try:
            with open(f"scratch-{i}.bin", "wb") as fh:
                fh.write(chunk)
            written += 1
        except OSError:
            break
    return written


def fill_everywhere(mib: int) -> int:
    """Write up to ``mib`` files of 1 MiB in each of the working folder, ``/tmp`` and ``/dev/shm``
    (in turn, one file each); return how many MiB were written whole."""
    chunk = b"x" * 2**20
    folders = [".", "/tmp", "/dev/shm"]
    written = 0
    for i in range(mib):
        full = 0
        for folder in folders:
            try:
                with open(f"{folder}/dlnp-hostile-scratch-{os.getpid()}-{i}", "wb") as fh:
                    fh.write(chunk)
                written += 1
            except OSError:
                full += 1
        if full == len(folders):
            break
    return written


def pause(seconds: float) -> float:
    """Do nothing for ``seconds`` (gives the grader's scratch watchdog several polls)."""
    time.sleep(seconds)
    return seconds


def count_scratch() -> int:
    """How many files :func:`fill_everywhere` left that this worker can see."""
    return sum(1 for folder in (".", "/tmp", "/dev/shm") for name in os.listdir(folder)
               if name.startswith("dlnp-hostile-scratch-"))
