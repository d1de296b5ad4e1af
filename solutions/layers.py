r"""Layers as objects (chapter 5.1): each layer owns its forward, its backward and its cache.

Every layer has the same two methods:

* ``forward(X)`` computes the output from the input and keeps (caches) whatever the
  backward pass will need;
* ``backward(dout)`` receives $\partial L / \partial(\text{output})$ and returns
  $\partial L / \partial(\text{input})$; a layer with parameters also stores the
  gradients of its parameters (``Linear.dW``, ``Linear.db``).

Losses are objects too: ``forward(prediction, targets) -> float`` and ``backward()``.
``CrossEntropyLoss`` and ``BCELoss`` are fused with their output activation: their
``backward`` returns the gradient with respect to the LOGITS (the input of the final
``Softmax`` / ``Sigmoid``). The factor $1/n$ of the batch mean appears exactly once, in
the loss's ``backward``; ``Linear.backward`` never divides by the batch size.

Shared conventions (graders enforce these):

* arrays are row-major: one sample per row, ``X`` of shape ``(n, d)``; biases ``(1, m)``;
* ``forward`` and ``backward`` never modify their arguments;
* ``backward`` uses the cache of the most recent ``forward`` and never modifies that
  cache, so calling it twice with the same gradient gives the same result twice.
"""

import numpy as np

from ._types import AnyArray, FloatArray
from .activations import sigmoid, softmax

#: Probabilities are clipped to [EPS, 1 - EPS] inside the logs (any eps <= 1e-7 is accepted).
EPS = 1e-12


class Linear:
    r"""Fully connected layer $Z = XW + b$.

    Parameters
    ----------
    in_features : int
        Number of input features $d$.
    out_features : int
        Number of outputs $m$.
    init : {"he", "xavier"}
        Weight initialization, from independent normal draws with mean 0 and

        * ``"he"`` (for ReLU layers): standard deviation $\sqrt{2 / d}$;
        * ``"xavier"`` (Glorot, for tanh/sigmoid layers): standard deviation
          $\sqrt{2 / (d + m)}$.

        Anything else raises ``ValueError``. Graded by its statistics (mean near 0,
        standard deviation within a few percent of the formula for a large layer),
        not by one random stream; the same ``rng`` seed gives the same ``W``.
    rng : numpy.random.Generator, optional
        Source of the random weights (default ``np.random.default_rng()``).

    Attributes
    ----------
    W : array of shape (in_features, out_features)
        Weights, float64.
    b : array of shape (1, out_features)
        Biases, float64, initialized to zeros.
    dW : array of shape (in_features, out_features)
        $\partial L / \partial W$ from the last ``backward`` (zeros before the first).
    db : array of shape (1, out_features)
        $\partial L / \partial b$ from the last ``backward`` (zeros before the first).

    Notes
    -----
    ``backward`` OVERWRITES ``dW`` and ``db``; it never adds to the previous values,
    so gradients do not accumulate from one training step to the next.
    """

    W: FloatArray
    b: FloatArray
    dW: FloatArray  # noqa: N815 (the gradient of W keeps its math name)
    db: FloatArray

    def __init__(
        self,
        in_features: int,
        out_features: int,
        init: str = "he",
        rng: np.random.Generator | None = None,
    ) -> None:
        """Draw ``W`` (see ``init``), set ``b``, ``dW``, ``db`` to zeros, empty the cache."""
        if init == "he":
            std = np.sqrt(2.0 / in_features)
        elif init == "xavier":
            std = np.sqrt(2.0 / (in_features + out_features))
        else:
            raise ValueError(f"init must be 'he' or 'xavier', got {init!r}")
        rng = np.random.default_rng() if rng is None else rng
        self.W = std * rng.standard_normal((in_features, out_features))
        self.b = np.zeros((1, out_features))
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self._X: FloatArray | None = None  # cache: the input of the last forward

    def forward(self, X: FloatArray) -> FloatArray:
        r"""Compute $Z = XW + b$ and cache ``X`` for the backward pass.

        Parameters
        ----------
        X : array of shape (n, in_features)

        Returns
        -------
        Z : array of shape (n, out_features)
        """
        self._X = X
        return X @ self.W + self.b

    def backward(self, dZ: FloatArray) -> FloatArray:
        r"""Backpropagate through $Z = XW + b$ using ``X`` from the last ``forward``.

        $$\frac{\partial L}{\partial W} = X^\top dZ,\qquad
          \frac{\partial L}{\partial b} = \sum_{i=1}^{n} dZ_{i,:},\qquad
          \frac{\partial L}{\partial X} = dZ\, W^\top$$

        ``dZ`` is already the gradient of the batch-MEAN loss (the loss's ``backward``
        divided by $n$), so this method does NOT divide by the batch size again.

        Parameters
        ----------
        dZ : array of shape (n, out_features)
            $\partial L / \partial Z$.

        Returns
        -------
        dX : array of shape (n, in_features)
            $\partial L / \partial X$, computed with the current ``W``.

        Side effects: sets ``self.dW`` (shape of ``W``) and ``self.db`` (shape
        ``(1, out_features)``), replacing (not adding to) their previous values.
        """
        if self._X is None:
            raise RuntimeError("Linear.backward called before forward")
        self.dW = self._X.T @ dZ
        self.db = np.sum(dZ, axis=0, keepdims=True)
        return dZ @ self.W.T


