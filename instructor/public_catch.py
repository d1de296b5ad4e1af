"""How strong is the students' self-check? Run the PUBLIC tests on the mutant corpus.

The hidden graders must kill every mutant of ``tests/mutants`` (``dlnp mutants``).
The public tests need not catch them all (they use a few hand-checkable inputs,
not the graders' random ones), but the more they catch, the fewer mistakes reach
hand-in. This module fills a fresh release with the reference solution, replaces one
function by a mutant (or a correct variant), runs the public tests of that
function's chapters with pytest, exactly as ``dlnp check`` does, and counts:

* a mutant is *caught* when at least one public test fails (or cannot load);
* a variant is *accepted* when every public test passes: a correct solution that the
  grader accepts must never fail locally.

Run ``dlnp mutants --public`` (or ``python -m instructor.public_catch``; ``--chapter 5.1``
or ``--function NAME`` to restrict it, ``--jobs N``). Kit-only (never shipped to students).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlnp.manifest import load_manifest
from dlnp.selfcheck import run_pytest

from .mutation import chapters_of, load_corpus
from .release import build_release
from .submissions import make_submission


@dataclass(frozen=True)
class PublicResult:
    """What the public tests said about one mutant or variant."""

    kind: str  # "mutant" or "variant"
    chapter: str
    function: str
    name: str
    failed: bool  # at least one public test of the function's chapters failed or could not load
    output: str

    @property
    def caught(self) -> bool:
        return self.kind == "mutant" and self.failed

    @property
    def accepted(self) -> bool:
        return self.kind == "variant" and not self.failed


def public_outcome(release: Path, work: Path, function: str, source: str) -> tuple[bool, str]:
    """``(failed, messages)`` of the public tests of ``function``'s chapters on a submission
    that is the reference except for ``function``, replaced by ``source``."""
    submission = make_submission(release, work, None, {function: source})
    try:
        slugs = [load_manifest().chapter(c).slug for c in chapters_of(function)]
        targets = [f"tests/test_{slug}.py" for slug in slugs]
        records, _ = run_pytest(submission, targets, timeout=600)
    finally:
        shutil.rmtree(submission, ignore_errors=True)
    failed = [r for r in records if r.outcome == "failed"]
    return bool(failed), "\n".join(f"{r.nodeid}: {r.message}" for r in failed)


def run_public(
    mutants: Iterable[Any], variants: Iterable[Any], progress: Callable[[str], None] | None = None, jobs: int = 1
) -> list[PublicResult]:
    """Public-test every mutant and variant against a freshly generated release, ``jobs`` at a time.

    Each item runs pytest in its own subprocess on its own submission folder, so threads
    are enough to keep ``jobs`` of them busy.
    """
    items = [("mutant", m) for m in mutants] + [("variant", v) for v in variants]
    with tempfile.TemporaryDirectory(prefix="dlnp-public-") as tmp:
        release = build_release(Path(tmp) / "release")

        def one(i: int) -> PublicResult:
            kind, item = items[i]
            failed, output = public_outcome(release, Path(tmp) / f"s{i}", item.function, item.source)
            if progress:
                progress(f"{kind} {item.function}: {item.name}: {'fails' if failed else 'passes'}")
            return PublicResult(kind, chapters_of(item.function)[0], item.function, item.name, failed, output)

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            return list(pool.map(one, range(len(items))))


def public_table(results: Sequence[PublicResult]) -> str:
    """Markdown table per chapter: mutants, caught by the public tests, variants the public tests accept."""
    rows = ["| chapter | mutants | caught by the public tests | variants passing the public tests |",
            "|---|---|---|---|"]
    total_m = total_c = total_a = total_v = 0
    for chapter in load_manifest().chapters:
        ms = [r for r in results if r.chapter == chapter.id and r.kind == "mutant"]
        vs = [r for r in results if r.chapter == chapter.id and r.kind == "variant"]
        if not ms and not vs:
            continue
        caught, accepted = sum(r.caught for r in ms), sum(r.accepted for r in vs)
        total_m, total_c, total_a, total_v = total_m + len(ms), total_c + caught, total_a + accepted, total_v + len(vs)
        share = f" ({100.0 * caught / len(ms):.0f}%)" if ms else ""
        rows.append(f"| {chapter.id} | {len(ms)} | {caught}{share} | {accepted}/{len(vs)} |")
    share = f" ({100.0 * total_c / total_m:.0f}%)" if total_m else ""
    rows.append(f"| all | {total_m} | {total_c}{share} | {total_a}/{total_v} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor.public_catch", description=__doc__)
    parser.add_argument("--function", action="append", help="only mutants/variants of this function (repeatable)")
    parser.add_argument("--chapter", action="append", help="only the functions of this chapter, e.g. 5.1 (repeatable)")
    parser.add_argument("--out", type=Path, help="also write the table (and the escapes) to this file")
    parser.add_argument("--kind", choices=("both", "mutants", "variants"), default="both",
                        help="what to run (default both)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--jobs", type=int, default=1, help="pytest runs in parallel (default 1)")
    args = parser.parse_args(argv)
    mutants, variants = load_corpus()
    if args.function:
        mutants = [m for m in mutants if m.function in args.function]
        variants = [v for v in variants if v.function in args.function]
    if args.chapter:
        names = {f.name for c in load_manifest().chapters if c.id in args.chapter for f in c.functions}
        mutants = [m for m in mutants if m.function in names]
        variants = [v for v in variants if v.function in names]
    mutants = mutants if args.kind != "variants" else []
    variants = variants if args.kind != "mutants" else []

    def progress(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    results = run_public(mutants, variants, progress, jobs=args.jobs)
    table = public_table(results)
    escaped = [f"- {r.function}: {r.name}" for r in results if r.kind == "mutant" and not r.caught]
    rejected = [f"- {r.function}: {r.name}\n{r.output}" for r in results if r.kind == "variant" and not r.accepted]
    text = table + "\n\nMutants the public tests miss (the hidden graders catch them):\n" + "\n".join(escaped)
    if rejected:
        text += "\n\nCORRECT variants that FAIL the public tests:\n" + "\n".join(rejected)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 1 if rejected else 0


if __name__ == "__main__":
    sys.exit(main())
