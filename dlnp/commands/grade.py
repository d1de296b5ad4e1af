"""``dlnp grade SUBMISSION --out results.json``: hidden graders on one submission."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("grade", help="grade one submission (a filled-in copy of the release)")
    p.add_argument("submission", type=Path)
    p.add_argument("--out", type=Path, default=Path("results.json"), help="Gradescope-style results file")
    p.add_argument("--chapter", action="append", help="grade only this chapter (repeatable)")
    p.add_argument("--salt", help="secret mixed into hidden input seeds (default: $DLNP_GRADING_SALT)")
    p.add_argument("--visibility", default="visible", help="Gradescope visibility of each test")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from autograder.engine import grade_submission

    if not args.submission.is_dir():
        print(f"{args.submission} is not a folder")
        return 2
    results = grade_submission(args.submission, args.out, chapters=args.chapter, salt=args.salt,
                               visibility=args.visibility)
    print(f"score {results['score']:g} / {results['max_score']:g}  ->  {args.out}")
    for chapter, entry in results["chapters"].items():
        if entry["max_score"]:
            print(f"  {chapter:<5} {entry['score']:g} / {entry['max_score']:g}")
    return 0