class ReLU:
    r"""Rectified linear unit $A = \max(0, Z)$, element-wise, as a layer.

    ``backward`` lets the gradient through where the cached input was positive:
    $dZ = dA \odot \mathbb{1}[Z > 0]$ (the derivative at exactly 0 is taken as 0).
    """

    def __init__(self) -> None:
        """No parameters: only an empty cache (filled by ``forward``)."""
        self._Z: FloatArray | None = None  # cache: the input of the last forward

    def forward(self, Z: FloatArray) -> FloatArray:
        r"""Return $\max(0, Z)$ and cache ``Z``.

        Parameters
        ----------
        Z : array of shape (n, m)

        Returns
        -------
        array of shape (n, m). ``Z`` is not modified.
        """
        self._Z = Z
        return np.maximum(Z, 0)

    def backward(self, dA: FloatArray) -> FloatArray:
        r"""Return $dZ = dA \odot \mathbb{1}[Z > 0]$ with ``Z`` from the last ``forward``.

        Parameters
        ----------
        dA : array of shape (n, m)
            Gradient with respect to the ReLU's output.

        Returns
        -------
        dZ : array of shape (n, m), a new array (``dA`` is not modified).
        """
        if self._Z is None:
            raise RuntimeError("ReLU.backward called before forward")
        return dA * (self._Z > 0)


class Sigmoid:
    r"""Logistic sigmoid $A = \sigma(Z) = 1 / (1 + e^{-Z})$, element-wise, as a layer.

    Its derivative is a function of its output, $\sigma'(z) = \sigma(z)(1 - \sigma(z))$,
    so the layer caches the OUTPUT $A$. Stable for $|z|$ up to 1000 (no overflow,
    no RuntimeWarning, none silenced: no ``np.errstate``/``np.seterr``/warnings filter).

    As the last layer of a ``Sequential`` it is the output activation of a binary
    classifier and is paired with ``BCELoss``, whose ``backward`` already returns
    the gradient with respect to its input (the logits).
    """

    def __init__(self) -> None:
        """No parameters: only an empty cache (filled by ``forward``)."""
        self._A: FloatArray | None = None  # cache: the output of the last forward

    def forward(self, Z: FloatArray) -> FloatArray:
        r"""Return $\sigma(Z)$ and cache it.

        Parameters
        ----------
        Z : array of shape (n, m)

        Returns
        -------
        array of shape (n, m), entries in $[0, 1]$.
        """
        self._A = sigmoid(Z)
        return self._A

    def backward(self, dA: FloatArray) -> FloatArray:
        r"""Return $dZ = dA \odot A (1 - A)$ with $A$ from the last ``forward``.

        Parameters
        ----------
        dA : array of shape (n, m)

        Returns
        -------
        dZ : array of shape (n, m)
        """
        if self._A is None:
            raise RuntimeError("Sigmoid.backward called before forward")
        return dA * self._A * (1.0 - self._A)


class Tanh:
    r"""Hyperbolic tangent $A = \tanh(Z)$, element-wise, as a layer.

    Like the sigmoid it caches its output: $\tanh'(z) = 1 - \tanh^2(z)$.
    """

    def __init__(self) -> None:
        """No parameters: only an empty cache (filled by ``forward``)."""
        self._A: FloatArray | None = None  # cache: the output of the last forward

    def forward(self, Z: FloatArray) -> FloatArray:
        r"""Return $\tanh(Z)$ and cache it.

        Parameters
        ----------
        Z : array of shape (n, m)

        Returns
        -------
        array of shape (n, m), entries in $[-1, 1]$.
        """
        self._A = np.tanh(Z)
        return self._A

    def backward(self, dA: FloatArray) -> FloatArray:
        r"""Return $dZ = dA \odot (1 - A^2)$ with $A$ from the last ``forward``.

        Parameters
        ----------
        dA : array of shape (n, m)

        Returns
        -------
        dZ : array of shape (n, m)
        """
        if self._A is None:
            raise RuntimeError("Tanh.backward called before forward")
        return dA * (1.0 - self._A**2)


