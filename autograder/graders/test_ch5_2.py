"""Hidden graders, chapter 5.2: a framework of your own.

The framework is built from the student's own chapter 5.1 layers. So that a mistake in
a layer is not charged again here, most checks are relative to the student's own
objects: ``Sequential.forward`` must equal the student's layers chained by hand (on
twin layers with the same weights), ``fit``'s early stopping must restore the weights
whose validation loss it recorded, ``gradient_check`` must return the relative error
that the student's own model really has (computed here by central differences through
the student's forward pass). Optimizers, initializers, batches and data sets are
compared with values worked out on this side.
"""

import itertools
import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from autograder.harness import (
    FreshWorker,
    InputMutated,
    Remote,
    Seed,
    Student,
    StudentError,
    StudentFunction,
    StudentRaised,
    fresh_worker,
    grade,
    seed_from,
)
from autograder.toolbox import Array, check_init_statistics
from dlnp.testing import Feedback, Mistake, check_all, check_array, check_scalar, describe
from solutions import framework as ref
from solutions import layers as ref_layers

CHAPTER = "5.2"

Spec = list[tuple[str, Array, Array] | tuple[str]]


# ------------------------------------------------------------------ model helpers


def _spec(rng: np.random.Generator, sizes: Sequence[int], hidden: str = "ReLU", out: str | None = "Softmax") -> Spec:
    """Layer recipe: Linear layers with weights drawn here, activations in between."""
    spec: Spec = []
    for i, (d, m) in enumerate(itertools.pairwise(sizes)):
        spec.append(("Linear", rng.normal(scale=1.0 / np.sqrt(d), size=(d, m)), rng.normal(scale=0.3, size=(1, m))))
        if i < len(sizes) - 2:
            spec.append((hidden,))
    if out is not None:
        spec.append((out,))
    return spec


def _build(student: Student | FreshWorker, spec: Spec, rng: np.random.Generator) -> list[Remote]:
    layers: list[Remote] = []
    for entry in spec:
        if entry[0] == "Linear":
            _, W, b = entry  # type: ignore[misc]
            layer = student.new("Linear", W.shape[0], W.shape[1], rng=seed_from(rng))
            layer.set("W", W.copy())
            layer.set("b", b.copy())
        else:
            layer = student.new(entry[0])
        layers.append(layer)
    return layers


def _linears(layers: list[Remote]) -> list[Remote]:
    return [layer for layer in layers if layer.type_name == "Linear"]


def _chain_forward(fresh: FreshWorker, layers: list[Remote], X: Array) -> Any:
    """The student's own layers (in the fresh worker) chained by hand: the oracle of Sequential."""
    A = X
    for layer in layers:
        A = fresh.unguarded(layer, "forward", A)
    return A


def _chain_backward(fresh: FreshWorker, layers: list[Remote], G: Array) -> Any:
    for layer in reversed(layers):
        G = fresh.unguarded(layer, "backward", G)
    return G


def _matches(got: Any, want: Any, check: Callable[..., None] = check_array) -> bool:
    try:
        check(got, want, name="")
    except Feedback:
        return False
    return True


def _model(student: Student, spec: Spec, rng: np.random.Generator) -> tuple[Remote, list[Remote]]:
    layers = _build(student, spec, rng)
    return student.new("Sequential", layers), layers


def _ref_model(spec: Spec) -> ref.Sequential:
    layers: list[Any] = []
    for entry in spec:
        if entry[0] == "Linear":
            _, W, b = entry  # type: ignore[misc]
            layer = ref_layers.Linear(W.shape[0], W.shape[1], rng=np.random.default_rng(0))
            layer.W, layer.b = W.copy(), b.copy()
        else:
            layer = getattr(ref_layers, entry[0])()
        layers.append(layer)
    return ref.Sequential(layers)


# ------------------------------------------------------------------ score once for crashes


class _ChargedEarlier(Exception):
    """The graded call fails only because the student's own 5.1 layers (or the functions they are
    built on) fail the same way: charged in the chapter that grades them."""


def _kind(error: StudentError) -> str:
    if isinstance(error, InputMutated):
        return "InputMutated"
    found = re.search(r" raised (\w+): ", error.message)
    return found.group(1) if found else ""


def _own_step_fails_alike(student: Student, error: StudentError, spec: Spec, X: Array, y: Any = None,
                          loss: str | None = None) -> bool:
    """Does one training step with the student's OWN layers (and loss), chained by hand in a fresh worker,
    fail like the graded call: forward, then loss.forward / loss.backward and backward (skipping a final
    Softmax or Sigmoid, fused with the loss)? The verdict then does not depend on the batch shapes drawn
    (a softmax without keepdims fails for some shapes only; here it fails on X, the whole data set)."""
    want = _kind(error)
    if not want:
        return False
    with fresh_worker(student) as fresh:
        try:
            layers = _build(fresh, spec, np.random.default_rng(0))
            out = _chain_forward(fresh, layers, X)
            if loss is not None:
                criterion = fresh.new(loss)
                fresh.unguarded(criterion, "forward", out, y)
                grad = fresh.unguarded(criterion, "backward")
                _chain_backward(fresh, layers[:-1] if spec[-1][0] in ("Softmax", "Sigmoid") else layers, grad)
        except StudentError as exc:
            return _kind(exc) == want
    return False


def _guarded(student: Student, spec: Spec, X: Array, y: Any, loss: str | None, call: Callable[[], Any]) -> Any:
    """``call()``; a failure that the student's own layers reproduce raises :class:`_ChargedEarlier`."""
    try:
        return call()
    except (StudentRaised, InputMutated) as exc:
        if _own_step_fails_alike(student, exc, spec, X, y, loss):
            raise _ChargedEarlier from None
        raise


# ------------------------------------------------------------------ Sequential


@grade("Sequential", points=1)
def test_sequential_forward(student: Student, rng: np.random.Generator) -> None:
    """Sequential.forward feeds each layer's output to the next"""
    n = int(rng.integers(3, 8))
    spec = _spec(rng, [3, 5, 4, 3], hidden="Tanh")
    model, _ = _model(student, spec, rng)
    X = rng.normal(size=(n, 3))
    try:
        got = _guarded(student, spec, X, None, None, lambda: model.call("forward", X))
    except _ChargedEarlier:
        return
    if _matches(got, _ref_model(spec).forward(X)):
        return
    with fresh_worker(student) as fresh:  # the student's own layers, in a worker that never saw the graded call
        twin = _build(fresh, spec, rng)
        want = _chain_forward(fresh, twin, X)
        short = _chain_forward(fresh, _build(fresh, spec, rng)[:-1], X)
    check_array(got, want, name="Sequential.forward(X)", mistakes=[
        Mistake("last layer skipped", short,
                "Your forward stops before the last layer (the Softmax): run EVERY layer in order."),
    ], hint="expected = your own layers' forward, chained by hand")


def _check_backward(student: Student, rng: np.random.Generator, out: str, k: int, skipped: bool) -> None:
    n = int(rng.integers(3, 8))
    spec = _spec(rng, [3, 4, k], hidden="ReLU", out=out)
    model, layers = _model(student, spec, rng)
    X, G = rng.normal(size=(n, 3)), rng.normal(size=(n, k))
    try:
        dX = _guarded(student, spec, X, None, None, lambda: (model.call("forward", X), model.call("backward", G))[1])
    except _ChargedEarlier:
        return
    dWs = [lin.get("dW") for lin in _linears(layers)]
    reference_model = _ref_model(spec)
    reference_model.forward(X)
    ref_dX = reference_model.backward(G)
    ref_dWs = [layer.dW for layer in reference_model.layers if isinstance(layer, ref_layers.Linear)]
    if _matches(dX, ref_dX) and all(_matches(g, w) for g, w in zip(dWs, ref_dWs, strict=True)):
        return
    with fresh_worker(student) as fresh:  # the student's own layers, in a worker that never saw the graded call
        twin = _build(fresh, spec, rng)
        _chain_forward(fresh, twin, X)
        want = _chain_backward(fresh, twin[:-1] if skipped else twin, G)
        want_dWs = [lin.get("dW") for lin in _linears(twin)]
        other = _build(fresh, spec, rng)
        _chain_forward(fresh, other, X)
        wrong = _chain_backward(fresh, other if skipped else other[:-1], G)
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
    check_array(dX, want, name=name, mistakes=[mistake], hint="expected = your own layers' backward, chained by hand")
    for i, (got_dW, want_dW) in enumerate(zip(dWs, want_dWs, strict=True)):
        check_array(got_dW, want_dW, name=f"dW of Linear layer {i} after {name}")


