"""Every chapter as an nbgrader notebook, generated from the kit's text sources.

The notebooks are build outputs, never edited by hand. Their sources are the chapter
text (``assignments/<slug>/README.md``), the reference package (``solutions/``: the
signatures, docstrings and bodies), the manifest (functions, modules, points) and the
worked examples at the end of this file. A chapter notebook holds, in order:

====================  ==========================================================
title, how-to         Markdown
chapter sections      Markdown, one cell per ``## `` section of the README
setup                 imports, type aliases and constants of the modules used
earlier functions     one answer cell per function of another chapter that this one
                      uses (its code, examples or hidden graders); not graded here
your task, mistakes   Markdown
per function          an answer cell (``### BEGIN SOLUTION`` / ``### END SOLUTION``
                      around the reference body) and an autograded cell worth the
                      manifest's points, whose hidden part calls
                      :func:`autograder.nb_bridge.grade_cell`
try it                worked examples; plots are saved to ``figures/`` and shown inline
====================  ==========================================================

Every cell carries nbgrader metadata; every cell but the answer cells is read-only.

Outputs:

* ``dlnp notebooks --out course/`` writes ``course/source/<slug>/<slug>.ipynb`` (for
  ``nbgrader generate_assignment``), ``course/percent/<slug>.py`` (the same notebook as a
  jupytext percent file, to review and diff; kept out of ``source/`` because nbgrader
  copies every other file of an assignment folder into the release) and
  ``course/nbgrader_config.py`` (the kit's settings for that course folder);
* the release step :func:`write_notebooks` writes ``notebooks/<slug>.ipynb`` into the
  student release: what ``nbgrader generate_assignment`` makes of the same notebook
  (solution regions replaced by nbgrader's stub, hidden test regions removed).

Grading: :func:`notebook_submission` turns a notebook's answer cells into the student
package (``neural_network/``) of a dlnp submission, module by module through the
manifest, so the hidden graders of ``dlnp grade`` score the notebook's code: nbgrader's
autograded cells do exactly that through the bridge, and ``dlnp notebooks --collect``
does it for a whole ``submitted/`` folder, for ``dlnp grade-batch``.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import shutil
import sys
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from dlnp.manifest import Chapter, Manifest, load_manifest

from .paths import KIT_ROOT
from .stubs import BuildError, Context, body_replacement, write_package

#: nbgrader's markers, and the stub ``nbgrader generate_assignment`` puts in place of a solution.
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
SCHEMA_VERSION = 3
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
#: grade_id prefix of answer cells: ``answer-<function>``.
ANSWER = "answer-"

#: README sections that go after the setup (they introduce the answer cells) / not at all.
TASK_SECTIONS = ("your task", "common mistakes")
DROPPED_SECTIONS = ("check your work",)

Json = dict[str, Any]


# ----------------------------------------------------------------------------- cells


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
    return Cell("markdown", source.strip("\n"), grade_id, "text")


def code(source: str, grade_id: str, role: str, function: str = "", points: int = 0) -> Cell:
    return Cell("code", source.strip("\n"), grade_id, role, function, points)


# ----------------------------------------------------------------------------- reference modules


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class _Module:
    """One reference module, read for its preamble, its definitions and what they use."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self.tree = ast.parse(source)
        self.lines = source.splitlines(keepends=True)
        self.defs = {n.name: n for n in self.tree.body if isinstance(n, _DEFS)}
        self.helpers = {k: v for k, v in self.defs.items() if k.startswith("_")}

    def text(self, node: ast.stmt, comments: bool = False) -> str:
        """Source of ``node`` with its decorators (and the comment lines just above it)."""
        decorators: list[ast.expr] = getattr(node, "decorator_list", [])
        first = min([node.lineno, *[d.lineno for d in decorators]])
        while comments and first > 1 and self.lines[first - 2].lstrip().startswith("#"):
            first -= 1
        return "".join(self.lines[first - 1 : node.end_lineno or node.lineno])

    def preamble(self) -> list[ast.stmt]:
        """Top-level statements that are neither definitions nor the module docstring."""
        body = self.tree.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]
        return [s for s in body if not isinstance(s, _DEFS)]

    def _helpers_used(self, nodes: Iterable[ast.AST]) -> list[str]:
        """Private helpers referenced by ``nodes``, transitively, in module order."""
        found: set[str] = set()
        todo = list(nodes)
        while todo:
            for sub in ast.walk(todo.pop()):
                if isinstance(sub, ast.Name) and sub.id in self.helpers and sub.id not in found:
                    found.add(sub.id)
                    todo.append(self.helpers[sub.id])
        return sorted(found, key=lambda h: self.helpers[h].lineno)

    def names_used(self, name: str) -> set[str]:
        """Every name the definition ``name`` (with its helpers) refers to."""
        node = self.defs[name]
        nodes: list[ast.AST] = [node, *[self.helpers[h] for h in self._helpers_used([node])]]
        return {sub.id for n in nodes for sub in ast.walk(n) if isinstance(sub, ast.Name)}

    def answer(self, name: str) -> str:
        """Definition ``name`` with every function body in a solution region.

        The private helpers a body uses are defined at the top of its region, so the
        student version keeps exactly the signatures and docstrings of the release stubs.
        """
        node = self.defs[name]
        first = min([node.lineno, *[d.lineno for d in node.decorator_list]])
        last = node.end_lineno or node.lineno
        functions = [node] if not isinstance(node, ast.ClassDef) else [
            m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
        lines = self.lines[first - 1 : last]
        edits: list[tuple[int, int, str, str]] = []
        for fn in functions:
            start, end, stub = body_replacement(fn, self.lines, "")  # the same body as the release stubs
            code = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
            if code and self.lines[code[0].lineno - 1][: code[0].col_offset].strip():
                raise BuildError(f"solutions/{self.name}.py: {name}.{fn.name} has its body on the `def` line")
            indent = stub[: len(stub) - len(stub.lstrip())]
            helpers = "".join(textwrap.indent(textwrap.dedent(self.text(self.helpers[h])), indent) + "\n"
                              for h in self._helpers_used([fn]))
            edits.append((start, end, indent, helpers))
        for start, end, indent, helpers in sorted(edits, reverse=True):
            body = lines[start - first : end - first + 1]
            lines[start - first : end - first + 1] = [f"{indent}{BEGIN_SOLUTION}\n", helpers, *body,
                                                      f"{indent}{END_SOLUTION}\n"]
        return "".join(lines)


class _Sources:
    """The kit's text sources for notebooks (reference modules read once)."""

    def __init__(self, manifest: Manifest, kit_root: Path = KIT_ROOT) -> None:
        self.manifest = manifest
        self.kit_root = kit_root
        self._modules: dict[str, _Module] = {}

    def module(self, name: str) -> _Module:
        if name not in self._modules:
            path = self.kit_root / "solutions" / f"{name}.py"
            self._modules[name] = _Module(name, path.read_text())
        return self._modules[name]

    def of(self, function: str) -> _Module:
        return self.module(self.manifest.modules[function])

    def readme(self, chapter: Chapter) -> str:
        path = self.kit_root / "assignments" / chapter.slug / "README.md"
        return path.read_text() if path.exists() else f"# Chapter {chapter.id}: {chapter.title}\n"

    @cached_property
    def types(self) -> _Module:
        return self.module("_types")


# ----------------------------------------------------------------------------- chapter text


def split_sections(text: str) -> tuple[str, list[tuple[str, str]]]:
    """README -> (text before the first ``## `` heading, [(heading, section text)])."""
    head: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            sections.append((line[3:].strip(), [line]))
        elif sections:
            sections[-1][1].append(line)
        else:
            head.append(line)
    return "\n".join(head).strip(), [(h, "\n".join(body).strip()) for h, body in sections]


def _how_to(chapter: Chapter) -> str:
    graded = [f for f in chapter.functions if f.points]
    rows = "\n".join(f"| `{f.name}` | {f.points} |" for f in graded)
    return f"""## How this notebook works

Write your code in the **answer cells**: each holds a function (or class) with its
signature and docstring, and a `raise NotImplementedError()` for you to replace. The
docstring is the contract: shapes, conventions and edge cases are all stated there.

Below every answer cell is an **autograded cell**. When your notebook is graded, it
runs hidden tests of that function on other, random inputs: you get the points of the
checks you pass, and feedback on the ones you do not. Only the answer cells are
graded: put every helper function or constant you need inside them (code in new cells
of your own is not graded), and keep the function names and parameters as they are.

| function | points |
|---|---|
{rows}

Before you submit, restart the kernel and run all cells (*Kernel > Restart Kernel and
Run All Cells*) to check that the notebook runs from top to bottom."""


_CARRY_OVER = """## Your functions from earlier chapters

This chapter builds on the functions below. Copy in your own solutions from the
chapters named (or from your `neural_network` package). They are not graded again
here, but this chapter's functions, examples and hidden tests use them."""


# ----------------------------------------------------------------------------- building a chapter


def _setup_source(modules: Sequence[_Module], types: _Module) -> str:
    """Imports, type aliases and module constants of ``modules``, as one cell."""
    imports: list[str] = []
    others: list[str] = []
    defined: dict[str, str] = {}

    def add(module: _Module, node: ast.stmt) -> None:
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.module == "_types":
                for s in types.preamble():
                    add(types, s)
            return  # a sibling module's functions come from answer cells
        text = module.text(node, comments=True).rstrip("\n")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if text not in imports:
                imports.append(text)
            return
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = ast.unparse(node.value) if node.value else ""
            for target in targets:
                for name in (n.id for n in ast.walk(target) if isinstance(n, ast.Name)):
                    if name == "__all__":
                        return
                    if defined.get(name, value) != value:
                        raise BuildError(f"module constant {name} has two different values ({module.name})")
                    if name in defined:
                        return
                    defined[name] = value
        if text not in others:
            others.append(text)

    for module in modules:
        for node in module.preamble():
            add(module, node)
    header = "# Setup (read-only): the imports, type aliases and constants of the modules this chapter uses."
    imports.sort(key=lambda line: (line.split()[1].split(".")[0] not in sys.stdlib_module_names, line))
    return "\n".join([header, *imports, "", *others]).strip() + "\n"


def _carried_functions(chapter: Chapter, src: _Sources, examples: Sequence[Cell]) -> list[str]:
    """Functions of other chapters that this chapter's notebook needs, in manifest order.

    Those that its functions refer to, that its examples call, that its hidden graders
    name (``student.try_call("relu", ...)``), and, transitively, what those refer to.
    """
    manifest = src.manifest
    own = {f.name for f in chapter.functions}
    todo = [f.name for f in chapter.functions]
    for cell in (c for c in examples if c.cell_type == "code"):
        todo += [n.id for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.Name)]
    grader = src.kit_root / "autograder" / "graders" / f"test_{chapter.slug}.py"
    if grader.exists():
        todo += [n.value for n in ast.walk(ast.parse(grader.read_text()))
                 if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in manifest.modules:
            continue
        seen.add(name)
        todo += sorted(src.of(name).names_used(name) & set(manifest.modules))
    return [name for name in manifest.function_names if name in seen and name not in own]


def chapter_cells(chapter: Chapter, manifest: Manifest | None = None, kit_root: Path = KIT_ROOT,
                  sources: _Sources | None = None) -> list[Cell]:
    """The instructor ("source") notebook of ``chapter``, as cells."""
    src = sources or _Sources(manifest or load_manifest(), kit_root)
    head, sections = split_sections(src.readme(chapter))
    examples = example_cells(chapter)
    carried = _carried_functions(chapter, src, examples)
    modules: list[_Module] = []
    for name in [*carried, *(f.name for f in chapter.functions)]:
        if src.of(name) not in modules:
            modules.append(src.of(name))

    cells = [markdown(head, "intro"), markdown(_how_to(chapter), "how-to")]
    late: list[Cell] = []
    for i, (heading, text) in enumerate(sections):
        key = heading.lower()
        if key.startswith(DROPPED_SECTIONS):
            continue
        cell = markdown(text, f"text-{i:02d}")
        (late if key.startswith(TASK_SECTIONS) else cells).append(cell)
    cells.append(code(_setup_source(modules, src.types), "setup", "setup"))
    if carried:
        listing = "\n".join(f"- `{name}` (chapter {src.manifest.chapter_of(name)})" for name in carried)
        cells.append(markdown(f"{_CARRY_OVER}\n\n{listing}", "earlier-functions"))
        cells += [code(src.of(name).answer(name), f"{ANSWER}{name}", "answer", name) for name in carried]
    cells += late
    for f in chapter.functions:
        cells.append(code(src.of(f.name).answer(f.name), f"{ANSWER}{f.name}", "answer", f.name))
        if f.points:
            cells.append(code(_test_source(chapter, f.name, f.points), f"test-{f.name}", "test", f.name, f.points))
    return cells + examples


def _test_source(chapter: Chapter, function: str, points: int) -> str:
    return f"""# Autograded: {function}, {points} points (hidden tests on other, random inputs).
{BEGIN_HIDDEN}
from autograder.nb_bridge import grade_cell
grade_cell("{chapter.id}", "{function}")
{END_HIDDEN}"""


def example_cells(chapter: Chapter) -> list[Cell]:
    """The chapter's worked examples (``EXAMPLES``), with the plot helper if they plot."""
    parts = EXAMPLES.get(chapter.id, [])
    if not parts:
        return []
    cells = [markdown("## Try it\n\nRun these cells once your functions are written.", "try-it")]
    if any("show(" in part or "display(" in part for part in parts):
        cells.append(code(_PLOT_SETUP, "plot-setup", "example"))
    for i, part in enumerate(parts):
        part = textwrap.dedent(part).strip("\n")
        if part.startswith("#md "):
            cells.append(markdown(part[4:], f"example-{i:02d}"))
        else:
            cells.append(code(part, f"example-{i:02d}", "example"))
    return cells


_PLOT_SETUP = '''import matplotlib

matplotlib.use("Agg")  # draw to files only: every figure is saved, then shown inline
import matplotlib.pyplot as plt
from pathlib import Path
from IPython.display import Image, display


def show(fig, name):
    """Save ``fig`` as figures/<name>.png and show that file here."""
    path = Path("figures") / f"{name}.png"
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    display(Image(filename=str(path)))'''


# ----------------------------------------------------------------------------- writers


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


def source_of(cell: Json) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)  # pyright: ignore[reportUnknownArgumentType]


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


