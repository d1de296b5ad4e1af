"""Hidden graders, chapter 5.1: layers and losses as objects.

Every test drives the student's objects through handles (``student.new``), sets
their parameters to random values drawn here, and compares what comes back with the
reference layer run on the same inputs. Known wrong answers (gradients averaged in
``Linear``, accumulated across steps, a stale cache, the softmax Jacobian replaced by
the identity, a loss gradient with respect to the probabilities instead of the
logits, ...) are computed on this side and named in the feedback.

One mistake is scored once: ``Sigmoid`` and ``Softmax`` are built on the student's own
``sigmoid`` and ``softmax`` (chapters 1.3 and 3.2). When their checks fail, they are run
again against the reference layer built on the student's own functions (evaluated in a
fresh worker that never saw the graded calls) and a pass there is accepted.
"""

import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograder.harness import (
    CompositionUnavailable,
    FreshWorker,
    InputMutated,
    Remote,
    Student,
    StudentError,
    StudentRaised,
    check_not_silenced,
    fresh_worker,
    grade,
    own_functions,
    seed_from,
)
from autograder.toolbox import Array, check_init_statistics
from autograder.toolbox import sigmoid as _sigmoid
from dlnp.testing import (
    Feedback,
    Mistake,
    check_all,
    check_array,
    check_scalar,
    describe,
    diagnose_warnings,
    tolerances,
)
from solutions import layers as ref

CHAPTER = "5.1"



# ------------------------------------------------------------------------ helpers


#: The layers built on the student's own earlier functions (score once).
OWN = {"Sigmoid": ("sigmoid",), "Softmax": ("softmax",)}
#: While a check is re-run against the student's own functions: the fresh worker that computes them.
_OWN_WORKER: list[FreshWorker] = []


def _score_once(student: Student, name: str, body: Callable[[], None],
                probe: Sequence[tuple[Array, Array]] = ()) -> None:
    """Run the checks of ``body``; if they fail, run them again with the reference layer ``name``
    built on the student's own earlier functions (asked in a fresh worker) and accept a pass.

    A crash (or a modified input) of the student's layer is accepted when the same reference layer
    fails the same way on one of the ``probe`` inputs (Z, dA): forward(Z) then backward(dA)
    (:func:`_own_fails_alike`).
    """
    try:
        body()
    except Feedback:
        if name not in OWN:
            raise
        with fresh_worker(student) as fresh:
            _OWN_WORKER.append(fresh)
            try:
                with own_functions(fresh, name, OWN[name]):
                    body()
            except (Feedback, CompositionUnavailable, StudentError, ArithmeticError, ValueError, TypeError):
                pass
            else:
                return
            finally:
                _OWN_WORKER.pop()
        raise
    except (StudentRaised, InputMutated) as exc:
        if name in OWN and any(_own_fails_alike(student, name, exc, Z, G) for Z, G in probe):
            return  # charged in the chapter that grades the earlier function
        raise


class _OwnFailed(Exception):
    """The student's own earlier function failed: its exception type name (or "InputMutated")."""


def _own_fails_alike(student: Student, name: str, error: StudentError, Z: Array, G: Array) -> bool:
    """Does the reference layer ``name`` built on the student's own earlier function (in a fresh worker)
    fail like the student's layer did: the same exception type (raised by that function or by the layer
    with what it returned), or that function modifying its input?"""
    if isinstance(error, InputMutated):
        want = "InputMutated"
    else:
        kind = re.search(r" raised (\w+): ", error.message)
        if kind is None:
            return False
        want = kind.group(1)
    module = sys.modules[ref.__name__]
    saved = {function: getattr(module, function) for function in OWN[name]}
    with fresh_worker(student) as fresh:

        def proxy(function: str) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                try:
                    return fresh.call(function, *args, **kwargs)
                except InputMutated:
                    raise _OwnFailed("InputMutated") from None
                except StudentRaised as exc:
                    own = re.search(r" raised (\w+): ", exc.message)
                    raise _OwnFailed(own.group(1) if own else "") from None
            return call

        try:
            for function in saved:
                setattr(module, function, proxy(function))
            layer = getattr(ref, name)()
            with np.errstate(all="ignore"):
                layer.forward(Z.copy())
                layer.backward(G.copy())
        except _OwnFailed as exc:
            return str(exc) == want
        except StudentError:
            return False
        except Exception as exc:  # the layer fails on what the student's function returned
            return type(exc).__name__ == want
        finally:
            for function, trusted in saved.items():
                setattr(module, function, trusted)
    return False


def _own_check_array(got: Any, want: Any, **kwargs: Any) -> None:
    """:func:`check_array`, except that while a check is re-run against the student's own earlier
    functions, NaN is accepted where their own function makes NaN (no max shift on |z| = 1000)."""
    if _OWN_WORKER and isinstance(got, np.ndarray) and isinstance(want, np.ndarray) and got.shape == want.shape:
        rtol, atol = tolerances(*kwargs.get("inputs", ()))
        atol = kwargs.get("atol") or atol
        with np.errstate(all="ignore"):
            if np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True):
                return
    check_array(got, want, **kwargs)


