"""The trusted side of the grading boundary: start, talk to, and kill student workers.

A :class:`Student` owns one worker process at a time. The worker runs
``worker_runtime.py`` in a scratch folder that holds a copy of the submission's
package, a copy of the runtime and a private folder exposing only NumPy; its
``sys.path`` holds nothing else (``python -I -S``), so neither ``solutions`` nor
``autograder`` can be imported from it. Every call has a wall-clock limit; a worker
that times out, crashes or is killed for memory is replaced by a fresh one for the
next call, and only the call that broke it fails.

Nothing the worker sends is trusted: replies are JSON and ``.npy`` data decoded with
``allow_pickle=False``, and everything that decides a score happens in this process.
"""

from __future__ import annotations

import inspect
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlnp.testing import diagnose_warnings

from . import worker_runtime as wire

RUNTIME = Path(wire.__file__).resolve()


@dataclass(frozen=True)
class Limits:
    """Resource limits of a worker (per call for time, per process for the rest)."""

    call_seconds: float = 20.0
    cpu_seconds: int = 600
    memory_bytes: int = 2 * 1024**3
    output_bytes: int = 1024**2


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


# ---------------------------------------------------------------- values sent to workers


@dataclass(frozen=True)
class Seed:
    """Becomes ``np.random.default_rng(value)`` in the worker (and in the reference)."""

    value: int


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


def _rounding_equal(before: Any, after: Any) -> bool:
    """True when ``after`` is ``before`` up to floating-point rounding."""
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or after.shape != before.shape:
            return False
        if np.array_equal(before, after, equal_nan=True):
            return True
        if before.dtype.kind in "fc":
            scale = float(np.max(np.abs(before))) if before.size else 0.0
            return bool(np.allclose(after, before, rtol=1e-12, atol=1e-12 * (1.0 + scale)))
        return False
    if isinstance(before, dict):
        if not isinstance(after, dict) or set(before) != set(after):  # pyright: ignore[reportUnknownArgumentType]
            return False
        return all(_rounding_equal(v, after[k]) for k, v in before.items())  # pyright: ignore[reportUnknownVariableType]
    if isinstance(before, (list, tuple)):
        if not isinstance(after, (list, tuple)) or len(before) != len(after):  # pyright: ignore[reportUnknownArgumentType]
            return False
        return all(_rounding_equal(b, a) for b, a in zip(before, after))  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return True