# ----------------------------------------------------------------------------- course and release


def build_course(out: Path, chapters: Sequence[str] | None = None, manifest: Manifest | None = None,
                 kit_root: Path = KIT_ROOT) -> list[Path]:
    """Write the nbgrader course folder ``out``: source notebooks, percent twins, config.

    Only ``source/<slug>/`` of the chapters built, ``percent/`` and
    ``nbgrader_config.py`` are (re)written; a course's submissions are never touched.
    """
    manifest = manifest or load_manifest()
    src = _Sources(manifest, kit_root)
    selected = [manifest.chapter(c) for c in chapters] if chapters else list(manifest.chapters)
    out = Path(out).resolve()
    written: list[Path] = []
    for chapter in selected:
        cells = chapter_cells(chapter, sources=src)
        folder = out / "source" / chapter.slug
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        path = folder / f"{chapter.slug}.ipynb"
        path.write_text(dumps(to_notebook(cells)))
        (out / "percent").mkdir(exist_ok=True)
        (out / "percent" / f"{chapter.slug}.py").write_text(to_percent(cells))
        written.append(path)
    (out / "nbgrader_config.py").write_text(_COURSE_CONFIG.format(kit=kit_root / "nbgrader_config.py", root=out))
    return written


_COURSE_CONFIG = '''"""nbgrader settings of this course folder (generated by `dlnp notebooks`): the kit's own."""

c = get_config()  # noqa: F821
load_subconfig("{kit}")  # noqa: F821
c.CourseDirectory.root = "{root}"
'''


