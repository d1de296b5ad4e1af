"""How one confined process sees the world (:class:`Sandbox`), and the command that builds it.

``bwrap``
    bubblewrap, started as the worker's unprivileged user (when the grader is root):
    new user, pid, network, ipc and uts namespaces; ``/`` read-only; empty read-only
    tmpfs over the kit, the packages, home folders, the submissions root and the
    results folder; a fresh ``/dev`` (null, zero, full, random, urandom, tty); a
    small private ``/tmp`` whose ``dlnp-sandbox/work`` is the working directory.
``unshare``
    the same layout built by util-linux ``unshare`` + ``mount`` as root (or as the
    grader's user in a user namespace), ``/proc/sys`` read-only; then ``setpriv``
    drops to the worker's user (no groups, no capabilities, ``no_new_privs``) and a
    nested user namespace locks the covering mounts.
``none``
    no namespaces: the worker runs as its dedicated user (when the grader is root) in
    a scratch folder only that user can enter; with a non-root grader, limits only.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SandboxError
from .layout import cover_and_rebind, grading_secrets, inside, interpreter, numpy_dirs
from .users import WorkerUser, readable_by

INSIDE = "/tmp/dlnp-sandbox"  # where the sandbox's own files appear to confined processes
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


@functools.cache
def bwrap_options() -> frozenset[str]:
    """The options this bubblewrap understands (from ``bwrap --help``)."""
    try:
        proc = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(word for word in (proc.stdout + proc.stderr).split() if word.startswith("--"))


def check_out_of_reach(user: WorkerUser, hide: Sequence[Path]) -> None:
    """Without namespaces, the worker's user must not be able to read what decides or records scores."""
    for path in grading_secrets(hide):
        if path.exists() and readable_by(path, user.uid, user.gid):
            raise SandboxError(
                f"without namespaces the worker runs as uid {user.uid}, which could read {path}: make it "
                f"readable by root only (chmod o-rwx {path}, or a parent folder), or install bubblewrap")
    exe, _ = interpreter()
    if not readable_by(Path(exe), user.uid, user.gid):
        raise SandboxError(f"the worker's user (uid {user.uid}) cannot run the interpreter {exe}: without "
                           "namespaces, grade with a Python every user can run (such as /usr/bin/python3)")
    for name, path in numpy_dirs().items():
        if not readable_by(path, user.uid, user.gid):
            raise SandboxError(f"the worker's user (uid {user.uid}) cannot read {name} at {path}: install it "
                               "where every user can read it (outside the kit's root-only folder)")


def _readable_copy(source: Path, target: Path) -> Path:
    """A copy of the folder ``source`` at ``target`` that every user can read (links kept as links)."""
    shutil.copytree(source, target, symlinks=True)
    target.parent.chmod(0o755)
    for folder, _, names in os.walk(target):
        os.chmod(folder, 0o755)
        for name in names:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(folder, name), 0o644, follow_symlinks=False)
    return target


