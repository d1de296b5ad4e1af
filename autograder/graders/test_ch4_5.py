"""Hidden graders, chapter 4.5: momentum_update, accuracy.

Pinned by SPEC §5 and the docstrings: momentum_update returns the NEW velocity
mu * v - lr * grad (the caller does W += v) without modifying v; accuracy returns the
fraction of correct samples, each argument turned into labels by its shape: (n, k)
by argmax along axis 1, (n, 1) by >= 0.5, 1-D as is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograder.harness import Student, check_raises, grade, reference
from autograder.toolbox import Array
from dlnp.testing import Mistake, check_all, check_array, check_scalar

CHAPTER = "4.5"



# ----------------------------------------------------------------------------- momentum_update


def _momentum_mistakes(v: Array, g: Array, mu: float, lr: float) -> list[Mistake]:
    v, g = v.astype(np.float64), g.astype(np.float64)
    return [
        Mistake("sign conventions", mu * v + lr * g,
                "Your velocity climbs the loss: v = mu * v - lr * grad (minus), then the caller does W += v."),
        Mistake("sign conventions", -(mu * v) + lr * g,
                "Your velocity has both signs flipped: v_new = mu * v - lr * grad."),
        Mistake("ignored mu", -lr * g,
                "Your result ignores the old velocity (plain gradient descent): v_new = mu * v - lr * grad."),
        Mistake("ignored lr", mu * v - g, "Scale the gradient by the learning rate: v_new = mu * v - lr * grad."),
        Mistake("lr on the whole velocity", lr * (mu * v - g),
                "Only the gradient is scaled by lr: v_new = mu * v - lr * grad."),
        Mistake("returned the parameter step", v - lr * g,
                "mu multiplies the old velocity: v_new = mu * v - lr * grad."),
    ]


def _case(rng: np.random.Generator, dtype: Any = np.float64) -> tuple[Array, Array, float, float]:
    shape = (int(rng.integers(2, 7)), int(rng.integers(2, 5)))
    v = rng.normal(size=shape).astype(dtype)
    g = rng.normal(size=shape).astype(dtype)
    return v, g, float(rng.choice([0.5, 0.8, 0.9, 0.95])), float(rng.choice([0.01, 0.05, 0.1, 0.3]))


@grade("momentum_update", points=2)
def test_momentum_update_values(student: Student, rng: np.random.Generator) -> None:
    """momentum_update returns mu * v - lr * grad"""
    v, g, mu, lr = _case(rng)
    check_array(student.call("momentum_update", v, g, mu, lr), reference("momentum_update", v, g, mu, lr),
                name=f"momentum_update(v, grad, mu={mu}, lr={lr})", mistakes=_momentum_mistakes(v, g, mu, lr))


@grade("momentum_update", points=1)
def test_momentum_update_sequence(student: Student, rng: np.random.Generator) -> None:
    """three momentum steps from v = 0 on a bias row vector, and mu = 0 (plain gradient descent)"""
    m = int(rng.integers(2, 6))
    v = np.zeros((1, m))
    want = v.copy()
    for step in range(3):
        g = rng.normal(size=(1, m))
        got = student.call("momentum_update", v, g, 0.9, 0.1)
        expected = reference("momentum_update", want, g, 0.9, 0.1)
        check_array(got, expected, name=f"momentum_update at step {step + 1} (v = previous result)",
                    mistakes=_momentum_mistakes(want, g, 0.9, 0.1))
        v, want = np.asarray(got, dtype=np.float64), expected
    g = rng.normal(size=(1, m))
    check_array(student.call("momentum_update", v, g, 0.0, 0.1), -0.1 * g, name="momentum_update with mu = 0",
                mistakes=_momentum_mistakes(v, g, 0.0, 0.1))


@grade("momentum_update", points=1)
def test_momentum_update_float32(student: Student, rng: np.random.Generator) -> None:
    """momentum_update works on float32"""
    v, g, mu, lr = _case(rng, np.float32)
    check_array(student.call("momentum_update", v, g, mu, lr), reference("momentum_update", v, g, mu, lr),
                name="momentum_update(float32 v, grad)", inputs=[v], mistakes=_momentum_mistakes(v, g, mu, lr))


# ----------------------------------------------------------------------------- accuracy


def _probabilities(rng: np.random.Generator, n: int, k: int) -> Array:
    Z = rng.normal(scale=2.0, size=(n, k))
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def _accuracy_mistakes(pred: Array, y: Array, n: int) -> list[Mistake]:
    correct = float(reference("accuracy", pred, y)) * n
    out = [
        Mistake("count instead of fraction", correct,
                f"You returned the number of correct samples ({correct:g}); accuracy is the FRACTION "
                f"correct / total (divide by n = {n})."),
        Mistake("percentage", 100.0 * correct / n, "You returned a percentage; return the fraction in [0, 1]."),
    ]
    if pred.ndim == 2 and pred.shape[1] > 1 and y.ndim == 2 and y.shape[1] > 1:
        p0, y0 = np.argmax(pred, axis=0), np.argmax(y, axis=0)
        out.append(Mistake("argmax on the wrong axis", float(np.mean(p0 == y0)),
                           "np.argmax(..., axis=0) gives one index per CLASS; the predicted class of each sample "
                           "is the argmax of its row: axis=1."))
        out.append(Mistake("argmax on the wrong axis", float(np.argmax(pred) == np.argmax(y)),
                           "np.argmax without axis returns ONE index into the flattened array; use axis=1 to get "
                           "one class per sample."))
        out.append(Mistake("compared probabilities", float(np.mean(pred == y)),
                           "You compared the arrays entry by entry; compare the predicted CLASSES "
                           "(np.argmax(y_pred, axis=1) == np.argmax(y, axis=1))."))
    return out


@grade("accuracy", points=2)
def test_accuracy_probabilities_vs_one_hot(student: Student, rng: np.random.Generator) -> None:
    """accuracy of (n, k) probabilities against one-hot targets is a fraction"""
    n, k = int(rng.integers(15, 40)), int(rng.integers(3, 6))
    P = _probabilities(rng, n, k)
    y = np.eye(k)[rng.integers(0, k, n)]
    got = student.call("accuracy", P, y)
    check_scalar(got, reference("accuracy", P, y), name=f"accuracy(probabilities {P.shape}, one-hot {y.shape})",
                 mistakes=_accuracy_mistakes(P, y, n))


@grade("accuracy", points=2)
def test_accuracy_other_shapes(student: Student, rng: np.random.Generator) -> None:
    """accuracy with labels, (n, 1) probabilities (0.5 is class 1), 1-D labels; ValueError for n mismatch or 0"""
    check_all(lambda: _accuracy_other_shapes(student, rng), lambda: _accuracy_raises(student, rng))


def _accuracy_other_shapes(student: Student, rng: np.random.Generator) -> None:
    n, k = int(rng.integers(15, 40)), int(rng.integers(3, 6))
    P = _probabilities(rng, n, k)
    labels = rng.integers(0, k, n)
    check_scalar(student.call("accuracy", P, labels), reference("accuracy", P, labels),
                 name=f"accuracy(probabilities {P.shape}, labels {labels.shape})",
                 mistakes=_accuracy_mistakes(P, labels, n))
    probs = rng.choice([0.1, 0.3, 0.5, 0.7, 0.9], size=(n, 1))
    probs[0, 0] = 0.5
    y = rng.integers(0, 2, size=(n, 1)).astype(np.float64)
    y[probs == 0.5] = 1.0  # every tie is class 1: a "> 0.5" threshold always loses them (never cancels out)
    mistakes = [
        *_accuracy_mistakes(probs, y, n),
        Mistake("threshold > 0.5", float(np.mean((probs > 0.5) == (y > 0.5))),
                "A probability of exactly 0.5 counts as class 1: threshold with >= 0.5."),
        Mistake("argmax of one column", float(np.mean(y[:, 0] == 0)),
                "An (n, 1) array has a single column, so argmax is always 0: threshold it at 0.5 instead."),
    ]
    check_scalar(student.call("accuracy", probs, y), reference("accuracy", probs, y),
                 name=f"accuracy(binary probabilities {probs.shape}, targets {y.shape})", mistakes=mistakes)
    pred_labels = np.where(rng.random(n) < 0.7, labels, (labels + 1) % k)
    check_scalar(student.call("accuracy", pred_labels, labels), reference("accuracy", pred_labels, labels),
                 name=f"accuracy(labels {pred_labels.shape}, labels {labels.shape})",
                 mistakes=_accuracy_mistakes(pred_labels, labels, n))


def _accuracy_raises(student: Student, rng: np.random.Generator) -> None:
    """The docstring's Raises: different numbers of samples (one of them 1, where == would broadcast
    silently) and no sample at all."""
    n, k = int(rng.integers(5, 10)), int(rng.integers(3, 6))
    labels = rng.integers(0, k, n)
    why = "the docstring's Raises: both arguments must describe the same number of samples n >= 1"
    check_all(
        lambda: check_raises(student, "accuracy", labels, labels[:1], call=f"accuracy(labels ({n},), labels (1,))",
                             why=why + "; comparing them with == broadcasts the single label instead"),
        lambda: check_raises(student, "accuracy", _probabilities(rng, n, k), labels[:-1],
                             call=f"accuracy(probabilities ({n}, {k}), labels ({n - 1},))", why=why),
        lambda: check_raises(student, "accuracy", np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64),
                             call="accuracy(empty labels, empty labels)",
                             why=why + "; the mean of no comparison is not a number"),
    )
