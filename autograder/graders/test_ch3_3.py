"""Hidden graders, chapter 3.3: forward_mlp and cross_entropy.

Pinned by the docstrings: ``forward_mlp`` returns ``(A1, A2)`` with
A1 = relu(X @ W1 + b1) (n, h) and A2 = softmax(A1 @ W2 + b2) (n, k), softmax row-wise;
``cross_entropy`` is the sum over classes and the MEAN over samples, a scalar, finite
and warning-free for probabilities of exactly 0 (any epsilon up to 1e-7). float32 works.

One mistake is scored once: ``forward_mlp`` is built on the student's own ``relu`` and
``softmax`` (chapter 3.2); its result is accepted when it equals the reference
composition OR a composition with the student's own functions (when those run), which
are evaluated in a fresh worker that never saw the graded call. A softmax that
overflows is charged in 3.2, not again here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

from autograder.harness import (
    FreshWorker,
    Student,
    StudentError,
    StudentRaised,
    check_not_silenced,
    fresh_worker,
    grade,
    raised_like_own_functions,
    reference,
)
from autograder.toolbox import Array, one_hot, stable_softmax
from dlnp.testing import Feedback, Mistake, check_all, check_array, check_scalar, check_tuple

CHAPTER = "3.3"


# ----------------------------------------------------------------------------- forward_mlp


def _usable(value: Any, shape: tuple[int, ...]) -> bool:
    return isinstance(value, np.ndarray) and value.shape == shape and value.dtype.kind in "fiub"


def _matches(got: Any, want: Any, inputs: Sequence[Any]) -> bool:
    try:
        check_array(got, want, name="", inputs=inputs)
    except Feedback:
        return False
    return True


def _matches_own(got: Any, want: Any, inputs: Sequence[Any]) -> bool:
    """``got`` equals the student's own composition ``want``, NaN where it is NaN (a softmax that
    silenced its overflow returns NaN: charged in 3.2, and a network built on it returns the same)."""
    if _matches(got, want, inputs):
        return True
    if not (_numeric(got) and _numeric(want) and got.shape == want.shape):
        return False
    nan = np.isnan(want)
    if not nan.any() or not np.array_equal(np.isnan(got), nan):
        return False
    return _matches(np.where(nan, 0.0, got), np.where(nan, 0.0, want), inputs)


def _network(rng: np.random.Generator, scale: float = 1.0, dtype: Any = np.float64, *,
             square: bool = False) -> tuple[Array, ...]:
    """A random network whose hidden layer has both active and inactive units (ReLU matters).

    Every Z1 = X W1 + b1 has entries above 0.5 and below -0.5, and b2 spreads by at least 0.5
    across the classes (a missing b2 always changes the probabilities): the named mistakes
    differ from the pinned result by far more than the tolerance, whatever the draw.
    ``square``: as many samples as classes (n = k), otherwise n != k, never left to the draw:
    a softmax without keepdims raises for n != k and silently broadcasts for n = k, and each
    test sees both, so its verdict does not depend on the salt.
    """
    h, k = int(rng.integers(3, 8)), int(rng.integers(2, 6))
    if h == k:
        h += 1
    n, d = (k if square else int(rng.integers(k + 2, 12))), int(rng.integers(2, 6))
    X = W1 = b1 = np.zeros(0)
    for _ in range(1000):
        X = rng.normal(size=(n, d))
        W1 = rng.normal(size=(d, h))
        b1 = rng.normal(scale=0.5, size=(1, h))
        Z1 = X @ W1 + b1
        if np.max(Z1) > 0.5 and np.min(Z1) < -0.5:
            break
    W2 = rng.normal(scale=scale, size=(h, k))
    b2 = rng.normal(scale=0.5, size=(1, k))
    b2[0, 0] = b2[0, 1] + rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0)
    return tuple(a.astype(dtype) for a in (X, W1, b1, W2, b2))


def _compositions(fresh: FreshWorker, X: Array, W1: Array, b1: Array, W2: Array, b2: Array
                  ) -> list[tuple[Any, Any]]:
    """(A1, A2) pairs built from the student's own relu/softmax (asked in ``fresh``) and the reference ones.

    The input guard is off: a relu or softmax that writes into its input is charged in 3.2.
    """
    Z1 = X @ W1 + b1
    hidden = [reference("relu", Z1)]
    own_relu = fresh.try_call("relu", Z1, check_inputs=False)
    if _numeric(own_relu):  # any shape: a relu that reduces too far makes forward_mlp do the same
        hidden.append(own_relu)
    pairs: list[tuple[Any, Any]] = []
    for A1 in hidden:
        try:
            with np.errstate(all="ignore"):
                Z2 = A1 @ W2 + b2
        except ValueError:
            continue
        pairs.append((A1, reference("softmax", Z2)))
        own_softmax = fresh.try_call("softmax", Z2, check_inputs=False)
        if _numeric(own_softmax):
            pairs.append((A1, own_softmax))
    return pairs


def _numeric(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in "fiub"


class _OwnFunctionsRaised(Exception):
    """forward_mlp raised what the student's own relu/softmax raise on the same inputs (charged in 3.2)."""