def _quiet(student: Student, obj: Remote, method: str, *args: Any, excused: bool = False) -> Any:
    """``obj.method(*args)``, failing with a learner's message on any RuntimeWarning (unless the
    student's own earlier function warned on the same input, or ``excused``: the reference layer built
    on that function already gives non-finite or impossible values; that is charged in its chapter)."""
    value = obj.call(method, *args)
    if student.last_warnings and not excused and not (_OWN_WORKER and _OWN_WORKER[-1].last_warnings):
        hint = diagnose_warnings(student.last_warnings)
        raise Feedback(
            f"{obj.type_name}.{method} emitted a warning where the docstring promises numerical "
            "stability (|z| up to 1000, probabilities of exactly 0 and 1):\n  "
            + "\n  ".join(student.last_warnings[:3])
            + (f"\nLikely mistake {hint}" if hint else "")
        )
    return value


def _linear(student: Student, rng: np.random.Generator, d: int, m: int) -> tuple[Remote, Array, Array]:
    """A student Linear(d, m) whose W and b are set to random values drawn here."""
    lin = student.new("Linear", d, m, rng=seed_from(rng))
    W, b = rng.normal(size=(d, m)), rng.normal(size=(1, m))
    lin.set("W", W.copy())
    lin.set("b", b.copy())
    return lin, W, b


def _dims(rng: np.random.Generator) -> tuple[int, int, int]:
    """(n, d, m) with n >= 3 and d != m, so that averaging and transposes are visible."""
    n = int(rng.integers(3, 9))
    d = int(rng.integers(2, 6))
    m = d + int(rng.integers(1, 4))
    return n, d, m


def _probs(rng: np.random.Generator, n: int, k: int) -> Array:
    """Rows of probabilities, every entry at least 0.5 / k: an epsilon up to 1e-7 in a log moves a
    loss by at most 2e-7 * k (about 1e-6 here), far below :data:`LOSS_ATOL`."""
    Z = rng.normal(scale=1.5, size=(n, k))
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return 0.5 * E / E.sum(axis=1, keepdims=True) + 0.5 / k


#: Any epsilon up to 1e-7 (added inside the log or used to clip) is accepted (SPEC §5).
LOSS_ATOL = 2e-5


# ------------------------------------------------------------------------ Linear

_INIT_CANDIDATES = {
    "he": lambda d, m: [
        ("fan_out instead of fan_in", np.sqrt(2 / m),
         "Your weights have the scale sqrt(2 / out_features): He initialization divides by the "
         "number of INPUTS, sqrt(2 / in_features)."),
        ("variance used as std", 2 / d,
         "Your weights have standard deviation 2 / in_features: that is the VARIANCE; the "
         "standard deviation is its square root, sqrt(2 / in_features)."),
        ("Xavier instead of He", np.sqrt(2 / (d + m)),
         "Your weights have the Xavier scale sqrt(2 / (in + out)); init='he' is sqrt(2 / in_features)."),
        ("1/fan_in instead of 2/fan_in", np.sqrt(1 / d),
         "Your weights have the scale sqrt(1 / in_features); He initialization has a factor 2 "
         "(ReLU zeroes half of the signal): sqrt(2 / in_features)."),
        ("unscaled", 1.0,
         "Your weights are standard normal (std 1): multiply by sqrt(2 / in_features)."),
        ("0.01 scale", 0.01,
         "Your weights have the fixed scale 0.01; He initialization uses sqrt(2 / in_features)."),
    ],
    "xavier": lambda d, m: [
        ("1/fan_in Xavier", np.sqrt(1 / d),
         "Your weights have the scale sqrt(1 / in_features) (sometimes also called Xavier); in this "
         "kit init='xavier' is Glorot's sqrt(2 / (in_features + out_features))."),
        ("He instead of Xavier", np.sqrt(2 / d),
         "Your weights have the He scale sqrt(2 / in_features); init='xavier' is "
         "sqrt(2 / (in_features + out_features))."),
        ("uniform limit used as std", np.sqrt(6 / (d + m)),
         "Your weights have standard deviation sqrt(6 / (in + out)), the LIMIT of Glorot's uniform "
         "variant; the normal variant has std sqrt(2 / (in + out))."),
        ("variance used as std", 2 / (d + m),
         "Your weights have standard deviation 2 / (in + out): that is the variance; take its square root."),
        ("unscaled", 1.0,
         "Your weights are standard normal (std 1): multiply by sqrt(2 / (in_features + out_features))."),
    ],
}


def _check_init(student: Student, rng: np.random.Generator, init: str) -> None:
    d, m = 300, 100
    seed = seed_from(rng)
    lin = student.new("Linear", d, m, init=init, rng=seed)
    W, b = lin.get("W"), lin.get("b")
    call = f"Linear({d}, {m}, init={init!r}, rng=...)"
    if not isinstance(W, np.ndarray) or W.shape != (d, m):
        got = f"shape {W.shape}" if isinstance(W, np.ndarray) else describe(W)
        message = f"{call}.W should be an array of shape {(d, m)} (in_features, out_features); got {got}."
        if isinstance(W, np.ndarray) and W.shape == (m, d):
            message += ("\nLikely mistake (transposed) you used (out, in) as in column-major texts; this kit "
                        "is row-major: Z = X @ W with W of shape (in_features, out_features).")
        raise Feedback(message)
    check_array(b, np.zeros((1, m)), name=f"{call}.b", hint="biases start at zero, shape (1, out_features)")
    want = float(np.sqrt(2 / d) if init == "he" else np.sqrt(2 / (d + m)))
    check_init_statistics(W, want, call=call, candidates=_INIT_CANDIDATES[init](d, m))
    again = student.new("Linear", d, m, init=init, rng=seed).get("W")
    if not np.array_equal(W, again):
        raise Feedback(
            f"Two {call} built with generators of the same seed have different weights.\n"
            "Likely mistake (rng ignored) draw the weights from the `rng` argument "
            "(rng.standard_normal or rng.normal), not from np.random, so that a seed reproduces the layer."
        )


