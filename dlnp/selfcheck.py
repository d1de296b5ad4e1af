"""``dlnp check``: run the public tests of a release and report them chapter by chapter.

The report is a faithful front end of pytest. The tests run in a pytest subprocess
(a fresh interpreter, so an edited file is always re-imported) with this module
loaded as a plugin (``-p dlnp.selfcheck --dlnp-report FILE``). The plugin records
what pytest itself decides: each test's outcome from its reports, the exception
object of each failure (its type, its message, where in the student's code it was
raised) and each collection error. Nothing is read back from traceback text.

From those records, :func:`render` prints one line per chapter with its points
and status, every failing check with its message (and the likely mistake, named
by :mod:`dlnp.testing`), every skipped check with what it waits for, and every
error that stopped a test file from loading (file, line, the error). The exit
status is 0 when nothing failed, 1 when something did, 2 when there was nothing
to run.

The same module holds :class:`NumpyOnly`, the import guard of the public tests:
the grading worker has NumPy and the standard library only, so the self-check
refuses every other import made by the student's package, with the message the
grader gives.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import inspect
import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, cast

import pytest

from .manifest import Chapter, Manifest, load_manifest, parse_stub_label
from .testing import READ_ONLY_HINT, Feedback, diagnose_warnings

PACKAGE = "neural_network"

#: Top-level modules the grading worker can import: the standard library, NumPy and the package itself.
ALLOWED_MODULES = frozenset(sys.stdlib_module_names) | {"numpy", PACKAGE}

NUMPY_ONLY_HINT = (
    "Likely mistake (only NumPy) the grader runs your package with NumPy and the standard library only: "
    "SciPy, scikit-learn, Matplotlib, PyTorch and the like are for checking your work by hand, not for the "
    "solution. Write it with NumPy."
)

HAND_IN = """How to hand in (your course says which route it uses):
  Gradescope      run `dlnp submit`, then upload the file neural_network.zip it writes
  GitHub Classroom commit your work and push it: git add neural_network && git commit -m "..." && git push
  Jupyter/nbgrader submit the notebooks from the course's Assignments tab (or `nbgrader submit`)"""


# --------------------------------------------------------------------------- NumPy only


class NumpyOnly(importlib.abc.MetaPathFinder):
    """An import guard: code in ``student_dirs`` may import only NumPy and the standard library.

    Installed first on ``sys.meta_path``, it is asked about every module not yet
    imported. When the import statement runs in a file under one of
    ``student_dirs`` and names another top-level package, it raises
    ``ModuleNotFoundError: No module named '...'``, exactly what the grading worker
    (which has nothing else installed) raises. Imports made by NumPy, pytest or the
    tests themselves are not affected.
    """

    def __init__(self, student_dirs: Sequence[Path]) -> None:
        self.student_dirs = tuple(str(Path(d).resolve()) + os.sep for d in student_dirs)

    def _importer_is_student(self) -> bool:
        frame = inspect.currentframe()
        while frame is not None:
            filename = frame.f_code.co_filename
            if not (filename.startswith("<frozen importlib") or filename == __file__
                    or f"{os.sep}importlib{os.sep}" in filename):
                return filename.startswith(self.student_dirs)
            frame = frame.f_back
        return False

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        top = fullname.partition(".")[0]
        if top in ALLOWED_MODULES or not self._importer_is_student():
            return None
        raise ModuleNotFoundError(f"No module named {top!r}", name=top)


def install_numpy_only(student_dirs: Sequence[Path]) -> NumpyOnly:
    """Put a :class:`NumpyOnly` guard for ``student_dirs`` first on ``sys.meta_path`` (once)."""
    for finder in sys.meta_path:
        if isinstance(finder, NumpyOnly):
            return finder
    guard = NumpyOnly(student_dirs)
    sys.meta_path.insert(0, guard)
    return guard


# --------------------------------------------------------------------------- records


