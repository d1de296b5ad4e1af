"""Hidden graders, chapter 3.2: relu, relu_derivative and softmax.

Pinned by SPEC §5 and the docstrings: ReLU element-wise on any shape; its derivative is
1 where Z > 0 and 0 elsewhere (0 at Z == 0 exactly), a float array of Z's dtype;
softmax along the LAST axis (rows of (n, k), or a 1-D vector), finite and warning-free
for logits up to |z| = 1000. Nothing else is enforced.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograder.harness import Student, StudentRaised, check_not_silenced, grade, reference
from autograder.toolbox import Array, stable_softmax
from dlnp.testing import Feedback, Mistake, check_array

CHAPTER = "3.2"


# ----------------------------------------------------------------------------- inputs


def _with_zeros(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any = np.float64) -> Array:
    """Normal values with about a fifth of the entries set to exactly 0 (at least one)."""
    Z = rng.normal(scale=2.0, size=shape)
    Z[rng.random(shape) < 0.2] = 0.0
    cells = rng.permutation(Z.size)[:3]  # at least one zero, one positive and one negative entry
    Z.flat[cells[0]] = 0.0
    Z.flat[cells[1]] = abs(Z.flat[cells[1]]) + 0.5
    Z.flat[cells[2]] = -abs(Z.flat[cells[2]]) - 0.5
    return Z.astype(dtype)


def _shape2(rng: np.random.Generator, square: bool = False) -> tuple[int, int]:
    n = int(rng.integers(3, 9))
    if square:
        return n, n
    k = int(rng.integers(2, 7))
    return n, (k if k != n else k + 1)


# ----------------------------------------------------------------------------- relu


def _relu_mistakes(Z: Array) -> list[Mistake]:
    return [
        Mistake("np.max instead of np.maximum", np.max(Z, axis=0),
                "np.max(Z, 0) is the largest entry along axis 0 (a reduction); the element-wise maximum "
                "with 0 is np.maximum(Z, 0)."),
        Mistake("returned the derivative", (Z > 0).astype(np.float64),
                "You returned 1/0 (the ReLU derivative); ReLU itself passes positive values through unchanged."),
        Mistake("minimum instead of maximum", np.minimum(Z, 0),
                "You kept the negative part; ReLU is max(0, z)."),
        Mistake("absolute value", np.abs(Z),
                "You took |z|; ReLU sets negative inputs to 0."),
        Mistake("leaky ReLU", np.where(Z > 0, Z, 0.01 * Z),
                "You kept 0.01 * z for negative inputs (leaky ReLU); ReLU sets them to exactly 0: np.maximum(Z, 0)."),
    ]


@grade("relu", points=2)
def test_relu_values(student: Student, rng: np.random.Generator) -> None:
    """relu on a random matrix with negative, positive and zero entries"""
    Z = _with_zeros(rng, _shape2(rng))
    got = student.call("relu", Z)
    check_array(got, reference("relu", Z), name=f"relu(Z) with Z of shape {Z.shape}", mistakes=_relu_mistakes(Z))


@grade("relu", points=1)
def test_relu_any_shape_and_float32(student: Student, rng: np.random.Generator) -> None:
    """relu works element-wise on 1-D and 3-D input and on float32"""
    for shape in ((int(rng.integers(4, 12)),), (2, int(rng.integers(2, 5)), int(rng.integers(2, 5)))):
        Z = _with_zeros(rng, shape)
        got = student.call("relu", Z)
        check_array(got, reference("relu", Z), name=f"relu(Z) with Z of shape {Z.shape}",
                    mistakes=_relu_mistakes(Z))
    Z32 = _with_zeros(rng, _shape2(rng), np.float32)
    got = student.call("relu", Z32)
    check_array(got, reference("relu", Z32), name="relu(Z) with float32 Z", inputs=[Z32],
                mistakes=_relu_mistakes(Z32.astype(np.float64)))


# ----------------------------------------------------------------------------- relu_derivative


def _relu_derivative_mistakes(Z: Array) -> list[Mistake]:
    return [
        Mistake("ReLU derivative at 0", (Z >= 0).astype(np.float64),
                "At Z == 0 exactly your derivative is 1; the convention is 0 there (use Z > 0, not Z >= 0)."),
        Mistake("returned ReLU itself", np.maximum(Z, 0),
                "You returned max(0, z); the derivative is 1 where z > 0 and 0 elsewhere."),
        Mistake("inverted mask", (Z <= 0).astype(np.float64),
                "Your 1s and 0s are swapped: the derivative is 1 where z > 0."),
    ]


@grade("relu_derivative", points=2)
def test_relu_derivative_values(student: Student, rng: np.random.Generator) -> None:
    """relu_derivative is 1 where Z > 0 and 0 elsewhere, also at Z == 0 exactly"""
    for Z in (_with_zeros(rng, _shape2(rng)), _with_zeros(rng, (int(rng.integers(5, 12)),))):
        got = student.call("relu_derivative", Z)
        check_array(got, reference("relu_derivative", Z), name=f"relu_derivative(Z) with Z of shape {Z.shape}",
                    mistakes=_relu_derivative_mistakes(Z),
                    hint=f"Z has {int(np.sum(Z == 0))} entries equal to exactly 0.")


@grade("relu_derivative", points=1)
def test_relu_derivative_dtype(student: Student, rng: np.random.Generator) -> None:
    """relu_derivative returns a float array of Z's dtype (float64 and float32)"""
    for dtype in (np.float64, np.float32):
        Z = _with_zeros(rng, _shape2(rng), dtype)
        got = student.call("relu_derivative", Z)
        name = f"relu_derivative(Z) with {np.dtype(dtype).name} Z"
        check_array(got, reference("relu_derivative", Z), name=name, inputs=[Z],
                    mistakes=_relu_derivative_mistakes(Z.astype(np.float64)))
        got_dtype = np.asarray(got).dtype
        if got_dtype == Z.dtype:
            continue
        if got_dtype == np.bool_:
            why = ("(boolean mask) Z > 0 is an array of True/False; convert it with .astype(Z.dtype) so "
                   "it can be multiplied into gradients as 1.0/0.0.")
        elif np.issubdtype(got_dtype, np.integer):
            why = "(integer array) The derivative is a FLOAT array: convert the mask with .astype(Z.dtype)."
        else:
            why = ("(wrong float dtype) The docstring pins Z's dtype (float32 in, float32 out): "
                   "use .astype(Z.dtype) rather than float or np.float64.")
        raise Feedback(f"{name} returned dtype {got_dtype}, expected {Z.dtype}.\nLikely mistake {why}")


