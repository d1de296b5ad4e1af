"""pytest plugin of the trusted grader: fixtures, the points marker, and the results.

Loaded by :func:`autograder.engine.grade_submission`. It runs in the trusted process:
it never imports student code (the ``student`` fixture talks to a worker process),
and it alone turns test outcomes into scores.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import inspect
import json
import os
import tempfile
import time
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dlnp import __version__
from dlnp.manifest import Manifest, load_manifest
from dlnp.testing import Feedback

from .sandbox import Limits, SandboxError, Student, StudentError, sandbox_report

MAX_OUTPUT = 4000
MAX_RESULTS_BYTES = 900_000  # results.json stays under 1 MB whatever the student's code does
PLUGIN_KEY = pytest.StashKey["GradingPlugin"]()
KIT_ROOT = Path(__file__).resolve().parent.parent
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
    return request.config.stash[PLUGIN_KEY].rng_for(request.node.nodeid)


def submission_digest(submission: Path) -> str:
    """sha256 of the student's package sources: the same code grades the same."""
    h = hashlib.sha256()
    package = submission / "neural_network"
    if package.is_dir():
        for path in sorted(package.rglob("*.py")):
            h.update(str(path.relative_to(package)).encode())
            h.update(b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


@functools.cache
def kit_digest() -> str:
    """sha256 of everything that decides a score (:data:`KIT_PARTS`): a change regrades."""
    h = hashlib.sha256()
    for part in KIT_PARTS:
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


def grading_fingerprint(salt: str, chapters: list[str] | None) -> str:
    """Identifies one way of grading (kit, secret salt, chapters) without revealing the salt."""
    key = f"{kit_digest()}|{salt}|{','.join(sorted(chapters)) if chapters else '*'}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _signatures(manifest: Manifest) -> Any:
    modules = manifest.modules

    def names(function: str) -> list[str]:
        try:
            target = getattr(importlib.import_module(f"solutions.{modules[function]}"), function)
            return list(inspect.signature(target).parameters)
        except (KeyError, AttributeError, TypeError, ValueError, ImportError):
            return []

    return names


class GradingPlugin:
    """Collects one record per hidden test and writes the results file."""

    def __init__(self, submission: Path, results: Path | None, salt: str, chapters: list[str] | None,
                 visibility: str, limits: Limits, hide: Sequence[Path] = ()) -> None:
        self.submission = submission.resolve()
        self.results_path = results
        self.hide = [Path(p).resolve() for p in hide]
        self.salt = salt
        self.chapters = set(chapters) if chapters else None
        self.visibility = visibility
        self.limits = limits
        self.manifest = load_manifest()
        self.digest = submission_digest(self.submission)
        self.records: list[dict[str, Any]] = []
        self.started = time.monotonic()
        self.results: dict[str, Any] | None = None
        self.problems: list[str] = []  # grading-machine problems: such results are not final
        self._student: Student | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[PLUGIN_KEY] = self
        config.addinivalue_line("markers", "grade(function, points): a hidden grader and its points")

    def make_student(self) -> Student:
        if self._student is None:
            hide = [*self.hide, *([self.results_path.resolve().parent] if self.results_path is not None else [])]
            self._student = Student(self.submission, self.manifest.modules, self.limits,
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

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        """Each test gets its own wall-clock and CPU budget for the student's code."""
        student = self._student
        if student is None:
            yield
            return
        with student.test():
            yield

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

    @staticmethod
    def chapter_of(item: pytest.Item) -> str:
        module = getattr(item, "module", None)
        return str(getattr(module, "CHAPTER", "?"))

    # ---------------------------------------------------------------- outcomes
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item,
                                  call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        outcome: Any = yield
        report: pytest.TestReport = outcome.get_result()  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownVariableType]
        if report.when == "call" or (report.when == "setup" and report.failed):  # pyright: ignore[reportUnknownMemberType]
            self.records.append(self._record(item, call, bool(report.passed)))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]

    def _record(self, item: pytest.Item, call: pytest.CallInfo[None], passed: bool) -> dict[str, Any]:
        mark = item.get_closest_marker("grade")
        function = str(mark.kwargs.get("function", "?")) if mark else "?"
        points = float(mark.kwargs.get("points", 0)) if mark else 0.0
        doc = (getattr(item, "function", None).__doc__ or "").strip().splitlines()  # pyright: ignore[reportOptionalMemberAccess]
        title = doc[0] if doc else item.name
        status, output = "passed", ""
        if not passed:
            status, output = self._diagnose(call)
        if len(output) > MAX_OUTPUT:
            output = output[:MAX_OUTPUT] + "\n[... output truncated]"
        return {
            "name": f"{self.chapter_of(item)} {function}: {title}",
            "number": self.chapter_of(item),
            "function": function,
            "score": points if status == "passed" else 0.0,
            "max_score": points,
            "status": status,
            "output": output,
            "nodeid": item.nodeid,
        }

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

    # ---------------------------------------------------------------- results
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        results = build_results(self.manifest, self.records, time.monotonic() - self.started,
                                self.visibility, self.digest)
        try:
            sandbox = sandbox_report(self.limits)
        except (SandboxError, ValueError) as exc:
            sandbox = {"isolation": "unavailable", "note": str(exc)}
        if self._student is not None:
            self._student.close()  # also when no test asked for it
            results["workers_started"] = self._student.workers_started
        results["sandbox"] = sandbox
        if sandbox["note"]:
            results["output"] = f"Note: {sandbox['note']}"
        results["grading"] = {
            "kit_version": f"{__version__}+{kit_digest()[:12]}",
            "kit_sha256": kit_digest(),
            "fingerprint": grading_fingerprint(self.salt, sorted(self.chapters) if self.chapters else None),
            "complete": not self.problems and exitstatus in (0, 1, 5),  # 5: no grader for these chapters
            "problems": sorted(set(self.problems))[:5],
        }
        self.results = cap_results(results)
        if self.results_path is not None:
            write_json_atomic(self.results_path, self.results)