@grade("Linear", points=1)
def test_linear_he_init(student: Student, rng: np.random.Generator) -> None:
    """Linear(init='he'): W ~ N(0, 2/in), b = 0, reproducible from rng"""
    _check_init(student, rng, "he")


def _check_unknown_init(student: Student, rng: np.random.Generator) -> None:
    """The docstring pins: an ``init`` other than "he" or "xavier" raises ValueError."""
    call = "Linear(4, 3, init='uniform', rng=...)"
    try:
        student.new("Linear", 4, 3, init="uniform", rng=seed_from(rng))
    except StudentRaised as exc:
        kind = re.search(r" raised (\w+): ", exc.message)
        if kind is not None and kind.group(1) == "ValueError":
            return
        raise Feedback(
            f"{call} must raise ValueError (only 'he' and 'xavier' are known).\n{exc.message}\n"
            "Likely mistake (wrong exception type) check init first and raise ValueError(...) yourself."
        ) from None
    raise Feedback(
        f"{call} built a layer instead of raising ValueError (only 'he' and 'xavier' are known).\n"
        "Likely mistake (unknown init accepted) a typo such as init='hee' must not silently fall back to one "
        "of the two schemes: raise ValueError for anything else."
    )


@grade("Linear", points=1)
def test_linear_xavier_init(student: Student, rng: np.random.Generator) -> None:
    """Linear(init='xavier'): W ~ N(0, 2/(in+out)); an unknown init raises ValueError"""
    check_all(lambda: _check_init(student, rng, "xavier"), lambda: _check_unknown_init(student, rng))


@grade("Linear", points=1)
def test_linear_forward(student: Student, rng: np.random.Generator) -> None:
    """Linear.forward computes X @ W + b (float64 and float32)"""
    n, d, m = _dims(rng)
    lin, W, b = _linear(student, rng, d, m)
    X = rng.normal(size=(n, d))
    check_array(lin.call("forward", X), X @ W + b, name="Linear.forward(X)", mistakes=[
        Mistake("bias missing", X @ W, "You returned X @ W: add the bias b (broadcast over the rows)."),
    ])
    X32 = X.astype(np.float32)
    check_array(lin.call("forward", X32), X32 @ W + b, name="Linear.forward(X float32)", inputs=[X32])


def _linear_backward(student: Student, rng: np.random.Generator) -> tuple[Array, Array, Array, Any, Any, Any]:
    n, d, m = _dims(rng)
    lin, W, _ = _linear(student, rng, d, m)
    X, G = rng.normal(size=(n, d)), rng.normal(size=(n, m))
    lin.call("forward", X)
    dX = lin.call("backward", G)
    return X, W, G, dX, lin.get("dW"), lin.get("db")


@grade("Linear", points=1)
def test_linear_backward_dx(student: Student, rng: np.random.Generator) -> None:
    """Linear.backward returns dX = dZ @ W.T"""
    X, W, G, dX, _, _ = _linear_backward(student, rng)
    n = X.shape[0]
    check_array(dX, G @ W.T, name="dX = Linear.backward(dZ)", mistakes=[
        Mistake("dX averaged", G @ W.T / n,
                "You divided dX by the batch size. dZ is already the gradient of the mean loss; "
                "Linear.backward divides by nothing."),
    ])


@grade("Linear", points=1)
def test_linear_backward_dw(student: Student, rng: np.random.Generator) -> None:
    """Linear.backward sets dW = X.T @ dZ (no 1/n: the loss already averaged)"""
    X, _, G, _, dW, _ = _linear_backward(student, rng)
    n = X.shape[0]
    check_array(dW, X.T @ G, name="Linear.dW after backward(dZ)", mistakes=[
        Mistake("averaged in Linear", X.T @ G / n,
                "Your dW is X.T @ dZ / n. In this kit the 1/n of the batch mean lives in the loss's "
                "backward (dZ = (P - Y) / n); dividing again in Linear averages twice and makes every "
                "gradient n times too small."),
    ])


@grade("Linear", points=1)
def test_linear_backward_db(student: Student, rng: np.random.Generator) -> None:
    """Linear.backward sets db = sum of dZ over the batch, shape (1, m)"""
    _, _, G, _, _, db = _linear_backward(student, rng)
    check_array(db, G.sum(axis=0, keepdims=True), name="Linear.db after backward(dZ)", mistakes=[
        Mistake("mean instead of sum", G.mean(axis=0, keepdims=True),
                "Your db is the MEAN of dZ over the batch; it is the sum (the 1/n is already in dZ)."),
        Mistake("summed over the wrong axis", G.sum(axis=1, keepdims=True).T,
                "You summed dZ over axis 1 (the outputs); sum over axis 0, the samples."),
    ])


