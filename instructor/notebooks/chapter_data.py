"""The notebook-only content of a chapter: ``assignments/<slug>/notebook.toml``.

The README is a chapter's text on every route; the notebook adds three things, kept
with the chapter as data (never in code):

``graders_call``
    functions of earlier chapters that the chapter's hidden graders call, so the
    notebook carries them over (beside those its own functions and examples use);
``[[task]]``
    ``readme`` / ``notebook`` pairs: where the README's "Your task" names a file of the
    package, the notebook names its answer cells. Each ``readme`` text must occur in
    that section, or the build fails (a README edit cannot silently leave it behind);
``[[example]]``
    the worked examples of the "Try it" part, one code cell each (``code``) or one
    Markdown cell (``markdown``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..stubs import BuildError

FILE = "notebook.toml"
_KEYS = {"graders_call", "task", "example"}


@dataclass(frozen=True)
class Example:
    """One cell of the "Try it" part: Python (``markdown=False``) or Markdown."""

    source: str
    markdown: bool = False


@dataclass(frozen=True)
class ChapterData:
    """The parsed ``notebook.toml`` of one chapter (empty if the chapter has none)."""

    graders_call: tuple[str, ...] = ()
    task: tuple[tuple[str, str], ...] = ()
    examples: tuple[Example, ...] = ()

    def notebook_task(self, text: str, where: str) -> str:
        """The README's "Your task" section ``text`` in the notebook's words."""
        for readme, notebook in self.task:
            if readme not in text:
                raise BuildError(f"{where}: the README's task section no longer says {readme!r}")
            text = text.replace(readme, notebook)
        return text


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items: list[Any] = value if isinstance(value, list) else [None]  # pyright: ignore[reportUnknownVariableType]
    if not all(isinstance(v, str) for v in items):
        raise BuildError(f"{where}: expected a list of strings")
    return tuple(str(v) for v in items)


def _table(entry: Any, keys: set[str], where: str) -> dict[str, str]:
    if not isinstance(entry, dict) or not set(entry) <= keys or not all(  # pyright: ignore[reportUnknownArgumentType]
            isinstance(v, str) for v in entry.values()):  # pyright: ignore[reportUnknownVariableType]
        raise BuildError(f"{where}: expected a table with string keys among {sorted(keys)}")
    return entry  # pyright: ignore[reportUnknownVariableType]


def load_chapter_data(folder: Path) -> ChapterData:
    """Read ``folder/notebook.toml`` (a chapter with no such file has no notebook-only content)."""
    path = folder / FILE
    if not path.exists():
        return ChapterData()
    data = tomllib.loads(path.read_text())
    unknown = set(data) - _KEYS
    if unknown:
        raise BuildError(f"{path}: unknown keys {sorted(unknown)}")
    task: list[tuple[str, str]] = []
    for entry in data.get("task", []):
        pair = _table(entry, {"readme", "notebook"}, f"{path} [[task]]")
        task.append((pair["readme"], pair["notebook"]))
    examples: list[Example] = []
    for entry in data.get("example", []):
        cell = _table(entry, {"code", "markdown"}, f"{path} [[example]]")
        if len(cell) != 1:
            raise BuildError(f"{path}: each [[example]] has either `code` or `markdown`")
        examples.append(Example(cell.get("code", cell.get("markdown", "")).strip("\n"), "markdown" in cell))
    return ChapterData(_strings(data.get("graders_call", []), f"{path} graders_call"), tuple(task), tuple(examples))
