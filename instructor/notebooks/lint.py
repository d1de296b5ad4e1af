"""Checks of a generated source notebook: nbgrader metadata, points, answer cells, percent twin."""

from __future__ import annotations

import ast
import importlib
import json
from collections import Counter
from typing import Any

from autograder.notebook_source import ANSWER, source_of
from dlnp.manifest import Chapter

from .cells import Json


def lint(nb: Json, chapter: Chapter, percent: str | None = None) -> list[str]:
    """Problems of a generated source notebook (empty list: fine).

    Every cell has valid nbgrader metadata (nbgrader's own validator), grade ids are
    unique, each function of the chapter has one answer cell, the autograded cells'
    points are the manifest's, code parses, the task speaks of the notebook (not of a
    file of the package), and the percent twin (if given) reads back
    through jupytext as the same cells without ``incorrectly_encoded_metadata``.
    """
    nbformat: Any = importlib.import_module("nbformat")
    nbgraderformat: Any = importlib.import_module("nbgrader.nbgraderformat")
    problems: list[str] = []
    cells: list[Json] = nb["cells"]
    ids = Counter(str(c.get("metadata", {}).get("nbgrader", {}).get("grade_id")) for c in cells)
    problems += [f"grade_id {i!r} is used {n} times" for i, n in ids.items() if n > 1]
    points: dict[str, float] = {}
    answers: list[str] = []
    for i, cell in enumerate(cells):
        meta: Json = cell.get("metadata", {})
        if "incorrectly_encoded_metadata" in meta:
            problems.append(f"cell {i}: incorrectly_encoded_metadata")
        grading: Json | None = meta.get("nbgrader")
        if not grading:
            problems.append(f"cell {i}: no nbgrader metadata")
            continue
        grade_id = str(grading.get("grade_id", ""))
        if source_of(cell).startswith("## Your task") and "neural_network/" in source_of(cell):
            problems.append(f"cell {grade_id}: the task names a file of the package, not the notebook's cells")
        if cell["cell_type"] == "code":
            try:
                ast.parse(source_of(cell))
            except SyntaxError as exc:
                problems.append(f"cell {grade_id}: does not parse ({exc.msg}, line {exc.lineno})")
        if grading.get("grade"):
            points[grade_id.removeprefix("test-")] = float(grading.get("points", 0))
        if grading.get("solution"):
            answers.append(grade_id.removeprefix(ANSWER))
    try:
        nbgraderformat.MetadataValidator().validate_nb(nbformat.from_dict(nb))
    except nbgraderformat.ValidationError as exc:
        problems.append(f"nbgrader metadata: {exc}")
    want = {f.name: float(f.points) for f in chapter.functions if f.points}
    if points != want:
        problems.append(f"autograded points {points} differ from the manifest's {want}")
    missing = [f.name for f in chapter.functions if f.name not in answers]
    if missing:
        problems.append(f"no answer cell for {missing}")
    if percent is not None:
        problems += _lint_percent(nb, percent)
    return problems


def _lint_percent(nb: Json, percent: str) -> list[str]:
    jupytext: Any = importlib.import_module("jupytext")
    back: Json = json.loads(jupytext.writes(jupytext.reads(percent, fmt="py:percent"), fmt="ipynb"))
    if len(back["cells"]) != len(nb["cells"]):
        return [f"percent file has {len(back['cells'])} cells, the notebook {len(nb['cells'])}"]
    problems: list[str] = []
    for mine, theirs in zip(nb["cells"], back["cells"], strict=True):
        label = mine["metadata"]["nbgrader"]["grade_id"]
        if "incorrectly_encoded_metadata" in theirs["metadata"]:
            problems.append(f"percent cell {label}: incorrectly_encoded_metadata")
        if theirs["cell_type"] != mine["cell_type"] or source_of(theirs).strip() != source_of(mine).strip():
            problems.append(f"percent cell {label} differs from the notebook")
        if theirs["metadata"].get("nbgrader") != mine["metadata"]["nbgrader"]:
            problems.append(f"percent cell {label}: nbgrader metadata differs")
    return problems
