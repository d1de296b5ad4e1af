r"""A framework of your own (chapter 5.2): models, optimizers, a training loop, checks.

Built on the layers of chapter 5.1 (``solutions.layers``):

* ``Sequential`` chains layers; ``parameters()`` hands the layers that hold
  parameters (objects with ``W``, ``b``, ``dW``, ``db``) to an optimizer;
* ``SGD``, ``Momentum`` and ``Adam`` update those layers in ``step(layers)`` and keep
  one state per parameter array;
* ``fit`` trains with mini-batches, records a history, stops early and follows a
  learning-rate schedule; ``gradient_check`` compares backprop with finite differences;
* ``make_xor`` and ``make_spirals`` make toy data; ``decision_grid`` computes what a
  2-D classifier predicts over the plane, ready for a decision-boundary plot.

Arrays are row-major: ``X`` has shape ``(n_samples, n_features)``.
"""

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._types import AnyArray, FloatArray
from .layers import CrossEntropyLoss, Sigmoid, Softmax

#: Names of the parameter arrays of a layer; the gradient of ``name`` is ``"d" + name``.
_PARAM_NAMES = ("W", "b")


def he_init(fan_in: int, fan_out: int, rng: np.random.Generator | None = None) -> FloatArray:
    r"""He (Kaiming) initialization for layers followed by ReLU.

    $$W_{ij} \sim \mathcal{N}\!\left(0, \frac{2}{\text{fan\_in}}\right)$$

    A ReLU zeroes about half of its inputs, which halves the second moment of the
    signal; the factor 2 compensates, so the scale of the activations stays about
    the same from layer to layer.

    Parameters
    ----------
    fan_in : int
        Number of inputs of the layer.
    fan_out : int
        Number of outputs of the layer.
    rng : numpy.random.Generator, optional
        Source of randomness (default ``np.random.default_rng()``).

    Returns
    -------
    W : array of shape (fan_in, fan_out), float64
        Independent normal draws with mean 0 and standard deviation
        $\sqrt{2 / \text{fan\_in}}$. Graded by its statistics (not one random
        stream); the same ``rng`` seed gives the same ``W``.
    """
    rng = np.random.default_rng() if rng is None else rng
    return np.sqrt(2.0 / fan_in) * rng.standard_normal((fan_in, fan_out))


def xavier_init(fan_in: int, fan_out: int, rng: np.random.Generator | None = None) -> FloatArray:
    r"""Xavier (Glorot) normal initialization for layers followed by tanh or sigmoid.

    $$W_{ij} \sim \mathcal{N}\!\left(0, \frac{2}{\text{fan\_in} + \text{fan\_out}}\right)$$

    The compromise between keeping the forward signal's variance
    ($\mathrm{Var}(W) = 1/\text{fan\_in}$) and the backward gradient's variance
    ($\mathrm{Var}(W) = 1/\text{fan\_out}$).

    Parameters
    ----------
    fan_in : int
    fan_out : int
    rng : numpy.random.Generator, optional
        Source of randomness (default ``np.random.default_rng()``).

    Returns
    -------
    W : array of shape (fan_in, fan_out), float64
        Normal draws with mean 0 and standard deviation
        $\sqrt{2 / (\text{fan\_in} + \text{fan\_out})}$ (graded by its statistics).
    """
    rng = np.random.default_rng() if rng is None else rng
    return np.sqrt(2.0 / (fan_in + fan_out)) * rng.standard_normal((fan_in, fan_out))


