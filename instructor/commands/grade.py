"""``dlnp grade SUBMISSION --out results.json``: hidden graders on one submission."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_limit_options(p: argparse.ArgumentParser) -> None:
    """Options of the student-code sandbox, shared by ``grade`` and ``grade-batch``."""
    p.add_argument("--isolation", choices=["auto", "bwrap", "unshare", "none"], default=None,
                   help="how student code is confined (default: $DLNP_ISOLATION or auto = best available)")
    p.add_argument("--memory-mb", type=int, default=2048, help="address-space limit of student code (MiB)")
    p.add_argument("--call-timeout", type=float, default=30.0, help="wall-clock limit of one call (s)")
    p.add_argument("--test-timeout", type=float, default=60.0, help="wall-clock limit of one hidden test (s)")
    p.add_argument("--cpu-limit", type=float, default=20.0, help="CPU time of student code per hidden test (s)")
    p.add_argument("--time-budget", type=float, default=None,
                   help="time budget of one whole submission (s; default 180): the tests not run by then fail")


def limits_from(args: argparse.Namespace) -> Any:
    from autograder.sandbox import Limits

    extra = {"isolation": args.isolation} if args.isolation else {}
    return Limits(call_seconds=args.call_timeout, cpu_seconds=args.cpu_limit, test_seconds=args.test_timeout,
                  memory_bytes=args.memory_mb * 1024**2, **extra)


def budget_from(args: argparse.Namespace) -> float:
    """The submission's time budget: ``--time-budget``, else the engine's default."""
    from autograder.plugin import DEFAULT_BUDGET_SECONDS

    return float(args.time_budget) if args.time_budget is not None else DEFAULT_BUDGET_SECONDS


def register(sub: Any) -> None:
    p = sub.add_parser("grade", help="grade one submission (a filled-in copy of the release)")
    p.add_argument("submission", type=Path)
    p.add_argument("--out", type=Path, default=Path("results.json"), help="Gradescope-style results file")
    p.add_argument("--chapter", action="append", help="grade only this chapter (repeatable)")
    p.add_argument("--salt", help="secret mixed into hidden input seeds (default: $DLNP_GRADING_SALT)")
    p.add_argument("--visibility", default="visible", help="Gradescope visibility of each test",
                   choices=["hidden", "after_due_date", "after_published", "visible"])
    add_limit_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from autograder.engine import grade_submission
    from autograder.results import isolation_warning, visibility_of

    if not args.submission.is_dir():
        print(f"{args.submission} is not a folder")
        return 2
    results = grade_submission(args.submission, args.out, chapters=args.chapter, salt=args.salt,
                               visibility=visibility_of(args.visibility), limits=limits_from(args),
                               budget_seconds=budget_from(args))
    print(f"score {results['score']:g} / {results['max_score']:g}  ->  {args.out}")
    for chapter, entry in results["chapters"].items():
        if entry["max_score"]:
            print(f"  {chapter:<5} {entry['score']:g} / {entry['max_score']:g}")
    sandbox = results["sandbox"]
    print(f"student code ran with isolation: {sandbox['isolation']}")
    if sandbox["note"]:
        print(f"note: {sandbox['note']}")
    if isolation_warning(results):
        print(isolation_warning(results))
    return 0
