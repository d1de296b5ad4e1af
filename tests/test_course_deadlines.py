"""Course file, submission times from each platform, and late penalties."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from instructor.course.deadlines import (
    Course,
    LatePolicy,
    days_late,
    folder_time,
    grade_chapters,
    load_course,
    parse_time,
)
from instructor.course.graded import load_graded

BERLIN = ZoneInfo("Europe/Berlin")


def test_parse_time_reads_every_platform_format() -> None:
    want = datetime(2027, 3, 1, 22, 4, 52, 123456, tzinfo=UTC)
    assert parse_time("2027-03-01T22:04:52.123456Z") == want  # Gradescope-like ISO with Z
    assert parse_time("2027-03-01T23:04:52.123456+01:00") == want  # git %cI
    assert parse_time("2027-03-01 22:04:52.123456 UTC") == want  # nbgrader's default timestamp.txt
    assert parse_time("2027-03-01 23:04:52.123456 +0100") == want
    assert parse_time("2027-03-01 23:04:52.123456 Europe/Berlin") == want
    assert parse_time("2027-03-01 23:04:52.123456 CET", BERLIN) == want  # abbreviation: the course's zone
    assert parse_time("2027-03-01 23:04:52.123456", BERLIN) == want  # naive: the course's zone
    with pytest.raises(ValueError):
        parse_time("yesterday")


def test_days_late_counts_started_days_after_the_grace_period() -> None:
    due = datetime(2027, 3, 1, 23, 59, tzinfo=UTC)
    grace = timedelta(minutes=15)
    assert days_late(due - timedelta(days=2), due, grace) == 0
    assert days_late(due + timedelta(minutes=15), due, grace) == 0
    assert days_late(due + timedelta(minutes=16), due, grace) == 1
    assert days_late(due + timedelta(hours=24), due, grace) == 1
    assert days_late(due + timedelta(hours=24, seconds=1), due, grace) == 2
    policy = LatePolicy(per_day=0.1, cap=0.25)
    assert [policy.fraction(d) for d in (0, 1, 2, 3, 9)] == [0.0, 0.1, 0.2, 0.25, 0.25]


def test_course_file(tmp_path: Path) -> None:
    path = tmp_path / "course.toml"
    path.write_text("""
[course]
timezone = "Europe/Berlin"
[late_policy]
per_day = 20
cap = 60
of = "max_score"
[[assignment]]
name = "M1"
chapters = ["0", "1.1"]
due = 2027-03-01            # a date alone: the end of that day, in the course's zone
[[assignment]]
name = "M2"
chapters = ["2.1"]
due = 2027-03-08T12:00:00   # a local time: the course's zone
[[extension]]
student = "ann"
assignment = "M1"
days = 2
[[extension]]
student = "bob"
chapters = ["2.1"]
due = 2027-03-20T12:00:00Z
[times]
csv = "times.csv"
""")
    course = load_course(path)
    assert course.policy == LatePolicy(grace=timedelta(0), per_day=0.2, cap=0.6, of="max_score")
    assert course.due("zoe", "1.1") == datetime(2027, 3, 1, 23, 59, 59, tzinfo=BERLIN)
    assert course.due("zoe", "2.1") == datetime(2027, 3, 8, 12, tzinfo=BERLIN)
    assert course.due("ann", "0") == datetime(2027, 3, 3, 23, 59, 59, tzinfo=BERLIN)
    assert course.due("ann", "2.1") == datetime(2027, 3, 8, 12, tzinfo=BERLIN)
    assert course.due("bob", "2.1") == datetime(2027, 3, 20, 12, tzinfo=UTC)
    assert course.due("zoe", "3.2") is None  # no due date: never late
    assert course.times_csv == tmp_path / "times.csv"
    path.write_text('[[assignment]]\nname = "x"\nchapters = ["9.9"]\ndue = 2027-03-01\n')
    with pytest.raises(ValueError, match="unknown"):
        load_course(path)
    path.write_text('[[extension]]\nstudent = "ann"\n')
    with pytest.raises(ValueError, match="days or due"):
        load_course(path)


def test_submission_time_from_each_platform(tmp_path: Path) -> None:
    when = datetime(2027, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    gradescope = tmp_path / "gradescope"
    gradescope.mkdir()
    (gradescope / "submission_metadata.json").write_text(json.dumps({"created_at": when.isoformat(), "users": []}))
    stamp = folder_time(gradescope)
    assert stamp is not None and stamp.when == when and stamp.source == "gradescope"
    nbgrader = tmp_path / "nbgrader"
    nbgrader.mkdir()
    (nbgrader / "timestamp.txt").write_text(when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    stamp = folder_time(nbgrader)
    assert stamp is not None and stamp.when == when and stamp.source == "nbgrader"
    repo = tmp_path / "classroom"
    repo.mkdir()
    (repo / "file.py").write_text("x = 1\n")
    env = {**os.environ, "GIT_COMMITTER_DATE": when.isoformat(), "GIT_AUTHOR_DATE": when.isoformat(),
           "GIT_AUTHOR_NAME": "s", "GIT_AUTHOR_EMAIL": "s@x", "GIT_COMMITTER_NAME": "s", "GIT_COMMITTER_EMAIL": "s@x"}
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "done"]):
        subprocess.run(["git", *command], cwd=repo, env=env, check=True, capture_output=True)
    stamp = folder_time(repo)
    assert stamp is not None and stamp.when == when and stamp.source == "git"
    inside = repo / "sub"  # a folder inside someone else's repository has no time of its own
    inside.mkdir()
    assert folder_time(inside) is None


def write_graded(root: Path, scores: dict[str, float]) -> Path:
    (root / "results").mkdir(parents=True)
    for student, score in scores.items():
        results = {"score": score, "max_score": 8.0, "tests": [],
                   "chapters": {"1.1": {"score": score, "max_score": 8.0}}, "grading": {"complete": True}}
        (root / "results" / f"{student}.json").write_text(json.dumps(results))
    return root


def test_penalties_with_times_from_a_csv(tmp_path: Path) -> None:
    graded = load_graded(write_graded(tmp_path / "graded", {"ann": 8.0, "bob": 4.0, "cat": 6.0, "dan": 8.0}))
    times = tmp_path / "times.csv"
    times.write_text("student,submitted_at,item\nann,2027-03-03T10:00:00Z,\nbob,2027-03-09T10:00:00Z,1.1\n"
                     "cat,2027-03-01T10:00:00Z,M1\n")
    due = datetime(2027, 3, 1, 12, tzinfo=UTC)
    from instructor.course.deadlines import Assignment

    course = Course("c", UTC, LatePolicy(per_day=0.1, cap=0.5), (Assignment("M1", ("1.1",), due),), (), times)
    grades = {g.student: g for g in grade_chapters(graded, course)}
    assert (grades["ann"].days_late, grades["ann"].penalty, grades["ann"].final) == (2, 1.6, 6.4)
    assert (grades["bob"].days_late, grades["bob"].penalty, grades["bob"].final) == (8, 2.0, 2.0)  # capped at 50%
    assert (grades["cat"].days_late, grades["cat"].penalty) == (0, 0.0)
    assert grades["dan"].submitted is None and grades["dan"].penalty == 0.0  # no time known: reported, not penalised
    of_max = Course("c", UTC, LatePolicy(per_day=0.3, cap=1.0, of="max_score"), course.assignments, (), times)
    bob = next(g for g in grade_chapters(graded, of_max) if g.student == "bob")
    assert bob.penalty == 4.0 and bob.final == 0.0  # 240% of the points, but never below zero