def write_notebooks(ctx: Context) -> None:
    """Release step: ``notebooks/<slug>.ipynb``, the student version of every chapter notebook."""
    src = _Sources(ctx.manifest, ctx.kit_root)
    for chapter in ctx.manifest.chapters:
        cells = [cell.student() for cell in chapter_cells(chapter, sources=src)]
        path = ctx.out / "notebooks" / f"{chapter.slug}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps(to_notebook(cells)))


# ----------------------------------------------------------------------------- lint


def lint(nb: Json, chapter: Chapter, percent: str | None = None) -> list[str]:
    """Problems of a generated source notebook (empty list: fine).

    Every cell has valid nbgrader metadata (nbgrader's own validator), grade ids are
    unique, each function of the chapter has one answer cell, the autograded cells'
    points are the manifest's, code parses, and the percent twin (if given) reads back
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


# ----------------------------------------------------------------------------- notebook -> submission


def answer_cells(nb: Json) -> list[tuple[str, str]]:
    """``(function, source)`` of every answer cell of a notebook, in order."""
    out: list[tuple[str, str]] = []
    for cell in nb.get("cells", []):
        grading: Json = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = str(grading.get("grade_id", ""))
        if cell.get("cell_type") == "code" and grading.get("solution") and grade_id.startswith(ANSWER):
            out.append((grade_id.removeprefix(ANSWER), source_of(cell)))
    return out


_MAGIC = re.compile(r"^\s*[%!]")


def module_code(source: str) -> str:
    """What an answer cell contributes to its module.

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


