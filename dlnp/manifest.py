"""The chapter manifest (``assignments/chapters.toml``): the one list of chapters.

Everything that needs to know which chapters exist (release, grading, ``dlnp check``,
the README table, notebooks) reads it through :func:`load_manifest`. In a student
release the same file is shipped next to the package, so this module works there too.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Function:
    """One function or class a student implements, as graded in one chapter."""

    name: str
    module: str
    points: int


@dataclass(frozen=True)
class Chapter:
    """One chapter: an assignment with its functions and hidden-grader points."""

    id: str
    title: str
    seed: str
    requires: tuple[str, ...]
    functions: tuple[Function, ...]

    @property
    def slug(self) -> str:
        """File-name form of the id: ``"3.4"`` -> ``"ch3_4"``."""
        return "ch" + self.id.replace(".", "_")

    @property
    def points(self) -> int:
        return sum(f.points for f in self.functions)


@dataclass(frozen=True)
class Manifest:
    chapters: tuple[Chapter, ...]

    def chapter(self, chapter_id: str) -> Chapter:
        for chapter in self.chapters:
            if chapter.id == chapter_id or chapter.slug == chapter_id:
                return chapter
        known = ", ".join(c.id for c in self.chapters)
        raise KeyError(f"unknown chapter {chapter_id!r}; chapters are: {known}")

    @property
    def modules(self) -> dict[str, str]:
        """Function name -> module name, over every chapter."""
        return {f.name: f.module for c in self.chapters for f in c.functions}

    @property
    def function_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for chapter in self.chapters:
            for function in chapter.functions:
                seen.setdefault(function.name, None)
        return list(seen)

    def chapter_of(self, function: str) -> str:
        """Id of the first chapter that grades ``function``."""
        for chapter in self.chapters:
            if any(f.name == function for f in chapter.functions):
                return chapter.id
        raise KeyError(function)

    @property
    def max_score(self) -> int:
        return sum(c.points for c in self.chapters)


_STUB_LABEL = re.compile(r"ch([\d.]+): implement (\w+)(?:\.(\w+))?")


def stub_label(chapter: str, name: str, method: str | None = None) -> str:
    """The message of a released stub's ``NotImplementedError``: ``"ch3.2: implement relu"``.

    A method of a class is ``"ch5.1: implement Linear.forward"``.
    """
    return f"ch{chapter}: implement {name}" + (f".{method}" if method else "")


def parse_stub_label(text: str) -> tuple[str, str] | None:
    """``(chapter, name)`` of a message written by :func:`stub_label`, else ``None``."""
    match = _STUB_LABEL.fullmatch(text.strip())
    return (match[1], match[2]) if match else None


def _parse(data: dict[str, Any]) -> Manifest:
    chapters: list[Chapter] = []
    raw_chapters: list[dict[str, Any]] = data.get("chapter", [])
    for raw in raw_chapters:
        raw_functions: list[dict[str, Any]] = raw.get("functions", [])
        functions = tuple(
            Function(name=str(f["name"]), module=str(f["module"]), points=int(f["points"]))
            for f in raw_functions
        )
        requires: list[Any] = raw.get("requires", [])
        chapters.append(
            Chapter(
                id=str(raw["id"]),
                title=str(raw["title"]),
                seed=str(raw.get("seed", "")),
                requires=tuple(str(r) for r in requires),
                functions=functions,
            )
        )
    return Manifest(tuple(chapters))


def find_manifest() -> Path:
    """Locate ``chapters.toml``: next to this package (kit or release), else from the cwd up."""
    here = Path(__file__).resolve().parent.parent
    bases = [here, *[p for p in [Path.cwd(), *Path.cwd().parents]]]
    for base in bases:
        for candidate in (base / "assignments" / "chapters.toml", base / "chapters.toml"):
            if candidate.is_file():
                return candidate
    raise FileNotFoundError("chapters.toml not found (run inside the kit or a student release)")


@lru_cache(maxsize=8)
def _load(path: Path) -> Manifest:
    with path.open("rb") as fh:
        return _parse(tomllib.load(fh))


def load_manifest(path: Path | None = None) -> Manifest:
    """Load the manifest (default: the kit's own, else the release's)."""
    return _load((path or find_manifest()).resolve())