# ----------------------------------------------------------------------------- softmax


def _softmax_mistakes(Z: Array) -> list[Mistake]:
    Z = Z.astype(np.float64)
    E = np.exp(Z - np.max(Z, axis=-1, keepdims=True))
    mistakes = [
        Mistake("softmax over the whole array", stable_softmax(Z, None),
                "All entries of your result sum to 1 together; each ROW (the last axis) must sum to 1 on its "
                "own: use axis=-1 with keepdims=True in the max and the sum."),
        Mistake("not normalized", E,
                "You returned the exponentials without dividing by their row sum."),
    ]
    if Z.ndim == 1:
        mistakes.append(Mistake(
            "column reshape", stable_softmax(Z)[None, :],
            "You reshaped the sums with .reshape(-1, 1): for a 1-D vector of k scores the sum is one number, "
            "which becomes a (1, 1) array and turns your result into shape (1, k). Keep the reduced axis with "
            "keepdims=True instead (np.sum(E, axis=-1, keepdims=True)); it works for (k,) and (n, k) alike."))
    if Z.ndim == 2:
        mistakes.insert(0, Mistake(
            "wrong softmax axis", stable_softmax(Z, 0),
            "Your columns sum to 1, not your rows: softmax normalizes each sample's k scores, i.e. along the "
            "last axis (axis=-1, keepdims=True), not over the batch (axis=0)."))
    if Z.ndim == 2 and Z.shape[0] == Z.shape[1]:
        keep = "Without keepdims=True a (n,) vector of row maxima/sums broadcasts along the wrong axis " \
               "(it is subtracted/divided column-wise); use Z.max(axis=-1, keepdims=True) and " \
               "E.sum(axis=-1, keepdims=True)."
        no_max = np.exp(Z - np.max(Z, axis=-1)[None, :])
        mistakes += [
            Mistake("missing keepdims", no_max / np.sum(no_max, axis=-1)[None, :], keep),
            Mistake("missing keepdims", E / np.sum(E, axis=-1)[None, :], keep),
            Mistake("missing keepdims", no_max / np.sum(no_max, axis=-1, keepdims=True), keep),
        ]
    return mistakes