@grade("Linear", points=1)
def test_linear_gradients_do_not_accumulate(student: Student, rng: np.random.Generator) -> None:
    """Linear.backward replaces dW and db; it never adds to the previous step's gradients"""
    n, d, m = _dims(rng)
    lin, _, _ = _linear(student, rng, d, m)
    X1, G1 = rng.normal(size=(n, d)), rng.normal(size=(n, m))
    X2, G2 = rng.normal(size=(n, d)), rng.normal(size=(n, m))
    lin.call("forward", X1)
    lin.call("backward", G1)
    lin.call("forward", X2)
    lin.call("backward", G2)
    check_array(lin.get("dW"), X2.T @ G2, name="Linear.dW after a second forward/backward", mistakes=[
        Mistake("gradients accumulate", X1.T @ G1 + X2.T @ G2,
                "Your dW is the SUM of the gradients of both steps: backward must assign "
                "(self.dW = X.T @ dZ), not add (self.dW += ...). Otherwise every training step "
                "applies all previous gradients again."),
        Mistake("stale cache", X1.T @ G2,
                "Your dW uses the X of the FIRST forward: forward must store the new X every time."),
    ])
    check_array(lin.get("db"), G2.sum(axis=0, keepdims=True), name="Linear.db after a second forward/backward",
                mistakes=[Mistake("gradients accumulate", (G1 + G2).sum(axis=0, keepdims=True),
                                  "Your db adds up the gradients of both steps: assign, don't add.")])


@grade("Linear", points=1)
def test_linear_cache(student: Student, rng: np.random.Generator) -> None:
    """Linear.backward uses the most recent forward and gives the same result when called twice"""
    n, d, m = _dims(rng)
    lin, W, _ = _linear(student, rng, d, m)
    X1, X2, G = rng.normal(size=(n, d)), rng.normal(size=(n, d)), rng.normal(size=(n, m))
    lin.call("forward", X1)
    lin.call("forward", X2)
    first = lin.call("backward", G)
    dW1 = lin.get("dW")
    second = lin.call("backward", G)
    dW2 = lin.get("dW")
    check_array(dW1, X2.T @ G, name="Linear.dW after forward(X1), forward(X2), backward(dZ)", mistakes=[
        Mistake("stale cache", X1.T @ G, "backward used the X of an OLDER forward: cache the latest input."),
    ])
    check_array(second, first, name="Linear.backward(dZ) called a second time",
                hint="backward must not change the cache or anything it reads")
    check_array(dW2, dW1, name="Linear.dW after calling backward(dZ) twice", mistakes=[
        Mistake("gradients accumulate", 2 * dW1, "dW doubled: backward must assign dW, not add to it."),
    ])
    check_array(first, G @ W.T, name="Linear.backward(dZ)")


# ------------------------------------------------------------------- activations


def _activation_values(student: Student, rng: np.random.Generator, name: str,
                       backward_mistakes: Any) -> None:
    n, k = int(rng.integers(3, 8)), int(rng.integers(2, 6))
    Z = rng.normal(scale=2.0, size=(n, k))
    G = rng.normal(size=(n, k))

    def body() -> None:
        ref_layer = getattr(ref, name)()
        want_A = ref_layer.forward(Z)
        want_dZ = ref_layer.backward(G)
        layer = student.new(name)
        got_A = layer.call("forward", Z)
        got_dZ = layer.call("backward", G)
        check_all(lambda: _own_check_array(got_A, want_A, name=f"{name}.forward(Z)"),
                  lambda: _own_check_array(got_dZ, want_dZ, name=f"{name}.backward(dA) after forward(Z)",
                                      mistakes=backward_mistakes(Z, G, want_A)))

    _score_once(student, name, body, probe=[(Z, G)])


def _activation_cache(student: Student, rng: np.random.Generator, name: str, stable: bool) -> None:
    """Most recent cache, backward twice, float32, and (stable) huge inputs."""
    n, k = int(rng.integers(3, 8)), int(rng.integers(2, 6))
    Z1, Z2, G = rng.normal(size=(n, k)), rng.normal(size=(n, k)), rng.normal(size=(n, k))
    big = rng.choice([-1000.0, 1000.0, -800.0, 0.0, 750.0], size=(n, k))
    _score_once(student, name, lambda: _activation_cache_checks(student, name, stable, Z1, Z2, G, big),
                probe=[(Z1, G), (big, G)])


