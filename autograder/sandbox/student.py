"""The grader's proxy to one submission's code (:class:`Student`).

A :class:`Student` owns one worker process at a time (reused across a submission's
tests, restarted after a crash). It gives each test a wall-clock and CPU budget,
turns a call into a request frame, and a reply back into a value or a
:class:`~.errors.StudentError` written for the student. Nothing the worker sends is
trusted: replies are JSON and ``.npy`` data decoded within bounds (:mod:`.codec`),
and everything that decides a score happens in the grading process.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

from .. import worker_runtime as wire
from . import wording
from .channel import read_frame, write_frame
from .choice import choose_isolation
from .codec import BlobDecoder, decode_reply_value, encode_request_value, reply_special
from .errors import SandboxError, StudentCrashed, StudentError, StudentRaised, StudentTimeout
from .files import copy_package
from .inputs import check_unchanged
from .isolation import Sandbox, check_out_of_reach
from .layout import RUNTIME, interpreter, numpy_dirs
from .limits import Limits
from .processes import ISSUED_TOKENS, TOKEN_VAR
from .scratch import ScratchWatch
from .users import WorkerUser, claim_user
from .values import Remote
from .worker import WorkerProcess

BOOT = "import sys; sys.path[:0] = [sys.argv[4], sys.argv[5]]; import worker_runtime; worker_runtime.main(sys.argv)"


class Student:
    """Proxy to one submission's code, running in a separate, confined worker process.

    ``hide``: extra host folders the worker must not see (the submissions root, the
    results folder); the kit, the packages and home folders are always hidden.
    ``skipped_files``: what of the package was not copied for the worker, and why.
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
        #: The graded function of the current test (set by the grading plugin; "" outside a grading).
        self.current_function = ""
        self._oracle: Student | None = None
        self._oracle_for = ""
        self.limits = limits or Limits()
        self.signatures = signatures
        self.isolation, self.isolation_note = choose_isolation(self.limits.isolation)
        self.worker: WorkerProcess | None = None
        self.generation = 0
        self.workers_started = 0
        self.last_warnings: list[str] = []
        self.skipped_files: list[str] = []
        self.token = secrets.token_hex(16)
        ISSUED_TOKENS.add(self.token)
        self._ready = False
        self._seq = 0
        self._cpu_mark: float | None = None
        self._imported: set[str] = set()
        #: Modules whose import raised (deterministic: kept for the whole grading).
        self._failed_imports: dict[str, StudentError] = {}
        #: Modules whose import crashed or hung in the current worker (a restarted worker starts clean).
        self._broken: dict[str, StudentError] = {}
        self._test_deadline: float | None = None
        self._deadline_is_budget = False  # the current test ends with the submission's time budget
        self._test_cpu_left: float | None = None
        self.user: WorkerUser | None = None
        #: Without namespaces, the bound on the scratch files of the worker's user (None when isolated).
        self.scratch_watch: ScratchWatch | None = None
        self.scratch = Path(tempfile.mkdtemp(prefix="dlnp-worker-"))
        try:
            self.user = claim_user()
            self._prepare([self.submission.parent, *hide])
        except BaseException:
            self._release()
            raise

    @property
    def pid(self) -> int | None:
        """Host pid of the Python worker (None when not running)."""
        return self.worker.pid if self.worker is not None else None

    # ------------------------------------------------------------------ lifecycle
    def _prepare(self, hide: Sequence[Path]) -> None:
        if self.isolation == "none" and self.user is not None:
            check_out_of_reach(self.user, hide)
        runtime = self.scratch / "runtime"
        runtime.mkdir(mode=0o755)
        shutil.copy2(RUNTIME, runtime / "worker_runtime.py")
        (runtime / "worker_runtime.py").chmod(0o644)
        copy = self.scratch / "package" / wire.PACKAGE
        self.skipped_files = copy_package(self.submission / wire.PACKAGE, copy)
        (self.scratch / "package").chmod(0o755)
        deps = {f"deps/{name}": path for name, path in numpy_dirs().items()}
        binds = {"runtime": runtime, f"work/{wire.PACKAGE}": copy, **deps}
        self.box = Sandbox(self.isolation, self.scratch, binds, list(hide), self.limits.scratch_bytes, self.user)
        if self.isolation == "none" and self.user is not None:
            self.scratch_watch = ScratchWatch(self.user, self.scratch / "work", self.limits.scratch_bytes)

    def spawn(self) -> None:
        """Start a worker now without waiting for it (it imports NumPy while the grader collects)."""
        if self.worker is None:
            self._start(wait=False)

    def _start(self, wait: bool = True) -> None:
        """Start a worker (and, with ``wait``, wait for its hello: a worker that fails to start
        before any student code ran is started once more, the launcher may fail for reasons
        of the moment)."""
        try:
            self._launch(wait)
        except SandboxError:
            self._launch(wait)

    def _launch(self, wait: bool) -> None:
        box = self.box
        env = {"PATH": "/usr/bin:/bin", "HOME": box.cwd, "TMPDIR": box.cwd, "LANG": "C.UTF-8",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "MPLBACKEND": "Agg", TOKEN_VAR: self.token}
        exe, _ = interpreter()
        argv = [exe, "-I", "-S", "-B", "-c", BOOT, "{FD_IN}", "{FD_OUT}", box.cwd, box.path("runtime"),
                box.path("deps"), "dlnp-worker"]
        worker = WorkerProcess(box, self.limits, self.token)
        worker.start(argv, env)
        if self.scratch_watch is not None:
            self.scratch_watch.start()
        self.worker = worker
        self.generation += 1
        self.workers_started += 1
        self._imported = set()
        self._broken = {}
        self._ready = False
        if wait:
            self._await_hello()

    def _await_hello(self) -> None:
        worker = self.worker
        assert worker is not None
        try:
            label = "starting the worker"
            body = read_frame(worker.fd_in, time.monotonic() + self.limits.start_seconds, label,
                              self.limits.reply_bytes, too_late=lambda: wording.over_call_time(label, 0),
                              over_cpu=lambda: None)
            header, _ = wire.unpack(body)
            if header.get("hello") != "dlnp-worker":
                raise ValueError("bad hello")
        except (StudentError, OSError, EOFError, ValueError) as exc:
            self._kill()
            raise SandboxError(f"the grading sandbox ({self.isolation}) could not start a worker: {exc}") from None
        worker.find(interpreter()[0], b"dlnp-worker")
        self._cpu_mark = worker.cpu_seconds()
        self._ready = True

    def _kill(self) -> None:
        if self.worker is not None:
            self.worker.kill()
            self.worker = None
        self._cpu_mark = None
        self._ready = False
        self._imported = set()

    def twin(self) -> Student:
        """A new, independent :class:`Student` for the same submission, limits and hidden folders."""
        return Student(self.submission, self.modules, self.limits, self.signatures, hide=self.box.hide)

    def oracle(self) -> Student | None:
        """The second worker that answers the composition checks of the current test's function.

        It is started on first use and shared by the tests of ONE graded function only (the
        next function gets a new one): it has its own process, scratch folder and uid, and
        is only ever asked for that function's EARLIER functions, so it never runs the
        graded function and never sees what the graded call returned. ``None`` outside a
        grading (no :attr:`current_function`): each use then starts its own worker.
        """
        function = self.current_function
        if not function:
            return None
        if self._oracle is not None and self._oracle_for != function:
            self._oracle.close()
            self._oracle = None
        if self._oracle is None:
            self._oracle = self.twin()
            self._oracle_for = function
        return self._oracle

    def _release(self) -> None:
        if self._oracle is not None:
            self._oracle.close()
            self._oracle = None
        if self.scratch_watch is not None:
            self.scratch_watch.stop()
        self._kill()
        if self.user is not None:
            self.user.release()
            self.user = None
        shutil.rmtree(self.scratch, ignore_errors=True)

    def close(self) -> None:
        self._release()

    def __enter__(self) -> Student:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ tests
    def begin_test(self, deadline: float | None = None) -> None:
        """Start the wall-clock and CPU budgets of one test (called by the grading plugin).

        The test may run for ``limits.test_seconds``, and never past ``deadline`` (a
        :func:`time.monotonic` time: what is left of the submission's time budget), so
        that a test that loops cannot overrun the budget of the whole submission.
        """
        own = time.monotonic() + self.limits.test_seconds
        self._test_deadline = own if deadline is None else min(own, deadline)
        self._deadline_is_budget = deadline is not None and deadline < own
        self._test_cpu_left = self.limits.cpu_seconds

    def end_test(self) -> None:
        self._test_deadline = None
        self._deadline_is_budget = False
        self._test_cpu_left = None

    @property
    def test_deadline(self) -> float | None:
        """The :func:`time.monotonic` time the current test must end by (None outside a test)."""
        return self._test_deadline

    @contextlib.contextmanager
    def test(self, deadline: float | None = None) -> Generator[None]:
        """One test's budgets for the duration of a ``with`` block (see :meth:`begin_test`)."""
        self.begin_test(deadline)
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
                if self._deadline_is_budget:
                    raise StudentTimeout(wording.budget_used(label), label)
                raise StudentTimeout(wording.test_time_used(label, self.limits.test_seconds), label)
            wall = min(wall, left)
        if self._test_cpu_left is not None:
            if self._test_cpu_left <= 0:
                raise StudentTimeout(wording.test_cpu_used(label, self.limits.cpu_seconds), label)
            cpu = min(cpu, self._test_cpu_left)
        return wall, cpu

    # ------------------------------------------------------------------ transport
    def _exchange(self, header: dict[str, Any], blobs: list[bytes], label: str,
                  timeout: float | None) -> tuple[dict[str, Any], list[bytes]]:
        """Send one request, return the decoded-frame reply; kill the worker on any failure."""
        wall, cpu = self._budget(label, timeout)
        self._check_scratch(label)
        if self.worker is None or (self._ready and not self.worker.alive()):
            self._kill()
            self._start()
        elif not self._ready:
            try:
                self._await_hello()
            except SandboxError:  # the worker spawned early did not start: once more, waiting
                self._start()
        worker = self.worker
        assert worker is not None
        self._seq += 1
        frame = wire.pack(dict(header, id=self._seq), blobs)
        started = time.monotonic()
        deadline = started + wall

        def too_late() -> str:
            if self._test_deadline is not None and self._test_deadline <= deadline + 1e-3:
                if self._deadline_is_budget:
                    return wording.over_budget(label)
                return wording.over_test_time(label, self.limits.test_seconds)
            return wording.over_call_time(label, wall)

        def over_cpu() -> str | None:
            used = worker.cpu_seconds()
            if used is not None and self._cpu_mark is not None and used - self._cpu_mark > cpu:
                return wording.over_cpu(label, cpu)
            return None

        try:
            write_frame(worker.fd_out, frame, deadline, label)
            body = read_frame(worker.fd_in, deadline, label, self.limits.reply_bytes,
                              too_late=too_late, over_cpu=over_cpu)
        except StudentError:
            self._charge(started)
            self._kill()
            self._check_scratch(label)
            raise
        except (OSError, EOFError) as exc:
            self._charge(started)
            out_of_memory = worker.ran_out_of_memory()
            self._kill()
            self._check_scratch(label)
            raise StudentCrashed(wording.crashed(label, self.limits.memory_bytes, type(exc).__name__,
                                                 out_of_memory), label) from None
        try:
            reply, out_blobs = wire.unpack(body)
            if reply.get("id") != self._seq:
                raise ValueError("reply out of order")
        except Exception as exc:  # whatever the bytes are, they are the worker's fault
            self._charge(started)
            self._kill()
            raise StudentCrashed(wording.unreadable_reply(label, type(exc).__name__), label) from None
        self._charge(started)
        self._check_scratch(label)  # the bound was crossed while this call ran, before it replied
        return reply, out_blobs

    def _check_scratch(self, label: str) -> None:
        """When the scratch watchdog stopped the worker: delete its files and fail this call, saying why."""
        watch = self.scratch_watch
        if watch is None or watch.tripped is None:
            return
        why = watch.tripped
        self._kill()
        watch.clear()
        raise StudentCrashed(wording.over_scratch(label, why), label)

    def _charge(self, started: float) -> None:
        """Deduct the call's CPU time (of the worker's whole tree) from the test's budget."""
        now = self.worker.cpu_seconds() if self.worker is not None else None
        if self._test_cpu_left is not None:
            if now is not None and self._cpu_mark is not None:
                self._test_cpu_left -= max(0.0, now - self._cpu_mark)
            elif now is None and self.pid is None:  # no /proc: count wall time
                self._test_cpu_left -= time.monotonic() - started
        self._cpu_mark = now

    def _ensure_imported(self, module: str) -> None:
        """Import ``neural_network.<module>`` in the worker once per worker; a module whose
        import hangs, crashes or fails fails every later call at once (no repeated waits)."""
        if module in self._imported:
            return
        broken = self._failed_imports.get(module) or self._broken.get(module)
        if broken is not None:
            raise type(broken)(broken.message, broken.function)
        label = f"importing {wire.PACKAGE}/{module}.py"
        try:
            reply, _ = self._exchange({"op": "import", "module": module}, [], label, None)
        except StudentError as exc:
            self._broken[module] = exc  # crashed or hung: this worker only; a fresh one tries again
            raise
        if not reply.get("ok"):
            error = wording.describe_error(reply.get("error", {}), label, self.limits.memory_bytes)
            self._failed_imports[module] = error  # the module's own code raised: the same on every worker
            raise error
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
                raise StudentCrashed(wording.lost_object(), label)
        blobs: list[bytes] = []

        def special(obj: Any) -> Any:
            return encode_request_value(obj, self.modules, self.generation, modules)

        header["args"] = wire.encode(tuple(args), blobs, special)
        header["kwargs"] = wire.encode(dict(kwargs), blobs, special)
        for module in sorted(modules):
            self._ensure_imported(module)
        if handle is not None and handle.generation != self.generation:
            raise StudentCrashed(wording.lost_object(), label)
        reply, blobs = self._exchange(header, blobs, label, timeout)
        self.last_warnings = [str(w)[:300] for w in reply.get("warnings", [])][:5]
        if not reply.get("ok"):
            raise wording.describe_error(reply.get("error", {}), label, self.limits.memory_bytes)
        decoder = BlobDecoder(blobs, self.limits.decoded_bytes)
        tags = reply_special(self.generation, self)
        try:
            value = decode_reply_value(reply.get("value"), decoder, tags)
            after = None
            if check_inputs and "args_after" in reply:
                after = (decode_reply_value(reply["args_after"], decoder, tags),
                         decode_reply_value(reply["kwargs_after"], decoder, tags))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError, EOFError) as exc:
            self._kill()  # a forged reply (e.g. a pickle): never trusted, never unpickled
            raise StudentCrashed(wording.unreadable_data(label, type(exc).__name__), label) from None
        if after is not None:
            function = name if handle is None else ""
            names = list(self.signatures(function)) if (self.signatures and function) else []
            check_unchanged(label, names, args, kwargs, after[0], after[1])
        if forbid_warnings and self.last_warnings:
            raise StudentRaised(wording.unstable(label, self.last_warnings), label)
        return value

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
            raise StudentRaised(wording.not_an_object(name), name)
        return value
