"""The kit's text sources of a notebook: the reference modules, the README, the chapter data.

:class:`ReferenceModule` reads one module of ``solutions/`` for what a notebook takes
from it: its preamble (imports, aliases, constants), each definition as an answer cell
(bodies between nbgrader's solution markers), and the names a definition uses (to know
which functions of earlier chapters a notebook must carry over).
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

from dlnp.manifest import Chapter, Manifest

from ..paths import KIT_ROOT
from ..stubs import BuildError, body_replacement
from .cells import BEGIN_SOLUTION, END_SOLUTION
from .chapter_data import ChapterData, load_chapter_data

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class ReferenceModule:
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
            body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
            if body and self.lines[body[0].lineno - 1][: body[0].col_offset].strip():
                raise BuildError(f"solutions/{self.name}.py: {name}.{fn.name} has its body on the `def` line")
            indent = stub[: len(stub) - len(stub.lstrip())]
            helpers = "".join(textwrap.indent(textwrap.dedent(self.text(self.helpers[h])), indent) + "\n"
                              for h in self._helpers_used([fn]))
            edits.append((start, end, indent, helpers))
        for start, end, indent, helpers in sorted(edits, reverse=True):
            body_lines = lines[start - first : end - first + 1]
            lines[start - first : end - first + 1] = [f"{indent}{BEGIN_SOLUTION}\n", helpers, *body_lines,
                                                      f"{indent}{END_SOLUTION}\n"]
        return "".join(lines)


class Sources:
    """The kit's text sources for notebooks (each file read once)."""

    def __init__(self, manifest: Manifest, kit_root: Path = KIT_ROOT) -> None:
        self.manifest = manifest
        self.kit_root = kit_root
        self._modules: dict[str, ReferenceModule] = {}

    def module(self, name: str) -> ReferenceModule:
        """The reference module ``solutions/<name>.py``."""
        if name not in self._modules:
            path = self.kit_root / "solutions" / f"{name}.py"
            self._modules[name] = ReferenceModule(name, path.read_text())
        return self._modules[name]

    def of(self, function: str) -> ReferenceModule:
        """The reference module that defines ``function``."""
        return self.module(self.manifest.modules[function])

    def folder(self, chapter: Chapter) -> Path:
        return self.kit_root / "assignments" / chapter.slug

    def readme(self, chapter: Chapter) -> str:
        """The chapter's text (a title alone if it has no README yet)."""
        path = self.folder(chapter) / "README.md"
        return path.read_text() if path.exists() else f"# Chapter {chapter.id}: {chapter.title}\n"

    def public_tests(self, chapter: Chapter) -> str | None:
        """The chapter's public self-check tests (``test_<slug>.py``), if it has them."""
        path = self.folder(chapter) / f"test_{chapter.slug}.py"
        return path.read_text() if path.exists() else None

    def data(self, chapter: Chapter) -> ChapterData:
        """The chapter's notebook-only content (``notebook.toml``)."""
        return load_chapter_data(self.folder(chapter))

    @cached_property
    def types(self) -> ReferenceModule:
        """The support module of type aliases, ``solutions/_types.py``."""
        return self.module("_types")