def _activation_cache_checks(student: Student, name: str, stable: bool, Z1: Array, Z2: Array, G: Array,
                             big: Array) -> None:
    ref_layer = getattr(ref, name)()
    ref_layer.forward(Z2)
    want = ref_layer.backward(G)
    layer = student.new(name)
    layer.call("forward", Z1)
    layer.call("forward", Z2)
    first = layer.call("backward", G)
    _own_check_array(first, want, name=f"{name}.backward(dA) after forward(Z1), forward(Z2)", mistakes=[
        Mistake("stale cache", _ref_backward(name, Z1, G),
                "backward used the cache of an OLDER forward: store the latest input/output each time."),
    ])
    second = layer.call("backward", G)
    _own_check_array(second, first, name=f"{name}.backward(dA) called a second time",
                hint="backward must not modify its cache (no in-place *=, -= on cached arrays)")
    Z32 = Z1.astype(np.float32)
    _own_check_array(layer.call("forward", Z32), getattr(ref, name)().forward(Z32), name=f"{name}.forward(float32 Z)",
                inputs=[Z32])
    if stable:
        if not _OWN_WORKER:
            check_not_silenced(student, name, f"{name}.forward(Z with |z| up to 1000)")
        ref_big = getattr(ref, name)()
        want_big = ref_big.forward(big)
        with np.errstate(all="ignore"):  # outputs of a sigmoid or a softmax lie in [0, 1]
            broken = bool(_OWN_WORKER) and (bool(_OWN_WORKER[-1].last_warnings) or not np.all(
                np.isfinite(want_big)) or bool(np.any(np.abs(want_big) > 1.0)))
        got = _quiet(student, layer, "forward", big, excused=broken)
        _own_check_array(got, want_big, name=f"{name}.forward(Z with |z| up to 1000)", atol=1e-8)
        grad = _quiet(student, layer, "backward", G, excused=broken)
        _own_check_array(grad, ref_big.backward(G), name=f"{name}.backward after forward(|z| up to 1000)", atol=1e-8)


def _ref_backward(name: str, Z: Array, G: Array) -> Array:
    layer = getattr(ref, name)()
    layer.forward(Z)
    return layer.backward(G)


@grade("ReLU", points=1)
def test_relu_values(student: Student, rng: np.random.Generator) -> None:
    """ReLU.forward = max(0, Z); backward = dA * (Z > 0), derivative 0 at exactly 0"""
    n, k = int(rng.integers(3, 8)), int(rng.integers(3, 6))
    Z = rng.normal(size=(n, k))
    Z[rng.random(size=Z.shape) < 0.25] = 0.0  # exact zeros: the derivative there is 0
    G = rng.normal(size=(n, k))
    layer = student.new("ReLU")
    check_array(layer.call("forward", Z), np.maximum(Z, 0), name="ReLU.forward(Z)")
    check_array(layer.call("backward", G), G * (Z > 0), name="ReLU.backward(dA)", mistakes=[
        Mistake("mask Z >= 0", G * (Z >= 0),
                "You let the gradient through where Z == 0; the kit takes the derivative at 0 as 0 (Z > 0)."),
        Mistake("mask only", (Z > 0).astype(float),
                "You returned the derivative mask itself: multiply it by the upstream gradient dA."),
        Mistake("upstream only", G, "You returned dA unchanged: multiply by the mask (Z > 0)."),
    ])


@grade("ReLU", points=1)
def test_relu_cache(student: Student, rng: np.random.Generator) -> None:
    """ReLU: latest cache, backward twice, float32"""
    _activation_cache(student, rng, "ReLU", stable=False)


def _sigmoid_mistakes(Z: Array, G: Array, A: Array) -> list[Mistake]:
    sA = _sigmoid(A)
    return [
        Mistake("sigmoid of the output", G * sA * (1 - sA),
                "You applied the sigmoid again to the cached OUTPUT: the derivative is A * (1 - A) "
                "with A the cached sigmoid output itself."),
        Mistake("derivative of the input", G * Z * (1 - Z),
                "You used Z * (1 - Z) with the INPUT Z; the formula A * (1 - A) needs the OUTPUT A."),
        Mistake("upstream gradient missing", A * (1 - A),
                "You returned the derivative A * (1 - A) alone: multiply by the upstream gradient dA."),
    ]


@grade("Sigmoid", points=1)
def test_sigmoid_values(student: Student, rng: np.random.Generator) -> None:
    """Sigmoid.forward and backward = dA * A * (1 - A)"""
    _activation_values(student, rng, "Sigmoid", _sigmoid_mistakes)


@grade("Sigmoid", points=1)
def test_sigmoid_cache_and_stability(student: Student, rng: np.random.Generator) -> None:
    """Sigmoid: latest cache, backward twice, float32, |z| = 1000 without warnings"""
    _activation_cache(student, rng, "Sigmoid", stable=True)


def _tanh_mistakes(Z: Array, G: Array, A: Array) -> list[Mistake]:
    return [
        Mistake("derivative of the input", G * (1 - Z**2),
                "You used 1 - Z**2 with the INPUT Z; the derivative is 1 - tanh(Z)**2 = 1 - A**2 "
                "with the cached OUTPUT A."),
        Mistake("tanh of the output", G * (1 - np.tanh(A) ** 2),
                "You applied tanh again to the cached OUTPUT: the derivative is 1 - A**2."),
        Mistake("upstream gradient missing", 1 - A**2, "Multiply the derivative 1 - A**2 by the upstream dA."),
    ]


@grade("Tanh", points=1)
def test_tanh_values(student: Student, rng: np.random.Generator) -> None:
    """Tanh.forward and backward = dA * (1 - A**2)"""
    _activation_values(student, rng, "Tanh", _tanh_mistakes)


@grade("Tanh", points=1)
def test_tanh_cache(student: Student, rng: np.random.Generator) -> None:
    """Tanh: latest cache, backward twice, float32"""
    _activation_cache(student, rng, "Tanh", stable=False)


