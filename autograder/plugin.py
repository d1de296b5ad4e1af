"""pytest plugin of the trusted grader: fixtures, the points marker, and the results.

Loaded by :func:`autograder.engine.grade_submission`. It runs in the trusted process:
it never imports student code (the ``student`` fixture talks to a worker process),
and it alone turns test outcomes into scores (:mod:`autograder.results`).

Time is bounded at three levels. Each call and each test have the sandbox's limits
(:class:`~autograder.sandbox.Limits`). A call that timed out is not made again in a
later test of the same grading (:class:`GradedStudent`): those tests fail at once with
a line that says so. The submission as a whole has a budget (``budget_seconds``,
default :data:`DEFAULT_BUDGET_SECONDS`): once it is used up, the tests not run yet fail
at once with a line that says so, and the test running when it runs out is stopped then
(its deadline is the earlier of its own limit and the end of the budget). A submission
whose every function loops is therefore graded in about ``budget_seconds``.

With a results path, the results file is rewritten atomically while grading runs
(after each chapter, and at least every :data:`PARTIAL_EVERY_SECONDS` during a long
chapter), so a grading killed from outside leaves valid partial results:
``grading.complete`` false, the tests not reached with the outcome ``not_run``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import inspect
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from dlnp import __version__
from dlnp.manifest import Manifest, load_manifest
from dlnp.testing import Feedback

from .paths import GRADERS, KIT_ROOT
from .results import (
    GradingInfo,
    GradingResults,
    SandboxInfo,
    TestResult,
    Visibility,
    cap_results,
    make_results,
    make_test,
    outcome_of,
    sandbox_info,
    write_json_atomic,
)
from .sandbox import (
    Limits,
    Remote,
    SandboxError,
    Student,
    StudentError,
    StudentTimeout,
    package_digest,
    sandbox_report,
    wording,
)
from .worker_runtime import PACKAGE

MAX_OUTPUT = 4000
MAX_RESULTS_BYTES = 900_000  # results.json stays under 1 MB whatever the student's code does
#: Time budget of one submission (s). A normal submission takes about 4 s for all chapters
#: and a slow but correct one well under a minute; the test running when the budget runs
#: out is stopped then, so a submission that loops everywhere ends in about 3 minutes,
#: well under Gradescope's default autograder timeout (10 minutes).
DEFAULT_BUDGET_SECONDS = 180.0
#: Partial results are written at least this often (s) while a chapter takes long.
PARTIAL_EVERY_SECONDS = 2.0
PLUGIN_KEY = pytest.StashKey["GradingPlugin"]()
#: What decides a score: the engine, the graders, the reference, the checks, the manifest.
KIT_PARTS = ("autograder", "solutions", "dlnp/testing.py", "dlnp/manifest.py", "assignments/chapters.toml")


@pytest.fixture(scope="session")
def student(request: pytest.FixtureRequest) -> Iterator[Student]:
    """The submission's code, behind the worker boundary (one worker, restarted on crash)."""
    student = request.config.stash[PLUGIN_KEY].make_student()
    yield student
    student.close()


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """Generator seeded from (salt, submission, test): stable on re-grade, unguessable, per test."""
    node = cast("pytest.Item", request.node)  # pyright: ignore[reportUnknownMemberType]
    return request.config.stash[PLUGIN_KEY].rng_for(node.nodeid)


def submission_digest(submission: Path) -> str:
    """sha256 of every file of the student's package that a worker sees (the sandbox's one
    bounded walk: regular files only, no link followed): the same code grades the same."""
    return package_digest(submission / "neural_network")


