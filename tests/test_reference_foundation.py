"""The reference of Modules 0-2 (chapters 0-2.4) against independent oracles.

Oracles: scipy.special.expit (sigmoid), scikit-learn's StandardScaler (normalize),
mean_squared_error / log_loss (the 2.1 losses), einsum and explicit loops (products),
np.linalg.lstsq and scikit-learn's LogisticRegression (what gradient descent converges
to), analytic gradients (numerical_gradient) and hypothesis properties. Also: the hidden
graders of 2.2/2.3 never charge gradient_descent for a broken or missing mse_loss.
"""

from __future__ import annotations

import contextlib
import itertools
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, mean_squared_error
from sklearn.preprocessing import StandardScaler

from autograder.toolbox import (
    Array,
    central_differences,
    check_init_statistics,
    numeric_gradient,
    one_hot,
    stable_softmax,
)
from autograder.toolbox import sigmoid as toolbox_sigmoid
from dlnp.manifest import load_manifest
from dlnp.testing import Feedback, silencing_call
from solutions.activations import sigmoid
from solutions.basics import layer_output, matrix_multiply, normalize
from solutions.gradcheck import linear_forward, numerical_gradient, relative_error
from solutions.losses import binary_cross_entropy, mse_loss
from solutions.optimization import gradient_descent
from tests.conftest import GradeFn

RNG = np.random.default_rng(20240521)

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
small = st.floats(min_value=-1e2, max_value=1e2, allow_nan=False, allow_infinity=False)