def _axis_hint(student: Student, Z: Array, label: str) -> Any:
    """Call softmax; turn an axis error on 1-D input into a named diagnosis."""
    try:
        return student.call("softmax", Z)
    except StudentRaised as exc:
        if "axis" in exc.message and ("out of bounds" in exc.message or "AxisError" in exc.message):
            raise Feedback(
                f"{exc.message}\nLikely mistake (wrong softmax axis) {label}: axis=1 does not exist for a 1-D "
                "vector. axis=-1 (the last axis) means the row of a (n, k) matrix AND the whole of a (k,) vector."
            ) from None
        raise


@grade("softmax", points=2)
def test_softmax_values(student: Student, rng: np.random.Generator) -> None:
    """softmax is row-wise (last axis) on a square and a rectangular batch of logits"""
    for square in (True, False):
        Z = rng.normal(scale=2.0, size=_shape2(rng, square=square))
        got = student.call("softmax", Z)
        check_array(got, reference("softmax", Z), name=f"softmax(Z) with Z of shape {Z.shape}",
                    mistakes=_softmax_mistakes(Z))


@grade("softmax", points=1)
def test_softmax_1d(student: Student, rng: np.random.Generator) -> None:
    """softmax of a 1-D vector of scores"""
    z = rng.normal(scale=2.0, size=int(rng.integers(3, 9)))
    got = _axis_hint(student, z, f"softmax(z) with z of shape {z.shape}")
    check_array(got, reference("softmax", z), name=f"softmax(z) with z of shape {z.shape}",
                mistakes=_softmax_mistakes(z))


@grade("softmax", points=1)
def test_softmax_float32(student: Student, rng: np.random.Generator) -> None:
    """softmax works on float32 logits"""
    Z = rng.normal(scale=3.0, size=_shape2(rng)).astype(np.float32)
    got = student.call("softmax", Z)
    check_array(got, reference("softmax", Z), name="softmax(Z) with float32 Z", inputs=[Z],
                mistakes=_softmax_mistakes(Z))


def _stability_feedback(what: str, warnings: list[str]) -> Feedback:
    """Feedback for a softmax (or a forward pass through one) that warned on logits near +-1000."""
    text = "\n  ".join(warnings[:3])
    if "overflow" in text:
        diagnosis = ("(missing max subtraction) np.exp of a logit near 1000 overflows to inf (and inf/inf is nan). "
                     "Softmax does not change when a constant is subtracted from a row, so subtract each row's "
                     "max first: Z - Z.max(axis=-1, keepdims=True); then every exponent is <= 0.")
    else:
        diagnosis = ("(global max subtraction) A row whose logits are all far below the largest logit of the "
                     "whole array became exp(-2000) = 0 everywhere, and 0/0 is nan. Subtract each ROW's own max "
                     "(Z.max(axis=-1, keepdims=True)), not the global Z.max().")
    return Feedback(f"{what} with logits of magnitude up to 1000 emitted a RuntimeWarning where the docstring "
                    f"promises numerical stability:\n  {text}\nLikely mistake {diagnosis}")


def _large_logits(rng: np.random.Generator) -> Array:
    n, k = _shape2(rng)
    n = max(n, 3)
    offsets = rng.choice([-1000.0, 0.0, 1000.0], size=(n, 1))
    offsets[0, 0], offsets[1, 0] = 1000.0, -1000.0
    Z = offsets + rng.normal(scale=3.0, size=(n, k))
    Z[2] = rng.choice([-1000.0, 1000.0]) * np.sign(rng.normal(size=k))  # +-1000 mixed in one row
    return Z


@grade("softmax", points=2)
def test_softmax_large_logits(student: Student, rng: np.random.Generator) -> None:
    """softmax stays finite and warning-free for logits of magnitude 1000"""
    Z = _large_logits(rng)
    check_not_silenced(student, "softmax", "softmax(Z) with logits of magnitude up to 1000")
    try:
        got = student.call("softmax", Z, forbid_warnings=True)
    except StudentRaised:
        if student.last_warnings:
            raise _stability_feedback("softmax(Z)", student.last_warnings) from None
        raise
    want = reference("softmax", Z)
    if isinstance(got, np.ndarray) and got.shape == want.shape and not np.all(np.isfinite(got)):
        raise Feedback("softmax(Z) with logits of magnitude up to 1000 returned NaN or inf.\nLikely mistake "
                       "(missing max subtraction) subtract each row's max (keepdims=True) before np.exp.")
    check_array(got, want, name="softmax(Z) with logits of magnitude up to 1000", mistakes=_softmax_mistakes(Z))
