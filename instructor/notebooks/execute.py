"""Run a source notebook top to bottom in a clean kernel, and grade it with the trusted grader."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path
from typing import Any

from autograder.notebook_source import source_of
from dlnp.manifest import Chapter

from .cells import Json


def execute(notebook: Path, workdir: Path, chapter: Chapter, timeout: int = 120) -> tuple[Json, list[str]]:
    """Run a source notebook top to bottom in a clean kernel in ``workdir``, then grade it.

    Returns the executed notebook and its problems: a cell that raised (a self-check
    that failed included) or wrote to stderr, and every function that the trusted
    grader (:func:`autograder.nb_bridge.grade_notebook`) does not give its full points.
    """
    nbformat: Any = importlib.import_module("nbformat")
    nbclient: Any = importlib.import_module("nbclient")
    workdir.mkdir(parents=True, exist_ok=True)
    for path in notebook.parent.glob("test_*.py"):  # the public tests of the self-check cells
        shutil.copyfile(path, workdir / path.name)
    nb: Any = nbformat.reads(notebook.read_text(), as_version=4)
    nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(workdir)}}).execute()
    executed: Json = json.loads(nbformat.writes(nb))
    return executed, execution_problems(executed) + grading_problems(executed, chapter)


def execution_problems(nb: Json) -> list[str]:
    """Errors and stderr output in an executed notebook."""
    problems: list[str] = []
    for cell in nb["cells"]:
        label = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "?")
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                problems.append(f"{label}: {output['ename']}: {output['evalue']}"[:500])
            if output["output_type"] == "stream" and output["name"] == "stderr":
                problems.append(f"{label}: wrote to stderr: {source_of({'source': output['text']})[:300]}")
    return problems


def grading_problems(nb: Json, chapter: Chapter) -> list[str]:
    """The functions of ``chapter`` that the trusted grader does not give full points in ``nb``."""
    # imported here: nb_bridge imports nbgrader, which takes seconds to import (every dlnp command
    # that builds a release would pay for it)
    from autograder.nb_bridge import GradingFailed, grade_notebook

    try:
        results = grade_notebook(nb, chapter.id)
    except GradingFailed as exc:
        return [f"grading failed: {exc}"]
    problems: list[str] = []
    for function in (f for f in chapter.functions if f.points):
        tests = [t for t in results["tests"]
                 if t["number"] == chapter.id and t["extra_data"]["function"] == function.name]
        score = sum(float(t["score"]) for t in tests)
        if score != function.points:
            problems.append(f"{function.name}: the grader gives {score:g} of {function.points} points")
    return problems
