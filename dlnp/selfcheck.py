"""``dlnp check``: run the public tests of a release and print one line per chapter.

Runs in the student's own process (their code, their machine): a plain pytest run
with a small plugin that sorts outcomes by chapter (from the test file name,
``tests/test_ch2_1.py`` -> chapter 2.1) and tells "not started" (every failure is a
``NotImplementedError``) from "failed".
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .manifest import Manifest, load_manifest


@dataclass
class ChapterOutcome:
    passed: int = 0
    failed: int = 0
    todo: int = 0
    skipped: int = 0
    messages: list[str] = field(default_factory=lambda: [])

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.todo

    @property
    def status(self) -> str:
        if self.total == 0:
            return "no tests"
        if self.todo == self.total:
            return "not started"
        if self.failed == 0 and self.todo == 0:
            return "passed"
        return "FAILED"


class _Collector:
    def __init__(self, manifest: Manifest) -> None:
        self.by_slug = {c.slug: c.id for c in manifest.chapters}
        self.outcomes: dict[str, ChapterOutcome] = {}

    def _chapter(self, nodeid: str) -> str:
        stem = Path(nodeid.split("::")[0]).stem.removeprefix("test_")
        return self.by_slug.get(stem, stem)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = self.outcomes.setdefault(self._chapter(report.nodeid), ChapterOutcome())
        if report.when == "call" or (report.when == "setup" and not report.passed):
            if report.passed:
                outcome.passed += 1
            elif report.skipped:
                outcome.skipped += 1
            elif "NotImplementedError" in str(report.longrepr):
                outcome.todo += 1
            else:
                outcome.failed += 1
                outcome.messages.append(_short_message(report))


def _short_message(report: pytest.TestReport) -> str:
    name = report.nodeid.split("::")[-1]
    crash = getattr(report.longrepr, "reprcrash", None)
    text = str(getattr(crash, "message", "") or report.longrepr)
    lines = [line for line in text.splitlines() if line.strip()][:8]
    return f"{name}: " + "\n      ".join(lines)


def run_check(release: Path, chapter: str | None = None, verbose: bool = False) -> int:
    """Run the public tests of ``release`` (one chapter or all); print the summary; exit code."""
    manifest = load_manifest()
    chapters = [manifest.chapter(chapter)] if chapter else list(manifest.chapters)
    tests = release / "tests"
    targets = [str(tests / f"test_{c.slug}.py") for c in chapters if (tests / f"test_{c.slug}.py").exists()]
    if not targets:
        print(f"no public tests found under {tests}: run `dlnp check` inside your release folder")
        return 2
    collector = _Collector(manifest)
    args = ["-q", "-p", "no:cacheprovider", "--rootdir", str(release), *targets]
    sink = io.StringIO()
    with contextlib.chdir(release), contextlib.redirect_stdout(sink):
        pytest.main(args, plugins=[collector])
    if verbose:
        print(sink.getvalue())
    worst = 0
    print(f"{'chapter':<8}{'title':<38}{'status':<13}public tests")
    for c in chapters:
        out = collector.outcomes.get(c.id, ChapterOutcome())
        print(f"{c.id:<8}{c.title[:36]:<38}{out.status:<13}{out.passed}/{out.total}")
        for message in out.messages:
            print("    " + message)
        if out.status == "FAILED":
            worst = 1
    return worst