@contextlib.contextmanager
def strict() -> Iterator[None]:
    """A context in which any warning (overflow, division by zero...) is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            yield


# --------------------------------------------------------------------------- chapter 0, 1.2


def test_layer_output_and_matrix_multiply_match_loops() -> None:
    X, W = RNG.normal(size=(5, 3)), RNG.normal(size=(3, 4))
    loops = np.array([[sum(X[i, k] * W[k, j] for k in range(3)) for j in range(4)] for i in range(5)])
    np.testing.assert_allclose(layer_output(X, W), loops, rtol=1e-12)
    np.testing.assert_allclose(matrix_multiply(X, W), np.einsum("ik,kj->ij", X, W), rtol=1e-12)
    X32, W32 = X.astype(np.float32), W.astype(np.float32)
    np.testing.assert_allclose(matrix_multiply(X32, W32), loops, rtol=1e-5)


@pytest.mark.parametrize(("xs", "ws"), [((2, 3), (2, 3)), ((4, 3), (2, 2)), ((3, 5), (3, 5)), ((1, 2), (3, 1))])
def test_matrix_multiply_error_names_both_shapes(xs: tuple[int, int], ws: tuple[int, int]) -> None:
    with pytest.raises(ValueError) as info:
        matrix_multiply(np.ones(xs), np.ones(ws))
    assert str(xs) in str(info.value) and str(ws) in str(info.value)


# --------------------------------------------------------------------------- chapter 1.1


def test_normalize_matches_standard_scaler() -> None:
    X = RNG.normal(size=(30, 4)) * [1.0, 50.0, 0.01, 3.0] + [0.0, -7.0, 100.0, 2.0]
    X[:, 2] = 4.0  # constant column: StandardScaler leaves it centred (scale 1)
    X0 = X.copy()
    with strict():
        got = normalize(X)
    np.testing.assert_allclose(got, StandardScaler().fit_transform(X), rtol=1e-10, atol=1e-12)
    assert np.array_equal(X, X0)
    x = RNG.normal(size=12) * 5 + 3
    np.testing.assert_allclose(normalize(x), StandardScaler().fit_transform(x.reshape(-1, 1)).ravel(), rtol=1e-10)
    assert normalize(x).shape == (12,)
    X32 = X.astype(np.float32)
    np.testing.assert_allclose(normalize(X32), StandardScaler().fit_transform(X), rtol=1e-4, atol=1e-5)


def test_normalize_tiny_std_is_not_zero() -> None:
    X = np.column_stack([RNG.normal(size=10), 1e-13 * RNG.normal(size=10)])
    np.testing.assert_allclose(normalize(X).std(axis=0), [1.0, 1.0], rtol=1e-10)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=8), elements=small))
def test_normalize_properties(X: Array) -> None:
    X0 = X.copy()
    with strict():
        Z = normalize(X)
    assert np.array_equal(X, X0) and Z.shape == X.shape
    std = X.std(axis=0)
    # well-conditioned columns: mean 0 and std 1. (A constant column of a value like 0.1 can have a
    # rounding-level std that is not exactly 0; the pinned rule then divides by it, as np.std says.)
    ok = std > 1e-6 * (1 + np.abs(X).max(axis=0))
    np.testing.assert_allclose(Z.mean(axis=0)[ok], 0.0, atol=1e-8)
    np.testing.assert_allclose(Z.std(axis=0)[ok], 1.0, rtol=1e-6)
    np.testing.assert_array_equal(Z[:, std == 0], (X - X.mean(axis=0))[:, std == 0])  # only centred


# --------------------------------------------------------------------------- chapter 1.3


def test_sigmoid_matches_expit() -> None:
    Z = np.concatenate([RNG.normal(scale=10, size=200), [-1000.0, -745.0, -710.0, 0.0, 710.0, 1000.0]])
    with strict():
        got = sigmoid(Z)
        got32 = sigmoid(Z.astype(np.float32))
    np.testing.assert_allclose(got, expit(Z), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(got32, expit(Z), rtol=1e-5, atol=1e-7)
    assert sigmoid(Z[:204].reshape(2, 3, -1)).shape == (2, 3, 34)


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=6), elements=finite))
def test_sigmoid_properties(Z: Array) -> None:
    Z0 = Z.copy()
    with strict():
        S = sigmoid(Z)
        S_neg = sigmoid(-Z)
    assert np.array_equal(Z, Z0) and S.shape == Z.shape
    assert np.all((S >= 0) & (S <= 1))
    np.testing.assert_allclose(1.0 - S, S_neg, atol=1e-15)
    order = np.argsort(Z, axis=None)
    assert np.all(np.diff(S.ravel()[order]) >= 0)


# --------------------------------------------------------------------------- chapter 2.1


def test_losses_match_sklearn() -> None:
    y_pred, y = RNG.normal(size=(25, 1)), RNG.normal(size=(25, 1))
    assert np.ndim(mse_loss(y_pred, y)) == 0
    np.testing.assert_allclose(mse_loss(y_pred, y), mean_squared_error(y, y_pred), rtol=1e-12)
    A = RNG.uniform(0.01, 0.99, size=(40, 1))
    labels = RNG.integers(0, 2, size=(40, 1)).astype(np.float64)
    np.testing.assert_allclose(binary_cross_entropy(A, labels), log_loss(labels.ravel(), A.ravel()), rtol=1e-10)
    with strict():
        assert binary_cross_entropy(labels, labels) < 1.01e-7  # -log(1 - eps), eps <= 1e-7
        assert 16 < binary_cross_entropy(1 - labels, labels) < 40


# --------------------------------------------------------------------------- chapters 2.2, 2.3


def test_full_batch_converges_to_least_squares() -> None:
    n, d = 40, 3
    X = RNG.normal(size=(n, d))
    y = X @ RNG.normal(size=(d, 1)) + 0.7 + 0.1 * RNG.normal(size=(n, 1))
    W, b, hist = gradient_descent(X, y, np.zeros((d, 1)), np.zeros((1, 1)), 0.3, 2000)
    coef, *_ = np.linalg.lstsq(np.hstack([X, np.ones((n, 1))]), y, rcond=None)
    np.testing.assert_allclose(W, coef[:d], atol=1e-8)
    np.testing.assert_allclose(b, coef[d:], atol=1e-8)
    assert len(hist) == 2000 and all(np.ndim(v) == 0 for v in hist)
    assert all(later <= earlier + 1e-15 for earlier, later in itertools.pairwise(hist))


def test_error_form_is_the_gradient_of_half_the_mse() -> None:
    X, y = RNG.normal(size=(7, 2)), RNG.normal(size=(7, 1))
    W, b = RNG.normal(size=(2, 1)), RNG.normal(size=(1, 1))
    lr = 1e-3
    W1, b1, _ = gradient_descent(X, y, W, b, lr, 1)
    params = {"W": W.copy(), "b": b.copy()}
    half_mse: Any = lambda pred, t: 0.5 * mse_loss(pred, t)  # noqa: E731
    grads = numerical_gradient(X, y, params, half_mse, linear_forward, h=1e-6)
    np.testing.assert_allclose((W - W1) / lr, grads["W"], rtol=1e-6)
    np.testing.assert_allclose((b - b1) / lr, grads["b"], rtol=1e-6)


def test_logistic_regression_matches_sklearn() -> None:
    n = 60
    X = RNG.normal(size=(n, 2))
    y = (X @ np.array([[1.5], [-1.0]]) + 0.3 + RNG.logistic(size=(n, 1)) > 0).astype(np.float64)
    W, b, hist = gradient_descent(X, y, np.zeros((2, 1)), np.zeros((1, 1)), 1.0, 3000,
                                  loss_fn=binary_cross_entropy, activation_fn=sigmoid)
    model = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y.ravel())
    np.testing.assert_allclose(W.ravel(), model.coef_.ravel(), rtol=1e-4)
    np.testing.assert_allclose(b.ravel(), model.intercept_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(hist[-1], log_loss(y.ravel(), model.predict_proba(X)[:, 1]), rtol=1e-6)


def test_rng_use_is_exactly_one_permutation_per_epoch() -> None:
    X = np.arange(7.0).reshape(-1, 1)
    seen: list[list[int]] = []

    def spy(Z: Array) -> Array:
        if Z.shape[0] < 7:
            seen.append([int(v) for v in np.rint(Z.ravel())])
        return Z

    rng = np.random.default_rng(3)
    gradient_descent(X, np.zeros((7, 1)), np.ones((1, 1)), np.zeros((1, 1)), 0.0, 3, batch_size=3,
                     activation_fn=spy, rng=rng)
    twin = np.random.default_rng(3)
    perms = [twin.permutation(7) for _ in range(3)]
    assert seen == [[int(i) for i in p[s:s + 3]] for p in perms for s in (0, 3, 6)]
    assert rng.bit_generator.state == twin.bit_generator.state  # nothing else was drawn
    untouched = np.random.default_rng(5)
    state = untouched.bit_generator.state
    gradient_descent(X, X, np.ones((1, 1)), np.zeros((1, 1)), 0.01, 3, rng=untouched)
    assert untouched.bit_generator.state == state  # full batch never touches rng


def test_gradient_descent_is_pure_and_float32_works() -> None:
    X, y = RNG.normal(size=(9, 2)), RNG.normal(size=(9, 1))
    W, b = RNG.normal(size=(2, 1)), RNG.normal(size=(1, 1))
    copies = [a.copy() for a in (X, y, W, b)]
    W64, b64, h64 = gradient_descent(X, y, W, b, 0.1, 5, batch_size=4, rng=np.random.default_rng(0))
    assert all(np.array_equal(a, c) for a, c in zip((X, y, W, b), copies, strict=True))
    W32, b32, h32 = gradient_descent(*(a.astype(np.float32) for a in (X, y, W, b)), 0.1, 5, batch_size=4,
                                     rng=np.random.default_rng(0))
    np.testing.assert_allclose(W32, W64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(h32, h64, rtol=1e-4)
    assert b32.shape == b64.shape == (1, 1)


# --------------------------------------------------------------------------- chapter 2.4


def test_numerical_gradient_matches_analytic_mse_gradient() -> None:
    n, d, m = 6, 3, 2
    X, y = RNG.normal(size=(n, d)), RNG.normal(size=(n, m))
    params = {"W": RNG.normal(size=(d, m)), "b": RNG.normal(size=(1, m))}
    objects = {k: v for k, v in params.items()}
    saved = {k: v.copy() for k, v in params.items()}
    grads = numerical_gradient(X, y, params, mse_loss, linear_forward)
    E = X @ saved["W"] + saved["b"] - y
    np.testing.assert_allclose(grads["W"], 2 * X.T @ E / E.size, rtol=1e-7)
    np.testing.assert_allclose(grads["b"], 2 * E.sum(axis=0, keepdims=True) / E.size, rtol=1e-7)
    assert all(params[k] is objects[k] and np.array_equal(params[k], saved[k]) for k in params)


def test_numerical_gradient_is_second_order_accurate() -> None:
    w = RNG.normal(size=(4,))
    cube: Any = lambda pred, t: float(np.sum(pred**3))  # noqa: E731
    identity: Any = lambda X, p: p["w"]  # noqa: E731
    for h in (1e-1, 1e-2):
        g = numerical_gradient(np.zeros(1), np.zeros(1), {"w": w}, cube, identity, h=h)["w"]
        np.testing.assert_allclose(g, 3 * w**2 + h**2, rtol=1e-9)  # central difference of w^3, exactly


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.data())
def test_relative_error_properties(rows: int, cols: int, data: st.DataObject) -> None:
    shape = (rows, cols)
    a = data.draw(hnp.arrays(np.float64, shape, elements=small))
    b = data.draw(hnp.arrays(np.float64, shape, elements=small))
    r = relative_error(a, b)
    assert np.ndim(r) == 0 and 0.0 <= r <= 1.0 + 1e-12
    assert r == pytest.approx(relative_error(b, a))
    denom = np.linalg.norm(a.ravel()) + np.linalg.norm(b.ravel())
    expected = 0.0 if denom == 0 else np.linalg.norm((a - b).ravel()) / denom
    assert r == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_relative_error_special_values() -> None:
    g = RNG.normal(size=(3, 2))
    assert relative_error(2 * g, g) == pytest.approx(1 / 3)
    assert relative_error(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0
    assert relative_error(g, np.zeros_like(g)) == pytest.approx(1.0)
    assert relative_error(g.astype(np.float32), g) < 1e-7


def test_linear_forward_matches_einsum() -> None:
    X = RNG.normal(size=(5, 3))
    params = {"W": RNG.normal(size=(3, 2)), "b": RNG.normal(size=(1, 2))}
    np.testing.assert_allclose(linear_forward(X, params), np.einsum("nd,dm->nm", X, params["W"]) + params["b"],
                               rtol=1e-12)


# --------------------------------------------------------------------------- graders: no double charge


BROKEN_MSE = """
def mse_loss(y_pred, y):
    return (y_pred - y) ** 2
