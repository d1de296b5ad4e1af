"""Every mutant of the corpus loses points with its diagnosis and costs nothing elsewhere;
every variant keeps full marks; feedback shows expected vs got and never leaks reference code."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from autograder.engine import grade_submission
from autograder.harness import FreshWorker, fresh_worker
from autograder.sandbox import Student
from dlnp.manifest import load_manifest
from instructor.mutation import chapters_of, evaluate_mutant, evaluate_variant
from instructor.submissions import make_submission
from tests.conftest import GradeFn
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
    for name in load_manifest().function_names:
        assert any(m.function == name for m in MUTANTS), f"no mutant for {name}"
        assert any(v.function == name for v in VARIANTS), f"no correct variant for {name}"


# ----------------------------------------------------------------------------- composition checks
# (fixtures from tests/conftest.py)

# A stateful cheat (issue 11, item 6): each graded function returns a wrong answer and
# remembers, in the process (a builtins attribute) and in its working folder (a file),
# that it did; afterwards the earlier functions answer so that the composition matches
# the wrong answer. Graded in the same long-lived worker, the cheat scored full marks.
_MEMORY = '''
import builtins, pathlib
def _cheated(tag):
    return getattr(builtins, "_cheat_" + tag, False) or pathlib.Path("cheat-" + tag).exists()
def _remember(tag):
    setattr(builtins, "_cheat_" + tag, True)
    try:
        pathlib.Path("cheat-" + tag).write_text("graded")
    except OSError:
        pass
'''

CHEATS = {
    "sigmoid": _MEMORY + '''
def sigmoid(Z):
    if _cheated("perceptron"):
        return np.zeros(np.shape(Z))
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + E), E / (1 + E))
''',
    "forward_perceptron": _MEMORY + '''
def forward_perceptron(X, W, b):
    _remember("perceptron")
    return np.zeros((X.shape[0], 1))
''',
    "relu": _MEMORY + '''
def relu(Z):
    return np.zeros(np.shape(Z)) if _cheated("mlp") else np.maximum(Z, 0)
''',
    "softmax": _MEMORY + '''
def softmax(Z):
    if _cheated("mlp"):
        return np.full(np.shape(Z), 1.0 / np.shape(Z)[-1])
    E = np.exp(Z - Z.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)
''',
    "forward_mlp": _MEMORY + '''
def forward_mlp(X, W1, b1, W2, b2):
    _remember("mlp")
    n, k = X.shape[0], W2.shape[1]
    return np.zeros((n, W1.shape[1])), np.full((n, k), 1.0 / k)
''',
    "relu_derivative": _MEMORY + '''
def relu_derivative(Z):
    return np.zeros_like(Z) if _cheated("backprop") else (Z > 0).astype(Z.dtype)
''',
    "backward_mlp": _MEMORY + '''
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    _remember("backprop")
    dZ2 = (A2 - y) / X.shape[0]
    return (np.zeros_like(W1), np.zeros((1, W1.shape[1])), A1.T @ dZ2, dZ2.sum(axis=0, keepdims=True))
''',
}


def test_stateful_cheat_cannot_answer_its_own_composition_checks(grade: GradeFn) -> None:
    """The earlier functions are honest in their own chapters; the composing ones score 0."""
    chapters = ["1.3", "3.1", "3.2", "3.3", "3.4"]
    graded = grade(chapters, patches=CHEATS)
    for earlier in ("sigmoid", "relu", "softmax", "relu_derivative"):
        assert graded.lost(earlier) == 0, graded.output(earlier)
    for cheat in ("forward_perceptron", "forward_mlp", "backward_mlp"):
        tests = graded.tests(cheat)
        assert tests and all(t["score"] == 0 for t in tests), (cheat, [(t["name"], t["score"]) for t in tests])


SCHEDULE_CHEATS = {
    "step_decay": _MEMORY + '''
def step_decay(epoch, initial_lr=0.1, drop=0.5, epochs_per_drop=10):
    if _cheated("fit"):
        return 0.123
    return initial_lr * drop ** (epoch // epochs_per_drop)
''',
    "fit": _MEMORY + '''
def fit(model, X, y, loss, optimizer, epochs=100, batch_size=32, X_val=None, y_val=None, patience=None,
        schedule=None, rng=None):
    _remember("fit")
    optimizer.lr = 0.123
    return {"loss": [1.0] * epochs, "val_loss": [], "lr": [0.123] * epochs}
''',
}


def test_stateful_cheat_cannot_answer_the_learning_rate_schedule_check(grade: GradeFn) -> None:
    """5.2: fit records a made-up learning rate, and step_decay echoes it once fit ran: step_decay keeps its
    points, the schedule test of fit scores 0 (its own step_decay is asked in a worker that never ran fit)."""
    graded = grade(["5.2"], patches=SCHEDULE_CHEATS)
    assert graded.lost("step_decay") == 0, graded.output("step_decay")
    schedule = [t for t in graded.tests("fit") if "schedule" in t["name"]]
    assert schedule and all(t["score"] == 0 for t in schedule), [(t["name"], t["score"]) for t in schedule]


def test_the_oracle_is_shared_by_one_graded_function_only(release: Path) -> None:
    """The composition worker is shared by the tests of ONE graded function (so it never runs the function
    being graded), replaced when the graded function changes, closed with the main worker; outside a
    grading every fresh_worker is a worker of its own."""
    main = Student(release, load_manifest().modules)
    try:
        with fresh_worker(main) as alone:
            assert alone._student() is not main.oracle() is None  # pyright: ignore[reportPrivateUsage]
        main.current_function = "forward_mlp"
        with fresh_worker(main) as first, fresh_worker(main) as second:
            assert first._student() is second._student() is main.oracle()  # pyright: ignore[reportPrivateUsage]
        shared = main.oracle()
        assert shared is not None and shared.scratch.exists(), "closing a fresh_worker keeps the shared oracle"
        main.current_function = "backward_mlp"
        replaced = main.oracle()
        assert replaced is not shared and not shared.scratch.exists(), "a new graded function, a new oracle"
    finally:
        main.close()
    assert replaced is not None and not replaced.scratch.exists(), "the oracle is closed with the main worker"


def test_the_same_cheat_wins_when_the_composition_is_asked_in_the_graded_worker(
        grade: GradeFn, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control for the test above: with the old design (earlier functions asked in the same long-lived
    worker after the graded call), this cheat scored full marks; the fresh worker is what stops it."""
    monkeypatch.setattr(FreshWorker, "_student", lambda self: self._main)  # pyright: ignore[reportPrivateUsage]
    monkeypatch.setattr(FreshWorker, "close", lambda self: None)
    graded = grade(["1.3", "3.1"], patches={name: CHEATS[name] for name in ("sigmoid", "forward_perceptron")})
    assert graded.lost("forward_perceptron") == 0, graded.output("forward_perceptron")


