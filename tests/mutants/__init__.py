"""The mutant corpus: realistic wrong implementations (and correct alternatives).

One module per chapter, ``tests/mutants/ch<id>.py``, defining ``MUTANTS`` and
``VARIANTS``. Each mutant replaces ONE graded definition in an otherwise perfect
submission; the graders of every chapter that grades that function must take points
off, and the feedback must contain ``diagnosis`` (the name of the mistake). Each
variant is a correct implementation written differently (loops, einsum, another
stable formula) and must keep full marks.

``tests/test_mutants.py`` runs the corpus; ``dlnp mutants`` prints the kill rate.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    function: str
    name: str
    source: str
    diagnosis: str = ""  # text the feedback must contain ("" = killing is enough)


@dataclass(frozen=True)
class Variant:
    function: str
    name: str
    source: str


def load_corpus() -> tuple[list[Mutant], list[Variant]]:
    """Every mutant and variant of every chapter module in this package."""
    mutants: list[Mutant] = []
    variants: list[Variant] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        mutants += getattr(module, "MUTANTS", [])
        variants += getattr(module, "VARIANTS", [])
    return mutants, variants