class Sequential:
    r"""A model that applies its layers one after the other.

    Parameters
    ----------
    layers : list of layer objects
        Each has ``forward(X) -> A`` and ``backward(dA) -> dX`` (chapter 5.1).
        The list is stored as the attribute ``layers`` (the same objects).

    Notes
    -----
    A classifier ends with its output activation: ``Softmax`` for k classes or
    ``Sigmoid`` for one output, so ``forward`` returns probabilities. That final
    activation is fused with its loss (``CrossEntropyLoss`` / ``BCELoss``), whose
    ``backward`` returns the gradient with respect to the LOGITS; ``backward``
    therefore starts below it (see ``backward``).
    """

    layers: list[Any]

    def __init__(self, layers: Sequence[Any]) -> None:
        """Store ``list(layers)`` as ``self.layers`` (the same layer objects, not copies)."""
        self.layers = list(layers)

    def forward(self, X: FloatArray) -> FloatArray:
        r"""Run ``X`` through every layer in order.

        Parameters
        ----------
        X : array of shape (n, d)

        Returns
        -------
        array of shape (n, k): the output of the last layer (class probabilities
        for a classifier ending in ``Softmax`` or ``Sigmoid``).
        """
        A = X
        for layer in self.layers:
            A = layer.forward(A)
        return A

    def backward(self, grad: FloatArray) -> FloatArray:
        r"""Backpropagate through the layers in reverse order.

        Parameters
        ----------
        grad : array of shape (n, k)
            If the LAST layer is a ``Softmax`` or a ``Sigmoid`` (the output
            activation), ``grad`` is the gradient with respect to its INPUT, the
            logits, as returned by ``CrossEntropyLoss.backward`` / ``BCELoss.backward``;
            that last layer is skipped and backpropagation starts at the layer
            before it. Otherwise ``grad`` is the gradient with respect to the
            model's output (e.g. from ``MSELoss.backward``) and every layer is used.

        Returns
        -------
        dX : array of shape (n, d)
            Gradient with respect to the model's input. As a side effect every
            ``Linear`` layer holds its new ``dW`` and ``db``.
        """
        layers = self.layers
        if layers and isinstance(layers[-1], Softmax | Sigmoid):
            layers = layers[:-1]
        for layer in reversed(layers):
            grad = layer.backward(grad)
        return grad

    def predict(self, X: FloatArray) -> AnyArray:
        r"""Predicted class labels.

        Parameters
        ----------
        X : array of shape (n, d)

        Returns
        -------
        labels : integer array of shape (n,)
            For k >= 2 outputs the index of the largest output in each row (argmax
            along axis 1); for a single output column (a sigmoid probability) 1
            where the output is >= 0.5, else 0.
        """
        out = self.forward(X)
        if out.shape[1] == 1:
            return (out[:, 0] >= 0.5).astype(np.int64)
        return np.argmax(out, axis=1)

    def parameters(self) -> list[Any]:
        r"""The layers that hold parameters, in forward order.

        Returns
        -------
        list
            Every layer that has a ``W`` attribute (here: every ``Linear``), as the
            SAME objects as in ``self.layers`` (not copies), so an optimizer's
            ``step(model.parameters())`` updates the model. Each exposes ``W``, ``b``
            and their gradients ``dW``, ``db``.
        """
        return [layer for layer in self.layers if hasattr(layer, "W")]


class SGD:
    r"""Plain (mini-batch) stochastic gradient descent: $\theta \leftarrow \theta - \eta\, g$.

    Parameters
    ----------
    lr : float
        Learning rate $\eta$, stored as the attribute ``lr`` (``fit`` may change it
        between epochs).
    """

    lr: float

    def __init__(self, lr: float = 0.01) -> None:
        """Store the learning rate as ``self.lr``; plain SGD has no other state."""
        self.lr = lr

    def step(self, layers: Sequence[Any]) -> None:
        r"""Update every parameter of every layer once.

        Parameters
        ----------
        layers : list of layers with attributes ``W``, ``b``, ``dW``, ``db``
            Usually ``model.parameters()``. For each layer, ``W`` becomes
            ``W - lr * dW`` and ``b`` becomes ``b - lr * db``. Gradients are read,
            never modified.
        """
        for layer in layers:
            for name in _PARAM_NAMES:
                param: FloatArray = getattr(layer, name)
                param -= self.lr * getattr(layer, "d" + name)


