"""Benchmark: ``nbgrader autograde`` against ``dlnp grade-batch`` on the same submissions.

Twenty fictional students (by default) each get one piece of code per graded function
of every chapter: the reference, a realistic mistake from the mutant corpus
(``tests/mutants/``), or the untouched stub. The same code is written twice:

* as a dlnp submission (the student package), graded by ``dlnp grade-batch``;
* as nbgrader submissions (one notebook per chapter, answer cells filled with it),
  graded by ``nbgrader autograde <chapter>`` for every chapter, as an instructor would.

Both run the same hidden graders (nbgrader's autograde through the kit's trusted
preprocessor, ``autograder.nb_bridge.TrustedGrades``: one grading process per
notebook, no kernel); the script prints both wall times, their ratio and where the
scores differ. (The hidden inputs are seeded by the text of the student's package, which
is not the same text in the two forms: a test that only catches a mistake on some inputs
can score them apart.)

    python benchmarks/bench_notebooks.py                      # 20 students, every chapter
    python benchmarks/bench_notebooks.py --students 4 --chapter 2.1 --chapter 3.4
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent

from dlnp.manifest import load_manifest  # noqa: E402
from instructor.mutation import load_corpus  # noqa: E402
from instructor.notebooks import ANSWER, build_course  # noqa: E402
from instructor.release import build_release  # noqa: E402
from instructor.submissions import make_submission  # noqa: E402

MANIFEST = load_manifest()
BIN = Path(sys.executable).parent


def student_code(n_students: int, seed: int) -> list[dict[str, str | None]]:
    """Per student: function -> "reference", a mutant's source, or None (left as a stub)."""
    mutants: dict[str, list[str]] = {}
    for mutant in load_corpus()[0]:
        if "while" not in mutant.source:  # endless loops would only measure the time limits
            mutants.setdefault(mutant.function, []).append(mutant.source)
    students: list[dict[str, str | None]] = []
    for i in range(n_students):
        rng = random.Random(seed + i)
        code: dict[str, str | None] = {}
        for name in MANIFEST.function_names:  # student 0 is perfect, student 1 has done nothing
            roll = 0.0 if i == 0 else 1.0 if i == 1 else rng.random()
            if roll < 0.7:
                code[name] = "reference"
            elif roll < 0.85 and name in mutants:
                code[name] = rng.choice(mutants[name])
            else:
                code[name] = None
        students.append(code)
    return students


def write_notebooks(course: Path, student: str, code: dict[str, str | None], slugs: list[str]) -> None:
    """The student's copy of nbgrader's release of each chapter, answer cells filled with ``code``."""
    for slug in slugs:
        notebook = json.loads((course / "release" / slug / f"{slug}.ipynb").read_text())
        source = json.loads((course / "source" / slug / f"{slug}.ipynb").read_text())
        answers = {cell["id"]: cell["source"] for cell in source["cells"]}
        for cell in notebook["cells"]:
            grade_id = cell["metadata"]["nbgrader"]["grade_id"]
            if cell["metadata"]["nbgrader"].get("solution"):
                chosen = code[grade_id.removeprefix(ANSWER)]
                if chosen is not None:
                    cell["source"] = answers[cell["id"]] if chosen == "reference" else chosen
        folder = course / "submitted" / student / slug
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{slug}.ipynb").write_text(json.dumps(notebook))


def run(cmd: list[str], cwd: Path) -> float:
    env = dict(os.environ, PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--chapter", action="append", help="only these chapters (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="dlnp grade-batch --jobs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="keep the files here (default: a temporary folder)")
    args = parser.parse_args()

    chapters = [MANIFEST.chapter(c) for c in args.chapter] if args.chapter else list(MANIFEST.chapters)
    slugs = [c.slug for c in chapters]
    work = args.work or Path(tempfile.mkdtemp(prefix="dlnp-bench-"))
    course, subs = work / "course", work / "submissions"
    release = build_release(work / "release")
    build_course(course, [c.id for c in chapters])
    setup = sum(run([str(BIN / "nbgrader"), "generate_assignment", slug, "--force"], course) for slug in slugs)
    students = student_code(args.students, args.seed)
    names = [f"s{i:02d}" for i in range(len(students))]
    for name, code in zip(names, students, strict=True):
        implement = {f for f, c in code.items() if c is not None}
        patches = {f: c for f, c in code.items() if c not in (None, "reference")}
        make_submission(release, subs / name, implement, patches)  # pyright: ignore[reportArgumentType]
        write_notebooks(course, name, code, slugs)
    print(f"{len(names)} students x {len(slugs)} chapters in {work} (nbgrader setup {setup:.0f} s)")

    nbgrader = 0.0
    for slug in slugs:
        seconds = run([str(BIN / "nbgrader"), "autograde", slug, "--force"], course)
        nbgrader += seconds
        print(f"  nbgrader autograde {slug:<6} {seconds:6.1f} s", flush=True)
    run([str(BIN / "nbgrader"), "export", "--to", str(work / "nbgrader.csv")], course)
    chapter_args = [arg for c in chapters for arg in ("--chapter", c.id)] if args.chapter else []
    dlnp = run([str(BIN / "dlnp"), "grade-batch", str(subs), "--out", str(work / "graded"),
                "--jobs", str(args.jobs), *chapter_args], KIT)

    with (work / "nbgrader.csv").open() as fh:
        nb_scores = {(row["student_id"], row["assignment"]): float(row["score"]) for row in csv.DictReader(fh)}
    with (work / "graded" / "gradebook.csv").open() as fh:
        dlnp_scores = {(row["student"], c.slug): float(row[c.id]) for row in csv.DictReader(fh) for c in chapters}
    differ = sorted(key for key, score in dlnp_scores.items() if abs(nb_scores.get(key, 0.0) - score) > 1e-6)

    print(f"\nnbgrader autograde ({len(names) * len(slugs)} notebooks): {nbgrader:8.1f} s")
    print(f"dlnp grade-batch --jobs {args.jobs} ({len(names)} submissions):   {dlnp:8.1f} s")
    print(f"ratio: dlnp grade-batch is {nbgrader / dlnp:.1f}x faster")
    print(f"same score in {len(dlnp_scores) - len(differ)} of {len(dlnp_scores)} (student, chapter) pairs; "
          f"same total for {len(names) - len({s for s, _ in differ})} of {len(names)} students")
    for student, slug in differ:  # hidden inputs are seeded by the code's text, which differs between the forms
        print(f"  {student} {slug}: nbgrader {nb_scores.get((student, slug), 0.0):g}, "
              f"dlnp {dlnp_scores[student, slug]:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
