"""The reference of chapters 3.1-3.4 against independent oracles, and its graders' fairness.

Oracles: ``scipy.special.softmax`` / ``expit``, ``sklearn.metrics.log_loss`` for
cross_entropy, and central finite differences of the mean cross-entropy (computed
here) for every gradient of backward_mlp. Properties with hypothesis: softmax rows
sum to 1 and do not change when a constant is added to a row; relu_derivative keeps
Z's float dtype; float32 works; no input is modified.

The last section grades submissions: the reference scores 100 %, and a mistake in an
earlier chapter's function (sigmoid, relu, softmax, relu_derivative) is not charged
again to the functions built on it (forward_perceptron, forward_mlp, backward_mlp).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import expit
from scipy.special import softmax as scipy_softmax
from sklearn.metrics import log_loss

from autograder.toolbox import Array, central_differences
from solutions.activations import relu, relu_derivative, softmax
from solutions.losses import cross_entropy
from solutions.mlp import backward_mlp, forward_mlp, forward_perceptron
from tests.conftest import GradeFn

FINITE = st.floats(-1000.0, 1000.0, allow_nan=False, allow_infinity=False)
MATRICES = hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8), elements=FINITE)
VECTORS = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=1, min_side=1, max_side=8), elements=FINITE)


def no_warnings(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn`` with every RuntimeWarning turned into an error; also check no input changed."""
    before = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            out = fn(*args)
    for b, a in zip(before, args, strict=True):
        if isinstance(b, np.ndarray):
            assert np.array_equal(a, b), f"{fn.__name__} modified an input"
    return out


# ----------------------------------------------------------------------------- 3.2 activations


@settings(max_examples=60, deadline=None)
@given(MATRICES)
def test_relu_matches_where_and_keeps_input(Z: Array) -> None:
    out = no_warnings(relu, Z)
    np.testing.assert_array_equal(out, np.where(Z > 0, Z, 0.0))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(st.sampled_from([np.float32, np.float64]), hnp.array_shapes(max_dims=3),
                  elements=st.sampled_from([-2.5, -1.0, -0.0, 0.0, 0.5, 3.0])))
def test_relu_derivative_dtype_and_zero_convention(Z: Array) -> None:
    D = no_warnings(relu_derivative, Z)
    assert D.dtype == Z.dtype and D.shape == Z.shape
    expected = [1.0 if z > 0 else 0.0 for z in Z.ravel().tolist()]
    np.testing.assert_array_equal(D.ravel(), np.array(expected, dtype=Z.dtype))


@settings(max_examples=80, deadline=None)
@given(st.one_of(MATRICES, VECTORS))
def test_softmax_matches_scipy_without_warnings(Z: Array) -> None:
    S = no_warnings(softmax, Z)
    np.testing.assert_allclose(S, scipy_softmax(Z, axis=-1), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(S.sum(axis=-1), 1.0, rtol=1e-12)
    assert np.all((S >= 0) & (S <= 1))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, (5, 4), elements=st.floats(-50, 50)),
       hnp.arrays(np.float64, (5, 1), elements=st.floats(-900, 900)))
def test_softmax_invariant_to_a_constant_per_row(Z: Array, c: Array) -> None:
    np.testing.assert_allclose(softmax(Z + c), softmax(Z), rtol=1e-9, atol=1e-12)


def test_softmax_float32_and_extremes() -> None:
    Z = np.random.default_rng(0).normal(scale=5.0, size=(6, 5)).astype(np.float32)
    np.testing.assert_allclose(no_warnings(softmax, Z), scipy_softmax(Z.astype(np.float64), axis=-1),
                               rtol=1e-4, atol=1e-6)
    big = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]])
    np.testing.assert_allclose(no_warnings(softmax, big), [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])


# ----------------------------------------------------------------------------- 3.1 perceptron


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_perceptron_matches_expit(dtype: type) -> None:
    rng = np.random.default_rng(1)
    X, W, b = rng.normal(size=(9, 4)), rng.normal(scale=300.0, size=(4, 1)), rng.normal(size=(1, 1))
    X, W, b = X.astype(dtype), W.astype(dtype), b.astype(dtype)
    A = no_warnings(forward_perceptron, X, W, b)
    assert A.shape == (9, 1)
    Z = X.astype(np.float64) @ W.astype(np.float64) + b.astype(np.float64)
    np.testing.assert_allclose(A, expit(Z), rtol=1e-4 if dtype is np.float32 else 1e-12, atol=1e-6)


# ----------------------------------------------------------------------------- 3.3 forward, loss


