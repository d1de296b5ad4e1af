"""The grader inside Gradescope: ``run_autograder`` runs ``python -m autograder.gradescope_runner``.

Gradescope unpacks the autograder zip (``dlnp gradescope``) into ``/autograder/source``,
puts the student's upload in ``/autograder/submission`` and reads
``/autograder/results/results.json``. The zip holds the kit's engine, graders and
reference, ``grading.json`` (:class:`GradescopeConfig`) and ``release/``: the parts of
the student release grading needs (the stub package, the public tests, the student
runtime), so nothing is generated per submission.

For each submission (:func:`run`):

1. a valid ``results.json`` is written at once ("grading did not finish"), so the
   platform always finds one;
2. the upload, in whatever shape, becomes a submission (:mod:`autograder.gradescope_upload`);
3. the hidden graders run in a child process (:func:`autograder.engine.grade_submission`)
   with a time budget below the assignment's timeout; the engine rewrites partial
   results while it runs, and the child is killed at a hard deadline, so a submission
   that runs long still gets the points of what was graded;
4. the public self-checks (the tests of ``dlnp check``) run confined in the time left:
   shown at once and worth 0 points (their outcome comes from the student's process);
5. ``results.json`` is written in Gradescope's documented format
   (:func:`autograder.results.to_gradescope`: the kit's extras under ``extra_data``),
   with the hidden tests' visibility chosen by the instructor (:data:`HiddenTests`).

``$DLNP_GRADESCOPE_ROOT`` (default ``/autograder``) moves the whole layout (the kit's
tests use a temporary one).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

from dlnp.manifest import Chapter, Manifest, load_manifest

from .gradescope_upload import PACKAGE, stage_upload
from .plugin import grading_info
from .results import (
    GradescopeResults,
    GradingResults,
    KitExtras,
    TestResult,
    Visibility,
    load_results,
    to_gradescope,
    ungraded_results,
    write_json_atomic,
)
from .sandbox import Limits, copy_package, run_confined

ROOT_VARIABLE = "DLNP_GRADESCOPE_ROOT"
DEFAULT_ROOT = Path("/autograder")
#: What the instructor chooses for the hidden tests (``dlnp gradescope --hidden-tests``):
#: ``score-only`` each test's score is shown at once, its output only says how it
#: failed (no hidden input); ``after_due_date`` / ``after_published`` the tests, with
#: their output, are shown then (Gradescope then also hides the total score until
#: then); ``visible`` everything at once; ``hidden`` never shown (the total still is).
HiddenTests = Literal["score-only", "after_due_date", "after_published", "visible", "hidden"]
HIDDEN_TESTS: tuple[HiddenTests, ...] = get_args(HiddenTests)
#: Gradescope's default autograder timeout (s), used when the zip does not say.
DEFAULT_TIMEOUT = 600.0
#: The public self-checks get at most this long (s), and only what the hidden tests left.
PUBLIC_SECONDS = 120.0
#: Kept free before the platform's timeout (s): starting Python, staging, writing results.
MARGIN_SECONDS = 30.0
#: Between the engine's soft budget and the hard kill: one test's limit and its cleanup (s).
TEST_SECONDS = Limits().test_seconds + 10.0

_VERDICTS = {
    "failed": "failed: a check on hidden inputs did not pass",
    "not_implemented": "not implemented yet (the stub still raises NotImplementedError)",
    "error": "error: your code raised an exception, or its module does not import",
    "timeout": "timeout: too slow or looping",
    "crash": "crash: the process running your code died (exit, out of memory, ...)",
    "grader_error": "the grader could not check this result (tell your instructor)",
    "not_run": "not run: grading stopped before this test (time limit)",
}


@dataclass(frozen=True)
class GradescopeConfig:
    """``grading.json`` of the autograder zip."""

    chapters: list[str] | None  # None: every chapter
    salt: str
    hidden_tests: HiddenTests = "score-only"
    timeout_seconds: float = DEFAULT_TIMEOUT  # the assignment's "autograder timeout" on Gradescope

    @classmethod
    def read(cls, path: Path) -> GradescopeConfig:
        data = cast("dict[str, Any]", json.loads(path.read_text()))
        hidden = str(data.get("hidden_tests", "score-only"))
        if hidden not in HIDDEN_TESTS:
            raise ValueError(f"grading.json: hidden_tests must be one of {', '.join(HIDDEN_TESTS)}")
        chapters = data.get("chapters")
        return cls(chapters=[str(c) for c in cast("list[Any]", chapters)] if chapters else None,
                   salt=str(data["salt"]), hidden_tests=hidden,
                   timeout_seconds=float(data.get("timeout_seconds", DEFAULT_TIMEOUT)))

    def to_json(self) -> dict[str, Any]:
        return {"chapters": self.chapters, "salt": self.salt, "hidden_tests": self.hidden_tests,
                "timeout_seconds": self.timeout_seconds}

    @property
    def hidden_deadline(self) -> float:
        """Seconds after the start by which the hidden tests are stopped (hard kill)."""
        return max(30.0, self.timeout_seconds - MARGIN_SECONDS - min(PUBLIC_SECONDS, 0.2 * self.timeout_seconds))

    @property
    def budget_seconds(self) -> float:
        """The engine's time budget for the hidden tests (it stops starting tests after it)."""
        return max(10.0, self.hidden_deadline - TEST_SECONDS)


