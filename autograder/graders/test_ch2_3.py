"""Hidden graders, chapter 2.3: gradient_descent with mini-batches (rng) and an activation.

Pinned: each epoch draws ``perm = rng.permutation(n)`` and takes consecutive batches of
``perm`` (the last one possibly smaller); gradients in error form over each batch with
its own size m; one loss per epoch on the full data. The activation is passed as
``Fixture("logistic")`` (not the student's sigmoid, graded in chapter 1.3) and the losses
as kit fixtures (not the student's chapter 2.1 losses).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograder.graders.test_ch2_2 import (
    FULL_BATCH_MISTAKES,
    check_training,
    mistakes_for,
    reference_gd,
    regression_problem,
)
from autograder.harness import Fixture, Student, grade, seed_from
from autograder.toolbox import Array
from dlnp.testing import Feedback, check_tuple, describe

CHAPTER = "2.3"


MINIBATCH_MISTAKES: list[tuple[str, dict[str, Any], str]] = [
    *FULL_BATCH_MISTAKES,
    ("divided by batch_size", {"divide": "batch_size"},
     "You divided by the nominal batch_size; divide by the ACTUAL size m of each batch (the last one is "
     "smaller when batch_size does not divide n)."),
    ("last partial batch dropped", {"drop_last": True},
     "You skipped the last, smaller batch; it must be used too (perm[k*B:(k+1)*B] for every k, the last one "
     "possibly shorter)."),
    ("shuffled once", {"shuffle": "once"},
     "You shuffled once before the epochs; draw a new perm = rng.permutation(n) at the start of EACH epoch."),
    ("permutation per batch", {"shuffle": "per batch"},
     "You drew a new permutation for every batch; draw ONE perm = rng.permutation(n) per epoch and cut it "
     "into consecutive batches."),
    ("X and y shuffled differently", {"shuffle": "separate"},
     "X and y were shuffled with two different permutations, so samples lost their labels: index both with "
     "the same perm."),
    ("loss of the last batch", {"loss_on": "last batch"},
     "loss_history[k] must be loss_fn on the FULL data after epoch k, not the loss of the epoch's last batch."),
    ("mean of the batch losses", {"loss_on": "batch mean"},
     "loss_history[k] must be loss_fn on the FULL data after epoch k, not the average of the batch losses."),
]

ACTIVATION_MISTAKES: list[tuple[str, dict[str, Any], str]] = [
    ("activation ignored", {"activation_in_grad": False, "activation_in_loss": False},
     "The model output is A = activation_fn(X @ W + b); you used X @ W + b."),
    ("activation ignored in the gradient", {"activation_in_grad": False},
     "The error in the gradient is A - y with A = activation_fn(Xb @ W + b), not the linear output."),
    ("activation missing in the loss", {"activation_in_loss": False},
     "The recorded loss must be loss_fn(activation_fn(X @ W + b), y): apply the activation there too."),
    ("sigmoid derivative", {"sigmoid_derivative": True},
     "You multiplied the error by the sigmoid's derivative A(1 - A). For sigmoid + cross-entropy it cancels; "
     "the docstring pins the error form X^T(A - y)/m."),
]

_NOT_FROM_RNG = (
    "Likely mistake (shuffle not from rng) two calls with the SAME seed gave different results, so the "
    "shuffle does not come from the rng argument (np.random.shuffle / np.random.permutation use NumPy's "
    "global generator, np.random.default_rng() makes a new one): use perm = rng.permutation(n)."
)


def _n_and_batch(rng: np.random.Generator) -> tuple[int, int]:
    """n and a batch size that does NOT divide n (so the last batch is smaller)."""
    while True:
        n, batch = int(rng.integers(9, 30)), int(rng.integers(2, 7))
        if n % batch:
            return n, batch


def _partial_batch(rng: np.random.Generator, n: int, low: int, high: int) -> int:
    """A batch size in [low, high) that does NOT divide n, so the last batch is always smaller:
    mistakes about the last batch show whatever the seed."""
    sizes = [size for size in range(low, high) if n % size]
    return int(rng.choice(sizes)) if sizes else low


def _regression(rng: np.random.Generator) -> tuple[Array, Array, Array, Array, int]:
    n, batch = _n_and_batch(rng)
    while True:
        X, y, W, b = regression_problem(rng)
        if X.shape[0] >= n:
            return X[:n], y[:n], W, b, batch


def _blobs(rng: np.random.Generator) -> tuple[Array, Array]:
    """Two well separated Gaussian blobs in 2-D, labels 0/1 as a column (n, 1)."""
    n_half = int(rng.integers(6, 15))
    direction = rng.normal(size=2)
    direction *= 2.5 / np.linalg.norm(direction)
    X = np.vstack([rng.normal(size=(n_half, 2)) * 0.5 + direction, rng.normal(size=(n_half, 2)) * 0.5 - direction])
    y = np.vstack([np.ones((n_half, 1)), np.zeros((n_half, 1))])
    order = rng.permutation(2 * n_half)
    return X[order], y[order]


def _same(a: Any, b: Any) -> bool:
    try:
        return all(np.array_equal(np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64))
                   for u, v in zip(a[:2], b[:2], strict=True))
    except (TypeError, ValueError, IndexError):
        return False


def _check_minibatch(student: Student, args: tuple[Any, ...], kwargs: dict[str, Any], *, name: str,
                     table: list[tuple[str, dict[str, Any], str]]) -> Any:
    """Run the student with a Seed, compare with the reference on the same seed, diagnose; return the result."""
    got = student.call("gradient_descent", *args, **kwargs)
    n, epochs, batch = args[0].shape[0], args[5], kwargs.get("batch_size")
    batches = 1 if batch is None else -(-n // batch)
    try:
        check_training(got, reference_gd(*args, **kwargs), name=name, epochs=epochs, batches=batches,
                       mistakes=mistakes_for(None, table, args, kwargs))
    except Feedback as failure:
        if "Likely mistake" not in str(failure) and not _same(got, student.call("gradient_descent", *args, **kwargs)):
            raise Feedback(f"{failure}\n{_NOT_FROM_RNG}") from None
        raise
    return got


@grade("gradient_descent", points=3)
def test_gd_minibatch_matches_pinned_batches(student: Student, rng: np.random.Generator) -> None:
    """mini-batches: one rng.permutation(n) per epoch, consecutive batches, the last one smaller"""
    X, y, W, b, batch = _regression(rng)
    lr, epochs = float(rng.uniform(0.02, 0.1)), int(rng.integers(2, 6))
    kwargs: dict[str, Any] = {"batch_size": batch, "loss_fn": Fixture("quartic_loss"), "rng": seed_from(rng)}
    _check_minibatch(student, (X, y, W, b, lr, epochs), kwargs, table=MINIBATCH_MISTAKES,
                     name=f"gradient_descent(X {X.shape}, lr={lr:.3g}, num_epochs={epochs}, batch_size={batch})")


@grade("gradient_descent", points=2)
def test_gd_minibatch_history_and_reproducibility(student: Student, rng: np.random.Generator) -> None:
    """mini-batch loss_history: one full-data loss per epoch; the same seed gives the same result"""
    X, y, W, b, batch = _regression(rng)
    lr, epochs = float(rng.uniform(0.02, 0.1)), int(rng.integers(3, 8))
    seed = seed_from(rng)
    args = (X, y, W, b, lr, epochs)
    kwargs: dict[str, Any] = {"batch_size": batch, "loss_fn": Fixture("logcosh_loss"), "rng": seed}
    name = f"gradient_descent(X {X.shape}, batch_size={batch}, num_epochs={epochs}, loss_fn=logcosh)"
    first = student.call("gradient_descent", *args, **kwargs)
    second = student.call("gradient_descent", *args, **kwargs)
    check_tuple(first, 3, name=name, parts="W, b, loss_history")
    if not _same(first, second):
        raise Feedback(f"{name}: two calls with the same seed returned different W or b.\n{_NOT_FROM_RNG}")
    _check_minibatch(student, args, kwargs, table=MINIBATCH_MISTAKES, name=name)


@grade("gradient_descent", points=2)
def test_gd_logistic_activation(student: Student, rng: np.random.Generator) -> None:
    """with activation_fn (a logistic function) the error is activation_fn(X W + b) - y"""
    X, y = _blobs(rng)
    X = X + rng.normal(scale=1.5, size=X.shape)  # overlapping classes: gradients stay informative
    W, b = 0.3 * rng.normal(size=(2, 1)), 0.3 * rng.normal(size=(1, 1))
    lr, epochs = float(rng.uniform(0.2, 1.0)), int(rng.integers(2, 6))
    batch = _partial_batch(rng, X.shape[0], 2, 6)  # several batches, the last one smaller (full batch: 2.2)
    kwargs: dict[str, Any] = {"batch_size": batch, "loss_fn": Fixture("quartic_loss"),
                              "activation_fn": Fixture("logistic"), "rng": seed_from(rng)}
    _check_minibatch(student, (X, y, W, b, lr, epochs), kwargs, table=[*ACTIVATION_MISTAKES, *MINIBATCH_MISTAKES],
                     name=f"gradient_descent(logistic activation, batch_size={batch}, num_epochs={epochs})")


@grade("gradient_descent", points=1)
def test_gd_logistic_regression_separates_blobs(student: Student, rng: np.random.Generator) -> None:
    """logistic regression (logistic activation) separates two blobs: 100 % training accuracy"""
    X, y = _blobs(rng)
    W, b = np.zeros((2, 1)), np.zeros((1, 1))
    epochs, batch = int(rng.integers(30, 60)), _partial_batch(rng, X.shape[0], 4, 9)
    kwargs: dict[str, Any] = {"batch_size": batch, "loss_fn": Fixture("mean_abs_loss"),
                              "activation_fn": Fixture("logistic"), "rng": seed_from(rng)}
    name = f"logistic regression on two blobs ({X.shape[0]} points, batch_size={batch}, {epochs} epochs)"
    W_got, b_got, hist = _check_minibatch(student, (X, y, W, b, 0.5, epochs), kwargs, name=name,
                                          table=[*ACTIVATION_MISTAKES, *MINIBATCH_MISTAKES])
    accuracy = float(np.mean(((X @ np.asarray(W_got) + np.asarray(b_got)) > 0) == (y > 0.5)))
    if accuracy < 1.0 or not hist[-1] < hist[0]:
        raise Feedback(f"{name}: training accuracy {accuracy:.0%} (expected 100 %), loss {hist[0]:.4g} -> "
                       f"{hist[-1]:.4g}.")


@grade("gradient_descent", points=1)
def test_gd_minibatch_default_rng(student: Student, rng: np.random.Generator) -> None:
    """with a batch size and rng=None (a fresh default generator) it still fits a line y = a x + c"""
    n, batch = _n_and_batch(rng)
    slope, intercept = float(rng.uniform(-3, 3)), float(rng.uniform(-2, 2))
    X = rng.uniform(-2, 2, size=(n, 1))
    y = slope * X + intercept
    epochs = int(rng.integers(250, 350))
    got = student.call("gradient_descent", X, y, np.zeros((1, 1)), np.zeros((1, 1)), 0.2, epochs, batch,
                       Fixture("quartic_loss"))
    name = (f"gradient_descent on y = {slope:.3g} x + {intercept:.3g} (batch_size={batch}, rng=None, "
            f"{epochs} epochs)")
    W_got, b_got, _ = check_tuple(got, 3, name=name, parts="W, b, loss_history")
    for label, value in (("W", W_got), ("b", b_got)):
        if not isinstance(value, np.ndarray) or value.shape != (1, 1) or value.dtype.kind not in "iuf":
            raise Feedback(f"{name}: {label} must be a float array of shape (1, 1), like the {label} passed in.\n"
                           f"  got: {describe(value)}")
    if not (abs(W_got.item() - slope) < 1e-3 and abs(b_got.item() - intercept) < 1e-3):
        raise Feedback(f"{name} did not reach W = {slope:.4g}, b = {intercept:.4g}: got W = {W_got.item():.6g}, "
                       f"b = {b_got.item():.6g}.")


@grade("gradient_descent", points=1)
def test_gd_batch_size_edge_cases(student: Student, rng: np.random.Generator) -> None:
    """batch_size = 1 (stochastic) and batch_size >= n (one shuffled batch) follow the same rules"""
    X, y, W, b, _ = _regression(rng)
    n = X.shape[0]
    for batch in (1, n + int(rng.integers(1, 4))):  # strictly more than n: one (partial) batch
        lr, epochs = float(rng.uniform(0.01, 0.05)), int(rng.integers(2, 4))
        kwargs: dict[str, Any] = {"batch_size": batch, "loss_fn": Fixture("quartic_loss"), "rng": seed_from(rng)}
        _check_minibatch(student, (X, y, W, b, lr, epochs), kwargs, table=MINIBATCH_MISTAKES,
                         name=f"gradient_descent(n={n}, batch_size={batch}, num_epochs={epochs})")
