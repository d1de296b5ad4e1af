"""``dlnp grade-batch ROOT --out DIR --jobs N``: grade every submission folder under ROOT."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("grade-batch", help="grade every submission folder under ROOT (folder name = student id)")
    p.add_argument("root", type=Path)
    p.add_argument("--out", type=Path, required=True, help="writes gradebook.csv, results/, feedback/")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    p.add_argument("--chapter", action="append", help="grade only this chapter (repeatable)")
    p.add_argument("--salt", help="secret mixed into hidden input seeds (default: $DLNP_GRADING_SALT)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from autograder.engine import grade_batch

    rows = grade_batch(args.root, args.out, jobs=args.jobs, salt=args.salt, chapters=args.chapter)
    print(f"graded {len(rows)} submissions -> {args.out / 'gradebook.csv'}")
    return 0
