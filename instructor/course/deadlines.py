"""Due dates, a late policy and extensions (the course file), and when each student submitted.

The course file is TOML::

    [course]
    name = "Deep learning with NumPy, spring 2027"
    timezone = "Europe/Berlin"     # for due dates and times written without an offset (default UTC)

    [late_policy]
    grace_minutes = 15             # up to 15 minutes late counts as on time
    per_day = 10                   # percent taken off per started day late (counted from the due date)
    cap = 50                       # never more than 50 percent off
    of = "score"                   # percent of the student's score ("score") or of the points ("max_score")

    [[assignment]]                 # one or more chapters with one due date
    name = "Module 1"
    chapters = ["0", "1.1", "1.2", "1.3"]
    due = 2027-03-01T23:59:00+01:00   # a TOML date alone (2027-03-01) means the end of that day
    canvas_id = 12345              # optional: the Canvas assignment to fill (else Canvas creates one)

    [[extension]]                  # per student: more days, or a new due date
    student = "s007"
    days = 3                       # every due date of s007 moves 3 days (add assignment = "..." for one)
    [[extension]]
    student = "s012"
    chapters = ["2.1"]
    due = 2027-03-10T23:59:00+01:00

    [times]                        # optional sources of submission times, paths relative to this file
    csv = "times.csv"              # columns student,submitted_at[,item]: item = a chapter id or assignment name
    nbgrader = "course/submitted"  # nbgrader's submitted/<student>/<ch...>/timestamp.txt

Without ``[times]`` a student's submission time comes from their submission folder, as
the platform left it: Gradescope's ``submission_metadata.json`` (``created_at``), the
last commit of a GitHub Classroom repository (``git log -1 --format=%cI``: the committer
date, which the student's clock sets), or nbgrader's ``timestamp.txt``.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dlnp.manifest import Manifest, load_manifest

from .graded import GradedBatch, as_dict, as_list


@dataclass(frozen=True)
class LatePolicy:
    grace: timedelta = timedelta(0)
    per_day: float = 0.0  # fraction taken off per started day late
    cap: float = 1.0  # largest fraction taken off
    of: str = "score"  # "score" or "max_score"

    def fraction(self, days_late: int) -> float:
        return min(self.cap, self.per_day * days_late) if days_late > 0 else 0.0


@dataclass(frozen=True)
class Assignment:
    name: str
    chapters: tuple[str, ...]
    due: datetime | None
    canvas_id: str = ""


@dataclass(frozen=True)
class Extension:
    student: str
    items: tuple[str, ...]  # chapter ids or assignment names; empty = every item
    days: float = 0.0
    due: datetime | None = None


@dataclass(frozen=True)
class Course:
    name: str
    timezone: tzinfo
    policy: LatePolicy
    assignments: tuple[Assignment, ...]
    extensions: tuple[Extension, ...]
    times_csv: Path | None = None
    nbgrader_submitted: Path | None = None

    def assignment_of(self, chapter: str) -> Assignment | None:
        return next((a for a in self.assignments if chapter in a.chapters), None)

    def due(self, student: str, chapter: str) -> datetime | None:
        """The due date of ``chapter`` for ``student``, extensions included."""
        assignment = self.assignment_of(chapter)
        if assignment is None or assignment.due is None:
            return None
        due = assignment.due
        for ext in self.extensions:
            if ext.student != student or (ext.items and chapter not in ext.items and assignment.name not in ext.items):
                continue
            due = ext.due if ext.due is not None else due + timedelta(days=ext.days)
        return due


NO_COURSE = Course("", UTC, LatePolicy(), (), ())


def _zone(name: str) -> tzinfo:
    if name.upper() in ("UTC", "GMT", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from exc


def as_datetime(value: Any, zone: tzinfo, *, end_of_day: bool = True) -> datetime:
    """A TOML date/datetime or a string as an aware datetime (naive ones are in ``zone``)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(23, 59, 59) if end_of_day else time(0))
    else:
        moment = parse_time(str(value), zone)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def parse_time(text: str, zone: tzinfo = UTC) -> datetime:
    """ISO 8601 (Gradescope, git ``%cI``, a CSV) or nbgrader's ``2027-03-01 22:04:52.123456 UTC``."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        head, _, last = text.rpartition(" ")
        if not head:
            raise ValueError(f"not a date and time: {text!r}") from None
        moment = datetime.fromisoformat(head)
        if last[:1] in "+-" and last[1:].isdigit():
            sign = -1 if last[0] == "-" else 1
            offset = timedelta(hours=int(last[1:3]), minutes=int(last[3:5] or 0))
            moment = moment.replace(tzinfo=timezone(sign * offset))
        else:
            try:
                moment = moment.replace(tzinfo=_zone(last))
            except ValueError:  # an abbreviation such as CET: the course's zone
                moment = moment.replace(tzinfo=zone)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def load_course(path: Path, manifest: Manifest | None = None) -> Course:
    """Read and check a course file (unknown chapters and students' typos fail loudly)."""
    manifest = manifest or load_manifest()
    data = tomllib.loads(Path(path).read_text())
    info = as_dict(data.get("course"))
    zone = _zone(str(info.get("timezone", "UTC")))
    raw_policy = as_dict(data.get("late_policy"))
    of = str(raw_policy.get("of", "score"))
    if of not in ("score", "max_score"):
        raise ValueError(f"{path}: late_policy.of must be 'score' or 'max_score', not {of!r}")
    policy = LatePolicy(grace=timedelta(minutes=float(raw_policy.get("grace_minutes", 0))),
                        per_day=float(raw_policy.get("per_day", 0)) / 100, cap=float(raw_policy.get("cap", 100)) / 100,
                        of=of)
    known = {c.id for c in manifest.chapters}
    assignments: list[Assignment] = []
    for raw in (as_dict(a) for a in as_list(data.get("assignment"))):
        chapters = tuple(str(c) for c in as_list(raw.get("chapters")))
        unknown = [c for c in chapters if c not in known]
        if unknown or not chapters:
            raise ValueError(f"{path}: assignment {raw.get('name')!r}: unknown or no chapters {unknown}")
        due = as_datetime(raw["due"], zone) if "due" in raw else None
        assignments.append(Assignment(str(raw.get("name", " + ".join(chapters))), chapters, due,
                                      str(raw.get("canvas_id", ""))))
    names = {a.name for a in assignments}
    extensions: list[Extension] = []
    for raw in (as_dict(e) for e in as_list(data.get("extension"))):
        named = [raw["assignment"]] if "assignment" in raw else []
        items = tuple(str(i) for i in [*as_list(raw.get("chapters")), *named])
        unknown = [i for i in items if i not in known and i not in names]
        if "student" not in raw or unknown or ("days" not in raw and "due" not in raw):
            raise ValueError(f"{path}: extension {raw}: needs student, days or due, and known chapters/assignments")
        extensions.append(Extension(str(raw["student"]), items, float(raw.get("days", 0)),
                                    as_datetime(raw["due"], zone) if "due" in raw else None))
    times = as_dict(data.get("times"))
    base = Path(path).resolve().parent
    return Course(str(info.get("name", "")), zone, policy, tuple(assignments), tuple(extensions),
                  base / str(times["csv"]) if "csv" in times else None,
                  base / str(times["nbgrader"]) if "nbgrader" in times else None)


# ----------------------------------------------------------------------------- submission times


@dataclass(frozen=True)
class Stamp:
    when: datetime
    source: str


def folder_time(folder: Path, zone: tzinfo = UTC) -> Stamp | None:
    """When a submission folder was submitted, from what its platform left in it."""
    metadata = folder / "submission_metadata.json"
    if metadata.is_file():
        created: Any = as_dict(json.loads(metadata.read_text())).get("created_at")
        if created:
            return Stamp(parse_time(str(created), zone), "gradescope")
    stamp = folder / "timestamp.txt"
    if stamp.is_file():
        return Stamp(parse_time(stamp.read_text(), zone), "nbgrader")
    if (folder / ".git").exists():  # only the folder's own repository, never an enclosing one
        done = subprocess.run(["git", "-c", f"safe.directory={folder.resolve()}", "-C", str(folder), "log", "-1",
                               "--format=%cI"], capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip():
            return Stamp(parse_time(done.stdout.strip(), zone), "git")
    return None


def read_times_csv(path: Path, zone: tzinfo) -> dict[str, dict[str, Stamp]]:
    """``student,submitted_at[,item]`` -> student -> item ("*" = every item) -> time."""
    out: dict[str, dict[str, Stamp]] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            student, when = row.get("student", "").strip(), row.get("submitted_at", "").strip()
            if student and when:
                item = (row.get("item") or "").strip() or "*"
                out.setdefault(student, {})[item] = Stamp(parse_time(when, zone), "csv")
    return out


class SubmissionTimes:
    """Answers "when did this student submit this chapter?" from every source the course gives."""

    def __init__(self, course: Course, submissions: Path | None, manifest: Manifest) -> None:
        self.course = course
        self.submissions = submissions
        self.manifest = manifest
        self.table = read_times_csv(course.times_csv, course.timezone) if course.times_csv else {}
        self._folders: dict[str, Stamp | None] = {}

    def of(self, student: str, chapter: str) -> Stamp | None:
        assignment = self.course.assignment_of(chapter)
        rows = self.table.get(student, {})
        for key in (chapter, assignment.name if assignment else None, "*"):
            if key is not None and key in rows:
                return rows[key]
        if self.course.nbgrader_submitted is not None:
            path = self.course.nbgrader_submitted / student / self.manifest.chapter(chapter).slug / "timestamp.txt"
            if path.is_file():
                return Stamp(parse_time(path.read_text(), self.course.timezone), "nbgrader")
        if self.submissions is not None:
            if student not in self._folders:
                folder = self.submissions / student
                self._folders[student] = folder_time(folder, self.course.timezone) if folder.is_dir() else None
            return self._folders[student]
        return None


# ----------------------------------------------------------------------------- penalties


@dataclass(frozen=True)
class ChapterGrade:
    """One student's grade in one chapter: raw score, lateness, penalty and final score."""

    student: str
    chapter: str
    raw: float
    max_score: float
    due: datetime | None
    submitted: Stamp | None
    days_late: int
    penalty: float

    @property
    def final(self) -> float:
        return round(self.raw - self.penalty, 4)


def days_late(submitted: datetime, due: datetime, grace: timedelta) -> int:
    """Started days after the due date (0 within the grace period)."""
    late = submitted - due
    if late <= grace:
        return 0
    return math.ceil(late / timedelta(days=1))


def grade_chapters(batch: GradedBatch, course: Course = NO_COURSE,
                   submissions: Path | None = None) -> list[ChapterGrade]:
    """Every student's grade in every graded chapter, with the course's late policy applied."""
    times = SubmissionTimes(course, submissions, batch.manifest)
    grades: list[ChapterGrade] = []
    for student, results in batch.students.items():
        for chapter in batch.chapter_ids():
            raw, max_score = results.chapter(chapter)
            max_score = max_score or batch.chapter_max(chapter)
            due = course.due(student, chapter)
            stamp = times.of(student, chapter) if due is not None else None
            late = days_late(stamp.when, due, course.policy.grace) if due is not None and stamp is not None else 0
            basis = raw if course.policy.of == "score" else max_score
            penalty = min(raw, round(basis * course.policy.fraction(late), 4))
            grades.append(ChapterGrade(student, chapter, raw, max_score, due, stamp, late, penalty))
    return grades


def missing_times(grades: list[ChapterGrade]) -> list[str]:
    """Students with a due date but no known submission time (never penalised: check them by hand)."""
    return sorted({g.student for g in grades if g.due is not None and g.submitted is None})
