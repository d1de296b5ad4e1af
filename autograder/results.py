"""Grading results as typed records: what the engine produces and every export reads.

One grading run gives one :class:`GradingResults`. On disk (``dlnp grade``,
``dlnp grade-batch``) it is Gradescope's ``results.json`` format with the kit's extras
at the top level (SPEC §4)::

    score, max_score, execution_time, output, visibility   Gradescope's fields
    tests: [TestResult]                                     one per hidden test
    chapters: {"3.4": {"score": s, "max_score": m}}         the kit's per-chapter sums
    submission_sha256                                       what was graded (resume key)
    sandbox: SandboxInfo                                    how the student's code was confined
    grading: GradingInfo                                    which kit, graders and salt graded it
    workers_started                                         worker processes used (crashes restart one)

Inside Gradescope only Gradescope's documented keys may be at the top level:
:func:`to_gradescope` moves the kit's extras under ``extra_data`` (SPEC §5 "Results").

Every test carries one :data:`Outcome` in ``extra_data.outcome``; Gradescope's own
``status`` is only ``passed`` or ``failed``.

A results file is written whole and atomically (:func:`write_json_atomic`), also while
grading runs: a partial file has ``grading.complete == False`` and lists the tests not
graded yet with the outcome ``not_run``, so a killed run still leaves valid results.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, cast, get_args

#: Why a test scored what it scored.
#: ``passed``; ``failed`` (a check failed, or the code modified its inputs);
#: ``not_implemented`` (the stub still raises NotImplementedError); ``error`` (the code
#: raised, or its module does not import); ``timeout`` (too slow, looping, or not called
#: again after timing out earlier, or the submission's time budget was used up);
#: ``crash`` (the worker process died: exit, segfault, out of memory); ``grader_error``
#: (the grader could not check the result: a machine problem or a value of an unexpected
#: type); ``not_run`` (grading stopped before this test: only in partial results);
#: ``skipped`` (a public self-check pytest skipped, Gradescope runner only).
Outcome = Literal[
    "passed", "failed", "not_implemented", "error", "timeout", "crash", "grader_error", "not_run", "skipped",
]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
#: Gradescope's status of a test.
TestStatus = Literal["passed", "failed"]
#: Gradescope's visibility settings.
Visibility = Literal["hidden", "after_due_date", "after_published", "visible"]
VISIBILITIES: tuple[Visibility, ...] = get_args(Visibility)
#: Isolation values meaning the student's code ran without namespace isolation.
NOT_ISOLATED = ("none", "unavailable")


class TestExtra(TypedDict):
    """The kit's data on one test: the graded function and why it scored what it did."""

    function: str
    outcome: Outcome


class TestResult(TypedDict):
    """One hidden test, in Gradescope's test format."""

    name: str
    number: str  # the chapter id, e.g. "3.4"
    score: float
    max_score: float
    status: TestStatus
    output: str
    visibility: Visibility
    extra_data: TestExtra


class ChapterScore(TypedDict):
    score: float
    max_score: float


class SandboxInfo(TypedDict):
    """How the student's code was confined (from :func:`autograder.sandbox.sandbox_report`).

    ``isolation`` is ``bwrap``, ``unshare``, ``none`` (resource limits only),
    ``unavailable`` (the sandbox could not be described) or ``not started`` (nothing of
    the student ran). The sandbox may report more keys (limits, network, ...): they are kept.
    """

    isolation: str
    note: str


class GradingInfo(TypedDict):
    """What graded this submission, so that a regrade can be compared and resumed.

    ``kit_version``: the kit's version and the first 12 hex digits of ``kit_sha256``.
    ``kit_sha256``: sha256 of everything that decides a score (engine, graders,
    reference, checks, manifest). ``graders_sha256``: sha256 of the hidden graders alone
    (``autograder/graders``). ``salt_fingerprint``: 16 hex digits of a hash of the secret
    salt: equal for two runs with the same salt, and reveals nothing of it.
    ``fingerprint``: kit, salt and chapters together (``--resume`` regrades when it changes).
    ``complete``: every selected test was graded and the grading machine had no problem.
    ``problems``: why it is not complete. ``budget_seconds``: the submission's time budget.
    ``timed_out``: the functions that did not finish and were not called again.
    """

    kit_version: str
    kit_sha256: str
    graders_sha256: str
    salt_fingerprint: str
    fingerprint: str
    complete: bool
    problems: list[str]
    budget_seconds: float
    timed_out: list[str]


