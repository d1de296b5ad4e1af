"""Activation functions: sigmoid (chapter 1.3), ReLU and softmax (chapter 3.2)."""

import numpy as np

from ._types import FloatArray


def sigmoid(Z: FloatArray) -> FloatArray:
    r"""Apply the logistic sigmoid element-wise: $\sigma(z) = 1 / (1 + e^{-z})$.

    Parameters
    ----------
    Z : array of any shape
        Pre-activations.

    Returns
    -------
    array of the same shape as ``Z``, every entry in $[0, 1]$.

    Notes
    -----
    Numerically stable: no overflow and no RuntimeWarning for $|z|$ up to 1000.
    Warnings are avoided, not silenced: no ``np.errstate``/``np.seterr``/warnings filter that ignores them.
    For $z \ge 0$ it evaluates $1 / (1 + e^{-z})$, for $z < 0$ the equal form
    $e^{z} / (1 + e^{z})$, so ``exp`` only ever sees non-positive numbers.
    ``Z`` is not modified.
    """
    Z = np.asarray(Z)
    E = np.exp(-np.abs(Z))  # e^{-|z|} is in (0, 1]: never overflows
    return np.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E))


def relu(Z: FloatArray) -> FloatArray:
    r"""Rectified linear unit, element-wise: $\mathrm{ReLU}(z) = \max(0, z)$.

    Parameters
    ----------
    Z : array of any shape
        Pre-activations.

    Returns
    -------
    array of the same shape as ``Z``. ``Z`` is not modified.
    """
    return np.maximum(Z, 0)


def relu_derivative(Z: FloatArray) -> FloatArray:
    r"""Derivative of ReLU, element-wise: 1 where $z > 0$, else 0 (also at $z = 0$).

    Parameters
    ----------
    Z : array of any shape
        Pre-activations (the ReLU's input, not its output).

    Returns
    -------
    float array of the same shape and the same dtype as ``Z`` (float32 in,
    float32 out), holding 1.0 where ``Z > 0`` and 0.0 elsewhere.
    """
    Z = np.asarray(Z)
    dtype = Z.dtype if np.issubdtype(Z.dtype, np.floating) else np.float64
    return (Z > 0).astype(dtype)


def softmax(Z: FloatArray) -> FloatArray:
    r"""Softmax along the last axis: $\mathrm{softmax}(z)_j = e^{z_j} / \sum_l e^{z_l}$.

    Parameters
    ----------
    Z : array of shape (n, k) (or (k,))
        Logits; for ``(n, k)`` each ROW is one sample and is normalized on its own.

    Returns
    -------
    array of the same shape as ``Z``: every entry in $[0, 1]$ and every row
    (every slice along the last axis) sums to 1.

    Notes
    -----
    Softmax does not change when a constant is subtracted from a row, so the row
    maximum is subtracted first: every exponent is then $\le 0$ and nothing
    overflows, even for logits of magnitude 1000 (no RuntimeWarning, none silenced:
    no ``np.errstate``/``np.seterr``/warnings filter). ``Z`` is not modified.
    """
    shifted = Z - np.max(Z, axis=-1, keepdims=True)
    E = np.exp(shifted)
    return E / np.sum(E, axis=-1, keepdims=True)