def notebook_submission(notebook: Path | Json, dest: Path, manifest: Manifest | None = None,
                        kit_root: Path = KIT_ROOT) -> Path:
    """Write a dlnp submission (``dest/neural_network/``) holding a notebook's answer cells.

    Each module is the release stub followed by the code of the answer cells of its
    functions, in notebook order: later definitions replace the stubs, exactly as
    running the cells does in the kernel.
    """
    manifest = manifest or load_manifest()
    nb: Json = json.loads(Path(notebook).read_text()) if isinstance(notebook, Path) else notebook
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    write_package(Context(manifest, dest, kit_root))
    by_module: dict[str, list[str]] = {}
    for function, source in answer_cells(nb):
        if function in manifest.modules:
            by_module.setdefault(manifest.modules[function], []).append(
                f"\n\n# ---- answer cell: {function}\n{module_code(source)}")
    for module, parts in sorted(by_module.items()):
        path = dest / "neural_network" / f"{module}.py"
        path.write_text(path.read_text() + "".join(parts))
    return dest


def collect(submitted: Path, out: Path, chapters: Sequence[str] | None = None,
            manifest: Manifest | None = None) -> list[Path]:
    """nbgrader ``submitted/<student>/<slug>/<slug>.ipynb`` -> ``out/<slug>/<student>/`` submissions.

    Grade them with ``dlnp grade-batch out/<slug> --chapter <id>``: the same scores as
    nbgrader's autograde of those notebooks, with the student code behind the kit's
    worker boundary instead of in a notebook kernel.
    """
    manifest = manifest or load_manifest()
    wanted = {manifest.chapter(c).slug for c in chapters} if chapters else {c.slug for c in manifest.chapters}
    written: list[Path] = []
    for path in sorted(Path(submitted).glob("*/*/*.ipynb")):
        student, slug = path.parent.parent.name, path.parent.name
        if slug in wanted and path.stem == slug:
            written.append(notebook_submission(path, Path(out) / slug / student, manifest))
    return written