@grade("Softmax", points=1)
def test_softmax_forward(student: Student, rng: np.random.Generator) -> None:
    """Softmax.forward normalizes each ROW"""
    n, k = int(rng.integers(3, 8)), int(rng.integers(2, 6))
    Z = rng.normal(scale=2.0, size=(n, k))
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    _score_once(student, "Softmax", lambda: _own_check_array(
        student.new("Softmax").call("forward", Z), ref.Softmax().forward(Z), name="Softmax.forward(Z)",
        mistakes=[Mistake("softmax over axis 0", E / E.sum(axis=0, keepdims=True),
                          "You normalized each COLUMN (axis 0, the column-major convention); in this "
                          "kit each ROW is a sample: use axis=1 (or -1) with keepdims=True.")]),
        probe=[(Z, np.ones_like(Z))])


@grade("Softmax", points=1)
def test_softmax_backward(student: Student, rng: np.random.Generator) -> None:
    """Softmax.backward is the vector-Jacobian product S * (dS - rowsum(dS * S))"""
    n, k = int(rng.integers(3, 8)), int(rng.integers(3, 6))
    Z, G = rng.normal(size=(n, k)), rng.normal(size=(n, k))
    _score_once(student, "Softmax", lambda: _softmax_backward_checks(student, Z, G), probe=[(Z, G)])


def _softmax_backward_checks(student: Student, Z: Array, G: Array) -> None:
    layer = student.new("Softmax")
    layer.call("forward", Z)
    S = ref.Softmax().forward(Z)
    _own_check_array(layer.call("backward", G), _ref_backward("Softmax", Z, G), name="Softmax.backward(dS)", mistakes=[
        Mistake("identity backward", G,
                "You returned dS unchanged (the shortcut of tutorials that always pair softmax with "
                "cross-entropy). Softmax.backward must apply the softmax Jacobian: "
                "S * (dS - sum(dS * S, axis=1, keepdims=True))."),
        Mistake("diagonal of the Jacobian only", G * S * (1 - S),
                "You used only the diagonal S * (1 - S) of the Jacobian, as for a sigmoid; each output of "
                "a softmax depends on every logit of its row: S * (dS - rowsum(dS * S))."),
        Mistake("sum over axis 0", S * (G - np.sum(G * S, axis=0, keepdims=True)),
                "You summed dS * S over axis 0 (the samples); the sum runs over each ROW (axis=1)."),
    ])


@grade("Softmax", points=1)
def test_softmax_cache_and_stability(student: Student, rng: np.random.Generator) -> None:
    """Softmax: latest cache, backward twice, float32, |z| = 1000 without warnings"""
    _activation_cache(student, rng, "Softmax", stable=True)


# ------------------------------------------------------------------------ losses


def _ce_mistakes(P: Array, Y: Array) -> list[Mistake]:
    n = P.shape[0]
    logs = Y * np.log(np.clip(P, 1e-12, 1.0))
    return [
        Mistake("sum instead of mean", float(-np.sum(logs)),
                "You summed over the samples; the loss is the MEAN over the n samples."),
        Mistake("missing minus sign", float(np.sum(logs) / n), "Cross-entropy is MINUS the mean log-probability."),
        Mistake("mean over classes too", float(-np.mean(logs)),
                "You averaged over all n*k entries; sum over the classes, average over the samples."),
        Mistake("log base 10", float(-np.sum(logs) / n / np.log(10)), "Use the natural logarithm np.log."),
    ]


def _ce_grad_mistakes(P: Array, Y: Array) -> list[Mistake]:
    n = P.shape[0]
    return [
        Mistake("CE backward not averaged", P - Y,
                "You returned P - Y. The loss is the mean over the batch, so its gradient is (P - Y) / n; "
                "in this kit this is the ONE place where 1/n appears (Linear.backward does not divide)."),
        Mistake("averaged twice", (P - Y) / n**2, "You divided by n twice: the gradient is (P - Y) / n."),
        Mistake("gradient with respect to the probabilities", -Y / (n * np.clip(P, 1e-12, None)),
                "You returned dL/dP = -Y / (n P). backward() returns the gradient with respect to the "
                "LOGITS (the softmax input), which simplifies to (P - Y) / n."),
    ]


@grade("CrossEntropyLoss", points=1)
def test_cross_entropy_forward_labels(student: Student, rng: np.random.Generator) -> None:
    """CrossEntropyLoss.forward with integer labels: mean over samples, a scalar"""
    n, k = int(rng.integers(3, 9)), int(rng.integers(2, 6))
    P, labels = _probs(rng, n, k), rng.integers(0, k, size=n)
    Y = np.eye(k)[labels]
    got = student.new("CrossEntropyLoss").call("forward", P, labels)
    check_scalar(got, ref.CrossEntropyLoss().forward(P, labels), name="CrossEntropyLoss.forward(probs, labels)",
                 mistakes=_ce_mistakes(P, Y), atol=LOSS_ATOL)


