"""Reference solutions of Module 4 (chapters 4.1-4.5) against independent oracles.

Oracles: ``scipy.signal.correlate2d`` for the convolution, plain Python loops for
pooling, central finite differences for every gradient. Also: float32 input, no
input is modified, hypothesis properties where they are natural.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.signal
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.toolbox import Array, numeric_gradient
from solutions import conv, deep, metrics, momentum, pooling, regularization
from solutions.losses import cross_entropy

FAST = settings(max_examples=25, deadline=None)


def assert_close(got: Array, want: Array, rtol: float = 1e-6, atol: float = 1e-8) -> None:
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg="mine / oracle")


def frozen(*arrays: Array) -> list[Array]:
    copies = [a.copy() for a in arrays]
    return copies


def assert_unchanged(originals: list[Array], arrays: tuple[Array, ...]) -> None:
    for before, after in zip(originals, arrays, strict=True):
        np.testing.assert_array_equal(before, after, err_msg="an input was modified")


# --------------------------------------------------------------------------- 4.1


def mlp3_params(rng: np.random.Generator, d: int = 5, h1: int = 4, h2: int = 3, k: int = 3) -> list[Array]:
    shapes = [(d, h1), (1, h1), (h1, h2), (1, h2), (h2, k), (1, k)]
    return [rng.normal(size=s) for s in shapes]


def test_forward_mlp_3layer_is_relu_relu_softmax() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 5))
    W1, b1, W2, b2, W3, b3 = mlp3_params(rng)
    A1, A2, A3 = deep.forward_mlp_3layer(X, W1, b1, W2, b2, W3, b3)
    assert (A1.shape, A2.shape, A3.shape) == ((6, 4), (6, 3), (6, 3))
    assert_close(A1, np.maximum(X @ W1 + b1, 0))
    assert_close(A2, np.maximum(A1 @ W2 + b2, 0))
    Z3 = A2 @ W3 + b3
    assert_close(A3, np.exp(Z3) / np.exp(Z3).sum(axis=1, keepdims=True))
    big = deep.forward_mlp_3layer(X * 1e4, W1, b1, W2, b2, W3, b3)[2]
    assert np.all(np.isfinite(big))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backward_mlp_3layer_matches_finite_differences(dtype: Any) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(7, 5))
    y = np.eye(3)[rng.integers(0, 3, 7)]
    params = mlp3_params(rng)
    W1, b1, W2, b2, W3, _ = params

    def loss() -> float:
        return cross_entropy(deep.forward_mlp_3layer(X, *params)[2], y)

    A1, A2, A3 = deep.forward_mlp_3layer(*(a.astype(dtype) for a in (X, *params)))
    Z1 = (X @ W1 + b1).astype(dtype)
    Z2 = (A1.astype(np.float64) @ W2 + b2).astype(dtype)
    args = tuple(a.astype(dtype) for a in (X, A1, A2, A3, y, W1, W2, W3, Z1, Z2))
    before = frozen(*args)
    grads = deep.backward_mlp_3layer(*args)
    assert_unchanged(before, args)
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-5, "atol": 1e-8}
    for param, grad in zip(params, grads, strict=True):
        assert grad.shape == param.shape
        assert_close(grad, numeric_gradient(loss, param), **tol)


def deep_stack(rng: np.random.Generator, depth: int, width: int, d: int, k: int) -> tuple[list[Array], list[Array]]:
    sizes = [d] + [width] * (depth - 1) + [k]
    weights = [rng.normal(size=(m, n)) * np.sqrt(1.0 / m) for m, n in itertools.pairwise(sizes)]
    biases = [rng.normal(size=(1, n)) * 0.1 for n in sizes[1:]]
    return weights, biases


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_gradient_norms_per_layer_match_finite_differences(activation: str) -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(6, 4))
    y = np.eye(3)[rng.integers(0, 3, 6)]
    weights, biases = deep_stack(rng, depth=4, width=5, d=4, k=3)

    def loss() -> float:
        A = X
        for W, b in zip(weights[:-1], biases[:-1], strict=True):
            Z = A @ W + b
            A = 1 / (1 + np.exp(-Z)) if activation == "sigmoid" else np.maximum(Z, 0)
        Z = A @ weights[-1] + biases[-1]
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        return cross_entropy(P / P.sum(axis=1, keepdims=True), y)

    before = frozen(X, y, *weights, *biases)
    norms = deep.gradient_norms_per_layer(X, y, weights, biases, activation=activation)
    assert_unchanged(before, (X, y, *weights, *biases))
    assert norms.shape == (4,)
    want = [np.linalg.norm(numeric_gradient(loss, W)) for W in weights]
    assert_close(norms, np.array(want), rtol=1e-5)


def test_sigmoid_gradients_vanish_towards_the_input_but_relu_ones_do_not() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(64, 16))
    y = np.eye(4)[rng.integers(0, 4, 64)]
    sizes = [16] + [32] * 9 + [4]
    # Xavier-like weights for sigmoid, He for ReLU: both "reasonable" initializations.
    sig_w = [rng.normal(size=(m, n)) / np.sqrt(m) for m, n in itertools.pairwise(sizes)]
    relu_w = [w * np.sqrt(2.0) for w in sig_w]
    biases = [np.zeros((1, n)) for n in sizes[1:]]
    sig = deep.gradient_norms_per_layer(X, y, sig_w, biases, activation="sigmoid")
    rel = deep.gradient_norms_per_layer(X, y, relu_w, biases, activation="relu")
    assert sig[0] < 1e-3 * sig[-1]  # ten sigmoid layers: a thousandfold smaller and more
    assert rel[0] > 1e-2 * rel[-1]
    assert np.all(np.diff(np.log(sig[:-1])) > 0)  # shrinking steadily towards the input


def test_gradient_norms_per_layer_rejects_bad_arguments() -> None:
    X, y = np.ones((2, 2)), np.eye(2)
    with pytest.raises(ValueError):
        deep.gradient_norms_per_layer(X, y, [np.ones((2, 2))], [np.ones((1, 2))], activation="tanh")
    with pytest.raises(ValueError):
        deep.gradient_norms_per_layer(X, y, [np.ones((2, 2))], [], activation="relu")


# --------------------------------------------------------------------------- 4.2


@FAST
@given(
    H=st.integers(1, 9),
    W=st.integers(1, 9),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    stride=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_conv2d_is_cross_correlation_with_stride(H: int, W: int, kh: int, kw: int, stride: int, seed: int) -> None:
    if kh > H or kw > W:
        return
    rng = np.random.default_rng(seed)
    image, kernel = rng.normal(size=(H, W)), rng.normal(size=(kh, kw))
    before = frozen(image, kernel)
    got = conv.conv2d(image, kernel, stride=stride)
    assert_unchanged(before, (image, kernel))
    assert got.shape == ((H - kh) // stride + 1, (W - kw) // stride + 1)
    assert_close(got, scipy.signal.correlate2d(image, kernel, mode="valid")[::stride, ::stride])


def test_conv2d_does_not_flip_the_kernel_and_checks_sizes() -> None:
    image = np.arange(16.0).reshape(4, 4)
    kernel = np.array([[1.0, 0.0], [0.0, 0.0]])  # picks the top-left pixel of every window
    assert_close(conv.conv2d(image, kernel), image[:3, :3])
    assert not np.allclose(conv.conv2d(image, kernel), scipy.signal.convolve2d(image, kernel, mode="valid"))
    assert_close(conv.conv2d(image, kernel, stride=2), image[:3:2, :3:2])
    assert_close(conv.conv2d(image.astype(np.float32), kernel.astype(np.float32)), image[:3, :3])
    with pytest.raises(ValueError):
        conv.conv2d(image, np.ones((5, 1)))
    with pytest.raises(ValueError):
        conv.conv2d(image, kernel, stride=0)


def conv_forward_loops(X: Array, K: Array, b: Array, stride: int) -> Array:
    """The definition, one conv2d per (image, filter, channel)."""
    n, F = X.shape[0], K.shape[0]
    first = conv.conv2d(X[0, 0], K[0, 0], stride)
    out = np.zeros((n, F, *first.shape))
    for i in range(n):
        for f in range(F):
            out[i, f] = b[f] + sum(
                scipy.signal.correlate2d(X[i, c], K[f, c], mode="valid")[::stride, ::stride] for c in range(X.shape[1])
            )
    return out


@pytest.mark.parametrize(
    ("shape", "kshape", "stride"),
    [
        ((2, 3, 7, 8), (4, 3, 3, 2), 1),
        ((3, 1, 8, 8), (2, 1, 3, 3), 2),
        ((1, 2, 7, 9), (3, 2, 2, 3), 3),  # sizes that do not divide: leftover rows/columns
        ((2, 2, 5, 5), (1, 2, 5, 5), 1),  # kernel as large as the image
    ],
)
def test_conv_forward_matches_the_definition(shape: tuple[int, ...], kshape: tuple[int, ...], stride: int) -> None:
    rng = np.random.default_rng(4)
    X, K, b = rng.normal(size=shape), rng.normal(size=kshape), rng.normal(size=kshape[0])
    before = frozen(X, K, b)
    got = conv.conv_forward(X, K, b, stride)
    assert_unchanged(before, (X, K, b))
    H2, W2 = (shape[2] - kshape[2]) // stride + 1, (shape[3] - kshape[3]) // stride + 1
    assert got.shape == (shape[0], kshape[0], H2, W2)
    assert_close(got, conv_forward_loops(X, K, b, stride))
    got32 = conv.conv_forward(X.astype(np.float32), K.astype(np.float32), b.astype(np.float32), stride)
    assert_close(got32, got, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("shape", "kshape", "stride"),
    [
        ((2, 2, 6, 5), (3, 2, 3, 2), 1),
        ((2, 1, 7, 7), (2, 1, 3, 3), 2),  # overlapping windows: dX accumulates
        ((1, 2, 8, 7), (2, 2, 2, 2), 3),  # gaps and leftover pixels: their dX is 0
    ],
)
def test_conv_backward_matches_finite_differences(shape: tuple[int, ...], kshape: tuple[int, ...], stride: int) -> None:
    rng = np.random.default_rng(5)
    X, K, b = rng.normal(size=shape), rng.normal(size=kshape), rng.normal(size=kshape[0])
    dout = rng.normal(size=conv.conv_forward(X, K, b, stride).shape)

    def loss() -> float:
        return float(np.sum(dout * conv.conv_forward(X, K, b, stride)))

    before = frozen(dout, X, K)
    dX, dK, db = conv.conv_backward(dout, X, K, stride)
    assert_unchanged(before, (dout, X, K))
    assert (dX.shape, dK.shape, db.shape) == (X.shape, K.shape, (kshape[0],))
    assert_close(dX, numeric_gradient(loss, X), rtol=1e-6, atol=1e-7)
    assert_close(dK, numeric_gradient(loss, K), rtol=1e-6, atol=1e-7)
    assert_close(db, numeric_gradient(loss, b), rtol=1e-6, atol=1e-7)
    dX32, dK32, db32 = conv.conv_backward(*(a.astype(np.float32) for a in (dout, X, K)), stride)
    for got, want in ((dX32, dX), (dK32, dK), (db32, db)):
        assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_conv_backward_sums_kernel_gradient_over_the_batch() -> None:
    rng = np.random.default_rng(6)
    X, K = rng.normal(size=(3, 2, 6, 6)), rng.normal(size=(2, 2, 3, 3))
    dout = rng.normal(size=(3, 2, 4, 4))
    _, dK, db = conv.conv_backward(dout, X, K)
    parts = [conv.conv_backward(dout[i : i + 1], X[i : i + 1], K) for i in range(3)]
    assert_close(dK, sum(p[1] for p in parts))
    assert_close(db, sum(p[2] for p in parts))


# --------------------------------------------------------------------------- 4.3


def pool_loops(X: Array, size: int, stride: int) -> tuple[Array, Callable[[Array], Array]]:
    """Max pooling and its backward pass, one window at a time (np.argmax = first maximum)."""
    H2, W2 = (X.shape[-2] - size) // stride + 1, (X.shape[-1] - size) // stride + 1
    out = np.zeros((*X.shape[:-2], H2, W2))
    for lead in np.ndindex(X.shape[:-2]):
        for i in range(H2):
            for j in range(W2):
                out[(*lead, i, j)] = X[lead][i * stride : i * stride + size, j * stride : j * stride + size].max()

    def backward(dout: Array) -> Array:
        dX = np.zeros(X.shape)
        for lead in np.ndindex(X.shape[:-2]):
            for i in range(H2):
                for j in range(W2):
                    window = X[lead][i * stride : i * stride + size, j * stride : j * stride + size]
                    m, n = divmod(int(np.argmax(window)), size)
                    dX[(*lead, i * stride + m, j * stride + n)] += dout[(*lead, i, j)]
        return dX

    return out, backward


@FAST
@given(
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    H=st.integers(1, 8),
    W=st.integers(1, 8),
    size=st.integers(1, 3),
    stride=st.one_of(st.none(), st.integers(1, 3)),
    levels=st.integers(2, 4),
    seed=st.integers(0, 2**16),
)
def test_max_pool_and_backward_match_loops(
    lead: list[int], H: int, W: int, size: int, stride: int | None, levels: int, seed: int
) -> None:
    if size > H or size > W:
        return
    rng = np.random.default_rng(seed)
    X = rng.integers(0, levels, size=(*lead, H, W)).astype(np.float64)  # few levels: many ties
    s = size if stride is None else stride
    want, backward = pool_loops(X, size, s)
    before = frozen(X)
    got = pooling.max_pool(X, size, stride)
    assert got.shape == want.shape
    assert_close(got, want)
    dout = rng.normal(size=want.shape)
    dX = pooling.max_pool_backward(dout, X, size, stride)
    assert_unchanged(before, (X,))
    assert_close(dX, backward(dout))


def test_max_pool_ties_go_to_the_first_maximum_only() -> None:
    X = np.array([[[[1.0, 3.0], [3.0, 3.0]]]])
    dX = pooling.max_pool_backward(np.array([[[[5.0]]]]), X)
    np.testing.assert_array_equal(dX, [[[[0.0, 5.0], [0.0, 0.0]]]])
    flat = np.zeros((4, 4))  # all equal: every window's top-left entry wins
    dX = pooling.max_pool_backward(np.ones((2, 2)), flat)
    np.testing.assert_array_equal(dX, np.kron(np.ones((2, 2)), [[1.0, 0.0], [0.0, 0.0]]))


def test_max_pool_backward_matches_finite_differences_without_ties() -> None:
    rng = np.random.default_rng(7)
    X = rng.permutation(2 * 7 * 7).reshape(2, 7, 7).astype(np.float64)  # distinct values
    for size, stride in [(2, None), (3, 2), (2, 1)]:
        dout = rng.normal(size=pooling.max_pool(X, size, stride).shape)

        def loss(size: int = size, stride: int | None = stride, dout: Array = dout) -> float:
            return float(np.sum(dout * pooling.max_pool(X, size, stride)))

        assert_close(pooling.max_pool_backward(dout, X, size, stride), numeric_gradient(loss, X, step=1e-3))


def test_max_pool_defaults_float32_and_errors() -> None:
    X = np.arange(16.0).reshape(4, 4)
    np.testing.assert_array_equal(pooling.max_pool(X), [[5.0, 7.0], [13.0, 15.0]])
    np.testing.assert_array_equal(pooling.max_pool(X, 2, 1), [[5, 6, 7], [9, 10, 11], [13, 14, 15]])
    np.testing.assert_array_equal(pooling.max_pool(X, 3), [[10.0]])
    got32 = pooling.max_pool_backward(np.ones((2, 2), np.float32), X.astype(np.float32))
    assert_close(got32, pooling.max_pool_backward(np.ones((2, 2)), X))
    with pytest.raises(ValueError):
        pooling.max_pool(X, 5)


# --------------------------------------------------------------------------- 4.4


def test_l2_regularization_and_gradient() -> None:
    rng = np.random.default_rng(8)
    W = rng.normal(size=(4, 3))
    before = frozen(W)
    penalty = regularization.l2_regularization(W, 0.1)
    assert np.ndim(penalty) == 0
    assert penalty == pytest.approx(0.1 * np.sum(W**2))  # no factor 1/2
    grad = regularization.l2_gradient(W, 0.1)
    assert_close(grad, numeric_gradient(lambda: regularization.l2_regularization(W, 0.1), W))
    assert_unchanged(before, (W,))
    assert regularization.l2_regularization(W.astype(np.float32), 0.1) == pytest.approx(penalty, rel=1e-5)


@FAST
@given(p=st.floats(0.05, 1.0), seed=st.integers(0, 2**16))
def test_dropout_properties(p: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(50, 40))
    before = frozen(A)
    A_drop, mask = regularization.dropout(A, p, rng=np.random.default_rng(seed))
    assert_unchanged(before, (A,))
    assert mask.shape == A.shape and set(np.unique(mask)) <= {0.0, 1.0}
    assert_close(A_drop, A * mask / p)  # inverted dropout: kept entries grow by 1/p
    # p is the KEEP probability: the number of kept entries is Binomial(A.size, p). Exact
    # quantiles, not a normal approximation, which fails for p close to 1 (p = 0.99999).
    low, high = scipy.stats.binom.ppf([1e-7, 1 - 1e-7], A.size, p)
    assert low <= mask.sum() <= high
    again = regularization.dropout(A, p, rng=np.random.default_rng(seed))[1]
    np.testing.assert_array_equal(mask, again)  # the same seed gives the same mask


def test_dropout_edge_cases() -> None:
    A = np.ones((3, 4), dtype=np.float32)
    A_drop, mask = regularization.dropout(A, 1.0)
    np.testing.assert_array_equal(mask, 1.0)
    np.testing.assert_array_equal(A_drop, A)
    for p in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError):
            regularization.dropout(A, p)
    # The expected value is preserved: E[A_drop] = A.
    big = np.full((400, 500), 2.0)
    assert regularization.dropout(big, 0.3, np.random.default_rng(0))[0].mean() == pytest.approx(2.0, rel=0.02)


# --------------------------------------------------------------------------- 4.5


def test_momentum_update() -> None:
    rng = np.random.default_rng(9)
    v, g = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    before = frozen(v, g)
    new = momentum.momentum_update(v, g, 0.9, 0.1)
    assert_unchanged(before, (v, g))
    assert_close(new, 0.9 * v - 0.1 * g)
    assert_close(momentum.momentum_update(v, g, 0.0, 0.1), -0.1 * g)
    assert new.shape == v.shape
    # Heavy ball on f(w) = w^2 / 2 converges to 0 with W += v.
    w, vel = np.array([5.0]), np.zeros(1)
    for _ in range(200):
        vel = momentum.momentum_update(vel, w, 0.9, 0.05)
        w = w + vel
    assert abs(w[0]) < 1e-3


@pytest.mark.parametrize(
    ("y_pred", "y", "want"),
    [
        (np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), np.array([[0, 1], [0, 1], [0, 1]]), 2 / 3),
        (np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 0]), 1.0),
        (np.array([[0.5], [0.49], [0.9], [0.1]]), np.array([[1], [0], [0], [0]]), 0.75),
        (np.array([2, 1, 0, 2]), np.array([2, 0, 0, 1]), 0.5),
    ],
)
def test_accuracy(y_pred: Array, y: Array, want: float) -> None:
    got = metrics.accuracy(y_pred, y)
    assert isinstance(got, float)
    assert got == pytest.approx(want)


def test_accuracy_argmax_is_per_row_and_shapes_must_match() -> None:
    P = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    Y = np.eye(3)[[2, 0, 1, 0]]
    assert metrics.accuracy(P, Y) == pytest.approx(0.75)
    assert metrics.accuracy(P.astype(np.float32), Y) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        metrics.accuracy(P, Y[:3])