@dataclass
class Record:
    """One outcome as pytest reported it: a test phase, or the collection of a file."""

    nodeid: str
    when: str  # "setup", "call", "teardown" or "collect"
    outcome: str  # "passed", "failed" or "skipped"
    message: str = ""  # failure message, or skip reason
    todo: str = ""  # "3.2: relu" when the failure is a stub's NotImplementedError
    file: str = ""  # collection errors: where the error is
    line: int = 0


@dataclass
class _Raised:
    message: str
    todo: str = ""
    file: str = ""
    line: int = 0


def _student_frames(tb: TracebackType | None, root: Path) -> list[traceback.FrameSummary]:
    package = str((root / PACKAGE).resolve()) + os.sep
    return [f for f in traceback.extract_tb(tb) if f.filename.startswith(package)]


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return path


def explain_exception(exc: BaseException, root: Path) -> tuple[str, str]:
    """``(message, todo)`` for an exception raised while running a test.

    An assertion (``dlnp.testing.Feedback`` or a plain ``assert``) is the test's own
    message. Anything else was raised by the student's code: the message says which
    function raised what, and where (``activations.py, line 9, in sigmoid: ...``),
    as the grader's feedback does, with the likely mistake when it is known
    (a RuntimeWarning turned into an error, a module other than NumPy). ``todo`` is
    ``"3.2: relu"`` when the exception is a released stub's ``NotImplementedError``.
    """
    text = str(exc).strip()
    if isinstance(exc, NotImplementedError):
        label = parse_stub_label(text)
        if label is not None:
            return f"{label[1]} is not implemented yet (chapter {label[0]})", f"{label[0]}: {label[1]}"
    if isinstance(exc, (AssertionError, pytest.fail.Exception)):
        if not isinstance(exc, Feedback) and "\nassert " in text:
            text = text[: text.index("\nassert ")]  # pytest's introspection of a plain assert: its message says it
        return text, ""
    frames = _student_frames(exc.__traceback__, root)
    head = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    # the function the test called (outermost frame of the package) raised; the innermost one says where
    lines = [f"{frames[0].name} raised {head}" if frames else f"the test raised {head}"]
    tests = str((root / "tests").resolve()) + os.sep
    where = frames or [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(tests)]
    if where:
        last = where[-1]
        code = f": {last.line.strip()}" if last.line else ""
        lines.append(f"  {_relative(last.filename, root) if not frames else Path(last.filename).name}, "
                     f"line {last.lineno}, in {last.name}{code}")
    hint = None
    if isinstance(exc, Warning):
        hint = diagnose_warnings([text])
        hint = f"Likely mistake {hint}" if hint else None
    elif isinstance(exc, ModuleNotFoundError) and (exc.name or "").partition(".")[0] not in ALLOWED_MODULES:
        hint = NUMPY_ONLY_HINT
    elif isinstance(exc, ValueError) and "read-only" in text:
        hint = READ_ONLY_HINT
    if hint:
        lines.append(hint)
    return "\n".join(lines), ""


def explain_collection_error(exc: BaseException, root: Path) -> _Raised:
    """Where a test file failed to load, and why: a syntax error or an error during an import."""
    cause = exc.__cause__ if isinstance(exc, pytest.Collector.CollectError) and exc.__cause__ else exc
    if isinstance(cause, SyntaxError):
        detail = f"SyntaxError: {cause.msg}"
        if cause.text:
            detail += f"\n    {cause.text.strip()}"
        return _Raised(detail, file=_relative(cause.filename or "", root), line=cause.lineno or 0)
    if cause is exc and isinstance(exc, pytest.Collector.CollectError):
        return _Raised(str(exc).strip())
    tools = str((root / "dlnp").resolve()) + os.sep  # the import guard itself is no place to look
    frames = [f for f in traceback.extract_tb(cause.__traceback__)
              if f.filename.startswith(str(root.resolve()) + os.sep) and not f.filename.startswith(tools)]
    where = (_student_frames(cause.__traceback__, root) or frames or [None])[-1]
    text = str(cause).strip()
    lines = [f"{type(cause).__name__}: {text}" if text else type(cause).__name__]
    if where is not None and where.line:
        lines.append(f"    {where.line.strip()}")
    if isinstance(cause, ModuleNotFoundError) and (cause.name or "").partition(".")[0] not in ALLOWED_MODULES:
        lines.append(NUMPY_ONLY_HINT)
    label = parse_stub_label(text) if isinstance(cause, NotImplementedError) else None
    return _Raised("\n".join(lines), todo=f"{label[0]}: {label[1]}" if label else "",
                   file=_relative(where.filename, root) if where else "", line=where.lineno or 0 if where else 0)


