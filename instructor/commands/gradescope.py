"""``dlnp gradescope --out autograder.zip``: the hidden graders as a Gradescope autograder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("gradescope", help="build a Gradescope autograder zip (hidden graders + self-checks)")
    p.add_argument("--out", type=Path, default=Path("autograder.zip"), help="zip to write")
    p.add_argument("--chapter", action="append", help="grade only this chapter (repeatable; default: all)")
    p.add_argument("--salt", help="secret mixed into hidden input seeds (default: $DLNP_GRADING_SALT, else random)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from autograder.exports import build_gradescope

    out = build_gradescope(args.out, chapters=args.chapter, salt=args.salt)
    print(f"wrote {out}: upload it as the assignment's autograder (Gradescope > Configure Autograder > zip)")
    print("the zip holds the reference and the secret salt: keep it private")
    return 0
