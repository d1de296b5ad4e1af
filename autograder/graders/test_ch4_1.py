"""Hidden graders, chapter 4.1: forward_mlp_3layer, backward_mlp_3layer, gradient_norms_per_layer.

Pinned by SPEC §5 and the docstrings: forward is ReLU, ReLU, softmax and returns
(A1, A2, A3); backward returns the gradients of the batch-MEAN cross-entropy
(gW1, gb1, gW2, gb2, gW3, gb3) with bias gradients shaped (1, m) and ReLU masks
Z1 > 0 and Z2 > 0; gradient_norms_per_layer returns the Frobenius norms of the weight
gradients of an L-layer MLP (hidden activation "sigmoid" or "relu", softmax output),
first layer first, and raises ValueError for another activation.

The backward pass is checked against central finite differences (pre-activations kept
away from the ReLU kink) and, on exact dyadic inputs with Z == 0 entries, against the
reference. Inputs always come from a trusted forward pass.

One mistake is scored once: these functions are built on the student's own ``relu``,
``relu_derivative``, ``sigmoid`` and ``softmax`` (chapters 1.3 and 3.2). A result that
differs from the reference is accepted when it equals the reference computation with
the student's own versions of those (evaluated in a fresh worker that never saw the
graded call, :func:`~autograder.harness.own_composition`).
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from autograder.harness import (
    Student,
    StudentError,
    StudentRaised,
    check_not_silenced,
    check_raises,
    fresh_worker,
    grade,
    own_composition,
    raised_like_own_composition,
    reference,
    reference_function,
)
from autograder.toolbox import Array, central_differences, random_one_hot
from autograder.toolbox import sigmoid as _sigmoid
from autograder.toolbox import stable_softmax as _softmax
from dlnp.testing import Feedback, Mistake, check_all, check_array, check_tuple, tolerances

CHAPTER = "4.1"

NAMES = ("gW1", "gb1", "gW2", "gb2", "gW3", "gb3")


#: The earlier functions each graded function is built on (score once).
OWN = {
    "forward_mlp_3layer": ("relu", "softmax"),
    "backward_mlp_3layer": ("relu_derivative",),
    "gradient_norms_per_layer": ("relu", "relu_derivative", "sigmoid", "softmax"),
}


def _own_accepts(student: Student, function: str, got: Any, args: Sequence[Any], kwargs: dict[str, Any],
                 inputs: Sequence[Any] = ()) -> bool:
    """Does ``got`` equal the reference ``function`` built on the student's own earlier functions?"""
    with fresh_worker(student) as fresh:
        own = own_composition(fresh, function, *args, own=OWN[function], **kwargs)
    if own is None:
        return False
    wants = own if isinstance(own, tuple) else (own,)
    gots = got if isinstance(got, tuple) else (got,)
    if len(gots) != len(wants):
        return False
    return all(_same(g, w, inputs) for g, w in zip(gots, wants, strict=True))


def _same(got: Any, want: Any, inputs: Sequence[Any]) -> bool:
    """``got`` equals ``want`` (a composition of the student's own functions): within the tolerance, and
    NaN where the student's own function makes NaN (a softmax without max shift on large logits)."""
    try:
        check_array(got, want, name="", inputs=inputs)
    except Feedback:
        if not (isinstance(got, np.ndarray) and isinstance(want, np.ndarray) and got.shape == want.shape):
            return False
        rtol, atol = tolerances(*inputs)
        with np.errstate(all="ignore"):
            return bool(np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol,
                                    equal_nan=True))
    return True


class _OwnRaised(Exception):
    """The student's own earlier function raised (the type name of its exception)."""


def _crash_is_own(student: Student, error: StudentRaised, function: str, args: Sequence[Any],
                  kwargs: dict[str, Any]) -> bool:
    """Score once for a crash: does the reference ``function`` built on the student's own earlier functions
    (asked in a fresh worker) fail with the same exception type, in an earlier function or after it?

    Then the graded function fails only because an earlier function of theirs is wrong (a softmax
    without keepdims fails on every batch), which that function's own chapter charges.
    """
    kind = re.search(r" raised (\w+): ", error.message)
    if kind is None:
        return False
    module = sys.modules[reference_function(function).__module__]
    saved = {name: getattr(module, name) for name in OWN[function]}
    with fresh_worker(student) as fresh:

        def proxy(name: str) -> Any:
            def call(*a: Any, **k: Any) -> Any:
                try:
                    return fresh.call(name, *a, check_inputs=False, **k)
                except StudentRaised as exc:
                    own = re.search(r" raised (\w+): ", exc.message)
                    raise _OwnRaised(own.group(1) if own else "") from None
            return call

        try:
            for name in saved:
                setattr(module, name, proxy(name))
            with np.errstate(all="ignore"):
                reference(function, *args, **kwargs)
        except _OwnRaised as exc:
            return str(exc) == kind.group(1)
        except Exception as exc:  # the composition itself fails: compare the kind of failure
            return type(exc).__name__ == kind.group(1)
        finally:
            for name, trusted in saved.items():
                setattr(module, name, trusted)
    return False


