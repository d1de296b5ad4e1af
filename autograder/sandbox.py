"""The trusted side of the grading boundary: start, confine, talk to, and kill student workers.

A :class:`Student` owns one worker process at a time (reused across a submission's
tests). The worker runs ``worker_runtime.py`` with ``python -I -S -B``; its
``sys.path`` holds only the stdlib, NumPy and the submission's package.

Confinement, best available first (``Limits.isolation``, default ``"auto"``):

``bwrap``
    bubblewrap: new user, pid, network, ipc and uts namespaces; ``/`` read-only;
    empty read-only tmpfs over the kit, the packages ``solutions``/``autograder``/
    ``dlnp``, home folders, the submissions root and the results folder; a small
    private ``/tmp`` whose ``dlnp-sandbox/work`` is the working directory (the
    package is bound read-only inside it). No capabilities, uid 65534.
``unshare``
    the same layout built with util-linux ``unshare`` + ``mount``; the worker then
    enters a nested user namespace, so the covering mounts are locked and cannot be
    unmounted.
``none``
    no namespaces (a laptop without either tool, macOS): resource limits and a
    scratch folder only. Results say so (``sandbox.isolation``).

Always: an address-space limit, a per-call wall-clock limit, a per-test wall-clock
and CPU-time budget (CPU measured here, from ``/proc``), a file-size limit,
stdout/stderr discarded, a size limit on replies, and every process the worker left
behind killed when it is replaced or closed.

Nothing the worker sends is trusted: replies are JSON and ``.npy`` data decoded with
``allow_pickle=False``, and everything that decides a score happens in this process.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import importlib.util
import inspect
import json
import os
import resource
import secrets
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from dlnp.testing import diagnose_warnings

from . import worker_runtime as wire

RUNTIME = Path(wire.__file__).resolve()
KIT_ROOT = Path(__file__).resolve().parent.parent
ISOLATIONS = ("auto", "bwrap", "unshare", "none")
INSIDE = "/tmp/dlnp-sandbox"  # where the sandbox's own files appear to confined processes
TOKEN_VAR = "DLNP_WORKER_TOKEN"
#: Tokens of every worker this process started (the kit's tests check that none is left running).
ISSUED_TOKENS: set[str] = set()
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Limits:
    """Resource limits of student code.

    Time: every call has a wall-clock limit (``call_seconds``); every test has a
    wall-clock limit (``test_seconds``) and a CPU-time budget (``cpu_seconds``)
    shared by its calls. Memory: address space per process (``memory_bytes``).
    ``output_bytes`` is the largest file the worker may write (its stdout/stderr are
    discarded), ``reply_bytes`` the largest reply accepted, ``scratch_bytes`` the size
    of its private ``/tmp`` when isolated. ``isolation``: ``auto`` (best available),
    ``bwrap``, ``unshare`` or ``none``.
    """

    call_seconds: float = 30.0
    cpu_seconds: float = 20.0
    test_seconds: float = 60.0
    memory_bytes: int = 2 * 1024**3
    output_bytes: int = 1024**2
    reply_bytes: int = 64 * 1024**2
    scratch_bytes: int = 64 * 1024**2
    start_seconds: float = 30.0
    isolation: str = field(default_factory=lambda: os.environ.get("DLNP_ISOLATION", "auto"))


class StudentError(Exception):
    """The student's code did not produce a value; ``status`` says why."""

    status = "error"

    def __init__(self, message: str, function: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.function = function


class StudentNotImplemented(StudentError):
    status = "not_implemented"


class StudentRaised(StudentError):
    status = "error"


class StudentTimeout(StudentError):
    status = "timeout"


class StudentCrashed(StudentError):
    status = "crash"


class InputMutated(StudentError):
    status = "failed"


class SandboxError(RuntimeError):
    """The grader could not start a worker (a problem of the grading machine, not the student)."""


# ---------------------------------------------------------------- values sent to workers


@dataclass(frozen=True)
class Seed:
    """Becomes ``np.random.default_rng(value)`` in the worker (and in the reference).

    With ``untouched=True`` the call fails when the student's code draws from that
    generator (full-batch gradient descent must never touch ``rng``).
    """

    value: int
    untouched: bool = False


@dataclass(frozen=True)
class RngState:
    """The state of a generator after a call, as reported by the worker (JSON text)."""

    state: str


class RngDrawn(Exception):
    """A generator passed as ``Seed(n, untouched=True)`` was drawn from."""


@dataclass(frozen=True)
class StudentFunction:
    """The student's own function ``name`` (its module comes from the manifest)."""

    name: str


@dataclass(frozen=True)
class Fixture:
    """A kit test helper from :data:`autograder.worker_runtime.FIXTURES`."""

    name: str


@dataclass
class Remote:
    """A student object living in the worker (Module 5 classes)."""

    student: Student
    handle: int
    type_name: str
    generation: int = field(default=0)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.student.request("method", method, args, kwargs, handle=self)

    def get(self, attr: str) -> Any:
        return self.student.request("getattr", attr, (), {}, handle=self)

    def set(self, attr: str, value: Any) -> None:
        self.student.request("setattr", attr, (value,), {}, handle=self)

    def __repr__(self) -> str:
        return f"<student {self.type_name} object>"


# ---------------------------------------------------------------- processes (Linux /proc)

_LIBC: Any = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError):
        _LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _children(pid: int) -> list[int]:
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


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def _find_worker(root: int, program: str, marker: bytes) -> int | None:
    """The host pid of the process under ``root`` running ``program`` with ``marker`` in its arguments."""
    queue = [root]
    for _ in range(6):
        if not queue:
            break
        for pid in queue:
            argv = _cmdline(pid).split(b"\0")
            if argv[0] == program.encode() and marker in argv:
                return pid
        queue = [child for pid in queue for child in _children(pid)]
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