def _network(rng: np.random.Generator, n: int = 7, d: int = 4, h: int = 5, k: int = 3) -> tuple[Array, ...]:
    return (rng.normal(size=(n, d)), rng.normal(size=(d, h)), rng.normal(scale=0.5, size=(1, h)),
            rng.normal(size=(h, k)), rng.normal(scale=0.5, size=(1, k)), np.eye(k)[rng.integers(0, k, n)])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_mlp_matches_scipy_composition(dtype: type) -> None:
    X, W1, b1, W2, b2, _ = (a.astype(dtype) for a in _network(np.random.default_rng(2)))
    A1, A2 = no_warnings(forward_mlp, X, W1, b1, W2, b2)
    A1_want = np.clip(X @ W1 + b1, 0, None)
    tol = {"rtol": 1e-4, "atol": 1e-6} if dtype is np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    np.testing.assert_allclose(A1, A1_want, **tol)
    np.testing.assert_allclose(A2, scipy_softmax(A1_want @ W2 + b2, axis=1), **tol)


def test_forward_mlp_large_logits_stay_finite() -> None:
    X, W1, b1, W2, b2, _ = _network(np.random.default_rng(3))
    _, A2 = no_warnings(forward_mlp, X, W1, b1, 1000.0 * W2, b2)
    assert np.all(np.isfinite(A2))
    np.testing.assert_allclose(A2.sum(axis=1), 1.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(2, 6), st.integers(0, 2**32 - 1), st.sampled_from([np.float64, np.float32]))
def test_cross_entropy_matches_sklearn_log_loss(n: int, k: int, seed: int, dtype: type) -> None:
    rng = np.random.default_rng(seed)
    A = scipy_softmax(rng.normal(scale=2.0, size=(n, k)), axis=1).astype(dtype)
    labels = rng.integers(0, k, n)
    y = np.eye(k, dtype=dtype)[labels]
    loss = no_warnings(cross_entropy, A, y)
    assert np.ndim(loss) == 0
    A64 = A.astype(np.float64)
    want = log_loss(labels, A64 / A64.sum(axis=1, keepdims=True), labels=list(range(k)))
    np.testing.assert_allclose(float(loss), want, rtol=1e-4 if dtype is np.float32 else 1e-9)


def test_cross_entropy_zero_probabilities_finite_and_large() -> None:
    y = np.eye(3)[[0, 2, 1]]
    assert abs(no_warnings(cross_entropy, y.copy(), y)) < 1e-9
    wrong = no_warnings(cross_entropy, np.eye(3)[[1, 0, 2]], y)
    assert np.isfinite(wrong) and wrong >= -np.log(1e-7)


# ----------------------------------------------------------------------------- 3.4 backward


def _mean_ce(X: Array, y: Array, W1: Array, b1: Array, W2: Array, b2: Array) -> float:
    Z1 = X @ W1 + b1
    A1 = np.where(Z1 > 0, Z1, 0.0)
    return float(log_loss(np.argmax(y, axis=1), scipy_softmax(A1 @ W2 + b2, axis=1), labels=list(range(y.shape[1]))))


