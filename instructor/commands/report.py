"""``dlnp report GRADED_DIR --out report/``: the class-wide report of a graded batch."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="class-wide HTML (or JSON) report of a graded batch: scores, mistakes, health")
    p.add_argument("graded", type=Path, help="a folder written by dlnp grade-batch")
    p.add_argument("--out", type=Path, default=Path("report"), help="folder for index.html (or report.json)")
    p.add_argument("--format", choices=["html", "json"], default="html")
    p.add_argument("--pass-mark", type=float, default=50.0,
                   help="percent of a chapter's or function's points below which it counts as failing")
    p.add_argument("--anonymous", action="store_true", help="replace student ids by numbers (to show in class)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from instructor.course.graded import is_graded_dir, load_graded
    from instructor.course.report import write_report

    if not is_graded_dir(args.graded):
        print(f"{args.graded} is not a graded folder (no results/ in it): run dlnp grade-batch first")
        return 2
    batch = load_graded(args.graded)
    path = write_report(batch, args.out, fmt=args.format, pass_mark=args.pass_mark / 100, anonymous=args.anonymous)
    print(f"report on {len(batch.students)} students -> {path}")
    return 0
