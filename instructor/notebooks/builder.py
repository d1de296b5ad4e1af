"""A chapter's instructor ("source") notebook, as cells, from the kit's sources.

====================  ==========================================================
title, how-to         Markdown
chapter sections      Markdown, one cell per ``## `` section of the README
setup                 imports, type aliases and constants of the modules used
earlier functions     one answer cell per function of another chapter that this one
                      uses (its code, examples, public tests or hidden graders); not graded here
your task, mistakes   Markdown (the task in the notebook's words: ``notebook.toml``)
per function          an answer cell (``### BEGIN SOLUTION`` / ``### END SOLUTION``
                      around the reference body) and an autograded cell worth the
                      manifest's points: it runs the public self-check
                      (:mod:`dlnp.notebook_check`); its score is written by the
                      trusted grader (:mod:`autograder.nb_bridge`)
try it                worked examples (``notebook.toml``); plots are saved to
                      ``figures/`` and shown inline
====================  ==========================================================
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Sequence
from pathlib import Path

from autograder.notebook_source import ANSWER, SETUP
from dlnp.manifest import Chapter, Manifest, load_manifest

from ..paths import KIT_ROOT
from ..stubs import BuildError
from .cells import Cell, code, markdown
from .chapter_data import ChapterData
from .sources import ReferenceModule, Sources

#: README sections that go after the setup (they introduce the answer cells) / not at all.
TASK_SECTIONS = ("your task", "common mistakes")
DROPPED_SECTIONS = ("check your work",)


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

Below every answer cell is an **autograded cell**. Run it: it checks your function
with the chapter's public tests (the same as `dlnp check {chapter.id}`) and prints what
passed and, for what did not, the likely mistake. Your score does not come from this
cell: when your notebook is graded, the course's grader runs hidden tests of each
function on other, random inputs, and you get the points of the checks you pass.
Only the answer cells are graded: put every helper function or constant you need
inside them (code in new cells of your own is not graded), and keep the function
names and parameters as they are.

| function | points |
|---|---|
{rows}

Before you submit, restart the kernel and run all cells (*Kernel > Restart Kernel and
Run All Cells*) to check that the notebook runs from top to bottom."""


_CARRY_OVER = """## Your functions from earlier chapters

This chapter builds on the functions below. Copy in your own solutions from the
chapters named (or from your `neural_network` package). They are not graded again
here, but this chapter's functions, examples and hidden tests use them."""


def _setup_source(modules: Sequence[ReferenceModule], types: ReferenceModule) -> str:
    """Imports, type aliases and module constants of ``modules``, as one cell."""
    imports: list[str] = []
    others: list[str] = []
    defined: dict[str, str] = {}

    def add(module: ReferenceModule, node: ast.stmt) -> None:
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


def carried_functions(chapter: Chapter, src: Sources, examples: Sequence[Cell]) -> list[str]:
    """Functions of other chapters that this chapter's notebook needs, in manifest order.

    Those that its functions refer to, that its examples and its public tests call,
    that its hidden graders call (``graders_call`` in the chapter's ``notebook.toml``),
    and, transitively, what those refer to.
    """
    manifest = src.manifest
    own = {f.name for f in chapter.functions}
    todo = [f.name for f in chapter.functions]
    for cell in (c for c in examples if c.cell_type == "code"):
        todo += [n.id for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.Name)]
    unknown = [name for name in src.data(chapter).graders_call if name not in manifest.modules]
    if unknown:
        raise BuildError(f"chapter {chapter.id}: graders_call names {unknown}, which the manifest does not list")
    todo += src.data(chapter).graders_call
    public = src.public_tests(chapter)
    if public is not None:
        todo += [n.id for n in ast.walk(ast.parse(public)) if isinstance(n, ast.Name)]
        todo += [a.name for n in ast.walk(ast.parse(public)) if isinstance(n, ast.ImportFrom) for a in n.names]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in manifest.modules:
            continue
        seen.add(name)
        todo += sorted(src.of(name).names_used(name) & set(manifest.modules))
    return [name for name in manifest.function_names if name in seen and name not in own]


def chapter_cells(chapter: Chapter, manifest: Manifest | None = None, kit_root: Path = KIT_ROOT,
                  sources: Sources | None = None) -> list[Cell]:
    """The instructor ("source") notebook of ``chapter``, as cells."""
    src = sources or Sources(manifest or load_manifest(), kit_root)
    data = src.data(chapter)
    head, sections = split_sections(src.readme(chapter))
    examples = example_cells(data)
    carried = carried_functions(chapter, src, examples)
    modules: list[ReferenceModule] = []
    for name in [*carried, *(f.name for f in chapter.functions)]:
        if src.of(name) not in modules:
            modules.append(src.of(name))

    cells = [markdown(head, "intro"), markdown(_how_to(chapter), "how-to")]
    late: list[Cell] = []
    for i, (heading, text) in enumerate(sections):
        key = heading.lower()
        if key.startswith(DROPPED_SECTIONS):
            continue
        if key.startswith("your task"):
            text = data.notebook_task(text, f"assignments/{chapter.slug}")
        cell = markdown(text, f"text-{i:02d}")
        (late if key.startswith(TASK_SECTIONS) else cells).append(cell)
    cells.append(code(_setup_source(modules, src.types), SETUP, "setup"))
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
    """An autograded cell: the public self-check of ``function`` (the score is the trusted grader's)."""
    return f"""# Self-check of {function}: the public tests of chapter {chapter.id} on your code (run this cell).
# Autograded: {points} points from hidden tests on other, random inputs, run by the course's grader.
from dlnp.notebook_check import check

check("{chapter.id}", "{function}", globals())"""


def example_cells(data: ChapterData) -> list[Cell]:
    """The chapter's worked examples, with the plot helper if they plot."""
    if not data.examples:
        return []
    cells = [markdown("## Try it\n\nRun these cells once your functions are written.", "try-it")]
    if any("show(" in e.source or "display(" in e.source for e in data.examples if not e.markdown):
        cells.append(code(_PLOT_SETUP, "plot-setup", "example"))
    for i, example in enumerate(data.examples):
        if example.markdown:
            cells.append(markdown(example.source, f"example-{i:02d}"))
        else:
            cells.append(code(example.source, f"example-{i:02d}", "example"))
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