class Softmax:
    r"""Row-wise softmax $S_{ij} = e^{Z_{ij}} / \sum_l e^{Z_{il}}$ as a layer.

    ``backward`` is the exact vector-Jacobian product of softmax. For one row,
    $\partial S_j / \partial Z_l = S_j(\delta_{jl} - S_l)$, so

    $$dZ = S \odot \Big(dS - \sum_l dS_{:,l} S_{:,l}\Big)$$

    where the sum is taken per row (keepdims). It is NOT the identity: a softmax
    followed by a loss that gives $\partial L / \partial S$ is differentiated
    correctly by this method.

    As the last layer of a ``Sequential`` it is the output activation of a
    classifier and is paired with ``CrossEntropyLoss``, whose ``backward`` already
    returns the gradient with respect to the logits (so ``Sequential.backward``
    skips it). Stable for logits up to $|z| = 1000$ (no RuntimeWarning, none silenced).
    """

    def __init__(self) -> None:
        """No parameters: only an empty cache (filled by ``forward``)."""
        self._S: FloatArray | None = None  # cache: the output of the last forward

    def forward(self, Z: FloatArray) -> FloatArray:
        r"""Return the row-wise softmax of ``Z`` and cache it.

        Parameters
        ----------
        Z : array of shape (n, k)
            Logits, one row per sample.

        Returns
        -------
        S : array of shape (n, k); every row sums to 1.
        """
        self._S = softmax(Z)
        return self._S

    def backward(self, dS: FloatArray) -> FloatArray:
        r"""Return $dZ = S \odot (dS - \mathrm{rowsum}(dS \odot S))$.

        Parameters
        ----------
        dS : array of shape (n, k)
            Gradient with respect to the softmax output.

        Returns
        -------
        dZ : array of shape (n, k)
        """
        if self._S is None:
            raise RuntimeError("Softmax.backward called before forward")
        S = self._S
        return S * (dS - np.sum(dS * S, axis=1, keepdims=True))


class CrossEntropyLoss:
    r"""Mean categorical cross-entropy of softmax probabilities, fused with the softmax.

    $$L = -\frac{1}{n} \sum_{i=1}^{n} \sum_{j=1}^{k} Y_{ij} \log P_{ij}$$

    ``backward`` returns the gradient with respect to the LOGITS $Z$ (where
    $P = \mathrm{softmax}(Z)$), not with respect to $P$:

    $$\frac{\partial L}{\partial Z} = \frac{P - Y}{n}$$

    This is the ONLY place where the $1/n$ of the batch mean appears:
    ``Linear.backward`` does not divide again.
    """

    def __init__(self) -> None:
        """No parameters: only an empty cache (filled by ``forward``)."""
        self._P: FloatArray | None = None  # cache: probabilities of the last forward
        self._Y: FloatArray | None = None  # cache: one-hot targets of the last forward

    def forward(self, probs: FloatArray, targets: AnyArray) -> float:
        r"""Return the mean cross-entropy and cache what ``backward`` needs.

        Parameters
        ----------
        probs : array of shape (n, k)
            Class probabilities (softmax outputs), rows sum to 1; entries of
            exactly 0 or 1 are allowed.
        targets : array of shape (n,) or (n, k)
            Either integer class labels in ``0..k-1`` (1-D) or one-hot rows (2-D,
            same shape as ``probs``).

        Returns
        -------
        float
            A scalar (never an array of shape (1,) or (1, 1)): the sum over classes,
            the MEAN over the n samples. Probabilities are clipped to
            $[\epsilon, 1]$ before the log (any $\epsilon \le 10^{-7}$ is accepted),
            so the loss stays finite with no RuntimeWarning.
        """
        targets = np.asarray(targets)
        if targets.ndim == 1:
            Y = np.eye(probs.shape[1])[targets.astype(np.int64)]
        else:
            Y = targets.astype(np.float64)
        self._P, self._Y = probs, Y
        return float(-np.sum(Y * np.log(np.clip(probs, EPS, 1.0))) / probs.shape[0])

    def backward(self) -> FloatArray:
        r"""Return $\partial L / \partial Z = (P - Y) / n$ for the last ``forward``.

        Returns
        -------
        dZ : array of shape (n, k)
            Gradient of the batch-mean loss with respect to the logits (the input
            of the softmax), already divided by the batch size n.
        """
        if self._P is None or self._Y is None:
            raise RuntimeError("CrossEntropyLoss.backward called before forward")
        return (self._P - self._Y) / self._P.shape[0]


