"""Regrade history: keep the previous results, and say what a regrade changed and why.

``dlnp grade-batch`` into a folder that already holds results first copies them to
``history/<UTC time>/`` (``results/``, ``feedback/``, ``gradebook.csv``). After grading it
compares every student's new results with the previous ones and writes, in that
history folder, ``changes.md`` (one line per student whose grade changed), ``changes.json``
and ``changes/<student>.md``: the score before and after, the reason (the submission,
the hidden graders, the rest of the kit, the salt, or the chapters graded changed:
told apart by the fingerprints each results file records under ``grading``), and every
test whose score, outcome or diagnosis changed. A regrade that changed nothing at all
leaves no history behind.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .graded import HiddenTest, Json, StudentResults, as_dict
from .report import mistakes_in

HISTORY = "history"


def keep_previous(out_dir: Path) -> Path | None:
    """Copy the results already in ``out_dir`` to ``out_dir/history/<time>/``; None if there are none."""
    results = Path(out_dir) / "results"
    if not results.is_dir() or not any(results.glob("*.json")):
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dest = Path(out_dir) / HISTORY / stamp
    n = 1
    while dest.exists():
        n += 1
        dest = Path(out_dir) / HISTORY / f"{stamp}-{n}"
    dest.mkdir(parents=True)
    shutil.copytree(results, dest / "results", ignore=shutil.ignore_patterns(".*"))
    if (Path(out_dir) / "feedback").is_dir():
        shutil.copytree(Path(out_dir) / "feedback", dest / "feedback", ignore=shutil.ignore_patterns(".*"))
    if (Path(out_dir) / "gradebook.csv").is_file():
        shutil.copy2(Path(out_dir) / "gradebook.csv", dest / "gradebook.csv")
    return dest


@dataclass(frozen=True)
class TestChange:
    name: str
    before: str  # "2/4 failed (ddof=1)"
    after: str


@dataclass
class StudentChange:
    student: str
    before: float | None  # None: the student is new
    after: float | None  # None: the student is gone
    max_before: float
    max_after: float
    reasons: list[str] = field(default_factory=lambda: [])
    tests: list[TestChange] = field(default_factory=lambda: [])

    @property
    def changed(self) -> bool:
        return self.before != self.after or bool(self.tests)


def _fingerprints(results: StudentResults) -> Json:
    grading = results.grading
    return {"submission": results.digest, "graders": grading.get("graders_sha256"),
            "kit": grading.get("kit_sha256"), "salt": grading.get("salt_fingerprint"),
            "fingerprint": grading.get("fingerprint"), "kit_version": grading.get("kit_version")}


def why(before: StudentResults, after: StudentResults) -> list[str]:
    """Which inputs of grading differ between two results of the same student."""
    a, b = _fingerprints(before), _fingerprints(after)
    reasons: list[str] = []
    if a["submission"] != b["submission"]:
        reasons.append("the submission changed")
    if a["graders"] and b["graders"] and a["graders"] != b["graders"]:
        reasons.append("the hidden graders changed")
    if a["kit"] != b["kit"] and (not a["graders"] or not b["graders"] or a["graders"] == b["graders"]):
        reasons.append(f"the kit changed ({a['kit_version']} -> {b['kit_version']})")
    if a["salt"] and b["salt"] and a["salt"] != b["salt"]:
        reasons.append("the salt changed")
    if {t.chapter for t in before.tests} != {t.chapter for t in after.tests}:
        reasons.append("other chapters were graded")
    if not reasons and a["fingerprint"] != b["fingerprint"]:
        reasons.append("the grading settings changed")
    if not reasons and not before.complete:
        reasons.append("the previous grading was incomplete")
    return reasons or ["nothing recorded changed (a flaky test?)"]


def _describe(test: HiddenTest | None) -> str:
    if test is None:
        return "not graded"
    diagnoses = mistakes_in(test.output)
    return f"{test.score:g}/{test.max_score:g} {test.outcome}" + (f" ({', '.join(diagnoses)})" if diagnoses else "")


def compare(before: dict[str, StudentResults], after: dict[str, StudentResults]) -> list[StudentChange]:
    """One entry per student in either set, with the tests whose score, outcome or diagnosis changed."""
    changes: list[StudentChange] = []
    for student in sorted(set(before) | set(after)):
        old, new = before.get(student), after.get(student)
        change = StudentChange(student, old.score if old else None, new.score if new else None,
                               old.max_score if old else 0.0, new.max_score if new else 0.0)
        if old is None or new is None:
            change.reasons.append("new student" if old is None else "no longer in the submissions")
            changes.append(change)
            continue
        old_tests = {t.name: t for t in old.tests}
        new_tests = {t.name: t for t in new.tests}
        for name in sorted(set(old_tests) | set(new_tests)):
            a, b = old_tests.get(name), new_tests.get(name)
            if _describe(a) != _describe(b):
                change.tests.append(TestChange(name, _describe(a), _describe(b)))
        if change.changed:
            change.reasons = why(old, new)
        changes.append(change)
    return changes


def load_results(folder: Path) -> dict[str, StudentResults]:
    out: dict[str, StudentResults] = {}
    for path in sorted((folder / "results").glob("*.json")):
        try:
            out[path.stem] = StudentResults(path.stem, as_dict(json.loads(path.read_text())))
        except (OSError, ValueError):
            continue
    return out


def _score(x: float | None, max_score: float) -> str:
    return "-" if x is None else f"{x:g}/{max_score:g}"


def student_markdown(change: StudentChange) -> str:
    lines = [f"# Regrade of {change.student}", "",
             f"**Before: {_score(change.before, change.max_before)}  After: {_score(change.after, change.max_after)}**",
             "", "Why: " + "; ".join(change.reasons), ""]
    if change.tests:
        lines += ["| test | before | after |", "|---|---|---|"]
        lines += [f"| {t.name} | {t.before} | {t.after} |" for t in change.tests]
    return "\n".join(lines) + "\n"


def write_changes(snapshot: Path, out_dir: Path) -> list[StudentChange]:
    """Compare ``snapshot`` (the previous results) with ``out_dir``'s; write the before/after reports.

    Removes ``snapshot`` again when nothing at all changed (same scores, tests and fingerprints).
    """
    before, after = load_results(snapshot), load_results(out_dir)
    changes = compare(before, after)
    changed = [c for c in changes if c.changed]
    same_grading = all(_fingerprints(before[s]) == _fingerprints(after[s]) for s in set(before) & set(after))
    if not changed and same_grading and set(before) == set(after):
        shutil.rmtree(snapshot)
        return changes
    (snapshot / "changes").mkdir(exist_ok=True)
    for change in changed:
        (snapshot / "changes" / f"{change.student}.md").write_text(student_markdown(change))
    lines = [f"# Regrade compared with the results kept in {snapshot.name}", "",
             f"{len(changed)} of {len(changes)} students changed.", ""]
    if changed:
        lines += ["| student | before | after | why | tests changed |", "|---|---|---|---|---|"]
        lines += [f"| [{c.student}](changes/{c.student}.md) | {_score(c.before, c.max_before)} | "
                  f"{_score(c.after, c.max_after)} | {'; '.join(c.reasons)} | {len(c.tests)} |" for c in changed]
    (snapshot / "changes.md").write_text("\n".join(lines) + "\n")
    (snapshot / "changes.json").write_text(json.dumps([asdict(c) for c in changed], indent=2) + "\n")
    return changes
