"""Every mutant of the corpus loses points with its diagnosis; every variant keeps full marks."""

from __future__ import annotations

import pytest

from dlnp.manifest import load_manifest
from tests.conftest import GradeFn
from tests.mutants import Mutant, Variant, load_corpus

MUTANTS, VARIANTS = load_corpus()


def chapters_of(function: str) -> list[str]:
    return [c.id for c in load_manifest().chapters if any(f.name == function for f in c.functions)]


@pytest.mark.parametrize("mutant", MUTANTS, ids=[f"{m.function}-{m.name}" for m in MUTANTS])
def test_mutant_is_killed_and_diagnosed(grade: GradeFn, mutant: Mutant) -> None:
    graded = grade(chapters_of(mutant.function), patches={mutant.function: mutant.source})
    assert graded.lost(mutant.function) > 0, f"mutant survived: {mutant.function} / {mutant.name}"
    assert mutant.diagnosis in graded.output(mutant.function), graded.output(mutant.function)
    others = [t for t in graded.tests() if t["extra_data"]["function"] != mutant.function]
    assert all(t["score"] == t["max_score"] for t in others), "a mistake in one function cost points elsewhere"


@pytest.mark.parametrize("variant", VARIANTS, ids=[f"{v.function}-{v.name}" for v in VARIANTS])
def test_variant_gets_full_marks(grade: GradeFn, variant: Variant) -> None:
    graded = grade(chapters_of(variant.function), patches={variant.function: variant.source})
    assert graded.lost(variant.function) == 0, graded.output(variant.function)