class Momentum:
    r"""Gradient descent with momentum (the update of chapter 4.5, per parameter).

    For every parameter array $\theta$ with gradient $g$ and its OWN velocity $v$
    (zeros before the first step):

    $$v \leftarrow \beta v - \eta\, g, \qquad \theta \leftarrow \theta + v$$

    Parameters
    ----------
    lr : float
        Learning rate $\eta$ (attribute ``lr``).
    beta : float
        Momentum coefficient $\beta$ (attribute ``beta``).

    Notes
    -----
    The velocity is kept per parameter: one array for each (layer position in the
    list passed to ``step``, parameter name ``"W"``/``"b"``), with the shape of that
    parameter. Two layers never share a velocity. Always pass the same list, in the
    same order (``model.parameters()``).
    """

    lr: float
    beta: float

    def __init__(self, lr: float = 0.01, beta: float = 0.9) -> None:
        """Store ``lr`` and ``beta``; no velocity exists until the first ``step``."""
        self.lr = lr
        self.beta = beta
        self._velocity: dict[tuple[int, str], FloatArray] = {}

    def step(self, layers: Sequence[Any]) -> None:
        r"""Update every parameter of every layer once (see the class docstring).

        Parameters
        ----------
        layers : list of layers with attributes ``W``, ``b``, ``dW``, ``db``
        """
        for i, layer in enumerate(layers):
            for name in _PARAM_NAMES:
                param: FloatArray = getattr(layer, name)
                grad: FloatArray = getattr(layer, "d" + name)
                v = self._velocity.get((i, name), np.zeros_like(param))
                v = self.beta * v - self.lr * grad
                self._velocity[(i, name)] = v
                param += v


class Adam:
    r"""Adam: momentum on the gradient, scaled by a running RMS, with bias correction.

    One step count $t$ for the optimizer; for every parameter $\theta$ with gradient
    $g$ its OWN moments $m, v$ (zeros before the first step):

    $$t \leftarrow t + 1,\quad m \leftarrow \beta_1 m + (1 - \beta_1) g,\quad
      v \leftarrow \beta_2 v + (1 - \beta_2) g^2,$$
    $$\hat m = \frac{m}{1 - \beta_1^t},\quad \hat v = \frac{v}{1 - \beta_2^t},\quad
      \theta \leftarrow \theta - \eta \frac{\hat m}{\sqrt{\hat v} + \epsilon}$$

    Parameters
    ----------
    lr : float
        Learning rate $\eta$ (attribute ``lr``).
    beta1, beta2 : float
        Decay rates of the first and second moments.
    eps : float
        Added to $\sqrt{\hat v}$ (outside the square root).

    Attributes
    ----------
    t : int
        Number of ``step`` calls so far. It is incremented ONCE per ``step`` call
        (not once per parameter), BEFORE the update, so the first step uses
        $t = 1$: its bias correction makes $\hat m = g$, $\hat v = g^2$, and each
        entry moves by almost exactly $\eta$ against the sign of its gradient.

    Notes
    -----
    Moments are kept per parameter, keyed by (layer position in the list passed to
    ``step``, parameter name), like ``Momentum``'s velocity.
    """

    lr: float
    beta1: float
    beta2: float
    eps: float
    t: int

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        """Store the hyperparameters, set ``t = 0``; no moments until the first ``step``."""
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.t = 0
        self._m: dict[tuple[int, str], FloatArray] = {}
        self._v: dict[tuple[int, str], FloatArray] = {}

    def step(self, layers: Sequence[Any]) -> None:
        r"""Update every parameter of every layer once (see the class docstring).

        Parameters
        ----------
        layers : list of layers with attributes ``W``, ``b``, ``dW``, ``db``
        """
        self.t += 1
        for i, layer in enumerate(layers):
            for name in _PARAM_NAMES:
                param: FloatArray = getattr(layer, name)
                grad: FloatArray = getattr(layer, "d" + name)
                key = (i, name)
                m = self.beta1 * self._m.get(key, np.zeros_like(param)) + (1 - self.beta1) * grad
                v = self.beta2 * self._v.get(key, np.zeros_like(param)) + (1 - self.beta2) * grad**2
                self._m[key], self._v[key] = m, v
                m_hat = m / (1 - self.beta1**self.t)
                v_hat = v / (1 - self.beta2**self.t)
                param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def create_batches(
    X: FloatArray,
    y: AnyArray,
    batch_size: int,
    shuffle: bool = True,
    rng: np.random.Generator | None = None,
) -> list[tuple[FloatArray, AnyArray]]:
    r"""Split a data set into mini-batches.

    Parameters
    ----------
    X : array of shape (n, d)
    y : array of shape (n,) or (n, k)
        Targets; row i belongs to sample i.
    batch_size : int
        Number of samples per batch; the last batch holds the remaining
        ``n % batch_size`` samples when that is not 0.
    shuffle : bool
        If True, draw ONE permutation ``perm = rng.permutation(n)`` and take
        consecutive slices of it: batch j holds samples
        ``perm[j * batch_size:(j + 1) * batch_size]``. If False, the same slices of
        ``0..n-1`` (original order) and ``rng`` is not used.
    rng : numpy.random.Generator, optional
        Default ``np.random.default_rng()``.

    Returns
    -------
    list of (X_batch, y_batch) tuples
        ``ceil(n / batch_size)`` batches; every sample appears in exactly one batch,
        with its own target. ``X`` and ``y`` are not modified.
    """
    n = int(X.shape[0])
    if shuffle:
        rng = np.random.default_rng() if rng is None else rng
        order: AnyArray = rng.permutation(n)
    else:
        order = np.arange(n)
    batches: list[tuple[FloatArray, AnyArray]] = []
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        batches.append((X[idx], y[idx]))
    return batches