@grade("CrossEntropyLoss", points=1)
def test_cross_entropy_forward_one_hot(student: Student, rng: np.random.Generator) -> None:
    """CrossEntropyLoss.forward with one-hot targets"""
    n, k = int(rng.integers(3, 9)), int(rng.integers(2, 6))
    P, Y = _probs(rng, n, k), np.eye(k)[rng.integers(0, k, size=n)]
    got = student.new("CrossEntropyLoss").call("forward", P, Y)
    check_scalar(got, ref.CrossEntropyLoss().forward(P, Y), name="CrossEntropyLoss.forward(probs, one_hot)",
                 mistakes=_ce_mistakes(P, Y), atol=LOSS_ATOL)


@grade("CrossEntropyLoss", points=2)
def test_cross_entropy_backward(student: Student, rng: np.random.Generator) -> None:
    """CrossEntropyLoss.backward returns (P - Y) / n, the gradient with respect to the logits"""
    n, k = int(rng.integers(3, 9)), int(rng.integers(2, 6))
    P, labels = _probs(rng, n, k), rng.integers(0, k, size=n)
    Y = np.eye(k)[labels]
    loss = student.new("CrossEntropyLoss")
    loss.call("forward", P, labels)
    check_array(loss.call("backward"), (P - Y) / n, name="CrossEntropyLoss.backward() after forward(P, labels)",
                mistakes=_ce_grad_mistakes(P, Y))
    P2, Y2 = _probs(rng, n + 1, k), np.eye(k)[rng.integers(0, k, size=n + 1)]
    loss.call("forward", P2, Y2)
    check_array(loss.call("backward"), (P2 - Y2) / (n + 1),
                name="CrossEntropyLoss.backward() after a new forward(P, one_hot)", mistakes=_ce_grad_mistakes(P2, Y2))


@grade("CrossEntropyLoss", points=1)
def test_cross_entropy_float32(student: Student, rng: np.random.Generator) -> None:
    """CrossEntropyLoss works on float32 probabilities (forward scalar, backward (P - Y) / n)"""
    n, k = int(rng.integers(3, 9)), int(rng.integers(2, 6))
    P, labels = _probs(rng, n, k).astype(np.float32), rng.integers(0, k, size=n)
    Y = np.eye(k)[labels]
    loss = student.new("CrossEntropyLoss")
    check_scalar(loss.call("forward", P, labels), ref.CrossEntropyLoss().forward(P, labels),
                 name="CrossEntropyLoss.forward(float32 probs, labels)", inputs=[P],
                 mistakes=_ce_mistakes(P.astype(np.float64), Y))
    check_array(loss.call("backward"), (P - Y) / n, name="CrossEntropyLoss.backward() (float32)", inputs=[P],
                mistakes=_ce_grad_mistakes(P.astype(np.float64), Y))


@grade("CrossEntropyLoss", points=1)
def test_cross_entropy_probabilities_0_and_1(student: Student, rng: np.random.Generator) -> None:
    """CrossEntropyLoss stays finite and warning-free for probabilities of exactly 0 and 1"""
    n, k = int(rng.integers(3, 7)), int(rng.integers(2, 5))
    labels = rng.integers(0, k, size=n)
    right = np.eye(k)[labels]
    wrong = np.eye(k)[(labels + 1) % k]
    loss = student.new("CrossEntropyLoss")
    good = _quiet(student, loss, "forward", right, labels)
    bad = _quiet(student, loss, "forward", wrong, labels)
    for label, got in (("right", good), ("wrong", bad)):
        if np.ndim(got) != 0 or not np.isfinite(float(got)):
            raise Feedback(f"CrossEntropyLoss.forward with probabilities of exactly 0 and 1 ({label} answers) "
                           f"returned {got!r}.\nLikely mistake (log(0)) clip the probabilities to [eps, 1] with "
                           "a small eps (at most 1e-7) before np.log.")
    if abs(float(good)) > 1e-5 or float(bad) < 10.0:
        raise Feedback("CrossEntropyLoss.forward with probabilities of exactly 0 and 1: confident right answers "
                       f"should cost ~0 (got {float(good):.3g}), confident wrong ones at least -log(1e-7) ~ 16 "
                       f"(got {float(bad):.3g}).\nLikely mistake (epsilon too large) clip with eps <= 1e-7.")
    grad = _quiet(student, loss, "backward")
    check_array(grad, (wrong - right) / n, name="CrossEntropyLoss.backward() for probabilities 0 and 1")


def _regression(rng: np.random.Generator) -> tuple[Array, Array]:
    n, m = int(rng.integers(3, 9)), int(rng.integers(2, 4))
    return rng.normal(size=(n, m)), rng.normal(size=(n, m))


@grade("MSELoss", points=1)
def test_mse_forward(student: Student, rng: np.random.Generator) -> None:
    """MSELoss.forward is the mean over every entry; (n,) targets are reshaped"""
    P, T = _regression(rng)
    d = P - T
    check_scalar(student.new("MSELoss").call("forward", P, T), float(np.mean(d**2)), name="MSELoss.forward(pred, y)",
                 mistakes=[
                     Mistake("sum instead of mean", float(np.sum(d**2)), "Average over every entry: np.mean."),
                     Mistake("mean over samples only", float(np.sum(d**2) / P.shape[0]),
                             "You divided by n only; the mean runs over all n*m entries."),
                     Mistake("half MSE", float(np.mean(d**2) / 2), "MSELoss is the plain mean, without 1/2."),
                 ])
    col, y = P[:, :1], T[:, 0]
    check_scalar(student.new("MSELoss").call("forward", col, y), float(np.mean((col[:, 0] - y) ** 2)),
                 name="MSELoss.forward(pred (n, 1), y (n,))",
                 hint="reshape the targets to pred's shape: (n, 1) - (n,) broadcasts to (n, n)")