@dataclass(frozen=True)
class Layout:
    """Gradescope's folders under one root (``/autograder`` on the platform)."""

    root: Path

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def submission(self) -> Path:
        return self.root / "submission"

    @property
    def results(self) -> Path:
        return self.root / "results" / "results.json"

    @property
    def release(self) -> Path:
        """The parts of the student release shipped in the zip (stubs, public tests, runtime)."""
        return self.source / "release"


# ----------------------------------------------------------------------------- hidden tests


def grade_in_time(submission: Path, config: GradescopeConfig, layout: Layout, deadline: float,
                  manifest: Manifest) -> GradingResults:
    """The hidden graders on ``submission``, in a child process killed at ``deadline`` (monotonic).

    The child's engine writes partial results while it runs; a killed child leaves the
    points of every test graded so far (the others ``not_run``).
    """
    ids = config.chapters or [c.id for c in manifest.chapters]
    partial = submission.parent / "graded" / "results.json"
    partial.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(layout.source), env.get("PYTHONPATH", "")) if p)
    command = [sys.executable, "-m", "autograder.gradescope_runner", "--root", str(layout.root),
               "grade", str(submission), str(partial)]
    proc = subprocess.Popen(command, cwd=layout.source, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    problem = ""
    try:
        _, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        if proc.returncode != 0:
            problem = f"the grading process failed: {err.decode(errors='replace')[-1500:]}"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        problem = "grading was stopped at the autograder's time limit"
    results = load_results(partial)
    if results is None:
        grading = grading_info(config.salt, config.chapters, config.budget_seconds)
        return ungraded_results(problem or "the grading process wrote no results", chapter_ids=ids, grading=grading)
    if problem and results["grading"]["complete"]:
        results["grading"]["complete"] = False
    if problem:
        results["grading"]["problems"].append(problem)
    return results


def show_hidden_tests(tests: list[TestResult], mode: HiddenTests) -> list[TestResult]:
    """The hidden tests as students see them under ``mode`` (see :data:`HiddenTests`)."""
    if mode != "score-only":
        visibility: Visibility = mode
        return [{**t, "visibility": visibility} for t in tests]
    shown: list[TestResult] = []
    for test in tests:
        outcome = test["extra_data"]["outcome"]
        verdict = "passed" if outcome == "passed" else _VERDICTS.get(outcome, outcome)
        shown.append({**test, "visibility": "visible",
                      "output": f"{verdict}. (The hidden inputs stay hidden: run `dlnp check` to debug.)"})
    return shown


# ----------------------------------------------------------------------------- public self-checks


def run_public_checks(package: Path, chapters: Sequence[Chapter], release: Path, timeout: float,
                      hide: Sequence[Path] = ()) -> list[TestResult]:
    """The public self-checks of ``chapters`` on the student's ``package``, run confined (0 points).

    ``release``: the shipped parts of the release (public tests, student runtime); the
    student's package is copied next to them in a private folder, as in their release.
    """
    if timeout <= 5:
        return [_public_entry(chapters[0].id if chapters else "", "self-check", "skipped",
                              "The self-checks were not run: no time was left.")]
    import pytest

    work = Path(tempfile.mkdtemp(prefix="dlnp-public-"))
    try:
        folder = work / "release"
        shutil.copytree(release, folder, ignore=shutil.ignore_patterns(PACKAGE, "__pycache__"))
        copy_package(package, folder / PACKAGE)
        targets = [f"tests/test_{c.slug}.py" for c in chapters if (folder / "tests" / f"test_{c.slug}.py").exists()]
        if not targets:
            return []
        site = Path(pytest.__file__).resolve().parent.parent
        boot = ("import os, sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; os.chdir(sys.argv[1]); import pytest; "
                "raise SystemExit(pytest.main(['-q', '-rA', '--no-header', '-p', 'no:cacheprovider', "
                "'--rootdir', sys.argv[1], *sys.argv[3:]]))")
        code, output = run_confined(
            lambda box, exe: [exe, "-I", "-S", "-B", "-c", boot, box.path("release"), box.path("site"), *targets],
            {"release": folder, "site": site}, Limits(), timeout, hide=hide,
            env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "COLUMNS": "1000"},
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return public_entries(output.decode(errors="replace"), chapters, code)


_REPORT_LINE = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED(?: \[\d+\])?) tests/test_(ch[0-9_]+)\.py(?:::|:\d+:? ?)(.*)$")


