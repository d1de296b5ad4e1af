"""The manifest, the reference package and the hidden graders agree."""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from pathlib import Path

import pytest

from dlnp.manifest import Chapter, load_manifest

KIT = Path(__file__).resolve().parent.parent
MANIFEST = load_manifest()


def _public_names(module: str) -> set[str]:
    tree = ast.parse((KIT / "solutions" / f"{module}.py").read_text())
    return {n.name for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")}


def _grader_marks() -> dict[str, list[tuple[str, float, str]]]:
    """chapter -> [(function, points, test name)] from every hidden grader file."""
    marks: dict[str, list[tuple[str, float, str]]] = defaultdict(list)
    for path in sorted((KIT / "autograder" / "graders").glob("test_*.py")):
        module = importlib.import_module(f"autograder.graders.{path.stem}")
        chapter = str(module.CHAPTER)
        assert path.stem == f"test_{MANIFEST.chapter(chapter).slug}", f"{path.name} declares CHAPTER {chapter}"
        for name in dir(module):
            test = getattr(module, name)
            if name.startswith("test_") and callable(test):
                found = [m for m in getattr(test, "pytestmark", []) if m.name == "grade"]
                assert len(found) == 1, f"{path.name}::{name} needs exactly one @grade(function, points)"
                marks[chapter].append((found[0].kwargs["function"], float(found[0].kwargs["points"]), name))
    return marks


def test_chapter_ids_unique_and_requirements_known() -> None:
    ids = [c.id for c in MANIFEST.chapters]
    assert len(ids) == len(set(ids))
    for chapter in MANIFEST.chapters:
        for req in chapter.requires:
            assert req in ids and ids.index(req) < ids.index(chapter.id), f"{chapter.id} requires {req}"


def test_every_spec_chapter_is_listed() -> None:
    spec = ["0", "1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3", "3.4",
            "4.1", "4.2", "4.3", "4.4", "4.5", "5.1", "5.2"]
    assert [c.id for c in MANIFEST.chapters] == spec


@pytest.mark.parametrize("chapter", MANIFEST.chapters, ids=lambda c: c.id)
def test_reference_defines_exactly_the_manifest_functions(chapter: Chapter) -> None:
    for function in chapter.functions:
        assert function.name in _public_names(function.module), f"solutions/{function.module}.py lacks {function.name}"


def test_reference_modules_have_no_unlisted_public_names() -> None:
    listed = defaultdict(set)
    for name, module in MANIFEST.modules.items():
        listed[module].add(name)
    for path in sorted((KIT / "solutions").glob("[!_]*.py")):
        extra = _public_names(path.stem) - listed[path.stem]
        assert not extra, f"solutions/{path.name}: public names no chapter lists: {sorted(extra)}"


@pytest.mark.parametrize("chapter", MANIFEST.chapters, ids=lambda c: c.id)
def test_graders_cover_every_function_and_points_add_up(chapter: Chapter) -> None:
    marks = _grader_marks().get(chapter.id, [])
    assert marks, f"chapter {chapter.id} has no hidden grader file"
    points: dict[str, float] = defaultdict(float)
    for function, value, _ in marks:
        points[function] += value
    for function in chapter.functions:
        assert points.get(function.name, 0) == function.points, (
            f"{chapter.id} {function.name}: graders give {points.get(function.name, 0)} points, "
            f"the manifest says {function.points}"
        )
    unknown = set(points) - {f.name for f in chapter.functions}
    assert not unknown, f"graders of {chapter.id} grade functions the chapter does not list: {unknown}"


@pytest.mark.parametrize("chapter", MANIFEST.chapters, ids=lambda c: c.id)
def test_every_chapter_has_text_and_public_tests(chapter: Chapter) -> None:
    folder = KIT / "assignments" / chapter.slug
    assert (folder / "README.md").is_file(), f"{folder}/README.md missing"
    assert (folder / f"test_{chapter.slug}.py").is_file(), f"{folder}/test_{chapter.slug}.py missing"