def _digest_files(parts: Sequence[str]) -> str:
    """sha256 of the ``.py`` and ``.toml`` files of ``parts`` (paths relative to the kit)."""
    h = hashlib.sha256()
    for part in parts:
        root = KIT_ROOT / part
        files = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in files:
            if not path.is_file() or "__pycache__" in path.parts or path.suffix not in (".py", ".toml"):
                continue
            h.update(str(path.relative_to(KIT_ROOT)).encode())
            h.update(b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


@functools.cache
def kit_digest() -> str:
    """sha256 of everything that decides a score (:data:`KIT_PARTS`): a change regrades."""
    return _digest_files(KIT_PARTS)


@functools.cache
def graders_digest() -> str:
    """sha256 of the hidden graders alone (``autograder/graders``): tells a grader fix apart."""
    return _digest_files([str(GRADERS.relative_to(KIT_ROOT))])


def salt_fingerprint(salt: str) -> str:
    """16 hex digits identifying the secret salt (equal salts, equal fingerprints) without revealing it."""
    return hashlib.sha256(b"dlnp-salt-fingerprint\0" + salt.encode()).hexdigest()[:16]


def grading_fingerprint(salt: str, chapters: list[str] | None) -> str:
    """Identifies one way of grading (kit, secret salt, chapters) without revealing the salt."""
    key = f"{kit_digest()}|{salt}|{','.join(sorted(chapters)) if chapters else '*'}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def grading_info(salt: str, chapters: list[str] | None, budget_seconds: float) -> GradingInfo:
    """What grades a submission (kit, graders, salt), before it is graded: complete, no problem."""
    return {
        "kit_version": f"{__version__}+{kit_digest()[:12]}",
        "kit_sha256": kit_digest(),
        "graders_sha256": graders_digest(),
        "salt_fingerprint": salt_fingerprint(salt),
        "fingerprint": grading_fingerprint(salt, sorted(chapters) if chapters else None),
        "complete": True,
        "problems": [],
        "budget_seconds": budget_seconds,
        "timed_out": [],
    }


def _signatures(manifest: Manifest) -> Callable[[str], list[str]]:
    modules = manifest.modules

    def names(function: str) -> list[str]:
        try:
            target = getattr(importlib.import_module(f"solutions.{modules[function]}"), function)
            return list(inspect.signature(target).parameters)
        except (KeyError, AttributeError, TypeError, ValueError, ImportError):
            return []

    return names


class GradedStudent(Student):
    """A :class:`~autograder.sandbox.Student` that does not call again what timed out.

    A call that ran out of time (taking at least ``stall_seconds``; a call refused at
    once because its test's budget was already spent does not count) is remembered with
    the test it timed out in; later calls of the same function or method fail at once
    with :class:`~autograder.sandbox.StudentTimeout` saying so. When what hung was the
    import of a module (the error names ``importing .../<module>.py``), every function
    of that module is refused the same way, whatever the worker remembers.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timed_out: dict[str, str] = {}  # function, method or import -> the test it timed out in
        self.hung_modules: dict[str, str] = {}  # module whose import timed out -> the test
        self.current_test = ""
        self.stall_seconds = min(5.0, self.limits.call_seconds / 2, self.limits.cpu_seconds / 2)

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
        self._refuse_what_timed_out(label, self.modules.get(name) if handle is None else None)
        started = time.monotonic()
        try:
            return super().request(op, name, args, kwargs, handle=handle, timeout=timeout,
                                   check_inputs=check_inputs, forbid_warnings=forbid_warnings)
        except StudentTimeout as exc:
            if time.monotonic() - started >= self.stall_seconds:
                where = self.current_test or "an earlier test"
                self.timed_out.setdefault(label, where)
                if exc.function and exc.function != label:  # something the call needed hung: an import
                    self.timed_out.setdefault(exc.function, where)
                    for module in set(self.modules.values()):
                        if exc.function.endswith(f"/{module}.py"):
                            self.hung_modules.setdefault(module, where)
            raise

    def _refuse_what_timed_out(self, label: str, module: str | None) -> None:
        earlier = self.timed_out.get(label)
        if earlier is not None:
            raise StudentTimeout(
                f"{label} was not called again: it did not finish in an earlier test ({earlier}), so the grader "
                "does not wait for it a second time. Make it finish (infinite loop? far too slow?) and these "
                "tests can pass.", label)
        if module is not None and module in self.hung_modules:
            raise StudentTimeout(
                f"{label} was not called: importing its module {module}.py did not finish in an earlier test "
                f"({self.hung_modules[module]}). Make the module import quickly (no loops or long work at its "
                "top level) and these tests can pass.", label)


class GradingPlugin:
    """Collects one result per hidden test and writes the results file."""

    def __init__(self, submission: Path, results: Path | None, salt: str, chapters: list[str] | None,
                 visibility: Visibility, limits: Limits, hide: Sequence[Path] = (),
                 budget_seconds: float = DEFAULT_BUDGET_SECONDS) -> None:
        self.submission = submission.resolve()
        self.results_path = results
        self.hide = [Path(p).resolve() for p in hide]
        self.salt = salt
        self.chapters = set(chapters) if chapters else None
        self.visibility: Visibility = visibility
        self.limits = limits
        self.budget_seconds = budget_seconds
        self.manifest = load_manifest()
        self.digest = submission_digest(self.submission)
        self.started = time.monotonic()
        self.deadline = self.started + budget_seconds
        self.planned: dict[str, TestResult] = {}  # nodeid -> not_run placeholder, in collection order
        self.graded: dict[str, TestResult] = {}  # nodeid -> result
        self.results: GradingResults | None = None
        self.problems: list[str] = []  # grading-machine problems: such results are not final
        self._student: GradedStudent | None = None
        self._sandbox: SandboxInfo | None = None
        self._last_write = self.started

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[PLUGIN_KEY] = self
        config.addinivalue_line("markers", "grade(function, points): a hidden grader and its points")

    def make_student(self) -> GradedStudent:
        if self._student is None:
            hide = [*self.hide, *([self.results_path.resolve().parent] if self.results_path is not None else [])]
            self._student = GradedStudent(self.submission, self.manifest.modules, self.limits,
                                          _signatures(self.manifest), hide=hide)
        return self._student

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Start the worker early: it imports NumPy while pytest collects the graders."""
        try:
            self.make_student().spawn()
        except Exception:  # reported by the first test that needs the student
            if self._student is not None:
                self._student.close()
            self._student = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """A test starts only while the submission's time budget lasts."""
        if self._student is not None:
            self._student.current_test = self._title(item)
            self._student.current_function = self._function(item)
        if time.monotonic() >= self.deadline:
            raise StudentTimeout(
                f"Not run: grading this submission may take at most {self.budget_seconds:g} s and the earlier "
                "tests used it up (code that loops or is far too slow). Make those functions finish quickly "
                "and this test will run.", self._function(item))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        """Each test gets its own wall-clock and CPU budget for the student's code, its wall-clock
        time capped by what is left of the submission's budget."""
        student = self._student
        if student is None:
            yield
            return
        with student.test(self.deadline):
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
        """After a chapter (or a long stretch of one), rewrite the partial results file."""
        yield
        if self.results_path is None or nextitem is None:
            return  # the final results are written at the end of the session
        chapter_done = self.chapter_of(nextitem) != self.chapter_of(item)
        if chapter_done or time.monotonic() - self._last_write >= PARTIAL_EVERY_SECONDS:
            partial = self._results(complete=False, seconds=time.monotonic() - self.started)
            with contextlib.suppress(OSError):  # best effort: the final results are written (or fail) at the end
                write_json_atomic(self.results_path, partial, durable=False)
            self._last_write = time.monotonic()

    def rng_for(self, nodeid: str) -> np.random.Generator:
        key = f"{self.salt}|{self.digest}|{nodeid}".encode()
        return np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))

    # ---------------------------------------------------------------- collection
    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        keep: list[pytest.Item] = []
        for item in items:
            chapter = self.chapter_of(item)
            if self.chapters is None or chapter in self.chapters:
                keep.append(item)
        items[:] = keep
        for item in keep:
            self.planned[item.nodeid] = make_test(
                name=self._name(item), chapter=self.chapter_of(item), function=self._function(item),
                points=self._points(item), outcome="not_run", visibility=self.visibility,
                output="Not graded: grading stopped before this test (the results are partial).")

    @staticmethod
    def chapter_of(item: pytest.Item) -> str:
        module = getattr(item, "module", None)
        return str(getattr(module, "CHAPTER", "?"))

    @staticmethod
    def _function(item: pytest.Item) -> str:
        mark = item.get_closest_marker("grade")
        return str(mark.kwargs.get("function", "?")) if mark else "?"

    @staticmethod
    def _points(item: pytest.Item) -> float:
        mark = item.get_closest_marker("grade")
        return float(mark.kwargs.get("points", 0)) if mark else 0.0

    @staticmethod
    def _title(item: pytest.Item) -> str:
        doc = (getattr(item, "function", None).__doc__ or "").strip().splitlines()  # pyright: ignore[reportOptionalMemberAccess]
        return doc[0] if doc else item.name

    def _name(self, item: pytest.Item) -> str:
        return f"{self.chapter_of(item)} {self._function(item)}: {self._title(item)}"

    # ---------------------------------------------------------------- outcomes
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item,
                                  call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        outcome: Any = yield
        report: pytest.TestReport = outcome.get_result()  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownVariableType]
        if report.when == "call" or (report.when == "setup" and report.failed):  # pyright: ignore[reportUnknownMemberType]
            self.graded[item.nodeid] = self._record(item, call, bool(report.passed))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]

    def _record(self, item: pytest.Item, call: pytest.CallInfo[None], passed: bool) -> TestResult:
        status, output = ("passed", "") if passed else self._diagnose(call)
        if not passed:
            why = self._module_skipped(self._function(item))
            if why:
                output = f"{wording.module_skipped(PACKAGE, why)}\n{output}"
        if len(output) > MAX_OUTPUT:
            output = output[:MAX_OUTPUT] + "\n[... output truncated]"
        return make_test(name=self._name(item), chapter=self.chapter_of(item), function=self._function(item),
                         points=self._points(item), outcome=outcome_of(status), output=output,
                         visibility=self.visibility)

    def _diagnose(self, call: pytest.CallInfo[None]) -> tuple[str, str]:
        exc = call.excinfo.value if call.excinfo else None
        if isinstance(exc, StudentError):
            return exc.status, exc.message
        if isinstance(exc, SandboxError):
            self.problems.append(str(exc))
            return "grader_error", f"The grader could not run your code (a problem of the grading machine): {exc}"
        if isinstance(exc, Feedback):
            return "failed", str(exc)
        if isinstance(exc, AssertionError):
            return "failed", str(exc) or "a check failed"
        name = type(exc).__name__ if exc else "unknown"
        return "grader_error", (
            f"Your result could not be checked ({name}: {str(exc)[:300]}). It probably has an "
            "unexpected type or shape; compare it with the docstring."
        )

    def _module_skipped(self, function: str) -> str:
        """Why the file of ``function``'s module was not given to the worker (``""`` when it was)."""
        module = self.manifest.modules.get(function)
        skipped = self._student.skipped_files if self._student is not None else []
        return next((line for line in skipped if module and line.startswith(f"{module}.py: ")), "")

    # ---------------------------------------------------------------- results
    def _sandbox_info(self) -> SandboxInfo:
        if self._sandbox is None:
            try:
                self._sandbox = sandbox_info(sandbox_report(self.limits))
            except (SandboxError, ValueError) as exc:
                self._sandbox = {"isolation": "unavailable", "note": str(exc)}
        return self._sandbox

    def _results(self, *, complete: bool, seconds: float) -> GradingResults:
        """The results so far: every planned test, graded or ``not_run``."""
        tests = [self.graded.get(nodeid, placeholder) for nodeid, placeholder in self.planned.items()]
        tests += [t for nodeid, t in self.graded.items() if nodeid not in self.planned]
        not_run = sum(1 for t in tests if t["extra_data"]["outcome"] == "not_run")
        problems = sorted(set(self.problems))[:5]
        if not_run:
            problems.append(f"grading stopped before {not_run} of {len(tests)} tests (partial results)")
        grading = grading_info(self.salt, sorted(self.chapters) if self.chapters else None, self.budget_seconds)
        grading["complete"] = complete and not problems
        grading["problems"] = problems
        grading["timed_out"] = sorted(self._student.timed_out) if self._student is not None else []
        sandbox = self._sandbox_info()
        notes = [f"Note: {sandbox['note']}" if sandbox["note"] else ""]
        if self._student is not None and self._student.skipped_files:
            notes.append(wording.skipped_files(PACKAGE, self._student.skipped_files))
        return make_results(
            chapter_ids=[c.id for c in self.manifest.chapters], tests=tests, seconds=seconds,
            visibility=self.visibility, digest=self.digest, sandbox=sandbox, grading=grading,
            output="\n".join(note for note in notes if note),
            workers_started=self._student.workers_started if self._student is not None else None,
        )

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self._student is not None:
            self._student.close()  # also when no test asked for it
        results = self._results(complete=exitstatus in (0, 1, 5),  # 5: no grader for these chapters
                                seconds=time.monotonic() - self.started)
        self.results = cap_results(results, MAX_RESULTS_BYTES, MAX_OUTPUT)
        if self.results_path is not None:
            write_json_atomic(self.results_path, self.results)