def build_results(manifest: Manifest, records: list[dict[str, Any]], seconds: float,
                  visibility: str, digest: str) -> dict[str, Any]:
    """Gradescope ``results.json`` plus the kit's ``chapters`` map."""
    chapters: dict[str, dict[str, float]] = {c.id: {"score": 0.0, "max_score": 0.0} for c in manifest.chapters}
    tests: list[dict[str, Any]] = []
    for rec in records:
        entry = chapters.setdefault(rec["number"], {"score": 0.0, "max_score": 0.0})
        entry["score"] += rec["score"]
        entry["max_score"] += rec["max_score"]
        tests.append({
            "name": rec["name"],
            "number": rec["number"],
            "score": rec["score"],
            "max_score": rec["max_score"],
            "status": "passed" if rec["status"] == "passed" else "failed",
            "output": rec["output"],
            "visibility": visibility,
            "extra_data": {"function": rec["function"], "outcome": rec["status"]},
        })
    for entry in chapters.values():
        entry["score"] = round(entry["score"], 4)
        entry["max_score"] = round(entry["max_score"], 4)
    return {
        "score": round(sum(t["score"] for t in tests), 4),
        "max_score": round(sum(t["max_score"] for t in tests), 4),
        "execution_time": round(seconds, 3),
        "output": "",
        "visibility": visibility,
        "tests": tests,
        "chapters": chapters,
        "submission_sha256": digest,
    }


def cap_results(results: dict[str, Any], limit: int = MAX_RESULTS_BYTES) -> dict[str, Any]:
    """Shorten the tests' outputs until the JSON is under ``limit`` bytes."""
    size = len(json.dumps(results, default=str))
    budget = MAX_OUTPUT
    while size > limit and budget > 100:
        budget //= 2
        for test in results["tests"]:
            if len(test["output"]) > budget:
                test["output"] = test["output"][:budget] + "\n[... output truncated]"
        size = len(json.dumps(results, default=str))
    return results


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(data, indent=2, allow_nan=False, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