def _call(student: Student, args: tuple[Array, ...], **options: Any) -> Any:
    """The student's forward_mlp(*args); score once when it fails only because their relu/softmax do."""
    try:
        return student.call("forward_mlp", *args, **options)
    except StudentRaised as exc:
        if not student.last_warnings and raised_like_own_functions(student, exc, "forward_mlp", *args,
                                                                   own=["relu", "softmax"]):
            raise _OwnFunctionsRaised from None
        raise


def _check_forward(student: Student, got: Any, X: Array, W1: Array, b1: Array, W2: Array, b2: Array,
                   what: str, inputs: Sequence[Any] = ()) -> None:
    """Check (A1, A2); every wrong output is reported with its own likely mistake (check_all)."""
    name = "forward_mlp(X, W1, b1, W2, b2)"
    A1_got, A2_got = check_tuple(got, 2, name=name, parts="A1 of shape (n, h), A2 of shape (n, k)")
    want = reference("forward_mlp", X, W1, b1, W2, b2)
    if _matches(A1_got, want[0], inputs) and _matches(A2_got, want[1], inputs):
        return
    with fresh_worker(student) as fresh:
        pairs = _compositions(fresh, X, W1, b1, W2, b2)
    if any(_matches_own(A1_got, A1, inputs) and _matches_own(A2_got, A2, inputs) for A1, A2 in pairs):
        return
    X64, W1_64, b1_64, W2_64, b2_64 = (a.astype(np.float64) for a in (X, W1, b1, W2, b2))
    Z1 = X64 @ W1_64 + b1_64
    A1 = np.maximum(Z1, 0)
    Z2 = A1 @ W2_64 + b2_64
    A2 = stable_softmax(Z2, -1)
    swapped = "The order is (A1, A2): the hidden activations first, then the class probabilities."
    # Each output is also accepted when it is the student's own composition (score once: a wrong
    # relu or softmax is charged in 3.2), so only the output that is wrong for its own reasons is reported.
    own_A1 = [A for A, _ in pairs]
    own_A2 = [B for _, B in pairs]

    def check_hidden() -> None:
        if any(_matches_own(A1_got, A, inputs) for A in own_A1):
            return
        check_array(A1_got, A1, name=f"A1, the first output of {name} ({what})", inputs=inputs, mistakes=[
            Mistake("returned Z1", Z1, "A1 is relu(X @ W1 + b1); you returned the pre-activation Z1."),
            Mistake("swapped outputs", A2, swapped),
            Mistake("missing bias", np.maximum(X64 @ W1_64, 0), "You left out b1: Z1 = X @ W1 + b1."),
            Mistake("sigmoid hidden layer", reference("sigmoid", Z1),
                    "The hidden layer of this chapter uses ReLU, not sigmoid."),
        ])

    def check_output() -> None:
        if any(_matches_own(A2_got, B, inputs) for B in own_A2):
            return
        check_array(A2_got, A2, name=f"A2, the second output of {name} ({what})", inputs=inputs, mistakes=[
            Mistake("wrong softmax axis", stable_softmax(Z2, 0),
                    "The columns of your A2 sum to 1, not the rows: softmax normalizes each sample's k scores "
                    "(axis=-1, keepdims=True). Reuse your softmax from chapter 3.2."),
            Mistake("softmax over the whole array", stable_softmax(Z2, None),
                    "All entries of your A2 sum to 1 together; each ROW must sum to 1 on its own."),
            Mistake("returned Z2", Z2, "A2 is softmax(A1 @ W2 + b2); you returned the logits Z2."),
            Mistake("swapped outputs", A1, swapped),
            Mistake("no ReLU before the output layer", stable_softmax(Z1 @ W2_64 + b2_64, -1),
                    "Your Z2 uses Z1 instead of A1 = relu(Z1): apply the ReLU before the second layer."),
            Mistake("missing bias", stable_softmax(A1 @ W2_64, -1), "You left out b2: Z2 = A1 @ W2 + b2."),
            Mistake("sigmoid output", reference("sigmoid", Z2),
                    "The output layer of this chapter is softmax (rows sum to 1), not sigmoid."),
        ])

    check_all(check_hidden, check_output)