# ----------------------------------------------------------------------------- execution


def execute(notebook: Path, workdir: Path, timeout: int = 120) -> tuple[Json, list[str]]:
    """Run a source notebook top to bottom in a clean kernel, in ``workdir``.

    Returns the executed notebook and its problems: a cell that raised or wrote to
    stderr, or an autograded cell that did not give its full points.
    """
    nbformat: Any = importlib.import_module("nbformat")
    nbclient: Any = importlib.import_module("nbclient")
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(notebook, workdir / notebook.name)  # the autograded cells grade the saved notebook
    nb: Any = nbformat.reads(notebook.read_text(), as_version=4)
    nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(workdir)}}).execute()
    executed: Json = json.loads(nbformat.writes(nb))
    return executed, execution_problems(executed)


def execution_problems(nb: Json) -> list[str]:
    """Errors, stderr output and autograded cells short of their points, in an executed notebook."""
    problems: list[str] = []
    for cell in nb["cells"]:
        grading: Json = cell.get("metadata", {}).get("nbgrader", {})
        label = grading.get("grade_id", "?")
        outputs: list[Json] = cell.get("outputs", [])
        for output in outputs:
            if output["output_type"] == "error":
                problems.append(f"{label}: {output['ename']}: {output['evalue']}"[:500])
            if output["output_type"] == "stream" and output["name"] == "stderr":
                problems.append(f"{label}: wrote to stderr: {source_of({'source': output['text']})[:300]}")
        if grading.get("grade"):
            results = [source_of({"source": o["data"]["text/plain"]}) for o in outputs
                       if o["output_type"] == "execute_result"]
            got = float(results[-1]) if results else None
            if got != float(grading["points"]):
                problems.append(f"{label}: scored {got} of {grading['points']} points")
    return problems


# ----------------------------------------------------------------------------- worked examples
#
# Per chapter id: cells of the "Try it" section, run after the answer cells. A part
# starting with "#md " is Markdown. They use only NumPy, matplotlib (through ``show``)
# and the notebook's own functions, and each runs in well under a second.

_DIGITS = """from sklearn.datasets import load_digits

digits = load_digits()  # 1797 images of 8x8 pixels, bundled with scikit-learn (no download)"""

