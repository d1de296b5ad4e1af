"""Grade one submission (``grade_submission``) or a folder of them (``grade_batch``).

``grade_submission`` runs the hidden graders with pytest inside this trusted process;
the student's code runs only in the worker processes that the graders talk to.
``grade_batch`` grades each submission in its own trusted process, ``jobs`` at a
time, and writes the gradebook, one results file and one feedback file per student.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pytest

from dlnp.manifest import load_manifest

from . import plugin as plugin_module
from .feedback import feedback_markdown
from .plugin import GradingPlugin, write_json_atomic
from .sandbox import Limits

KIT_ROOT = Path(__file__).resolve().parent.parent
GRADERS = Path(__file__).resolve().parent / "graders"
DEFAULT_SALT = "dlnp-hidden-graders-v1"


def grading_salt(explicit: str | None = None) -> str:
    """Secret mixed into every hidden input seed (``--salt`` or ``$DLNP_GRADING_SALT``)."""
    return explicit or os.environ.get("DLNP_GRADING_SALT") or DEFAULT_SALT


def grade_submission(
    submission: Path,
    out: Path | None = None,
    *,
    chapters: list[str] | None = None,
    salt: str | None = None,
    visibility: str = "visible",
    limits: Limits | None = None,
    quiet: bool = True,
) -> dict[str, Any]:
    """Run every hidden grader on ``submission``; return (and optionally write) the results."""
    if str(KIT_ROOT) not in sys.path:
        sys.path.insert(0, str(KIT_ROOT))
    plugin = GradingPlugin(Path(submission), out, grading_salt(salt), chapters, visibility, limits or Limits())
    args = [
        str(GRADERS),
        "-c", os.devnull,
        "--rootdir", str(GRADERS),
        "-p", "no:cacheprovider",
        "-p", "no:randomly",
        "-q",
        "-W", "ignore::pytest.PytestUnknownMarkWarning",
    ]
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
        pytest.main(args, plugins=[plugin, plugin_module])
    if plugin.results is None:
        raise RuntimeError("grading did not run:\n" + sink.getvalue()[-3000:])
    return plugin.results


def list_submissions(root: Path) -> list[Path]:
    """Every folder directly under ``root`` is one submission; its name is the student id."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))


def _grade_in_subprocess(submission: Path, results: Path, salt: str | None, chapters: list[str] | None) -> None:
    cmd = [sys.executable, "-m", "autograder.engine", str(submission), "--out", str(results)]
    if salt:
        cmd += ["--salt", salt]
    for chapter in chapters or []:
        cmd += ["--chapter", chapter]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(KIT_ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600, check=False)
    if proc.returncode != 0 or not results.exists():
        raise RuntimeError(f"grading {submission.name} failed:\n{proc.stderr[-2000:]}")


def grade_batch(
    root: Path,
    out_dir: Path,
    *,
    jobs: int = 1,
    salt: str | None = None,
    chapters: list[str] | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Grade every submission under ``root`` into ``out_dir`` (gradebook, results, feedback)."""
    manifest = load_manifest()
    out_dir = Path(out_dir)
    (out_dir / "results").mkdir(parents=True, exist_ok=True)
    (out_dir / "feedback").mkdir(parents=True, exist_ok=True)
    submissions = list_submissions(Path(root))
    rows: dict[str, dict[str, Any]] = {}
    bar: Any = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(submissions), desc="grading", unit="submission", file=sys.stderr)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {
            pool.submit(_grade_in_subprocess, sub, out_dir / "results" / f"{sub.name}.json", salt, chapters): sub
            for sub in submissions
        }
        for future in as_completed(futures):
            sub = futures[future]
            path = out_dir / "results" / f"{sub.name}.json"
            try:
                future.result()
                results = json.loads(path.read_text())
            except Exception as exc:  # a broken grading run is reported, never silently scored
                results = _failed_results(manifest, str(exc))
                write_json_atomic(path, results)
            (out_dir / "feedback" / f"{sub.name}.md").write_text(feedback_markdown(sub.name, results, manifest))
            rows[sub.name] = results
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    write_gradebook(out_dir / "gradebook.csv", rows, manifest)
    return [rows[s.name] for s in submissions]


def _failed_results(manifest: Any, message: str) -> dict[str, Any]:
    return {
        "score": 0.0, "max_score": 0.0, "execution_time": 0.0,
        "output": f"Grading could not run: {message[:2000]}", "tests": [],
        "chapters": {c.id: {"score": 0.0, "max_score": 0.0} for c in manifest.chapters},
    }


def write_gradebook(path: Path, rows: dict[str, dict[str, Any]], manifest: Any) -> None:
    """``student,score,max_score`` then one column per chapter id (score in that chapter)."""
    ids = [c.id for c in manifest.chapters]
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "score", "max_score", *ids])
        for student in sorted(rows):
            res = rows[student]
            chapters = res.get("chapters", {})
            writer.writerow([student, _num(res.get("score", 0)), _num(res.get("max_score", 0)),
                             *[_num(chapters.get(i, {}).get("score", 0)) for i in ids]])
    tmp.replace(path)


def _num(x: float) -> str:
    return f"{x:g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.engine")
    parser.add_argument("submission", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--salt")
    parser.add_argument("--chapter", action="append")
    args = parser.parse_args(argv)
    grade_submission(args.submission, args.out, chapters=args.chapter, salt=args.salt)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
