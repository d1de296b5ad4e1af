"""A chapter notebook's code as a dlnp submission, for the trusted engine.

A notebook student writes every function in an *answer cell* (nbgrader metadata
``solution: true``, ``grade_id: answer-<function>``); the read-only *setup cell*
(``grade_id: setup``) holds the imports, type aliases and constants. In the kernel all
of them share one namespace, cell after cell. :func:`notebook_submission` writes the
same thing as a package the graders can import:

``neural_network/_notebook.py``
    the setup cell, then the code of every answer cell in notebook order (a later
    definition replaces an earlier one, exactly as running the cells does);
``neural_network/<module>.py``
    for each module of the manifest, ``from ._notebook import ...`` of its functions
    that the notebook defines. A function the notebook does not define is missing
    from its module, and the graders report it so.

What a cell contributes is :func:`module_code`: definitions, imports and assignments,
never bare expressions (a ``print``, a value to display) or IPython magics, so the
package can be imported without running the student's experiments.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from dlnp.manifest import Manifest, load_manifest

#: grade_id prefix of answer cells: ``answer-<function>``.
ANSWER = "answer-"
#: grade_id of the read-only setup cell (imports, type aliases, constants).
SETUP = "setup"
#: The module of the package that holds the notebook's code.
NOTEBOOK_MODULE = "_notebook"

Json = dict[str, Any]

_MAGIC = re.compile(r"^\s*[%!]")


def source_of(cell: Mapping[str, Any]) -> str:
    """A cell's source as one string (nbformat stores it as a string or a list of lines)."""
    source: Any = cell.get("source", "")
    if isinstance(source, list):
        lines: list[Any] = source  # pyright: ignore[reportUnknownVariableType]
        return "".join(str(line) for line in lines)
    return str(source)


def _grading(cell: Mapping[str, Any]) -> Json:
    """A cell's nbgrader metadata ({} if it has none)."""
    metadata: Any = cell.get("metadata", {})
    if not isinstance(metadata, Mapping):
        return {}
    grading: Any = cast("Mapping[str, Any]", metadata).get("nbgrader", {})
    return dict(cast("Mapping[str, Any]", grading)) if isinstance(grading, Mapping) else {}


def answer_cells(nb: Json) -> list[tuple[str, str]]:
    """``(function, source)`` of every answer cell of a notebook, in order."""
    out: list[tuple[str, str]] = []
    for cell in nb.get("cells", []):
        grade_id = str(_grading(cell).get("grade_id", ""))
        if cell.get("cell_type") == "code" and _grading(cell).get("solution") and grade_id.startswith(ANSWER):
            out.append((grade_id.removeprefix(ANSWER), source_of(cell)))
    return out


def setup_code(nb: Json) -> str:
    """The source of the notebook's setup cell ("" if it has none)."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and _grading(cell).get("grade_id") == SETUP:
            return source_of(cell)
    return ""


def module_code(source: str) -> str:
    """What a cell contributes to the notebook's module.

    Everything but bare expressions (``print(...)``, a value to display): definitions,
    imports and assignments. IPython magics and shell lines are dropped; a cell that
    does not parse contributes nothing (in the kernel it defines nothing either).
    """
    source = "\n".join("" if _MAGIC.match(line) else line for line in source.split("\n"))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    lines = source.splitlines(keepends=True)
    kept: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Expr) or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            continue
        decorators: list[ast.expr] = getattr(node, "decorator_list", [])
        first = min([node.lineno, *[d.lineno for d in decorators]])
        kept.append("".join(lines[first - 1 : node.end_lineno]).rstrip("\n") + "\n")
    return "".join(kept)


def defined_names(code: str) -> set[str]:
    """Top-level names that ``code`` binds (functions, classes, assignments, imports)."""
    names: set[str] = set()
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        else:
            names.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return names


def notebook_code(nb: Json) -> str:
    """The module ``_notebook.py``: the setup cell, then every answer cell's :func:`module_code`."""
    parts = ['"""The code of a chapter notebook: its setup cell, then its answer cells in order."""\n\n',
             f"# ---- setup cell\n{module_code(setup_code(nb))}"]
    parts += [f"\n\n# ---- answer cell: {function}\n{module_code(source)}" for function, source in answer_cells(nb)]
    return "".join(parts)


def read_notebook(notebook: Path | Json) -> Json:
    """A notebook as JSON: read from ``notebook`` if it is a path."""
    if isinstance(notebook, Path):
        loaded: Json = json.loads(notebook.read_text(encoding="utf-8"))
        return loaded
    return notebook


def notebook_submission(notebook: Path | Json, dest: Path, manifest: Manifest | None = None) -> Path:
    """Write a dlnp submission (``dest/neural_network/``) holding a notebook's code; returns ``dest``."""
    manifest = manifest or load_manifest()
    code = notebook_code(read_notebook(notebook))
    defined = defined_names(code)
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    package = dest / "neural_network"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""A chapter notebook\'s code, module by module."""\n')
    (package / f"{NOTEBOOK_MODULE}.py").write_text(code)
    by_module: dict[str, list[str]] = {}
    for function, module in manifest.modules.items():
        by_module.setdefault(module, [])
        if function in defined:
            by_module[module].append(function)
    for module, functions in sorted(by_module.items()):
        imports = f"from .{NOTEBOOK_MODULE} import {', '.join(functions)}\n" if functions else ""
        (package / f"{module}.py").write_text(f'"""{module}: the notebook\'s functions of this module."""\n\n'
                                              f"{imports}")
    return dest


def main(argv: list[str] | None = None) -> int:
    """Trusted side: grade one chapter of a notebook into a results file (Gradescope format).

    ``python -m autograder.notebook_source NOTEBOOK --chapter ID --out RESULTS``: the
    process :func:`autograder.nb_bridge.grade_notebook` starts. ``$DLNP_CALL_SECONDS``
    overrides the per-call time limit of the student's code.
    """
    parser = argparse.ArgumentParser(prog="python -m autograder.notebook_source")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--chapter", required=True)
    parser.add_argument("--out", type=Path, required=True, help="results JSON (Gradescope format)")
    parser.add_argument("--work", type=Path, help="folder for the submission (default: a temporary one)")
    args = parser.parse_args(argv)

    from .engine import grade_submission
    from .sandbox import Limits

    seconds = os.environ.get("DLNP_CALL_SECONDS")
    limits = Limits(call_seconds=float(seconds)) if seconds else Limits()
    temporary = tempfile.TemporaryDirectory(prefix="dlnp-notebook-") if args.work is None else None
    with temporary or contextlib.nullcontext():
        work = args.work or Path(temporary.name if temporary else ".")
        submission = notebook_submission(read_notebook(args.notebook), work / "submission")
        grade_submission(submission, args.out, chapters=[args.chapter], limits=limits)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