class GradingResults(TypedDict):
    """The results of grading one submission (see the module docstring)."""

    score: float
    max_score: float
    execution_time: float
    output: str
    visibility: Visibility
    tests: list[TestResult]
    chapters: dict[str, ChapterScore]
    submission_sha256: str
    sandbox: SandboxInfo
    grading: GradingInfo
    workers_started: NotRequired[int]


class KitExtras(TypedDict):
    """The kit's extras of a Gradescope ``results.json`` (under its top-level ``extra_data``)."""

    max_score: float
    chapters: dict[str, ChapterScore]
    submission_sha256: str
    sandbox: SandboxInfo
    grading: GradingInfo
    workers_started: NotRequired[int]


class GradescopeResults(TypedDict):
    """Gradescope's documented top-level keys only (the kit's extras in ``extra_data``)."""

    score: float
    execution_time: float
    output: str
    visibility: Visibility
    stdout_visibility: Visibility
    tests: list[TestResult]
    extra_data: KitExtras


# ----------------------------------------------------------------------------- building


def outcome_of(value: str) -> Outcome:
    """``value`` as an :data:`Outcome` (anything unknown is an ``error``)."""
    for outcome in OUTCOMES:
        if value == outcome:
            return outcome
    return "error"


def visibility_of(value: str) -> Visibility:
    """``value`` as a Gradescope :data:`Visibility`; anything else is a ValueError."""
    for visibility in VISIBILITIES:
        if value == visibility:
            return visibility
    raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}, not {value!r}")


def make_test(*, name: str, chapter: str, function: str, points: float, outcome: Outcome, output: str,
              visibility: Visibility) -> TestResult:
    """One test's entry: full ``points`` when it passed, 0 otherwise."""
    passed = outcome == "passed"
    return {
        "name": name,
        "number": chapter,
        "score": points if passed else 0.0,
        "max_score": points,
        "status": "passed" if passed else "failed",
        "output": output,
        "visibility": visibility,
        "extra_data": {"function": function, "outcome": outcome},
    }


def chapter_scores(chapter_ids: Iterable[str], tests: Iterable[TestResult]) -> dict[str, ChapterScore]:
    """Per-chapter sums of ``tests``; every chapter of ``chapter_ids`` is present (0/0 if ungraded)."""
    chapters: dict[str, ChapterScore] = {c: {"score": 0.0, "max_score": 0.0} for c in chapter_ids}
    for test in tests:
        entry = chapters.setdefault(test["number"], {"score": 0.0, "max_score": 0.0})
        entry["score"] += test["score"]
        entry["max_score"] += test["max_score"]
    return {c: {"score": round(e["score"], 4), "max_score": round(e["max_score"], 4)} for c, e in chapters.items()}


def make_results(*, chapter_ids: Sequence[str], tests: list[TestResult], seconds: float, visibility: Visibility,
                 digest: str, sandbox: SandboxInfo, grading: GradingInfo, output: str = "",
                 workers_started: int | None = None) -> GradingResults:
    """The results of one grading run from its tests (scores summed per chapter and overall)."""
    results: GradingResults = {
        "score": round(sum(t["score"] for t in tests), 4),
        "max_score": round(sum(t["max_score"] for t in tests), 4),
        "execution_time": round(seconds, 3),
        "output": output,
        "visibility": visibility,
        "tests": tests,
        "chapters": chapter_scores(chapter_ids, tests),
        "submission_sha256": digest,
        "sandbox": sandbox,
        "grading": grading,
    }
    if workers_started is not None:
        results["workers_started"] = workers_started
    return results


