"""Make filled-in submissions from a release: for the demo, the kit's tests and mutants.

A submission is a copy of the release whose stubs are (partly) filled. Each graded
definition can be filled with the reference body, replaced by given source (a buggy
or alternative version), or left as a stub. Kit-only: never shipped to students.
"""

from __future__ import annotations

import ast
import shutil
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path

from dlnp.manifest import load_manifest

from .paths import SOLUTIONS


def _span(tree: ast.Module, name: str) -> tuple[int, int] | None:
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            first = min([node.lineno, *[d.lineno for d in node.decorator_list]])
            return first, node.end_lineno or node.lineno
    return None


def definition_source(source: str, name: str) -> str:
    """Source text of the top-level definition ``name`` (with decorators)."""
    span = _span(ast.parse(source), name)
    if span is None:
        raise KeyError(name)
    lines = source.splitlines(keepends=True)
    return "".join(lines[span[0] - 1 : span[1]])


def replace_definition(source: str, name: str, new_text: str) -> str:
    """Replace the top-level definition ``name`` in ``source`` by ``new_text``."""
    span = _span(ast.parse(source), name)
    if span is None:
        raise KeyError(f"{name} is not defined in this module")
    lines = source.splitlines(keepends=True)
    text = textwrap.dedent(new_text).strip("\n") + "\n"
    lines[span[0] - 1 : span[1]] = [text]
    return "".join(lines)


def _private_helpers(source: str) -> str:
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    parts: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name.startswith("_"):
            first = min([node.lineno, *[d.lineno for d in node.decorator_list]])
            parts.append("".join(lines[first - 1 : node.end_lineno]))
    return "\n\n".join(parts)


def make_submission(
    release: Path,
    dest: Path,
    implement: Iterable[str] | None = None,
    patches: Mapping[str, str] | None = None,
) -> Path:
    """Copy ``release`` to ``dest`` and fill it.

    ``implement``: names filled with the reference (``None`` = every graded name).
    ``patches``: name -> source of a replacement definition (wins over ``implement``).
    """
    manifest = load_manifest()
    patches = dict(patches or {})
    names = set(manifest.function_names if implement is None else implement) | set(patches)
    unknown = names - set(manifest.modules)
    if unknown:
        raise KeyError(f"not in the manifest: {sorted(unknown)}")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(release, dest, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    by_module: dict[str, list[str]] = {}
    for name in sorted(names):
        by_module.setdefault(manifest.modules[name], []).append(name)
    for module, module_names in by_module.items():
        target = dest / "neural_network" / f"{module}.py"
        reference = (SOLUTIONS / f"{module}.py").read_text()
        source = target.read_text()
        for name in module_names:
            text = patches[name] if name in patches else definition_source(reference, name)
            source = replace_definition(source, name, text)
        helpers = _private_helpers(reference)
        if helpers and any(n not in patches for n in module_names):
            source = source.rstrip("\n") + "\n\n\n" + helpers.rstrip("\n") + "\n"
        target.write_text(source)
    return dest


def patches_from_file(path: Path) -> dict[str, str]:
    """Every top-level definition in ``path`` whose name is graded, as a patch."""
    source = path.read_text()
    graded = set(load_manifest().modules)
    out: dict[str, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in graded:
            out[node.name] = definition_source(source, node.name)
    return out


def make_example(release: Path, example: Path, dest: Path) -> Path:
    """Build the bundled example ``example`` (a folder of ``examples/``) into ``dest``.

    ``example.toml`` says which chapters are filled with the reference
    (``chapters = "all"`` or a list of ids); every ``*.py`` file in the folder holds
    replacement definitions (the example's own, often wrong, versions).
    """
    import tomllib

    manifest = load_manifest()
    config = tomllib.loads((example / "example.toml").read_text())
    chosen = config.get("chapters", "all")
    ids = [c.id for c in manifest.chapters] if chosen == "all" else [str(c) for c in chosen]
    implement = {f.name for c in manifest.chapters if c.id in ids for f in c.functions}
    patches: dict[str, str] = {}
    for path in sorted(example.glob("*.py")):
        patches.update(patches_from_file(path))
    return make_submission(release, dest, implement, patches)
