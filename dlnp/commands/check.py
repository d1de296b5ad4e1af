"""``dlnp check [CHAPTER]``: the student's self-check (public tests) inside a release."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="run the public self-check tests of a release")
    p.add_argument("chapter", nargs="?", help="chapter id such as 2.1 (default: all)")
    p.add_argument("--release", type=Path, default=Path("."), help="release folder (default: here)")
    p.add_argument("-v", "--verbose", action="store_true", help="show pytest's full output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..selfcheck import run_check

    return run_check(args.release.resolve(), args.chapter, args.verbose)