class Student:
    """Proxy to one submission's code, running in a separate worker process."""

    def __init__(
        self,
        submission: Path,
        modules: dict[str, str],
        limits: Limits | None = None,
        signatures: Callable[[str], Sequence[str]] | None = None,
    ) -> None:
        self.submission = Path(submission).resolve()
        self.modules = modules
        self.limits = limits or Limits()
        self.signatures = signatures
        self.proc: subprocess.Popen[bytes] | None = None
        self.generation = 0
        self.scratch = Path(tempfile.mkdtemp(prefix="dlnp-worker-"))
        self.workers_started = 0
        self.last_warnings: list[str] = []
        self._prepare()

    # ------------------------------------------------------------------ lifecycle
    def _prepare(self) -> None:
        runtime = self.scratch / "runtime"
        runtime.mkdir()
        shutil.copy2(RUNTIME, runtime / "worker_runtime.py")
        deps = self.scratch / "deps"
        deps.mkdir()
        site = Path(np.__file__).resolve().parent.parent
        for name in ("numpy", "numpy.libs"):
            if (site / name).exists():
                os.symlink(site / name, deps / name)
        work = self.scratch / "submission"
        package = self.submission / wire.PACKAGE
        if package.is_dir():
            shutil.copytree(package, work / wire.PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (work / wire.PACKAGE).mkdir(parents=True)

    def _start(self) -> subprocess.Popen[bytes]:
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        runtime = self.scratch / "runtime"
        deps = self.scratch / "deps"
        work = self.scratch / "submission"
        boot = (
            "import sys; sys.path[:0] = [sys.argv[4], sys.argv[5]]; "
            "import worker_runtime; worker_runtime.main(sys.argv)"
        )
        limits = self.limits

        def preexec() -> None:  # runs in the child, before exec
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
            resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits.output_bytes, limits.output_bytes))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(work),
            "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
        }
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", boot, str(to_worker_r), str(from_worker_w),
             str(work), str(runtime), str(deps)],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_worker_r, from_worker_w),
            preexec_fn=preexec,
            start_new_session=True,
        )
        os.close(to_worker_r)
        os.close(from_worker_w)
        self._fd_out, self._fd_in = to_worker_w, from_worker_r
        self.generation += 1
        self.workers_started += 1
        return proc

    def _kill(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        for fd in (self._fd_out, self._fd_in):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc = None

    def close(self) -> None:
        self._kill()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> Student:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport
    def _encode_special(self, obj: Any) -> Any:
        if isinstance(obj, Seed):
            return {"__seed__": int(obj.value)}
        if isinstance(obj, StudentFunction):
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
        return wire.Opaque(f"unknown value {key}")

    def _exchange(self, header: dict[str, Any], timeout: float) -> tuple[dict[str, Any], list[bytes]]:
        if self.proc is None or self.proc.poll() is not None:
            self._kill()
            self.proc = self._start()
        blobs: list[bytes] = []
        header = dict(header)
        for key in ("args", "kwargs"):
            if key in header:
                header[key] = wire.encode(header[key], blobs, self._encode_special)
        frame = wire.pack(header, blobs)
        try:
            wire.write_all(self._fd_out, frame)
            body = self._read_reply(timeout)
            return wire.unpack(body)
        except StudentError:
            self._kill()
            raise
        except (OSError, EOFError, ValueError) as exc:
            self._kill()
            raise StudentCrashed(
                "your code crashed the Python process (exit, segfault, or out of memory): "
                f"{type(exc).__name__}"
            ) from None

    def _read_reply(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        buf = bytearray()
        need = 8
        size: int | None = None
        while len(buf) < need:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StudentTimeout(f"your code did not finish within {timeout:g} s (infinite loop? far too slow?)")
            ready, _, _ = select.select([self._fd_in], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._fd_in, 1 << 20)
            if not chunk:
                raise EOFError
            buf += chunk
            if size is None and len(buf) >= 8:
                size = int.from_bytes(buf[:8], "little")
                if size > wire.MAX_FRAME:
                    raise ValueError("reply too large")
                need = 8 + size
        return bytes(buf[8:need])

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
        header: dict[str, Any] = {"op": op, "name": name, "args": tuple(args), "kwargs": dict(kwargs),
                                  "return_args": check_inputs}
        if handle is None:
            if name not in self.modules:
                raise KeyError(f"{name} is not in the manifest")
            header["module"] = self.modules[name]
        else:
            header["handle"] = handle.handle
            if handle.generation != self.generation:
                raise StudentCrashed("this object was lost when an earlier call crashed the worker", label)
        reply, blobs = self._exchange(header, timeout or self.limits.call_seconds)
        self.last_warnings = [str(w)[:300] for w in reply.get("warnings", [])][:5]
        if not reply.get("ok"):
            raise self._error(reply.get("error", {}), label)
        value = wire.decode(reply.get("value"), blobs, self._decode_special)
        if check_inputs and "args_after" in reply:
            after_args = wire.decode(reply["args_after"], blobs, self._decode_special)
            after_kwargs = wire.decode(reply["kwargs_after"], blobs, self._decode_special)
            self._check_unchanged(label, name if handle is None else "", args, kwargs, after_args, after_kwargs)
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
            after = after_args[i] if isinstance(after_args, (list, tuple)) and i < len(after_args) else None  # pyright: ignore[reportUnknownArgumentType]
            if not _rounding_equal(before, after):
                arg = names[i] if i < len(names) else f"argument {i + 1}"
                raise InputMutated(
                    f"{label} modified its input `{arg}` in place. Functions must be pure: "
                    "work on a copy (e.g. X = X.copy(), or build new arrays with X - mean "
                    "instead of X -= mean).",
                    label,
                )
        for key, before in kwargs.items():
            after = after_kwargs.get(key) if isinstance(after_kwargs, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            if not _rounding_equal(before, after):
                raise InputMutated(f"{label} modified its input `{key}` in place: functions must be pure.", label)

    def _error(self, error: dict[str, Any], label: str) -> StudentError:
        kind = str(error.get("type", "Error"))
        message = str(error.get("message", ""))[:1000]
        where = str(error.get("where", ""))
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
