"""Whole-tree limits with a control group, where the machine lets the grader make one.

A worker and everything it starts live in one cgroup made for it: a cap on processes
(``pids.max``), on memory of the whole tree including page cache, ``memfd`` and shared
memory (``memory.max`` / ``memory.limit_in_bytes``), the CPU time of every process that
ever ran in it (``cpu.stat`` / ``cpuacct.usage``), and one operation that kills them
all. cgroup v2 is used when ``/sys/fs/cgroup`` is a v2 hierarchy with the ``pids`` and
``memory`` controllers delegated to the grader's cgroup; otherwise the v1 ``pids``,
``memory`` and ``cpuacct`` hierarchies when they are mounted and writable (hybrid
machines). Elsewhere :func:`cgroup_support` says why not, and the sandbox falls back
to per-user and per-process limits (:mod:`.users`).

Where the hierarchy is, and which cgroup this process is in, is a :class:`Hierarchy`
(``/sys/fs/cgroup`` and ``/proc/self/cgroup`` by default; the kit's tests point it at
a fake tree in a temporary folder).
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")
V1_CONTROLLERS = ("pids", "memory", "cpuacct")


@dataclass(frozen=True)
class Hierarchy:
    """A cgroup file system (``root``), where this process is in it (``self_cgroup``, in the
    format of ``/proc/self/cgroup``), and how a cgroup is made and removed (by the kernel:
    ``mkdir`` fills the folder with its interface files, ``rmdir`` removes them)."""

    root: Path = ROOT
    self_cgroup: Path = SELF_CGROUP

    def mkdir(self, folder: Path) -> None:
        folder.mkdir(mode=0o755)

    def rmdir(self, folder: Path) -> None:
        folder.rmdir()


HOST = Hierarchy()


def _read(path: Path) -> str:
    with open(path) as fh:
        return fh.read()


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)  # as `echo text > path` does
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _own_cgroups(hierarchy: Hierarchy) -> dict[str, str]:
    """Controller (or ``""`` for v2) -> this process's cgroup path, from ``/proc/self/cgroup``."""
    out: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError):
        for line in _read(hierarchy.self_cgroup).splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                out[controller] = path
    return out


def _v2_parent(hierarchy: Hierarchy) -> Path | None:
    """A v2 cgroup in which the grader may create children with pids and memory enabled."""
    if not (hierarchy.root / "cgroup.controllers").exists():
        return None
    own = _own_cgroups(hierarchy).get("")
    if own is None:
        return None
    here = hierarchy.root / own.lstrip("/")
    for candidate in (here, here.parent):
        try:
            enabled = set(_read(candidate / "cgroup.subtree_control").split())
        except OSError:
            continue
        if {"pids", "memory"} <= enabled and os.access(candidate, os.W_OK):
            return candidate
    return None


def _v1_parents(hierarchy: Hierarchy) -> dict[str, Path] | None:
    own = _own_cgroups(hierarchy)
    parents: dict[str, Path] = {}
    for controller in V1_CONTROLLERS:
        if controller not in own:
            return None
        folder = hierarchy.root / controller / own[controller].lstrip("/")
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            return None
        parents[controller] = folder
    return parents


@functools.cache
def cgroup_support(hierarchy: Hierarchy = HOST) -> tuple[str, str]:
    """(``"v2"``, ``"v1"`` or ``""``, why not when ``""``), probed once by making and removing a cgroup."""
    if os.environ.get("DLNP_NO_CGROUP"):
        return "", "cgroups switched off ($DLNP_NO_CGROUP)"
    for version in ("v2", "v1"):
        try:
            group = TreeCgroup.create(version, processes=8, memory_bytes=64 * 2**20, hierarchy=hierarchy)
        except OSError:
            continue
        if group is not None:
            group.remove()
            return version, ""
    return "", "no writable cgroup hierarchy with the pids and memory controllers here"


