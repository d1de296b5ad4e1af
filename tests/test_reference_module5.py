"""The reference of Module 5 (chapters 5.1 layers, 5.2 framework) against independent oracles.

Gradients are checked against central differences computed here (not with the code
under test), optimizers against steps worked out by hand, and the framework against
the accuracy targets the chapters promise:

* digits (scikit-learn, 8x8), MLP 64-128-10 with Momentum(lr=0.05), 30 epochs of
  batches of 32, held-out 30 % (540 images): 0.983 for the seeds used here; over 3
  splits x 5 weight seeds 0.969-0.987, mean 0.979 (target >= 0.97), about 1 s;
* XOR (200 noisy points), 2-8-1 ReLU/Sigmoid with Adam: 1.00 (target >= 0.99);
* spirals (3 x 100 points), 2-100-3 with Adam: 0.99 train, 0.98-0.99 on fresh
  spirals (target >= 0.95).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograder.toolbox import Array, numeric_gradient
from solutions.activations import sigmoid, softmax
from solutions.framework import (
    SGD,
    Adam,
    Momentum,
    Sequential,
    create_batches,
    decision_grid,
    fit,
    gradient_check,
    he_init,
    make_spirals,
    make_xor,
    step_decay,
    xavier_init,
)
from solutions.layers import (
    BCELoss,
    CrossEntropyLoss,
    Linear,
    MSELoss,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from solutions.losses import binary_cross_entropy, cross_entropy


def rel_err(a: Array, b: Array) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# --------------------------------------------------------------------- 5.1 layers


ACTIVATIONS = [ReLU, Sigmoid, Tanh, Softmax]


@pytest.mark.parametrize("cls", ACTIVATIONS, ids=lambda c: c.__name__)
def test_activation_backward_matches_finite_differences(cls: type, rng: np.random.Generator) -> None:
    layer = cls()
    Z = rng.normal(size=(5, 4))
    Z[np.abs(Z) < 0.05] = 0.3  # keep away from the ReLU kink
    G = rng.normal(size=(5, 4))  # upstream gradient: L = sum(G * layer(Z))
    layer.forward(Z)
    dZ = layer.backward(G)
    want = numeric_gradient(lambda: float(np.sum(G * cls().forward(Z))), Z)
    assert dZ.shape == Z.shape
    assert rel_err(dZ, want) < 1e-8


def test_linear_backward_matches_finite_differences(rng: np.random.Generator) -> None:
    layer = Linear(4, 3, rng=rng)
    layer.b = rng.normal(size=(1, 3))
    X = rng.normal(size=(6, 4))
    G = rng.normal(size=(6, 3))

    def f() -> float:
        return float(np.sum(G * layer.forward(X)))

    layer.forward(X)
    dX = layer.backward(G)
    dW, db = layer.dW.copy(), layer.db.copy()
    assert dX.shape == X.shape and dW.shape == (4, 3) and db.shape == (1, 3)
    assert rel_err(dX, numeric_gradient(f, X)) < 1e-8
    assert rel_err(dW, numeric_gradient(f, layer.W)) < 1e-8
    assert rel_err(db, numeric_gradient(f, layer.b)) < 1e-8


def test_linear_gradients_are_overwritten_not_accumulated_nor_averaged(
    rng: np.random.Generator,
) -> None:
    layer = Linear(3, 2, rng=rng)
    X, G = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    layer.forward(X)
    layer.backward(G)
    layer.backward(G)  # twice: same result, no accumulation, cache untouched
    np.testing.assert_allclose(layer.dW, X.T @ G)  # no 1/n here: it lives in the loss
    np.testing.assert_allclose(layer.db, G.sum(axis=0, keepdims=True))
    layer.forward(X[:4])
    layer.backward(G[:4])
    np.testing.assert_allclose(layer.dW, X[:4].T @ G[:4])


def test_linear_init_shapes_and_scale(rng: np.random.Generator) -> None:
    he = Linear(800, 400, rng=rng)
    xa = Linear(800, 400, init="xavier", rng=rng)
    assert he.W.shape == (800, 400) and he.b.shape == (1, 400)
    assert np.all(he.b == 0) and np.all(he.dW == 0) and he.db.shape == (1, 400)
    assert abs(he.W.std() / np.sqrt(2 / 800) - 1) < 0.02
    assert abs(xa.W.std() / np.sqrt(2 / 1200) - 1) < 0.02
    assert abs(he.W.mean()) < 0.002
    same = Linear(5, 3, rng=np.random.default_rng(7)).W
    np.testing.assert_array_equal(same, Linear(5, 3, rng=np.random.default_rng(7)).W)
    with pytest.raises(ValueError):
        Linear(2, 2, init="zeros")


@pytest.mark.parametrize("cls", [Linear, *ACTIVATIONS], ids=lambda c: c.__name__)
def test_layers_do_not_modify_arguments_and_accept_float32(
    cls: type, rng: np.random.Generator
) -> None:
    layer = Linear(4, 4, rng=rng) if cls is Linear else cls()
    X = rng.normal(size=(3, 4)).astype(np.float32)
    G = rng.normal(size=(3, 4)).astype(np.float32)
    X0, G0 = X.copy(), G.copy()
    out = layer.forward(X)
    d1 = layer.backward(G)
    d2 = layer.backward(G)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(G, G0)
    np.testing.assert_array_equal(d1, d2)
    assert np.all(np.isfinite(out)) and out.shape == (3, 4)


def test_activations_are_stable_for_huge_logits() -> None:
    Z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for cls in ACTIVATIONS:
            layer = cls()
            assert np.all(np.isfinite(layer.forward(Z)))
            assert np.all(np.isfinite(layer.backward(np.ones_like(Z))))
        S = Softmax().forward(Z)
        np.testing.assert_allclose(S.sum(axis=1), 1.0)


def test_cross_entropy_backward_is_the_softmax_logit_gradient(rng: np.random.Generator) -> None:
    n, k = 6, 4
    Z = rng.normal(size=(n, k))
    labels = rng.integers(0, k, size=n)
    Y = np.eye(k)[labels]
    ce = CrossEntropyLoss()
    loss = ce.forward(softmax(Z), labels)
    assert np.ndim(loss) == 0
    np.testing.assert_allclose(loss, cross_entropy(softmax(Z), Y))
    dZ = ce.backward()
    np.testing.assert_allclose(dZ, (softmax(Z) - Y) / n)  # averaged exactly once
    want = numeric_gradient(lambda: CrossEntropyLoss().forward(softmax(Z), labels), Z)
    assert rel_err(dZ, want) < 1e-8
    # one-hot targets give the same loss and gradient as integer labels
    ce2 = CrossEntropyLoss()
    np.testing.assert_allclose(ce2.forward(softmax(Z), Y), loss)
    np.testing.assert_allclose(ce2.backward(), dZ)


def test_bce_and_mse_backward_match_finite_differences(rng: np.random.Generator) -> None:
    Z = rng.normal(size=(7, 1))
    y = rng.integers(0, 2, size=(7, 1)).astype(float)
    bce = BCELoss()
    np.testing.assert_allclose(bce.forward(sigmoid(Z), y), binary_cross_entropy(sigmoid(Z), y))
    want = numeric_gradient(lambda: BCELoss().forward(sigmoid(Z), y), Z)
    assert rel_err(bce.backward(), want) < 1e-8  # with respect to the logits

    P, T = rng.normal(size=(7, 2)), rng.normal(size=(7, 2))
    mse = MSELoss()
    np.testing.assert_allclose(mse.forward(P, T), np.mean((P - T) ** 2))
    assert rel_err(mse.backward(), numeric_gradient(lambda: MSELoss().forward(P, T), P)) < 1e-8
    # (n,) targets are reshaped to the prediction's shape
    np.testing.assert_allclose(MSELoss().forward(P[:, :1], T[:, 0]), np.mean((P[:, 0] - T[:, 0]) ** 2))


def test_losses_are_finite_for_probabilities_0_and_1() -> None:
    P = np.array([[1.0, 0.0], [0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ce = CrossEntropyLoss().forward(P, np.array([1, 1]))
        bce = BCELoss().forward(np.array([[0.0], [1.0]]), np.array([[1.0], [0.0]]))
    assert np.isfinite(ce) and ce > 5 and np.isfinite(bce) and bce > 5
    assert CrossEntropyLoss().forward(P, np.array([0, 1])) < 1e-6


# ---------------------------------------------------------------- 5.2 framework


def small_model(rng: np.random.Generator, out: type = Softmax, k: int = 3) -> Sequential:
    return Sequential([Linear(4, 5, rng=rng), Tanh(), Linear(5, 6, rng=rng), ReLU(),
                       Linear(6, k, init="xavier", rng=rng), out()])


def model_grads_by_finite_differences(model: Sequential, loss: Any, X: Array, y: Array) -> list[Array]:
    def f() -> float:
        return float(loss.forward(model.forward(X), y))

    return [numeric_gradient(f, getattr(p, name)) for p in model.parameters() for name in ("W", "b")]


@pytest.mark.parametrize(
    ("out", "k", "make_loss", "targets"),
    [
        (Softmax, 3, CrossEntropyLoss, lambda r: r.integers(0, 3, size=8)),
        (Sigmoid, 1, BCELoss, lambda r: r.integers(0, 2, size=(8, 1)).astype(float)),
        (Tanh, 2, MSELoss, lambda r: r.normal(size=(8, 2))),
    ],
    ids=["softmax-ce", "sigmoid-bce", "tanh-mse"],
)
def test_sequential_backward_matches_finite_differences(
    out: type, k: int, make_loss: type, targets: Callable[[np.random.Generator], Array],
    rng: np.random.Generator,
) -> None:
    model = small_model(rng, out, k)
    X, y = rng.normal(size=(8, 4)), targets(rng)
    loss = make_loss()
    loss.forward(model.forward(X), y)
    dX = model.backward(loss.backward())
    assert dX.shape == X.shape
    got = [getattr(p, name).copy() for p in model.parameters() for name in ("dW", "db")]
    want = model_grads_by_finite_differences(model, make_loss(), X, y)
    for g, w in zip(got, want, strict=True):
        assert rel_err(g, w) < 1e-6
    # and the kit's own gradient_check agrees
    assert gradient_check(model, X, y, loss=make_loss()) < 1e-6


def test_sequential_skips_the_fused_output_activation(rng: np.random.Generator) -> None:
    model = small_model(rng)
    X = rng.normal(size=(5, 4))
    model.forward(X)
    G = rng.normal(size=(5, 3))
    a = model.backward(G)
    dW_last = model.parameters()[-1].dW.copy()
    b = Sequential(model.layers[:-1]).backward(G)
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(model.parameters()[-1].dW, dW_last)


def test_sequential_predict_and_parameters(rng: np.random.Generator) -> None:
    model = small_model(rng)
    X = rng.normal(size=(9, 4))
    np.testing.assert_array_equal(model.predict(X), np.argmax(model.forward(X), axis=1))
    params = model.parameters()
    assert len(params) == 3 and all(p is layer for p, layer in zip(params, model.layers[::2], strict=True))
    binary = small_model(rng, Sigmoid, 1)
    np.testing.assert_array_equal(binary.predict(X), (binary.forward(X)[:, 0] >= 0.5).astype(int))
    assert binary.predict(X).shape == (9,)


def test_gradient_check_detects_a_wrong_backward_and_restores_parameters(
    rng: np.random.Generator,
) -> None:
    class HalfGradLinear(Linear):  # forgets nothing but halves dW: a typical "1/2" bug
        def backward(self, dZ: Array) -> Array:
            dX = super().backward(dZ)
            self.dW = self.dW / 2
            return dX

    X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    model = small_model(rng)
    before = [p.W.copy() for p in model.parameters()]
    assert gradient_check(model, X, y) < 1e-6
    for p, W in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.W, W)
    bad = Sequential([HalfGradLinear(4, 3, rng=rng), Softmax()])
    assert gradient_check(bad, X, y) > 1e-2


class Param:
    """A bare parameter holder, as optimizers see layers."""

    def __init__(self, W: Array, b: Array, dW: Array, db: Array) -> None:
        self.W, self.b, self.dW, self.db = W.copy(), b.copy(), dW.copy(), db.copy()


def test_sgd_step() -> None:
    p = Param(np.array([[1.0, 2.0]]), np.array([[0.5]]), np.array([[0.1, -0.2]]), np.array([[1.0]]))
    SGD(lr=0.5).step([p])
    np.testing.assert_allclose(p.W, [[0.95, 2.1]])
    np.testing.assert_allclose(p.b, [[0.0]])
    np.testing.assert_allclose(p.dW, [[0.1, -0.2]])  # gradients are not touched


def test_momentum_keeps_one_velocity_per_parameter() -> None:
    p = Param(np.zeros((1, 1)), np.zeros((1, 1)), np.array([[1.0]]), np.array([[-2.0]]))
    q = Param(np.zeros((1, 1)), np.zeros((1, 1)), np.array([[10.0]]), np.array([[0.0]]))
    opt = Momentum(lr=0.1, beta=0.9)
    opt.step([p, q])  # v = -0.1 g
    opt.step([p, q])  # v = 0.9 * (-0.1 g) - 0.1 g = -0.19 g; total -0.29 g
    np.testing.assert_allclose(p.W, [[-0.29]])
    np.testing.assert_allclose(p.b, [[0.58]])
    np.testing.assert_allclose(q.W, [[-2.9]])
    np.testing.assert_allclose(q.b, [[0.0]])


def test_adam_bias_correction_and_step_count() -> None:
    g = np.array([[0.001, -50.0]])
    p = Param(np.zeros((1, 2)), np.zeros((1, 1)), g, np.array([[3.0]]))
    opt = Adam(lr=0.01)
    opt.step([p])
    assert opt.t == 1
    # t = 1: m_hat = g, v_hat = g^2, so every entry moves by lr * g / (|g| + eps)
    np.testing.assert_allclose(p.W, -0.01 * g / (np.abs(g) + 1e-8))
    np.testing.assert_allclose(p.b, [[-0.01 * 3 / (3 + 1e-8)]])
    # second step with a new gradient, by hand
    g2 = np.array([[0.003, 10.0]])
    p.dW = g2
    opt.step([p])
    assert opt.t == 2
    m = 0.9 * 0.1 * g + 0.1 * g2
    v = 0.999 * 0.001 * g**2 + 0.001 * g2**2
    m_hat, v_hat = m / (1 - 0.9**2), v / (1 - 0.999**2)
    want = -0.01 * g / (np.abs(g) + 1e-8) - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(p.W, want)


def test_he_and_xavier_init_variance() -> None:
    W = he_init(1000, 300, rng=np.random.default_rng(0))
    assert W.shape == (1000, 300)
    assert abs(W.var() / (2 / 1000) - 1) < 0.03
    V = xavier_init(1000, 300, rng=np.random.default_rng(0))
    assert abs(V.var() / (2 / 1300) - 1) < 0.03
    np.testing.assert_array_equal(W, he_init(1000, 300, rng=np.random.default_rng(0)))


def test_create_batches_covers_every_sample_once() -> None:
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    batches = create_batches(X, y, 4, rng=np.random.default_rng(3))
    assert [len(yb) for _, yb in batches] == [4, 4, 2]
    seen = np.concatenate([yb for _, yb in batches])
    np.testing.assert_array_equal(seen, np.random.default_rng(3).permutation(10))
    for Xb, yb in batches:
        np.testing.assert_array_equal(Xb[:, 0], 2 * yb)  # rows stay with their targets
    ordered = create_batches(X, y, 5, shuffle=False)
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in ordered]), y)


def test_step_decay_and_schedule_in_fit(rng: np.random.Generator) -> None:
    assert [step_decay(e, 0.1, 0.5, 2) for e in range(5)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    X, y = make_xor(40, rng=rng)
    model = Sequential([Linear(2, 4, rng=rng), ReLU(), Linear(4, 1, rng=rng), Sigmoid()])
    opt = SGD(lr=1.0)
    schedule = functools.partial(step_decay, initial_lr=0.2, drop=0.1, epochs_per_drop=2)
    hist = fit(model, X, y, BCELoss(), opt, epochs=5, batch_size=16, schedule=schedule, rng=rng)
    assert hist["lr"] == pytest.approx([0.2, 0.2, 0.02, 0.02, 0.002])
    assert len(hist["loss"]) == len(hist["train_acc"]) == len(hist["time"]) == 5
    assert hist["val_loss"] == [] and hist["best_epoch"] is None


def test_fit_early_stopping_restores_the_best_weights(rng: np.random.Generator) -> None:
    # few noisy points: the validation loss bottoms out (epoch 67 here) and the run
    # stops 5 epochs later
    X, Y = make_spirals(30, 3, noise=0.6, rng=rng)
    Xv, Yv = make_spirals(30, 3, noise=0.6, rng=rng)
    model = Sequential([Linear(2, 64, rng=rng), ReLU(), Linear(64, 3, rng=rng), Softmax()])
    hist = fit(model, X, Y, CrossEntropyLoss(), Adam(lr=0.01), epochs=300, batch_size=16,
               X_val=Xv, y_val=Yv, patience=5, rng=rng)
    n_epochs = len(hist["val_loss"])
    best = int(np.argmin(hist["val_loss"]))
    assert n_epochs < 300, "the run should have stopped early"
    assert hist["best_epoch"] == best and n_epochs == best + 5 + 1
    assert hist["val_loss"][-1] > hist["val_loss"][best]
    # the returned model is the best one, not the last one
    np.testing.assert_allclose(CrossEntropyLoss().forward(model.forward(Xv), Yv), hist["val_loss"][best])


def test_fit_without_validation_rejects_patience(rng: np.random.Generator) -> None:
    X, y = make_xor(8, rng=rng)
    model = Sequential([Linear(2, 2, rng=rng), Sigmoid()])
    with pytest.raises(ValueError):
        fit(model, X, y[:, [0, 0]], BCELoss(), SGD(), epochs=1, patience=2)


def test_datasets() -> None:
    X, y = make_xor(4, noise=0.0)
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [[0], [1], [1], [0]])
    X, y = make_xor(100, noise=0.05, rng=np.random.default_rng(0))
    assert X.shape == (100, 2) and y.shape == (100, 1)
    np.testing.assert_array_equal(y[:, 0], np.logical_xor(*np.round(X).T.astype(bool)))
    X, Y = make_spirals(50, 4, noise=0.3, rng=np.random.default_rng(0))
    assert X.shape == (200, 2) and Y.shape == (200, 4)
    np.testing.assert_array_equal(Y.argmax(axis=1), np.repeat(np.arange(4), 50))
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), np.tile(np.linspace(0, 1, 50), 4))
    X0, _ = make_spirals(5, 2, noise=0.0)
    t = np.linspace(4, 8, 5)
    np.testing.assert_allclose(X0[5:], np.column_stack([np.linspace(0, 1, 5) * np.sin(t),
                                                        np.linspace(0, 1, 5) * np.cos(t)]))


# ------------------------------------------------------- accuracy targets, plots


def digits_split(seed: int = 0) -> tuple[Array, Array, Array, Array]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    perm = np.random.default_rng(seed).permutation(len(y))
    X, y = X[perm] / 16.0, y[perm]
    n_train = int(0.7 * len(y))
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def test_digits_mlp_reaches_97_percent_on_held_out_data() -> None:
    Xtr, ytr, Xte, yte = digits_split()
    rng = np.random.default_rng(0)
    model = Sequential([Linear(64, 128, rng=rng), ReLU(), Linear(128, 10, rng=rng), Softmax()])
    hist = fit(model, Xtr, ytr, CrossEntropyLoss(), Momentum(lr=0.05), epochs=30, batch_size=32,
               rng=rng)
    accuracy = float(np.mean(model.predict(Xte) == yte))
    assert hist["loss"][-1] < hist["loss"][0]
    assert accuracy >= 0.97, f"held-out digits accuracy {accuracy:.3f}"


def test_xor_is_solved() -> None:
    rng = np.random.default_rng(0)
    X, y = make_xor(200, noise=0.1, rng=rng)
    model = Sequential([Linear(2, 8, rng=rng), ReLU(), Linear(8, 1, init="xavier", rng=rng), Sigmoid()])
    hist = fit(model, X, y, BCELoss(), Adam(lr=0.05), epochs=100, batch_size=32, rng=rng)
    assert hist["train_acc"][-1] >= 0.99
    Xt, yt = make_xor(400, noise=0.1, rng=rng)
    assert np.mean(model.predict(Xt) == yt[:, 0]) >= 0.99


def trained_spiral_model() -> tuple[Sequential, Array, Array, dict[str, Any]]:
    rng = np.random.default_rng(0)
    X, Y = make_spirals(100, 3, noise=0.2, rng=rng)
    model = Sequential([Linear(2, 100, rng=rng), ReLU(), Linear(100, 3, rng=rng), Softmax()])
    hist = fit(model, X, Y, CrossEntropyLoss(), Adam(lr=0.02), epochs=150, batch_size=64, rng=rng)
    return model, X, Y, hist


@pytest.fixture(scope="module")
def spirals() -> tuple[Sequential, Array, Array, dict[str, Any]]:
    return trained_spiral_model()


def test_spirals_are_solved(spirals: tuple[Sequential, Array, Array, dict[str, Any]]) -> None:
    model, _, _, hist = spirals
    assert hist["train_acc"][-1] >= 0.95
    Xt, Yt = make_spirals(100, 3, noise=0.2, rng=np.random.default_rng(99))
    assert np.mean(model.predict(Xt) == Yt.argmax(axis=1)) >= 0.95


def test_decision_boundary_grid_and_png(
    spirals: tuple[Sequential, Array, Array, dict[str, Any]], tmp_path: Path
) -> None:
    from matplotlib.figure import Figure

    model, X, Y, _ = spirals
    xx, yy, labels = decision_grid(model, X, resolution=50)
    assert xx.shape == yy.shape == labels.shape == (50, 50)
    assert xx[0, 0] == pytest.approx(X[:, 0].min() - 0.5) and yy[-1, 0] == pytest.approx(X[:, 1].max() + 0.5)
    assert set(np.unique(labels)) == {0, 1, 2}
    # the plot of the decision_grid docstring (matplotlib's file-only Agg backend, no pyplot)
    fig = Figure(figsize=(6, 5))
    ax = fig.add_subplot()
    ax.contourf(xx, yy, labels, alpha=0.35)
    ax.scatter(X[:, 0], X[:, 1], c=Y.argmax(axis=1), edgecolors="k")
    out = tmp_path / "spirals.png"
    fig.savefig(out)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