def sandbox_info(report: Mapping[str, Any]) -> SandboxInfo:
    """A sandbox report as :class:`SandboxInfo` (every key kept, ``isolation`` and ``note`` as text)."""
    info = dict(report)
    info["isolation"] = str(report.get("isolation", "unavailable"))
    info["note"] = str(report.get("note") or "")
    return cast("SandboxInfo", info)


def ungraded_results(reason: str, *, chapter_ids: Sequence[str], grading: GradingInfo,
                     digest: str = "") -> GradingResults:
    """Results of a submission that could not be graded at all: 0 points and the reason."""
    info: GradingInfo = {**grading, "complete": False, "problems": [reason[:500]]}
    return make_results(chapter_ids=chapter_ids, tests=[], seconds=0.0, visibility="visible", digest=digest,
                        sandbox={"isolation": "not started", "note": ""}, grading=info,
                        output=f"Not graded: {reason[:2000]}")


def cap_results(results: GradingResults, limit: int, longest: int) -> GradingResults:
    """Shorten the tests' outputs (from ``longest`` characters down) until the JSON is under ``limit`` bytes."""
    size = len(json.dumps(results, default=str))
    budget = longest
    while size > limit and budget > 100:
        budget //= 2
        for test in results["tests"]:
            if len(test["output"]) > budget:
                test["output"] = test["output"][:budget] + "\n[... output truncated]"
        size = len(json.dumps(results, default=str))
    return results


# ----------------------------------------------------------------------------- reading


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_results(data: object) -> GradingResults:
    """``data`` (a decoded results file) checked to have the shape of :class:`GradingResults`.

    Raises ValueError naming the first key that is missing or of the wrong type.
    """
    if not isinstance(data, dict):
        raise ValueError("results must be a JSON object")
    obj = cast("dict[str, Any]", data)
    for key in ("score", "max_score", "execution_time"):
        if not _number(obj.get(key)):
            raise ValueError(f"results: {key} must be a number")
    for key, kind in (("output", str), ("tests", list), ("chapters", dict), ("submission_sha256", str),
                      ("sandbox", dict), ("grading", dict)):
        if not isinstance(obj.get(key), kind):
            raise ValueError(f"results: {key} must be a {kind.__name__}")
    for test in cast("list[Any]", obj["tests"]):
        if not isinstance(test, dict):
            raise ValueError("results: every test must be an object")
        entry = cast("dict[str, Any]", test)
        if not (_number(entry.get("score")) and _number(entry.get("max_score"))):
            raise ValueError("results: every test needs a numeric score and max_score")
        extra = entry.get("extra_data")
        if not isinstance(extra, dict) or cast("dict[str, Any]", extra).get("outcome") not in OUTCOMES:
            raise ValueError("results: every test needs extra_data.outcome")
    for entry in cast("dict[str, Any]", obj["chapters"]).values():
        if not isinstance(entry, dict) or not all(_number(cast("dict[str, Any]", entry).get(k))
                                                  for k in ("score", "max_score")):
            raise ValueError("results: every chapter needs a numeric score and max_score")
    grading = cast("dict[str, Any]", obj["grading"])
    if not isinstance(grading.get("complete"), bool) or not isinstance(grading.get("fingerprint"), str):
        raise ValueError("results: grading needs complete and fingerprint")
    return cast("GradingResults", obj)


def load_results(path: Path) -> GradingResults | None:
    """The results in ``path``, or None when it is missing, unreadable or not results."""
    try:
        return parse_results(json.loads(path.read_bytes()))
    except (OSError, ValueError):
        return None


# ----------------------------------------------------------------------------- isolation


def is_isolated(sandbox: Mapping[str, Any]) -> bool:
    """Whether the student's code ran isolated, from a results' ``sandbox``: the sandbox's own
    ``isolated`` verdict when it gives one, else whether namespaces were used (``isolation`` is
    not ``none``)."""
    isolated = sandbox.get("isolated")
    if isinstance(isolated, bool):
        return isolated  # the sandbox's own verdict (a root grader without namespaces isolates by uid)
    return str(sandbox.get("isolation", "")) not in NOT_ISOLATED