# ----------------------------------------------------------------------------- forward_mlp_3layer


def _sizes(rng: np.random.Generator, equal_hidden: bool = False) -> tuple[int, int, int, int, int]:
    n, d = int(rng.integers(4, 7)), int(rng.integers(2, 5))
    h1 = int(rng.integers(3, 6))
    h2 = h1 if equal_hidden else h1 + int(rng.integers(1, 3))
    k = int(rng.integers(2, 5))
    if k in (h1, h2):
        k = max(h1, h2) + 1
    if n in (d, h1, h2, k):
        n = max(d, h1, h2, k) + 1
    return n, d, h1, h2, k


def _params(rng: np.random.Generator, d: int, h1: int, h2: int, k: int) -> list[Array]:
    return [rng.normal(size=(d, h1)), rng.normal(scale=0.5, size=(1, h1)), rng.normal(size=(h1, h2)) / np.sqrt(h1),
            rng.normal(scale=0.5, size=(1, h2)), rng.normal(size=(h2, k)), rng.normal(scale=0.5, size=(1, k))]


def _forward_model(X: Array, W1: Array, b1: Array, W2: Array, b2: Array, W3: Array, b3: Array,
                   variant: str = "") -> tuple[Array, Array, Array]:
    bias = 0.0 if variant == "missing bias" else 1.0
    hidden = _sigmoid if variant == "sigmoid hidden" else (lambda Z: np.maximum(Z, 0.0))
    Z1 = X @ W1 + bias * b1
    A1 = hidden(Z1)
    Z2 = A1 @ W2 + bias * b2
    A2 = hidden(Z2)
    Z3 = A2 @ W3 + bias * b3
    if variant == "returned Z":
        return Z1, Z2, Z3
    if variant == "softmax over the wrong axis":
        return A1, A2, _softmax(Z3, axis=0)
    if variant == "no softmax":
        return A1, A2, Z3
    if variant == "ReLU at the output":
        return A1, A2, np.maximum(Z3, 0.0)
    return A1, A2, _softmax(Z3)


_FORWARD_MESSAGES = {
    "softmax over the wrong axis": "Each ROW of A3 (one sample) must sum to 1: softmax along the last axis "
                                   "(axis=-1 / axis=1), not down the columns.",
    "no softmax": "A3 must be probabilities: apply softmax to Z3 = A2 @ W3 + b3.",
    "ReLU at the output": "The output layer is softmax, not ReLU: A3 = softmax(A2 @ W3 + b3).",
    "sigmoid hidden": "The hidden layers use ReLU (max(0, z)), not the sigmoid.",
    "missing bias": "A bias is missing: Z = A @ W + b in every layer.",
    "returned Z": "You returned the pre-activations Z1, Z2, Z3; return the activations A1, A2, A3.",
}


def _forward_mistakes(args: Sequence[Array]) -> list[list[Mistake]]:
    args64 = [a.astype(np.float64) for a in args]
    out: list[list[Mistake]] = [[], [], []]
    for variant, message in _FORWARD_MESSAGES.items():
        values = _forward_model(*args64, variant=variant)
        for p in range(3):
            out[p].append(Mistake(variant, values[p], message))
    return out


def _check_forward(student: Student, args: Sequence[Array], what: str, inputs: Sequence[Any] = ()) -> None:
    try:
        result = student.call("forward_mlp_3layer", *args)
    except StudentRaised as exc:
        if _crash_is_own(student, exc, "forward_mlp_3layer", args, {}):
            return  # charged where the earlier function is graded
        raise
    got = check_tuple(result, 3, name="forward_mlp_3layer(...)", parts="A1, A2, A3")
    want = reference("forward_mlp_3layer", *args)
    mistakes = _forward_mistakes(args)

    def one(p: int, name: str) -> Any:
        return lambda: check_array(got[p], want[p], name=f"{name} of forward_mlp_3layer ({what})",
                                   mistakes=mistakes[p], inputs=inputs)

    try:
        check_all(*(one(p, name) for p, name in enumerate(("A1", "A2", "A3"))))
    except Feedback:
        if not _own_accepts(student, "forward_mlp_3layer", got, args, {}, inputs):
            raise