@pytest.mark.parametrize("seed", range(5))
def test_backward_mlp_matches_finite_differences(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n, d, h, k = int(rng.integers(1, 9)), int(rng.integers(1, 5)), int(rng.integers(2, 7)), int(rng.integers(2, 5))
    X, W1, b1, W2, b2, y = _network(rng, n, d, h, k)
    Z1 = X @ W1 + b1
    assume_far = np.min(np.abs(Z1)) > 1e-3
    assert assume_far, "pick another seed: a hidden unit sits at the ReLU kink"
    A1, A2 = forward_mlp(X, W1, b1, W2, b2)
    grads = no_warnings(backward_mlp, X, A1, A2, y, W1, W2, Z1)
    params = [W1.copy(), b1.copy(), W2.copy(), b2.copy()]
    numeric = central_differences(lambda: _mean_ce(X, y, *params), params)
    for got, want, shape in zip(grads, numeric, [(d, h), (1, h), (h, k), (1, k)], strict=True):
        assert got.shape == shape
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_backward_mlp_float32_and_mask_convention() -> None:
    rng = np.random.default_rng(7)
    X, W1, b1, W2, b2, y = _network(rng)
    b1[0, 0] = 0.0
    X[0] = 0.0                                  # Z1[0, 0] == 0 exactly: the mask is 0 there
    Z1 = X @ W1 + b1
    A1, A2 = forward_mlp(X, W1, b1, W2, b2)
    g64 = backward_mlp(X, A1, A2, y, W1, W2, Z1)
    dZ1_row0 = ((A2 - y)[0] / X.shape[0]) @ W2.T
    assert dZ1_row0[0] != 0.0
    np.testing.assert_allclose(g64[1][0, 0], np.sum(((A2 - y) / X.shape[0] @ W2.T)[1:, 0] * (Z1[1:, 0] > 0)))
    args32 = [a.astype(np.float32) for a in (X, A1, A2, y, W1, W2, Z1)]
    g32 = no_warnings(backward_mlp, *args32)
    for a, b in zip(g32, g64, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- graders


CHAPTERS = ["3.1", "3.2", "3.3", "3.4"]

NAIVE_SIGMOID = """
def sigmoid(Z):
    return 1.0 / (1.0 + np.exp(-Z))
"""
WRONG_SIGMOID = """
def sigmoid(Z):
    return np.tanh(Z)
"""
NAIVE_SOFTMAX_AXIS0 = """
def softmax(Z):
    E = np.exp(Z)
    return E / E.sum(axis=0, keepdims=True)
"""
LEAKY_RELU = """
def relu(Z):
    return np.maximum(Z, 0.1 * Z)
"""
RELU_DERIVATIVE_GE = """
def relu_derivative(Z):
    return (Z >= 0).astype(Z.dtype)
"""
BACKWARD_WITH_OWN_MASK = """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    from .activations import relu_derivative
    dZ2 = (A2 - y) / X.shape[0]
    dZ1 = (dZ2 @ W2.T) * relu_derivative(Z1)
    return X.T @ dZ1, dZ1.sum(axis=0, keepdims=True), A1.T @ dZ2, dZ2.sum(axis=0, keepdims=True)
"""
NAIVE_PERCEPTRON = """
def forward_perceptron(X, W, b):
    return 1.0 / (1.0 + np.exp(-(X @ W + b)))
"""


def test_reference_scores_full_marks(grade: GradeFn) -> None:
    graded = grade(CHAPTERS)
    for chapter in CHAPTERS:
        assert graded.full(chapter), graded.output()
    assert graded.max_score("3.1") == 5 and graded.max_score("3.2") == 12
    assert graded.max_score("3.3") == 11 and graded.max_score("3.4") == 12


@pytest.mark.parametrize("sigmoid_source", [NAIVE_SIGMOID, WRONG_SIGMOID], ids=["naive", "wrong"])
def test_perceptron_not_charged_for_the_students_sigmoid(grade: GradeFn, sigmoid_source: str) -> None:
    graded = grade(["3.1"], patches={"sigmoid": sigmoid_source})
    assert graded.lost("forward_perceptron") == 0, graded.output("forward_perceptron")


def test_perceptron_with_unimplemented_sigmoid_counts_the_reference_only(grade: GradeFn) -> None:
    from dlnp.manifest import load_manifest

    everything_but_sigmoid = [n for n in load_manifest().function_names if n != "sigmoid"]
    stable = """
def forward_perceptron(X, W, b):
    Z = X @ W + b
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + E), E / (1 + E))
"""
    assert grade(["3.1"], implement=everything_but_sigmoid, patches={"forward_perceptron": stable}).full("3.1")
    naive = grade(["3.1"], implement=everything_but_sigmoid, patches={"forward_perceptron": NAIVE_PERCEPTRON})
    assert naive.lost("forward_perceptron") > 0 and "overflow in exp" in naive.output("forward_perceptron")


@pytest.mark.parametrize("patches", [{"softmax": NAIVE_SOFTMAX_AXIS0}, {"relu": LEAKY_RELU},
                                     {"softmax": NAIVE_SOFTMAX_AXIS0, "relu": LEAKY_RELU}],
                         ids=["softmax", "relu", "both"])
def test_forward_mlp_not_charged_for_the_students_activations(grade: GradeFn, patches: dict[str, str]) -> None:
    graded = grade(["3.3"], patches=patches)
    assert graded.lost("forward_mlp") == 0, graded.output("forward_mlp")
    assert graded.lost("cross_entropy") == 0


@pytest.mark.parametrize("of", ["Z1", "A1"])
def test_backward_mlp_not_charged_for_the_students_relu_derivative(grade: GradeFn, of: str) -> None:
    backward = BACKWARD_WITH_OWN_MASK.replace("relu_derivative(Z1)", f"relu_derivative({of})")
    graded = grade(["3.4"], patches={"relu_derivative": RELU_DERIVATIVE_GE, "backward_mlp": backward})
    assert graded.full("3.4"), graded.output("backward_mlp")
    # ... while the same mask written inline in backward_mlp is charged, by name
    inline = BACKWARD_WITH_OWN_MASK.replace("relu_derivative(Z1)", "(Z1 >= 0)")
    charged = grade(["3.4"], patches={"backward_mlp": inline})
    assert charged.lost("backward_mlp") > 0 and "ReLU derivative wrong" in charged.output("backward_mlp")


def test_graders_are_stable_across_salts() -> None:
    """The reference passes for several grading salts (other random hidden inputs)."""
    from pathlib import Path
    from tempfile import TemporaryDirectory

    from autograder.engine import grade_submission
    from instructor.release import build_release
    from instructor.submissions import make_submission

    with TemporaryDirectory() as tmp:
        release = build_release(Path(tmp) / "release")
        sub = make_submission(release, Path(tmp) / "sub")
        for salt in ("a", "b", "c", "d", "e", "f"):
            results = grade_submission(sub, chapters=CHAPTERS, salt=salt)
            for chapter in CHAPTERS:
                entry = results["chapters"][chapter]
                assert entry["score"] == entry["max_score"] > 0, (salt, chapter, results["tests"])