class Recorder:
    """The pytest plugin: collects a :class:`Record` per test phase and per failed collection."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.records: list[Record] = []
        self._raised: dict[tuple[str, str], _Raised] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report: pytest.TestReport = yield
        if call.excinfo is not None and report.failed:
            message, todo = explain_exception(call.excinfo.value, self.root)
            self._raised[(item.nodeid, call.when)] = _Raised(message, todo)
        return report

    @pytest.hookimpl
    def pytest_exception_interact(self, node: pytest.Item | pytest.Collector, call: pytest.CallInfo[Any],
                                  report: pytest.TestReport | pytest.CollectReport) -> None:
        if call.excinfo is not None and isinstance(node, pytest.Collector):
            self._raised[(node.nodeid, "collect")] = explain_collection_error(call.excinfo.value, self.root)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.passed and report.when != "call":
            return
        record = Record(report.nodeid, report.when, report.outcome)
        if report.skipped:
            longrepr = report.longrepr
            record.message = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
            record.message = record.message.removeprefix("Skipped: ")
        elif report.failed:
            raised = self._raised.get((report.nodeid, report.when))
            record.message = raised.message if raised else _crash_message(report)
            record.todo = raised.todo if raised else ""
        self.records.append(record)

    @pytest.hookimpl
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if not report.failed:
            return
        raised = self._raised.get((report.nodeid, "collect")) or _Raised(_crash_message(report))
        self.records.append(Record(report.nodeid, "collect", "failed", raised.message, raised.todo,
                                   raised.file, raised.line))


def _crash_message(report: pytest.TestReport | pytest.CollectReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    return str(message) if message else str(report.longrepr).strip()


# --------------------------------------------------------------------------- pytest plugin hooks
# Active only when pytest runs with ``-p dlnp.selfcheck --dlnp-report FILE``.


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--dlnp-report", default=None, help="write dlnp check's JSON records to this file")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--dlnp-report")
    if path:
        config.pluginmanager.register(Recorder(Path(config.rootpath)), "dlnp-recorder")


def pytest_unconfigure(config: pytest.Config) -> None:
    path = config.getoption("--dlnp-report")
    recorder = config.pluginmanager.get_plugin("dlnp-recorder")
    if path and isinstance(recorder, Recorder):
        Path(str(path)).write_text(json.dumps([asdict(r) for r in recorder.records], indent=1))


# --------------------------------------------------------------------------- chapter results


@dataclass
class ChapterResult:
    """What the public tests said about one chapter."""

    chapter: Chapter
    passed: list[str] = field(default_factory=lambda: [])
    failed: list[tuple[str, str]] = field(default_factory=lambda: [])  # (test, message)
    todo: list[str] = field(default_factory=lambda: [])  # tests stopped by this chapter's own stubs
    skipped: list[tuple[str, str]] = field(default_factory=lambda: [])  # (test, what it waits for)
    errors: list[Record] = field(default_factory=lambda: [])  # the test file could not be loaded

    @property
    def total(self) -> int:
        return len(self.passed) + len(self.failed) + len(self.todo) + len(self.skipped)

    @property
    def status(self) -> str:
        if self.errors:
            return "ERROR"
        if self.failed:
            return "FAILED"
        if self.total == 0:
            return "no tests"
        if self.todo:
            return "in progress" if self.passed else "not started"
        if self.skipped:
            return "passed, waiting" if self.passed else "waiting"
        return "passed"

    @property
    def done(self) -> bool:
        return self.status == "passed"


@dataclass
class Report:
    """Every chapter's result, plus errors found outside the tests (a file that does not compile)."""

    chapters: list[ChapterResult]
    syntax_errors: list[Record]
    all_chapters: bool

    @property
    def ok(self) -> bool:
        return not self.syntax_errors and all(c.status not in ("ERROR", "FAILED") for c in self.chapters)


