"""``dlnp export``: the adjusted gradebook, a Canvas gradebook import file, and a long format.

Canvas (``Grades > Import``) reads the layout of its own gradebook export, as its
importer (instructure/canvas-lms, ``app/models/gradebook_importer.rb``) parses it:

* header row: ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``, then one
  column per assignment, titled ``Name (assignment id)`` for an existing assignment or
  just ``Name`` for a new one (Canvas then creates it);
* a second row whose first cell contains ``Points Possible``: the points of each
  assignment (used for new assignments);
* one row per student. Canvas finds the student by ``ID``, else ``SIS User ID``, else
  ``SIS Login ID``, else by name; an empty score cell changes nothing.

Give ``--roster`` the CSV of Canvas's own gradebook export so that the ID columns are
Canvas's; a student folder is matched to a roster row by its SIS Login ID, SIS User ID
or ID. Without a roster, the folder name is written as the SIS Login ID.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dlnp.manifest import Manifest

from .deadlines import ChapterGrade, Course

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


def _num(x: float) -> str:
    return f"{round(x, 4):g}"


@dataclass(frozen=True)
class Item:
    """One gradebook column of the LMS: an assignment of the course file, or a chapter."""

    name: str
    chapters: tuple[str, ...]
    canvas_id: str = ""

    @property
    def canvas_header(self) -> str:
        return f"{self.name} ({self.canvas_id})" if self.canvas_id else self.name


def items_of(course: Course, chapters: Sequence[str], manifest: Manifest) -> list[Item]:
    """The course file's assignments (with graded chapters), else one item per graded chapter."""
    graded = set(chapters)
    if course.assignments:
        return [Item(a.name, tuple(c for c in a.chapters if c in graded), a.canvas_id)
                for a in course.assignments if graded & set(a.chapters)]
    titles = {c.id: c.title for c in manifest.chapters}
    return [Item(f"{cid} {titles.get(cid, '')}".strip(), (cid,)) for cid in chapters]


def _by_student(grades: Sequence[ChapterGrade]) -> dict[str, dict[str, ChapterGrade]]:
    table: dict[str, dict[str, ChapterGrade]] = {}
    for g in grades:
        table.setdefault(g.student, {})[g.chapter] = g
    return table


def write_final_gradebook(path: Path, grades: Sequence[ChapterGrade], chapters: Sequence[str]) -> Path:
    """``student,score,penalty,raw_score,max_score``, then per chapter: raw, days late, penalty, final."""
    table = _by_student(grades)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        header = ["student", "score", "penalty", "raw_score", "max_score", "submitted_at", "time_source"]
        writer.writerow(header + [h for c in chapters for h in (f"{c} raw", f"{c} days late", f"{c} penalty", c)])
        for student in sorted(table):
            row = table[student]
            stamps = [g.submitted for g in row.values() if g.submitted is not None]
            first = min(stamps, key=lambda s: s.when) if stamps else None
            cells = [student, _num(sum(g.final for g in row.values())), _num(sum(g.penalty for g in row.values())),
                     _num(sum(g.raw for g in row.values())), _num(sum(g.max_score for g in row.values())),
                     first.when.isoformat() if first else "", first.source if first else ""]
            for c in chapters:
                g = row.get(c)
                cells += [_num(g.raw), str(g.days_late), _num(g.penalty), _num(g.final)] if g else ["", "", "", ""]
            writer.writerow(cells)
    return path


def read_roster(path: Path) -> list[dict[str, str]]:
    """The student rows of a Canvas gradebook export (its Points Possible and muted rows skipped)."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    return [r for r in rows if "Points Possible" not in (r.get("Student") or "") and (r.get("ID") or r.get("Student"))]


def match_roster(students: Sequence[str], roster: Sequence[dict[str, str]]) -> dict[str, dict[str, str]]:
    """Student folder name -> roster row, matched on SIS Login ID, SIS User ID or ID (case-insensitive)."""
    index: dict[str, dict[str, str]] = {}
    for row in roster:
        for column in ("ID", "SIS User ID", "SIS Login ID"):  # later columns win: the login is the usual folder name
            key = (row.get(column) or "").strip().lower()
            if key:
                index[key] = row
    return {s: index[s.lower()] for s in students if s.lower() in index}


def write_canvas(path: Path, grades: Sequence[ChapterGrade], items: Sequence[Item],
                 roster: Sequence[dict[str, str]] = ()) -> list[str]:
    """Write the Canvas import CSV; return the students not found in the roster (if one was given)."""
    table = _by_student(grades)
    matched = match_roster(sorted(table), roster)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*CANVAS_COLUMNS, *(i.canvas_header for i in items)])
        points = [_num(sum(g.max_score for g in _item_grades(table, i))) for i in items]
        writer.writerow(["    Points Possible", "", "", "", "", *points])
        for student in sorted(table):
            row = matched.get(student)
            person = [row.get(c, "") for c in CANVAS_COLUMNS] if row else [student, "", "", student, ""]
            scores = [_num(sum(table[student][c].final for c in i.chapters if c in table[student])) for i in items]
            writer.writerow([*person, *scores])
    return [s for s in sorted(table) if roster and s not in matched]


def _item_grades(table: dict[str, dict[str, ChapterGrade]], item: Item) -> list[ChapterGrade]:
    """One student's chapter grades of ``item`` (the points possible are the same for everyone)."""
    for row in table.values():
        return [row[c] for c in item.chapters if c in row]
    return []


def write_long(path: Path, grades: Sequence[ChapterGrade]) -> Path:
    """One row per student and chapter: ``student,item,score,max_score`` plus raw, penalty and lateness."""
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "item", "score", "max_score", "raw_score", "penalty", "days_late",
                         "submitted_at"])
        for g in sorted(grades, key=lambda g: (g.student, g.chapter)):
            writer.writerow([g.student, g.chapter, _num(g.final), _num(g.max_score), _num(g.raw), _num(g.penalty),
                             g.days_late, g.submitted.when.isoformat() if g.submitted else ""])
    return path