def _check_case(student: Student, args: tuple[Array, ...], what: str, inputs: Sequence[Any] = ()) -> None:
    """Call forward_mlp on one network and check (A1, A2) (score once for the student's relu/softmax)."""
    try:
        got = _call(student, args)
    except _OwnFunctionsRaised:
        return
    _check_forward(student, got, *args, what=what, inputs=inputs)


def _shapes(args: tuple[Array, ...]) -> str:
    X, W1, _, W2, _ = args
    return f"X {X.shape}, W1 {W1.shape}, W2 {W2.shape}"


@grade("forward_mlp", points=3)
def test_forward_mlp_values(student: Student, rng: np.random.Generator) -> None:
    """forward_mlp returns (relu(X W1 + b1), softmax(A1 W2 + b2)) on random networks (n != k and n = k)"""
    cases = [_network(rng), _network(rng, square=True)]
    check_all(*(partial(_check_case, student, args, _shapes(args)) for args in cases))


@grade("forward_mlp", points=1)
def test_forward_mlp_float32(student: Student, rng: np.random.Generator) -> None:
    """forward_mlp works on float32 inputs"""
    cases = [_network(rng, dtype=np.float32), _network(rng, dtype=np.float32, square=True)]
    check_all(*(partial(_check_case, student, args, f"float32 inputs, {_shapes(args)}", [args[0]])
                for args in cases))


def _stability_feedback(warnings: list[str], what: str) -> Feedback:
    text = "\n  ".join(warnings[:3])
    if "overflow" in text:
        diagnosis = ("(missing max subtraction) np.exp of a large logit overflows to inf. Reuse your stable "
                     "softmax from chapter 3.2 (it subtracts each row's max) instead of an inline np.exp.")
    else:
        diagnosis = ("(global max subtraction) a row of logits far below the array's largest one became 0/0. "
                     "Subtract each row's own max (axis=-1, keepdims=True); better, reuse your softmax.")
    return Feedback(f"forward_mlp with {what} emitted a RuntimeWarning where the "
                    f"docstring promises numerical stability:\n  {text}\nLikely mistake {diagnosis}")


def _saturated_network(rng: np.random.Generator) -> tuple[Array, ...]:
    """Logits spread up to about 1000: the probabilities saturate to exactly 0 and 1 (n = k)."""
    X, W1, b1, W2, b2 = _network(rng, square=True)
    A1 = np.maximum(X @ W1 + b1, 0)
    for _ in range(1000):                          # the largest logit must be POSITIVE (overflow side)
        if np.max(A1 @ W2) >= 0.1:
            break
        W2 = rng.normal(size=W2.shape)
    W2 = W2 * (rng.uniform(900.0, 1000.0) / float(np.max(A1 @ W2)))
    return X, W1, b1, W2, b2


def _shifted_network(rng: np.random.Generator) -> tuple[Array, ...]:
    """Every logit between about 890 and 1010, moderate differences within a row: np.exp of any logit
    overflows, yet no probability saturates, so every wrong formula gives visibly wrong values
    (deterministically, unlike the saturated case where many formulas round to the same 0 and 1); n != k."""
    X, W1, b1, W2, b2 = _network(rng)
    return X, W1, b1, W2, b2 + rng.uniform(900.0, 1000.0)


