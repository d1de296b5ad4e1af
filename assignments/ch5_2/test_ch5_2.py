"""Public self-check for chapter 5.2: a framework of your own.

Hand-checkable optimizer steps (the worked examples of the chapter), optimizers over
several steps compared with the docstrings' update rules (lr read from ``self.lr``, the
given betas and eps, one state per parameter), small models built from YOUR chapter 5.1
layers (judged against twin layers chained by hand, so a 5.1 mistake is not charged
again), short training runs, and the data sets. Expected values never come from objects
the code under test could have changed. The hidden grader uses other, random inputs.
"""

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from dlnp.testing import Mistake, check_all, check_array, check_scalar, read_only
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
from neural_network.layers import BCELoss, CrossEntropyLoss, Linear, MSELoss, ReLU, Sigmoid, Softmax, Tanh

pytestmark = pytest.mark.chapter("5.2")

Array = np.ndarray[Any, Any]


class Param:
    """A bare holder of W, b and their gradients: all an optimizer needs to see."""

    def __init__(self, W: Array, b: Array, dW: Array, db: Array) -> None:
        self.W, self.b, self.dW, self.db = W.copy(), b.copy(), dW.copy(), db.copy()


def small_classifier(seed: int = 0) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential([Linear(2, 6, rng=rng), Tanh(), Linear(6, 3, rng=rng), Softmax()])


# Layer recipes with constant weights: every model is built from FRESH objects of your own chapter 5.1
# classes, and its expected behaviour is that of TWIN objects (same weights) chained by hand, so a
# chapter 5.1 mistake is not charged again here, and nothing your Sequential does can change the oracle.
W_A = np.array([[0.5, -1.0, 0.25, 1.0], [1.0, 0.5, -0.5, 0.0], [-0.25, 0.75, 1.0, -1.0]])
B_A = np.array([[0.1, -0.2, 0.3, 0.0]])
W_B = np.array([[1.0, -0.5, 0.25], [0.5, 1.0, -1.0], [-1.0, 0.25, 0.5], [0.25, -0.75, 1.0]])
B_B = np.array([[0.0, 0.2, -0.1]])
XS = np.array([[1.0, -0.5, 0.25], [0.5, 1.5, -1.0], [-1.0, 0.0, 2.0], [0.25, -2.0, 0.5]])
read_only(W_A, B_A, W_B, B_B, XS)


def _layers(out: str, k: int = 3) -> list[Any]:
    """Linear(3, 4) - ReLU - Linear(4, k) - ``out`` (an activation class name), weights set from constants."""
    first, second = Linear(3, 4, rng=np.random.default_rng(0)), Linear(4, k, rng=np.random.default_rng(0))
    first.W, first.b = W_A.copy(), B_A.copy()
    second.W, second.b = W_B[:, :k].copy(), B_B[:, :k].copy()
    activation = {"Softmax": Softmax, "Sigmoid": Sigmoid, "Tanh": Tanh}[out]()
    return [first, ReLU(), second, activation]


def _by_hand(layers: list[Any], X: Array, G: Array, skip_last: bool) -> tuple[Array, list[Array]]:
    """Chain ``layers`` forward, then backward from ``G`` (skipping the last one or not): dX and each dW."""
    A = X
    for layer in layers:
        A = layer.forward(A)
    for layer in reversed(layers[:-1] if skip_last else layers):
        G = layer.backward(G)
    return G, [np.array(layers[0].dW, copy=True), np.array(layers[2].dW, copy=True)]