def step_decay(epoch: int, initial_lr: float = 0.1, drop: float = 0.5, epochs_per_drop: int = 10) -> float:
    r"""Step-decay learning-rate schedule: $\eta_e = \eta_0 \cdot \text{drop}^{\lfloor e / E \rfloor}$.

    Parameters
    ----------
    epoch : int
        Epoch index $e$, counted from 0.
    initial_lr : float
        $\eta_0$, the learning rate of epochs $0 .. E-1$.
    drop : float
        Factor applied every ``epochs_per_drop`` epochs.
    epochs_per_drop : int
        $E$.

    Returns
    -------
    float
        ``initial_lr * drop ** (epoch // epochs_per_drop)``.

    Notes
    -----
    With its defaults it is itself a schedule for ``fit``:
    ``fit(..., schedule=step_decay)`` trains at 0.1 for epochs 0-9, 0.05 for 10-19, ...
    """
    return float(initial_lr * drop ** (epoch // epochs_per_drop))


def _labels(y: AnyArray) -> AnyArray:
    """Integer class labels of targets: 1-D labels, one-hot ``(n, k)`` or binary ``(n, 1)``."""
    y = np.asarray(y)
    if y.ndim == 1:
        return y.astype(np.int64)
    if y.shape[1] == 1:
        return (y[:, 0] >= 0.5).astype(np.int64)
    return np.argmax(y, axis=1)


def _accuracy(model: Sequential, X: FloatArray, y: AnyArray) -> float:
    """Fraction of samples whose ``model.predict`` equals the label of their target."""
    predicted: AnyArray = model.predict(X)
    return float(np.mean(np.equal(predicted, _labels(y))))


def fit(
    model: Sequential,
    X: FloatArray,
    y: AnyArray,
    loss: Any,
    optimizer: Any,
    epochs: int = 100,
    batch_size: int = 32,
    X_val: FloatArray | None = None,
    y_val: AnyArray | None = None,
    patience: int | None = None,
    schedule: Callable[[int], float] | None = None,
    rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    r"""Train ``model`` with mini-batches; return the history of the run.

    Parameters
    ----------
    model : Sequential
    X : array of shape (n, d)
    y : array of shape (n,) (integer labels), (n, k) (one-hot) or (n, 1) (binary)
        Targets in the form ``loss`` expects.
    loss : loss object
        ``CrossEntropyLoss()``, ``BCELoss()`` or ``MSELoss()`` (chapter 5.1).
    optimizer : optimizer object
        ``SGD``, ``Momentum`` or ``Adam``; it has an attribute ``lr``.
    epochs : int
        Maximum number of passes over the data.
    batch_size : int
    X_val, y_val : arrays, optional
        Validation data, evaluated after every epoch.
    patience : int, optional
        Early stopping (needs validation data, else ``ValueError``): stop after
        ``patience`` epochs in a row without a validation loss STRICTLY lower than
        the best so far.
    schedule : callable, optional
        ``schedule(epoch) -> lr``; if given, ``optimizer.lr = schedule(epoch)`` is
        set at the start of every epoch (epochs counted from 0). E.g.
        ``functools.partial(step_decay, initial_lr=0.1)``.
    rng : numpy.random.Generator, optional
        One generator for the whole run (default ``np.random.default_rng()``).

    Returns
    -------
    history : dict
        One entry per epoch that ran, in every list:

        * ``"loss"``: mean of the batch losses of that epoch;
        * ``"train_acc"``: accuracy of ``model.predict(X)`` after the epoch;
        * ``"val_loss"``, ``"val_acc"``: on the validation data after the epoch
          (empty lists without validation data);
        * ``"lr"``: the learning rate used during the epoch;
        * ``"time"``: seconds the epoch took;

        and ``"best_epoch"``: index (from 0) of the epoch with the lowest validation
        loss (the first one, on ties), or None without early stopping.

    Notes
    -----
    One epoch is: set the learning rate from ``schedule``; then, for each batch of
    ``create_batches(X, y, batch_size, shuffle=True, rng=rng)`` (one permutation
    per epoch): ``out = model.forward(Xb)``, ``loss.forward(out, yb)``,
    ``model.backward(loss.backward())``, ``optimizer.step(model.parameters())``.

    With early stopping, when the run ends (stopped early or after ``epochs``
    epochs), every parameter layer's ``W`` and ``b`` are RESTORED to copies of the
    values they had after the best epoch, so the returned model is the one with the
    lowest validation loss. Accuracies compare ``model.predict`` with the labels of
    the targets (argmax of one-hot rows, ``>= 0.5`` of an ``(n, 1)`` column).
    """
    if patience is not None and (X_val is None or y_val is None):
        raise ValueError("early stopping (patience) needs validation data X_val, y_val")
    rng = np.random.default_rng() if rng is None else rng
    history: dict[str, Any] = {
        "loss": [],
        "train_acc": [],
        "val_loss": [],
        "val_acc": [],
        "lr": [],
        "time": [],
        "best_epoch": None,
    }
    best_loss = np.inf
    best_params: list[tuple[FloatArray, FloatArray]] = []
    wait = 0
    for epoch in range(epochs):
        start = time.perf_counter()
        if schedule is not None:
            optimizer.lr = schedule(epoch)
        history["lr"].append(float(optimizer.lr))

        batch_losses: list[float] = []
        for Xb, yb in create_batches(X, y, batch_size, shuffle=True, rng=rng):
            batch_losses.append(float(loss.forward(model.forward(Xb), yb)))
            model.backward(loss.backward())
            optimizer.step(model.parameters())
        history["loss"].append(float(np.mean(batch_losses)))
        history["train_acc"].append(_accuracy(model, X, y))

        stop = False
        if X_val is not None and y_val is not None:
            val_loss = float(loss.forward(model.forward(X_val), y_val))
            history["val_loss"].append(val_loss)
            history["val_acc"].append(_accuracy(model, X_val, y_val))
            if patience is not None:
                if val_loss < best_loss:
                    best_loss, wait = val_loss, 0
                    history["best_epoch"] = epoch
                    best_params = [(p.W.copy(), p.b.copy()) for p in model.parameters()]
                else:
                    wait += 1
                    stop = wait >= patience
        history["time"].append(time.perf_counter() - start)
        if stop:
            break

    if patience is not None and best_params:
        for layer, (W, b) in zip(model.parameters(), best_params, strict=True):
            layer.W, layer.b = W.copy(), b.copy()
    return history


def gradient_check(model: Sequential, X: FloatArray, y: AnyArray, loss: Any = None, h: float = 1e-5) -> float:
    r"""Relative error between backprop gradients and central differences.

    1. Backprop: ``model.backward(loss.backward())`` after
       ``loss.forward(model.forward(X), y)``; keep a copy of every ``dW``, ``db``.
    2. Numerically, for every entry $\theta$ of every ``W`` and ``b`` of
       ``model.parameters()``:
       $(L(\theta + h) - L(\theta - h)) / 2h$ with
       $L = $ ``loss.forward(model.forward(X), y)``; the entry is perturbed in place
       and then restored exactly.
    3. Concatenate all gradients (flattened, in ``parameters()`` order, ``W`` before
       ``b``) into one vector each, $a$ (backprop) and $g$ (numerical), and return
       $\|a - g\| / (\|a\| + \|g\|)$ (0.0 when both are zero).

    Parameters
    ----------
    model : Sequential
    X : array of shape (n, d)
    y : targets as ``loss`` expects
    loss : loss object, optional
        Default ``CrossEntropyLoss()`` (the model should end with ``Softmax``);
        pass ``BCELoss()`` for a ``Sigmoid`` output, ``MSELoss()`` for regression.
    h : float
        Finite-difference step.

    Returns
    -------
    float
        The relative error. A correct backprop in float64 gives well below 1e-6
        (typically 1e-9 .. 1e-11; a ReLU input landing within h of 0 can raise it);
        a wrong one gives more than 1e-3. On return every parameter holds exactly
        its original value.
    """
    loss = CrossEntropyLoss() if loss is None else loss
    layers = model.parameters()

    loss.forward(model.forward(X), y)
    model.backward(loss.backward())
    analytic = [getattr(layer, "d" + name).ravel().copy() for layer in layers for name in _PARAM_NAMES]

    numeric: list[FloatArray] = []
    for layer in layers:
        for name in _PARAM_NAMES:
            theta: FloatArray = getattr(layer, name)
            grad = np.zeros(theta.shape)
            for idx in np.ndindex(theta.shape):
                original = theta[idx]
                theta[idx] = original + h
                loss_plus = loss.forward(model.forward(X), y)
                theta[idx] = original - h
                loss_minus = loss.forward(model.forward(X), y)
                theta[idx] = original
                grad[idx] = (loss_plus - loss_minus) / (2.0 * h)
            numeric.append(grad.ravel())

    a, g = np.concatenate(analytic), np.concatenate(numeric)
    denom = float(np.linalg.norm(a) + np.linalg.norm(g))
    return 0.0 if denom == 0.0 else float(np.linalg.norm(a - g) / denom)


def make_xor(
    n_samples: int = 200, noise: float = 0.1, rng: np.random.Generator | None = None
) -> tuple[FloatArray, FloatArray]:
    r"""The XOR problem: four clusters at the corners of the unit square.

    Sample i sits at corner ``i % 4`` of ``[[0, 0], [0, 1], [1, 0], [1, 1]]``
    (the truth-table order) plus Gaussian noise, and its label is the XOR of the
    corner's two bits: 0, 1, 1, 0. No straight line separates the classes.

    Parameters
    ----------
    n_samples : int
        Number of samples (``make_xor(4, noise=0.0)`` is exactly the truth table).
    noise : float
        Standard deviation of the noise added to each coordinate
        (``noise * rng.standard_normal((n_samples, 2))``).
    rng : numpy.random.Generator, optional
        Default ``np.random.default_rng()``.

    Returns
    -------
    X : array of shape (n_samples, 2), float64
    y : array of shape (n_samples, 1), float64 of 0.0 and 1.0
        The label of the CORNER (not of the noisy point).
    """
    rng = np.random.default_rng() if rng is None else rng
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    which = np.arange(n_samples) % 4
    X = corners[which] + noise * rng.standard_normal((n_samples, 2))
    y = np.array([0.0, 1.0, 1.0, 0.0])[which].reshape(-1, 1)
    return X, y


def make_spirals(
    n_per_class: int = 100,
    n_classes: int = 3,
    noise: float = 0.2,
    rng: np.random.Generator | None = None,
) -> tuple[FloatArray, FloatArray]:
    r"""Interleaved spiral arms, one per class: a classic non-linear toy problem.

    Class $j$ occupies rows ``j * n_per_class`` to ``(j + 1) * n_per_class - 1``.
    Its points have radius $r$ = ``np.linspace(0, 1, n_per_class)`` (exactly: the
    noise only touches the angle) and angle
    $t$ = ``np.linspace(4 * j, 4 * (j + 1), n_per_class)`` plus
    ``noise * rng.standard_normal(n_per_class)``; the point is
    $(r \sin t,\ r \cos t)$.

    Parameters
    ----------
    n_per_class : int
    n_classes : int
    noise : float
        Standard deviation of the angle noise, in radians.
    rng : numpy.random.Generator, optional
        Default ``np.random.default_rng()``.

    Returns
    -------
    X : array of shape (n_classes * n_per_class, 2), float64
    Y : array of shape (n_classes * n_per_class, n_classes), float64
        One-hot targets.
    """
    rng = np.random.default_rng() if rng is None else rng
    r = np.linspace(0.0, 1.0, n_per_class)
    X = np.zeros((n_classes * n_per_class, 2))
    for j in range(n_classes):
        t = np.linspace(4.0 * j, 4.0 * (j + 1), n_per_class)
        t = t + noise * rng.standard_normal(n_per_class)
        X[j * n_per_class : (j + 1) * n_per_class] = np.column_stack([r * np.sin(t), r * np.cos(t)])
    Y = np.eye(n_classes)[np.repeat(np.arange(n_classes), n_per_class)]
    return X, Y


def decision_grid(
    model: Sequential, X: FloatArray, resolution: int = 200, margin: float = 0.5
) -> tuple[FloatArray, FloatArray, AnyArray]:
    r"""Predicted class on a regular grid covering 2-D data (for decision-boundary plots).

    Parameters
    ----------
    model : Sequential
        A classifier with 2 input features.
    X : array of shape (n, 2)
        The data the grid must cover.
    resolution : int
        Number of grid points along each axis.
    margin : float
        The grid spans ``[min - margin, max + margin]`` of each column of ``X``.

    Returns
    -------
    xx, yy : arrays of shape (resolution, resolution)
        ``np.meshgrid`` of ``np.linspace`` over the first and second feature
        (``xx`` varies along axis 1, ``yy`` along axis 0).
    labels : integer array of shape (resolution, resolution)
        ``model.predict`` of the grid point ``(xx[i, j], yy[i, j])``.

    Notes
    -----
    A decision-boundary plot saved to a PNG with matplotlib's file-only Agg backend
    (``matplotlib.figure.Figure`` needs no window and no pyplot)::

        from matplotlib.figure import Figure

        xx, yy, labels = decision_grid(model, X)
        fig = Figure(figsize=(6, 5))
        ax = fig.add_subplot()
        ax.contourf(xx, yy, labels, alpha=0.35)
        ax.scatter(X[:, 0], X[:, 1], c=model.predict(X), edgecolors="k")
        fig.savefig("boundary.png")
    """
    lo: FloatArray = X.min(axis=0) - margin
    hi: FloatArray = X.max(axis=0) + margin
    xx, yy = np.meshgrid(
        np.linspace(float(lo[0]), float(hi[0]), resolution),
        np.linspace(float(lo[1]), float(hi[1]), resolution),
    )
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    return xx, yy, model.predict(grid).reshape(xx.shape)
