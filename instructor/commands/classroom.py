"""``dlnp classroom --release DIR``: GitHub Classroom autograding for a release."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("classroom", help="write GitHub Classroom autograding (.github/) into a release")
    p.add_argument("--release", type=Path, default=Path("release"), help="the release folder (template repository)")
    p.add_argument("--chapter", action="append", help="only this chapter (repeatable; default: all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..classroom import write_classroom

    if not (args.release / "neural_network").is_dir():
        print(f"{args.release} is not a release (run `dlnp release --out {args.release}` first)")
        return 2
    for path in write_classroom(args.release, args.chapter):
        print(f"wrote {path}")
    print("points per function from the public tests, run in the student's own repository: use Gradescope or "
          "`dlnp grade-batch` for the hidden, trusted grade")
    return 0
