"""The public self-check inside a chapter notebook.

Every autograded cell of a released notebook calls, for its function::

    from dlnp.notebook_check import check
    check("2.1", "mse_loss", globals())

:func:`check` runs the chapter's public tests (``test_ch2_1.py``, the file ``dlnp
check`` runs) on the functions the notebook defines, in the notebook's own kernel: a
package ``neural_network`` is put together in memory from the notebook's namespace
(each function or class in the module the manifest names; one the notebook does not
define is "not implemented yet"), the tests that use the
function are run by pytest in this process, and the report of ``dlnp check`` is
printed. If a check fails, :class:`SelfCheckFailed` is raised, so the cell shows an
error (and ``nbgrader validate`` reports it); its message is the report alone.

This is a self-check, run by the student on their own machine: the score comes from
the hidden graders on the instructor's side, never from this cell.

The test file is looked up next to the notebook (an nbgrader assignment folder holds
``test_<slug>.py``), then in ``tests/`` of the notebook's folder and of its parents
(a release checkout: ``notebooks/`` beside ``tests/``).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import sys
import types
from collections.abc import Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from .manifest import Chapter, Manifest, load_manifest, stub_label
from .selfcheck import Recorder, build_report, render

PACKAGE = "neural_network"


class SelfCheckFailed(AssertionError):
    """A failed public check, shown in the notebook as its report alone (no traceback)."""

    def _render_traceback_(self) -> list[str]:
        return str(self).splitlines()


def find_tests(chapter: Chapter, start: Path | None = None) -> Path | None:
    """The public test file of ``chapter`` near the notebook's folder ``start`` (default: cwd)."""
    folder = (start or Path.cwd()).resolve()
    name = f"test_{chapter.slug}.py"
    candidates = [folder / name, *(parent / "tests" / name for parent in (folder, *folder.parents))]
    return next((path for path in candidates if path.is_file()), None)


def test_owners(test_file: Path, order: Sequence[str]) -> dict[str, tuple[str, set[str]]]:
    """Per test function of ``test_file``: the function whose check runs it, and the functions it uses.

    A test uses a function of the chapter when its body (decorators included), or a
    helper of the file that it calls, refers to the function's name. In the notebook
    each function's check comes right after its answer cell, before the later ones are
    written, so a test runs with the *last* function it uses in chapter order
    (``order``): a test of ``Linear`` and ``Softmax`` together runs in ``Softmax``'s
    check. A test that uses none of them runs with the chapter's first function.
    """
    tree = ast.parse(test_file.read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}

    def uses(name: str, seen: set[str]) -> set[str]:
        seen.add(name)
        refs = {n.id for n in ast.walk(functions[name]) if isinstance(n, ast.Name)}
        found = refs & set(order)
        for ref in refs:
            if ref in functions and ref not in seen:
                found |= uses(ref, seen)
        return found

    owners: dict[str, tuple[str, set[str]]] = {}
    for name in (n for n in functions if n.startswith("test")):
        used = uses(name, set())
        owners[name] = (max(used, key=order.index) if used else order[0], used)
    return owners


def select_tests(test_file: Path, function: str | None, order: Sequence[str]) -> list[str]:
    """Names of the tests that :func:`check` runs for ``function`` (``None``: every test)."""
    return [name for name, (owner, _) in test_owners(test_file, order).items() if function in (None, owner)]


