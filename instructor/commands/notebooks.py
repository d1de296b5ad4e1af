"""``dlnp notebooks``: every chapter as an nbgrader assignment (see :mod:`instructor.notebooks`).

    dlnp notebooks --out course/                 build + lint course/source/<slug>/<slug>.ipynb
    dlnp notebooks --out course/ --execute       ... and run each with the reference, top to bottom
    dlnp notebooks --collect course/submitted --out subs/
                                                 nbgrader submissions -> dlnp submissions,
                                                 then: dlnp grade-batch subs/ch2_1 --chapter 2.1 ...
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("notebooks", help="build every chapter as an nbgrader notebook assignment (course folder)")
    p.add_argument("--out", type=Path, default=Path("course"),
                   help="course folder (default: course/); with --collect: where the submissions go")
    p.add_argument("--chapter", action="append", help="only this chapter (repeatable)")
    p.add_argument("--execute", action="store_true",
                   help="run every source notebook top to bottom in a clean kernel; fail unless each "
                        "cell runs (every self-check passes) and the trusted grader gives full points")
    p.add_argument("--timeout", type=int, default=120, help="per-cell time limit of --execute (seconds)")
    p.add_argument("--collect", type=Path, metavar="SUBMITTED",
                   help="turn nbgrader's SUBMITTED/<student>/<slug>/<slug>.ipynb into dlnp submissions "
                        "OUT/<slug>/<student>/ instead of building")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dlnp.manifest import load_manifest

    from ..notebooks import build_course, collect, execute, lint

    manifest = load_manifest()
    if args.collect:
        written = collect(args.collect, args.out, args.chapter, manifest)
        print(f"{len(written)} notebook submissions written under {args.out}")
        for slug in sorted({p.parent.name for p in written}):
            chapter = manifest.chapter(slug)
            print(f"  dlnp grade-batch {args.out / slug} --chapter {chapter.id} --out <results>")
        return 0

    notebooks = build_course(args.out, args.chapter, manifest)
    failed = 0
    for path in notebooks:
        chapter = manifest.chapter(path.stem)
        percent = (args.out / "percent" / f"{path.stem}.py").read_text()
        problems = lint(json.loads(path.read_text()), chapter, percent)
        for problem in problems:
            print(f"{path.stem}: {problem}", file=sys.stderr)
        failed += bool(problems)
    print(f"{len(notebooks)} notebooks written to {args.out / 'source'} and linted: "
          f"{len(notebooks) - failed} ok, {failed} with problems")
    if failed or not args.execute:
        return 1 if failed else 0

    for path in notebooks:
        start = time.monotonic()
        executed, problems = execute(path, args.out / "executed" / path.stem, manifest.chapter(path.stem),
                                     args.timeout)
        (args.out / "executed" / path.stem / path.name).write_text(json.dumps(executed, indent=1) + "\n")
        status = "ok" if not problems else "FAILED"
        print(f"  {path.stem:<6} {status:<6} {time.monotonic() - start:5.1f} s")
        for problem in problems:
            print(f"    {problem}", file=sys.stderr)
        failed += bool(problems)
    print(f"executed {len(notebooks)} notebooks: {len(notebooks) - failed} ran clean and graded full marks")
    return 1 if failed else 0