"""


def test_broken_or_missing_mse_loss_costs_gradient_descent_nothing(grade: GradeFn) -> None:
    graded = grade(["2.2", "2.3"], patches={"mse_loss": BROKEN_MSE})
    assert graded.lost("gradient_descent") == 0, graded.output("gradient_descent")
    everything_but_mse = [n for n in load_manifest().function_names if n != "mse_loss"]
    graded = grade(["2.2", "2.3"], implement=everything_but_mse)
    assert graded.lost("gradient_descent") == 0, graded.output("gradient_descent")


def test_reference_gets_full_marks_on_modules_0_to_2(grade: GradeFn) -> None:
    chapters = ["0", "1.1", "1.2", "1.3", "2.2", "2.3", "2.4"]
    graded = grade(chapters)
    assert all(graded.full(c) for c in chapters), graded.output()


# --------------------------------------------------------------------------- the graders' toolbox


def test_toolbox_central_differences_are_second_order_and_restore_every_entry() -> None:
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(3, 2)), rng.normal(size=(1, 2))
    X = rng.normal(size=(5, 3))
    before = [W.copy(), b.copy()]

    def loss() -> float:
        return float(np.sum(np.tanh(X @ W + b) ** 2))

    gW, gb = central_differences(loss, [W, b])
    T = np.tanh(X @ W + b)
    dZ = 2 * T * (1 - T**2)
    np.testing.assert_allclose(gW, X.T @ dZ, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(gb, dZ.sum(axis=0, keepdims=True), rtol=1e-7, atol=1e-9)
    assert all(np.array_equal(p, q) for p, q in zip([W, b], before, strict=True))
    np.testing.assert_allclose(numeric_gradient(loss, W), gW)


def test_toolbox_softmax_sigmoid_one_hot() -> None:
    Z = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
    with strict():
        S = stable_softmax(Z)
        np.testing.assert_allclose(S.sum(axis=1), 1.0)
        np.testing.assert_allclose(stable_softmax(Z, axis=0).sum(axis=0), 1.0)
        np.testing.assert_allclose(toolbox_sigmoid(Z), expit(Z), rtol=1e-15, atol=0)
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


def test_toolbox_init_statistics_accepts_any_seed_and_names_the_scale_mistake() -> None:
    for seed in range(20):  # margins of more than ten standard errors: no seed fails a right scale
        W = np.random.default_rng(seed).normal(scale=np.sqrt(2 / 300), size=(300, 100))
        check_init_statistics(W, float(np.sqrt(2 / 300)), call="he_init(300, 100)")
    wrong = np.random.default_rng(0).normal(scale=np.sqrt(2 / 100), size=(300, 100))
    with pytest.raises(Feedback, match=r"\(fan_out\)"):
        check_init_statistics(wrong, float(np.sqrt(2 / 300)), call="he_init(300, 100)",
                              candidates=[("fan_out", float(np.sqrt(2 / 100)), "divide by fan_in")])


@pytest.mark.parametrize("body,found", [
    ("with np.errstate(over='ignore'):\n        return 1 / (1 + np.exp(-Z))", "errstate"),
    ("warnings.filterwarnings('ignore')\n    return 1 / (1 + np.exp(-Z))", "filterwarnings"),
    ("np.seterr(all='ignore')\n    return Z", "seterr"),
    ("with warnings.catch_warnings():\n        return Z", "catch_warnings"),
    ("return _quiet(Z)", "errstate"),  # through a helper of the module
    ("with np.errstate(under='ignore'):\n        return Z", None),  # underflow to 0 is right
    ("with np.errstate(over='warn', invalid='warn'):\n        return Z", None),
    ("return np.exp(-np.abs(Z))", None),
])
def test_silencing_calls_are_found_in_the_function_and_its_helpers(body: str, found: str | None) -> None:
    source = ("import warnings\nimport numpy as np\n\n"
              "def _quiet(Z):\n    with np.errstate(over='ignore'):\n        return np.exp(Z)\n\n"
              f"def sigmoid(Z):\n    {body}\n\n"
              "def other(Z):\n    np.seterr(all='ignore')\n")
    assert silencing_call(source, "sigmoid") == found