@grade("Sequential", points=1)
def test_sequential_backward_softmax(student: Student, rng: np.random.Generator) -> None:
    """Sequential.backward skips a final Softmax (fused with CrossEntropyLoss)"""
    _check_backward(student, rng, "Softmax", 3, skipped=True)


@grade("Sequential", points=1)
def test_sequential_backward_sigmoid(student: Student, rng: np.random.Generator) -> None:
    """Sequential.backward skips a final Sigmoid (fused with BCELoss)"""
    _check_backward(student, rng, "Sigmoid", 1, skipped=True)


@grade("Sequential", points=1)
def test_sequential_backward_tanh(student: Student, rng: np.random.Generator) -> None:
    """Sequential.backward goes through every layer when the last one is not an output activation"""
    _check_backward(student, rng, "Tanh", 2, skipped=False)


@grade("Sequential", points=1)
def test_sequential_predict(student: Student, rng: np.random.Generator) -> None:
    """Sequential.predict: argmax of each row; for one output column, output >= 0.5"""
    n = int(rng.integers(5, 12))
    X = rng.normal(size=(n, 3))
    spec = _spec(rng, [3, 4, 4])
    model, _ = _model(student, spec, rng)
    try:
        out = _guarded(student, spec, X, None, None, lambda: model.call("forward", X))
    except _ChargedEarlier:
        return
    check_array(model.call("predict", X), np.argmax(out, axis=1), name="Sequential.predict(X) (4 classes)",
                mistakes=[Mistake("argmax over axis 0", np.argmax(out, axis=0),
                                  "Take the argmax of each ROW (axis=1): one label per sample.")])
    binary_spec = _spec(rng, [3, 4, 1], out="Sigmoid")
    binary, layers = _model(student, binary_spec, rng)
    try:
        out = _guarded(student, binary_spec, X, None, None, lambda: binary.call("forward", X))
    except _ChargedEarlier:
        return
    check_array(binary.call("predict", X), (out[:, 0] >= 0.5).astype(int), name="Sequential.predict(X) (one output)",
                mistakes=[Mistake("argmax of one column", np.zeros(n, dtype=int),
                                  "With a single output column the argmax is always 0: threshold the "
                                  "probability at 0.5 instead.")])
    last = _linears(layers)[-1]
    last.set("W", np.zeros((4, 1)))
    last.set("b", np.zeros((1, 1)))  # every output is sigmoid(0): exactly 0.5 (if your own sigmoid gives 0.5)
    half = np.asarray(binary.call("forward", X), dtype=np.float64)
    want = (half[:, 0] >= 0.5).astype(int) if half.ndim == 2 and half.shape[0] == n else np.ones(n, dtype=int)
    check_array(binary.call("predict", X), want, name="Sequential.predict(X) with outputs of 0.5",
                mistakes=[Mistake("threshold > 0.5", np.zeros(n, dtype=int),
                                  "A probability of exactly 0.5 counts as class 1 (>= 0.5).")])


@grade("Sequential", points=1)
def test_sequential_parameters(student: Student, rng: np.random.Generator) -> None:
    """Sequential.parameters() returns the model's own Linear layers, in order"""
    model, layers = _model(student, _spec(rng, [3, 4, 5, 2]), rng)
    got = model.call("parameters")
    want = _linears(layers)
    if not isinstance(got, (list, tuple)) or len(got) != len(want) or not all(isinstance(p, Remote) for p in got):
        raise Feedback(
            f"Sequential.parameters() for a model with {len(want)} Linear layers should return a list of those "
            f"{len(want)} layer objects; got {describe(got)}.\nLikely mistake (not the layers) optimizers read "
            "W, b, dW and db from each layer, so parameters() returns the layer objects themselves."
        )
    if [p.handle for p in got] != [p.handle for p in want]:
        raise Feedback(
            "Sequential.parameters() did not return the model's own Linear layers in forward order.\n"
            "Likely mistake (copies) return the same objects as in self.layers (not copies, not new layers), "
            "so that an optimizer updating them updates the model."
        )


# ------------------------------------------------------------------ optimizers


class _Holder:
    """What an optimizer sees of a layer, on the trusted side."""

    def __init__(self, W: Array, b: Array) -> None:
        self.W, self.b = W.copy(), b.copy()
        self.dW, self.db = np.zeros_like(W), np.zeros_like(b)


def _holders(student: Student, rng: np.random.Generator, shapes: Sequence[tuple[int, int]]
             ) -> tuple[list[Remote], list[_Holder]]:
    remote: list[Remote] = []
    local: list[_Holder] = []
    for d, m in shapes:
        W, b = rng.normal(size=(d, m)), rng.normal(size=(1, m))
        layer = student.new("Linear", d, m, rng=seed_from(rng))
        layer.set("W", W.copy())
        layer.set("b", b.copy())
        remote.append(layer)
        local.append(_Holder(W, b))
    return remote, local


def _gradient(rng: np.random.Generator, shape: tuple[int, ...], scale: float, bounded: bool) -> Array:
    """Normal gradients, or (``bounded``) magnitudes uniform in [scale, 3 scale] with random signs."""
    if not bounded:
        return rng.normal(scale=scale, size=shape)
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(scale, 3 * scale, size=shape)


def _set_grads(rng: np.random.Generator, remote: list[Remote], local: list[_Holder], scale: float = 1.0,
               bounded: bool = False) -> None:
    for r, h in zip(remote, local, strict=True):
        h.dW = _gradient(rng, h.W.shape, scale, bounded)
        h.db = _gradient(rng, h.b.shape, scale, bounded)
        r.set("dW", h.dW.copy())
        r.set("db", h.db.copy())


def _snapshot(local: list[_Holder]) -> list[Array]:
    return [a.copy() for h in local for a in (h.W, h.b)]


def _simulate(local: list[_Holder], grads: list[list[tuple[Array, Array]]],
              update: Callable[[dict[Any, Any], Any, Array, Array], Array]) -> list[Array]:
    """Run ``update(state, key, param, grad) -> new param`` over steps on copies; return final W, b."""
    params = [[h.W.copy(), h.b.copy()] for h in local]
    state: dict[Any, Any] = {}
    for step in grads:
        state["t"] = state.get("t", 0) + 1
        for i, (gW, gb) in enumerate(step):
            params[i][0] = update(state, (i, "W"), params[i][0], gW)
            params[i][1] = update(state, (i, "b"), params[i][1], gb)
    return [p for pair in params for p in pair]


def _run(student: Student, rng: np.random.Generator, opt: Remote, shapes: Sequence[tuple[int, int]], steps: int,
         scale: float = 1.0, bounded: bool = False
         ) -> tuple[list[Array], list[_Holder], list[list[tuple[Array, Array]]]]:
    """Take ``steps`` optimizer steps on student Linear holders with fresh gradients each step."""
    remote, local = _holders(student, rng, shapes)
    start = [_Holder(h.W, h.b) for h in local]
    grads: list[list[tuple[Array, Array]]] = []
    for _ in range(steps):
        _set_grads(rng, remote, local, scale, bounded)
        grads.append([(h.dW.copy(), h.db.copy()) for h in local])
        opt.call("step", remote)
    got = [r.get(name) for r in remote for name in ("W", "b")]
    return got, start, grads