def _sweep(parent: Path, hierarchy: Hierarchy) -> None:
    """Remove the empty cgroups left in ``parent`` by graders that died before removing theirs."""
    with contextlib.suppress(OSError):
        for folder in parent.glob("dlnp-worker-*-*"):
            owner = folder.name.split("-")[2]
            if owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
                with contextlib.suppress(OSError):
                    hierarchy.rmdir(folder)  # fails, harmlessly, while a process is still inside


@dataclass
class TreeCgroup:
    """One cgroup (v2) or one cgroup per v1 controller holding a worker's whole process tree."""

    version: str
    folders: dict[str, Path]
    oom_at_start: int = field(default=0)
    hierarchy: Hierarchy = HOST

    @classmethod
    def create(cls, version: str, *, processes: int, memory_bytes: int,
               hierarchy: Hierarchy = HOST) -> TreeCgroup | None:
        name = f"dlnp-worker-{os.getpid()}-{secrets.token_hex(4)}"
        if version == "v2":
            parent = _v2_parent(hierarchy)
            if parent is None:
                return None
            _sweep(parent, hierarchy)
            folder = parent / name
            hierarchy.mkdir(folder)
            group = cls("v2", {"": folder}, hierarchy=hierarchy)
            try:
                _write(folder / "pids.max", str(processes))
                _write(folder / "memory.max", str(memory_bytes))
                with contextlib.suppress(OSError):  # no swap on many machines
                    _write(folder / "memory.swap.max", "0")
            except OSError:
                group.remove()
                raise
            return group
        parents = _v1_parents(hierarchy)
        if parents is None:
            return None
        group = cls("v1", {}, hierarchy=hierarchy)
        try:
            for controller, parent in parents.items():
                _sweep(parent, hierarchy)
                folder = parent / name
                hierarchy.mkdir(folder)
                group.folders[controller] = folder
            _write(group.folders["pids"] / "pids.max", str(processes))
            _write(group.folders["memory"] / "memory.limit_in_bytes", str(memory_bytes))
            with contextlib.suppress(OSError):  # memsw exists only with swap accounting
                _write(group.folders["memory"] / "memory.memsw.limit_in_bytes", str(memory_bytes))
        except OSError:
            group.remove()
            raise
        group.oom_at_start = group.oom_kills()
        return group

    def attach_self(self) -> None:
        """Move the calling process into this cgroup (in a child, between fork and exec)."""
        for folder in self.folders.values():
            _write(folder / "cgroup.procs", "0")

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) of every process that ever ran in the cgroup."""
        try:
            if self.version == "v2":
                for line in _read(self.folders[""] / "cpu.stat").splitlines():
                    key, value = line.split()
                    if key == "usage_usec":
                        return int(value) / 1e6
                return None
            return int(_read(self.folders["cpuacct"] / "cpuacct.usage")) / 1e9
        except (OSError, ValueError):
            return None

    def oom_kills(self) -> int:
        """How many times the kernel killed a process here for memory (or hit the limit, on v1)."""
        try:
            if self.version == "v2":
                for line in _read(self.folders[""] / "memory.events").splitlines():
                    key, value = line.split()
                    if key == "oom_kill":
                        return int(value)
                return 0
            return int(_read(self.folders["memory"] / "memory.failcnt"))
        except (OSError, ValueError):
            return 0

    def ran_out_of_memory(self) -> bool:
        return self.oom_kills() > self.oom_at_start

    def pids(self) -> list[int]:
        folder = self.folders.get("") or self.folders.get("pids")
        if folder is None:
            return []
        try:
            return [int(p) for p in _read(folder / "cgroup.procs").split()]
        except (OSError, ValueError):
            return []

    def kill_all(self) -> None:
        """SIGKILL every process in the cgroup (``cgroup.kill`` where the kernel has it)."""
        if self.version == "v2":
            with contextlib.suppress(OSError):
                _write(self.folders[""] / "cgroup.kill", "1")
                return
        for _ in range(100):  # pids.max bounds how many can appear meanwhile
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        """Kill what is left and remove the cgroup (retried briefly while the dead are reaped)."""
        self.kill_all()
        deadline = time.monotonic() + 2.0
        for folder in list(self.folders.values()):
            while True:
                try:
                    self.hierarchy.rmdir(folder)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.01)
        self.folders = {}
