"""``dlnp check [CHAPTER]``: the student's self-check (public tests) inside a release.

One line per chapter with its points and status, every failing check with its message
and likely mistake, what skipped checks wait for, files that do not load; without a
chapter, the progress over every chapter, the next chapter, and how to hand in.
Exit status: 0 nothing failed, 1 a check failed or a file does not load, 2 nothing to run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="run the public self-check tests: status, points and progress per chapter")
    p.add_argument("chapter", nargs="?", help="chapter id such as 2.1 (default: all)")
    p.add_argument("--release", type=Path, default=Path("."), help="release folder (default: here)")
    p.add_argument("-v", "--verbose", action="store_true", help="show pytest's full output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..selfcheck import run_check

    return run_check(args.release.resolve(), args.chapter, args.verbose)
