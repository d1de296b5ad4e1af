"""nbgrader's autograde, scored by the kit's trusted grader instead of the student's kernel.

nbgrader normally runs a submitted notebook in a kernel and scores each autograded
cell by its output, so code in an answer cell can change a score (replace the
function that grades, print nothing, exit early). The kit's course configuration
(``nbgrader_config.py``) replaces nbgrader's ``Execute`` step of ``nbgrader
autograde`` by :class:`TrustedGrades`, which never runs the notebook:

1. the notebook's setup and answer cells become a dlnp submission
   (:func:`autograder.notebook_source.notebook_submission`);
2. a fresh trusted process, ``python -m autograder.notebook_source``, grades that chapter
   with :func:`autograder.engine.grade_submission`: the hidden graders of ``dlnp
   grade``, the student's code behind the same worker sandbox and per-call limits;
3. each autograded cell gets, as its only outputs, the score of its function (which
   nbgrader records as the cell's partial credit) and the graders' messages for the
   failed checks.

A notebook's nbgrader score is therefore ``dlnp grade``'s score of the same code.
Time is bounded per notebook: the engine's limits per call and per submission, and
:attr:`TrustedGrades.timeout` for the whole grading process (its process group is
killed when it runs over; every autograded cell then scores 0 with a message). The
notebook, its submission and the results are in a private temporary folder, removed
afterwards whatever happened; a grading that runs over its time is interrupted first,
so that it closes its workers and removes their folders: nothing of the student's code
stays in ``/tmp``.

Environment: ``DLNP_GRADING_SALT`` as for ``dlnp grade``; ``DLNP_CALL_SECONDS``
overrides the per-call time limit of the student's code (default as ``dlnp grade``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from nbgrader.preprocessors import NbGraderPreprocessor  # pyright: ignore[reportMissingTypeStubs]
from traitlets import Float

from dlnp.manifest import load_manifest

from .paths import KIT_ROOT

Json = dict[str, Any]
#: Environment variables the grading process keeps (everything else of the caller's is dropped).
_ENVIRONMENT = ("PATH", "HOME", "LANG", "DLNP_GRADING_SALT", "DLNP_CALL_SECONDS")


class GradingFailed(RuntimeError):
    """The trusted grader could not grade a notebook (it ran over its time, or crashed)."""


def report(function: str, tests: Sequence[Mapping[str, Any]], score: float, max_score: float) -> str:
    """A cell's feedback: the score, then every failed check with the grader's message."""
    lines = [f"{function}: {score:g} / {max_score:g} points"]
    for test in tests:
        if test.get("status") == "passed":
            continue
        outcome = test.get("extra_data", {}).get("outcome", "failed")
        lines.append(f"\n[{outcome}] {test['name']} ({float(test['score']):g}/{float(test['max_score']):g})")
        lines += ["    " + line for line in str(test.get("output", "")).splitlines()]
    return "\n".join(lines)


def function_outputs(results: Mapping[str, Any], chapter: str, function: str) -> list[Json]:
    """The outputs of ``function``'s autograded cell: its feedback, then its score as the cell's value."""
    tests = [t for t in results.get("tests", [])
             if t.get("number") == chapter and t.get("extra_data", {}).get("function") == function]
    if not tests:
        return [error_output(f"chapter {chapter} has no hidden test of {function}")]
    score = round(sum(float(t["score"]) for t in tests), 4)
    max_score = round(sum(float(t["max_score"]) for t in tests), 4)
    return [{"name": "stdout", "output_type": "stream", "text": report(function, tests, score, max_score) + "\n"},
            {"data": {"text/plain": f"{score:g}"}, "execution_count": 1, "metadata": {},
             "output_type": "execute_result"}]


def error_output(message: str) -> Json:
    """An error output (nbgrader scores the cell 0), shown as the message alone."""
    return {"ename": "GradingError", "evalue": message, "output_type": "error",
            "traceback": [f"GradingError: {message}"]}


def grade_notebook(nb: Json, chapter: str, timeout: float = 600.0) -> Json:
    """Grade the answer cells of ``nb`` for ``chapter`` in a fresh trusted process; its results.

    The notebook, the submission made of it and the results live in a private folder,
    removed before this returns. Raises :class:`GradingFailed` if the process runs over
    ``timeout`` seconds (it is interrupted, so that it closes its workers and removes
    their folders, then killed with everything it started) or fails.
    """
    private = Path(tempfile.mkdtemp(prefix="dlnp-nbgrade-"))
    try:
        notebook, out = private / "notebook.ipynb", private / "out" / "results.json"
        notebook.write_text(json.dumps(nb))
        out.parent.mkdir()
        env = {key: value for key, value in os.environ.items() if key in _ENVIRONMENT}
        env.update(PYTHONPATH=str(KIT_ROOT), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        command = [sys.executable, "-m", "autograder.notebook_source", str(notebook), "--chapter", chapter,
                   "--out", str(out), "--work", str(private / "work")]
        proc = subprocess.Popen(command, cwd=KIT_ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            raise GradingFailed(f"grading this notebook took over {timeout:g} s and was stopped") from None
        finally:
            _kill_group(proc)
        if proc.returncode != 0 or not out.exists():
            raise GradingFailed(f"the kit could not grade this notebook (exit {proc.returncode}): "
                                f"{err.strip().splitlines()[-1] if err.strip() else 'no message'}")
        results: Json = json.loads(out.read_text())
        return results
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _stop(proc: subprocess.Popen[str], grace: float = 20.0) -> None:
    """Interrupt the grading process: pytest stops, closes the workers and removes their folders."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=grace)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill the grading process and everything it started that is still in its group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class TrustedGrades(NbGraderPreprocessor):  # pyright: ignore[reportUntypedBaseClass]
    """nbgrader preprocessor: each autograded cell's outputs from the kit's trusted grader.

    The notebook's name is its chapter's folder name (``ch2_1``). Every grade cell
    ``test-<function>`` gets :func:`function_outputs`; every other cell is left as it is.
    """

    timeout = Float(600.0, help="Wall-clock limit (s) of grading one notebook").tag(config=True)

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        manifest = load_manifest()
        slug = str(resources["nbgrader"]["notebook"])
        chapter = manifest.chapter(slug).id
        try:
            results = grade_notebook(cast("Json", json.loads(json.dumps(nb))), chapter, float(self.timeout))
        except GradingFailed as exc:
            self.log.error("%s: %s", slug, exc)  # pyright: ignore[reportUnknownMemberType]
            results = None
        for cell in nb.cells:
            grading = cell.metadata.get("nbgrader", {})
            if not grading.get("grade") or cell.cell_type != "code":
                continue
            function = str(grading.get("grade_id", "")).removeprefix("test-")
            outputs = (function_outputs(results, chapter, function) if results is not None
                       else [error_output("the kit could not grade this notebook: see the autograde log")])
            cell.outputs = [_node(o) for o in outputs]
            cell.execution_count = 1
        return nb, resources


def _node(output: Json) -> Any:
    """``output`` as the notebook node nbgrader's next steps expect."""
    from nbformat import NotebookNode

    return NotebookNode(output)
