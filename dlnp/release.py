"""Generate the student release from the reference package and the manifest.

The release is a pip-installable project::

    neural_network/       the student package: every graded function/class as a typed stub
    dlnp/                 the student-side tools: ``dlnp check`` and the test helpers
    tests/                public self-check tests, one file per chapter
    chapters/             the chapter texts
    chapters.toml         the manifest (ids, titles, functions, points)
    pyproject.toml, README.md

Like nbgrader's preprocessors, generation is a list of small steps (``STEPS``), each
writing one part. It is deterministic (sorted inputs, no timestamps: the same kit gives
byte-identical output) and it refuses to build when the reference has a public
function the manifest does not list, so nothing unlisted can leak into the release.
"""

from __future__ import annotations

import ast
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .manifest import Manifest, load_manifest

KIT_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = KIT_ROOT / "solutions"
ASSIGNMENTS = KIT_ROOT / "assignments"
MARKER = ".dlnp-release"

#: Kit modules that are student-safe (no reference code) and ship in the release.
STUDENT_TOOLS = ("__init__.py", "__main__.py", "manifest.py", "testing.py", "selfcheck.py", "cli.py", "datasets.py",
                 "capstone.py", "commands/__init__.py", "commands/check.py", "commands/capstone.py")


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


def _body_replacement(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str],
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
                        edits.append(_body_replacement(item, lines, f"{label}.{item.name}"))
            else:
                edits.append(_body_replacement(node, lines, label))
    for start, end, text in sorted(edits, reverse=True):
        lines[start - 1 : end] = [text] if text else []
    out = "".join(lines)
    out = re.sub(r"\n{4,}", "\n\n\n", out)
    return out.rstrip("\n") + "\n"


def _labels(manifest: Manifest) -> dict[str, str]:
    labels: dict[str, str] = {}
    for chapter in manifest.chapters:
        for function in chapter.functions:
            labels.setdefault(function.name, f"ch{chapter.id}: implement {function.name}")
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
            _write(package / "__init__.py", _package_init(ctx.manifest))
        elif module.startswith("_"):
            _write(package / path.name, path.read_text())
        elif module in by_module:
            _write(package / path.name, stub_module(path.read_text(), by_module[module], module))
        else:
            raise BuildError(f"solutions/{path.name} is not used by any chapter of the manifest")
    missing = sorted(set(by_module) - {p.stem for p in ctx.solutions.glob("*.py")})
    if missing:
        raise BuildError(f"the manifest names modules with no reference file: {missing}")
    _write(package / "py.typed", "")


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


def write_tools(ctx: Context) -> None:
    """``dlnp/``: the student-safe part of the kit (self-check CLI and test helpers)."""
    source = ctx.kit_root / "dlnp"
    for rel in STUDENT_TOOLS:
        path = source / rel
        if path.exists():
            _write(ctx.out / "dlnp" / rel, path.read_text())
    shutil.copyfile(ctx.assignments / "chapters.toml", ctx.out / "chapters.toml")


def write_chapters(ctx: Context) -> None:
    """``chapters/<slug>.md`` texts and ``tests/test_<slug>.py`` public tests."""
    (ctx.out / "tests").mkdir(parents=True, exist_ok=True)
    _write(ctx.out / "tests" / "conftest.py", _CONFTEST)
    for chapter in ctx.manifest.chapters:
        folder = ctx.assignments / chapter.slug
        text = folder / "README.md"
        if text.exists():
            _write(ctx.out / "chapters" / f"{chapter.slug}.md", text.read_text())
        test = folder / f"test_{chapter.slug}.py"
        if test.exists():
            _write(ctx.out / "tests" / test.name, test.read_text())


def write_project(ctx: Context) -> None:
    """``pyproject.toml`` and the student ``README.md``."""
    _write(ctx.out / "pyproject.toml", _PYPROJECT)
    _write(ctx.out / "README.md", student_readme(ctx.manifest))
    _write(ctx.out / ".gitignore", "__pycache__/\n*.egg-info/\n.pytest_cache/\nbuild/\n")
    _write(ctx.out / MARKER, "generated by `dlnp release`; regenerate instead of editing\n")


STEPS: list[Callable[[Context], None]] = [write_package, write_tools, write_chapters, write_project]


def build_release(out: Path, manifest: Manifest | None = None, kit_root: Path = KIT_ROOT) -> Path:
    """Write the student release into ``out`` (replacing an earlier generated release)."""
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise BuildError(f"{out} is not empty and is not a generated release: refusing to overwrite it")
        for child in out.iterdir():
            if child.name == ".gitkeep":
                continue
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(manifest or load_manifest(), out, kit_root)
    for step in STEPS:
        step(ctx)
    return out


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def chapter_table(manifest: Manifest) -> str:
    """Markdown table of the chapters (used by both READMEs)."""
    rows = ["| chapter | title | you implement | points |", "|---|---|---|---|"]
    for c in manifest.chapters:
        names = ", ".join(f"`{f.name}`" for f in c.functions)
        rows.append(f"| {c.id} | {c.title} | {names} | {c.points} |")
    return "\n".join(rows)


def student_readme(manifest: Manifest) -> str:
    return f"""# Learn Deep Learning with NumPy — your workbook

You build your own small deep learning library, `neural_network`, one chapter at a
time. Every function is already there as a typed stub with a docstring that states
shapes and conventions; its body raises `NotImplementedError` until you write it.

## Set up (once)

```bash
python -m venv .venv && . .venv/bin/activate
pip install -e .
```

## Work on a chapter

1. Read `chapters/<chapter>.md` (for example `chapters/ch2_1.md`).
2. Fill in the functions it names in `neural_network/` (the docstring is the contract).
3. Check yourself:

```bash
dlnp check 2.1        # one chapter: a line per chapter, hints for failures
dlnp check            # every chapter
pytest tests/test_ch2_1.py   # the same public tests, through pytest
```

The public tests are a self-check. Your submission is graded by hidden tests on other,
random inputs, so make your code follow the docstring, not the examples.

## The capstone (chapter 4.5)

Once your functions pass their checks, train a real network with them:

```bash
dlnp capstone mlp     # 64 -> 256 -> 10 on the embedded digits, about 97% test accuracy
dlnp capstone cnn     # your conv_forward, max_pool and their backward passes
```

It prints your test accuracy after every epoch and writes `capstone/report.json` and
`capstone/curves.png`.

## Chapters

{chapter_table(manifest)}
"""


_CONFTEST = '''"""pytest configuration of the public self-check tests."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chapter(id): the chapter a public test belongs to")
'''

_PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "neural-network-workbook"
version = "0.1.0"
description = "Your own deep learning library, built with NumPy (Learn Deep Learning with NumPy)"
requires-python = ">=3.11"
dependencies = ["numpy>=1.26", "pytest>=8", "matplotlib>=3.8", "scikit-learn>=1.4"]

[project.scripts]
dlnp = "dlnp.cli:main"

[tool.setuptools]
packages = ["neural_network", "dlnp", "dlnp.commands"]

[tool.setuptools.package-data]
neural_network = ["py.typed"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
addopts = "-p no:cacheprovider"

[tool.ruff]
line-length = 110

[tool.ruff.lint.per-file-ignores]
"neural_network/*" = ["F401"]

[tool.pyright]
include = ["neural_network"]
typeCheckingMode = "strict"
reportUnusedImport = false
reportConstantRedefinition = false
"""

STEPS.append(lambda ctx: __import__("dlnp.notebooks", fromlist=["_"]).write_notebooks(ctx))  # notebooks/<slug>.ipynb