EXAMPLES: dict[str, list[str]] = {
    "0": ["""
        X = np.array([[1.0, 2.0],
                      [3.0, 4.0],
                      [5.0, 6.0]])        # 3 samples, 2 features
        W = np.array([[0.5, -1.0, 0.0],
                      [0.25, 0.5, 1.0]])  # 2 inputs -> 3 outputs
        out = layer_output(X, W)
        print(out.shape)                  # (3, 3): one row per sample, one column per output
        print(out)"""],
    "1.1": ["""
        X = np.array([[1.0, 10.0, 5.0],
                      [2.0, 20.0, 5.0],
                      [3.0, 30.0, 5.0]])  # the last column is constant
        Z = normalize(X)
        print(Z)
        print("column means:", Z.mean(axis=0).round(12))
        print("column stds: ", Z.std(axis=0))  # 1, 1, and 0 for the constant column (only centred)"""],
    "1.2": ["""
        X = np.arange(6.0).reshape(3, 2)
        W = np.ones((2, 4))
        print(matrix_multiply(X, W).shape)  # (3, 4)
        try:
            matrix_multiply(X, np.ones((3, 4)))
        except ValueError as err:
            print("ValueError:", err)"""],
    "1.3": ["""
        Z = np.linspace(-8, 8, 201)
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.plot(Z, sigmoid(Z), label="sigmoid(z)")
        ax.plot(Z, sigmoid(Z) * (1 - sigmoid(Z)), label="its derivative")
        ax.axhline(0.5, color="grey", lw=0.5)
        ax.set_xlabel("z")
        ax.legend()
        show(fig, "sigmoid")
        print(sigmoid(np.array([-1000.0, 0.0, 1000.0])))  # 0, 0.5, 1 without an overflow warning"""],
    "2.1": ["""
        y_pred, y = np.array([[2.5], [0.0], [2.0]]), np.array([[3.0], [-0.5], [2.0]])
        print("MSE:", mse_loss(y_pred, y))  # 0.1667, as in the worked example
        A, labels = np.array([[0.9], [0.2], [0.7]]), np.array([[1.0], [0.0], [1.0]])
        print("BCE:", binary_cross_entropy(A, labels))  # 0.2284""", """
        a = np.linspace(0.001, 0.999, 200)
        one, zero = np.ones((1, 1)), np.zeros((1, 1))
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.plot(a, [binary_cross_entropy(np.full((1, 1), p), one) for p in a], label="y = 1: -log a")
        ax.plot(a, [binary_cross_entropy(np.full((1, 1), p), zero) for p in a], label="y = 0: -log(1 - a)")
        ax.set_xlabel("predicted probability a")
        ax.set_ylabel("loss")
        ax.legend()
        show(fig, "bce")"""],
    "2.2": ["""
        rng = np.random.default_rng(0)
        X = rng.uniform(-1, 1, size=(50, 1))
        y = 2 * X + 1 + 0.1 * rng.standard_normal((50, 1))  # y = 2x + 1, plus noise
        W, b, history = gradient_descent(X, y, np.zeros((1, 1)), np.zeros((1, 1)), lr=0.5, num_epochs=100)
        print(f"W = {W.item():.3f}, b = {b.item():.3f}, final loss {history[-1]:.4f}")
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
        left.semilogy(history)
        left.set_xlabel("epoch")
        left.set_ylabel("MSE")
        right.scatter(X, y, s=8)
        line = np.linspace(-1, 1, 2).reshape(-1, 1)
        right.plot(line, line @ W + b, color="C1", label="fitted line")
        right.legend()
        show(fig, "gradient_descent")"""],
    "2.3": ["""
        rng = np.random.default_rng(1)
        X = np.vstack([rng.normal(-1, 0.8, (100, 2)), rng.normal(1, 0.8, (100, 2))])
        y = np.vstack([np.zeros((100, 1)), np.ones((100, 1))])
        fig, ax = plt.subplots(figsize=(5, 3))
        for batch_size in (None, 16):
            W, b, history = gradient_descent(
                X, y, np.zeros((2, 1)), np.zeros((1, 1)), lr=0.5, num_epochs=30, batch_size=batch_size,
                loss_fn=binary_cross_entropy, activation_fn=sigmoid, rng=np.random.default_rng(0))
            correct = np.mean((sigmoid(X @ W + b) >= 0.5) == y)
            print(f"batch_size={batch_size}: final loss {history[-1]:.4f}, {correct:.0%} correct")
            ax.plot(history, label="full batch" if batch_size is None else f"batches of {batch_size}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("binary cross-entropy")
        ax.legend()
        show(fig, "minibatch")"""],
    "2.4": ["""
        rng = np.random.default_rng(0)
        X, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 1))
        params = {"W": rng.normal(size=(3, 1)), "b": np.zeros((1, 1))}
        numeric = numerical_gradient(X, y, params, mse_loss, linear_forward)
        error = linear_forward(X, params) - y
        analytic = {"W": X.T @ error / len(X), "b": error.mean(axis=0, keepdims=True)}  # chapter 2.2's error form
        for name in params:
            print(f"{name}: relative error {relative_error(analytic[name], numeric[name]):.2e}, "
                  f"with a factor 2: {relative_error(2 * analytic[name], numeric[name]):.2e}")"""],
    "3.1": ["""
        X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        W, b = np.array([[10.0], [10.0]]), np.array([[-15.0]])  # hand-picked weights: logical AND
        print(forward_perceptron(X, W, b).round(3))  # about 0, 0, 0, 1
        grid = np.linspace(-0.5, 1.5, 101)
        xx, yy = np.meshgrid(grid, grid)
        P = forward_perceptron(np.column_stack([xx.ravel(), yy.ravel()]), W, b).reshape(xx.shape)
        fig, ax = plt.subplots(figsize=(4, 3.5))
        ax.contourf(xx, yy, P, levels=20, cmap="RdBu_r")
        ax.scatter(X[:, 0], X[:, 1], c=[0, 0, 0, 1], cmap="RdBu_r", edgecolors="k")
        ax.set_title("perceptron output for AND")
        show(fig, "perceptron_and")"""],
    "3.2": ["""
        Z = np.linspace(-3, 3, 121)
        logits = np.array([[2.0, 1.0, 0.1], [1000.0, 1000.0, 0.0]])
        P = softmax(logits)
        print(P.round(4), P.sum(axis=1))  # rows sum to 1, even for huge logits
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
        left.plot(Z, relu(Z), label="relu")
        left.plot(Z, relu_derivative(Z), label="relu_derivative")
        left.legend()
        right.bar(["2.0", "1.0", "0.1"], P[0])
        right.set_title("softmax of the logits (2.0, 1.0, 0.1)")
        show(fig, "activations")"""],
    "3.3": ["""
        rng = np.random.default_rng(0)
        X = rng.normal(size=(5, 4))
        W1, b1 = 0.5 * rng.normal(size=(4, 8)), np.zeros((1, 8))
        W2, b2 = 0.5 * rng.normal(size=(8, 3)), np.zeros((1, 3))
        A1, A2 = forward_mlp(X, W1, b1, W2, b2)
        print(A1.shape, A2.shape, A2.sum(axis=1))  # (5, 8) (5, 3), each row of A2 sums to 1
        y = np.eye(3)[[0, 1, 2, 1, 0]]
        print(f"cross-entropy {cross_entropy(A2, y):.4f}; a uniform guess costs log 3 = {np.log(3):.4f}")"""],
    "3.4": [_DIGITS, """
        X, y = digits.data / 16.0, np.eye(10)[digits.target]
        rng = np.random.default_rng(0)
        W1, b1 = rng.normal(0, np.sqrt(2 / 64), (64, 32)), np.zeros((1, 32))
        W2, b2 = rng.normal(0, np.sqrt(2 / 32), (32, 10)), np.zeros((1, 10))
        lr, history = 0.5, []
        for epoch in range(30):
            for start in range(0, len(X), 64):  # mini-batches of 64
                Xb, yb = X[start:start + 64], y[start:start + 64]
                A1, A2 = forward_mlp(Xb, W1, b1, W2, b2)
                gW1, gb1, gW2, gb2 = backward_mlp(Xb, A1, A2, yb, W1, W2, Xb @ W1 + b1)
                W1, b1, W2, b2 = W1 - lr * gW1, b1 - lr * gb1, W2 - lr * gW2, b2 - lr * gb2
            history.append(cross_entropy(forward_mlp(X, W1, b1, W2, b2)[1], y))
        A2 = forward_mlp(X, W1, b1, W2, b2)[1]
        print(f"training accuracy after 30 epochs: {np.mean(A2.argmax(axis=1) == digits.target):.1%}")
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.plot(range(1, 31), history)
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy")
        show(fig, "mlp_digits")"""],
    "4.1": ["""
        rng = np.random.default_rng(0)
        X, y = rng.normal(size=(64, 20)), np.eye(5)[rng.integers(0, 5, 64)]
        sizes = [20, 32, 32, 32, 32, 32, 5]
        weights = [rng.normal(0, 1 / np.sqrt(m), (m, k)) for m, k in zip(sizes[:-1], sizes[1:])]
        biases = [np.zeros((1, k)) for k in sizes[1:]]
        fig, ax = plt.subplots(figsize=(5, 3))
        for activation in ("sigmoid", "relu"):
            norms = gradient_norms_per_layer(X, y, weights, biases, activation=activation)
            ax.semilogy(range(1, len(norms) + 1), norms, marker="o", label=activation)
        ax.set_xlabel("layer (1 = next to the input)")
        ax.set_ylabel("norm of the weight gradient")
        ax.legend()
        show(fig, "gradient_norms")
        A1, A2, A3 = forward_mlp_3layer(X, weights[0], biases[0], weights[1], biases[1],
                                        rng.normal(size=(32, 5)), np.zeros((1, 5)))
        print(A1.shape, A2.shape, A3.shape)"""],
    "4.2": [_DIGITS, """
        image = digits.images[0] / 16.0  # an 8x8 zero
        vertical = np.array([[1.0, 0.0, -1.0]] * 3)  # responds to vertical edges
        horizontal = vertical.T
        fig, axes = plt.subplots(1, 3, figsize=(8, 3))
        panels = [("image", image), ("vertical edges", conv2d(image, vertical)),
                  ("horizontal edges", conv2d(image, horizontal))]
        for ax, (title, picture) in zip(axes, panels):
            ax.imshow(picture, cmap="gray")
            ax.set_title(title)
            ax.axis("off")
        show(fig, "conv2d_edges")
        K = np.stack([vertical, horizontal])[:, None]  # 2 filters, 1 channel: (2, 1, 3, 3)
        print(conv_forward(image[None, None], K, np.zeros(2)).shape)  # (1, 2, 6, 6)"""],
    "4.3": [_DIGITS, """
        image = digits.images[3] / 16.0
        pooled = max_pool(image[None, None], size=2)[0, 0]
        fig, (left, right) = plt.subplots(1, 2, figsize=(5, 2.5))
        left.imshow(image, cmap="gray")
        left.set_title("8x8")
        right.imshow(pooled, cmap="gray")
        right.set_title("2x2 max-pooled: 4x4")
        for ax in (left, right):
            ax.axis("off")
        show(fig, "max_pool")
        X = np.array([[[[1.0, 2.0], [4.0, 3.0]]]])
        print(max_pool_backward(np.ones((1, 1, 1, 1)), X, size=2))  # the gradient goes to the 4"""],
    "4.4": ["""
        W = np.array([[1.0, -2.0], [0.5, 0.0]])
        print(l2_regularization(W, 0.01), l2_gradient(W, 0.01))
        A = np.ones((1000, 10))
        A_drop, mask = dropout(A, 0.8, rng=np.random.default_rng(0))
        print(f"kept {mask.mean():.3f} of the units; mean activation {A_drop.mean():.3f}")  # about 0.8 and 1.0
        fig, ax = plt.subplots(figsize=(5, 1.5))
        ax.imshow(mask[:10].T, cmap="gray")
        ax.set_title("dropout masks of 10 samples (black: dropped)")
        ax.axis("off")
        show(fig, "dropout")"""],
    "4.5": ["""
        def loss_gradient(w):  # gradient of the narrow valley f(w) = (w0**2 + 25 * w1**2) / 2
            return np.array([w[0], 25.0 * w[1]])

        grid = np.meshgrid(np.linspace(-4.5, 1, 100), np.linspace(-1.2, 1.2, 100))
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.contour(grid[0], grid[1], (grid[0] ** 2 + 25 * grid[1] ** 2) / 2, levels=15, colors="lightgrey")
        for mu in (0.0, 0.8):
            w, v, path = np.array([-4.0, 1.0]), np.zeros(2), [np.array([-4.0, 1.0])]
            for _ in range(60):
                v = momentum_update(v, loss_gradient(w), mu, 0.02)
                w = w + v
                path.append(w)
            path = np.array(path)
            ax.plot(path[:, 0], path[:, 1], marker=".", label=f"mu = {mu}: ends at ({w[0]:.3f}, {w[1]:.3f})")
        ax.set_title("60 steps with learning rate 0.02")
        ax.legend(loc="lower right")
        show(fig, "momentum")
        probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
        print(accuracy(probs, np.array([0, 1, 1])))  # 2 of 3 correct"""],
    "5.1": ["""
        X = np.array([[1.0, 2.0], [0.0, -1.0]])
        layer = Linear(2, 3)
        layer.W = np.array([[1.0, 0.0, -1.0], [0.5, 1.0, 0.0]])
        layer.b = np.array([[0.0, 0.0, 1.0]])
        softmax_layer, loss = Softmax(), CrossEntropyLoss()
        P = softmax_layer.forward(layer.forward(X))
        print("loss", loss.forward(P, np.array([0, 2])))  # 0.5325, the worked example
        dX = layer.backward(loss.backward())  # the loss hands back the gradient of the logits
        print("dW", layer.dW.round(4), "db", layer.db.round(4), "dX", dX.round(4), sep="\\n")"""],
    "5.2": ["""
        rng = np.random.default_rng(0)
        X, Y = make_spirals(n_per_class=100, n_classes=3, rng=rng)
        model = Sequential([Linear(2, 64, rng=rng), ReLU(), Linear(64, 3, rng=rng), Softmax()])
        history = fit(model, X, Y, CrossEntropyLoss(), Adam(lr=0.02), epochs=100, batch_size=32, rng=rng)
        print(f"training accuracy {history['train_acc'][-1]:.1%} after {len(history['loss'])} epochs")
        xx, yy, regions = decision_grid(model, X, resolution=150)
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
        left.plot(history["loss"])
        left.set_xlabel("epoch")
        left.set_ylabel("training loss")
        right.contourf(xx, yy, regions, alpha=0.3, cmap="brg")
        right.scatter(X[:, 0], X[:, 1], c=Y.argmax(axis=1), s=8, cmap="brg")
        right.set_title("what the model learned")
        show(fig, "spirals")"""],
}
