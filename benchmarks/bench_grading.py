"""Grading throughput: one complete reference submission end to end, then a batch.

    python benchmarks/bench_grading.py                 # 1 submission, then 50 with --jobs 2
    python benchmarks/bench_grading.py --students 20 --jobs 2 --speedup

Prints wall times and submissions per minute. Targets: one submission of every chapter
in <= 20 s; ``--jobs N`` near-linear in N (up to the number of cores). ``--speedup``
also grades the batch with ``--jobs 1`` and prints the ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dlnp(*args: str) -> tuple[float, float]:
    """Run ``dlnp *args``; (wall seconds, CPU seconds of it and everything it started)."""
    env = dict(os.environ, PYTHONPATH=str(KIT))
    cpu = cpu_of_children()
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "instructor", *args], cwd=KIT, env=env, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"dlnp {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - started, cpu_of_children() - cpu


def batch(root: Path, out: Path, jobs: int, students: int) -> float:
    seconds, cpu = dlnp("grade-batch", str(root), "--out", str(out), "--jobs", str(jobs), "--no-progress")
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert all(r["score"] == r["max_score"] for r in rows), "the reference must get full marks"
    print(f"batch of {students} with --jobs {jobs}: {seconds:.1f} s wall, {60 * students / seconds:.1f} "
          f"submissions/minute ({cpu / students:.2f} CPU-s per submission, {cpu / seconds:.2f} cores busy)")
    return seconds


def main() -> int:
    from dlnp.manifest import load_manifest
    from instructor.release import build_release
    from instructor.submissions import make_submission

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--speedup", action="store_true", help="also grade the batch with --jobs 1")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dlnp-bench-"))
    try:
        release = build_release(work / "release")
        reference = make_submission(release, work / "reference")
        manifest = load_manifest()
        print(f"kit: {len(manifest.chapters)} chapters, {manifest.max_score} points; {os.cpu_count()} cores")

        seconds, _ = dlnp("grade", str(reference), "--out", str(work / "one.json"))
        results = json.loads((work / "one.json").read_text())
        graded = sorted({t["number"] for t in results["tests"]}, key=lambda c: [int(x) for x in c.split(".")])
        print(f"one submission, end to end (dlnp grade): {seconds:.1f} s wall "
              f"(grading {results['execution_time']:.1f} s; {len(results['tests'])} hidden tests in "
              f"{len(graded)} chapters; score {results['score']:g}/{results['max_score']:g}; "
              f"isolation {results['sandbox']['isolation']}; workers started {results.get('workers_started')})")

        root = work / "batch"
        for i in range(args.students):
            shutil.copytree(reference, root / f"student{i:03d}", ignore=shutil.ignore_patterns("__pycache__"))
        seconds = batch(root, work / f"out-j{args.jobs}", args.jobs, args.students)
        if args.speedup:
            single = batch(root, work / "out-j1", 1, args.students)
            print(f"speed-up with --jobs {args.jobs}: x{single / seconds:.2f}")
        load = os.getloadavg()
        print(f"load average during the run: {load[0]:.1f} (other processes slow every figure down)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