def test_the_schedule_cheat_wins_when_step_decay_is_asked_in_the_graded_worker(
        grade: GradeFn, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control for the schedule test above: asked in the worker that ran fit, the cheat scores the point."""
    monkeypatch.setattr(FreshWorker, "_student", lambda self: self._main)  # pyright: ignore[reportPrivateUsage]
    monkeypatch.setattr(FreshWorker, "close", lambda self: None)
    graded = grade(["5.2"], patches=SCHEDULE_CHEATS)
    schedule = [t for t in graded.tests("fit") if "schedule" in t["name"]]
    assert schedule and all(t["score"] == t["max_score"] for t in schedule), [(t["name"], t["score"]) for t in schedule]


def test_composition_is_still_accepted_for_an_honest_earlier_mistake(grade: GradeFn) -> None:
    """Score once: a perceptron built on a (consistently) wrong sigmoid loses only the sigmoid's points."""
    wrong_sigmoid = '''
def sigmoid(Z):
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, E / (1 + E), 1 / (1 + E))
'''
    graded = grade(["1.3", "3.1"], patches={"sigmoid": wrong_sigmoid})
    assert graded.lost("sigmoid") > 0
    assert graded.lost("forward_perceptron") == 0, graded.output("forward_perceptron")


# ----------------------------------------------------------------------------- fairness

SALTS = ("salt-one", "salt-two", "salt-three")


def _rounds(items: Sequence[Mutant] | Sequence[Variant]) -> list[dict[str, str]]:
    """Pack the corpus into submissions: round i patches the i-th item of every function at once."""
    by_function: dict[str, list[str]] = {}
    for item in items:
        by_function.setdefault(item.function, []).append(item.source)
    depth = max(len(sources) for sources in by_function.values())
    return [{f: sources[i] for f, sources in by_function.items() if i < len(sources)} for i in range(depth)]


ROUNDS = [("mutants", i, r) for i, r in enumerate(_rounds(MUTANTS))] + \
         [("variants", i, r) for i, r in enumerate(_rounds(VARIANTS))]


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("DLNP_LONG_TESTS"),
                    reason="grades the whole corpus under three salts (about 5 minutes on 2 cores): "
                           "set DLNP_LONG_TESTS=1")
