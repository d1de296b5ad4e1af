"""Adding a chapter touches exactly the places ``docs/DESIGN.md`` lists, and all of them.

DESIGN.md keeps the list between ``<!-- chapter-places:start -->`` and
``<!-- chapter-places:end -->``: one table row per place, its path in backticks with
``{slug}`` (``ch3_4``) or ``{module}`` (a module of the chapter's functions) standing for
the chapter. This test reads that list, so the document is the rule:

* every chapter of the manifest has every listed place;
* every file in the kit that belongs to one chapter (its slug in the path) is one of
  the listed places, so a new kind of per-chapter file cannot be added silently.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from dlnp.manifest import Chapter, load_manifest

KIT = Path(__file__).resolve().parent.parent
MANIFEST = load_manifest()


def listed_places() -> list[str]:
    text = (KIT / "docs" / "DESIGN.md").read_text()
    block = re.search(r"<!-- chapter-places:start -->(.*?)<!-- chapter-places:end -->", text, re.S)
    assert block, "docs/DESIGN.md has no chapter-places block"
    places = re.findall(r"^\|\s*`([^`]+)`", block.group(1), re.M)
    assert places, "the chapter-places block lists no place"
    return places


def test_the_list_names_the_places_every_route_reads() -> None:
    places = listed_places()
    for needed in ("assignments/chapters.toml", "assignments/{slug}/README.md", "assignments/{slug}/test_{slug}.py",
                   "solutions/{module}.py", "autograder/graders/test_{slug}.py", "tests/mutants/{slug}.py"):
        assert needed in places, f"docs/DESIGN.md's chapter places omit {needed}"


@pytest.mark.parametrize("chapter", MANIFEST.chapters, ids=lambda c: c.id)
def test_every_chapter_has_every_place(chapter: Chapter) -> None:
    missing: list[str] = []
    for place in listed_places():
        if "{module}" in place:
            paths = [place.format(module=f.module) for f in chapter.functions]
        else:
            paths = [place.format(slug=chapter.slug)]
        missing += [p for p in paths if not (KIT / p).is_file()]
    assert not missing, f"chapter {chapter.id} lacks {missing} (docs/DESIGN.md: adding a chapter)"


def test_no_per_chapter_file_outside_the_list() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=KIT, capture_output=True, text=True, check=False).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    patterns = [re.compile("^" + re.escape(p).replace(r"\{slug\}", "ch[0-9_]+") + "$") for p in listed_places()
                if "{slug}" in p]
    slug_in_path = re.compile(r"(^|/)(test_)?ch\d+(_\d+)?(/|\.py$|\.md$|\.toml$)")
    strays = [f for f in tracked if slug_in_path.search(f) and not any(p.match(f) for p in patterns)
              and not f.startswith(("release/", "docs/"))]
    assert not strays, f"per-chapter files that docs/DESIGN.md's chapter places do not list: {strays}"