@dataclass
class Sandbox:
    """How one confined process sees the world.

    ``binds`` maps a relative path inside the sandbox (``"runtime"``,
    ``"work/neural_network"``) to a host folder exposed read-only there;
    :meth:`path` gives the path a confined process uses. ``work`` is its writable
    working directory (a private tmpfs when isolated, ``scratch/work`` otherwise).
    ``user``: the dedicated user the confined process runs as (``None``: the grader's own).
    """

    isolation: str
    scratch: Path
    binds: dict[str, Path]
    hide: list[Path] = field(default_factory=lambda: [])
    tmp_bytes: int = 64 * 1024**2
    user: WorkerUser | None = None

    def __post_init__(self) -> None:
        if self.user is not None:
            # scratch: root-owned, entered only through the worker's group; work: the worker's own
            os.chown(self.scratch, 0, self.user.gid)
            self.scratch.chmod(0o750)
        if self.user is not None and self.isolation != "unshare":
            # bwrap runs as the worker's user, and without namespaces the worker follows links
            # itself: a folder that user cannot reach is exposed as a readable copy
            for rel, source in list(self.binds.items()):
                if not readable_by(source, self.user.uid, self.user.gid):
                    self.binds[rel] = _readable_copy(source, self.scratch / "copies" / rel)
        if self.isolation == "none":
            for rel, source in self.binds.items():
                target = self.scratch / rel
                if target.resolve() == source.resolve():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists():
                    os.symlink(source, target)

        work = self.scratch / "work"  # the launcher's working folder (the worker's own, without namespaces)
        work.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            os.chown(work, self.user.uid, self.user.gid)
            work.chmod(0o700)

    def path(self, rel: str) -> str:
        return str(self.scratch / rel) if self.isolation == "none" else f"{INSIDE}/{rel}"

    @property
    def cwd(self) -> str:
        return self.path("work")

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` wrapped so that it runs confined (unchanged for ``none``).

        With a dedicated user, ``bwrap`` itself runs as that user: every folder it binds
        (the interpreter's included) must be readable by that user."""
        if self.isolation == "bwrap":
            return self._bwrap(argv)
        if self.isolation == "unshare":
            return self._unshare(argv)
        return list(argv)

    @property
    def drops_in_preexec(self) -> bool:
        """Whether the launcher itself must already run as the worker's user (all but ``unshare``,
        whose mounts need root and which drops privileges itself at the end)."""
        return self.user is not None and self.isolation != "unshare"

    def _bwrap(self, argv: Sequence[str]) -> list[str]:
        hidden, rebinds = cover_and_rebind(self.hide)
        cmd = ["bwrap", "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
               "--cap-drop", "ALL", "--die-with-parent", "--new-session",
               "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               "--ro-bind-try", "/dev/null", "/etc/shadow", "--ro-bind-try", "/dev/null", "/etc/gshadow"]
        options = bwrap_options()

        def sized(size: int) -> list[str]:  # --size and --perms came with bubblewrap 0.5
            return ["--size", str(size)] if "--size" in options else []

        perms = ["--perms", "1777"] if "--perms" in options else []
        ops: list[tuple[int, list[str]]] = [(2, [*sized(self.tmp_bytes), *perms, "--tmpfs", "/dev/shm"])]
        for h in hidden:
            if h != Path("/tmp") and not inside(h, Path("/dev")) and not inside(h, Path("/proc")):
                ops.append((len(h.parts), [*sized(65536), "--tmpfs", str(h)]))
        ops.append((2, [*sized(self.tmp_bytes), "--tmpfs", "/tmp", *perms, "--dir", self.cwd]))
        for p in rebinds:
            ops.append((len(p.parts), ["--ro-bind", str(p), str(p)]))
        for rel, source in sorted(self.binds.items()):
            ops.append((99, ["--ro-bind", str(source), self.path(rel)]))
        for _, op in sorted(ops, key=lambda o: o[0]):
            cmd += op
        for h in hidden:
            if h != Path("/tmp") and not inside(h, Path("/dev")) and not inside(h, Path("/proc")):
                cmd += ["--remount-ro", str(h)]
        return [*cmd, "--chdir", self.cwd, "--", *argv]

    def _unshare(self, argv: Sequence[str]) -> list[str]:
        hidden, rebinds = cover_and_rebind(self.hide)
        q = shlex.quote
        held: list[str] = []
        lines = ["set -e"]
        sources: dict[Path, int] = {}

        def fd_for(source: Path) -> str:
            if source not in sources:
                sources[source] = 3 + len(sources)
                if sources[source] > 9:
                    raise SandboxError("too many folders to bind for the unshare sandbox")
                held.append(f"{sources[source]}<{q(str(source))}")
            return f"/proc/self/fd/{sources[source]}"

        ops: list[tuple[int, str]] = []
        for h in hidden:
            if h != Path("/tmp") and not inside(h, Path("/proc")) and not inside(h, Path("/dev")):
                ops.append((len(h.parts), f"mkdir -p {q(str(h))} && mount -t tmpfs -o size=64k,mode=755 "
                                          f"dlnp-hidden {q(str(h))}"))
        ops.append((2, f"mount -t tmpfs -o size={self.tmp_bytes},mode=1777 dlnp-tmp /tmp"
                       f" && mkdir -p {q(self.cwd)} && chmod 1777 {q(self.cwd)}"))
        # a fresh /dev holding only harmless devices, built in /tmp and moved over /dev
        dev = "/tmp/.dlnp-dev"
        devices = " ".join(DEVICES)
        ops.append((3, f"mkdir {dev} && mount -t tmpfs -o size=64k,mode=755 dlnp-dev {dev}"
                       f" && for d in {devices}; do touch {dev}/$d && mount --bind /dev/$d {dev}/$d; done"
                       f" && mkdir {dev}/shm && mount -t tmpfs -o size={self.tmp_bytes},mode=1777 dlnp-shm {dev}/shm"
                       f" && ln -s /proc/self/fd {dev}/fd && mount --move {dev} /dev && rmdir {dev}"))
        for p in rebinds:
            ops.append((len(p.parts), f"mkdir -p {q(str(p))} && mount --no-canonicalize --bind {fd_for(p)} {q(str(p))}"
                                      f" && mount -o remount,bind,ro {q(str(p))}"))
        for rel, source in sorted(self.binds.items()):
            target = q(self.path(rel))
            ops.append((99, f"mkdir -p {target} && mount --no-canonicalize --bind {fd_for(source)} {target}"
                            f" && mount -o remount,bind,ro {target}"))
        lines.append("exec " + " ".join(held) if held else ":")
        lines.append('while read -r _ m _; do case "$m" in /proc|/proc/*) ;; *) mount -o remount,bind,ro "$m"'
                     ' 2>/dev/null || true;; esac; done < /proc/self/mounts')
        lines.append("mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys")
        lines += [op for _, op in sorted(ops, key=lambda o: o[0])]
        for h in hidden:
            if h != Path("/tmp") and not inside(h, Path("/proc")) and not inside(h, Path("/dev")):
                lines.append(f"mount -o remount,ro {q(str(h))}")
        if sources:  # the worker must not inherit handles on hidden folders
            lines.append("exec " + " ".join(f"{fd}<&-" for fd in sorted(sources.values())))
        lines.append(f"cd {q(self.cwd)}")
        drop = ""
        if self.user is not None:
            drop = (f"setpriv --reuid {self.user.uid} --regid {self.user.gid} --clear-groups --inh-caps=-all "
                    "--bounding-set=-all --no-new-privs --pdeathsig SIGKILL -- ")
        lines.append(f'exec {drop}unshare --user --mount --map-user=65534 --map-group=65534 -- "$@"')
        outer = ["unshare", "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child",
                 "--mount-proc", "--propagation", "private"]
        if os.geteuid() != 0:
            outer[1:1] = ["--user", "--map-root-user"]
        return [*outer, "/bin/sh", "-c", "\n".join(lines), "dlnp-sandbox", *argv]