def kill_tagged(token: str) -> int:
    """SIGKILL every process whose environment carries ``TOKEN_VAR=token``; return how many."""
    needle = f"{TOKEN_VAR}={token}".encode()
    killed = 0
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 0
    me = os.getpid()
    for pid in pids:
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


def tagged_processes(token: str) -> list[int]:
    """Pids of live (non-zombie) processes tagged with ``token`` (used by the kit's tests)."""
    needle = f"{TOKEN_VAR}={token}".encode()
    found: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                if needle not in fh.read().split(b"\0"):
                    continue
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        if stat[stat.rindex(b")") + 2 :][:1] != b"Z":
            found.append(int(name))
    return found


def die_with_parent() -> None:
    """``preexec_fn``: the child gets SIGKILL when this process dies (Linux; no-op elsewhere)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _limit_preexec(limits: Limits) -> Callable[[], None]:
    """Runs in the child between fork and exec: rlimits, and die with the grader."""

    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        backstop = int(max(600.0, 30 * limits.cpu_seconds))
        resource.setrlimit(resource.RLIMIT_CPU, (backstop, backstop + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.output_bytes, limits.output_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        die_with_parent()

    return preexec


# ---------------------------------------------------------------- isolation


def _package_dir(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def _inside(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


#: Top-level folders a confined process may read: the system. Every other top-level
#: folder (/work, /home, /root, /opt, /srv, /var, /mnt, ...) is covered, so other copies
#: of the kit or of submissions anywhere on the disk stay out of sight; the interpreter
#: and NumPy are re-exposed read-only wherever they live.
SYSTEM_DIRS = frozenset({"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "dev", "proc", "sys"})


def _top_level_dirs() -> list[Path]:
    try:
        return [p for p in Path("/").iterdir()
                if p.name not in SYSTEM_DIRS and p.is_dir() and not p.is_symlink()]
    except OSError:
        return []


def secret_paths(extra: Sequence[Path] = ()) -> list[Path]:
    """Folders a confined process must not see (those that exist), shallowest first."""
    candidates: list[Path | None] = [
        KIT_ROOT, _package_dir("solutions"), _package_dir("autograder"), _package_dir("dlnp"),
        Path.home(), Path("/root"), Path("/home"), Path(tempfile.gettempdir()), Path("/tmp"),
        Path("/var/tmp"), Path("/dev/shm"), Path("/run/user"), *_top_level_dirs(), *extra,
    ]
    found: list[Path] = []
    for candidate in candidates:
        if candidate is None:
            continue
        try:
            path = candidate.resolve()
        except OSError:
            continue
        if path == Path(path.anchor) or not path.is_dir():
            continue
        found.append(path)
    # nested ones are kept: a folder re-exposed inside an outer one (the interpreter
    # under a hidden home) may itself contain a hidden one (a pip-installed kit)
    return sorted(set(found), key=lambda p: (len(p.parts), str(p)))


def _interpreter() -> tuple[str, list[Path]]:
    """The real interpreter and the folders it needs (stdlib, shared libraries)."""
    exe = Path(os.path.realpath(sys.executable))
    needs = {Path(sys.base_prefix).resolve(), exe.parent}
    return str(exe), sorted(needs)


@dataclass
class Sandbox:
    """How one confined process sees the world.

    ``binds`` maps a relative path inside the sandbox (``"runtime"``,
    ``"work/neural_network"``) to a host folder exposed read-only there;
    :meth:`path` gives the path a confined process uses. ``work`` is its writable
    working directory (a private tmpfs when isolated, ``scratch/work`` otherwise).
    """

    isolation: str
    scratch: Path
    binds: dict[str, Path]
    hide: list[Path] = field(default_factory=lambda: [])
    tmp_bytes: int = 64 * 1024**2

    def __post_init__(self) -> None:
        if self.isolation == "none":
            for rel, source in self.binds.items():
                target = self.scratch / rel
                if target.resolve() == source.resolve():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists():
                    os.symlink(source, target)
            (self.scratch / "work").mkdir(parents=True, exist_ok=True)

    def path(self, rel: str) -> str:
        return str(self.scratch / rel) if self.isolation == "none" else f"{INSIDE}/{rel}"

    @property
    def cwd(self) -> str:
        return self.path("work")

    def _layout(self) -> tuple[list[Path], list[Path]]:
        """(folders to cover, interpreter folders to re-expose inside covered ones)."""
        hidden = secret_paths(self.hide)
        _, needs = _interpreter()
        inner = [p for p in needs if any(_inside(p, h) and p != h for h in hidden)]
        rebinds = [p for p in inner if not any(q != p and _inside(p, q) for q in inner)]

        def needed(h: Path) -> bool:  # a nested folder is covered again only when re-exposed
            outer = [q for q in hidden if q != h and _inside(h, q)]
            return not outer or any(_inside(h, r) and any(_inside(r, q) for q in outer) for r in rebinds)

        return [h for h in hidden if needed(h)], rebinds

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` wrapped so that it runs confined (unchanged for ``none``)."""
        if self.isolation == "bwrap":
            return self._bwrap(argv)
        if self.isolation == "unshare":
            return self._unshare(argv)
        return list(argv)

    def _bwrap(self, argv: Sequence[str]) -> list[str]:
        hidden, rebinds = self._layout()
        cmd = ["bwrap", "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
               "--cap-drop", "ALL", "--die-with-parent", "--new-session",
               "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               "--ro-bind-try", "/dev/null", "/etc/shadow", "--ro-bind-try", "/dev/null", "/etc/gshadow"]
        options = _bwrap_options()

        def sized(size: int) -> list[str]:  # --size and --perms came with bubblewrap 0.5
            return ["--size", str(size)] if "--size" in options else []

        ops: list[tuple[int, list[str]]] = []
        for h in hidden:
            if h != Path("/tmp") and not _inside(h, Path("/dev")) and not _inside(h, Path("/proc")):
                ops.append((len(h.parts), [*sized(65536), "--tmpfs", str(h)]))
        perms = ["--perms", "1777"] if "--perms" in options else []
        ops.append((2, [*sized(self.tmp_bytes), "--tmpfs", "/tmp", *perms, "--dir", self.cwd]))
        for p in rebinds:
            ops.append((len(p.parts), ["--ro-bind", str(p), str(p)]))
        for rel, source in sorted(self.binds.items()):
            ops.append((99, ["--ro-bind", str(source), self.path(rel)]))
        for _, op in sorted(ops, key=lambda o: o[0]):
            cmd += op
        for h in hidden:
            if h != Path("/tmp") and not _inside(h, Path("/dev")) and not _inside(h, Path("/proc")):
                cmd += ["--remount-ro", str(h)]
        return [*cmd, "--chdir", self.cwd, "--", *argv]

    def _unshare(self, argv: Sequence[str]) -> list[str]:
        hidden, rebinds = self._layout()
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
            if h != Path("/tmp") and not _inside(h, Path("/proc")):
                ops.append((len(h.parts), f"mkdir -p {q(str(h))} && mount -t tmpfs -o size=64k,mode=755 "
                                          f"dlnp-hidden {q(str(h))}"))
        ops.append((2, f"mount -t tmpfs -o size={self.tmp_bytes},mode=1777 dlnp-tmp /tmp"
                       f" && mkdir -p {q(self.cwd)} && chmod 1777 {q(self.cwd)}"))
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
        lines += [op for _, op in sorted(ops, key=lambda o: o[0])]
        for h in hidden:
            if h != Path("/tmp") and not _inside(h, Path("/proc")):
                lines.append(f"mount -o remount,ro {q(str(h))}")
        if sources:  # the worker must not inherit handles on hidden folders
            lines.append("exec " + " ".join(f"{fd}<&-" for fd in sorted(sources.values())))
        lines.append(f"cd {q(self.cwd)}")
        lines.append('exec unshare --user --mount --map-user=65534 --map-group=65534 -- "$@"')
        outer = ["unshare", "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child",
                 "--mount-proc", "--propagation", "private"]
        if os.geteuid() != 0:
            outer[1:1] = ["--user", "--map-root-user"]
        return [*outer, "/bin/sh", "-c", "\n".join(lines), "dlnp-sandbox", *argv]


@functools.cache
def _bwrap_options() -> frozenset[str]:
    """The options this bubblewrap understands (from ``bwrap --help``)."""
    try:
        proc = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(word for word in (proc.stdout + proc.stderr).split() if word.startswith("--"))


@functools.cache
def _probe(isolation: str) -> str:
    """'' when ``isolation`` works on this machine, else why not."""
    tool = {"bwrap": "bwrap", "unshare": "unshare"}[isolation]
    if not sys.platform.startswith("linux") or shutil.which(tool) is None:
        return f"{tool} is not installed"
    scratch = Path(tempfile.mkdtemp(prefix="dlnp-probe-"))
    try:
        (scratch / "runtime").mkdir()
        (scratch / "runtime" / "probe.py").write_text(
            f"import os, socket\nassert not os.path.exists({str(RUNTIME)!r})\n"
            "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=1)\n    raise SystemExit(3)\n"
            "except OSError:\n    pass\nprint('ok')\n"
        )
        box = Sandbox(isolation, scratch, {"runtime": scratch / "runtime"})
        exe, _ = _interpreter()
        cmd = box.command([exe, "-I", "-S", "-B", box.path("runtime/probe.py")])
        proc = subprocess.run(cmd, cwd=scratch, capture_output=True, timeout=30, check=False,
                              stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        if proc.returncode != 0 or b"ok" not in proc.stdout:
            return f"{tool} failed here: {proc.stderr.decode(errors='replace').strip()[:300]}"
        return ""
    except (OSError, subprocess.SubprocessError, SandboxError) as exc:
        return f"{tool} failed here: {exc}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def choose_isolation(requested: str = "auto") -> tuple[str, str]:
    """(isolation actually used, note). ``auto`` degrades to ``none`` with a note; an
    explicitly requested kind that does not work is an error."""
    if requested not in ISOLATIONS:
        raise ValueError(f"isolation must be one of {', '.join(ISOLATIONS)}, not {requested!r}")
    if requested == "none":
        return "none", "isolation switched off (--isolation none): resource limits only"
    if requested != "auto":
        why = _probe(requested)
        if why:
            raise SandboxError(f"--isolation {requested} is not available: {why}")
        return requested, ""
    reasons: list[str] = []
    for kind in ("bwrap", "unshare"):
        why = _probe(kind)
        if not why:
            return kind, ""
        reasons.append(why)
    return "none", ("student code ran WITHOUT namespace isolation (" + "; ".join(reasons) + "): "
                    "time, memory and output limits applied, but it could read files and use the network. "
                    "Install bubblewrap (apt-get install bubblewrap) to confine it.")


def sandbox_report(limits: Limits) -> dict[str, Any]:
    """What confined the student's code, for the results file."""
    isolation, note = choose_isolation(limits.isolation)
    return {
        "isolation": isolation,
        "network": "blocked" if isolation != "none" else "not blocked",
        "kit_hidden": isolation != "none",
        "note": note,
        "limits": {k: v for k, v in asdict(limits).items() if k != "isolation"},
    }


def numpy_binds() -> dict[str, Path]:
    """NumPy (and its bundled libraries) for ``deps/``: the only package a worker may import."""
    site = Path(np.__file__).resolve().parent.parent
    return {f"deps/{name}": site / name for name in ("numpy", "numpy.libs") if (site / name).exists()}


def run_confined(
    command: Callable[[Sandbox, str], list[str]],
    binds: dict[str, Path],
    limits: Limits,
    timeout: float,
    *,
    hide: Sequence[Path] = (),
    env: Mapping[str, str] | None = None,
) -> tuple[int | None, bytes]:
    """Run one untrusted command confined like a worker; (exit code or None on timeout, output).

    ``command(box, python)`` builds the argv from the sandbox's paths. Output (stdout and
    stderr together) is cut at ``limits.output_bytes``; everything it started is killed.
    """
    isolation, _ = choose_isolation(limits.isolation)
    scratch = Path(tempfile.mkdtemp(prefix="dlnp-confined-"))
    (scratch / "work").mkdir()
    token = secrets.token_hex(16)
    ISSUED_TOKENS.add(token)
    try:
        box = Sandbox(isolation, scratch, dict(binds), list(hide), limits.scratch_bytes)
        exe, _ = _interpreter()
        full_env = {"PATH": "/usr/bin:/bin", "HOME": box.cwd, "TMPDIR": box.cwd, "LANG": "C.UTF-8",
                    "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", TOKEN_VAR: token,
                    **(env or {})}
        proc = subprocess.Popen(box.command(command(box, exe)), cwd=scratch / "work", env=full_env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                preexec_fn=_limit_preexec(limits), start_new_session=True)
        assert proc.stdout is not None
        out = bytearray()
        deadline = time.monotonic() + timeout
        fd = proc.stdout.fileno()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([fd], [], [], min(remaining, POLL_SECONDS))
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                if len(out) < limits.output_bytes:
                    out += chunk[: limits.output_bytes - len(out)]
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.kill()
        code = proc.wait()
        proc.stdout.close()
        timed_out = time.monotonic() >= deadline
        return (None if timed_out else code), bytes(out)
    finally:
        if sys.platform.startswith("linux"):
            kill_tagged(token)
        shutil.rmtree(scratch, ignore_errors=True)


# ---------------------------------------------------------------- the student proxy


def copy_package(source: Path, dest: Path, max_file_bytes: int = 8 * 1024**2) -> None:
    """Copy the regular files of a student's package (never following a symlink, which
    could point at the reference), readable by the sandbox's unprivileged user."""
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o755)
    if source.is_symlink() or not source.is_dir():
        return
    for root, dirs, files in os.walk(source, followlinks=False):
        here = Path(root)
        target = dest / here.relative_to(source)
        dirs[:] = [d for d in dirs if d != "__pycache__" and not (here / d).is_symlink()]
        for d in dirs:
            (target / d).mkdir(mode=0o755, exist_ok=True)
        for name in files:
            path = here / name
            if path.is_symlink() or not path.is_file() or name.endswith(".pyc"):
                continue
            if path.stat().st_size > max_file_bytes:
                continue
            shutil.copyfile(path, target / name, follow_symlinks=False)
            (target / name).chmod(0o644)


def _fresh_rng_state(seed: int) -> str:
    return json.dumps(np.random.default_rng(seed).bit_generator.state, sort_keys=True)


def _rounding_equal(before: Any, after: Any) -> bool:
    """True when ``after`` is ``before`` up to floating-point rounding."""
    if isinstance(before, Seed):
        if before.untouched and not (isinstance(after, RngState) and after.state == _fresh_rng_state(before.value)):
            raise RngDrawn
        return True
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray):
            return False
        old = cast("np.ndarray[Any, np.dtype[Any]]", before)
        new = cast("np.ndarray[Any, np.dtype[Any]]", after)
        if new.shape != old.shape:
            return False
        if np.array_equal(old, new, equal_nan=True):
            return True
        if old.dtype.kind in "fc":
            scale = float(np.max(np.abs(old))) if old.size else 0.0
            return bool(np.allclose(new, old, rtol=1e-12, atol=1e-12 * (1.0 + scale)))
        return False
    if isinstance(before, dict):
        if not isinstance(after, dict) or set(before) != set(after):  # pyright: ignore[reportUnknownArgumentType]
            return False
        return all(_rounding_equal(v, after[k]) for k, v in before.items())  # pyright: ignore[reportUnknownVariableType]
    if isinstance(before, (list, tuple)):
        if not isinstance(after, (list, tuple)) or len(before) != len(after):  # pyright: ignore[reportUnknownArgumentType]
            return False
        return all(_rounding_equal(b, a) for b, a in zip(before, after, strict=True))  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return True


