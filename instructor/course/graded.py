"""Read a graded folder written by ``dlnp grade-batch``: ``results/<student>.json`` and ``gradebook.csv``.

The results files follow SPEC §4 (Gradescope's ``results.json`` plus the kit's
``chapters`` map, ``grading`` and ``sandbox`` records); every accessor here tolerates
a field that is missing (an older kit, a batch that could not grade a student).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, cast

from dlnp.manifest import Manifest, load_manifest

Json = dict[str, Any]


def as_dict(value: Any) -> Json:
    """``value`` if it is a JSON object, else an empty one."""
    return cast(Json, value) if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return cast(list[Any], value) if isinstance(value, list) else []


def as_float(value: Any) -> float:
    """A JSON number as a float (0.0 for anything else)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


@dataclass(frozen=True)
class HiddenTest:
    """One hidden test of one student's results."""

    name: str
    chapter: str
    function: str
    score: float
    max_score: float
    outcome: str  # passed, failed, not_implemented, timeout, crash, error, grader_error
    output: str

    @classmethod
    def from_json(cls, raw: Any) -> HiddenTest:
        test = as_dict(raw)
        extra = as_dict(test.get("extra_data"))
        status = str(test.get("status", "failed"))
        return cls(name=str(test.get("name", "?")), chapter=str(test.get("number", "?")),
                   function=str(extra.get("function", "?")), score=as_float(test.get("score")),
                   max_score=as_float(test.get("max_score")), outcome=str(extra.get("outcome", status)),
                   output=str(test.get("output", "")))


@dataclass(frozen=True)
class StudentResults:
    """The results file of one student, with the questions the course tools ask of it."""

    student: str
    raw: Json

    @property
    def score(self) -> float:
        return as_float(self.raw.get("score"))

    @property
    def max_score(self) -> float:
        return as_float(self.raw.get("max_score"))

    @cached_property
    def tests(self) -> list[HiddenTest]:
        return [HiddenTest.from_json(t) for t in as_list(self.raw.get("tests"))]

    def chapter(self, chapter_id: str) -> tuple[float, float]:
        """(score, max_score) of one chapter (0, 0 when it was not graded)."""
        entry = as_dict(as_dict(self.raw.get("chapters")).get(chapter_id))
        return as_float(entry.get("score")), as_float(entry.get("max_score"))

    @property
    def grading(self) -> Json:
        return as_dict(self.raw.get("grading"))

    @property
    def complete(self) -> bool:
        """False when the grading machine had a problem: the scores are not final."""
        return bool(self.grading.get("complete", False))

    @property
    def problems(self) -> list[str]:
        problems = [str(p) for p in as_list(self.grading.get("problems"))]
        if not problems and not self.complete and self.raw.get("output"):
            problems.append(str(self.raw["output"]))
        return problems

    @property
    def execution_time(self) -> float:
        return as_float(self.raw.get("execution_time"))

    @property
    def isolation(self) -> str:
        return str(as_dict(self.raw.get("sandbox")).get("isolation", "unknown"))

    @property
    def sandbox_note(self) -> str:
        return str(as_dict(self.raw.get("sandbox")).get("note", "") or "")

    @property
    def digest(self) -> str:
        """sha256 of the graded package (the same code gives the same digest)."""
        return str(self.raw.get("submission_sha256", ""))


@dataclass(frozen=True)
class GradedBatch:
    """Everything in one graded folder."""

    root: Path
    students: dict[str, StudentResults]  # sorted by student id
    gradebook: list[dict[str, str]] | None  # rows of gradebook.csv (None if missing)
    manifest: Manifest

    def chapter_ids(self) -> list[str]:
        """Chapters graded for at least one student, in manifest order."""
        return list(self._chapter_ids)

    @cached_property
    def _chapter_ids(self) -> tuple[str, ...]:
        graded = {t.chapter for r in self.students.values() for t in r.tests}
        graded |= {c.id for c in self.manifest.chapters for r in self.students.values() if r.chapter(c.id)[1] > 0}
        return tuple(c.id for c in self.manifest.chapters if c.id in graded)

    def chapter_max(self, chapter_id: str) -> float:
        """Points of a chapter as graded (the largest max_score any student's results give it)."""
        return max((r.chapter(chapter_id)[1] for r in self.students.values()), default=0.0)


def is_graded_dir(path: Path) -> bool:
    """A folder written by ``dlnp grade-batch`` (it has ``results/``)."""
    return (Path(path) / "results").is_dir()


def load_graded(root: Path, manifest: Manifest | None = None) -> GradedBatch:
    """Load ``root/results/*.json`` and ``root/gradebook.csv``."""
    root = Path(root)
    results_dir = root / "results"
    if not results_dir.is_dir():
        raise FileNotFoundError(f"{root} is not a graded folder (no results/ in it): run dlnp grade-batch first")
    students: dict[str, StudentResults] = {}
    for path in sorted(results_dir.glob("*.json")):
        try:
            raw = as_dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            raw = {"grading": {"complete": False, "problems": [f"unreadable results file {path.name}"]}}
        students[path.stem] = StudentResults(path.stem, raw)
    gradebook_path = root / "gradebook.csv"
    gradebook = None
    if gradebook_path.is_file():
        with gradebook_path.open(newline="") as fh:
            gradebook = list(csv.DictReader(fh))
    return GradedBatch(root, students, gradebook, manifest or load_manifest())
