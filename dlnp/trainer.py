"""One trainer for the digits: the models of chapters 3.4, 4.1 and 4.2/4.3, trained by momentum SGD.

The trainer is used twice, with different functions:

* ``dlnp capstone`` passes YOUR functions, found in your ``neural_network``
  package (:func:`dlnp.capstone.student_functions`);
* the kit's reference training (``dlnp train`` in the instructor's kit) passes
  the kit's own answers.

Everything a chapter teaches is one of those :class:`Functions`: the forward
and backward passes, the loss, the metric, the momentum step and the L2
gradient. This module only wires them together: it initializes the weights,
shuffles mini-batches, standardizes the inputs and checks that every gradient
has the shape of its parameter. The three models:

* ``mlp``:  ``d -> hidden (ReLU) -> 10 (softmax)`` with ``forward_mlp``/``backward_mlp`` (3.4)
* ``mlp3``: ``d -> hidden -> hidden2 (ReLU, ReLU) -> 10`` with the 3-layer versions (4.1)
* ``cnn``:  ``conv F x 3x3 -> ReLU -> 2x2 max-pool -> dense 10 -> softmax`` (4.2, 4.3)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any, NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from dlnp import datasets
from dlnp.manifest import load_manifest

Array = NDArray[Any]
Params = dict[str, Array]
MODELS = ("mlp", "mlp3", "cnn")


class TrainingError(RuntimeError):
    """The run cannot go on; the message says which function to look at."""


def chapter_of(function: str) -> str:
    """The chapter that teaches ``function``, from the manifest (``"?"`` if none)."""
    try:
        return load_manifest().chapter_of(function)
    except (KeyError, FileNotFoundError):
        return "?"


# --------------------------------------------------------------------------- the functions


@dataclass(frozen=True)
class Functions:
    """The chapters' functions the trainer calls, with the signatures it calls them with."""

    forward_mlp: Callable[[Array, Array, Array, Array, Array], tuple[Array, Array]]
    backward_mlp: Callable[[Array, Array, Array, Array, Array, Array, Array], tuple[Array, Array, Array, Array]]
    forward_mlp_3layer: Callable[[Array, Array, Array, Array, Array, Array, Array], tuple[Array, Array, Array]]
    backward_mlp_3layer: Callable[
        [Array, Array, Array, Array, Array, Array, Array, Array, Array, Array],
        tuple[Array, Array, Array, Array, Array, Array],
    ]
    relu: Callable[[Array], Array]
    relu_derivative: Callable[[Array], Array]
    softmax: Callable[[Array], Array]
    conv_forward: Callable[[Array, Array, Array], Array]
    conv_backward: Callable[[Array, Array, Array], tuple[Array, Array, Array]]
    max_pool: Callable[[Array, int], Array]
    max_pool_backward: Callable[[Array, Array, int], Array]
    cross_entropy: Callable[[Array, Array], float]
    accuracy: Callable[[Array, Array], float]
    momentum_update: Callable[[Array, Array, float, float], Array]
    l2_gradient: Callable[[Array, float], Array]

    @classmethod
    def names(cls) -> list[str]:
        """The names of the functions, in the order above."""
        return [f.name for f in fields(cls)]


# --------------------------------------------------------------------------- models


class Model(Protocol):
    """What the training loop needs from a model."""

    params: Params

    def loss_and_grads(self, X: Array, Y: Array) -> tuple[float, Params]:
        """The loss on the batch ``(X, Y)`` and the gradient of every parameter."""
        ...

    def predict_proba(self, X: Array) -> Array:
        """Class probabilities ``(n, k)``."""
        ...


