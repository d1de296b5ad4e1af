"""Module 4 graders (chapters 4.1-4.5) as a whole.

Each function's buggy versions and alternative correct versions live in the mutant
corpus (``tests/mutants/ch4_*.py``, run by ``tests/test_mutants.py``). Here: the
reference and an all-loops student keep full marks, a student who makes several
Module 4 mistakes at once loses exactly those functions' points with every mistake
named, and the loop implementations stay well inside the time limits.
"""

from __future__ import annotations

import time

from tests.conftest import GradeFn
from tests.mutants import load_corpus

MODULE4 = ["4.1", "4.2", "4.3", "4.4", "4.5"]
MUTANTS, VARIANTS = load_corpus()
FUNCTIONS = {
    "forward_mlp_3layer", "backward_mlp_3layer", "gradient_norms_per_layer", "conv2d", "conv_forward",
    "conv_backward", "max_pool", "max_pool_backward", "l2_regularization", "l2_gradient", "dropout",
    "momentum_update", "accuracy",
}


def test_reference_gets_full_marks_in_module4(grade: GradeFn) -> None:
    graded = grade(MODULE4)
    failing = [f"{t['name']}: {t['output'][:300]}" for t in graded.tests() if t["status"] != "passed"]
    assert not failing, "\n".join(failing)
    assert [graded.max_score(c) for c in MODULE4] == [20, 20, 12, 10, 8]


def test_loop_implementations_get_full_marks_quickly(grade: GradeFn) -> None:
    loops = {v.function: v.source for v in VARIANTS if v.function in FUNCTIONS}
    assert set(loops) == FUNCTIONS, f"every Module 4 function needs a variant; missing {FUNCTIONS - set(loops)}"
    start = time.perf_counter()
    graded = grade(MODULE4, patches=loops)
    seconds = time.perf_counter() - start
    failing = [f"{t['name']}: {t['output'][:300]}" for t in graded.tests() if t["status"] != "passed"]
    assert not failing, "\n".join(failing)
    assert seconds < 60, f"grading loop versions of Module 4 took {seconds:.0f} s"


def test_several_mistakes_at_once_are_each_named_and_contained(grade: GradeFn) -> None:
    picks = {
        "conv2d": "kernel flipped",
        "max_pool_backward": "gradient to all ties",
        "dropout": "drop-vs-keep confusion",
        "momentum_update": "sign conventions",
    }
    chosen = {m.function: m for m in MUTANTS if m.function in picks and m.diagnosis == picks[m.function]}
    assert set(chosen) == set(picks)
    graded = grade(MODULE4, patches={name: m.source for name, m in chosen.items()})
    for name, diagnosis in picks.items():
        assert graded.lost(name) > 0, name
        assert diagnosis in graded.output(name), graded.output(name)
        assert "expected" in graded.output(name) or "expected about" in graded.output(name)
    for name in FUNCTIONS - set(picks):
        assert graded.lost(name) == 0, f"{name} lost points because of another function's mistake"