def _check_params(got: list[Any], want: list[Array], name: str, mistakes: dict[str, tuple[list[Array], str]],
                  atol: float | None = None) -> None:
    labels = [f"{kind} of layer {i}" for i in range(len(want) // 2) for kind in ("W", "b")]

    def one(j: int) -> Callable[[], None]:
        return lambda: check_array(got[j], want[j], name=f"{labels[j]} after {name}", atol=atol, mistakes=[
            Mistake(key, values[j], message) for key, (values, message) in mistakes.items()])

    check_all(*(one(j) for j in range(len(want))))


def _sgd(lr: float) -> Callable[[dict[Any, Any], Any, Array, Array], Array]:
    return lambda state, key, p, g: p - lr * g


def _momentum(lr: float, beta: float, ema: bool = False, by_name: bool = False
              ) -> Callable[[dict[Any, Any], Any, Array, Array], Array]:
    def update(state: dict[Any, Any], key: Any, p: Array, g: Array) -> Array:
        k = key[1] if by_name else key
        v = state.get(k, np.zeros_like(p))
        if ema:
            v = beta * v + (1 - beta) * g
            state[k] = v
            return p - lr * v
        v = beta * v - lr * g
        state[k] = v
        return p + v
    return update


def _adam(lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, correct: bool = True,
          by_name: bool = False, eps_at: str = "sqrt(v_hat)") -> Callable[[dict[Any, Any], Any, Array, Array], Array]:
    """Adam's update; ``eps_at`` models where eps goes: "sqrt(v_hat)" (pinned), "sqrt(v)" (the
    paper's "efficient" form, eps added before the bias correction), "inside sqrt"."""
    def update(state: dict[Any, Any], key: Any, p: Array, g: Array) -> Array:
        k = key[1] if by_name else key
        m, v = state.get(("m", k), np.zeros_like(p)), state.get(("v", k), np.zeros_like(p))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        state[("m", k)], state[("v", k)] = m, v
        t = state["t"]
        m_hat, v_hat = (m / (1 - b1**t), v / (1 - b2**t)) if correct else (m, v)
        if eps_at == "sqrt(v)":
            return p - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
        if eps_at == "inside sqrt":
            return p - lr * m_hat / np.sqrt(v_hat + eps)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return update


#: Random Adam checks draw gradients of magnitude in [1, 3] and lr <= 0.05: wherever eps goes
#: (even 1e-8 / sqrt(1 - beta2) = 3.2e-7 before the bias correction) it moves a parameter by
#: less than 5e-8, twenty times below this tolerance; real mistakes move it by about lr.
_ADAM_ATOL = 1e-6


@grade("SGD", points=1)
def test_sgd_step(student: Student, rng: np.random.Generator) -> None:
    """SGD.step updates W and b of every layer by -lr * gradient"""
    lr = float(rng.uniform(0.05, 0.5))
    opt = student.new("SGD", lr=lr)
    shapes = [(3, 4), (4, 2)]
    got, start, grads = _run(student, rng, opt, shapes, 1)
    _check_params(got, _simulate(start, grads, _sgd(lr)), "one SGD step", {
        "gradient ascent": (_simulate(start, grads, _sgd(-lr)),
                            "You ADDED lr * gradient: descent moves against the gradient (W - lr * dW)."),
        "default learning rate": (_simulate(start, grads, _sgd(0.01)),
                                  "You used lr = 0.01 instead of the lr given to SGD(lr=...)."),
    })


@grade("SGD", points=1)
def test_sgd_reads_lr_attribute(student: Student, rng: np.random.Generator) -> None:
    """SGD keeps its learning rate in the attribute lr (fit's schedule changes it)"""
    opt = student.new("SGD", lr=0.1)
    try:
        lr = opt.get("lr")
    except StudentError:
        raise Feedback("SGD(lr=0.1) has no attribute `lr`.\nLikely mistake (attribute name) store the learning "
                       "rate as self.lr: fit's learning-rate schedule sets optimizer.lr between epochs.") from None
    check_scalar(lr, 0.1, name="SGD(lr=0.1).lr")
    opt.set("lr", 0.37)
    got, start, grads = _run(student, rng, opt, [(2, 3)], 1)
    _check_params(got, _simulate(start, grads, _sgd(0.37)), "setting opt.lr = 0.37 and one step", {
        "learning rate copied at construction": (_simulate(start, grads, _sgd(0.1)),
                                                 "step used the learning rate given at construction, not the "
                                                 "current value of self.lr: read self.lr in step."),
    })


@grade("Momentum", points=1)
def test_momentum_two_steps(student: Student, rng: np.random.Generator) -> None:
    """Momentum: v = beta v - lr g, W = W + v, over two steps"""
    lr, beta = float(rng.uniform(0.05, 0.3)), float(rng.uniform(0.5, 0.8))  # far from the defaults 0.01, 0.9
    opt = student.new("Momentum", lr=lr, beta=beta)
    got, start, grads = _run(student, rng, opt, [(3, 2)], 2)
    _check_params(got, _simulate(start, grads, _momentum(lr, beta)), "two Momentum steps", {
        "moving-average momentum": (_simulate(start, grads, _momentum(lr, beta, ema=True)),
                                    "You used v = beta v + (1 - beta) g, W -= lr v. This kit's momentum (chapter "
                                    "4.5) is v = beta v - lr g, W = W + v."),
        "velocity not kept": (_simulate(start, grads, _sgd(lr)),
                              "Your updates are plain SGD: the velocity must be stored and reused in the next step."),
        "default beta": (_simulate(start, grads, _momentum(lr, 0.9)),
                         f"You used beta = 0.9 instead of the beta = {beta:.3g} given to Momentum(beta=...): store "
                         "it (self.beta = beta) and use self.beta in step."),
        "default learning rate": (_simulate(start, grads, _momentum(0.01, beta)),
                                  f"You used lr = 0.01 instead of the lr = {lr:.3g} given to Momentum(lr=...)."),
    })


@grade("Momentum", points=1)
def test_momentum_one_velocity_per_parameter(student: Student, rng: np.random.Generator) -> None:
    """Momentum keeps one velocity per parameter array (per layer, W and b separately)"""
    lr, beta = 0.1, 0.9
    opt = student.new("Momentum", lr=lr, beta=beta)
    got, start, grads = _run(student, rng, opt, [(2, 3), (2, 3)], 2)
    _check_params(got, _simulate(start, grads, _momentum(lr, beta)), "two Momentum steps on two layers", {
        "momentum state shared across parameters": (
            _simulate(start, grads, _momentum(lr, beta, by_name=True)),
            "The layers share one velocity per parameter NAME, so layer 1 inherits layer 0's velocity. Keep "
            "one velocity per (layer position, parameter name)."),
    })


@grade("Momentum", points=1)
def test_momentum_many_steps(student: Student, rng: np.random.Generator) -> None:
    """Momentum over four steps on three layers of different shapes"""
    lr, beta = float(rng.uniform(0.01, 0.2)), float(rng.uniform(0.6, 0.95))
    opt = student.new("Momentum", lr=lr, beta=beta)
    got, start, grads = _run(student, rng, opt, [(3, 4), (4, 4), (4, 2)], 4)
    _check_params(got, _simulate(start, grads, _momentum(lr, beta)), "four Momentum steps", {
        "velocity not kept": (_simulate(start, grads, _sgd(lr)), "Store the velocity and reuse it in the next step."),
    })


@grade("Adam", points=1)
def test_adam_first_step(student: Student, rng: np.random.Generator) -> None:
    """Adam's first step (t = 1) with bias correction moves each entry by about lr"""
    lr = float(rng.uniform(0.005, 0.05))  # far from the default 0.001
    opt = student.new("Adam", lr=lr)
    got, start, grads = _run(student, rng, opt, [(3, 2)], 1, bounded=True)
    for j, g in enumerate(got):
        if isinstance(g, np.ndarray) and not np.all(np.isfinite(g)):
            raise Feedback(
                f"After one Adam step the {'W' if j % 2 == 0 else 'b'} of the layer contains NaN or inf.\n"
                "Likely mistake (t incremented late) the bias correction divides by 1 - beta**t, which is 0 for "
                "t = 0: increment t at the START of step, so the first step uses t = 1."
            )
    _check_params(got, _simulate(start, grads, _adam(lr)), "one Adam step", {
        "no bias correction": (_simulate(start, grads, _adam(lr, correct=False)),
                               "You used m and v without bias correction: at t = 1 they are 0.1 g and 0.001 g**2, "
                               "about 3.16 times too big a step. Divide by 1 - beta1**t and 1 - beta2**t."),
        "default learning rate": (_simulate(start, grads, _adam(0.001)),
                                  f"You used lr = 0.001 instead of the lr = {lr:.3g} given to Adam(lr=...): store "
                                  "it (self.lr = lr) and use self.lr in step."),
    }, atol=_ADAM_ATOL)


@grade("Adam", points=1)
def test_adam_three_steps(student: Student, rng: np.random.Generator) -> None:
    """Adam over three steps with given betas; Adam(eps=...) adds its eps to sqrt(v_hat)"""
    check_all(lambda: _adam_three_steps(student, rng), lambda: _adam_eps(student, rng))


def _adam_three_steps(student: Student, rng: np.random.Generator) -> None:
    lr = float(rng.uniform(0.001, 0.05))
    b1, b2 = float(rng.uniform(0.7, 0.85)), float(rng.uniform(0.95, 0.99))  # far from the defaults 0.9, 0.999
    opt = student.new("Adam", lr=lr, beta1=b1, beta2=b2)
    got, start, grads = _run(student, rng, opt, [(2, 3), (3, 1)], 3, bounded=True)
    _check_params(got, _simulate(start, grads, _adam(lr, b1, b2)), "three Adam steps", {
        "no bias correction": (_simulate(start, grads, _adam(lr, b1, b2, correct=False)),
                               "Divide m by 1 - beta1**t and v by 1 - beta2**t."),
        "default betas": (_simulate(start, grads, _adam(lr)),
                          "You used beta1 = 0.9 and beta2 = 0.999 instead of the values given to "
                          "Adam(beta1=..., beta2=...): store them and use self.beta1, self.beta2."),
    }, atol=_ADAM_ATOL)


def _adam_eps(student: Student, rng: np.random.Generator) -> None:
    """The deterministic near-miss: |g| in [1e-3, 3e-3] and eps = 1e-4, where the first step moves an
    entry by about 0.9 lr (pinned), 0.25 lr (eps added to sqrt(v)), 0.1 lr (eps inside the square
    root) or lr (eps ignored): every placement is told apart, whatever the seed."""
    lr, eps = float(rng.uniform(0.01, 0.05)), 1e-4
    opt = student.new("Adam", lr=lr, eps=eps)
    got, start, grads = _run(student, rng, opt, [(3, 2)], 2, scale=1e-3, bounded=True)
    _check_params(got, _simulate(start, grads, _adam(lr, eps=eps)), f"two Adam(lr, eps={eps:g}) steps", {
        "eps ignored": (_simulate(start, grads, _adam(lr)),
                        f"Your Adam used eps = 1e-8, not the eps = {eps:g} given to Adam(eps=...): store it "
                        "(self.eps = eps) and use self.eps in the update."),
        "eps added to sqrt(v)": (_simulate(start, grads, _adam(lr, eps=eps, eps_at="sqrt(v)")),
                                 "You added eps to sqrt(v) before the bias correction (the 'efficient' form "
                                 "lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)); the docstring adds it to "
                                 "sqrt(v_hat): W -= lr * m_hat / (np.sqrt(v_hat) + eps)."),
        "eps inside the square root": (_simulate(start, grads, _adam(lr, eps=eps, eps_at="inside sqrt")),
                                       "You took np.sqrt(v_hat + eps); eps is added OUTSIDE the square root: "
                                       "np.sqrt(v_hat) + eps."),
    })


@grade("Adam", points=1)
def test_adam_step_count(student: Student, rng: np.random.Generator) -> None:
    """Adam.t starts at 0 and grows by one per step call (not per parameter)"""
    opt = student.new("Adam", lr=0.01)
    try:
        t0 = opt.get("t")
    except StudentError:
        raise Feedback("Adam has no attribute `t`.\nLikely mistake (attribute name) keep the step count as self.t "
                       "(the docstring's attribute).") from None
    check_scalar(t0, 0, name="Adam().t before any step")
    _run(student, rng, opt, [(2, 2), (2, 3)], 3)
    t = opt.get("t")
    check_scalar(t, 3, name="Adam.t after 3 steps on 2 layers", mistakes=[
        Mistake("t incremented per parameter", 12,
                "t grew once per parameter array (4 arrays x 3 steps): increment it ONCE per call of step."),
        Mistake("t incremented per layer", 6, "t grew once per layer: increment it once per call of step."),
    ])


@grade("Adam", points=1)
def test_adam_moments_per_parameter(student: Student, rng: np.random.Generator) -> None:
    """Adam keeps separate moments for every parameter array"""
    opt = student.new("Adam", lr=0.02)
    got, start, grads = _run(student, rng, opt, [(3, 2), (3, 2)], 2, bounded=True)
    _check_params(got, _simulate(start, grads, _adam(0.02)), "two Adam steps on two layers", {
        "moments shared across parameters": (
            _simulate(start, grads, _adam(0.02, by_name=True)),
            "The layers share m and v per parameter NAME; keep them per (layer position, parameter name)."),
    }, atol=_ADAM_ATOL)


# ------------------------------------------------------------------ initializers

_CANDIDATES: dict[str, Callable[[int, int], list[tuple[str, float, str]]]] = {
    "he_init": lambda d, m: [
        ("fan_out instead of fan_in", np.sqrt(2 / m), "He divides by the number of INPUTS: sqrt(2 / fan_in)."),
        ("variance used as std", 2 / d, "2 / fan_in is the VARIANCE; the standard deviation is its square root."),
        ("1/fan_in instead of 2/fan_in", np.sqrt(1 / d), "He has a factor 2 for ReLU: sqrt(2 / fan_in)."),
        ("Xavier instead of He", np.sqrt(2 / (d + m)), "That is Xavier's scale; He is sqrt(2 / fan_in)."),
        ("unscaled", 1.0, "Multiply the standard normal draws by sqrt(2 / fan_in)."),
    ],
    "xavier_init": lambda d, m: [
        ("1/fan_in Xavier", np.sqrt(1 / d), "In this kit Xavier is sqrt(2 / (fan_in + fan_out))."),
        ("He instead of Xavier", np.sqrt(2 / d), "That is He's scale; Xavier is sqrt(2 / (fan_in + fan_out))."),
        ("uniform limit used as std", np.sqrt(6 / (d + m)),
         "sqrt(6 / (fan_in + fan_out)) is the LIMIT of the uniform variant; the normal one has std "
         "sqrt(2 / (in + out))."),
        ("variance used as std", 2 / (d + m), "2 / (fan_in + fan_out) is the variance: take its square root."),
        ("unscaled", 1.0, "Multiply the standard normal draws by sqrt(2 / (fan_in + fan_out))."),
    ],
}


def _check_initializer(student: Student, rng: np.random.Generator, name: str, want_std: Callable[[int, int], float]
                       ) -> None:
    d, m = 300, 100
    seed = seed_from(rng)
    W = student.call(name, d, m, rng=seed)
    call = f"{name}({d}, {m}, rng=...)"
    if not isinstance(W, np.ndarray) or W.shape != (d, m):
        raise Feedback(f"{call} should return an array of shape {(d, m)}; got {describe(W)}.")
    check_init_statistics(W, want_std(d, m), call=call, candidates=_CANDIDATES[name](d, m))
    if not np.array_equal(W, student.call(name, d, m, rng=seed)):
        raise Feedback(f"Two calls of {call} with generators of the same seed returned different weights.\n"
                       "Likely mistake (rng ignored) draw from the `rng` argument, not from np.random.")


@grade("he_init", points=1)
def test_he_init(student: Student, rng: np.random.Generator) -> None:
    """he_init: N(0, 2/fan_in), shape (fan_in, fan_out), reproducible"""
    _check_initializer(student, rng, "he_init", lambda d, m: float(np.sqrt(2 / d)))


@grade("xavier_init", points=1)
def test_xavier_init(student: Student, rng: np.random.Generator) -> None:
    """xavier_init: N(0, 2/(fan_in + fan_out)), reproducible"""
    _check_initializer(student, rng, "xavier_init", lambda d, m: float(np.sqrt(2 / (d + m))))


# ------------------------------------------------------------------ batches, schedule


def _batch_data(rng: np.random.Generator) -> tuple[Array, Array, int, int]:
    n, size = int(rng.integers(17, 30)), int(rng.integers(3, 7))
    if n % size == 0:
        n += 1
    X = np.column_stack([np.arange(n, dtype=float), rng.normal(size=(n, 2))])
    return X, 10 * np.arange(n), n, size


@grade("create_batches", points=1)
def test_create_batches_cover_every_sample_once(student: Student, rng: np.random.Generator) -> None:
    """create_batches: every sample exactly once, targets aligned, last batch smaller"""
    X, y, n, size = _batch_data(rng)
    batches = student.call("create_batches", X, y, size, rng=seed_from(rng))
    call = f"create_batches(X with {n} rows, y, batch_size={size})"
    count = -(-n // size)
    if not isinstance(batches, (list, tuple)) or not all(isinstance(b, (list, tuple)) and len(b) == 2
                                                         for b in batches):
        raise Feedback(f"{call} should return a list of (X_batch, y_batch) pairs; got {describe(batches)}.")
    sizes = [len(b[1]) for b in batches]
    want_sizes = [size] * (n // size) + [n % size]
    if sizes != want_sizes:
        hint = ""
        if sizes == [size] * (n // size):
            hint = ("\nLikely mistake (last batch dropped) the last n % batch_size samples form a smaller "
                    "final batch; range(0, n, batch_size) includes it.")
        raise Feedback(f"{call} returned batches of sizes {sizes}; expected {count} batches of sizes {want_sizes}."
                       + hint)
    ids = np.concatenate([np.asarray(b[0])[:, 0] for b in batches])
    if sorted(ids.tolist()) != list(range(n)):
        raise Feedback(f"{call}: the batches do not hold every sample exactly once (ids seen: {ids.astype(int)}).")
    for Xb, yb in batches:
        if not np.array_equal(np.asarray(yb), 10 * np.asarray(Xb)[:, 0].astype(int)):
            raise Feedback(f"{call}: a batch pairs samples with the targets of OTHER samples.\nLikely mistake "
                           "(targets not aligned) shuffle X and y with the SAME permutation: X[idx], y[idx].")
    ordered = student.call("create_batches", X, y, size, shuffle=False)
    got = np.concatenate([np.asarray(b[1]) for b in ordered])
    check_array(got, y, name=f"{call.replace(')', ', shuffle=False)')}: targets in batch order")


@grade("create_batches", points=1)
def test_create_batches_use_one_permutation(student: Student, rng: np.random.Generator) -> None:
    """create_batches(shuffle=True) follows rng.permutation(n)"""
    X, y, n, size = _batch_data(rng)
    seed = seed_from(rng)
    batches = student.call("create_batches", X, y, size, rng=seed)
    got = np.concatenate([np.asarray(b[0])[:, 0] for b in batches]).astype(int)
    check_array(got, np.random.default_rng(seed.value).permutation(n), name="sample order of create_batches",
                hint="draw ONE perm = rng.permutation(n) from the given rng and slice it into batches")


@grade("step_decay", points=1)
def test_step_decay(student: Student, rng: np.random.Generator) -> None:
    """step_decay(epoch, initial_lr, drop, epochs_per_drop) = initial_lr * drop ** (epoch // epochs_per_drop)"""
    lr0, drop, every = float(rng.uniform(0.05, 1.0)), float(rng.uniform(0.1, 0.9)), int(rng.integers(2, 6))
    epochs = [0, every - 1, every, 2 * every + 1, 3 * every]
    got = np.array([student.call("step_decay", e, lr0, drop, every) for e in epochs], dtype=float)
    want = np.array([lr0 * drop ** (e // every) for e in epochs])
    check_array(got, want, name=f"step_decay(epoch, {lr0:.3g}, {drop:.3g}, {every}) for epochs {epochs}", mistakes=[
        Mistake("drops one epoch early", np.array([lr0 * drop ** ((e + 1) // every) for e in epochs]),
                "Epochs count from 0: the first drop happens at epoch epochs_per_drop, so use "
                "epoch // epochs_per_drop."),
        Mistake("smooth decay", np.array([lr0 * drop ** (e / every) for e in epochs]),
                "You used a fractional exponent epoch / epochs_per_drop: step decay uses the integer division //."),
    ])
    check_scalar(student.call("step_decay", 12), 0.05, name="step_decay(12) with the default arguments")


# ------------------------------------------------------------------ fit


def _fit_data(rng: np.random.Generator, n_per: int = 20, noise: float = 0.6) -> tuple[Array, Array, Array, Array]:
    X, Y = ref.make_spirals(n_per, 3, noise=noise, rng=rng)
    Xv, Yv = ref.make_spirals(n_per, 3, noise=noise, rng=rng)
    return X, Y, Xv, Yv


@grade("fit", points=1)
def test_fit_history(student: Student, rng: np.random.Generator) -> None:
    """fit returns the per-epoch history (loss, accuracies, validation, lr, time)"""
    X, Y, Xv, Yv = _fit_data(rng, 8)
    spec = _spec(rng, [2, 8, 3])
    model, _ = _model(student, spec, rng)
    loss, opt = student.new("CrossEntropyLoss"), student.new("SGD", lr=0.3)
    epochs = 4
    seed = seed_from(rng)
    try:
        hist = _guarded(student, spec, X, Y, "CrossEntropyLoss", lambda: student.call(
            "fit", model, X, Y, loss, opt, epochs=epochs, batch_size=8, X_val=Xv, y_val=Yv, rng=seed))
    except _ChargedEarlier:
        return
    keys = ("loss", "train_acc", "val_loss", "val_acc", "lr", "time", "best_epoch")
    if not isinstance(hist, dict) or any(k not in hist for k in keys):
        raise Feedback(f"fit should return a dict with the keys {list(keys)}; got {describe(hist)}"
                       + (f" with keys {sorted(hist)}" if isinstance(hist, dict) else "") + ".")
    for k in keys[:-1]:
        values = hist[k]
        if not isinstance(values, (list, tuple, np.ndarray)) or len(values) != epochs:
            raise Feedback(f"history[{k!r}] should hold one number per epoch ({epochs} epochs); "
                           f"got {describe(values)}.")
    if hist["best_epoch"] is not None:
        raise Feedback("history['best_epoch'] should be None when early stopping is off (patience=None); "
                       f"got {hist['best_epoch']!r}.")
    check_array(np.asarray(hist["lr"], dtype=float), np.full(epochs, 0.3), name="history['lr'] (no schedule)")
    if not all(float(t) >= 0 for t in hist["time"]):
        raise Feedback(f"history['time'] should hold the (non-negative) seconds of each epoch; got {hist['time']}.")
    labels, val_labels = Y.argmax(axis=1), Yv.argmax(axis=1)
    check_scalar(float(hist["train_acc"][-1]), float(np.mean(model.call("predict", X) == labels)),
                 name="history['train_acc'][-1]", hint="the accuracy of model.predict(X) after the last epoch")
    check_scalar(float(hist["val_acc"][-1]), float(np.mean(model.call("predict", Xv) == val_labels)),
                 name="history['val_acc'][-1]", hint="the accuracy of model.predict(X_val) after the last epoch")
    check_scalar(float(hist["val_loss"][-1]), float(loss.call("forward", model.call("forward", Xv), Yv)),
                 name="history['val_loss'][-1]", hint="loss.forward(model.forward(X_val), y_val) after the last epoch")


@grade("fit", points=1)
def test_fit_shuffles_with_rng(student: Student, rng: np.random.Generator) -> None:
    """fit shuffles every epoch with the given rng: the same seed gives the same run"""
    X, Y, _, _ = _fit_data(rng, 10)
    spec = _spec(rng, [2, 6, 3])
    seed = seed_from(rng)
    other = Seed(seed.value + 1)
    runs: list[list[float]] = []
    for s in (seed, seed, other):
        model, _ = _model(student, spec, rng)
        try:
            hist = _guarded(student, spec, X, Y, "CrossEntropyLoss", partial(
                student.call, "fit", model, X, Y, student.new("CrossEntropyLoss"), student.new("SGD", lr=0.5),
                epochs=3, batch_size=5, rng=s))
        except _ChargedEarlier:
            return
        runs.append([float(v) for v in hist["loss"]])
    if not np.allclose(runs[0], runs[1], rtol=1e-10, atol=1e-12, equal_nan=True) and _own_batches_reproducible(
            student, X, Y, seed):
        raise Feedback(f"Two fit runs from the same weights with rng seeds {seed.value} and {seed.value} gave "
                       f"different losses: {runs[0]} and {runs[1]}.\nLikely mistake (rng ignored) shuffle with the rng "
                       "argument (create_batches(..., rng=rng), ONE generator for the whole run), not np.random.")
    learning = bool(abs(runs[0][-1] - runs[0][0]) > 1e-6)
    if learning and np.allclose(runs[0], runs[2], rtol=1e-12, atol=1e-14):
        raise Feedback(f"fit runs with different rng seeds gave exactly the same losses {runs[0]}.\nLikely mistake "
                       "(no shuffling) every epoch draws a new permutation of the samples: "
                       "create_batches(X, y, batch_size, shuffle=True, rng=rng).")


def _stopping_setup(student: Student, rng: np.random.Generator
                    ) -> tuple[Remote, Remote, dict[str, Any], Array, Array, int, int]:
    """A run that stops early with its best epoch strictly before the last one (checked on the reference).

    The data, network and seed are FIXED, not drawn from the salted ``rng``: whether a run exercises the
    stopping rule at all depends on the student's own optimizer and layers (an SGD with a hard-coded tiny
    learning rate may never stop within ``epochs``), so a drawn problem would let the salt decide whether
    a late stop is seen (issue 14: the same code gets the same score under any salt).
    """
    del rng
    rng = np.random.default_rng(20261207)
    patience, epochs = 3, 150

    def draw() -> tuple[Array, Array, Array, Array, Any, Seed, bool]:
        X, Y, Xv, Yv = _fit_data(rng)
        spec = _spec(rng, [2, 32, 3])
        seed = seed_from(rng)
        reference = ref.fit(_ref_model(spec), X, Y, ref_layers.CrossEntropyLoss(), ref.SGD(lr=1.0), epochs=epochs,
                            batch_size=10, X_val=Xv, y_val=Yv, patience=patience,
                            rng=np.random.default_rng(seed.value))
        v = reference["val_loss"]
        good = len(v) < epochs and reference["best_epoch"] < len(v) - 1 and v[-1] > min(v) * (1 + 1e-6)
        return X, Y, Xv, Yv, spec, seed, good

    X, Y, Xv, Yv, spec, seed, good = draw()
    for _ in range(5):
        if good:
            break
        X, Y, Xv, Yv, spec, seed, good = draw()
    model, _ = _model(student, spec, rng)
    loss = student.new("CrossEntropyLoss")
    hist = _guarded(student, spec, X, Y, "CrossEntropyLoss", lambda: student.call(
        "fit", model, X, Y, loss, student.new("SGD", lr=1.0), epochs=epochs, batch_size=10, X_val=Xv, y_val=Yv,
        patience=patience, rng=seed))
    if not isinstance(hist, dict) or "val_loss" not in hist or "best_epoch" not in hist:
        raise Feedback(f"fit(..., patience={patience}) should return the history dict; got {describe(hist)}.")
    return model, loss, hist, Xv, Yv, patience, epochs


def _best_epoch(losses: Sequence[float]) -> int:
    """The epoch of the lowest validation loss, the first one on ties (as np.argmin), where NaN never counts
    as lower (the early-stopping rule compares with <): a loss of the student's that makes NaN is charged
    where that loss is graded, not here."""
    best, where = np.inf, 0
    for e, value in enumerate(losses):
        if value < best:
            best, where = value, e
    return where


@grade("fit", points=1)
def test_fit_early_stopping_rule(student: Student, rng: np.random.Generator) -> None:
    """fit stops after `patience` epochs without a strictly lower validation loss; best_epoch is the argmin"""
    try:
        _, _, hist, _, _, patience, epochs = _stopping_setup(student, rng)
    except _ChargedEarlier:
        return
    v = [float(x) for x in hist["val_loss"]]
    best, wait, stop = np.inf, 0, epochs
    for e, value in enumerate(v):
        if value < best:
            best, wait = value, 0
        else:
            wait += 1
            if wait >= patience:
                stop = e + 1
                break
    ran = len(v)
    if ran != min(stop, epochs):
        if ran == epochs:
            diagnosis = ("\nLikely mistake (never stopped) count the epochs without a strictly lower validation loss "
                         "and break as soon as that count reaches `patience`.")
        elif ran > stop:
            diagnosis = ("\nLikely mistake (stopped late) stop as soon as `patience` epochs IN A ROW brought no "
                         "strictly lower validation loss (wait >= patience), not one epoch later.")
        else:
            diagnosis = ("\nLikely mistake (stopped too early) only stop after `patience` epochs IN A ROW without "
                         "improvement; reset the count whenever the validation loss reaches a new minimum.")
        raise Feedback(f"fit(..., patience={patience}) recorded {ran} epochs of validation losses {np.round(v, 4)}; "
                       f"with that history it should have stopped after {min(stop, epochs)} epochs." + diagnosis)
    best_epoch = _best_epoch(v)
    if hist["best_epoch"] != best_epoch:
        raise Feedback(f"history['best_epoch'] is {hist['best_epoch']!r}, but the lowest validation loss of the "
                       f"recorded history is at epoch {best_epoch} (counting from 0).")


@grade("fit", points=1)
def test_fit_early_stopping_restores_best_weights(student: Student, rng: np.random.Generator) -> None:
    """after early stopping the model holds the weights of the best epoch"""
    try:
        model, loss, hist, Xv, Yv, _, _ = _stopping_setup(student, rng)
    except _ChargedEarlier:
        return
    v = np.array([float(x) for x in hist["val_loss"]])
    best = _best_epoch(list(v))
    final = float(loss.call("forward", model.call("forward", Xv), Yv))
    if np.isclose(final, v[best], rtol=1e-7, atol=1e-12):
        return
    lines = [f"After fit stopped early, the model's validation loss is {final:.6g}; the best epoch ({best}) "
             f"recorded {v[best]:.6g}. The returned model must hold the weights of that best epoch."]
    matches = [e for e in range(len(v)) if np.isclose(final, v[e], rtol=1e-7, atol=1e-12)]
    if matches and matches[-1] == len(v) - 1:
        lines.append("Likely mistake (restored the last weights) the model kept the weights of the LAST epoch: "
                     "store COPIES of W and b (layer.W.copy()) when the validation loss improves, and assign them "
                     "back at the end. A reference (best = layer.W) changes with every in-place update.")
    elif matches:
        lines.append(f"Likely mistake (restored the wrong epoch) the model holds the weights of epoch {matches[0]}: "
                     "take the snapshot right after the epoch whose validation loss is the new best.")
    raise Feedback("\n".join(lines))


def _own_batches_reproducible(student: Student, X: Array, Y: Array, seed: Seed) -> bool:
    """Does the student's own create_batches, asked twice with the same seed in a fresh worker, give the same
    first batches? (Only then can two fit runs that differ be blamed on fit.)"""
    with fresh_worker(student) as fresh:
        batches_a = fresh.try_call("create_batches", X, Y, 5, rng=seed)
        batches_b = fresh.try_call("create_batches", X, Y, 5, rng=seed)
    return batches_a is not None and batches_b is not None and all(
        np.array_equal(a[0], b[0]) for a, b in zip(batches_a, batches_b, strict=False))


@grade("fit", points=1)
def test_fit_learning_rate_schedule(student: Student, rng: np.random.Generator) -> None:
    """fit sets optimizer.lr = schedule(epoch) at the start of every epoch"""
    X, Y, _, _ = _fit_data(rng, 5)
    spec = _spec(rng, [2, 4, 3])
    model, _ = _model(student, spec, rng)
    opt = student.new("SGD", lr=0.7)
    epochs = 12
    seed = seed_from(rng)
    try:
        hist = _guarded(student, spec, X, Y, "CrossEntropyLoss", lambda: student.call(
            "fit", model, X, Y, student.new("CrossEntropyLoss"), opt, epochs=epochs, batch_size=15,
            schedule=StudentFunction("step_decay"), rng=seed))
    except _ChargedEarlier:
        return
    want = np.array([ref.step_decay(e) for e in range(epochs)])
    got = np.asarray(hist["lr"], dtype=float) if isinstance(hist, dict) and "lr" in hist else hist
    if _matches(got, want) and _matches(opt.get("lr"), float(want[-1]), check_scalar):
        return  # the schedule's values, applied at the right time (no second worker needed)
    with fresh_worker(student) as fresh:  # never saw the graded fit call: cannot echo what fit recorded
        own = [fresh.try_call("step_decay", e) for e in range(epochs)]
    if all(isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) for v in own):
        own_arr = np.array(own, dtype=float)
        if not np.allclose(own_arr, want):
            want = own_arr  # judged against your own step_decay
    check_array(got, want, name="history['lr'] with schedule=step_decay", mistakes=[
        Mistake("schedule not applied", np.full(epochs, 0.7),
                "The learning rate never changed: at the start of every epoch set optimizer.lr = schedule(epoch)."),
        Mistake("schedule applied one epoch late", np.concatenate([[0.7], want[:-1]]),
                "You set the new rate at the END of each epoch: set optimizer.lr = schedule(epoch) BEFORE the "
                "epoch's batches and record it."),
    ])
    check_scalar(opt.get("lr"), float(want[-1]), name="optimizer.lr after fit with a schedule")


# ------------------------------------------------------------------ gradient_check


def _true_relative_error(model: Remote, layers: list[Remote], loss: Remote, X: Array, y: Array,
                         h: float = 1e-5) -> float:
    """The relative error a correct gradient_check reports for the student's own model and loss, measured
    on a twin of the graded model (new objects, same weights: one backward, as gradient_check makes;
    a Linear whose gradients accumulate is charged in 5.1, not here).

    The parameters are those of the student's ``model.parameters()`` when it returns layer objects
    (what gradient_check itself uses), else the model's Linear layers.
    """
    linears = _linears(layers)
    params = model.call("parameters")
    if isinstance(params, (list, tuple)) and params and all(isinstance(p, Remote) for p in params):
        linears = list(params)
    loss.call("forward", model.call("forward", X), y)
    model.call("backward", loss.call("backward"))
    analytic = np.concatenate([np.ravel(lin.get(name)) for lin in linears for name in ("dW", "db")])
    numeric: list[Array] = []
    for lin in linears:
        for name in ("W", "b"):
            P = lin.get(name)
            grad = np.zeros(P.shape)
            for idx in np.ndindex(P.shape):
                values = []
                for delta in (h, -h):
                    Q = P.copy()
                    Q[idx] = P[idx] + delta
                    lin.set(name, Q)
                    values.append(float(loss.call("forward", model.call("forward", X), y)))
                grad[idx] = (values[0] - values[1]) / (2 * h)
            lin.set(name, P)
            numeric.append(grad.ravel())
    g = np.concatenate(numeric)
    denom = float(np.linalg.norm(analytic) + np.linalg.norm(g))
    return 0.0 if denom == 0 else float(np.linalg.norm(analytic - g) / denom)


def _check_relative_error(got: Any, want: float, name: str) -> None:
    if (isinstance(got, np.ndarray) and got.ndim > 0) or not isinstance(got, (int, float, np.floating, np.ndarray)):
        raise Feedback(f"{name} should return one number (the relative error); got {describe(got)}.")
    value = float(got)
    if want < 1e-7:
        if not (0 <= value < max(1e-7, 10 * want)):
            if 1e-7 <= value < 1e-3:
                hint = ("(forward differences) an error of this size is the O(h) error of the forward difference "
                        "(L(p + h) - L(p)) / h: use central differences (L(p + h) - L(p - h)) / 2h.")
            else:
                hint = ("(not a relative error) return norm(a - g) / (norm(a) + norm(g)) over ALL parameter "
                        "gradients, with central differences (L(p + h) - L(p - h)) / 2h, restoring every entry.")
            raise Feedback(f"{name} returned {value:.3g}, but this model's backprop agrees with central differences "
                           f"(relative error {want:.2g}).\nLikely mistake {hint}")
        return
    if not np.isclose(value, want, rtol=0.02):
        raise Feedback(f"{name} returned {value:.6g}; the relative error between this model's backprop gradients and "
                       f"central differences is {want:.6g}.\nLikely mistake (not the relative error of every "
                       "gradient) concatenate dW and db of every layer (flattened) and compare with the numerical "
                       "gradients of the loss of the full forward pass.")


@grade("gradient_check", points=1)
def test_gradient_check_on_a_correct_model(student: Student, rng: np.random.Generator) -> None:
    """gradient_check reports a tiny relative error for a softmax model with cross-entropy"""
    n = int(rng.integers(3, 6))
    spec = _spec(rng, [2, 3, 3], hidden="Tanh")
    model, _ = _model(student, spec, rng)
    X, labels = rng.normal(size=(n, 2)), rng.integers(0, 3, size=n)
    loss = student.new("CrossEntropyLoss")
    try:
        got = _guarded(student, spec, X, labels, "CrossEntropyLoss",
                       lambda: student.call("gradient_check", model, X, labels, loss=loss))
    except _ChargedEarlier:
        return
    want = _true_relative_error(*_model(student, spec, rng), student.new("CrossEntropyLoss"), X, labels)
    if want >= 1e-7:
        # Your own layers do not make a correct model here (charged where they are graded; whether they do
        # can depend on the data drawn): reporting the error of a wrong model is the next test's subject.
        return
    _check_relative_error(got, want, "gradient_check(model, X, y, loss=CrossEntropyLoss())")


@grade("gradient_check", points=1)
def test_gradient_check_flags_a_wrong_backward(student: Student, rng: np.random.Generator) -> None:
    """gradient_check reports a large error when backprop is wrong (Softmax output trained with MSELoss)"""
    n = int(rng.integers(3, 6))
    spec = _spec(rng, [2, 3, 3], hidden="Tanh")
    model, _ = _model(student, spec, rng)
    X, Y = rng.normal(size=(n, 2)), np.eye(3)[rng.integers(0, 3, size=n)]
    # Sequential.backward skips the final Softmax, but MSELoss.backward is NOT a logit gradient:
    # the backprop gradients are wrong, and a gradient check must say so.
    try:
        got = _guarded(student, spec, X, Y, "MSELoss",
                       lambda: student.call("gradient_check", model, X, Y, loss=student.new("MSELoss")))
    except _ChargedEarlier:
        return
    want = _true_relative_error(*_model(student, spec, rng), student.new("MSELoss"), X, Y)
    _check_relative_error(got, want, "gradient_check(softmax model, X, Y, loss=MSELoss())")


@grade("gradient_check", points=1)
def test_gradient_check_restores_parameters(student: Student, rng: np.random.Generator) -> None:
    """gradient_check leaves every parameter exactly as it was; the default loss is cross-entropy"""
    n = int(rng.integers(3, 6))
    spec = _spec(rng, [3, 2, 2], hidden="Tanh")
    model, layers = _model(student, spec, rng)
    X, labels = rng.normal(size=(n, 3)), rng.integers(0, 2, size=n)
    before = [lin.get(name) for lin in _linears(layers) for name in ("W", "b")]
    try:
        got = _guarded(student, spec, X, labels, "CrossEntropyLoss",
                       lambda: student.call("gradient_check", model, X, labels))
    except _ChargedEarlier:
        return
    after = [lin.get(name) for lin in _linears(layers) for name in ("W", "b")]
    for b, a in zip(before, after, strict=True):
        if not np.array_equal(a, b):
            change = float(np.max(np.abs(np.asarray(a) - b)))
            raise Feedback("After gradient_check a parameter differs from its value before the call (largest change "
                           f"{change:.3g}).\nLikely mistake (parameters not restored) "
                           "save each entry before perturbing it and assign the saved value back; "
                           "p += h; p -= 2h; p += h leaves rounding errors.")
    want = _true_relative_error(*_model(student, spec, rng), student.new("CrossEntropyLoss"), X, labels)
    _check_relative_error(got, want, "gradient_check(model, X, y) with the default loss")


# ------------------------------------------------------------------ data sets, grid


@grade("make_xor", points=1)
def test_make_xor(student: Student, rng: np.random.Generator) -> None:
    """make_xor: the truth table, then noisy copies of the four corners"""
    X, y = student.call("make_xor", 4, noise=0.0, rng=seed_from(rng))
    check_array(X, [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], name="X of make_xor(4, noise=0.0)")
    check_array(y, [[0.0], [1.0], [1.0], [0.0]], name="y of make_xor(4, noise=0.0)")
    n, noise = int(rng.integers(150, 250)), float(rng.uniform(0.03, 0.1))
    seed = seed_from(rng)
    X, y = student.call("make_xor", n, noise=noise, rng=seed)
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])[np.arange(n) % 4]
    check_array(y, np.array([0.0, 1.0, 1.0, 0.0])[np.arange(n) % 4].reshape(-1, 1),
                name=f"y of make_xor({n}, noise={noise:.3g})", hint="sample i sits at corner i % 4")
    if not isinstance(X, np.ndarray) or X.shape != (n, 2):
        raise Feedback(f"X of make_xor({n}, ...) should have shape {(n, 2)}; got {describe(X)}.")
    spread = float(np.std(X - corners))
    if abs(spread / noise - 1) > 0.3:
        raise Feedback(f"make_xor({n}, noise={noise:.3g}): the points deviate from their corners with standard "
                       f"deviation {spread:.3g}; expected about noise = {noise:.3g} "
                       "(corner + noise * rng.standard_normal((n, 2))).")
    again, _ = student.call("make_xor", n, noise=noise, rng=seed)
    check_array(again, X, name="make_xor with the same rng seed twice", hint="draw the noise from the given rng")


@grade("make_spirals", points=1)
def test_make_spirals_structure(student: Student, rng: np.random.Generator) -> None:
    """make_spirals: shapes, one-hot class blocks, exact radii"""
    per, k = int(rng.integers(8, 20)), int(rng.integers(2, 5))
    X, Y = student.call("make_spirals", per, k, noise=float(rng.uniform(0.1, 0.4)), rng=seed_from(rng))
    check_array(Y, np.eye(k)[np.repeat(np.arange(k), per)], name=f"Y of make_spirals({per}, {k})",
                hint="one-hot rows; class j occupies rows j * n_per_class ... (j + 1) * n_per_class - 1")
    if not isinstance(X, np.ndarray) or X.shape != (per * k, 2):
        raise Feedback(f"X of make_spirals({per}, {k}) should have shape {(per * k, 2)}; got {describe(X)}.")
    check_array(np.linalg.norm(X, axis=1), np.tile(np.linspace(0, 1, per), k),
                name=f"distance from the origin of each point of make_spirals({per}, {k})",
                hint="the radius is exactly linspace(0, 1, n_per_class); the noise only touches the angle")


@grade("make_spirals", points=1)
def test_make_spirals_positions(student: Student, rng: np.random.Generator) -> None:
    """make_spirals: exact points without noise; angle noise of the requested size"""
    per, k = int(rng.integers(5, 12)), int(rng.integers(2, 4))
    X, _ = student.call("make_spirals", per, k, noise=0.0, rng=seed_from(rng))
    want, _ = ref.make_spirals(per, k, noise=0.0)
    check_array(X, want, name=f"X of make_spirals({per}, {k}, noise=0.0)", mistakes=[
        Mistake("sin and cos swapped", want[:, ::-1], "The point is (r sin t, r cos t): sin first."),
    ])
    per, noise = 200, float(rng.uniform(0.1, 0.3))
    X, _ = student.call("make_spirals", per, 2, noise=noise, rng=seed_from(rng))
    t = np.arctan2(X[:, 0], X[:, 1])
    t0 = np.concatenate([np.linspace(4.0 * j, 4.0 * (j + 1), per) for j in range(2)])
    residual = np.angle(np.exp(1j * (t - t0)))[np.tile(np.arange(per), 2) > 0]
    spread = float(np.std(residual))
    if abs(spread / noise - 1) > 0.2:
        raise Feedback(f"make_spirals(200, 2, noise={noise:.3g}): the angles deviate from linspace(4j, 4(j+1)) with "
                       f"standard deviation {spread:.3g}; expected about noise = {noise:.3g} (in radians, added to "
                       "the angle only).")


class _OwnModel:
    """The student's own Sequential of twin layers in a fresh worker, as the reference decision_grid
    sees a model (only ``predict`` is used)."""

    def __init__(self, fresh: FreshWorker, spec: Spec) -> None:
        self._fresh = fresh
        self._model = fresh.new("Sequential", _build(fresh, spec, np.random.default_rng(0)))

    def predict(self, X: Array) -> Any:
        return self._fresh.unguarded(self._model, "predict", X)


def _own_grid_fails_alike(student: Student, error: StudentError, spec: Spec, X: Array, res: int,
                          margin: float) -> bool:
    """Does the reference decision_grid, given the student's own model (twin layers and Sequential in a
    fresh worker), fail the same way? (A Softmax that returns a fixed-size array makes every grid fail.)"""
    want = _kind(error)
    with fresh_worker(student) as fresh:
        try:
            with np.errstate(all="ignore"):
                ref.decision_grid(_OwnModel(fresh, spec), X, resolution=res, margin=margin)  # pyright: ignore[reportArgumentType]
        except StudentError as exc:
            return bool(want) and _kind(exc) == want
        except Exception as exc:  # the grid fails on what the student's own model returned
            return type(exc).__name__ == want
    return False


@grade("decision_grid", points=1)
def test_decision_grid(student: Student, rng: np.random.Generator) -> None:
    """decision_grid: a meshgrid over the data plus margin, labelled by model.predict"""
    spec = _spec(rng, [2, 5, 3])
    model, _ = _model(student, spec, rng)
    X = rng.normal(size=(int(rng.integers(10, 30)), 2))
    res, margin = int(rng.integers(8, 20)), float(rng.uniform(0.1, 1.0))
    try:
        out = _guarded(student, spec, X, None, None,
                       lambda: student.call("decision_grid", model, X, resolution=res, margin=margin))
    except _ChargedEarlier:
        return
    except (StudentRaised, InputMutated) as exc:
        if _own_grid_fails_alike(student, exc, spec, X, res, margin):
            return
        raise
    xs, ys, labels = (out if isinstance(out, (list, tuple)) and len(out) == 3 else (out, None, None))
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], res), np.linspace(lo[1], hi[1], res))
    check_array(xs, xx, name="xx of decision_grid", mistakes=[
        Mistake("xx and yy swapped", yy, "xx holds the FIRST feature (varying along axis 1): np.meshgrid(x, y)."),
        Mistake("margin ignored", np.meshgrid(np.linspace(lo[0] + margin, hi[0] - margin, res),
                                              np.linspace(lo[1] + margin, hi[1] - margin, res))[0],
                "The grid spans [min - margin, max + margin] of each feature."),
    ])
    check_array(ys, yy, name="yy of decision_grid")
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    check_array(labels, np.asarray(model.call("predict", grid)).reshape(res, res), name="labels of decision_grid",
                hint="labels[i, j] = model.predict of the point (xx[i, j], yy[i, j])")