@pytest.mark.parametrize(("out", "k", "skipped"), [("Softmax", 3, True), ("Sigmoid", 1, True), ("Tanh", 2, False)])
def test_sequential_backward_skips_only_a_final_softmax_or_sigmoid(out: str, k: int, skipped: bool) -> None:
    G = np.linspace(-1.0, 1.0, 4 * k).reshape(4, k)
    read_only(G)
    model = Sequential(_layers(out, k))
    model.forward(XS)
    dX = model.backward(G)
    dWs = [model.layers[0].dW, model.layers[2].dW]
    want, want_dWs = _by_hand(_layers(out, k), XS, G, skip_last=skipped)
    wrong, _ = _by_hand(_layers(out, k), XS, G, skip_last=not skipped)
    if skipped:
        mistake = Mistake("output activation not skipped", wrong,
                          f"Your backward went through the final {out} too. CrossEntropyLoss/BCELoss.backward "
                          f"already return the gradient with respect to the LOGITS (the input of the final {out}), "
                          "so Sequential.backward starts at the layer before it.")
    else:
        mistake = Mistake("skipped a layer that is not an output activation", wrong,
                          f"Your backward skipped the final {out}; only a final Softmax or Sigmoid (fused with its "
                          "loss) is skipped, every other layer is backpropagated.")
    name = f"Sequential.backward(grad) for a model ending with {out}"
    check_all(
        lambda: check_array(dX, want, name=name, mistakes=[mistake],
                            hint="expected = your own layers' backward, chained by hand"),
        *(lambda i=i: check_array(dWs[i], want_dWs[i], name=f"dW of Linear layer {i} after {name}")
          for i in range(2)),
    )


def test_sequential_predict_thresholds_one_output_at_one_half() -> None:
    model = Sequential(_layers("Sigmoid", 1))
    out = np.asarray(model.forward(XS))
    check_array(model.predict(XS), (out[:, 0] >= 0.5).astype(int), name="Sequential.predict(X) (one output)",
                mistakes=[Mistake("argmax of one column", np.zeros(4, dtype=int),
                                  "With a single output column the argmax is always 0: threshold the "
                                  "probability at 0.5 instead.")])
    last = model.layers[2]
    last.W, last.b = np.zeros((4, 1)), np.zeros((1, 1))  # every output is exactly 0.5
    check_array(model.predict(XS), np.ones(4, dtype=int), name="Sequential.predict(X) with outputs of exactly 0.5",
                mistakes=[Mistake("threshold > 0.5", np.zeros(4, dtype=int),
                                  "A probability of exactly 0.5 counts as class 1 (>= 0.5).")])


def test_sequential_chains_its_layers() -> None:
    layers = _layers("Softmax")
    model = Sequential(layers)
    A = XS
    for twin in _layers("Softmax"):  # twins with the same weights, chained by hand
        A = twin.forward(A)
    out = model.forward(XS)
    check_array(out, A, name="Sequential.forward(X)", hint="expected = your own layers' forward, chained by hand")
    check_array(model.predict(XS), np.argmax(A, axis=1), name="Sequential.predict(X)", mistakes=[
        Mistake("argmax over axis 0", np.argmax(A, axis=0),
                "Take the argmax of each ROW (axis=1): one label per sample."),
    ])
    params = model.parameters()
    own = isinstance(params, (list, tuple)) and len(params) == 2 and params[0] is layers[0] and params[1] is layers[2]
    assert own, (
        f"Sequential.parameters() should return the model's own 2 Linear layers, in forward order; got {params!r}."
        "\nLikely mistake (copies, order) return the SAME objects as in self.layers (not copies), first layer "
        "first, so that an optimizer updating them updates the model.")


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


# ------------------------------------------------------------------ optimizers over several steps

Update = Callable[[dict[Any, Any], Any, Array, Array], Array]


def _holders(shapes: list[tuple[int, int]], seed: int) -> list[Param]:
    rng = np.random.default_rng(seed)
    return [Param(rng.normal(size=s), rng.normal(size=(1, s[1])), np.zeros(s), np.zeros((1, s[1]))) for s in shapes]


Grads = list[list[tuple[Array, Array]]]


def _gradients(shapes: list[tuple[int, int]], steps: int, seed: int, scale: float = 1.0) -> Grads:
    """Gradients of magnitude in [scale, 3 scale] with random signs, one pair (dW, db) per layer and step."""
    rng = np.random.default_rng(seed)

    def draw(shape: tuple[int, int]) -> Array:
        return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(scale, 3 * scale, size=shape)

    return [[(draw(s), draw((1, s[1]))) for s in shapes] for _ in range(steps)]


