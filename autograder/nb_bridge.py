"""Bridge from nbgrader's autograded cells to the kit's hidden graders.

The hidden part of every autograded cell of a chapter notebook (see
:mod:`instructor.notebooks`) is one call, ``grade_cell("2.1", "mse_loss")``. It runs in the
notebook's kernel, but grades nothing there:

1. it reads the saved notebook (``<slug>.ipynb`` in the kernel's folder, which is where
   ``nbgrader autograde`` runs it), and
2. starts a fresh trusted process, ``python -m autograder.nb_bridge NOTEBOOK --chapter
   ID``, which turns the answer cells into a submission
   (:func:`instructor.notebooks.notebook_submission`) and grades that chapter with
   :func:`autograder.engine.grade_submission`: the hidden graders of ``dlnp grade``,
   with the student's code behind the usual worker boundary.

The chapter is graded once per notebook version; each cell then reports its own
function: it prints the score and the graders' messages for the failed checks, and
returns the score, which nbgrader takes as the cell's (partial) credit. A notebook's
nbgrader score is therefore ``dlnp grade``'s score of the same code.

Nothing the cell shows quotes the hidden part of the cell: failures are reported
through :class:`GradingError`, whose traceback IPython renders as its message only.
(As with any nbgrader course, code in the notebook runs in the same kernel as this
cell and could tamper with it; the tamper-proof route for the same scores is
``dlnp notebooks --collect`` followed by ``dlnp grade-batch``.)

Environment: ``DLNP_GRADING_SALT`` as for ``dlnp grade``; ``DLNP_CALL_SECONDS``
overrides the per-call time limit of the student's code (default as ``dlnp grade``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

KIT_ROOT = Path(__file__).resolve().parent.parent
_RESULTS: dict[tuple[str, str], dict[str, Any]] = {}


class GradingError(Exception):
    """A failure shown in the notebook as its message alone (no traceback, no cell source)."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


def grade_cell(chapter: str, function: str) -> float:
    """Points of ``function`` in ``chapter`` for the saved notebook; prints the feedback."""
    slug = "ch" + chapter.replace(".", "_")
    notebook = Path(os.environ.get("DLNP_NOTEBOOK", f"{slug}.ipynb")).resolve()
    if not notebook.is_file():
        raise GradingError(f"grading needs the saved notebook {notebook.name} in {notebook.parent}")
    results = _chapter_results(notebook, chapter)
    tests = [t for t in results.get("tests", [])
             if t.get("number") == chapter and t.get("extra_data", {}).get("function") == function]
    if not tests:
        raise GradingError(f"chapter {chapter} has no hidden test of {function}")
    score = round(sum(float(t["score"]) for t in tests), 4)
    max_score = round(sum(float(t["max_score"]) for t in tests), 4)
    print(report(function, tests, score, max_score))
    return score


def report(function: str, tests: list[dict[str, Any]], score: float, max_score: float) -> str:
    """The cell's feedback: the score, then every failed check with the grader's message."""
    lines = [f"{function}: {score:g} / {max_score:g} points"]
    for test in tests:
        if test.get("status") == "passed":
            continue
        outcome = test.get("extra_data", {}).get("outcome", "failed")
        lines.append(f"\n[{outcome}] {test['name']} ({float(test['score']):g}/{float(test['max_score']):g})")
        lines += ["    " + line for line in str(test.get("output", "")).splitlines()]
    return "\n".join(lines)


def _chapter_results(notebook: Path, chapter: str) -> dict[str, Any]:
    key = (hashlib.sha256(notebook.read_bytes()).hexdigest(), chapter)
    if key not in _RESULTS:
        _RESULTS[key] = _grade_in_subprocess(notebook, chapter)
    return _RESULTS[key]


def _grade_in_subprocess(notebook: Path, chapter: str) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items()
           if key in ("PATH", "HOME", "LANG", "TMPDIR", "DLNP_GRADING_SALT", "DLNP_CALL_SECONDS")}
    env.update(PYTHONPATH=str(KIT_ROOT), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with tempfile.TemporaryDirectory(prefix="dlnp-grade-") as tmp:
        out = Path(tmp) / "results.json"
        cmd = [sys.executable, "-m", "autograder.nb_bridge", str(notebook), "--chapter", chapter, "--out", str(out)]
        proc = subprocess.Popen(cmd, cwd=KIT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            _, err = proc.communicate()
        except KeyboardInterrupt:  # the cell's time limit ran out
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise GradingError("grading was interrupted: the cell's time limit ran out") from None
        if proc.returncode != 0 or not out.exists():
            log = Path(tempfile.gettempdir()) / f"dlnp-nb-bridge-{os.getpid()}.log"
            log.write_text(err)
            raise GradingError(f"the kit could not grade this notebook (exit {proc.returncode}); details in {log}")
        results: dict[str, Any] = json.loads(out.read_text())
    return results


def main(argv: list[str] | None = None) -> int:
    """Trusted side: grade one chapter of a notebook into a results file."""
    parser = argparse.ArgumentParser(prog="python -m autograder.nb_bridge")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--chapter", required=True)
    parser.add_argument("--out", type=Path, required=True, help="results JSON (Gradescope format)")
    args = parser.parse_args(argv)

    from instructor.notebooks import notebook_submission

    from .engine import grade_submission

    with tempfile.TemporaryDirectory(prefix="dlnp-notebook-") as tmp:
        submission = notebook_submission(args.notebook, Path(tmp) / "submission")
        grade_submission(submission, args.out, chapters=[args.chapter], limits=limits())
    return 0


def limits() -> Any:
    """The worker limits of ``dlnp grade``, with ``$DLNP_CALL_SECONDS`` if set."""
    from .sandbox import Limits

    seconds = os.environ.get("DLNP_CALL_SECONDS")
    return Limits(call_seconds=float(seconds)) if seconds else Limits()


if __name__ == "__main__":
    raise SystemExit(main())
