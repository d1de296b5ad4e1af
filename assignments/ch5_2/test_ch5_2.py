"""Public self-check for chapter 5.2: a framework of your own.

Hand-checkable optimizer steps (the worked examples of the chapter), small models
built from YOUR chapter 5.1 layers, and short training runs. The hidden grader uses
other, random inputs.
"""

from typing import Any

import numpy as np
import pytest

from dlnp.testing import Mistake, check_array, check_scalar
from neural_network.framework import (
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
from neural_network.layers import BCELoss, CrossEntropyLoss, Linear, ReLU, Sigmoid, Softmax, Tanh

pytestmark = pytest.mark.chapter("5.2")

Array = np.ndarray[Any, Any]


class Param:
    """A bare holder of W, b and their gradients: all an optimizer needs to see."""

    def __init__(self, W: Array, b: Array, dW: Array, db: Array) -> None:
        self.W, self.b, self.dW, self.db = W.copy(), b.copy(), dW.copy(), db.copy()


def small_classifier(seed: int = 0) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential([Linear(2, 6, rng=rng), Tanh(), Linear(6, 3, rng=rng), Softmax()])


def test_sequential_chains_its_layers() -> None:
    model = small_classifier()
    X = np.random.default_rng(1).normal(size=(4, 2))
    A = X
    for layer in model.layers:
        A = layer.forward(A)
    check_array(model.forward(X), A, name="Sequential.forward(X)")
    check_array(model.predict(X), np.argmax(A, axis=1), name="Sequential.predict(X)")
    assert model.parameters() == [model.layers[0], model.layers[2]], "parameters() returns the Linear layers"


def test_sequential_backward_skips_the_final_softmax() -> None:
    model = small_classifier()
    X = np.random.default_rng(1).normal(size=(4, 2))
    G = np.random.default_rng(2).normal(size=(4, 3))
    model.forward(X)
    got = model.backward(G)
    want = G
    for layer in reversed(model.layers[:-1]):  # the loss already gave the gradient w.r.t. the logits
        want = layer.backward(want)
    check_array(got, want, name="Sequential.backward(dlogits)")


def test_sgd_step_by_hand() -> None:
    p = Param(np.array([[1.0, 2.0]]), np.array([[0.5]]), np.array([[0.1, -0.2]]), np.array([[1.0]]))
    SGD(lr=0.5).step([p])
    check_array(p.W, [[0.95, 2.1]], name="W after one SGD step", mistakes=[
        Mistake("ascent", np.array([[1.05, 1.9]]), "Move AGAINST the gradient: W - lr * dW."),
    ])
    check_array(p.b, [[0.0]], name="b after one SGD step")


def test_momentum_worked_example() -> None:
    p = Param(np.zeros((1, 1)), np.zeros((1, 1)), np.array([[1.0]]), np.array([[-2.0]]))
    opt = Momentum(lr=0.1, beta=0.9)
    opt.step([p])
    opt.step([p])
    check_array(p.W, [[-0.29]], name="W after two Momentum steps (gradient 1)")
    check_array(p.b, [[0.58]], name="b after two Momentum steps (gradient -2)", mistakes=[
        Mistake("shared velocity", np.array([[0.39]]), "b used W's velocity: keep one velocity per parameter."),
    ])


def test_adam_first_step_moves_by_lr() -> None:
    p = Param(np.zeros((1, 2)), np.zeros((1, 1)), np.array([[0.001, -50.0]]), np.array([[3.0]]))
    opt = Adam(lr=0.01)
    opt.step([p])
    assert opt.t == 1, f"Adam.t should be 1 after one step, got {opt.t}"
    check_array(p.W, [[-0.01, 0.01]], name="W after Adam's first step", atol=1e-6, mistakes=[
        Mistake("no bias correction", np.array([[-0.0316, 0.0316]]),
                "Divide m by 1 - beta1**t and v by 1 - beta2**t."),
    ], hint="at t = 1 the bias correction gives m_hat = g, v_hat = g**2: each entry moves by lr")


def test_initializers_scale() -> None:
    W = he_init(500, 200, rng=np.random.default_rng(0))
    V = xavier_init(500, 200, rng=np.random.default_rng(0))
    assert W.shape == V.shape == (500, 200)
    assert abs(W.std() / np.sqrt(2 / 500) - 1) < 0.05, f"he_init std should be sqrt(2/500), got {W.std():.4f}"
    assert abs(V.std() / np.sqrt(2 / 700) - 1) < 0.05, f"xavier_init std should be sqrt(2/700), got {V.std():.4f}"


def test_create_batches_covers_every_sample_once() -> None:
    X = np.arange(14.0).reshape(7, 2)
    y = np.arange(7)
    batches = create_batches(X, y, 3, rng=np.random.default_rng(0))
    assert [len(yb) for _, yb in batches] == [3, 3, 1], "batches of 3, 3 and the remaining 1"
    assert sorted(np.concatenate([yb for _, yb in batches]).tolist()) == list(range(7)), "each sample exactly once"
    for Xb, yb in batches:
        check_array(Xb[:, 0], 2 * yb, name="first column of a batch", hint="X and y shuffled with the SAME permutation")


def test_step_decay_values() -> None:
    got = [step_decay(e, 0.1, 0.5, 2) for e in range(5)]
    check_array(np.array(got), [0.1, 0.1, 0.05, 0.05, 0.025], name="step_decay(epoch, 0.1, 0.5, 2)")
    check_scalar(step_decay(10), 0.05, name="step_decay(10) with the defaults")


def test_fit_solves_xor() -> None:
    rng = np.random.default_rng(0)
    X, y = make_xor(100, noise=0.1, rng=rng)
    model = Sequential([Linear(2, 8, rng=rng), ReLU(), Linear(8, 1, init="xavier", rng=rng), Sigmoid()])
    history = fit(model, X, y, BCELoss(), Adam(lr=0.05), epochs=80, batch_size=20, rng=rng)
    for key in ("loss", "train_acc", "val_loss", "val_acc", "lr", "time", "best_epoch"):
        assert key in history, f"history has no {key!r}"
    assert len(history["loss"]) == 80
    assert history["train_acc"][-1] >= 0.99, f"XOR should be solved, train accuracy {history['train_acc'][-1]:.2f}"


def test_fit_early_stopping_returns_the_best_model() -> None:
    rng = np.random.default_rng(3)
    X, Y = make_spirals(20, 3, noise=0.6, rng=rng)
    Xv, Yv = make_spirals(20, 3, noise=0.6, rng=rng)
    model = Sequential([Linear(2, 32, rng=rng), ReLU(), Linear(32, 3, rng=rng), Softmax()])
    history = fit(model, X, Y, CrossEntropyLoss(), SGD(lr=1.0), epochs=150, batch_size=10,
                  X_val=Xv, y_val=Yv, patience=3, rng=rng)
    losses = history["val_loss"]
    best = int(np.argmin(losses))
    assert history["best_epoch"] == best, f"best_epoch should be {best}"
    assert len(losses) == best + 3 + 1, "stop after 3 epochs in a row without a new best validation loss"
    check_scalar(CrossEntropyLoss().forward(model.forward(Xv), Yv), losses[best],
                 name="validation loss of the returned model", hint="restore COPIES of the best epoch's W and b")


def test_gradient_check_of_a_small_model() -> None:
    rng = np.random.default_rng(3)
    model = small_classifier(3)
    X, y = rng.normal(size=(5, 2)), rng.integers(0, 3, size=5)
    W0 = model.layers[0].W.copy()
    error = gradient_check(model, X, y)
    assert np.ndim(error) == 0 and error < 1e-6, f"relative error {error!r}: backprop or the check is wrong"
    check_array(model.layers[0].W, W0, name="W after gradient_check", hint="restore every entry you perturb")


def test_datasets() -> None:
    X, y = make_xor(4, noise=0.0)
    check_array(X, [[0, 0], [0, 1], [1, 0], [1, 1]], name="X of make_xor(4, noise=0.0)")
    check_array(y, [[0], [1], [1], [0]], name="y of make_xor(4, noise=0.0)")
    X, Y = make_spirals(10, 3, noise=0.2, rng=np.random.default_rng(0))
    assert X.shape == (30, 2) and Y.shape == (30, 3)
    check_array(np.linalg.norm(X, axis=1), np.tile(np.linspace(0, 1, 10), 3), name="radii of make_spirals",
                hint="the noise only changes the angle")


def test_decision_grid() -> None:
    model = small_classifier()
    X = np.random.default_rng(4).normal(size=(20, 2))
    xx, yy, labels = decision_grid(model, X, resolution=30)
    assert xx.shape == yy.shape == labels.shape == (30, 30)
    check_array(xx[0], np.linspace(X[:, 0].min() - 0.5, X[:, 0].max() + 0.5, 30), name="first row of xx",
                hint="xx varies along axis 1 over [min - margin, max + margin] of the first feature")
    check_array(labels.ravel(), model.predict(np.column_stack([xx.ravel(), yy.ravel()])), name="labels of the grid")


def test_randomness_comes_from_the_rng_you_are_given() -> None:
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0).reshape(-1, 1)
    hint = ("Draw from the rng argument (rng.standard_normal, rng.permutation), never from np.random's "
            "global functions: the same seed must give the same result.")
    for name, run in (
        ("xavier_init(3, 4, rng)", lambda rng: xavier_init(3, 4, rng)),
        ("he_init(3, 4, rng)", lambda rng: he_init(3, 4, rng)),
        ("make_xor(8, 0.1, rng)[0]", lambda rng: make_xor(8, 0.1, rng)[0]),
        ("the first batch of create_batches(X, y, 3, True, rng)", lambda rng: create_batches(X, y, 3, True, rng)[0][0]),
    ):
        first, again = run(np.random.default_rng(5)), run(np.random.default_rng(5))
        check_array(again, first, name=f"{name} with a second default_rng(5)", hint=hint)