def public_entries(text: str, chapters: Sequence[Chapter], code: int | None) -> list[TestResult]:
    """Gradescope tests (0 points, visible) from pytest's ``-rA`` summary of the public tests."""
    by_slug = {c.slug: c.id for c in chapters}
    entries: list[TestResult] = []
    for line in text.splitlines():
        match = _REPORT_LINE.match(line)
        if not match or match.group(2) not in by_slug:
            continue
        word, slug, rest = match.groups()
        name, _, detail = rest.partition(" - ")
        if word.startswith("SKIPPED"):
            entries.append(_public_entry(by_slug[slug], "skipped", "skipped", name.strip()))
            continue
        outcome = "passed" if word == "PASSED" else "failed"
        if outcome == "failed" and "NotImplementedError" in detail:
            outcome = "not_implemented"
        entries.append(_public_entry(by_slug[slug], name.strip()[:150], outcome, detail.strip()))
    order = {c.id: i for i, c in enumerate(chapters)}
    entries.sort(key=lambda e: order[e["number"]])
    if not entries and code not in (0, 5):
        why = "timed out" if code is None else "could not run"
        entries.append(_public_entry(chapters[0].id if chapters else "", "self-check", "error",
                                     f"The public self-checks {why} on your code:\n{text[-1500:]}"))
    return entries


def _public_entry(chapter: str, name: str, outcome: str, output: str) -> TestResult:
    status = "passed" if outcome in ("passed", "skipped") else "failed"
    return {
        "name": f"{chapter} self-check: {name}",
        "number": chapter,
        "score": 0.0,
        "max_score": 0.0,
        "status": status,
        "output": output[:1000],
        "visibility": "visible",
        "extra_data": {"function": "self-check",
                       "outcome": "passed" if outcome == "passed" else cast("Any", outcome)},
    }


# ----------------------------------------------------------------------------- one submission


def _note(mode: HiddenTests) -> str:
    when = {"score-only": "are scored now (their inputs stay hidden)",
            "after_due_date": "decide your score and are shown after the due date",
            "after_published": "decide your score and are shown when grades are published",
            "visible": "decide your score and are shown now",
            "hidden": "decide your score"}[mode]
    return (f"Self-checks (the same tests as `dlnp check`) are shown now and are worth no points; "
            f"the hidden tests {when}.")