class MSELoss:
    r"""Mean squared error over every entry, for regression outputs.

    $$L = \frac{1}{N} \sum (\hat Y - Y)^2, \qquad
      \frac{\partial L}{\partial \hat Y} = \frac{2 (\hat Y - Y)}{N}$$

    where $N$ is the number of entries of $\hat Y$ ($N = n$ for shape ``(n, 1)``).
    Unlike the cross-entropies it is not fused with an activation: ``backward``
    returns the gradient with respect to the prediction itself, so use it with a
    model whose last layer is not ``Softmax`` or ``Sigmoid``.
    """

    def __init__(self) -> None:
        """No parameters: only an empty cache (filled by ``forward``)."""
        self._diff: FloatArray | None = None  # cache: prediction - target

    def forward(self, pred: FloatArray, targets: FloatArray) -> float:
        r"""Return the mean squared error.

        Parameters
        ----------
        pred : array of shape (n, m)
            Predictions.
        targets : array with the same number of entries
            Targets; reshaped to ``pred.shape`` (so ``(n,)`` and ``(n, 1)`` both work).

        Returns
        -------
        float
            A scalar: the mean over all entries.
        """
        self._diff = pred - np.reshape(targets, pred.shape)
        return float(np.mean(self._diff**2))

    def backward(self) -> FloatArray:
        r"""Return $\partial L / \partial \hat Y = 2(\hat Y - Y) / N$ for the last ``forward``.

        Returns
        -------
        array of the shape of ``pred``.
        """
        if self._diff is None:
            raise RuntimeError("MSELoss.backward called before forward")
        return 2.0 * self._diff / self._diff.size


class BCELoss:
    r"""Mean binary cross-entropy of sigmoid probabilities, fused with the sigmoid.

    $$L = -\frac{1}{N} \sum \big[Y \log P + (1 - Y) \log(1 - P)\big]$$

    over the $N$ entries of $P$ ($N = n$ for shape ``(n, 1)``). Like
    ``CrossEntropyLoss``, ``backward`` returns the gradient with respect to the
    LOGITS $Z$ (where $P = \sigma(Z)$):

    $$\frac{\partial L}{\partial Z} = \frac{P - Y}{N}$$

    which avoids dividing by $P(1 - P)$ (zero for saturated probabilities).
    """

    def __init__(self) -> None:
        """No parameters: only an empty cache (filled by ``forward``)."""
        self._P: FloatArray | None = None  # cache: probabilities of the last forward
        self._Y: FloatArray | None = None  # cache: targets of the last forward

    def forward(self, probs: FloatArray, targets: FloatArray) -> float:
        r"""Return the mean binary cross-entropy and cache what ``backward`` needs.

        Parameters
        ----------
        probs : array of shape (n, 1) (or (n, m) for m independent outputs)
            Probabilities of class 1; exactly 0 or 1 is allowed.
        targets : array with the same number of entries, 0 or 1
            Reshaped to ``probs.shape`` (so ``(n,)`` and ``(n, 1)`` both work).

        Returns
        -------
        float
            A scalar: the mean over all entries. Probabilities are clipped to
            $[\epsilon, 1 - \epsilon]$ before the logs (any $\epsilon \le 10^{-7}$
            is accepted): finite, no RuntimeWarning.
        """
        Y = np.reshape(targets, probs.shape).astype(np.float64)
        self._P, self._Y = probs, Y
        P = np.clip(probs, EPS, 1.0 - EPS)
        return float(-np.mean(Y * np.log(P) + (1.0 - Y) * np.log(1.0 - P)))

    def backward(self) -> FloatArray:
        r"""Return $\partial L / \partial Z = (P - Y) / N$ for the last ``forward``.

        Returns
        -------
        dZ : array of the shape of ``probs``
            Gradient of the mean loss with respect to the logits (the input of the
            sigmoid), already divided by the number of entries N.
        """
        if self._P is None or self._Y is None:
            raise RuntimeError("BCELoss.backward called before forward")
        return (self._P - self._Y) / self._P.size