@grade("forward_mlp_3layer", points=3)
def test_forward_mlp_3layer_values(student: Student, rng: np.random.Generator) -> None:
    """forward_mlp_3layer on a random network: ReLU, ReLU, softmax"""
    n, d, h1, h2, k = _sizes(rng)
    X = rng.normal(size=(n, d))
    params = _params(rng, d, h1, h2, k)
    _check_forward(student, [X, *params], f"X {X.shape}, hidden sizes {h1} and {h2}, {k} classes")


@grade("forward_mlp_3layer", points=2)
def test_forward_mlp_3layer_float32_and_large_logits(student: Student, rng: np.random.Generator) -> None:
    """forward_mlp_3layer works on float32 input and stays finite for large logits"""
    n, d, h1, h2, k = _sizes(rng)
    args = [a.astype(np.float32) for a in [rng.normal(size=(n, d)), *_params(rng, d, h1, h2, k)]]
    _check_forward(student, args, "float32 inputs", inputs=[args[0]])
    big = [rng.normal(size=(n, d)) * 30.0, *_params(rng, d, h1, h2, k)]
    big[5] = big[5] * 300.0  # logits of several hundred
    check_not_silenced(student, "forward_mlp_3layer", "forward_mlp_3layer with logits of several hundred")
    try:
        got = check_tuple(student.call("forward_mlp_3layer", *big, forbid_warnings=True), 3,
                          name="forward_mlp_3layer(...)", parts="A1, A2, A3")
    except StudentRaised as exc:
        if not student.last_warnings:
            if _crash_is_own(student, exc, "forward_mlp_3layer", big, {}):
                return  # charged where the earlier function is graded
            raise
        # Score once: warnings that come from the student's own softmax are charged in 3.2.
        with fresh_worker(student) as fresh:
            own = own_composition(fresh, "forward_mlp_3layer", *big, own=OWN["forward_mlp_3layer"])
            try:
                fresh.call("softmax", np.maximum(0, np.maximum(0, big[0] @ big[1] + big[2]) @ big[3] + big[4])
                           @ big[5] + big[6], forbid_warnings=True)
                own_warns = False
            except StudentError:
                own_warns = bool(fresh.last_warnings)
        got = student.call("forward_mlp_3layer", *big)
        if own_warns and own is not None and isinstance(got, tuple) and len(got) == 3:
            with np.errstate(all="ignore"):
                if all(isinstance(g, np.ndarray) and g.shape == w.shape and np.allclose(g, w, equal_nan=True)
                       for g, w in zip(got, own, strict=True)):
                    return
        raise
    want = reference("forward_mlp_3layer", *big)[2]
    try:
        check_array(got[2], want, name="A3 for logits of several hundred",
                    hint="Subtract each row's maximum before np.exp (reuse your stable softmax from chapter 3.2).")
    except Feedback:
        if not _own_accepts(student, "forward_mlp_3layer", tuple(got), big, {}):
            raise


# ----------------------------------------------------------------------------- backward_mlp_3layer


def _backward_args(X: Array, params: Sequence[Array], y: Array) -> tuple[Array, ...]:
    """(X, A1, A2, A3, y, W1, W2, W3, Z1, Z2) from a trusted forward pass."""
    W1, b1, W2, b2, W3, b3 = params
    Z1 = X @ W1 + b1
    A1 = np.maximum(Z1, 0.0)
    Z2 = A1 @ W2 + b2
    A2 = np.maximum(Z2, 0.0)
    A3 = _softmax(A2 @ W3 + b3)
    return X, A1, A2, A3, y, W1, W2, W3, Z1, Z2