def run(root: Path) -> GradescopeResults:
    """Grade ``root/submission`` into ``root/results/results.json``; always leaves a valid file."""
    started = time.monotonic()
    layout = Layout(root)
    first: dict[str, Any] = {"score": 0.0, "execution_time": 0.0, "visibility": "visible", "tests": [],
                             "output": "Grading did not finish: please resubmit or tell your instructor."}
    write_json_atomic(layout.results, first)
    staging = Path(tempfile.mkdtemp(prefix="dlnp-gradescope-"))
    results: GradescopeResults
    try:
        results = _grade(layout, staging, started)
    except Exception as exc:  # Gradescope must always get a results file
        error = f"{type(exc).__name__}: {str(exc)[:500]}"
        results = {"score": 0.0, "execution_time": 0.0, "visibility": "visible", "stdout_visibility": "hidden",
                   "tests": [], "extra_data": cast("KitExtras", {"error": error}),
                   "output": f"The autograder failed ({error}). Please tell your instructor."}
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    results["execution_time"] = round(time.monotonic() - started, 3)
    write_json_atomic(layout.results, results)
    return results


def _grade(layout: Layout, staging: Path, started: float) -> GradescopeResults:
    manifest = load_manifest()
    config = GradescopeConfig.read(layout.source / "grading.json")
    ids = config.chapters or [c.id for c in manifest.chapters]
    upload = stage_upload(layout.submission, layout.release / PACKAGE, staging / "submission", manifest,
                          staging / "unzipped")
    if upload is None:
        grading = grading_info(config.salt, config.chapters, config.budget_seconds)
        empty = ungraded_results("no package in the upload", chapter_ids=ids, grading=grading)
        empty["output"] = (f"No `{PACKAGE}` package was found in your upload. Upload your whole release folder, "
                           f"the `{PACKAGE}` folder, its module files (such as losses.py), a zip of any of these, "
                           "or your chapter notebooks (.ipynb).")
        return to_gradescope(empty, "visible")
    hidden = grade_in_time(upload.root, config, layout, started + config.hidden_deadline, manifest)
    tests = show_hidden_tests(hidden["tests"], config.hidden_tests)
    left = config.timeout_seconds - MARGIN_SECONDS - (time.monotonic() - started)
    public = run_public_checks(upload.root / PACKAGE, [manifest.chapter(i) for i in ids], layout.release,
                               min(PUBLIC_SECONDS, left), hide=[layout.root])
    lines = [upload.describe(), _note(config.hidden_tests)]
    if not hidden["grading"]["complete"]:
        lines.append("Grading did not finish (" + "; ".join(hidden["grading"]["problems"]) + "): the tests not "
                     "reached score 0. Make your code faster, or tell your instructor.")
    if hidden["output"]:
        lines.append(hidden["output"])
    results: GradingResults = {**hidden, "tests": public + tests, "output": "\n".join(lines)}
    return to_gradescope(results, "visible")


# ----------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope_runner",
                                     description="grade a Gradescope submission (run_autograder)")
    parser.add_argument("--root", type=Path, default=Path(os.environ.get(ROOT_VARIABLE, str(DEFAULT_ROOT))),
                        help=f"Gradescope's folder (default: ${ROOT_VARIABLE}, else /autograder)")
    sub = parser.add_subparsers(dest="command")
    child = sub.add_parser("grade", help="(internal) the hidden graders on a staged submission")
    child.add_argument("submission", type=Path)
    child.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    if args.command == "grade":
        from .engine import grade_submission

        config = GradescopeConfig.read(Layout(root).source / "grading.json")
        grade_submission(args.submission, args.out, chapters=config.chapters, salt=config.salt,
                         hide=[root], budget_seconds=config.budget_seconds)
        return 0
    results = run(root)
    print(f"score {results['score']:g} -> {Layout(root).results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