def _test_name(nodeid: str) -> str:
    return nodeid.split("::", 1)[-1]


def build_report(records: Sequence[Record], chapters: Sequence[Chapter], syntax_errors: Sequence[Record],
                 all_chapters: bool) -> Report:
    """Sort pytest's records into chapters (by test file name, ``tests/test_ch2_1.py`` -> 2.1)."""
    by_slug = {c.slug: ChapterResult(c) for c in chapters}
    for record in records:
        slug = Path(record.nodeid.split("::")[0]).stem.removeprefix("test_")
        result = by_slug.get(slug)
        if result is None:
            continue
        name = _test_name(record.nodeid)
        if record.when == "collect":
            result.errors.append(record)
        elif record.outcome == "passed":
            result.passed.append(name)
        elif record.outcome == "skipped":
            result.skipped.append((name, record.message))
        elif record.todo:
            other, _, function = record.todo.partition(": ")
            if any(f.name == function for f in result.chapter.functions):
                result.todo.append(name)
            else:
                result.skipped.append((name, f"needs {function} (chapter {other}): implement it first"))
        else:
            result.failed.append((name, record.message))
    return Report(list(by_slug.values()), list(syntax_errors), all_chapters)


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line.strip() else line for line in text.splitlines())


def _error_line(record: Record) -> str:
    where = f"{record.file}, line {record.line}: " if record.file else ""
    return where + record.message


def render(report: Report, manifest: Manifest) -> str:
    """The text ``dlnp check`` prints."""
    out: list[str] = []
    if report.syntax_errors:
        out.append("Your package does not compile: Python cannot read these files, so nothing in them can run.")
        out.extend(_indent(_error_line(r), "  ") for r in report.syntax_errors)
        out.append("")
    out.append(f"{'chapter':<8}{'title':<38}{'points':>6}  {'status':<16}public checks")
    for result in report.chapters:
        c = result.chapter
        counted = f"{len(result.passed)}/{result.total} passed" if result.total else "-"
        out.append(f"{c.id:<8}{c.title[:36]:<38}{c.points:>6}  {result.status:<16}{counted}")
        for record in result.errors:
            out.append(f"    ERROR loading {Path(record.nodeid).name}:")
            out.append(_indent(_error_line(record), "      "))
        for name, message in result.failed:
            out.append(f"    FAILED {name}")
            out.append(_indent(message, "      "))
        for name, reason in result.skipped:
            out.append(f"    waiting {name}: {reason}")
        if result.todo and result.status != "not started":
            out.append(f"    not started: {', '.join(result.todo)}")
    out.append("")
    out.append(_summary(report, manifest))
    return "\n".join(out)


def _summary(report: Report, manifest: Manifest) -> str:
    lines: list[str] = []
    if report.all_chapters:
        done = [r for r in report.chapters if r.done]
        points = sum(r.chapter.points for r in done)
        lines.append(f"Progress: {len(done)} of {len(report.chapters)} chapters pass every public check "
                     f"({points} of {manifest.max_score} points at stake in them).")
        upcoming = next((r for r in report.chapters if not r.done), None)
        if upcoming is None:
            lines.append("Every chapter passes its public checks: hand in your work.")
        else:
            lines.append(f"Next: chapter {upcoming.chapter.id}, {upcoming.chapter.title} "
                         f"(chapters/{upcoming.chapter.slug}.md), then run `dlnp check {upcoming.chapter.id}`.")
    else:
        ids = [c.id for c in manifest.chapters]
        for result in report.chapters:
            if result.done:
                position = ids.index(result.chapter.id)
                if position + 1 < len(ids):
                    following = manifest.chapters[position + 1]
                    lines.append(f"Chapter {result.chapter.id} passes its public checks. Next: chapter "
                                 f"{following.id}, {following.title} (chapters/{following.slug}.md).")
                else:
                    lines.append(f"Chapter {result.chapter.id} passes its public checks: the last chapter.")
        lines.append("Run `dlnp check` to see your progress over every chapter.")
    lines.append("The public checks are a self-check: the grader runs hidden tests on other inputs.")
    lines.append(HAND_IN)
    return "\n".join(lines)