def _smooth(rng: np.random.Generator, equal_hidden: bool = False) -> tuple[Array, list[Array], Array]:
    """A network whose pre-activations Z1, Z2 stay at least 0.05 away from 0 (finite differences are exact)."""
    n, d, h1, h2, k = _sizes(rng, equal_hidden)
    X = rng.normal(size=(n, d))
    for _ in range(2000):
        params = _params(rng, d, h1, h2, k)
        args = _backward_args(X, params, np.zeros((n, k)))
        if min(np.min(np.abs(args[8])), np.min(np.abs(args[9]))) >= 0.05 and np.mean(args[9] > 0) > 0.3:
            return X, params, random_one_hot(rng, n, k)
    raise RuntimeError("could not draw a network away from the ReLU kink")


def _backprop(args: Sequence[Array], *, scale: float | None = None, mask1: Any = None, mask2: Any = None,
              transposed: bool = True) -> tuple[Array, ...]:
    X, A1, A2, A3, y, _, W2, W3, Z1, Z2 = (a.astype(np.float64) for a in args)
    n = X.shape[0]
    d3 = (A3 - y) / n if scale is None else (A3 - y) * scale
    d2 = (d3 @ (W3.T if transposed else W3)) * ((Z2 > 0) if mask2 is None else mask2)
    d1 = (d2 @ (W2.T if transposed else W2)) * ((Z1 > 0) if mask1 is None else mask1)
    return (X.T @ d1, d1.sum(axis=0, keepdims=True), A1.T @ d2, d2.sum(axis=0, keepdims=True),
            A2.T @ d3, d3.sum(axis=0, keepdims=True))


def _backward_mistakes(args: Sequence[Array]) -> list[list[Mistake]]:
    X, _, _, _, _, _, W2, W3, Z1, Z2 = (a.astype(np.float64) for a in args)
    n = X.shape[0]
    whole: list[tuple[str, tuple[Array, ...], str]] = [
        ("missing 1/n", _backprop(args, scale=1.0),
         f"Your gradients are n = {n} times too large: the loss is the MEAN over the batch, so "
         "delta3 = (A3 - y) / n."),
        ("1/n twice", _backprop(args, scale=1.0 / n**2),
         f"Your gradients are n = {n} times too small: divide by n once (in delta3), not again later."),
        ("missing ReLU mask", _backprop(args, mask2=1.0),
         "delta2 is not masked: multiply (delta3 @ W3.T) by the ReLU derivative, the mask Z2 > 0."),
        ("missing ReLU mask", _backprop(args, mask1=1.0),
         "delta1 is not masked: multiply (delta2 @ W2.T) by the ReLU derivative, the mask Z1 > 0."),
        ("ReLU derivative wrong", _backprop(args, mask1=(Z1 >= 0), mask2=(Z2 >= 0)),
         "Your ReLU masks are 1 where Z == 0 exactly: the derivative there is 0 by convention (Z > 0)."),
    ]
    if Z1.shape == Z2.shape:
        whole.append(("masks swapped", _backprop(args, mask1=(Z2 > 0), mask2=(Z1 > 0)),
                      "delta2 must use the mask of its own layer, Z2 > 0, and delta1 the mask Z1 > 0."))
    if W2.shape[0] == W2.shape[1] and W3.shape[0] == W3.shape[1]:
        whole.append(("weights not transposed", _backprop(args, transposed=False),
                      "Going backwards multiplies by the TRANSPOSED weights: delta2 = (delta3 @ W3.T) * mask."))
    ref = _backprop(args)
    per_position: list[list[Mistake]] = []
    for p in range(6):
        mistakes: list[Mistake] = []
        if p % 2 == 1:  # bias-specific explanations first: they are the more precise diagnosis
            mistakes += [
                Mistake("bias gradient without 1/n", n * ref[p],
                        f"Your bias gradient is n = {n} times too large: sum delta (which already has the 1/n)."),
                Mistake("bias gradient averaged twice", ref[p] / n,
                        f"Your bias gradient is n = {n} times too small: delta already carries the 1/n, so sum it "
                        "over the samples instead of averaging again."),
            ]
        mistakes += [Mistake(name, grads[p], message) for name, grads, message in whole]
        for q in range(6):
            if q != p:
                mistakes.append(Mistake("wrong order", ref[q], f"This is {NAMES[q]}, returned in the place of "
                                        f"{NAMES[p]}: return (gW1, gb1, gW2, gb2, gW3, gb3)."))
        per_position.append(mistakes)
    return per_position