def he_normal(rng: np.random.Generator, fan_in: int, shape: tuple[int, ...], dtype: Any = np.float64) -> Array:
    """He initialization: normal with standard deviation sqrt(2 / fan_in)."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def check_gradients(grads: Params, params: Params, source: str) -> Params:
    """``grads``, after checking that each has the shape of its parameter (else :class:`TrainingError`)."""
    for name, param in params.items():
        grad = np.asarray(grads[name])
        if grad.shape != param.shape:
            raise TrainingError(
                f"{source} returned the gradient of {name} with shape {grad.shape}, but {name} has shape "
                f"{param.shape}: a gradient has the shape of its parameter (run `dlnp check "
                f"{chapter_of(source)}`)"
            )
    return grads


class MLP2:
    """``d -> hidden (ReLU) -> k (softmax)``, chapter 3.4's ``forward_mlp``/``backward_mlp``.

    ``reuse_activations=True`` passes ``A1`` to ``backward_mlp`` in place of
    ``Z1``: ReLU(Z) > 0 exactly where Z > 0, so a backward pass that only looks
    at the sign of ``Z1`` (as the kit's does) gets the same gradients one matrix
    product sooner. Off by default: another backward pass may use ``Z1`` otherwise.
    """

    def __init__(self, fns: Functions, d: int, hidden: int, k: int, rng: np.random.Generator,
                 dtype: Any = np.float64, reuse_activations: bool = False) -> None:
        self.fns, self.reuse_activations = fns, reuse_activations
        self.params: Params = {
            "W1": he_normal(rng, d, (d, hidden), dtype),
            "b1": np.zeros((1, hidden), dtype),
            "W2": he_normal(rng, hidden, (hidden, k), dtype),
            "b2": np.zeros((1, k), dtype),
        }

    def predict_proba(self, X: Array) -> Array:
        p = self.params
        return self.fns.forward_mlp(X, p["W1"], p["b1"], p["W2"], p["b2"])[1]

    def loss_and_grads(self, X: Array, Y: Array) -> tuple[float, Params]:
        p = self.params
        A1, A2 = self.fns.forward_mlp(X, p["W1"], p["b1"], p["W2"], p["b2"])
        Z1 = A1 if self.reuse_activations else X @ p["W1"] + p["b1"]
        g = self.fns.backward_mlp(X, A1, A2, Y, p["W1"], p["W2"], Z1)
        grads: Params = dict(zip(("W1", "b1", "W2", "b2"), g, strict=True))
        return float(self.fns.cross_entropy(A2, Y)), check_gradients(grads, p, "backward_mlp")


class MLP3:
    """``d -> h1 -> h2 (ReLU, ReLU) -> k (softmax)``, chapter 4.1 (``reuse_activations`` as in :class:`MLP2`)."""

    def __init__(self, fns: Functions, d: int, h1: int, h2: int, k: int, rng: np.random.Generator,
                 dtype: Any = np.float64, reuse_activations: bool = False) -> None:
        self.fns, self.reuse_activations = fns, reuse_activations
        self.params: Params = {
            "W1": he_normal(rng, d, (d, h1), dtype),
            "b1": np.zeros((1, h1), dtype),
            "W2": he_normal(rng, h1, (h1, h2), dtype),
            "b2": np.zeros((1, h2), dtype),
            "W3": he_normal(rng, h2, (h2, k), dtype),
            "b3": np.zeros((1, k), dtype),
        }

    def _forward(self, X: Array) -> tuple[Array, Array, Array]:
        p = self.params
        return self.fns.forward_mlp_3layer(X, p["W1"], p["b1"], p["W2"], p["b2"], p["W3"], p["b3"])

    def predict_proba(self, X: Array) -> Array:
        return self._forward(X)[2]

    def loss_and_grads(self, X: Array, Y: Array) -> tuple[float, Params]:
        p = self.params
        A1, A2, A3 = self._forward(X)
        if self.reuse_activations:
            Z1, Z2 = A1, A2
        else:
            Z1, Z2 = X @ p["W1"] + p["b1"], A1 @ p["W2"] + p["b2"]
        g = self.fns.backward_mlp_3layer(X, A1, A2, A3, Y, p["W1"], p["W2"], p["W3"], Z1, Z2)
        grads: Params = dict(zip(("W1", "b1", "W2", "b2", "W3", "b3"), g, strict=True))
        return float(self.fns.cross_entropy(A3, Y)), check_gradients(grads, p, "backward_mlp_3layer")


class CNNForward(NamedTuple):
    """What the CNN's forward pass computes, layer by layer."""

    Z: Array  # (n, F, H', W') convolution outputs
    A: Array  # (n, F, H', W') ReLU(Z)
    pooled: Array  # (n, F, H' // pool, W' // pool)
    probs: Array  # (n, k)


class CNN:
    """``(n, C, H, W)`` -> conv F x (kernel x kernel) -> ReLU -> max-pool -> dense -> softmax."""

    def __init__(self, fns: Functions, in_shape: tuple[int, ...], k: int, rng: np.random.Generator,
                 filters: int = 8, kernel: int = 3, pool: int = 2, dtype: Any = np.float64) -> None:
        C, H, W = in_shape
        self.fns, self.pool = fns, pool
        flat = filters * ((H - kernel + 1) // pool) * ((W - kernel + 1) // pool)
        self.params: Params = {
            "K": he_normal(rng, C * kernel * kernel, (filters, C, kernel, kernel), dtype),
            "bK": np.zeros(filters, dtype),
            "W": he_normal(rng, flat, (flat, k), dtype),
            "b": np.zeros((1, k), dtype),
        }

    def forward(self, X: Array) -> CNNForward:
        p, f = self.params, self.fns
        # Pooling (and the sums of the backward pass) are several times faster on a
        # C-contiguous (n, F, H', W') than on a transposed view of the convolution.
        Z = np.ascontiguousarray(f.conv_forward(X, p["K"], p["bK"]))
        A = f.relu(Z)
        pooled = f.max_pool(A, self.pool)
        probs = f.softmax(pooled.reshape(X.shape[0], -1) @ p["W"] + p["b"])
        return CNNForward(Z, A, pooled, probs)

    def predict_proba(self, X: Array) -> Array:
        return self.forward(X).probs

    def loss_and_grads(self, X: Array, Y: Array) -> tuple[float, Params]:
        p, f = self.params, self.fns
        Z, A, pooled, probs = self.forward(X)
        flat = pooled.reshape(X.shape[0], -1)
        # The dense softmax layer, as in chapter 3.4: dZ = (probs - Y) / n.
        d_logits = (probs - Y) / X.shape[0]
        d_pooled = (d_logits @ p["W"].T).reshape(pooled.shape)
        dA = f.max_pool_backward(d_pooled, A, self.pool)
        dZ = dA * f.relu_derivative(Z)
        _, dK, dbK = f.conv_backward(dZ, X, p["K"])
        grads = {"K": dK, "bK": dbK, "W": flat.T @ d_logits, "b": d_logits.sum(axis=0, keepdims=True)}
        return float(f.cross_entropy(probs, Y)), check_gradients(grads, p, "conv_backward")


@dataclass
class TrainConfig:
    """Hyper-parameters shared by every run (the defaults reach about 97% on the digits)."""

    model: str = "mlp"
    epochs: int = 30
    batch_size: int = 32
    lr: float = 0.01
    mu: float = 0.9
    l2: float = 0.0  # lambda of l2_gradient, for the weights (not the biases)
    hidden: int = 256
    hidden2: int = 128
    filters: int = 8
    seed: int = 0


def build_model(fns: Functions, config: TrainConfig, X: Array, k: int, rng: np.random.Generator,
                dtype: Any = np.float64, reuse_activations: bool = False) -> MLP2 | MLP3 | CNN:
    """The model named by ``config.model`` for inputs shaped like ``X`` and ``k`` classes."""
    if config.model == "mlp":
        return MLP2(fns, X.shape[1], config.hidden, k, rng, dtype, reuse_activations)
    if config.model == "mlp3":
        return MLP3(fns, X.shape[1], config.hidden, config.hidden2, k, rng, dtype, reuse_activations)
    if config.model == "cnn":
        return CNN(fns, X.shape[1:], k, rng, filters=config.filters, dtype=dtype)
    raise TrainingError(f"unknown model {config.model!r}; choose one of {MODELS}")


# --------------------------------------------------------------------------- optimizer and loop


class MomentumSGD:
    """SGD with momentum (chapter 4.5), updating the parameters in place.

    Per parameter: ``grad += l2_gradient(W, l2)`` for the weights (the biases,
    whose names start with ``b``, are not decayed), then
    ``v = momentum_update(v, grad, mu, lr)`` and ``W += v``.
    """

    def __init__(self, fns: Functions, params: Params, lr: float, mu: float = 0.9, l2: float = 0.0) -> None:
        self.fns, self.lr, self.mu, self.l2 = fns, lr, mu, l2
        self.velocity = {name: np.zeros_like(w) for name, w in params.items()}

    def step(self, params: Params, grads: Params) -> None:
        """Update every parameter in ``params`` with its gradient in ``grads``."""
        for name, w in params.items():
            grad = grads[name]
            if self.l2 and not name.startswith("b"):
                grad = grad + self.fns.l2_gradient(w, self.l2)
            self.update(name, w, grad)

    def update(self, name: str, w: Array, grad: Array) -> None:
        """``v = momentum_update(v, grad, mu, lr)``, then ``W += v`` (in place)."""
        self.velocity[name] = np.asarray(self.fns.momentum_update(self.velocity[name], grad, self.mu, self.lr))
        w += self.velocity[name]


def batches(n: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices ``[0:b], [b:2b], ...``; the last one may be shorter."""
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def train_epoch(
    model: Model,
    optimizer: MomentumSGD,
    X: Array,
    Y: Array,
    batch_size: int,
    rng: np.random.Generator,
    augment: Callable[[Array, np.random.Generator], Array] | None = None,
) -> float:
    """One pass over ``(X, Y)`` in shuffled mini-batches; returns the mean batch loss.

    The batches are consecutive slices of one random permutation of the rows.
    ``augment(batch, rng)``, if given, transforms every batch of inputs.
    """
    perm = rng.permutation(X.shape[0])
    total, count = 0.0, 0
    for sl in batches(X.shape[0], batch_size):
        rows = perm[sl]
        Xb = X[rows] if augment is None else augment(X[rows], rng)
        loss, grads = model.loss_and_grads(Xb, Y[rows])
        optimizer.step(model.params, grads)
        total += loss * rows.size
        count += rows.size
    return total / count


def predict_proba(model: Model, X: Array, batch_size: int = 1000) -> Array:
    """Class probabilities for ``X``, evaluated in chunks to bound memory."""
    return np.concatenate([model.predict_proba(X[sl]) for sl in batches(X.shape[0], batch_size)])


# --------------------------------------------------------------------------- data


def standardize(X_train: Array, X_test: Array, per_feature: bool = True) -> tuple[Array, Array]:
    """Scale inputs to mean 0 and std 1 using TRAINING statistics only.

    ``per_feature=True`` (MLPs): every feature (pixel) on its own; features with
    std 0 are only centred. ``per_feature=False`` (CNNs): one mean and one std
    for all pixels, so the picture's contrast between pixels is kept.
    """
    if not per_feature:
        mean, std = float(X_train.mean()), float(X_train.std()) or 1.0
        return (X_train - mean) / std, (X_test - mean) / std
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std = np.where(std == 0, 1.0, std)
    return (X_train - mean) / std, (X_test - mean) / std


def prepare_data(
    model: str,
    dataset: str = "digits",
    split_seed: int = 0,
    limit: int | None = None,
    cache_dir: Any = None,
) -> datasets.Split:
    """Load, split and standardize the data for ``model``.

    ``"digits"``: the embedded 8x8 digits, flattened for the MLPs and upsampled
    to ``(n, 1, 28, 28)`` for the CNN, in a stratified 80/20 split drawn with
    ``split_seed``. ``"mnist"``: the official 60,000/10,000 split (downloaded
    once; raises :class:`dlnp.datasets.DatasetUnavailableError` offline).
    ``limit`` keeps only the first ``limit`` samples before splitting (quick
    runs). Inputs are standardized with training statistics only: per pixel
    for the MLPs, one mean and std for the CNN (:func:`standardize`).
    """
    image = model == "cnn"
    if dataset == "mnist":
        X, y = datasets.load_mnist(cache_dir, flatten=not image)
    else:
        X, y = datasets.load_digits(image_size=28 if image else 8, flatten=not image)
    if limit is not None:
        X, y = X[:limit], y[:limit]
    split = datasets.mnist_split(X, y) if dataset == "mnist" else datasets.train_test_split(X, y, seed=split_seed)
    X_train, X_test = standardize(split.X_train, split.X_test, per_feature=not image)
    return datasets.Split(X_train, split.y_train, X_test, split.y_test)
