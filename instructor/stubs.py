"""Typed stubs from the reference: the student package ``neural_network/``.

For each function of the manifest the signature and docstring are kept byte for byte
and the body becomes ``raise NotImplementedError("ch3.2: implement relu")`` (the label
is :func:`dlnp.manifest.stub_label`); each method of a manifest class likewise; private
helpers are removed; support modules (``_types.py``) are copied verbatim. Used by the
release and by the notebooks.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from dlnp.manifest import Manifest, stub_label

from .paths import KIT_ROOT


class BuildError(RuntimeError):
    """The reference package and the manifest disagree."""


@dataclass(frozen=True)
class Context:
    manifest: Manifest
    out: Path
    kit_root: Path = KIT_ROOT

    @property
    def solutions(self) -> Path:
        return self.kit_root / "solutions"

    @property
    def assignments(self) -> Path:
        return self.kit_root / "assignments"


# ----------------------------------------------------------------------------- stubs


def _stub_line(indent: str, label: str) -> str:
    return f'{indent}raise NotImplementedError("{label}")\n'


def body_replacement(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str],
                      label: str) -> tuple[int, int, str]:
    """(first line, last line, text) replacing ``node``'s body after its docstring."""
    body = node.body
    first = body[0]
    has_doc = (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
               and isinstance(first.value.value, str))
    indent = re.match(r"\s*", lines[first.lineno - 1]).group(0)  # type: ignore[union-attr]
    end = node.end_lineno or first.lineno
    if has_doc:
        start = (first.end_lineno or first.lineno) + 1
    else:
        start = first.lineno
    return start, end, _stub_line(indent, label)


def stub_module(source: str, graded: dict[str, str], module: str) -> str:
    """Return ``source`` with every graded function/method body replaced by a stub.

    ``graded`` maps each public name of the module to its stub label (e.g.
    ``"ch2.1: implement mse_loss"``). Private top-level helpers (``_name``) are
    removed; any other public function or class is a :class:`BuildError`.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno, *[d.lineno for d in node.decorator_list]])
            if node.name.startswith("_"):
                edits.append((first, node.end_lineno or node.lineno, ""))
                continue
            if node.name not in graded:
                raise BuildError(
                    f"solutions/{module}.py defines public {node.name!r}, which no chapter of the "
                    "manifest lists: list it, or make it private (_name) so it is not released"
                )
            label = graded[node.name]
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        edits.append(body_replacement(item, lines, f"{label}.{item.name}"))
            else:
                edits.append(body_replacement(node, lines, label))
    for start, end, text in sorted(edits, reverse=True):
        lines[start - 1 : end] = [text] if text else []
    out = "".join(lines)
    out = re.sub(r"\n{4,}", "\n\n\n", out)
    return out.rstrip("\n") + "\n"


def _labels(manifest: Manifest) -> dict[str, str]:
    labels: dict[str, str] = {}
    for chapter in manifest.chapters:
        for function in chapter.functions:
            labels.setdefault(function.name, stub_label(chapter.id, function.name))
    return labels


# ----------------------------------------------------------------------------- steps


def write_package(ctx: Context) -> None:
    """``neural_network/``: stubs of every reference module, support modules verbatim."""
    labels = _labels(ctx.manifest)
    by_module: dict[str, dict[str, str]] = {}
    for name, module in ctx.manifest.modules.items():
        by_module.setdefault(module, {})[name] = labels[name]
    package = ctx.out / "neural_network"
    package.mkdir(parents=True, exist_ok=True)
    for path in sorted(ctx.solutions.glob("*.py")):
        module = path.stem
        if module == "__init__":
            write_text(package / "__init__.py", _package_init(ctx.manifest))
        elif module.startswith("_"):
            write_text(package / path.name, path.read_text())
        elif module in by_module:
            write_text(package / path.name, stub_module(path.read_text(), by_module[module], module))
        else:
            raise BuildError(f"solutions/{path.name} is not used by any chapter of the manifest")
    missing = sorted(set(by_module) - {p.stem for p in ctx.solutions.glob("*.py")})
    if missing:
        raise BuildError(f"the manifest names modules with no reference file: {missing}")
    write_text(package / "py.typed", "")


def _package_init(manifest: Manifest) -> str:
    modules: dict[str, list[str]] = {}
    for name, module in manifest.modules.items():
        modules.setdefault(module, []).append(name)
    body = "\n".join(f"    neural_network.{m:<15} {', '.join(names)}" for m, names in modules.items())
    return (
        '"""Your own deep learning library, built chapter by chapter.\n\n'
        "Import what you need from its modules, for example::\n\n"
        "    from neural_network.activations import sigmoid\n\n"
        f"Modules and the functions you implement in them::\n\n{body}\n\n"
        "This file imports nothing on purpose: a mistake in one module never stops the\n"
        'others from being tested.\n"""\n'
    )


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
