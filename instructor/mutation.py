"""Mutation testing of the graders: grade every mutant and variant of ``tests/mutants``.

A mutant is *killed* when it loses points in its function's chapters, *diagnosed*
when the feedback contains its expected diagnosis, and *contained* when it costs no
points to any other function. A variant is *accepted* when it keeps full marks.
Kit-only (never shipped to students).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.results import GradingResults, TestResult
from dlnp.manifest import load_manifest

from .paths import MUTANTS
from .submissions import make_submission


@dataclass(frozen=True)
class MutantResult:
    chapter: str
    function: str
    name: str
    killed: bool
    diagnosed: bool
    contained: bool
    output: str


@dataclass(frozen=True)
class VariantResult:
    chapter: str
    function: str
    name: str
    accepted: bool
    output: str


def load_corpus(folder: Path = MUTANTS) -> tuple[list[Any], list[Any]]:
    """``(mutants, variants)`` of the corpus package in ``folder`` (default ``tests/mutants``).

    The corpus is a package of chapter modules with relative imports; it is loaded from
    its path under a private name, so neither the kit root nor ``tests`` needs to be
    importable.
    """
    name = "_dlnp_mutant_corpus"
    module = sys.modules.get(name)
    if module is None or Path(module.__file__ or "").parent != folder.resolve():
        spec = importlib.util.spec_from_file_location(name, folder.resolve() / "__init__.py",
                                                      submodule_search_locations=[str(folder.resolve())])
        if spec is None or spec.loader is None:
            raise FileNotFoundError(f"no mutant corpus in {folder}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    corpus: tuple[list[Any], list[Any]] = module.load_corpus()
    return corpus


def chapters_of(function: str) -> list[str]:
    return [c.id for c in load_manifest().chapters if any(f.name == function for f in c.functions)]


def _grade(release: Path, work: Path, function: str, source: str) -> GradingResults:
    from autograder.engine import grade_submission

    sub = make_submission(release, work, None, {function: source})
    return grade_submission(sub, chapters=chapters_of(function))


def _tests(results: GradingResults, function: str, mine: bool) -> list[TestResult]:
    return [t for t in results["tests"] if (t["extra_data"]["function"] == function) == mine]


def evaluate_mutant(release: Path, work: Path, mutant: Any) -> MutantResult:
    results = _grade(release, work, mutant.function, mutant.source)
    own = _tests(results, mutant.function, True)
    others = _tests(results, mutant.function, False)
    output = "\n".join(t["output"] for t in own if t["status"] != "passed")
    return MutantResult(
        chapter=chapters_of(mutant.function)[0],
        function=mutant.function,
        name=mutant.name,
        killed=sum(t["max_score"] - t["score"] for t in own) > 0,
        diagnosed=bool(mutant.diagnosis) and mutant.diagnosis in output,
        contained=all(t["score"] == t["max_score"] for t in others),
        output=output,
    )


def evaluate_variant(release: Path, work: Path, variant: Any) -> VariantResult:
    results = _grade(release, work, variant.function, variant.source)
    own = _tests(results, variant.function, True)
    return VariantResult(
        chapter=chapters_of(variant.function)[0],
        function=variant.function,
        name=variant.name,
        accepted=all(t["score"] == t["max_score"] for t in own) and bool(own),
        output="\n".join(t["output"] for t in own if t["status"] != "passed"),
    )


def _evaluate(kind: str, release: Path, work: Path, item: Any) -> MutantResult | VariantResult:
    if kind == "mutant":
        return evaluate_mutant(release, work, item)
    return evaluate_variant(release, work, item)


def run_corpus(
    mutants: Iterable[Any],
    variants: Iterable[Any],
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
) -> tuple[list[MutantResult], list[VariantResult]]:
    """Grade every mutant and variant against a freshly generated release (``jobs`` processes)."""
    from concurrent.futures import ProcessPoolExecutor

    from .release import build_release

    items = [("mutant", m) for m in mutants] + [("variant", v) for v in variants]
    with tempfile.TemporaryDirectory(prefix="dlnp-mutants-") as tmp:
        release = build_release(Path(tmp) / "release")
        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(_evaluate, kind, release, Path(tmp) / f"s{i}", item)
                       for i, (kind, item) in enumerate(items)]
            results: list[MutantResult | VariantResult] = []
            for future, (_, item) in zip(futures, items, strict=True):
                results.append(future.result())
                if progress:
                    progress(f"{item.function}: {item.name}")
    m_results = [r for r in results if isinstance(r, MutantResult)]
    v_results = [r for r in results if isinstance(r, VariantResult)]
    return m_results, v_results


def report_table(m_results: list[MutantResult], v_results: list[VariantResult]) -> str:
    """Markdown table per chapter: mutants, killed, diagnosed by name, variants accepted."""
    rows = ["| chapter | mutants | killed | diagnosed by name | variants accepted |", "|---|---|---|---|---|"]
    totals = [0, 0, 0, 0, 0]
    for chapter in load_manifest().chapters:
        ms = [r for r in m_results if r.chapter == chapter.id]
        vs = [r for r in v_results if r.chapter == chapter.id]
        if not ms and not vs:
            continue
        row = [len(ms), sum(r.killed for r in ms), sum(r.diagnosed for r in ms), sum(r.accepted for r in vs), len(vs)]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        rows.append(f"| {chapter.id} | {row[0]} | {row[1]} | {row[2]} | {row[3]}/{row[4]} |")
    rate = 100.0 * totals[1] / totals[0] if totals[0] else 0.0
    rows.append(f"| all | {totals[0]} | {totals[1]} ({rate:.0f}%) | {totals[2]} | {totals[3]}/{totals[4]} |")
    return "\n".join(rows)
