"""``dlnp demo``: the main job on the embedded default, end to end.

Generates a release into a temporary folder, fills the bundled example submissions
(``examples/``), grades them in a batch, and prints the gradebook and one feedback
excerpt.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="release, fill the bundled example submissions, grade them, show the gradebook")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--keep", type=Path, help="keep the demo files in this folder instead of a temporary one")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from autograder.engine import grade_batch

    from ..paths import EXAMPLES
    from ..release import build_release
    from ..submissions import make_example

    with tempfile.TemporaryDirectory(prefix="dlnp-demo-") as tmp:
        base = args.keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        release = build_release(base / "release")
        print(f"1. student release generated: {release}")
        examples = sorted(p for p in EXAMPLES.iterdir() if (p / "example.toml").exists())
        for example in examples:
            make_example(release, example, base / "submissions" / example.name)
        print(f"2. example submissions filled: {', '.join(p.name for p in examples)}")
        print(f"3. grading them with --jobs {args.jobs} ...")
        grade_batch(base / "submissions", base / "graded", jobs=args.jobs)
        print("\ngradebook.csv")
        print((base / "graded" / "gradebook.csv").read_text())
        feedback = base / "graded" / "feedback" / "classic_mistakes.md"
        if feedback.exists():
            print("feedback/classic_mistakes.md (excerpt)")
            print("\n".join(feedback.read_text().splitlines()[:60]))
        print(f"\nAll demo files are in {base}" if args.keep else "")
    return 0
