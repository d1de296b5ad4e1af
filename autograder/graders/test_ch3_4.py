"""Hidden graders, chapter 3.4: backward_mlp.

Pinned by SPEC §5 and the docstring: gradients of the MEAN cross-entropy of
``forward_mlp`` (softmax output), returned as ``(grad_W1, grad_b1, grad_W2, grad_b2)``
with bias gradients shaped ``(1, m)``; the ReLU mask is ``Z1 > 0`` (0 at Z1 == 0).

The inputs X, A1, A2, y, W1, W2, Z1 always come from a forward pass computed here with
the reference, so a broken ``forward_mlp`` never matters. The gradients are checked

* against central finite differences of the mean cross-entropy (inputs kept away from
  the ReLU kink), and
* exactly against the reference on inputs whose Z1 has entries of exactly 0 (the mask
  convention) and a square W2 (so a missing transpose computes and can be named).

One mistake is scored once: a result built on the student's own ``relu_derivative``
(chapter 3.2) of Z1 or of A1 as the mask is accepted too; that function is evaluated in
a fresh worker that never saw the graded call. A mask from ``A1 > 0`` equals ``Z1 > 0``.

Every gradient is checked and every wrong one is reported with its own likely mistake
(a wrong grad_W1 AND scalar bias gradients hear about both).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autograder.harness import Student, StudentRaised, fresh_worker, grade, reference
from autograder.toolbox import Array, central_differences, random_one_hot
from dlnp.testing import Feedback, Mistake, check_all, check_array, check_tuple

CHAPTER = "3.4"

Grads = tuple[Array, Array, Array, Array]
NAMES = ("grad_W1", "grad_b1", "grad_W2", "grad_b2")
CHECK_ORDER = (2, 3, 0, 1)  # backprop order: an error upstream is named where it starts


# ----------------------------------------------------------------------------- inputs


def _forward(X: Array, W1: Array, b1: Array, W2: Array, b2: Array, y: Array) -> tuple[Array, ...]:
    """The arguments of backward_mlp from a reference forward pass: (X, A1, A2, y, W1, W2, Z1)."""
    Z1 = X @ W1 + b1
    A1, A2 = reference("forward_mlp", X, W1, b1, W2, b2)
    return X, A1, A2, y, W1, W2, Z1


def _smooth_network(rng: np.random.Generator) -> tuple[Array, ...]:
    """A random network whose hidden pre-activations stay at least 0.05 away from 0."""
    n, d = int(rng.integers(3, 10)), int(rng.integers(2, 6))
    h, k = int(rng.integers(3, 8)), int(rng.integers(2, 6))
    if h == k:
        h += 1
    X = rng.normal(size=(n, d))
    W1 = rng.normal(size=(d, h))
    W2 = rng.normal(size=(h, k))
    b2 = rng.normal(scale=0.5, size=(1, k))
    for _ in range(1000):
        b1 = rng.normal(scale=0.5, size=(1, h))
        if np.min(np.abs(X @ W1 + b1)) >= 0.05:
            return X, W1, b1, W2, b2, random_one_hot(rng, n, k)
    raise RuntimeError("could not draw a network away from the ReLU kink")  # probability ~1e-80


def _kink_network(rng: np.random.Generator) -> tuple[Array, ...]:
    """Small dyadic values (exact arithmetic) with hidden units sitting exactly at Z1 == 0; square W2."""
    n, d, h = int(rng.integers(3, 9)), int(rng.integers(2, 5)), int(rng.integers(3, 6))
    X = rng.integers(-2, 3, size=(n, d)).astype(np.float64)
    X[0] = rng.choice([-2.0, -1.0, 1.0, 2.0], size=d)          # a sample with no zero feature
    W1 = rng.integers(-4, 5, size=(d, h)) / 4.0
    b1 = rng.integers(-4, 5, size=(1, h)) / 4.0
    for j in rng.choice(h, size=max(1, h // 2), replace=False):
        b1[0, j] = -(X[0] @ W1[:, j])                          # exact: Z1[0, j] == 0.0
    W2 = rng.normal(size=(h, h))
    b2 = rng.normal(scale=0.5, size=(1, h))
    return X, W1, b1, W2, b2, random_one_hot(rng, n, h)


# ----------------------------------------------------------------------------- oracles


def _mean_cross_entropy(X: Array, W1: Array, b1: Array, W2: Array, b2: Array, y: Array) -> float:
    _, A2 = reference("forward_mlp", X, W1, b1, W2, b2)
    return float(-np.sum(y * np.log(A2)) / X.shape[0])


def _finite_differences(X: Array, W1: Array, b1: Array, W2: Array, b2: Array, y: Array,
                        step: float = 1e-6) -> Grads:
    """Central differences of the mean cross-entropy with respect to W1, b1, W2, b2."""
    params = [W1.copy(), b1.copy(), W2.copy(), b2.copy()]
    W1c, b1c, W2c, b2c = params
    g = central_differences(lambda: _mean_cross_entropy(X, W1c, b1c, W2c, b2c, y), params, step)
    return g[0], g[1], g[2], g[3]


def _backprop(X: Array, A1: Array, A2: Array, y: Array, W1: Array, W2: Array, Z1: Array, *,
              dZ2: Array | None = None, mask: Any = None, w2_transposed: bool = True) -> Grads:
    """Backprop with optional substitutions: the trusted side's model of a student's variant."""
    n = X.shape[0]
    d2: Array = (A2 - y) / n if dZ2 is None else dZ2
    dA1 = d2 @ (W2.T if w2_transposed else W2)
    dZ1: Array = dA1 * ((Z1 > 0) if mask is None else mask)
    return X.T @ dZ1, dZ1.sum(axis=0, keepdims=True), A1.T @ d2, d2.sum(axis=0, keepdims=True)


def _mistakes(args: tuple[Array, ...]) -> list[list[Mistake]]:
    """Per gradient position, the known wrong answers in the order they are tried."""
    X, A1, A2, y, W1, W2, Z1 = (a.astype(np.float64) for a in args)
    n = X.shape[0]
    ref = _backprop(X, A1, A2, y, W1, W2, Z1)
    err = A2 - y
    whole: list[tuple[str, Grads, str]] = [
        ("missing 1/n", _backprop(X, A1, A2, y, W1, W2, Z1, dZ2=err),
         f"Your gradients are n = {n} times too large: the loss is the MEAN over the batch, so "
         "dZ2 = (A2 - y) / n (the 1/n appears once)."),
        ("1/n twice", _backprop(X, A1, A2, y, W1, W2, Z1, dZ2=err / n**2),
         f"Your gradients are n = {n} times too small: you divided by n twice (in dZ2 and again later). "
         "dZ2 = (A2 - y) / n already carries the batch mean."),
        ("extra softmax derivative", _backprop(X, A1, A2, y, W1, W2, Z1, dZ2=err * A2 * (1 - A2) / n),
         "You multiplied by A2 * (1 - A2): for softmax + cross-entropy, dZ2 = (A2 - y) / n already "
         "includes the softmax derivative."),
        ("ReLU derivative wrong", _backprop(X, A1, A2, y, W1, W2, Z1, mask=(Z1 >= 0)),
         "Your ReLU mask is 1 where Z1 == 0 exactly: the derivative there is 0 by convention, so the mask "
         "is Z1 > 0 (not Z1 >= 0)."),
        ("missing ReLU mask", _backprop(X, A1, A2, y, W1, W2, Z1, mask=1.0),
         "dZ1 is not masked: a hidden unit that was off in the forward pass (Z1 <= 0) passes no gradient, "
         "so dZ1 = (dZ2 @ W2.T) * (Z1 > 0)."),
        ("sigmoid derivative", _backprop(X, A1, A2, y, W1, W2, Z1, mask=A1 * (1 - A1)),
         "You used the sigmoid derivative A1 * (1 - A1); the hidden layer is ReLU, whose derivative is "
         "the mask Z1 > 0."),
    ]
    if W2.shape[0] == W2.shape[1]:
        whole.append(("W2 not transposed", _backprop(X, A1, A2, y, W1, W2, Z1, w2_transposed=False),
                      "dA1 = dZ2 @ W2.T (shapes (n, k) @ (k, h)); you multiplied by W2 without the transpose."))
    bias_without_n = "Your bias gradient is n = {n} times too large: the sum of A2 - y needs the 1/n " \
                     "(summing dZ = (A2 - y) / n over the samples is right)."
    bias_twice = "Your bias gradient is n = {n} times too small: dZ already carries the 1/n, so sum it " \
                 "over the samples (np.sum(dZ, axis=0, keepdims=True)) instead of averaging it again."
    per_position: list[list[Mistake]] = []
    for p in range(4):
        mistakes: list[Mistake] = []
        if p in (1, 3):
            mistakes += [
                Mistake("bias gradient without 1/n", n * ref[p], bias_without_n.format(n=n)),
                Mistake("bias gradient averaged twice", ref[p] / n, bias_twice.format(n=n)),
            ]
        mistakes += [Mistake(name, grads[p], message) for name, grads, message in whole]
        if ref[p].ndim == 2 and ref[p].shape[0] == ref[p].shape[1]:
            mistakes.append(Mistake("transposed", ref[p].T,
                                    f"Your {NAMES[p]} is the transpose of the expected one: A1.T @ dZ2 and "
                                    "X.T @ dZ1, not dZ2.T @ A1 or dZ1.T @ X."))
        for q in range(4):
            if q != p:
                mistakes.append(Mistake("wrong order", ref[q],
                                        f"This is {NAMES[q]}, returned in the place of {NAMES[p]}: return "
                                        "(grad_W1, grad_b1, grad_W2, grad_b2)."))
        per_position.append(mistakes)
    return per_position


# ----------------------------------------------------------------------------- checks


def _call(student: Student, args: tuple[Array, ...]) -> tuple[Any, ...]:
    name = "backward_mlp(X, A1, A2, y, W1, W2, Z1)"
    try:
        got = student.call("backward_mlp", *args)
    except StudentRaised as exc:
        text = exc.message
        if any(s in text for s in ("mismatch", "broadcast", "shapes", "aligned")):
            X, A1, A2, _, W1, W2, _ = args
            raise Feedback(
                f"{text}\nLikely mistake (shape mismatch) a product or mask has the wrong shape. With X "
                f"{X.shape}, W1 {W1.shape}, W2 {W2.shape}: dZ2 = (A2 - y) / n is {A2.shape}, "
                f"dA1 = dZ2 @ W2.T is {A1.shape}, the mask Z1 > 0 is {A1.shape} (from Z1, not A2), "
                "grad_W2 = A1.T @ dZ2, grad_W1 = X.T @ dZ1."
            ) from None
        raise
    return check_tuple(got, 4, name=name, parts="grad_W1, grad_b1, grad_W2, grad_b2")


def _all_close(got: Sequence[Any], want: Sequence[Array], inputs: Sequence[Any],
               rtol: float | None = None, atol: float | None = None) -> bool:
    for g, w in zip(got, want, strict=True):
        try:
            check_array(g, w, name="", inputs=inputs, rtol=rtol, atol=atol)
        except Feedback:
            return False
    return True


def _own_mask_grads(student: Student, args: tuple[Array, ...]) -> list[Grads]:
    """The gradients with the student's own relu_derivative(Z1) or (A1) as the mask (score-once),
    asked in a fresh worker that never saw the graded call."""
    X, A1, A2, y, W1, W2, Z1 = (a.astype(np.float64) for a in args)
    out: list[Grads] = []
    with fresh_worker(student) as fresh:
        for source in (args[6], args[1]):
            mask = fresh.try_call("relu_derivative", source)
            if isinstance(mask, np.ndarray) and mask.shape == Z1.shape and mask.dtype.kind in "fiub":
                out.append(_backprop(X, A1, A2, y, W1, W2, Z1, mask=mask.astype(np.float64)))
    return out


def _check(student: Student, got: tuple[Any, ...], want: Grads, args: tuple[Array, ...], what: str, *,
           inputs: Sequence[Any] = (), rtol: float | None = None, atol: float | None = None) -> None:
    if _all_close(got, want, inputs, rtol, atol):
        return
    if any(_all_close(got, own, inputs) for own in _own_mask_grads(student, args)):
        return
    mistakes = _mistakes(args)

    def one(p: int) -> Any:
        return lambda: check_array(got[p], want[p], name=f"{NAMES[p]} of backward_mlp ({what})",
                                   mistakes=mistakes[p], inputs=inputs, rtol=rtol, atol=atol)

    check_all(*(one(p) for p in CHECK_ORDER))


@grade("backward_mlp", points=5)
def test_backward_mlp_finite_differences(student: Student, rng: np.random.Generator) -> None:
    """backward_mlp agrees with finite differences of the mean cross-entropy"""
    X, W1, b1, W2, b2, y = _smooth_network(rng)
    args = _forward(X, W1, b1, W2, b2, y)
    got = _call(student, args)
    fd = _finite_differences(X, W1, b1, W2, b2, y)
    what = f"X {X.shape}, W1 {W1.shape}, W2 {W2.shape}; compared with central finite differences"
    _check(student, got, fd, args, what, rtol=1e-5, atol=1e-7)


@grade("backward_mlp", points=4)
def test_backward_mlp_relu_kink(student: Student, rng: np.random.Generator) -> None:
    """backward_mlp uses the mask Z1 > 0 (0 where Z1 is exactly 0)"""
    X, W1, b1, W2, b2, y = _kink_network(rng)
    args = _forward(X, W1, b1, W2, b2, y)
    got = _call(student, args)
    Z1 = args[6]
    what = f"X {X.shape}, W1 {W1.shape}, W2 {W2.shape}; {int(np.sum(Z1 == 0))} entries of Z1 are exactly 0"
    _check(student, got, reference("backward_mlp", *args), args, what)


@grade("backward_mlp", points=3)
def test_backward_mlp_float32(student: Student, rng: np.random.Generator) -> None:
    """backward_mlp works on float32 inputs"""
    X, W1, b1, W2, b2, y = _smooth_network(rng)
    args64 = _forward(X, W1, b1, W2, b2, y)
    args = tuple(a.astype(np.float32) for a in args64)
    got = _call(student, args)
    want = reference("backward_mlp", *(a.astype(np.float64) for a in args))
    _check(student, got, want, args, "float32 inputs", inputs=[args[0]])