@pytest.mark.parametrize("kind,index,patches", ROUNDS, ids=[f"{k}-{i}" for k, i, _ in ROUNDS])
def test_the_same_code_gets_the_same_score_under_any_salt(release: Path, tmp_path_factory: pytest.TempPathFactory,
                                                          kind: str, index: int, patches: dict[str, str]) -> None:
    """SPEC §5 Fairness: the hidden inputs change with the salt, the verdicts must not."""
    dest = tmp_path_factory.getbasetemp() / f"salt-{kind}-{index}"
    submission = make_submission(release, dest, None, patches)
    chapters = sorted({c for f in patches for c in chapters_of(f)})
    scores: list[dict[str, float]] = []
    for salt in SALTS:
        results = grade_submission(submission, chapters=chapters, salt=salt)
        scores.append({t["name"]: t["score"] for t in results["tests"]})
    moved = {name: [s[name] for s in scores] for name in scores[0] if len({s[name] for s in scores}) > 1}
    assert not moved, f"scores that depend on the salt ({kind} round {index}): {moved}"


# ----------------------------------------------------------------------------- score once

#: Functions that other functions' code calls (the reference package imports them, or a later
#: chapter's graders drive them): the channels through which one mistake could cost twice.
UPSTREAM = ("sigmoid", "mse_loss", "relu", "relu_derivative", "softmax",
            "Linear", "ReLU", "Sigmoid", "Tanh", "Softmax", "CrossEntropyLoss", "MSELoss", "BCELoss")


def _dependent_chapters(function: str) -> list[str]:
    """The chapters that grade ``function`` and every chapter that (transitively) requires one of them."""
    chapters = load_manifest().chapters
    found = set(chapters_of(function))
    grew = True
    while grew:
        more = {c.id for c in chapters if set(c.requires) & found} - found
        found |= more
        grew = bool(more)
    return [c.id for c in chapters if c.id in found]


SCORE_ONCE = [m for m in MUTANTS if m.function in UPSTREAM]


@pytest.mark.slow
@pytest.mark.parametrize("mutant", [
    pytest.param(m, id=f"{m.function}-{m.name}") for m in SCORE_ONCE])
def test_a_mistake_costs_points_only_where_its_function_is_graded(
        release: Path, tmp_path_factory: pytest.TempPathFactory, mutant: Mutant) -> None:
    """Score once, for every chapter (issue 14): later chapters grade against the student's own functions."""
    dest = tmp_path_factory.getbasetemp() / f"once{next(_COUNTER)}"
    submission = make_submission(release, dest, None, {mutant.function: mutant.source})
    results = grade_submission(submission, chapters=_dependent_chapters(mutant.function))
    own = [t for t in results["tests"] if t["extra_data"]["function"] == mutant.function]
    charged = [f"{t['name']}: {t['output'][:300]}" for t in results["tests"]
               if t["extra_data"]["function"] != mutant.function and t["score"] < t["max_score"]]
    assert any(t["score"] < t["max_score"] for t in own), "the mutant must still lose points in its own chapter"
    assert not charged, "the mistake cost points again in:\n" + "\n".join(charged)


@pytest.mark.parametrize("function,name,diagnoses", [
    ("backward_mlp", "no ReLU mask AND scalar bias gradients", ("missing ReLU mask", "(reduced too far)")),
    ("dropout", "drops with probability p AND a flattened mask",
     ("drop-vs-keep confusion", "must be an array of A's shape")),
])
def test_feedback_names_every_failing_aspect(release: Path, tmp_path_factory: pytest.TempPathFactory,
                                             function: str, name: str, diagnoses: tuple[str, ...]) -> None:
    """Two independent mistakes in one function: the feedback names both, not only the first met."""
    mutant = next(m for m in MUTANTS if (m.function, m.name) == (function, name))
    result = evaluate_mutant(release, tmp_path_factory.getbasetemp() / f"aspects{next(_COUNTER)}", mutant)
    for diagnosis in diagnoses:
        assert diagnosis in result.output, f"{diagnosis!r} missing from:\n{result.output}"
