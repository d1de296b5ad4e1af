"""``dlnp gradescope --out autograder.zip``: the hidden graders as a Gradescope autograder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from autograder.gradescope_runner import DEFAULT_TIMEOUT, HIDDEN_TESTS

HIDDEN_HELP = """\
what students see of the hidden tests: 'score-only' (default) shows every test's
score at once with a one-line verdict (failed, timeout, not implemented...), never
the hidden inputs; 'after_due_date' / 'after_published' show the tests with their
output then, and Gradescope then also hides the total score until then; 'visible'
shows everything at once; 'hidden' never shows the tests (the total score is shown)"""


def register(sub: Any) -> None:
    p = sub.add_parser("gradescope", help="build a Gradescope autograder zip (hidden graders + self-checks)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Build the autograder zip to upload on Gradescope (Configure Autograder > "
                                   "Zip file upload, base image Ubuntu 22.04 or 24.04).")
    p.add_argument("--out", type=Path, default=Path("autograder.zip"), help="zip to write")
    p.add_argument("--chapter", action="append", help="grade only this chapter (repeatable; default: all)")
    p.add_argument("--salt", help="secret mixed into hidden input seeds (default: $DLNP_GRADING_SALT, else random)")
    p.add_argument("--hidden-tests", choices=HIDDEN_TESTS, default="score-only", help=HIDDEN_HELP)
    p.add_argument("--timeout-minutes", type=float, default=DEFAULT_TIMEOUT / 60,
                   help="the assignment's autograder timeout on Gradescope (default: %(default)g, Gradescope's "
                        "default); grading stops in time to write results, partial if it runs long")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..gradescope import build_gradescope

    if args.timeout_minutes < 1:
        print("--timeout-minutes must be at least 1")
        return 2
    out = build_gradescope(args.out, chapters=args.chapter, salt=args.salt, hidden_tests=args.hidden_tests,
                           timeout_minutes=args.timeout_minutes)
    print(f"wrote {out}: upload it as the assignment's autograder (Gradescope > Configure Autograder > zip)")
    print(f"hidden tests: {args.hidden_tests}; autograder timeout: {args.timeout_minutes:g} min "
          "(set the same value on Gradescope)")
    print("the zip holds the reference and the secret salt: keep it private")
    return 0