@grade("MSELoss", points=1)
def test_mse_backward(student: Student, rng: np.random.Generator) -> None:
    """MSELoss.backward returns 2 (pred - y) / N with N the number of entries"""
    P, T = _regression(rng)
    loss = student.new("MSELoss")
    loss.call("forward", P, T)
    N, n = P.size, P.shape[0]
    check_array(loss.call("backward"), 2 * (P - T) / N, name="MSELoss.backward()", mistakes=[
        Mistake("missing factor 2", (P - T) / N, "The derivative of (p - y)**2 is 2 (p - y): keep the 2."),
        Mistake("not averaged", 2 * (P - T), "The loss is a mean over N entries: divide the gradient by N."),
        Mistake("divided by n instead of N", 2 * (P - T) / n,
                "You divided by the number of rows n; the mean (and its gradient) runs over all N = n*m entries."),
    ])


@grade("BCELoss", points=1)
def test_bce_forward(student: Student, rng: np.random.Generator) -> None:
    """BCELoss.forward is the mean binary cross-entropy"""
    n = int(rng.integers(4, 12))
    P = rng.uniform(0.05, 0.95, size=(n, 1))
    y = rng.integers(0, 2, size=(n, 1)).astype(float)
    terms = y * np.log(P) + (1 - y) * np.log(1 - P)
    want = ref.BCELoss().forward(P, y)

    def flat_targets() -> None:
        """The docstring pins: targets are reshaped to probs.shape, so (n,) works like (n, 1)."""
        got = student.new("BCELoss").call("forward", P, y.ravel())
        check_scalar(got, want, name=f"BCELoss.forward(probs {P.shape}, targets {(n,)})", atol=LOSS_ATOL,
                     hint="targets of shape (n,) are reshaped to probs.shape first; without the reshape, "
                          "(n, 1) against (n,) broadcasts to an (n, n) table of every pair",
                     mistakes=[Mistake("targets not reshaped (broadcast to n x n)",
                                       float(-np.mean(y.ravel() * np.log(P) + (1 - y.ravel()) * np.log(1 - P))),
                                       "Reshape the targets to probs.shape before combining them.")])

    check_all(
        lambda: check_scalar(student.new("BCELoss").call("forward", P, y), want,
                             name="BCELoss.forward(probs, y)", atol=LOSS_ATOL, mistakes=[
                                 Mistake("missing minus sign", float(np.mean(terms)),
                                         "BCE is MINUS the mean log-likelihood."),
                                 Mistake("sum instead of mean", float(-np.sum(terms)), "Average over the entries."),
                                 Mistake("only the y=1 term", float(-np.mean(y * np.log(P))),
                                         "Add the (1 - y) log(1 - p) term."),
                             ]),
        flat_targets,
    )


@grade("BCELoss", points=1)
def test_bce_backward(student: Student, rng: np.random.Generator) -> None:
    """BCELoss.backward returns (P - y) / N, the gradient with respect to the logits"""
    n = int(rng.integers(4, 12))
    P = rng.uniform(0.05, 0.95, size=(n, 1))
    y = rng.integers(0, 2, size=(n, 1)).astype(float)
    loss = student.new("BCELoss")
    loss.call("forward", P, y)
    check_array(loss.call("backward"), (P - y) / n, name="BCELoss.backward()", mistakes=[
        Mistake("gradient with respect to the probabilities", (P - y) / (P * (1 - P)) / n,
                "You returned dL/dP = (P - y) / (P (1 - P) N). backward() returns the gradient with respect "
                "to the LOGITS (the sigmoid input): (P - y) / N, which never divides by P (1 - P)."),
        Mistake("not averaged", P - y, "The loss is a mean over N entries: divide by N."),
    ])


@grade("BCELoss", points=1)
def test_bce_probabilities_0_and_1(student: Student, rng: np.random.Generator) -> None:
    """BCELoss stays finite and warning-free for probabilities of exactly 0 and 1"""
    n = int(rng.integers(4, 10))
    y = rng.integers(0, 2, size=(n, 1)).astype(float)
    loss = student.new("BCELoss")
    good = _quiet(student, loss, "forward", y.copy(), y)
    bad = _quiet(student, loss, "forward", 1 - y, y)
    if not (np.ndim(bad) == 0 and np.isfinite(float(bad)) and float(bad) > 10 and abs(float(good)) < 1e-5):
        raise Feedback(f"BCELoss.forward with probabilities of exactly 0 and 1 returned {good!r} (confident and "
                       f"right, expected ~0) and {bad!r} (confident and wrong, expected finite and > 10).\n"
                       "Likely mistake (log(0)) clip the probabilities to [eps, 1 - eps] with eps <= 1e-7.")
    check_array(_quiet(student, loss, "backward"), (1 - 2 * y) / n,
                name="BCELoss.backward() for probabilities 0 and 1",
                hint="the gradient with respect to the logits, (P - y) / N, is finite even for P = 0 or 1")