def _run(opt: Any, holders: list[Param], grads: list[list[tuple[Array, Array]]]) -> list[Array]:
    """Your optimizer's steps on the holders; their final W and b."""
    for step in grads:
        for p, (gW, gb) in zip(holders, step, strict=True):
            p.dW, p.db = gW.copy(), gb.copy()
        opt.step(holders)
    return [np.asarray(a) for p in holders for a in (p.W, p.b)]


def _simulate(holders: list[Param], grads: list[list[tuple[Array, Array]]], update: Update) -> list[Array]:
    """The docstring's update applied to copies of the starting values: final W and b of each layer."""
    params = [[p.W.copy(), p.b.copy()] for p in holders]
    state: dict[Any, Any] = {}
    for step in grads:
        state["t"] = state.get("t", 0) + 1
        for i, (gW, gb) in enumerate(step):
            params[i][0] = update(state, (i, "W"), params[i][0], gW)
            params[i][1] = update(state, (i, "b"), params[i][1], gb)
    return [a for pair in params for a in pair]


def _sgd(lr: float) -> Update:
    return lambda state, key, p, g: p - lr * g


def _momentum(lr: float, beta: float, by_name: bool = False) -> Update:
    def update(state: dict[Any, Any], key: Any, p: Array, g: Array) -> Array:
        k = key[1] if by_name else key
        state[k] = beta * state.get(k, np.zeros_like(p)) - lr * g
        return p + state[k]
    return update


def _adam(lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, by_name: bool = False,
          eps_at: str = "sqrt(v_hat)") -> Update:
    def update(state: dict[Any, Any], key: Any, p: Array, g: Array) -> Array:
        k = key[1] if by_name else key
        m = b1 * state.get(("m", k), np.zeros_like(p)) + (1 - b1) * g
        v = b2 * state.get(("v", k), np.zeros_like(p)) + (1 - b2) * g**2
        state[("m", k)], state[("v", k)] = m, v
        t = state["t"]
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        if eps_at == "sqrt(v)":
            return p - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
        if eps_at == "inside sqrt":
            return p - lr * m_hat / np.sqrt(v_hat + eps)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return update


