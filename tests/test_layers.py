"""The layout is the architecture: packages by audience, each importing only downward.

    instructor   the instructor's tooling (release, notebooks, exports, training, commands)
    autograder   the trusted grading engine (sandbox, graders, results)
    solutions    the reference package
    dlnp         the student runtime (shipped whole into the release)

These tests read every kit source file with :mod:`ast` (imports inside functions
included) and fail on an import that goes up or sideways, on an import cycle between
files, on ``sys.path`` edits and on ``__import__``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parent.parent
PACKAGES = ("dlnp", "solutions", "autograder", "instructor")

#: What each package may import from the kit (besides itself).
ALLOWED: dict[str, set[str]] = {
    "dlnp": set(),
    "solutions": set(),
    "autograder": {"dlnp", "solutions"},
    "instructor": {"dlnp", "solutions", "autograder"},
}

#: Files that set a ``sys.path`` on purpose, and why. Nothing else may.
SYS_PATH_ALLOWED = {
    # The worker's own interpreter (``python -I -S``) is given its one import root here:
    # this is the sandbox's definition of what student code can import, not a kit hack.
    "autograder/worker_runtime.py",
}


def kit_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (KIT / pkg).rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(KIT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # ``from . import commands`` imports a module
                yield node.lineno, f"{target}.{alias.name}"


def kit_module(name: str, known: set[str]) -> str | None:
    """The kit module ``name`` refers to (itself or its longest known prefix), else None."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def test_every_package_imports_only_downward() -> None:
    wrong: list[str] = []
    for path in kit_files():
        owner = path.relative_to(KIT).parts[0]
        for line, name in imported_modules(path):
            top = name.split(".")[0]
            if top in (*PACKAGES, "tests") and top != owner and top not in ALLOWED[owner]:
                wrong.append(f"{path.relative_to(KIT)}:{line} imports {name} ({owner} may import "
                             f"{sorted(ALLOWED[owner]) or 'nothing of the kit'})")
    assert not wrong, "imports that go up or sideways:\n" + "\n".join(wrong)


def test_no_import_cycle_between_files() -> None:
    files = kit_files()
    known = {module_name(p) for p in files}
    graph: dict[str, set[str]] = {m: set() for m in known}
    for path in files:
        here = module_name(path)
        for _, name in imported_modules(path):
            target = kit_module(name, known)
            # A package's __init__ is implied by importing its submodule; edges to one's own
            # package __init__ are not dependencies of substance.
            if target and target != here and not here.startswith(target + "."):
                graph[here].add(target)
    cycles = strongly_connected(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(sorted(c)) for c in cycles)


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the components with more than one module (the cycles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: set[str] = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_strongly_connected_finds_a_cycle() -> None:
    """The cycle detector itself can fail: a -> b -> a is found, a -> b is not."""
    assert strongly_connected({"a": {"b"}, "b": {"a"}, "c": set()}) == [{"a", "b"}]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def _sys_path_edits(tree: ast.AST) -> list[int]:
    lines: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name) \
                and node.value.id == "sys":
            parent_edit = False
            for outer in ast.walk(tree):
                if isinstance(outer, ast.Call) and isinstance(outer.func, ast.Attribute) \
                        and outer.func.value is node and outer.func.attr in {"insert", "append", "extend"}:
                    parent_edit = True
                if isinstance(outer, (ast.Assign, ast.AugAssign)):
                    targets = outer.targets if isinstance(outer, ast.Assign) else [outer.target]
                    for t in targets:
                        if t is node or (isinstance(t, ast.Subscript) and t.value is node):
                            parent_edit = True
            if parent_edit:
                lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", kit_files(), ids=lambda p: str(p.relative_to(KIT)))
def test_no_sys_path_edits_or_dunder_import(path: Path) -> None:
    tree = ast.parse(path.read_text())
    rel = str(path.relative_to(KIT))
    dunder = [n.lineno for n in ast.walk(tree)
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "__import__"]
    assert not dunder, f"{rel} calls __import__ at lines {dunder}: import by name instead"
    if rel not in SYS_PATH_ALLOWED:
        edits = _sys_path_edits(tree)
        assert not edits, f"{rel} edits sys.path at lines {edits}: install the package or load it by path"


def test_sys_path_detector_can_fail() -> None:
    assert _sys_path_edits(ast.parse("import sys\nsys.path.insert(0, 'x')\n")) == [2]
    assert _sys_path_edits(ast.parse("import sys\nsys.path[:0] = ['x']\n")) == [2]
    assert _sys_path_edits(ast.parse("import sys\nprint(sys.path)\n")) == []


def test_the_student_runtime_ships_whole() -> None:
    """The release copies ``dlnp/`` as a folder: every file in it is student-safe by construction."""
    from instructor.release import student_runtime_files

    shipped = {str(p) for p in student_runtime_files()}
    on_disk = {str(p.relative_to(KIT / "dlnp")) for p in (KIT / "dlnp").rglob("*.py") if "__pycache__" not in p.parts}
    assert shipped == on_disk
