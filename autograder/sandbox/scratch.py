"""A bound on the scratch disk of a worker that has no private ``/tmp`` (:class:`ScratchWatch`).

With namespaces, a worker writes only in tmpfs mounts of ``Limits.scratch_bytes`` made
for it. Without namespaces (a container, the grader root), it runs as a dedicated uid
and may write in its working folder and in the host's world-writable folders
(``/tmp``, ``/var/tmp``, ``/dev/shm``): ``RLIMIT_FSIZE`` bounds each file, not their
number. A :class:`ScratchWatch` bounds the total from the trusted side: a thread of the
grading process measures, every :data:`POLL_SECONDS`, the bytes held by

- every file in the worker's working folder;
- every file the uid owns at the top of the world-writable folders, and everything
  inside the folders it owns there;
- every file a process of the uid holds open after deleting it (also ``memfd``), every
  :data:`OPEN_FILES_EVERY` polls;

each walk bounded (:data:`MAX_ENTRIES`). When the total exceeds the bound, or the uid
holds more than :data:`MAX_ENTRIES` entries, it kills every process of the uid at once
and records why (:attr:`ScratchWatch.tripped`); the grader then fails the running call
with that line and deletes the files (:meth:`ScratchWatch.clear`). The bound is a poll:
the worker may exceed it by what it writes in one interval before it is stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .processes import processes_of_user
from .users import SHARED_WRITABLE, WorkerUser

#: How often the files are measured (s).
POLL_SECONDS = 0.2
#: Files held open after deletion are measured every this many polls (it reads every process's status).
OPEN_FILES_EVERY = 5
#: Most entries measured in one poll (and most entries the worker may hold); most open files looked at.
MAX_ENTRIES = 10_000
#: Most entries listed at the top of one world-writable folder (most of them other users').
MAX_LISTED = 100_000


def _held(info: os.stat_result) -> int:
    """Bytes of storage a file holds (its allocated blocks: a sparse file holds what it wrote)."""
    return info.st_blocks * 512


@dataclass
class Usage:
    """What one measure found: bytes held and entries counted (``capped``: a walk stopped at its cap)."""

    bytes: int = 0
    entries: int = 0
    capped: bool = False
    seen: set[tuple[int, int]] = field(default_factory=lambda: set())

    def add(self, info: os.stat_result) -> None:
        """Count one entry (a file linked twice or also held open is counted once)."""
        self.entries += 1
        if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) not in self.seen:
            self.seen.add((info.st_dev, info.st_ino))
            self.bytes += _held(info)


def _walk(folder: str, usage: Usage, uid: int | None) -> None:
    """Count everything under ``folder`` (only entries owned by ``uid`` when given), never following a link."""
    stack = [folder]
    while stack:
        try:
            listing = os.scandir(stack.pop())
        except OSError:
            continue
        with listing:
            for entry in listing:
                if usage.entries >= MAX_ENTRIES:
                    usage.capped = True
                    return
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if uid is not None and info.st_uid != uid:
                    continue
                usage.add(info)
                if stat.S_ISDIR(info.st_mode):
                    stack.append(entry.path)


def measure(uid: int, work: Path, shared: tuple[str, ...] = SHARED_WRITABLE, open_files: bool = True) -> Usage:
    """The scratch storage held by ``uid``: its working folder ``work``, its entries in ``shared``
    (and everything inside its folders there), and, with ``open_files``, deleted files its processes hold."""
    usage = Usage()
    _walk(str(work), usage, None)
    for folder in shared:
        try:
            listing = os.scandir(folder)
        except OSError:
            continue
        with listing:
            for listed, entry in enumerate(listing):
                if listed >= MAX_LISTED or usage.entries >= MAX_ENTRIES:
                    usage.capped = True
                    break
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if info.st_uid != uid:
                    continue
                usage.add(info)
                if stat.S_ISDIR(info.st_mode):
                    _walk(entry.path, usage, None)
    if open_files:
        _open_deleted_files(uid, usage)
    return usage


def _open_deleted_files(uid: int, usage: Usage) -> None:
    """Count the regular files that processes of ``uid`` hold open and that have no name left."""
    looked = 0
    for pid in processes_of_user(uid):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            looked += 1
            if looked > MAX_ENTRIES:
                return
            try:
                info = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_nlink == 0:
                usage.add(info)


class ScratchWatch:
    """Measures the scratch storage of ``user`` every :data:`POLL_SECONDS` in a thread, and kills
    every process of the user when it holds more than ``limit_bytes`` (or too many entries)."""

    def __init__(self, user: WorkerUser, work: Path, limit_bytes: int) -> None:
        self.user = user
        self.work = work
        self.limit_bytes = limit_bytes
        #: Why the worker was stopped (None while it was not): read by the grader after a failed call.
        self.tripped: str | None = None
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching (once; a worker restarted later is watched by the same thread)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="dlnp-scratch-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        polls = 0
        while not self._stop.wait(POLL_SECONDS):
            if self.tripped is not None:
                continue  # waiting for the grader to read why and clear the files
            try:
                self.check(open_files=polls % OPEN_FILES_EVERY == 0)
            except Exception:  # a watchdog never takes the grading down; the next poll tries again
                pass
            polls += 1

    def check(self, open_files: bool = True) -> Usage:
        """Measure once; over the bound, kill every process of the user and record why."""
        usage = measure(self.user.uid, self.work, open_files=open_files)
        self.peak_bytes = max(self.peak_bytes, usage.bytes)
        mib = self.limit_bytes / 2**20
        if usage.bytes > self.limit_bytes:
            self._trip(f"wrote more than {mib:g} MiB of scratch files ({usage.bytes / 2**20:.0f} MiB in its "
                       "working folder, /tmp, /var/tmp and /dev/shm)")
        elif usage.capped and usage.entries >= MAX_ENTRIES:
            self._trip(f"made more than {MAX_ENTRIES} scratch files and folders (in its working folder, /tmp, "
                       "/var/tmp and /dev/shm)")
        return usage

    def _trip(self, why: str) -> None:
        self.tripped = why
        self.user.kill_all()

    def clear(self) -> None:
        """Delete what the user wrote (its working folder's files, its entries in the shared folders)
        and watch again. Call it once the worker is dead."""
        self.user.kill_all()
        self.user.remove_files()
        with contextlib.suppress(OSError), os.scandir(self.work) as listing:
            for entry in listing:
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_uid != self.user.uid:
                        continue  # the grader's own (the link to the package)
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path)  # never follows a link
                    else:
                        os.unlink(entry.path)
        self.tripped = None
