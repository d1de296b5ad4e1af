"""``dlnp similar GRADED_OR_SUBMISSIONS``: pairs of submissions with identical or near-identical code (a hint)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("similar", help="pairs of submissions whose graded functions are (nearly) identical: "
                                       "a hint for a human, not a verdict")
    p.add_argument("path", type=Path, help="the submissions folder (one folder per student), or a graded folder")
    p.add_argument("--submissions", type=Path,
                   help="with a graded folder: its submissions, to compare the code (and only the graded functions)")
    p.add_argument("--chance", type=float, default=1.0,
                   help="flag a pair when a class of honest students would show such a pair with less than "
                        "this percent chance (default 1)")
    p.add_argument("--near", type=float, default=90.0, help="token similarity (percent) for near-identical")
    p.add_argument("--all", action="store_true", help="also list unflagged pairs that share some code")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--out", type=Path, help="write the listing to this file instead of printing it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from instructor.course.graded import is_graded_dir, load_graded
    from instructor.course.similarity import DISCLAIMER, format_pairs, identical_from_results, similar_submissions

    if not args.path.is_dir():
        print(f"{args.path} is not a folder")
        return 2
    note = ""
    if is_graded_dir(args.path):
        batch = load_graded(args.path)
        if args.submissions is None:
            started = {s: any(t.outcome != "not_implemented" for t in r.tests) for s, r in batch.students.items()}
            pairs = identical_from_results({s: r.digest for s, r in batch.students.items()}, started)
            note = ("Only byte-identical packages can be found from a graded folder (its results record each "
                    "package's sha256); give --submissions to compare the code itself.")
        else:
            graded = sorted({t.function for r in batch.students.values() for t in r.tests})
            pairs = similar_submissions(args.submissions, functions=graded, near=args.near / 100,
                                        alpha=args.chance / 100)
    else:
        pairs = similar_submissions(args.path, near=args.near / 100, alpha=args.chance / 100)
    if args.format == "json":
        text = json.dumps({"note": " ".join(filter(None, [DISCLAIMER, note])),
                           "pairs": [p.as_json() for p in pairs if p.flagged or args.all]}, indent=2)
    else:
        text = format_pairs(pairs, show_all=args.all) + (f"\n\n{note}" if note else "")
    if args.out:
        args.out.write_text(text + "\n")
        print(f"{sum(p.flagged for p in pairs)} flagged pair(s) -> {args.out}")
    else:
        print(text)
    return 0