def _check_params(got: list[Array], want: list[Array], what: str, mistakes: dict[str, tuple[list[Array], str]],
                  atol: float | None = None) -> None:
    labels = [f"{kind} of layer {i}" for i in range(len(want) // 2) for kind in ("W", "b")]

    def one(j: int) -> Callable[[], None]:
        return lambda: check_array(got[j], want[j], name=f"{labels[j]} after {what}", atol=atol, mistakes=[
            Mistake(key, values[j], message) for key, (values, message) in mistakes.items()])

    check_all(*(one(j) for j in range(len(want))))


def test_sgd_reads_its_lr_attribute() -> None:
    opt = SGD(lr=0.1)
    assert getattr(opt, "lr", None) == 0.1, ("SGD(lr=0.1).lr should be 0.1: store the learning rate as self.lr "
                                             "(fit's schedule sets optimizer.lr between epochs)")
    opt.lr = 0.37
    holders, grads = _holders([(2, 3)], 0), _gradients([(2, 3)], 1, 1)
    start = [Param(p.W, p.b, p.dW, p.db) for p in holders]
    _check_params(_run(opt, holders, grads), _simulate(start, grads, _sgd(0.37)), "opt.lr = 0.37 and one SGD step", {
        "learning rate copied at construction": (_simulate(start, grads, _sgd(0.1)),
                                                 "step used the learning rate given at construction, not the current "
                                                 "value of self.lr: read self.lr in step."),
        "gradient ascent": (_simulate(start, grads, _sgd(-0.37)), "Move AGAINST the gradient: W - lr * dW."),
    })


def test_momentum_keeps_one_velocity_per_parameter() -> None:
    shapes = [(2, 3), (2, 3), (2, 3)]
    holders, grads = _holders(shapes, 2), _gradients(shapes, 3, 3)
    start = [Param(p.W, p.b, p.dW, p.db) for p in holders]
    _check_params(_run(Momentum(lr=0.1, beta=0.8), holders, grads), _simulate(start, grads, _momentum(0.1, 0.8)),
                  "three Momentum(lr=0.1, beta=0.8) steps on three layers", {
                      "momentum state shared across parameters": (
                          _simulate(start, grads, _momentum(0.1, 0.8, by_name=True)),
                          "The layers share one velocity per parameter NAME, so a layer inherits another's velocity. "
                          "Keep one velocity per (layer position, parameter name)."),
                      "velocity not kept": (_simulate(start, grads, _sgd(0.1)),
                                            "Your updates are plain SGD: store the velocity and reuse it."),
                  })


def test_adam_three_steps_with_given_betas() -> None:
    shapes = [(3, 2), (3, 2)]
    holders, grads = _holders(shapes, 4), _gradients(shapes, 3, 5)
    start = [Param(p.W, p.b, p.dW, p.db) for p in holders]
    opt = Adam(lr=0.02, beta1=0.8, beta2=0.99)
    got = _run(opt, holders, grads)
    t = getattr(opt, "t", None)
    assert t == 3, (f"Adam.t should be 3 after 3 steps on 2 layers, got {t!r}"
                                          "\nLikely mistake (t incremented per parameter) increment t ONCE per call "
                                          "of step, before the update")
    _check_params(got, _simulate(start, grads, _adam(0.02, 0.8, 0.99)), "three Adam(lr=0.02, beta1=0.8, beta2=0.99) "
                  "steps", {
                      "default betas": (_simulate(start, grads, _adam(0.02)),
                                        "You used beta1 = 0.9 and beta2 = 0.999 instead of the values given to "
                                        "Adam(beta1=..., beta2=...): store them and use self.beta1, self.beta2."),
                      "moments shared across parameters": (
                          _simulate(start, grads, _adam(0.02, 0.8, 0.99, by_name=True)),
                          "The layers share m and v per parameter NAME; keep them per (layer position, name)."),
                  }, atol=1e-6)


def test_adam_honours_its_eps() -> None:
    """|g| in [1e-3, 3e-3] and eps = 1e-4: each placement of eps moves the first step by a different amount."""
    holders, grads = _holders([(3, 2)], 6), _gradients([(3, 2)], 2, 7, scale=1e-3)
    start = [Param(p.W, p.b, p.dW, p.db) for p in holders]
    _check_params(_run(Adam(lr=0.02, eps=1e-4), holders, grads), _simulate(start, grads, _adam(0.02, eps=1e-4)),
                  "two Adam(lr=0.02, eps=1e-4) steps", {
                      "eps ignored": (_simulate(start, grads, _adam(0.02)),
                                      "Your Adam used eps = 1e-8, not the eps = 0.0001 given to Adam(eps=...): store "
                                      "it (self.eps = eps) and use self.eps in the update."),
                      "eps added to sqrt(v)": (_simulate(start, grads, _adam(0.02, eps=1e-4, eps_at="sqrt(v)")),
                                               "You added eps to sqrt(v) before the bias correction; the docstring "
                                               "adds it to sqrt(v_hat): W -= lr * m_hat / (np.sqrt(v_hat) + eps)."),
                      "eps inside the square root": (
                          _simulate(start, grads, _adam(0.02, eps=1e-4, eps_at="inside sqrt")),
                          "You took np.sqrt(v_hat + eps); eps is added OUTSIDE the square root: np.sqrt(v_hat) + eps."),
                  })


def _init_hint(std: float, candidates: dict[str, float]) -> str:
    for label, value in candidates.items():
        if abs(std / value - 1) < 0.05:
            return f"\nLikely mistake ({label})"
    return ""


def test_initializers_scale() -> None:
    W = he_init(500, 200, rng=np.random.default_rng(0))
    V = xavier_init(500, 200, rng=np.random.default_rng(0))
    assert np.shape(W) == np.shape(V) == (500, 200), (
        f"he_init(500, 200) and xavier_init(500, 200) have shape (fan_in, fan_out); got {np.shape(W)}, {np.shape(V)}")
    std = float(W.std())
    assert abs(std / np.sqrt(2 / 500) - 1) < 0.05, (
        f"he_init std should be sqrt(2 / 500) = {np.sqrt(2 / 500):.4f}, got {std:.4f}"
        + _init_hint(std, {"fan_out instead of fan_in: He divides by the number of INPUTS": np.sqrt(2 / 200),
                           "variance used as std: take the square root of 2 / fan_in": 2 / 500,
                           "1/fan_in instead of 2/fan_in": np.sqrt(1 / 500),
                           "Xavier instead of He": np.sqrt(2 / 700), "unscaled, std 1": 1.0}))
    std = float(V.std())
    assert abs(std / np.sqrt(2 / 700) - 1) < 0.05, (
        f"xavier_init std should be sqrt(2 / (500 + 200)) = {np.sqrt(2 / 700):.4f}, got {std:.4f}"
        + _init_hint(std, {"1/fan_in Xavier: this kit's Xavier is sqrt(2 / (fan_in + fan_out))": np.sqrt(1 / 500),
                           "He instead of Xavier": np.sqrt(2 / 500),
                           "uniform limit sqrt(6 / (fan_in + fan_out)) used as std": np.sqrt(6 / 700),
                           "unscaled, std 1": 1.0}))
    assert abs(float(W.mean())) < 0.01 and abs(float(V.mean())) < 0.01, "initial weights have mean 0"


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


def test_fit_follows_the_schedule_and_shuffles_with_rng() -> None:
    X, Y = make_spirals(5, 3, noise=0.3, rng=np.random.default_rng(8))

    def schedule(epoch: int) -> float:  # a schedule of this test, not your step_decay
        return 0.8 * 0.5 ** (epoch // 2)

    def run(seed: int, **kwargs: Any) -> tuple[dict[str, Any], SGD]:
        opt = SGD(lr=0.7)
        model = Sequential([Linear(2, 4, rng=np.random.default_rng(1)), Tanh(),
                            Linear(4, 3, rng=np.random.default_rng(2)), Softmax()])
        return fit(model, X, Y, CrossEntropyLoss(), opt, epochs=6, batch_size=4,
                   rng=np.random.default_rng(seed), **kwargs), opt

    history, opt = run(0, schedule=schedule)
    want = np.array([schedule(e) for e in range(6)])
    check_array(np.asarray(history["lr"], dtype=float), want, name="history['lr'] with a schedule", mistakes=[
        Mistake("schedule not applied", np.full(6, 0.7),
                "The learning rate never changed: at the start of every epoch set optimizer.lr = schedule(epoch)."),
        Mistake("schedule applied one epoch late", np.concatenate([[0.7], want[:-1]]),
                "You set the new rate at the END of each epoch: set optimizer.lr = schedule(epoch) BEFORE the "
                "epoch's batches, and record it."),
    ])
    check_scalar(opt.lr, float(want[-1]), name="optimizer.lr after fit with a schedule")
    first = [float(v) for v in run(0)[0]["loss"]]
    other = [float(v) for v in run(1)[0]["loss"]]
    assert not np.allclose(first, other, rtol=1e-12, atol=1e-14), (
        f"fit runs with rng seeds 0 and 1 gave exactly the same losses {np.round(first, 6)}.\nLikely mistake "
        "(no shuffling) every epoch draws a new permutation of the samples: "
        "create_batches(X, y, batch_size, shuffle=True, rng=rng).")


def test_fit_history_describes_the_returned_model() -> None:
    rng = np.random.default_rng(9)
    X, Y = make_spirals(6, 3, noise=0.4, rng=rng)
    Xv, Yv = make_spirals(6, 3, noise=0.4, rng=rng)
    model = Sequential([Linear(2, 6, rng=rng), ReLU(), Linear(6, 3, rng=rng), Softmax()])
    history = fit(model, X, Y, CrossEntropyLoss(), SGD(lr=0.3), epochs=4, batch_size=6, X_val=Xv, y_val=Yv, rng=rng)
    for key in ("loss", "train_acc", "val_loss", "val_acc", "lr", "time"):
        assert len(history[key]) == 4, f"history[{key!r}] should hold one value per epoch (4), got {history[key]!r}"
    assert history["best_epoch"] is None, "history['best_epoch'] is None when early stopping is off (patience=None)"
    check_array(np.asarray(history["lr"], dtype=float), np.full(4, 0.3), name="history['lr'] (no schedule)")
    check_scalar(float(history["train_acc"][-1]), float(np.mean(model.predict(X) == Y.argmax(axis=1))),
                 name="history['train_acc'][-1]", hint="the accuracy of model.predict(X) after the last epoch")
    check_scalar(float(history["val_acc"][-1]), float(np.mean(model.predict(Xv) == Yv.argmax(axis=1))),
                 name="history['val_acc'][-1]", hint="the accuracy of model.predict(X_val) after the last epoch")
    check_scalar(float(history["val_loss"][-1]), float(CrossEntropyLoss().forward(model.forward(Xv), Yv)),
                 name="history['val_loss'][-1]", hint="loss.forward(model.forward(X_val), y_val) after the last epoch")


def _relative_error_by_hand(model: Sequential, X: Array, y: Array, loss: Any, h: float = 1e-5) -> float:
    """The relative error a correct gradient_check reports for ``model``: computed on NEW arrays assigned to
    the layers (your model's parameters are never written into), with your own forward and backward."""
    layers = [model.layers[0], model.layers[2]]
    scores = model.forward(X)
    loss.forward(scores, y)
    upstream = loss.backward()
    model.backward(upstream)
    analytic = np.concatenate([np.ravel(getattr(layer, g)) for layer in layers for g in ("dW", "db")])
    numeric: list[Array] = []
    for layer in layers:
        for name in ("W", "b"):
            P = np.array(getattr(layer, name), dtype=np.float64, copy=True)
            grad = np.zeros(P.shape)
            for idx in np.ndindex(P.shape):
                values = []
                for delta in (h, -h):
                    Q = P.copy()
                    Q[idx] = P[idx] + delta
                    setattr(layer, name, Q)
                    values.append(float(loss.forward(model.forward(X), y)))
                grad[idx] = (values[0] - values[1]) / (2 * h)
            setattr(layer, name, P)
            numeric.append(np.ravel(grad))
    g = np.concatenate(numeric)
    denom = float(np.linalg.norm(analytic) + np.linalg.norm(g))
    return 0.0 if denom == 0 else float(np.linalg.norm(analytic - g) / denom)


def test_gradient_check_flags_a_wrong_backward_and_restores_exactly() -> None:
    """Softmax output trained with MSELoss: Sequential.backward skips the Softmax, but MSELoss.backward is not a
    logit gradient, so backprop is WRONG here and the relative error is large."""
    Y = np.eye(3)[[0, 2, 1, 1]]
    read_only(Y)
    model = Sequential(_layers("Softmax", 3))
    before = [np.array(getattr(model.layers[i], n), copy=True) for i in (0, 2) for n in ("W", "b")]
    got = gradient_check(model, XS, Y, loss=MSELoss())
    after = [getattr(model.layers[i], n) for i in (0, 2) for n in ("W", "b")]
    for b, a in zip(before, after, strict=True):
        assert np.array_equal(np.asarray(a), b), (
            "After gradient_check a parameter differs from its value before the call (largest change "
            f"{float(np.max(np.abs(np.asarray(a) - b))):.3g}).\nLikely mistake (parameters not restored) save each "
            "entry before perturbing it and assign the saved value back; p += h; p -= 2h; p += h leaves rounding "
            "errors.")
    want = _relative_error_by_hand(Sequential(_layers("Softmax", 3)), XS, Y, MSELoss())
    assert np.ndim(got) == 0, f"gradient_check returns one number, got {got!r}"
    assert np.isclose(float(got), want, rtol=0.02), (
        f"gradient_check returned {float(got):.6g}; the relative error between this model's backprop gradients and "
        f"central differences is {want:.6g}.\nLikely mistake (not the relative error of every gradient) concatenate "
        "dW and db of every layer (flattened) and return norm(a - g) / (norm(a) + norm(g)).")


def test_make_spirals_exact_points_without_noise() -> None:
    X, _ = make_spirals(4, 2, noise=0.0, rng=np.random.default_rng(0))
    r = np.tile(np.linspace(0.0, 1.0, 4), 2)
    t = np.concatenate([np.linspace(4.0 * j, 4.0 * (j + 1), 4) for j in range(2)])
    want = np.column_stack([r * np.sin(t), r * np.cos(t)])
    check_array(X, want, name="X of make_spirals(4, 2, noise=0.0)", mistakes=[
        Mistake("sin and cos swapped", want[:, ::-1], "The point is (r sin t, r cos t): sin first."),
    ])


def test_create_batches_follow_one_permutation() -> None:
    X = np.column_stack([np.arange(11.0), np.ones(11)])
    y = np.arange(11)
    read_only(X, y)
    batches = create_batches(X, y, 4, rng=np.random.default_rng(5))
    order = np.concatenate([np.asarray(xb)[:, 0] for xb, _ in batches]).astype(int)
    check_array(order, np.random.default_rng(5).permutation(11), name="sample order of create_batches(X, y, 4, rng)",
                hint="draw ONE perm = rng.permutation(n) from the given rng and slice it into batches")
    ordered = create_batches(X, y, 4, shuffle=False)
    check_array(np.concatenate([np.asarray(yb) for _, yb in ordered]), y,
                name="targets of create_batches(shuffle=False)",
                hint="without shuffling the batches are consecutive slices of the original order")


def test_datasets() -> None:
    X, y = make_xor(4, noise=0.0)
    check_array(X, [[0, 0], [0, 1], [1, 0], [1, 1]], name="X of make_xor(4, noise=0.0)")
    check_array(y, [[0], [1], [1], [0]], name="y of make_xor(4, noise=0.0)")
    X, y = make_xor(400, noise=0.05, rng=np.random.default_rng(3))
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])[np.arange(400) % 4]
    check_array(y, np.array([0.0, 1.0, 1.0, 0.0])[np.arange(400) % 4].reshape(-1, 1), name="y of make_xor(400, 0.05)",
                hint="sample i sits at corner i % 4 and has the label of that corner")
    spread = float(np.std(np.asarray(X) - corners))
    assert abs(spread / 0.05 - 1) < 0.3, (
        f"make_xor(400, noise=0.05): the points deviate from their corners with standard deviation {spread:.3g}; "
        "expected about noise = 0.05 (corner + noise * rng.standard_normal((n, 2)))")
    X, Y = make_spirals(10, 3, noise=0.2, rng=np.random.default_rng(0))
    assert X.shape == (30, 2) and Y.shape == (30, 3)
    check_array(Y, np.eye(3)[np.repeat(np.arange(3), 10)], name="Y of make_spirals(10, 3)",
                hint="one-hot rows; class j occupies rows j * n_per_class ... (j + 1) * n_per_class - 1")
    check_array(np.linalg.norm(X, axis=1), np.tile(np.linspace(0, 1, 10), 3), name="radii of make_spirals",
                hint="the noise only changes the angle")


def test_decision_grid() -> None:
    model = small_classifier()
    X = np.random.default_rng(4).normal(size=(20, 2))
    read_only(X)
    xx, yy, labels = decision_grid(model, X, resolution=30, margin=0.2)
    assert np.shape(xx) == np.shape(yy) == np.shape(labels) == (30, 30)
    lo, hi = X.min(axis=0) - 0.2, X.max(axis=0) + 0.2
    want_xx, want_yy = np.meshgrid(np.linspace(lo[0], hi[0], 30), np.linspace(lo[1], hi[1], 30))
    check_all(
        lambda: check_array(xx, want_xx, name="xx of decision_grid(model, X, 30, margin=0.2)", mistakes=[
            Mistake("xx and yy swapped", want_yy, "xx holds the FIRST feature (varying along axis 1): "
                    "np.meshgrid(x, y)."),
            Mistake("margin ignored", np.meshgrid(np.linspace(lo[0] + 0.2, hi[0] - 0.2, 30),
                                                  np.linspace(lo[1] + 0.2, hi[1] - 0.2, 30))[0],
                    "The grid spans [min - margin, max + margin] of each feature."),
        ]),
        lambda: check_array(yy, want_yy, name="yy of decision_grid(model, X, 30, margin=0.2)"),
    )
    check_array(labels.ravel(), model.predict(np.column_stack([want_xx.ravel(), want_yy.ravel()])),
                name="labels of the grid", hint="labels[i, j] = model.predict of the point (xx[i, j], yy[i, j])")


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