def _call_backward(student: Student, args: tuple[Array, ...]) -> tuple[Any, ...]:
    try:
        got = student.call("backward_mlp_3layer", *args)
    except StudentRaised as exc:
        if any(s in exc.message for s in ("mismatch", "broadcast", "shapes", "aligned")):
            X, A1, A2, A3 = args[:4]
            raise Feedback(
                f"{exc.message}\nLikely mistake (shape mismatch) with X {X.shape}, A1 {A1.shape}, A2 {A2.shape}, "
                f"A3 {A3.shape}: delta3 is {A3.shape}, delta2 = (delta3 @ W3.T) * (Z2 > 0) is {A2.shape}, "
                f"delta1 = (delta2 @ W2.T) * (Z1 > 0) is {A1.shape}; each mask comes from its own layer's Z."
            ) from None
        raise
    return check_tuple(got, 6, name="backward_mlp_3layer(...)", parts=", ".join(NAMES))


def _check_backward(student: Student, got: tuple[Any, ...], want: Sequence[Array], args: tuple[Array, ...],
                    what: str, *, inputs: Sequence[Any] = (), rtol: float | None = None,
                    atol: float | None = None) -> None:
    mistakes = _backward_mistakes(args)

    def one(p: int) -> Any:
        return lambda: check_array(got[p], want[p], name=f"{NAMES[p]} of backward_mlp_3layer ({what})",
                                   mistakes=mistakes[p], inputs=inputs, rtol=rtol, atol=atol)

    try:
        check_all(*(one(p) for p in (4, 5, 2, 3, 0, 1)))  # backprop order: an error is named where it starts
    except Feedback:
        if not _own_accepts(student, "backward_mlp_3layer", got, args, {}, inputs):
            raise


def _finite_differences(X: Array, params: Sequence[Array], y: Array, h: float = 1e-6) -> list[Array]:
    """Central differences of the mean cross-entropy of the trusted forward pass."""
    params = [p.copy() for p in params]

    def loss() -> float:
        A3 = _backward_args(X, params, y)[3]
        return float(-np.sum(y * np.log(A3)) / X.shape[0])

    return central_differences(loss, params, h)


@grade("backward_mlp_3layer", points=5)
def test_backward_mlp_3layer_finite_differences(student: Student, rng: np.random.Generator) -> None:
    """backward_mlp_3layer agrees with finite differences of the mean cross-entropy on every parameter"""
    X, params, y = _smooth(rng)
    args = _backward_args(X, params, y)
    got = _call_backward(student, args)
    what = f"X {X.shape}, hidden sizes {params[0].shape[1]} and {params[2].shape[1]}; finite differences"
    _check_backward(student, got, _finite_differences(X, params, y), args, what, rtol=1e-5, atol=1e-7)


@grade("backward_mlp_3layer", points=3)
def test_backward_mlp_3layer_masks(student: Student, rng: np.random.Generator) -> None:
    """backward_mlp_3layer: equal hidden sizes, square weights, masks Z > 0 with exact zeros in Z1 and Z2"""
    n, d, h, _, _ = _sizes(rng, equal_hidden=True)
    X = rng.integers(-2, 3, size=(n, d)).astype(np.float64)
    X[0] = rng.choice([-2.0, -1.0, 1.0, 2.0], size=d)
    W1 = rng.integers(-4, 5, size=(d, h)) / 4.0
    b1 = rng.integers(-4, 5, size=(1, h)) / 4.0
    b1[0, 0] = -(X[0] @ W1[:, 0])  # exact: Z1[0, 0] == 0
    W2 = rng.integers(-4, 5, size=(h, h)) / 4.0
    b2 = rng.integers(-4, 5, size=(1, h)) / 4.0
    A1 = np.maximum(X @ W1 + b1, 0.0)
    b2[0, 1] = -(A1[0] @ W2[:, 1])  # exact: Z2[0, 1] == 0
    W3 = rng.normal(size=(h, h))
    b3 = rng.normal(scale=0.5, size=(1, h))
    args = _backward_args(X, [W1, b1, W2, b2, W3, b3], random_one_hot(rng, n, h))
    got = _call_backward(student, args)
    zeros = int(np.sum(args[8] == 0) + np.sum(args[9] == 0))
    _check_backward(student, got, reference("backward_mlp_3layer", *args), args,
                    f"X {X.shape}, hidden sizes {h} and {h}; {zeros} entries of Z1, Z2 are exactly 0")


