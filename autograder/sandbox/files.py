"""The one way the trusted side reads a student's files: a bounded walk.

Only regular files and folders are read: a symlink, FIFO, socket or device is never
followed or opened for its contents (everything is opened relative to its folder's
descriptor with ``O_NOFOLLOW``, files with ``O_NONBLOCK``, and checked again with
``fstat`` after opening). The walk stops at caps on the number of files, the size of
one file and the total size, all counted by *logical* size (a sparse file of 512 MiB
counts as 512 MiB however little disk it uses). Names are bytes: any name the file
system allows, UTF-8 or not, is kept as it is.

:func:`copy_package` (what a worker sees) and :func:`package_digest` (what identifies a
submission) both read through :class:`BoundedWalk`, so the digest covers exactly the
files the worker can see.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SKIPPED_DIRS = frozenset({b"__pycache__"})


@dataclass(frozen=True)
class WalkLimits:
    """Caps of one walk (sizes in bytes, by logical size)."""

    max_files: int = 1000
    max_file_bytes: int = 8 * 1024**2
    max_total_bytes: int = 64 * 1024**2
    max_depth: int = 16


@dataclass
class BoundedWalk:
    """Regular files under ``root`` as ``(relative path as bytes parts, contents)``; ``skipped``
    says, one line each, what was left out and why."""

    root: Path
    limits: WalkLimits = field(default_factory=WalkLimits)
    skipped: list[str] = field(default_factory=lambda: [])
    files_read: int = 0
    bytes_read: int = 0

    def files(self) -> Iterator[tuple[tuple[bytes, ...], bytes]]:
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.root, flags)
        except OSError as exc:
            self.skipped.append(f"{self.root.name}: not a folder that can be read ({exc.strerror})")
            return
        try:
            yield from self._folder(fd, ())
        finally:
            os.close(fd)

    def _skip(self, rel: tuple[bytes, ...], why: str) -> None:
        if len(self.skipped) < 20:
            name = b"/".join(rel).decode("utf-8", "backslashreplace")
            self.skipped.append(f"{name}: {why}")

    def _folder(self, fd: int, rel: tuple[bytes, ...]) -> Iterator[tuple[tuple[bytes, ...], bytes]]:
        try:
            names = sorted(os.fsencode(n) for n in os.listdir(fd))
        except OSError:
            return
        for name in names:
            here = (*rel, name)
            try:
                info = os.lstat(name, dir_fd=fd)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                if name in SKIPPED_DIRS:
                    continue
                if len(here) > self.limits.max_depth:
                    self._skip(here, f"folders nested deeper than {self.limits.max_depth} levels are not read")
                    continue
                try:
                    sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except OSError:
                    continue
                try:
                    yield from self._folder(sub, here)
                finally:
                    os.close(sub)
            elif stat.S_ISREG(info.st_mode):
                if name.endswith(b".pyc"):
                    continue
                data = self._read(fd, here, info.st_size)
                if data is not None:
                    yield here, data
            else:
                self._skip(here, "not a regular file (a symlink, FIFO, socket or device): ignored")

    def _read(self, fd: int, rel: tuple[bytes, ...], size: int) -> bytes | None:
        limits = self.limits
        if self.files_read >= limits.max_files:
            self._skip(rel, f"more than {limits.max_files} files: the rest are ignored")
            return None
        if size > limits.max_file_bytes:
            self._skip(rel, f"larger than {limits.max_file_bytes // 2**20} MiB: ignored")
            return None
        if self.bytes_read + size > limits.max_total_bytes:
            self._skip(rel, f"the files add up to more than {limits.max_total_bytes // 2**20} MiB: ignored")
            return None
        try:
            file = os.open(rel[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC,
                           dir_fd=fd)
        except OSError:
            return None
        try:
            info = os.fstat(file)
            if not stat.S_ISREG(info.st_mode) or info.st_size > limits.max_file_bytes:
                self._skip(rel, "changed while it was read: ignored")
                return None
            chunks: list[bytes] = []
            left = min(limits.max_file_bytes, limits.max_total_bytes - self.bytes_read) + 1
            while left > 0:
                chunk = os.read(file, min(left, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            data = b"".join(chunks)
        except OSError:
            return None
        finally:
            os.close(file)
        if len(data) > limits.max_file_bytes or self.bytes_read + len(data) > limits.max_total_bytes:
            self._skip(rel, "grew while it was read: ignored")
            return None
        self.files_read += 1
        self.bytes_read += len(data)
        return data


def copy_package(source: Path, dest: Path, limits: WalkLimits | None = None) -> list[str]:
    """Copy the regular files of a student's package (bounded, never following a symlink,
    which could point at the reference), readable by the sandbox's unprivileged user.
    Returns what was left out, one line each."""
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o755)
    walk = BoundedWalk(source, limits or WalkLimits())
    made: set[tuple[bytes, ...]] = set()
    target = os.fsencode(dest)
    for rel, data in walk.files():
        for depth in range(1, len(rel)):
            if rel[:depth] not in made:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(os.path.join(target, *rel[:depth]), 0o755)
                made.add(rel[:depth])
        fd = os.open(os.path.join(target, *rel), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, 0o644)
        finally:
            os.close(fd)
    return walk.skipped


def package_digest(package: Path, limits: WalkLimits | None = None) -> str:
    """sha256 of every file of ``package`` a worker would see (the same walk as :func:`copy_package`)."""
    h = hashlib.sha256()
    for rel, data in BoundedWalk(package, limits or WalkLimits()).files():
        path = b"/".join(rel)
        h.update(len(path).to_bytes(8, "little") + path)
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()