def _check_large(student: Student, args: tuple[Array, ...], what: str) -> None:
    """One large-logits case: no warning (unless it comes from the student's own relu/softmax, charged
    in 3.2), and the values of the pinned composition."""
    X, W1, b1, W2, b2 = args
    try:
        got = _call(student, args, forbid_warnings=True)
    except _OwnFunctionsRaised:
        return
    except StudentRaised:
        warnings = list(student.last_warnings)
        if not warnings:
            raise
        # Score once: a warning that comes from the student's own softmax/relu is charged in 3.2.
        # They are asked in a fresh worker that never saw the graded call.
        with fresh_worker(student) as fresh:
            own_warns = False
            A1 = np.maximum(X @ W1 + b1, 0)
            for fn, arg in (("relu", X @ W1 + b1), ("softmax", A1 @ W2 + b2)):
                try:
                    fresh.call(fn, arg, forbid_warnings=True, check_inputs=False)
                except StudentError:
                    own_warns = own_warns or bool(fresh.last_warnings)
            if own_warns:
                got = student.call("forward_mlp", *args)
                pairs = _compositions(fresh, *args)
                with np.errstate(all="ignore"):
                    if isinstance(got, (tuple, list)) and len(got) == 2 and any(
                        _usable(got[0], A.shape) and _usable(got[1], B.shape)
                        and np.allclose(got[0], A, equal_nan=True) and np.allclose(got[1], B, equal_nan=True)
                        for A, B in pairs
                    ):
                        return
        raise _stability_feedback(warnings, what) from None
    _check_forward(student, got, *args, what=what)


@grade("forward_mlp", points=2)
def test_forward_mlp_large_logits(student: Student, rng: np.random.Generator) -> None:
    """forward_mlp is finite and warning-free when the output logits reach 1000"""
    saturated, shifted = _saturated_network(rng), _shifted_network(rng)
    check_all(
        lambda: check_not_silenced(student, "forward_mlp", "forward_mlp with output logits of magnitude up to 1000"),
        lambda: _check_large(student, saturated, "output logits spread up to 1000 (saturated probabilities)"),
        lambda: _check_large(student, shifted, "every output logit near 1000 (b2 shifted by about 950)"),
    )


# ----------------------------------------------------------------------------- cross_entropy


def _probabilities(rng: np.random.Generator, dtype: Any = np.float64) -> tuple[Array, Array]:
    n, k = int(rng.integers(3, 20)), int(rng.integers(3, 8))
    P = rng.uniform(0.1, 1.0, size=(n, k))
    P /= P.sum(axis=1, keepdims=True)
    y = one_hot(rng.integers(0, k, size=n), k)
    return P.astype(dtype), y.astype(dtype)


def _ce_mistakes(A: Array, y: Array) -> list[Mistake]:
    A, y = A.astype(np.float64), y.astype(np.float64)
    n, k = A.shape
    terms = y * np.log(A)
    return [
        Mistake("mean over classes too", float(-np.mean(terms)),
                f"You divided by n * k = {n * k} (np.mean over every entry); cross-entropy sums over the "
                f"{k} classes and averages over the n = {n} samples only: -np.sum(y * np.log(A)) / n."),
        Mistake("sum instead of mean", float(-np.sum(terms)),
                "You summed over the samples too; cross-entropy is the MEAN over the n samples."),
        Mistake("missing minus sign", float(np.sum(terms) / n),
                "Your loss is negative: cross-entropy is MINUS the mean log-probability of the true class."),
        Mistake("binary cross-entropy per class", float(-np.sum(terms + (1 - y) * np.log(1 - A)) / n),
                "You added (1 - y) * log(1 - A): that is binary cross-entropy per class. With softmax "
                "outputs and one-hot y, only y * log(A) counts."),
        Mistake("log base 10", float(-np.sum(y * np.log10(A)) / n),
                "You used log10; cross-entropy uses the natural logarithm np.log."),
    ]


