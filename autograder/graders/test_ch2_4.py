"""Hidden graders, chapter 2.4: numerical_gradient, linear_forward, relative_error.

numerical_gradient is called with kit fixtures as forward_fn / loss_fn (affine, tanh
layer, two-layer net; quartic and log-cosh losses), never with the student's own
functions, and compared with central differences computed on the trusted side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograder.harness import Fixture, InputMutated, Student, grade, reference, reference_args
from autograder.toolbox import Array
from dlnp.testing import Feedback, Mistake, check_array, check_scalar, describe, tolerances

CHAPTER = "2.4"

Params = dict[str, Array]


# --------------------------------------------------------------------------- numerical_gradient


def _differences(X: Array, y: Array, params: Params, loss: str, forward: str, h: float,
                 kind: str = "central") -> Params:
    """Finite differences on the trusted side: "central", "forward" or "backward"."""
    loss_fn: Callable[..., float] = reference_args(Fixture(loss))
    forward_fn: Callable[..., Array] = reference_args(Fixture(forward))
    work = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    out: Params = {}
    for name, theta in work.items():
        grad = np.zeros(theta.shape)
        for idx in np.ndindex(theta.shape):
            old = theta[idx]
            theta[idx] = old + h
            up = loss_fn(forward_fn(X, work), y)
            theta[idx] = old - h
            down = loss_fn(forward_fn(X, work), y)
            theta[idx] = old
            here = loss_fn(forward_fn(X, work), y)
            grad[idx] = {"central": (up - down) / (2 * h), "forward": (up - here) / h,
                         "backward": (here - down) / h}[kind]
        out[name] = grad
    return out


def _grad_mistakes(X: Array, y: Array, params: Params, loss: str, forward: str,
                   h: float = 1e-4) -> list[tuple[str, Params, str]]:
    central = _differences(X, y, params, loss, forward, h)
    return [
        ("forward difference", _differences(X, y, params, loss, forward, h, "forward"),
         "You used the forward difference (L(p + h) - L(p)) / h, accurate only to O(h); use the central "
         "difference (L(p + h) - L(p - h)) / (2h)."),
        ("backward difference", _differences(X, y, params, loss, forward, h, "backward"),
         "You used (L(p) - L(p - h)) / h; use the central difference (L(p + h) - L(p - h)) / (2h)."),
        ("factor 2", {k: 2 * v for k, v in central.items()},
         "You divided by h instead of 2h: the two evaluations are 2h apart."),
        ("perturbed a copy", {k: np.zeros_like(v) for k, v in central.items()},
         "Every entry is 0: the perturbed values never reached forward_fn (you perturbed a copy but called "
         "forward_fn with the original params, or perturbed a temporary such as params[name].copy()[idx])."),
    ]


def _call_numgrad(student: Student, X: Array, y: Array, params: Params, loss: str, forward: str,
                  **kwargs: Any) -> Any:
    try:
        return student.call("numerical_gradient", X, y, params, Fixture(loss), Fixture(forward), **kwargs)
    except InputMutated as exc:
        if "`params`" not in exc.message:
            raise
        raise Feedback(
            "numerical_gradient changed the values in `params`: after the call, some parameter entries differ "
            "from what was passed in.\nLikely mistake (parameter not restored) after perturbing an entry, assign "
            "the SAVED original back (old = theta[idx]; theta[idx] = old + h; ...; theta[idx] = old): every "
            "parameter must end up holding exactly its original values."
        ) from None


def _check_grads(got: Any, want: Params, *, name: str, mistakes: Sequence[tuple[str, Params, str]] = (),
                 inputs: Sequence[Any] = ()) -> None:
    if not isinstance(got, dict):
        raise Feedback(f"{name} must return a dict with the keys of params ({', '.join(want)}).\n"
                       f"  got: {describe(got)}")
    keys = {str(k) for k in got}  # pyright: ignore[reportUnknownVariableType]
    if keys != set(want):
        raise Feedback(f"{name} returned a dict with keys {sorted(keys)}; expected the keys of params, "
                       f"{sorted(want)}.")
    for key, value in want.items():
        check_array(got[key], value, name=f"{name}[{key!r}]", inputs=inputs,
                    mistakes=[Mistake(m, v[key], msg) for m, v, msg in mistakes])


def _affine_problem(rng: np.random.Generator) -> tuple[Array, Array, Params]:
    n, d, m = (int(v) for v in rng.integers(2, 6, size=3))
    X, y = rng.normal(size=(n, d)), rng.normal(size=(n, m))
    return X, y, {"W": rng.normal(size=(d, m)), "b": rng.normal(size=(1, m))}


@grade("numerical_gradient", points=2)
def test_numgrad_affine_quartic(student: Student, rng: np.random.Generator) -> None:
    """numerical_gradient of a quartic loss through an affine model (central differences)"""
    X, y, params = _affine_problem(rng)
    got = _call_numgrad(student, X, y, params, "quartic_loss", "affine")
    want = reference("numerical_gradient", X, y, params, Fixture("quartic_loss"), Fixture("affine"))
    _check_grads(got, want, name="numerical_gradient(affine model, quartic loss)",
                 mistakes=_grad_mistakes(X, y, params, "quartic_loss", "affine"))


@grade("numerical_gradient", points=2)
def test_numgrad_two_layer_logcosh(student: Student, rng: np.random.Generator) -> None:
    """numerical_gradient of a log-cosh loss through a two-layer tanh network (four parameter arrays)"""
    n, d, k = (int(v) for v in rng.integers(2, 5, size=3))
    X, y = rng.normal(size=(n, d)), rng.normal(size=(n, 1))
    params = {"W1": rng.normal(size=(d, k)), "b1": rng.normal(size=(1, k)),
              "W2": rng.normal(size=(k, 1)), "b2": rng.normal(size=(1, 1))}
    got = _call_numgrad(student, X, y, params, "logcosh_loss", "two_layer")
    want = reference("numerical_gradient", X, y, params, Fixture("logcosh_loss"), Fixture("two_layer"))
    _check_grads(got, want, name="numerical_gradient(two-layer net, log-cosh loss)",
                 mistakes=_grad_mistakes(X, y, params, "logcosh_loss", "two_layer"))


@grade("numerical_gradient", points=2)
def test_numgrad_restores_parameters(student: Student, rng: np.random.Generator) -> None:
    """after numerical_gradient every parameter holds exactly its original values"""
    n, d, m = (int(v) for v in rng.integers(2, 6, size=3))
    X, y = rng.normal(size=(n, d)), rng.normal(size=(n, m))
    params = {"W": rng.normal(size=(d, m)), "b": rng.normal(size=(1, m))}
    got = _call_numgrad(student, X, y, params, "quartic_loss", "tanh_layer")  # raises if a parameter changed
    want = reference("numerical_gradient", X, y, params, Fixture("quartic_loss"), Fixture("tanh_layer"))
    _check_grads(got, want, name="numerical_gradient(tanh layer, quartic loss)",
                 mistakes=_grad_mistakes(X, y, params, "quartic_loss", "tanh_layer"))


@grade("numerical_gradient", points=1)
def test_numgrad_uses_h(student: Student, rng: np.random.Generator) -> None:
    """numerical_gradient uses the step h it is given"""
    X, y, params = _affine_problem(rng)
    h = float(rng.uniform(0.02, 0.08))
    got = _call_numgrad(student, X, y, params, "quartic_loss", "tanh_layer", h=h)
    want = reference("numerical_gradient", X, y, params, Fixture("quartic_loss"), Fixture("tanh_layer"), h=h)
    mistakes = [("h ignored", _differences(X, y, params, "quartic_loss", "tanh_layer", 1e-4),
                 f"With h={h:.3g} the central difference differs measurably from the one with h=1e-4: use the "
                 "h argument, not a constant."),
                *_grad_mistakes(X, y, params, "quartic_loss", "tanh_layer", h)]
    _check_grads(got, want, name=f"numerical_gradient(..., h={h:.3g})", mistakes=mistakes)


@grade("numerical_gradient", points=1)
def test_numgrad_any_parameter_shape(student: Student, rng: np.random.Generator) -> None:
    """parameters of any shape (a 1-D bias here) and float32 X"""
    n, d, m = (int(v) for v in rng.integers(2, 6, size=3))
    X, y = rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(n, m))
    params = {"W": rng.normal(size=(d, m)), "b": rng.normal(size=(m,))}
    got = _call_numgrad(student, X, y, params, "quartic_loss", "affine")
    want = reference("numerical_gradient", X, y, params, Fixture("quartic_loss"), Fixture("affine"))
    mistakes = _grad_mistakes(X, y, params, "quartic_loss", "affine")
    # This test grades shapes and dtypes. The difference scheme is graded (in float64, with a wide margin)
    # by the other tests; in float32 an O(h) scheme lands inside or outside the tolerance depending on the
    # curvature the seed drew, so here it is accepted as what it is, and costs its points once, elsewhere.
    one_sided = [grads for label, grads, _ in mistakes if label in ("forward difference", "backward difference")]
    if any(_same_grads(got, grads, X) for grads in one_sided):
        return
    _check_grads(got, want, name="numerical_gradient(params with a 1-D bias of shape "
                 f"{params['b'].shape}, float32 X)", mistakes=mistakes, inputs=[X])


def _same_grads(got: Any, want: Params, *inputs: Any) -> bool:
    """Whether ``got`` is a dict with ``want``'s keys, shapes and values (within the inputs' tolerance)."""
    if not isinstance(got, dict) or {str(k) for k in got} != set(want):  # pyright: ignore[reportUnknownVariableType]
        return False
    rtol, atol = tolerances(*inputs)
    for key, value in want.items():
        mine = got[key]  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(mine, np.ndarray) or mine.shape != value.shape:
            return False
        if not np.allclose(mine, value, rtol=rtol, atol=atol):
            return False
    return True


# --------------------------------------------------------------------------- linear_forward


def _linear_mistakes(X: Array, params: Params) -> list[Mistake]:
    W, b = params["W"], params["b"]
    return [
        Mistake("no bias", X @ W, "You forgot to add the bias: Z = X @ W + b."),
        Mistake("bias subtracted", X @ W - b, "The bias is ADDED: Z = X @ W + b."),
    ]


@grade("linear_forward", points=1)
def test_linear_forward_random(student: Student, rng: np.random.Generator) -> None:
    """linear_forward(X, params) = X @ W + b on random shapes"""
    n, d, m = (int(v) for v in rng.choice(np.arange(2, 9), size=3, replace=False))
    X = rng.normal(size=(n, d))
    params = {"W": rng.normal(size=(d, m)), "b": rng.normal(size=(1, m))}
    got = student.call("linear_forward", X, params)
    check_array(got, reference("linear_forward", X, params), name=f"linear_forward(X {X.shape}, W {(d, m)})",
                mistakes=_linear_mistakes(X, params))


@grade("linear_forward", points=1)
def test_linear_forward_float32_one_output(student: Student, rng: np.random.Generator) -> None:
    """linear_forward with float32 input and a single output unit (m = 1)"""
    n, d = (int(v) for v in rng.choice(np.arange(2, 9), size=2, replace=False))
    X = rng.normal(size=(n, d)).astype(np.float32)
    params = {"W": rng.normal(size=(d, 1)).astype(np.float32), "b": rng.normal(size=(1, 1)).astype(np.float32)}
    got = student.call("linear_forward", X, params)
    want = reference("linear_forward", X.astype(np.float64), {k: v.astype(np.float64) for k, v in params.items()})
    check_array(got, want, name=f"linear_forward(float32 X {X.shape}, m=1)",
                mistakes=_linear_mistakes(X, params), inputs=[X])


# --------------------------------------------------------------------------- relative_error


def _rel_mistakes(a: Array, b: Array) -> list[Mistake]:
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    norm = np.linalg.norm
    diff = a64 - b64
    out = [
        Mistake("no denominator", float(norm(diff)),
                "You returned norm(a - b); divide by norm(a) + norm(b) to make it relative."),
        Mistake("max in the denominator", float(norm(diff) / max(norm(a64), norm(b64))),
                "The denominator is norm(a) + norm(b), not their maximum."),
        Mistake("norm of the sum", float(norm(diff) / norm(a64 + b64)),
                "The denominator is norm(a) + norm(b), not norm(a + b)."),
        Mistake("sums instead of norms", float(np.sum(np.abs(diff)) / (np.sum(np.abs(a64)) + np.sum(np.abs(b64)))),
                "You used sums of absolute values (L1 norms); the formula uses Euclidean norms (np.linalg.norm)."),
        Mistake("no norm", float(np.sum(diff) / (np.sum(a64) + np.sum(b64))),
                "You summed signed entries; use Euclidean norms: norm(a - b) / (norm(a) + norm(b))."),
    ]
    if a64.ndim == 2:
        out.append(Mistake("matrix 2-norm", float(norm(diff, 2) / (norm(a64, 2) + norm(b64, 2))),
                           "You used the matrix 2-norm (ord=2, the largest singular value); flatten the arrays "
                           "(or use np.linalg.norm without ord) for the Euclidean norm of all entries."))
    return out


@grade("relative_error", points=1)
def test_relative_error_formula(student: Student, rng: np.random.Generator) -> None:
    """relative_error(a, b) = norm(a - b) / (norm(a) + norm(b)) on random matrices"""
    shape = (int(rng.integers(2, 6)), int(rng.integers(2, 6)))
    a = rng.normal(size=shape)
    b = a + 10.0 ** rng.uniform(-3, 0) * rng.normal(size=shape)
    got = student.call("relative_error", a, b)
    check_scalar(got, reference("relative_error", a, b), name=f"relative_error(a, b of shape {shape})",
                 mistakes=_rel_mistakes(a, b))


@grade("relative_error", points=1)
def test_relative_error_zero_arrays(student: Student, rng: np.random.Generator) -> None:
    """relative_error is 0.0 when both arrays are zero, and 1.0 against a zero array"""
    shape = (int(rng.integers(2, 6)), int(rng.integers(1, 4)))
    zeros = np.zeros(shape)
    got = student.call("relative_error", zeros, zeros.copy())
    if isinstance(got, (float, np.floating)) and not np.isfinite(got):
        raise Feedback(f"relative_error(zeros, zeros) returned {got!r}.\nLikely mistake (both zero) "
                       "norm(a) + norm(b) is 0: return 0.0 in that case instead of dividing.")
    check_scalar(got, 0.0, name=f"relative_error(zeros {shape}, zeros {shape})")
    a = rng.normal(size=shape)
    check_scalar(student.call("relative_error", a, zeros), 1.0, name="relative_error(a, zeros)",
                 mistakes=_rel_mistakes(a, zeros))


@grade("relative_error", points=1)
def test_relative_error_flattened_and_scalar(student: Student, rng: np.random.Generator) -> None:
    """relative_error returns one number for column vectors and 3-D (also float32) arrays"""
    n = int(rng.integers(3, 10))
    a, b = rng.normal(size=(n, 1)), rng.normal(size=(n, 1))
    check_scalar(student.call("relative_error", a, b), reference("relative_error", a, b),
                 name=f"relative_error(a, b of shape {a.shape})", mistakes=_rel_mistakes(a, b))
    shape = tuple(int(s) for s in rng.integers(2, 4, size=3))
    a3 = rng.normal(size=shape).astype(np.float32)
    b3 = (a3 + 0.1 * rng.normal(size=shape)).astype(np.float32)
    check_scalar(student.call("relative_error", a3, b3), reference("relative_error", a3, b3),
                 name=f"relative_error(float32 a, b of shape {shape})", mistakes=_rel_mistakes(a3, b3),
                 inputs=[a3])