def _labelled(obj: Any, chapter: str, name: str) -> Any:
    """``obj`` whose bare ``NotImplementedError`` (the notebook's stub) says what to implement.

    The released stub of a notebook raises ``NotImplementedError()``; ``dlnp check``
    tells "not started yet" from a mistake by the stub's label (``"ch2.1: implement
    mse_loss"``), so calls are relabelled the same way.
    """
    def wrap(fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except NotImplementedError as exc:
                if exc.args:
                    raise
                raise NotImplementedError(label) from None
        return call

    if isinstance(obj, type):
        methods = {key: wrap(value, stub_label(chapter, name, key)) for key, value in vars(obj).items()
                   if isinstance(value, types.FunctionType)}
        return type(obj.__name__, (obj,), {**methods, "__module__": obj.__module__})
    if isinstance(obj, types.FunctionType):
        return wrap(obj, stub_label(chapter, name))
    return obj


def _missing(label: str) -> Callable[..., Any]:
    """Stands for a function the notebook does not define: it is not implemented yet."""
    def missing(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(label)
    return missing


@contextlib.contextmanager
def _package(namespace: Mapping[str, Any], manifest: Manifest) -> Generator[None]:
    """``neural_network`` and its modules in ``sys.modules``, made of ``namespace``; restored after."""
    saved = {k: v for k, v in sys.modules.items() if k == PACKAGE or k.startswith(PACKAGE + ".")}
    for key in saved:
        del sys.modules[key]
    package = types.ModuleType(PACKAGE)
    package.__path__ = []
    sys.modules[PACKAGE] = package
    for name, module in manifest.modules.items():
        full = f"{PACKAGE}.{module}"
        if full not in sys.modules:
            sys.modules[full] = types.ModuleType(full)
            setattr(package, module, sys.modules[full])
        label = stub_label(manifest.chapter_of(name), name)
        value = _labelled(namespace[name], manifest.chapter_of(name), name) if name in namespace else _missing(label)
        setattr(sys.modules[full], name, value)
    try:
        yield
    finally:
        for key in [k for k in sys.modules if k == PACKAGE or k.startswith(PACKAGE + ".")]:
            del sys.modules[key]
        sys.modules.update(saved)


def run(chapter_id: str, function: str | None, namespace: Mapping[str, Any],
        start: Path | None = None) -> tuple[bool, str]:
    """Run the public checks of ``function`` (every function if ``None``): ``(passed, report)``.

    ``passed`` only when every check ran and passed: a stub, or a check waiting for an
    earlier chapter's function, is not a pass.
    """
    manifest = load_manifest()
    chapter = manifest.chapter(chapter_id)
    test_file = find_tests(chapter, start)
    if test_file is None:
        return False, (f"The public tests of chapter {chapter.id} (test_{chapter.slug}.py) are not next to "
                       "this notebook nor in a tests/ folder above it: open the notebook from its course "
                       "folder or from your release.")
    order = [f.name for f in chapter.functions]
    selected = select_tests(test_file, function, order)
    if not selected:
        later = sorted({owner for owner, used in test_owners(test_file, order).values() if function in used},
                       key=order.index)
        where = f"with the self-check of {', '.join(later)} below" if later else "in no public test"
        return True, f"{function}: its public checks run {where}."
    recorder = Recorder(test_file.parent)
    module_name = test_file.stem
    args = ["-q", "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnknownMarkWarning",
            "--rootdir", str(test_file.parent), *[f"{test_file}::{name}" for name in selected]]
    sys.modules.pop(module_name, None)
    sink = io.StringIO()
    with _package(namespace, manifest), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        pytest.main(args, plugins=[recorder])
    sys.modules.pop(module_name, None)
    report = build_report(recorder.records, [chapter], [], all_chapters=False)
    result = report.chapters[0]
    text = render(report, manifest)
    if function:  # its verdict first (nbgrader validate shows the first lines), then dlnp check's details
        details = text.split("\n\n")[0].splitlines()[2:]
        text = "\n".join([f"{function}: {result.status}, {len(result.passed)} of {result.total} public checks "
                          "pass", *details])
    return result.status == "passed", text


def check(chapter: str, function: str | None, namespace: Mapping[str, Any]) -> None:
    """Print the public self-check of ``function`` of ``chapter``; raise :class:`SelfCheckFailed` if it fails."""
    ok, text = run(chapter, function, namespace)
    if not ok:
        raise SelfCheckFailed(text)
    print(text)
