"""Shared fixtures of the kit's own tests: a release built once, and grading helpers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from autograder.engine import grade_submission
from instructor.release import build_release
from instructor.submissions import make_submission

KIT_ROOT = Path(__file__).resolve().parent.parent

# Property tests explore new random examples on every local run; under tox (CI) they
# replay a fixed derivation of examples instead, so that CI passes or fails reproducibly.
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@dataclass
class Graded:
    """Results of one grading run, with the questions the kit's tests ask."""

    results: dict[str, Any]

    def score(self, chapter: str) -> float:
        return float(self.results["chapters"][chapter]["score"])

    def max_score(self, chapter: str) -> float:
        return float(self.results["chapters"][chapter]["max_score"])

    def full(self, chapter: str) -> bool:
        return self.max_score(chapter) > 0 and self.score(chapter) == self.max_score(chapter)

    def tests(self, function: str | None = None) -> list[dict[str, Any]]:
        return [t for t in self.results["tests"] if function is None or t["extra_data"]["function"] == function]

    def lost(self, function: str) -> float:
        return sum(t["max_score"] - t["score"] for t in self.tests(function))

    def output(self, function: str | None = None) -> str:
        return "\n".join(t["output"] for t in self.tests(function) if t["status"] != "passed")

    def outcomes(self, function: str | None = None) -> set[str]:
        return {t["extra_data"]["outcome"] for t in self.tests(function)}


GradeFn = Callable[..., Graded]


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly generated student release (built once per test session)."""
    return build_release(tmp_path_factory.mktemp("kit") / "release")


@pytest.fixture(scope="session")
def grade(release: Path, tmp_path_factory: pytest.TempPathFactory) -> GradeFn:
    """``grade(chapters, patches={name: source}, implement=None) -> Graded``.

    Builds a submission from the release (reference everywhere unless ``implement``
    says otherwise, ``patches`` replacing definitions) and grades ``chapters``.
    """
    counter = iter(range(10**6))

    def run(chapters: Iterable[str] | str, patches: Mapping[str, str] | None = None,
            implement: Iterable[str] | None = None) -> Graded:
        chapter_list = [chapters] if isinstance(chapters, str) else list(chapters)
        dest = tmp_path_factory.getbasetemp() / "submissions" / f"s{next(counter)}"
        make_submission(release, dest, implement, patches)
        return Graded(grade_submission(dest, chapters=chapter_list))

    return run
