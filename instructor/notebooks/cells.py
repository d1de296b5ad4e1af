"""Notebook cells with their nbgrader role, and the formats they are written in.

A :class:`Cell` knows its nbgrader metadata and its student version (what ``nbgrader
generate_assignment`` releases). :func:`to_notebook` and :func:`dumps` write nbformat
4.5 JSON exactly as ``nbformat.writes`` would; :func:`to_percent` writes the same cells
as a jupytext percent script, to review and diff.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

#: nbgrader's markers, and the stub ``nbgrader generate_assignment`` puts in place of a solution.
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
SCHEMA_VERSION = 3
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}

Json = dict[str, Any]


@dataclass(frozen=True)
class Cell:
    """One notebook cell and its nbgrader role.

    ``role`` is ``text`` or ``setup`` or ``example`` (read-only), ``answer`` (an
    nbgrader solution cell for ``function``) or ``test`` (an autograded cell worth
    ``points`` for ``function``).
    """

    cell_type: str
    source: str
    grade_id: str
    role: str
    function: str = ""
    points: int = 0

    @property
    def nbgrader(self) -> Json:
        meta: Json = {
            "grade": self.role == "test",
            "grade_id": self.grade_id,
            "locked": self.role != "answer",
            "schema_version": SCHEMA_VERSION,
            "solution": self.role == "answer",
        }
        if self.role == "test":
            meta["points"] = self.points
        return meta

    def student(self) -> Cell:
        """The cell as ``nbgrader generate_assignment`` releases it."""
        if self.role == "answer":
            return replace(self, source=clear_solutions(self.source))
        if self.role == "test":
            return replace(self, source=clear_hidden_tests(self.source))
        return self


def clear_solutions(source: str) -> str:
    """nbgrader's ClearSolutions: each solution region becomes :data:`STUB`, indented like its marker."""
    out: list[str] = []
    inside = False
    for line in source.split("\n"):
        if BEGIN_SOLUTION in line:
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + stub for stub in STUB.split("\n")]
            inside = True
        elif END_SOLUTION in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def clear_hidden_tests(source: str) -> str:
    """nbgrader's ClearHiddenTests: hidden test regions are removed."""
    out: list[str] = []
    inside = False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def markdown(source: str, grade_id: str) -> Cell:
    """A read-only Markdown cell."""
    return Cell("markdown", source.strip("\n"), grade_id, "text")


def code(source: str, grade_id: str, role: str, function: str = "", points: int = 0) -> Cell:
    """A code cell of ``role`` (see :class:`Cell`)."""
    return Cell("code", source.strip("\n"), grade_id, role, function, points)


def to_notebook(cells: Sequence[Cell]) -> Json:
    """nbformat 4.5 JSON (cell ids are the grade ids, so output is deterministic)."""
    out: list[Json] = []
    for cell in cells:
        entry: Json = {"cell_type": cell.cell_type, "id": cell.grade_id, "metadata": {"nbgrader": cell.nbgrader},
                       "source": cell.source}
        if cell.cell_type == "code":
            entry["execution_count"] = None
            entry["outputs"] = []
        out.append(entry)
    return {"cells": out, "metadata": {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def dumps(nb: Json) -> str:
    """Serialize like ``nbformat.writes`` (sources as lists of lines, sorted keys, indent 1)."""
    def lines(cell: Json) -> Json:
        source = cell["source"]
        return {**cell, "source": source.splitlines(keepends=True) if isinstance(source, str) else source}

    return json.dumps({**nb, "cells": [lines(c) for c in nb["cells"]]}, sort_keys=True, indent=1,
                      ensure_ascii=False) + "\n"


def to_percent(cells: Sequence[Cell]) -> str:
    """The notebook as a jupytext percent script (metadata in each ``# %%`` line)."""
    out = ["# ---", "# jupyter:", "#   kernelspec:"]
    out += [f"#     {k}: {v}" for k, v in KERNELSPEC.items()]
    out.append("# ---")
    for cell in cells:
        meta = json.dumps(cell.nbgrader, sort_keys=True)
        kind = " [markdown]" if cell.cell_type == "markdown" else ""
        out += ["", f"# %%{kind} nbgrader={meta}"]
        if cell.cell_type == "markdown":
            out += [f"# {line}".rstrip() for line in cell.source.split("\n")]
        else:
            out.append(cell.source)
    return "\n".join(out) + "\n"
