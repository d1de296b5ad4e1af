"""Chapter texts as students read them in a release: each links the previous and the next chapter."""

from __future__ import annotations

import re
from pathlib import Path

from dlnp.manifest import load_manifest

MANIFEST = load_manifest()
LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def test_every_chapter_links_its_neighbours(release: Path) -> None:
    chapters = list(MANIFEST.chapters)
    for i, chapter in enumerate(chapters):
        text = (release / "chapters" / f"{chapter.slug}.md").read_text()
        links = {target: label for label, target in LINK.findall(text)}
        for j, word in ((i - 1, "Previous"), (i + 1, "Next")):
            if 0 <= j < len(chapters):
                other = chapters[j]
                assert f"{other.slug}.md" in links, f"{chapter.slug}.md: no link to {word.lower()} {other.slug}.md"
                assert other.id in links[f"{other.slug}.md"] and f"{word}: [" in text
        for target in links:
            if not target.startswith(("http", "#")):
                assert (release / "chapters" / target).resolve().exists(), f"{chapter.slug}.md: dead link {target}"