# --------------------------------------------------------------------------- running


def compile_errors(release: Path) -> list[Record]:
    """Every file of the student's package that Python cannot compile, with its line and error."""
    out: list[Record] = []
    for path in sorted((release / PACKAGE).rglob("*.py")):
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            detail = f"SyntaxError: {exc.msg}" + (f"\n    {exc.text.strip()}" if exc.text else "")
            out.append(Record(str(path.relative_to(release)), "compile", "failed", detail,
                              file=str(path.relative_to(release)), line=exc.lineno or 0))
        except ValueError as exc:  # source with null bytes
            out.append(Record(str(path.relative_to(release)), "compile", "failed", f"ValueError: {exc}",
                              file=str(path.relative_to(release))))
    return out


def run_pytest(release: Path, targets: Sequence[str], extra_args: Sequence[str] = (),
               timeout: float | None = None) -> tuple[list[Record], subprocess.CompletedProcess[str]]:
    """Run pytest on ``targets`` inside ``release`` in a subprocess; return its records and the process."""
    with tempfile.TemporaryDirectory(prefix="dlnp-check-") as tmp:
        report = Path(tmp) / "records.json"
        # --continue-on-collection-errors: a file that cannot load stops its own chapter, not the others
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "dlnp.selfcheck",
                   "--continue-on-collection-errors", f"--dlnp-report={report}", "--rootdir", str(release),
                   *extra_args, *targets]
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        env["PYTHONPATH"] = os.pathsep.join([str(release), *filter(None, [env.get("PYTHONPATH")])])
        proc = subprocess.run(command, cwd=release, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        raw = cast("list[dict[str, Any]]", json.loads(report.read_text())) if report.exists() else []
    return [Record(**item) for item in raw], proc


def run_check(release: Path, chapter: str | None = None, verbose: bool = False) -> int:
    """Run the public tests of ``release`` (one chapter or all); print the report; return the exit status."""
    manifest = load_manifest()
    if chapter is not None:
        known = {c.id for c in manifest.chapters} | {c.slug for c in manifest.chapters}
        if chapter not in known:
            print(f"There is no chapter {chapter!r}: the chapters are "
                  f"{', '.join(c.id for c in manifest.chapters)}.")
            return 2
    chapters = [manifest.chapter(chapter)] if chapter else list(manifest.chapters)
    tests = release / "tests"
    targets = [str(tests / f"test_{c.slug}.py") for c in chapters if (tests / f"test_{c.slug}.py").exists()]
    if not targets or not (release / PACKAGE).is_dir():
        print(f"No public tests found under {tests}: run `dlnp check` inside your release folder.")
        return 2
    records, proc = run_pytest(release, targets)
    if verbose:
        print(proc.stdout)
    if not records and proc.returncode not in (0, 5):
        print("pytest could not run the public tests:")
        print(proc.stdout[-3000:] + proc.stderr[-3000:])
        return 1
    report = build_report(records, chapters, compile_errors(release), chapter is None)
    print(render(report, manifest))
    # A chapter not started yet (only stubs failing) is no mistake: exit 0. Anything else pytest
    # counts as failed is in the report as FAILED or ERROR, and makes the exit status 1.
    return 0 if report.ok else 1