@grade("backward_mlp_3layer", points=2)
def test_backward_mlp_3layer_float32(student: Student, rng: np.random.Generator) -> None:
    """backward_mlp_3layer works on float32 inputs"""
    X, params, y = _smooth(rng)
    args64 = _backward_args(X, params, y)
    args = tuple(a.astype(np.float32) for a in args64)
    got = _call_backward(student, args)
    want = reference("backward_mlp_3layer", *(a.astype(np.float64) for a in args))
    _check_backward(student, got, want, args, "float32 inputs", inputs=[args[0]])


# ----------------------------------------------------------------------------- gradient_norms_per_layer


def _deep(rng: np.random.Generator, activation: str) -> tuple[Array, Array, list[Array], list[Array]]:
    n, d, k = int(rng.integers(6, 12)), int(rng.integers(3, 6)), int(rng.integers(2, 4))
    depth, width = int(rng.integers(5, 8)), int(rng.integers(4, 7))
    sizes = [d] + [width] * (depth - 1) + [k]
    gain = np.sqrt(2.0) if activation == "relu" else 1.0
    weights = [rng.normal(size=(a, b)) * gain / np.sqrt(a) for a, b in itertools.pairwise(sizes)]
    biases = [rng.normal(scale=0.1, size=(1, b)) for b in sizes[1:]]
    return rng.normal(size=(n, d)), random_one_hot(rng, n, k), weights, biases


def _norms_model(X: Array, y: Array, Ws: Sequence[Array], bs: Sequence[Array], activation: str,
                 variant: str = "") -> Array:
    """Per-layer gradient norms, with optional known mistakes."""
    act = _sigmoid if activation == "sigmoid" else (lambda Z: np.maximum(Z, 0.0))
    inputs, zs = [X], []
    for W, b in zip(Ws[:-1], bs[:-1], strict=True):
        zs.append(inputs[-1] @ W + b)
        inputs.append(act(zs[-1]))
    delta = (_softmax(inputs[-1] @ Ws[-1] + bs[-1]) - y) / (1.0 if variant == "missing 1/n" else X.shape[0])
    norms = np.zeros(len(Ws))
    for layer in range(len(Ws) - 1, -1, -1):
        G = inputs[layer].T @ delta
        if variant == "bias included":
            norms[layer] = np.sqrt(np.sum(G**2) + np.sum(delta.sum(axis=0) ** 2))
        elif variant == "squared norm":
            norms[layer] = np.sum(G**2)
        else:
            norms[layer] = np.linalg.norm(G)
        if layer == 0:
            break
        Z = zs[layer - 1]
        if activation == "sigmoid":
            slope = {
                "activation instead of slope": _sigmoid(Z),
                "slope at the output": _sigmoid(inputs[layer]) * (1 - _sigmoid(inputs[layer])),
                "no activation slope": np.ones_like(Z),
            }.get(variant, _sigmoid(Z) * (1 - _sigmoid(Z)))
        else:
            slope = np.ones_like(Z) if variant == "no activation slope" else (Z > 0) * 1.0
        delta = (delta @ Ws[layer].T) * slope
    return norms[::-1] if variant == "reversed" else norms


_NORM_MESSAGES = {
    "reversed": "Your norms are in reverse order: index 0 is the FIRST layer (weights[0], next to the input), the "
                "last index is the output layer. The backward loop visits them last-to-first; store at index l.",
    "activation instead of slope": "You multiplied by sigmoid(Z) itself; backprop needs its slope "
                                   "sigmoid(Z) * (1 - sigmoid(Z)).",
    "slope at the output": "You evaluated the sigmoid slope at the layer's OUTPUT A; it is the slope at the "
                           "pre-activation Z: sigmoid(Z) * (1 - sigmoid(Z)) (= A * (1 - A)).",
    "no activation slope": "The hidden layers' activation slope is missing: delta_l = (delta_{l+1} @ W_{l+1}.T) "
                           "* g'(Z_l).",
    "missing 1/n": "Your norms are n times too large: the loss is the batch MEAN, delta_L = (A_L - y) / n.",
    "bias included": "You included the bias gradients; the norms are of the WEIGHT gradients only.",
    "squared norm": "You returned the sum of squares; the Frobenius norm is its square root (np.linalg.norm).",
}


def _norm_mistakes(X: Array, y: Array, Ws: Sequence[Array], bs: Sequence[Array], activation: str) -> list[Mistake]:
    return [Mistake(name, _norms_model(X, y, Ws, bs, activation, name), message)
            for name, message in _NORM_MESSAGES.items()]