# Any epsilon up to 1e-7 is accepted: every probability is at least 0.1 / (0.1 k + 0.9 k) >= 0.0125,
# so an epsilon moves the loss by less than 8e-6, six times below this tolerance; every named
# mistake is off by a factor or a whole term.
_CE_RTOL, _CE_ATOL = 1e-6, 5e-5


@grade("cross_entropy", points=2)
def test_cross_entropy_values(student: Student, rng: np.random.Generator) -> None:
    """cross_entropy on random softmax-like probabilities and one-hot labels"""
    A, y = _probabilities(rng)
    got = student.call("cross_entropy", A, y)
    check_scalar(got, reference("cross_entropy", A, y), name=f"cross_entropy(A, y) with A of shape {A.shape}",
                 mistakes=_ce_mistakes(A, y), rtol=_CE_RTOL, atol=_CE_ATOL)


@grade("cross_entropy", points=1)
def test_cross_entropy_float32(student: Student, rng: np.random.Generator) -> None:
    """cross_entropy works on float32 input"""
    A, y = _probabilities(rng, np.float32)
    got = student.call("cross_entropy", A, y)
    check_scalar(got, reference("cross_entropy", A.astype(np.float64), y.astype(np.float64)),
                 name="cross_entropy(A, y) with float32 A and y", mistakes=_ce_mistakes(A, y), inputs=[A])


def _number(got: Any, name: str) -> float:
    """``got`` as a float, or Feedback naming why it is not one."""
    if isinstance(got, np.ndarray) and got.ndim > 0:
        check_scalar(got, 0.0, name=name)              # raises "(not a scalar)"
    try:
        return float(got)
    except (TypeError, ValueError):
        check_scalar(got, 0.0, name=name)              # raises with a description of got
        raise


@grade("cross_entropy", points=2)
def test_cross_entropy_zero_probabilities(student: Student, rng: np.random.Generator) -> None:
    """cross_entropy is finite, warning-free and large for probabilities of exactly 0 and 1"""
    n, k = int(rng.integers(3, 12)), int(rng.integers(2, 6))
    labels = rng.integers(0, k, size=n)
    y = one_hot(labels, k)
    other = one_hot((labels + 1) % k, k)
    cases = {
        "confident and right": y.copy(),               # all mass on the true class: loss ~ 0
        "confident and wrong": other,                  # the true class gets exactly 0
        "true class at 1e-3": 1e-3 * y + (1 - 1e-3) * other,
    }
    results: dict[str, float] = {}
    check_not_silenced(student, "cross_entropy", "cross_entropy(A, y) with probabilities of exactly 0 and 1")
    for label, A in cases.items():
        name = f"cross_entropy(A, y) with probabilities of exactly 0 and 1 ({label})"
        value = _number(student.call("cross_entropy", A, y, forbid_warnings=True), name)
        if not np.isfinite(value):
            raise Feedback(f"{name} returned {value!r}.\nLikely mistake (log(0)) np.log(0) is -inf: clip the "
                           "probabilities to [eps, 1] or add a small eps (at most 1e-7) inside the log.")
        results[label] = value
    right, wrong, moderate = results.values()
    if abs(right) > 1e-5:
        raise Feedback("cross_entropy(A, y) with A equal to the one-hot y should be ~0, got "
                       f"{right:.3g}.\nLikely mistake (epsilon too large) use an epsilon of at most 1e-7, "
                       "and only the true class's probability counts.")
    # Magnitude, not digits, and relative to the student's own scale (a sum/mean slip is
    # charged by the value tests): -log(eps) >= 16.1 against -log(1e-3) = 6.9, a ratio >= 2.3.
    if not (moderate != 0 and wrong / moderate > 2.2):
        raise Feedback(
            "cross_entropy(A, y) where the true class has probability exactly 0 should be large: with an "
            "epsilon of at most 1e-7 it is at least -log(1e-7) = 16.1 per sample, more than twice the loss "
            f"-log(1e-3) = 6.9 at probability 1e-3. You returned {wrong:.4g} and {moderate:.4g}.\n"
            "Likely mistake (epsilon too large) clip with an epsilon of at most 1e-7 (or add it inside the log)."
        )
