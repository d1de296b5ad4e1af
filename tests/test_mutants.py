"""Every mutant of the corpus loses points with its diagnosis and costs nothing elsewhere;
every variant keeps full marks; feedback shows expected vs got and never leaks reference code."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from instructor.mutation import evaluate_mutant, evaluate_variant
from tests.mutants import Mutant, Variant, load_corpus

MUTANTS, VARIANTS = load_corpus()
_COUNTER = itertools.count()


@pytest.mark.parametrize("mutant", MUTANTS, ids=[f"{m.function}-{m.name}" for m in MUTANTS])
def test_mutant_is_killed_and_diagnosed(release: Path, tmp_path_factory: pytest.TempPathFactory,
                                        mutant: Mutant) -> None:
    result = evaluate_mutant(release, tmp_path_factory.getbasetemp() / f"mut{next(_COUNTER)}", mutant)
    assert result.killed, f"mutant survived: {mutant.function} / {mutant.name}"
    assert result.diagnosed, f"expected the diagnosis {mutant.diagnosis!r} in:\n{result.output}"
    assert result.contained, "a mistake in one function cost points to another function"
    assert "def " not in result.output, "feedback must not show code"


@pytest.mark.parametrize("variant", VARIANTS, ids=[f"{v.function}-{v.name}" for v in VARIANTS])
def test_variant_gets_full_marks(release: Path, tmp_path_factory: pytest.TempPathFactory, variant: Variant) -> None:
    result = evaluate_variant(release, tmp_path_factory.getbasetemp() / f"var{next(_COUNTER)}", variant)
    assert result.accepted, result.output


def test_every_graded_function_has_mutants_and_a_variant() -> None:
    from dlnp.manifest import load_manifest

    for name in load_manifest().function_names:
        assert any(m.function == name for m in MUTANTS), f"no mutant for {name}"
        assert any(v.function == name for v in VARIANTS), f"no correct variant for {name}"