class _ChargedEarlier(Exception):
    """The student's function fails only because of their own earlier function (score once)."""


def _call_norms(student: Student, X: Array, y: Array, Ws: list[Array], bs: list[Array], activation: str) -> Any:
    try:
        return student.call("gradient_norms_per_layer", X, y, Ws, bs, activation=activation)
    except StudentRaised as exc:
        if raised_like_own_composition(student, exc, "gradient_norms_per_layer", X, y, Ws, bs,
                                       own=OWN["gradient_norms_per_layer"], activation=activation) or \
                _crash_is_own(student, exc, "gradient_norms_per_layer", (X, y, Ws, bs), {"activation": activation}):
            raise _ChargedEarlier from None
        if any(s in exc.message for s in ("mismatch", "broadcast", "shapes", "aligned")):
            raise Feedback(
                f"{exc.message}\nLikely mistake (shape mismatch) layer l maps (n, m_l) to (n, m_(l+1)) with "
                f"weights[l]; the shapes here are {[W.shape for W in Ws]}. Going backwards, "
                "delta_l = (delta_(l+1) @ weights[l+1].T) * g'(Z_l) has the shape of Z_l."
            ) from None
        raise


def _check_norms(student: Student, rng: np.random.Generator, activation: str) -> None:
    """gradient_norms_per_layer of a deep ``activation`` network against the reference, or against
    the student's own earlier functions (score once)."""
    X, y, Ws, bs = _deep(rng, activation)
    try:
        got = _call_norms(student, X, y, Ws, bs, activation)
    except _ChargedEarlier:
        return
    try:
        check_array(got, reference("gradient_norms_per_layer", X, y, Ws, bs, activation=activation),
                    name=f"gradient_norms_per_layer(..., {len(Ws)} layers, activation={activation!r})",
                    mistakes=_norm_mistakes(X, y, Ws, bs, activation))
    except Feedback:
        if not _own_accepts(student, "gradient_norms_per_layer", got, (X, y, Ws, bs), {"activation": activation}):
            raise


@grade("gradient_norms_per_layer", points=2)
def test_gradient_norms_sigmoid(student: Student, rng: np.random.Generator) -> None:
    """gradient_norms_per_layer of a deep sigmoid network (first layer first)"""
    _check_norms(student, rng, "sigmoid")


@grade("gradient_norms_per_layer", points=2)
def test_gradient_norms_relu(student: Student, rng: np.random.Generator) -> None:
    """gradient_norms_per_layer of a deep ReLU network"""
    _check_norms(student, rng, "relu")


@grade("gradient_norms_per_layer", points=1)
def test_gradient_norms_unknown_activation(student: Student, rng: np.random.Generator) -> None:
    """gradient_norms_per_layer raises ValueError for an unknown activation and for unequal or empty lists"""
    X, y, Ws, bs = _deep(rng, "relu")
    check_all(lambda: _check_unknown_activation(student, X, y, Ws, bs),
              lambda: check_raises(student, "gradient_norms_per_layer", X, y, Ws, bs[:-1], activation="relu",
                                   call=f"gradient_norms_per_layer(X, y, {len(Ws)} weights, {len(Ws) - 1} biases)",
                                   why="the docstring's Raises: weights and biases must have the same length"),
              lambda: check_raises(student, "gradient_norms_per_layer", X, y, [], [], activation="relu",
                                   call="gradient_norms_per_layer(X, y, [], [])",
                                   why="the docstring's Raises: a network has at least one layer"))


def _check_unknown_activation(student: Student, X: Array, y: Array, Ws: list[Array], bs: list[Array]) -> None:
    try:
        got = student.call("gradient_norms_per_layer", X, y, Ws, bs, activation="tanh")
    except StudentRaised as exc:
        kind = re.search(r" raised (\w+): ", exc.message)
        if kind is not None and kind.group(1) == "ValueError":
            return
        raise Feedback(
            f"gradient_norms_per_layer(..., activation='tanh') must raise ValueError.\n{exc.message}\n"
            "Likely mistake (wrong exception type) check the name first and raise ValueError(...) yourself."
        ) from None
    raise Feedback(
        "gradient_norms_per_layer(..., activation='tanh') returned a value instead of raising ValueError.\n"
        f"  got: {got!r}"[:400] + "\nLikely mistake (no validation) only 'sigmoid' and 'relu' are defined: "
        "raise ValueError for anything else (do not silently fall back to one of them)."
    )