def isolation_warning(results: GradingResults) -> str:
    """A loud one-line warning when the student's code ran without isolation, else ``""``."""
    sandbox = results["sandbox"]
    if sandbox["isolation"] == "not started" or is_isolated(sandbox):
        return ""
    what = sandbox["note"] or "resource limits only"
    return (f"WARNING: NOT ISOLATED: the student's code ran without namespace isolation "
            f"(isolation '{sandbox['isolation']}'): {what}")


# ----------------------------------------------------------------------------- exports


def to_gradescope(results: GradingResults, visibility: Visibility | None = None,
                  stdout_visibility: Visibility = "hidden") -> GradescopeResults:
    """``results`` in the Gradescope-documented shape: its top-level keys only, the kit's extras
    (``max_score``, ``chapters``, ``submission_sha256``, ``sandbox``, ``grading``) under ``extra_data``.

    ``visibility``: the submission-level visibility (default: that of ``results``); each
    test keeps its own. ``stdout_visibility``: whether students see the autograder's stdout.
    A run that was not isolated says so in ``output``.
    """
    extras: KitExtras = {
        "max_score": results["max_score"],
        "chapters": results["chapters"],
        "submission_sha256": results["submission_sha256"],
        "sandbox": results["sandbox"],
        "grading": results["grading"],
    }
    if "workers_started" in results:
        extras["workers_started"] = results["workers_started"]
    warning = isolation_warning(results)
    output = results["output"]
    if warning and warning not in output:
        output = "\n".join(x for x in (warning, output) if x)
    return {
        "score": results["score"],
        "execution_time": results["execution_time"],
        "output": output,
        "visibility": visibility or results["visibility"],
        "stdout_visibility": stdout_visibility,
        "tests": results["tests"],
        "extra_data": extras,
    }


def csv_cell(value: str) -> str:
    """``value`` safe for a spreadsheet: a leading ``= + - @``, tab or CR (a formula to
    Excel, LibreOffice and Google Sheets) is neutralised by a leading apostrophe."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_gradebook(path: Path, rows: Mapping[str, GradingResults], chapter_ids: Sequence[str]) -> None:
    """``student,score,max_score`` then one column per chapter id (SPEC §4), one row per student.

    When a student was not graded completely (not a submission folder, grading stopped)
    or ran without isolation, a last column ``note`` says so for every such row (it is
    absent when every row is graded completely and isolated, so the columns stay exactly
    SPEC's). Text cells are escaped against formula injection (:func:`csv_cell`).
    Written atomically.
    """
    notes = {student: gradebook_note(results) for student, results in rows.items()}
    with_notes = any(notes.values())
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "score", "max_score", *chapter_ids, *(["note"] if with_notes else [])])
        for student in sorted(rows):
            res = rows[student]
            chapters = res["chapters"]
            scores = [_num(chapters[c]["score"]) if c in chapters else "0" for c in chapter_ids]
            note = [csv_cell(notes[student])] if with_notes else []
            writer.writerow([csv_cell(student), _num(res["score"]), _num(res["max_score"]), *scores, *note])
    tmp.replace(path)


def gradebook_note(results: GradingResults) -> str:
    """The gradebook's ``note`` for one student: empty when graded completely and isolated."""
    parts: list[str] = []
    if not results["grading"]["complete"]:
        problems = "; ".join(results["grading"]["problems"]) or "grading did not finish"
        parts.append(f"NOT GRADED COMPLETELY: {problems}" if results["tests"] else f"NOT GRADED: {problems}")
    if isolation_warning(results):
        parts.append(f"NOT ISOLATED (isolation {results['sandbox']['isolation']})")
    return " | ".join(parts)[:1000]


def _num(x: float) -> str:
    return f"{x:g}"


def write_json_atomic(path: Path, data: Mapping[str, Any], durable: bool = True) -> None:
    """Write ``data`` as JSON to ``path`` so that a reader sees the old file or the new one, whole.

    ``durable=False`` (the partial results written while grading runs) skips the fsync
    (the file survives a killed process, not a power cut) and the indentation (5x faster).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, indent=2 if durable else None, allow_nan=False, default=str) + "\n")
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
