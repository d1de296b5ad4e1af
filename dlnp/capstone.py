"""The capstone of chapter 4.5: train a network with YOUR functions and report its accuracy.

Everything that computes something the chapters teach is the student's own
code, imported from their package (``neural_network`` in a release):
the forward and backward passes (``forward_mlp``/``backward_mlp``, the 3-layer
versions, or ``conv_forward``/``relu``/``max_pool``/``softmax`` and their
backward functions), the loss (``cross_entropy``), the update
(``momentum_update``, then ``W += v``), the optional L2 term (``l2_gradient``)
and the metric (``accuracy``). This module only loads the digits, initializes
the weights, shuffles mini-batches, and checks what comes back: a gradient
with the wrong shape or a loss that turns into NaN stops the run with a
message that names the function to look at.

It runs in the student's own process, on their own machine: nothing here is
graded, and no reference code is involved (``--package solutions`` runs the
kit's reference instead, which is how the kit tests this module).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlnp import datasets
from dlnp.manifest import load_manifest, parse_stub_label

Array = NDArray[Any]
MODELS = ("mlp", "mlp3", "cnn")



def chapter_of(function: str) -> str:
    """The chapter that teaches ``function``, from the manifest (``"?"`` if none)."""
    try:
        return load_manifest().chapter_of(function)
    except (KeyError, FileNotFoundError):
        return "?"


class CapstoneError(RuntimeError):
    """The run cannot go on; the message says which function to look at."""


@dataclass
class CapstoneConfig:
    """Hyper-parameters of a capstone run (the defaults reach about 97% on digits)."""

    model: str = "mlp"
    epochs: int = 30
    batch_size: int = 32
    lr: float = 0.01
    mu: float = 0.9
    l2: float = 0.0
    hidden: int = 256
    hidden2: int = 128
    filters: int = 8
    seed: int = 0
    split_seed: int = 0


@dataclass
class CapstoneReport:
    """What a run produced: the figures to hand in."""

    config: CapstoneConfig
    package: str
    train_samples: int
    test_samples: int
    train_loss: list[float] = field(default_factory=list[float])
    test_accuracy: list[float] = field(default_factory=list[float])
    seconds: float = 0.0

    @property
    def final_accuracy(self) -> float:
        return self.test_accuracy[-1] if self.test_accuracy else float("nan")

    def to_json(self) -> str:
        data = asdict(self)
        data["final_test_accuracy"] = self.final_accuracy
        return json.dumps(data, indent=2) + "\n"


class Library:
    """The student's functions, looked up by name in their package's modules."""

    MODULES = ("activations", "losses", "mlp", "deep", "conv", "pooling", "regularization", "momentum", "metrics")

    def __init__(self, package: str) -> None:
        self.package = package
        import_module(package)  # ModuleNotFoundError if the package is not there at all
        self.modules: list[ModuleType] = []
        for name in self.MODULES:
            try:
                self.modules.append(import_module(f"{package}.{name}"))
            except ModuleNotFoundError as exc:
                if exc.name == f"{package}.{name}":
                    continue
                raise

    def __getattr__(self, name: str) -> Callable[..., Any]:
        for module in self.modules:
            if hasattr(module, name):
                return _named(getattr(module, name), name)
        where = chapter_of(name)
        raise CapstoneError(f"{self.package} has no function {name} (chapter {where})")


def _named(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``fn``, with a stub's NotImplementedError turned into a clear CapstoneError."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NotImplementedError as exc:
            # A stub says "ch3.2: implement relu"; it may be a function that ``name`` calls.
            label = parse_stub_label(str(exc))
            chapter, stub = label if label else (chapter_of(name), name)
            via = "" if stub == name else f" (called by {name})"
            raise CapstoneError(
                f"the capstone needs {stub} from chapter {chapter}{via}, which is still a stub. "
                f"Implement it, then run `dlnp check {chapter}`."
            ) from None

    return call


def _he(rng: np.random.Generator, fan_in: int, shape: tuple[int, ...]) -> Array:
    return rng.normal(size=shape) * math.sqrt(2.0 / fan_in)


def _check_grads(grads: dict[str, Array], params: dict[str, Array], source: str) -> None:
    for name, param in params.items():
        grad = np.asarray(grads[name])
        if grad.shape != param.shape:
            raise CapstoneError(
                f"{source} returned the gradient of {name} with shape {grad.shape}, but {name} has shape "
                f"{param.shape}: a gradient has the shape of its parameter (run `dlnp check "
                f"{chapter_of(source)}`)"
            )


class _Model:
    params: dict[str, Array]

    def probs(self, X: Array) -> Array:
        raise NotImplementedError

    def grads(self, X: Array, Y: Array) -> dict[str, Array]:
        raise NotImplementedError


class _MLP(_Model):
    def __init__(self, lib: Library, d: int, config: CapstoneConfig, k: int, rng: np.random.Generator) -> None:
        self.lib, h = lib, config.hidden
        self.params = {"W1": _he(rng, d, (d, h)), "b1": np.zeros((1, h)),
                       "W2": _he(rng, h, (h, k)), "b2": np.zeros((1, k))}

    def probs(self, X: Array) -> Array:
        p = self.params
        return self.lib.forward_mlp(X, p["W1"], p["b1"], p["W2"], p["b2"])[1]

    def grads(self, X: Array, Y: Array) -> dict[str, Array]:
        p = self.params
        A1, A2 = self.lib.forward_mlp(X, p["W1"], p["b1"], p["W2"], p["b2"])
        Z1 = X @ p["W1"] + p["b1"]
        g = self.lib.backward_mlp(X, A1, A2, Y, p["W1"], p["W2"], Z1)
        grads: dict[str, Array] = dict(zip(("W1", "b1", "W2", "b2"), g, strict=True))
        _check_grads(grads, p, "backward_mlp")
        return grads


class _MLP3(_Model):
    def __init__(self, lib: Library, d: int, config: CapstoneConfig, k: int, rng: np.random.Generator) -> None:
        self.lib, h1, h2 = lib, config.hidden, config.hidden2
        self.params = {"W1": _he(rng, d, (d, h1)), "b1": np.zeros((1, h1)),
                       "W2": _he(rng, h1, (h1, h2)), "b2": np.zeros((1, h2)),
                       "W3": _he(rng, h2, (h2, k)), "b3": np.zeros((1, k))}

    def _forward(self, X: Array) -> tuple[Array, Array, Array]:
        p = self.params
        return self.lib.forward_mlp_3layer(X, p["W1"], p["b1"], p["W2"], p["b2"], p["W3"], p["b3"])

    def probs(self, X: Array) -> Array:
        return self._forward(X)[2]

    def grads(self, X: Array, Y: Array) -> dict[str, Array]:
        p = self.params
        A1, A2, A3 = self._forward(X)
        Z1 = X @ p["W1"] + p["b1"]
        Z2 = A1 @ p["W2"] + p["b2"]
        g = self.lib.backward_mlp_3layer(X, A1, A2, A3, Y, p["W1"], p["W2"], p["W3"], Z1, Z2)
        grads: dict[str, Array] = dict(zip(("W1", "b1", "W2", "b2", "W3", "b3"), g, strict=True))
        _check_grads(grads, p, "backward_mlp_3layer")
        return grads


class _CNN(_Model):
    """conv (F filters 3x3) -> ReLU -> 2x2 max-pool -> dense -> softmax."""

    def __init__(self, lib: Library, shape: tuple[int, ...], config: CapstoneConfig, k: int,
                 rng: np.random.Generator) -> None:
        C, H, W = shape
        F = config.filters
        flat = F * ((H - 2) // 2) * ((W - 2) // 2)
        self.lib = lib
        self.params = {"K": _he(rng, C * 9, (F, C, 3, 3)), "bK": np.zeros(F),
                       "W": _he(rng, flat, (flat, k)), "b": np.zeros((1, k))}

    def _forward(self, X: Array) -> tuple[Array, Array, Array, Array]:
        p, lib = self.params, self.lib
        Z = lib.conv_forward(X, p["K"], p["bK"])
        A = lib.relu(Z)
        pooled = lib.max_pool(A, 2)
        probs = lib.softmax(pooled.reshape(X.shape[0], -1) @ p["W"] + p["b"])
        return Z, A, pooled, probs

    def probs(self, X: Array) -> Array:
        return self._forward(X)[3]

    def grads(self, X: Array, Y: Array) -> dict[str, Array]:
        p, lib = self.params, self.lib
        Z, A, pooled, probs = self._forward(X)
        flat = pooled.reshape(X.shape[0], -1)
        # The dense softmax layer, as in chapter 3.4: dZ = (probs - Y) / n.
        d_logits = (probs - Y) / X.shape[0]
        d_pooled = (d_logits @ p["W"].T).reshape(pooled.shape)
        dA = lib.max_pool_backward(d_pooled, A, 2)
        dZ = dA * lib.relu_derivative(Z)
        _, dK, dbK = lib.conv_backward(dZ, X, p["K"])
        grads = {"K": dK, "bK": dbK, "W": flat.T @ d_logits, "b": d_logits.sum(axis=0, keepdims=True)}
        _check_grads(grads, p, "conv_backward")
        return grads


def _batches(n: int, size: int, rng: np.random.Generator) -> Iterator[Array]:
    order = rng.permutation(n)
    for start in range(0, n, size):
        yield order[start : start + size]


def _standardize(X_train: Array, X_test: Array, per_feature: bool) -> tuple[Array, Array]:
    axis = 0 if per_feature else None
    mean, std = X_train.mean(axis=axis), X_train.std(axis=axis)
    std = np.where(std == 0, 1.0, std)
    return (X_train - mean) / std, (X_test - mean) / std


def run_capstone(
    config: CapstoneConfig,
    package: str = "neural_network",
    on_epoch: Callable[[int, CapstoneReport], None] | None = None,
    limit: int | None = None,
) -> CapstoneReport:
    """Train ``config.model`` on the embedded digits with ``package``'s functions.

    ``limit`` keeps only the first ``limit`` digits (quick runs). Raises
    :class:`CapstoneError` when a needed function is a stub or misbehaves.
    """
    if config.model not in MODELS:
        raise CapstoneError(f"unknown model {config.model!r}; choose one of {MODELS}")
    lib = Library(package)
    image = config.model == "cnn"
    X, y = datasets.load_digits(image_size=28 if image else 8, flatten=not image)
    if limit is not None:
        X, y = X[:limit], y[:limit]
    split = datasets.train_test_split(X, y, seed=config.split_seed)
    X_train, X_test = _standardize(split.X_train, split.X_test, per_feature=not image)
    k = 10
    Y_train = datasets.one_hot(split.y_train, k)
    rng = np.random.default_rng(config.seed)
    model: _Model
    if config.model == "cnn":
        model = _CNN(lib, X_train.shape[1:], config, k, rng)
    elif config.model == "mlp3":
        model = _MLP3(lib, X_train.shape[1], config, k, rng)
    else:
        model = _MLP(lib, X_train.shape[1], config, k, rng)
    velocity = {name: np.zeros_like(w) for name, w in model.params.items()}
    report = CapstoneReport(config, package, len(X_train), len(X_test))
    start = time.perf_counter()
    for epoch in range(config.epochs):
        for rows in _batches(len(X_train), config.batch_size, rng):
            grads = model.grads(X_train[rows], Y_train[rows])
            for name, w in model.params.items():
                grad = grads[name]
                if config.l2 and not name.startswith("b"):
                    grad = grad + lib.l2_gradient(w, config.l2)
                velocity[name] = np.asarray(lib.momentum_update(velocity[name], grad, config.mu, config.lr))
                w += velocity[name]
        loss = float(lib.cross_entropy(model.probs(X_train), Y_train))
        if not math.isfinite(loss):
            raise CapstoneError(
                f"the training loss became {loss} in epoch {epoch + 1}: check that softmax subtracts the row "
                f"maximum and cross_entropy clips its input, or lower the learning rate (--lr)"
            )
        report.train_loss.append(loss)
        report.test_accuracy.append(float(lib.accuracy(model.probs(X_test), split.y_test)))
        if on_epoch is not None:
            on_epoch(epoch, report)
    report.seconds = time.perf_counter() - start
    return report


def save_report(report: CapstoneReport, out: Path) -> list[Path]:
    """``report.json`` and ``curves.png`` (training loss and test accuracy per epoch)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(report.to_json())
    epochs = np.arange(1, len(report.train_loss) + 1)
    fig: Any
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, report.train_loss)
    left.set(xlabel="epoch", ylabel="cross-entropy", title="training loss")
    right.plot(epochs, report.test_accuracy)
    right.set(xlabel="epoch", ylabel="accuracy", title=f"test accuracy (final {report.final_accuracy:.3f})")
    fig.suptitle(f"capstone: {report.config.model} trained with the functions of {report.package}")
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=100)
    plt.close(fig)
    return [out / "report.json", out / "curves.png"]
