"""``dlnp grade-batch ROOT --out DIR --jobs N [--resume]``: grade every submission folder under ROOT."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .grade import add_limit_options, budget_from, limits_from


def register(sub: Any) -> None:
    p = sub.add_parser("grade-batch", help="grade every submission folder under ROOT (folder name = student id)")
    p.add_argument("root", type=Path)
    p.add_argument("--out", type=Path, required=True, help="writes gradebook.csv, results/, feedback/")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    p.add_argument("--chapter", action="append", help="grade only this chapter (repeatable)")
    p.add_argument("--salt", help="secret mixed into hidden input seeds (default: $DLNP_GRADING_SALT)")
    p.add_argument("--resume", action="store_true",
                   help="skip students already graded from the same submission by the same kit, salt and chapters")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_limit_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from autograder.engine import grade_batch
    from autograder.results import isolation_warning
    from instructor.course.history import keep_previous, write_changes

    if not args.root.is_dir():
        print(f"{args.root} is not a folder")
        return 2
    previous = keep_previous(args.out)  # a regrade keeps the results it replaces
    rows = grade_batch(args.root, args.out, jobs=args.jobs, salt=args.salt, chapters=args.chapter,
                       resume=args.resume, progress=not args.no_progress, limits=limits_from(args),
                       budget_seconds=budget_from(args))
    incomplete = sum(1 for r in rows if not r["grading"]["complete"])
    print(f"graded {len(rows)} submissions -> {args.out / 'gradebook.csv'}")
    if previous is not None:
        changed = [c for c in write_changes(previous, args.out) if c.changed]
        print(f"regrade: {len(changed)} student(s) changed" + (f", see {previous / 'changes.md'}" if changed else ""))
    warnings = [isolation_warning(r) for r in rows if isolation_warning(r)]
    if warnings:
        print(f"{warnings[0]}\n{len(warnings)} of {len(rows)} submissions ran WITHOUT isolation "
              "(the gradebook's note column says which)")
    if incomplete:
        print(f"{incomplete} could not be graded completely (the gradebook's note column says why; "
              "run again with --resume to retry those that stopped)")
        return 1
    return 0
