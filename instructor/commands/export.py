"""``dlnp export GRADED_DIR [--course course.toml] [--canvas] [--long]``: final grades for the LMS."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="final grades of a graded batch (late penalties applied) for an LMS: "
                                      "gradebook_final.csv, --canvas canvas.csv, --long long.csv")
    p.add_argument("graded", type=Path, help="a folder written by dlnp grade-batch")
    p.add_argument("--course", type=Path, help="course file (TOML): due dates, late policy, extensions")
    p.add_argument("--submissions", type=Path,
                   help="the graded submissions folder: submission times from Gradescope metadata, git, nbgrader")
    p.add_argument("--times", type=Path, help="CSV student,submitted_at[,item] (overrides the course file's)")
    p.add_argument("--canvas", action="store_true", help="also write canvas.csv (Canvas gradebook import)")
    p.add_argument("--roster", type=Path, help="Canvas's own gradebook export, for Canvas's student ids")
    p.add_argument("--long", action="store_true", help="also write long.csv (student,item,score,max_score,...)")
    p.add_argument("--out", type=Path, help="output folder (default: GRADED_DIR/export)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from instructor.course.deadlines import NO_COURSE, grade_chapters, load_course, missing_times
    from instructor.course.graded import is_graded_dir, load_graded
    from instructor.course.lms import items_of, read_roster, write_canvas, write_final_gradebook, write_long

    if not is_graded_dir(args.graded):
        print(f"{args.graded} is not a graded folder (no results/ in it): run dlnp grade-batch first")
        return 2
    batch = load_graded(args.graded)
    course = load_course(args.course, batch.manifest) if args.course else NO_COURSE
    if args.times:
        course = dataclasses.replace(course, times_csv=args.times)
    out: Path = args.out or args.graded / "export"
    out.mkdir(parents=True, exist_ok=True)
    grades = grade_chapters(batch, course, args.submissions)
    chapters = batch.chapter_ids()
    written = [write_final_gradebook(out / "gradebook_final.csv", grades, chapters)]
    late = sorted({g.student for g in grades if g.penalty > 0})
    print(f"{len(batch.students)} students, {len(late)} with a late penalty -> {written[0]}")
    missing = missing_times(grades)
    if missing:
        print(f"no submission time for {len(missing)} student(s), so no penalty: {', '.join(missing[:20])}")
    if args.canvas:
        roster = read_roster(args.roster) if args.roster else []
        unmatched = write_canvas(out / "canvas.csv", grades, items_of(course, chapters, batch.manifest), roster)
        print(f"Canvas import file -> {out / 'canvas.csv'}")
        if unmatched:
            print(f"not in the roster (check their ids): {', '.join(unmatched[:20])}")
    if args.long:
        print(f"long format -> {write_long(out / 'long.csv', grades)}")
    return 0
