"""``dlnp export`` without a course file: one LMS item per chapter, no penalty, Canvas and long formats."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from instructor.cli import main
from instructor.course.lms import match_roster, read_roster


def test_export_without_a_course_file(tmp_path: Path) -> None:
    graded = tmp_path / "graded"
    (graded / "results").mkdir(parents=True)
    for student, scores in {"ann": (4.0, 5.0), "bob": (0.0, 2.5)}.items():
        results = {"score": sum(scores), "max_score": 18.0, "tests": [], "grading": {"complete": True},
                   "chapters": {"1.1": {"score": scores[0], "max_score": 8.0},
                                "2.1": {"score": scores[1], "max_score": 10.0}}}
        (graded / "results" / f"{student}.json").write_text(json.dumps(results))
    assert main(["export", str(graded), "--canvas", "--long"]) == 0
    out = graded / "export"
    with (out / "canvas.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "1.1 NumPy arrays",
                       "2.1 Loss functions"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "8", "10"]
    assert rows[2] == ["ann", "", "", "ann", "", "4", "5"] and rows[3] == ["bob", "", "", "bob", "", "0", "2.5"]
    with (out / "gradebook_final.csv").open(newline="") as fh:
        final = list(csv.DictReader(fh))
    assert [(r["student"], r["score"], r["penalty"], r["2.1 raw"], r["2.1"]) for r in final] == [
        ("ann", "9", "0", "5", "5"), ("bob", "2.5", "0", "2.5", "2.5")]
    with (out / "long.csv").open(newline="") as fh:
        long = list(csv.DictReader(fh))
    assert [(r["student"], r["item"], r["score"], r["max_score"]) for r in long] == [
        ("ann", "1.1", "4", "8"), ("ann", "2.1", "5", "10"), ("bob", "1.1", "0", "8"), ("bob", "2.1", "2.5", "10")]


def test_roster_matching(tmp_path: Path) -> None:
    roster = tmp_path / "export.csv"
    roster.write_text("\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Current Score\n"
                      "    Points Possible,,,,,\n"
                      "\"Lee, Ann\",101,2024-17,alee,A,90\n\"Ng, Bob\",102,2024-18,bng,B,80\n")
    rows = read_roster(roster)
    assert [r["ID"] for r in rows] == ["101", "102"]
    matched = match_roster(["alee", "2024-18", "102", "zed"], rows)
    assert matched["alee"]["ID"] == "101" and matched["2024-18"]["ID"] == "102" and matched["102"]["ID"] == "102"
    assert "zed" not in matched