class Student:
    """Proxy to one submission's code, running in a separate, confined worker process.

    ``hide``: extra host folders the worker must not see (the submissions root, the
    results folder); the kit, the packages and home folders are always hidden.
    """

    def __init__(
        self,
        submission: Path,
        modules: dict[str, str],
        limits: Limits | None = None,
        signatures: Callable[[str], Sequence[str]] | None = None,
        hide: Sequence[Path] = (),
    ) -> None:
        self.submission = Path(submission).resolve()
        self.modules = modules
        self.limits = limits or Limits()
        self.signatures = signatures
        self.isolation, self.isolation_note = choose_isolation(self.limits.isolation)
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None  # host pid of the Python worker (for CPU accounting)
        self.generation = 0
        self.workers_started = 0
        self.last_warnings: list[str] = []
        self.token = secrets.token_hex(16)
        ISSUED_TOKENS.add(self.token)
        self._fd_out = self._fd_in = -1
        self._ready = False
        self._seq = 0
        self._cpu_mark: float | None = None
        self._imported: set[str] = set()
        self._broken: dict[str, StudentError] = {}
        self._test_deadline: float | None = None
        self._test_cpu_left: float | None = None
        self.scratch = Path(tempfile.mkdtemp(prefix="dlnp-worker-"))
        try:
            self._prepare(hide)
        except BaseException:
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise

    # ------------------------------------------------------------------ lifecycle
    def _prepare(self, hide: Sequence[Path]) -> None:
        runtime = self.scratch / "runtime"
        runtime.mkdir()
        shutil.copy2(RUNTIME, runtime / "worker_runtime.py")
        package = self.submission / wire.PACKAGE
        copy = self.scratch / "work" / wire.PACKAGE
        copy_package(package, copy)
        binds = {"runtime": runtime, f"work/{wire.PACKAGE}": copy, **numpy_binds()}
        self.box = Sandbox(self.isolation, self.scratch, binds, [self.submission.parent, *hide],
                           self.limits.scratch_bytes)

    def spawn(self) -> None:
        """Start a worker now without waiting for it (it imports NumPy while the grader collects)."""
        if self.proc is None:
            self._start(wait=False)

    def _start(self, wait: bool = True) -> None:
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        # the worker's protocol fds are >= 10: the unshare sandbox's shell uses 3-9
        child_in = fcntl.fcntl(to_worker_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_worker_w, fcntl.F_DUPFD_CLOEXEC, 10)
        for fd in (to_worker_r, from_worker_w):
            os.close(fd)
        box = self.box
        boot = (
            "import sys; sys.path[:0] = [sys.argv[4], sys.argv[5]]; "
            "import worker_runtime; worker_runtime.main(sys.argv)"
        )
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": box.cwd,
            "TMPDIR": box.cwd,
            "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
            TOKEN_VAR: self.token,
        }
        exe, _ = _interpreter()
        argv = [exe, "-I", "-S", "-B", "-c", boot, str(child_in), str(child_out), box.cwd,
                box.path("runtime"), box.path("deps"), "dlnp-worker"]
        try:
            self.proc = subprocess.Popen(
                box.command(argv),
                cwd=self.scratch / "work",
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(child_in, child_out),
                preexec_fn=_limit_preexec(self.limits),
                start_new_session=True,
            )
        finally:
            os.close(child_in)
            os.close(child_out)
        os.set_blocking(to_worker_w, False)
        self._fd_out, self._fd_in = to_worker_w, from_worker_r
        self.generation += 1
        self.workers_started += 1
        self._imported = set()
        self._ready = False
        if wait:
            self._await_hello()

    def _await_hello(self) -> None:
        assert self.proc is not None
        exe, _ = _interpreter()
        try:
            reply = self._read_frame(self.limits.start_seconds, None, "starting the worker")
            header, _ = wire.unpack(reply)
            if header.get("hello") != "dlnp-worker":
                raise ValueError("bad hello")
        except (StudentError, OSError, EOFError, ValueError) as exc:
            self._kill()
            raise SandboxError(f"the grading sandbox ({self.isolation}) could not start a worker: {exc}") from None
        self.pid = _find_worker(self.proc.pid, exe, b"dlnp-worker")
        self._cpu_mark = cpu_seconds_of(self.pid) if self.pid else None
        self._ready = True

    def _kill(self) -> None:
        if self.proc is not None:
            for pid in (self.pid, self.proc.pid):
                if pid:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None
        for fd in (self._fd_out, self._fd_in):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd_out = self._fd_in = -1
        self.pid = None
        self._cpu_mark = None
        self._ready = False
        self._imported = set()
        if sys.platform.startswith("linux"):
            kill_tagged(self.token)  # whatever the student left running, wherever it went

    def close(self) -> None:
        self._kill()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> Student:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ tests
    def begin_test(self) -> None:
        """Start the wall-clock and CPU budgets of one test (called by the grading plugin)."""
        self._test_deadline = time.monotonic() + self.limits.test_seconds
        self._test_cpu_left = self.limits.cpu_seconds

    def end_test(self) -> None:
        self._test_deadline = None
        self._test_cpu_left = None

    @contextlib.contextmanager
    def test(self) -> Generator[None]:
        self.begin_test()
        try:
            yield
        finally:
            self.end_test()

    def _budget(self, label: str, timeout: float | None) -> tuple[float, float]:
        wall = timeout or self.limits.call_seconds
        cpu = self.limits.cpu_seconds
        if self._test_deadline is not None:
            left = self._test_deadline - time.monotonic()
            if left <= 0:
                raise StudentTimeout(
                    f"{label} was not run: this test already used its {self.limits.test_seconds:g} s "
                    "(an earlier call was far too slow).", label)
            wall = min(wall, left)
        if self._test_cpu_left is not None:
            if self._test_cpu_left <= 0:
                raise StudentTimeout(
                    f"{label} was not run: this test already used its {self.limits.cpu_seconds:g} s of CPU time.",
                    label)
            cpu = min(cpu, self._test_cpu_left)
        return wall, cpu

    # ------------------------------------------------------------------ transport
    def _encode_special(self, obj: Any, modules: set[str]) -> Any:
        if isinstance(obj, Seed):
            return {"__seed__": int(obj.value)}
        if isinstance(obj, StudentFunction):
            modules.add(self.modules[obj.name])
            return {"__fn__": ["student", f"{self.modules[obj.name]}.{obj.name}"]}
        if isinstance(obj, Fixture):
            return {"__fn__": ["fixture", obj.name]}
        if isinstance(obj, Remote):
            if obj.generation != self.generation:
                raise StudentCrashed("this object was lost when an earlier call crashed the worker")
            return {"__handle__": obj.handle}
        return NotImplemented

    def _decode_special(self, key: str, value: Any) -> Any:
        if key == "__obj__":
            handle, type_name = value
            return Remote(self, int(handle), str(type_name)[:100], self.generation)
        if key == "__rngstate__":
            return RngState(str(value)[:10_000])
        return wire.Opaque(f"unknown value {str(key)[:50]}")

    def _exchange(self, header: dict[str, Any], blobs: list[bytes], label: str,
                  timeout: float | None) -> tuple[dict[str, Any], list[bytes]]:
        """Send one request, return the decoded-frame reply; kill the worker on any failure."""
        wall, cpu = self._budget(label, timeout)
        if self.proc is None or (self._ready and self.proc.poll() is not None):
            self._kill()
            self._start()
        elif not self._ready:
            self._await_hello()
        self._seq += 1
        frame = wire.pack(dict(header, id=self._seq), blobs)
        started = time.monotonic()
        try:
            self._write_frame(frame, started + wall, label)
            body = self._read_frame(wall, cpu, label)
        except StudentError:
            self._charge(started)
            self._kill()
            raise
        except (OSError, EOFError) as exc:
            self._charge(started)
            self._kill()
            raise StudentCrashed(
                f"{label} crashed the Python process running your code (sys.exit/os._exit, a segfault, "
                f"or out of memory; limit {self.limits.memory_bytes // 2**20} MiB): {type(exc).__name__}",
                label,
            ) from None
        try:
            reply, out_blobs = wire.unpack(body)
            if reply.get("id") != self._seq:
                raise ValueError("reply out of order")
        except Exception as exc:  # whatever the bytes are, they are the worker's fault
            self._charge(started)
            self._kill()
            raise StudentCrashed(f"{label} sent back something that is not a reply ({type(exc).__name__}).",
                                 label) from None
        self._charge(started)
        return reply, out_blobs

    def _charge(self, started: float) -> None:
        """Deduct the call's CPU time from the test's budget."""
        now = cpu_seconds_of(self.pid) if self.pid else None
        if self._test_cpu_left is not None:
            if now is not None and self._cpu_mark is not None:
                self._test_cpu_left -= max(0.0, now - self._cpu_mark)
            elif now is None and self.pid is None:  # no /proc: count wall time
                self._test_cpu_left -= time.monotonic() - started
        self._cpu_mark = now

    def _write_frame(self, frame: bytes, deadline: float, label: str) -> None:
        """Send a request, never blocking past ``deadline`` on a worker that does not read."""
        view = memoryview(frame)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StudentTimeout(f"{label}: the worker stopped reading its requests.", label)
            _, ready, _ = select.select([], [self._fd_out], [], min(remaining, POLL_SECONDS))
            if ready:
                with contextlib.suppress(BlockingIOError):
                    view = view[os.write(self._fd_out, view[: 1 << 20]) :]

    def _read_frame(self, wall: float, cpu: float | None, label: str) -> bytes:
        deadline = time.monotonic() + wall
        buf = bytearray()
        need = 8
        size: int | None = None
        while len(buf) < need:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if self._test_deadline is not None and self._test_deadline <= deadline + 1e-3:
                    raise StudentTimeout(
                        f"{label} did not finish: this test may take at most {self.limits.test_seconds:g} s "
                        "(infinite loop? far too slow?)", label)
                raise StudentTimeout(f"{label} did not finish within {wall:g} s (infinite loop? far too slow?)",
                                     label)
            ready, _, _ = select.select([self._fd_in], [], [], min(remaining, POLL_SECONDS))
            if not ready:
                if cpu is not None and self.pid and self._cpu_mark is not None:
                    used = cpu_seconds_of(self.pid)
                    if used is not None and used - self._cpu_mark > cpu:
                        raise StudentTimeout(
                            f"{label} used more than {cpu:g} s of CPU time (infinite loop? far too slow?)", label)
                continue
            chunk = os.read(self._fd_in, 1 << 20)
            if not chunk:
                raise EOFError
            buf += chunk
            if size is None and len(buf) >= 8:
                size = int.from_bytes(buf[:8], "little")
                if size > self.limits.reply_bytes:
                    raise StudentRaised(
                        f"{label} returned more than {self.limits.reply_bytes // 2**20} MiB of data.", label)
                need = 8 + size
        return bytes(buf[8:need])

    def _ensure_imported(self, module: str) -> None:
        """Import ``neural_network.<module>`` in the worker once per worker; a module whose
        import hangs, crashes or fails fails every later call at once (no repeated waits)."""
        if module in self._imported:
            return
        broken = self._broken.get(module)
        if broken is not None:
            raise type(broken)(broken.message, broken.function)
        label = f"importing {wire.PACKAGE}/{module}.py"
        try:
            reply, _ = self._exchange({"op": "import", "module": module}, [], label, None)
            if not reply.get("ok"):
                raise self._error(reply.get("error", {}), label)
        except StudentError as exc:
            self._broken[module] = exc
            raise
        self._imported.add(module)

    # ------------------------------------------------------------------ requests
    def request(
        self,
        op: str,
        name: str,
        args: Sequence[Any],
        kwargs: dict[str, Any],
        *,
        handle: Remote | None = None,
        timeout: float | None = None,
        check_inputs: bool = True,
        forbid_warnings: bool = False,
    ) -> Any:
        label = name if handle is None else f"{handle.type_name}.{name}"
        header: dict[str, Any] = {"op": op, "name": name, "return_args": check_inputs}
        modules: set[str] = set()
        if handle is None:
            if name not in self.modules:
                raise KeyError(f"{name} is not in the manifest")
            header["module"] = self.modules[name]
            modules.add(self.modules[name])
        else:
            header["handle"] = handle.handle
            if handle.generation != self.generation:
                raise StudentCrashed("this object was lost when an earlier call crashed the worker", label)
        blobs: list[bytes] = []

        def special(obj: Any) -> Any:
            return self._encode_special(obj, modules)

        header["args"] = wire.encode(tuple(args), blobs, special)
        header["kwargs"] = wire.encode(dict(kwargs), blobs, special)
        for module in sorted(modules):
            self._ensure_imported(module)
        if handle is not None and handle.generation != self.generation:
            raise StudentCrashed("this object was lost when an earlier call crashed the worker", label)
        reply, blobs = self._exchange(header, blobs, label, timeout)
        self.last_warnings = [str(w)[:300] for w in reply.get("warnings", [])][:5]
        if not reply.get("ok"):
            raise self._error(reply.get("error", {}), label)
        try:
            value = wire.decode(reply.get("value"), blobs, self._decode_special)
            after = None
            if check_inputs and "args_after" in reply:
                after = (wire.decode(reply["args_after"], blobs, self._decode_special),
                         wire.decode(reply["kwargs_after"], blobs, self._decode_special))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError, EOFError) as exc:
            self._kill()  # a forged reply (e.g. a pickle): never trusted, never unpickled
            raise StudentCrashed(f"{label} sent back data the grader cannot read ({type(exc).__name__}).",
                                 label) from None
        if after is not None:
            self._check_unchanged(label, name if handle is None else "", args, kwargs, after[0], after[1])
        if forbid_warnings and self.last_warnings:
            hint = diagnose_warnings(self.last_warnings)
            raise StudentRaised(
                f"{label} emitted a warning where the docstring promises numerical stability:\n  "
                + "\n  ".join(self.last_warnings[:3])
                + (f"\nLikely mistake {hint}" if hint else ""),
                label,
            )
        return value

    def _check_unchanged(self, label: str, function: str, args: Sequence[Any], kwargs: dict[str, Any],
                         after_args: Any, after_kwargs: Any) -> None:
        names = list(self.signatures(function)) if (self.signatures and function) else []
        for i, before in enumerate(args):
            after: Any = None
            if isinstance(after_args, (list, tuple)):
                values = cast("Sequence[Any]", after_args)
                after = values[i] if i < len(values) else None
            arg = names[i] if i < len(names) else f"argument {i + 1}"
            try:
                unchanged = _rounding_equal(before, after)
            except RngDrawn:
                raise InputMutated(self._rng_message(label, arg), label) from None
            if not unchanged:
                raise InputMutated(
                    f"{label} modified its input `{arg}` in place. Functions must be pure: "
                    "work on a copy (e.g. X = X.copy(), or build new arrays with X - mean "
                    "instead of X -= mean).",
                    label,
                )
        for key, before in kwargs.items():
            after = after_kwargs.get(key) if isinstance(after_kwargs, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            try:
                unchanged = _rounding_equal(before, after)
            except RngDrawn:
                raise InputMutated(self._rng_message(label, key), label) from None
            if not unchanged:
                raise InputMutated(f"{label} modified its input `{key}` in place: functions must be pure.", label)

    @staticmethod
    def _rng_message(label: str, arg: str) -> str:
        return (f"{label} drew random numbers from `{arg}` where the docstring says it must not "
                "(full batch never touches rng).\nLikely mistake (rng touched) shuffle only when "
                "batch_size is given; with batch_size=None use all samples in their order.")

    def _error(self, error: Mapping[str, Any], label: str) -> StudentError:
        kind = str(error.get("type", "Error"))[:100]
        message = str(error.get("message", ""))[:1000]
        where = str(error.get("where", ""))[:2000]
        if kind == "NotImplementedError" and error.get("phase") != "import":
            return StudentNotImplemented(f"{label} is not implemented yet (it raises NotImplementedError).", label)
        if error.get("phase") == "missing":
            return StudentRaised(f"{message}: was it renamed or deleted?", label)
        if error.get("phase") == "import":
            return StudentRaised(f"{message}\n{where}".rstrip(), label)
        if kind == "MemoryError":
            return StudentCrashed(f"{label} ran out of memory (limit {self.limits.memory_bytes // 2**20} MiB).", label)
        text = f"{label} raised {kind}: {message}"
        if where:
            text += f"\n{where}"
        return StudentRaised(text, label)

    def call(self, name: str, *args: Any, timeout: float | None = None, check_inputs: bool = True,
             forbid_warnings: bool = False, **kwargs: Any) -> Any:
        """Call the student's ``name(*args, **kwargs)`` in the worker and return the value."""
        return self.request("call", name, args, kwargs, timeout=timeout, check_inputs=check_inputs,
                            forbid_warnings=forbid_warnings)

    def try_call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Like :meth:`call` but returns ``None`` when the student's code fails in any way."""
        try:
            return self.call(name, *args, **kwargs)
        except StudentError:
            return None

    def new(self, name: str, *args: Any, **kwargs: Any) -> Remote:
        """Construct the student's class ``name(*args, **kwargs)``; returns a handle."""
        value = self.request("new", name, args, kwargs, check_inputs=False)
        if not isinstance(value, Remote):
            raise StudentRaised(f"{name}(...) did not create an object", name)
        return value


def reference_signature(module: Any) -> Callable[[str], Sequence[str]]:
    """Parameter names of the reference functions (for messages), by function name."""

    def names(function: str) -> Sequence[str]:
        target = getattr(module, function, None)
        if target is None:
            return []
        try:
            return list(inspect.signature(target).parameters)
        except (TypeError, ValueError):
            return []

    return names
