"""NumPy basics: a layer's output (chapter 0), normalization (1.1), matrix products (1.2)."""

import numpy as np

from ._types import FloatArray


def layer_output(X: FloatArray, W: FloatArray) -> FloatArray:
    r"""Output of a layer without bias or activation: $Z = XW$.

    Parameters
    ----------
    X : array of shape (n, d)
        Inputs, one sample per row.
    W : array of shape (d, m)
        Weights, one column per output unit.

    Returns
    -------
    array of shape (n, m). Inputs are not modified.
    """
    return X @ W


def normalize(X: FloatArray) -> FloatArray:
    r"""Standardize every column (feature) to mean 0 and standard deviation 1.

    $$x'_{ij} = \frac{x_{ij} - \mu_j}{\sigma_j}, \qquad
      \mu_j = \frac{1}{n}\sum_i x_{ij}, \qquad
      \sigma_j = \sqrt{\frac{1}{n}\sum_i (x_{ij} - \mu_j)^2}$$

    Parameters
    ----------
    X : array of shape (n, d), or (n,)
        Data, one sample per row. A 1-D array is one feature (n samples).

    Returns
    -------
    array of the same shape as ``X``.

    Notes
    -----
    * Statistics are per column (``axis=0``), not over the whole array.
    * $\sigma_j$ is the population standard deviation (``ddof=0``, ``np.std``'s
      default), not the sample one (``ddof=1``).
    * A column whose standard deviation is exactly 0 is only centred (its values
      become 0): dividing by zero would give NaN.
    * ``X`` is not modified.
    """
    X = np.asarray(X)
    mean = np.mean(X, axis=0)
    std = np.std(X, axis=0)
    safe_std = np.where(std == 0, 1.0, std)
    return (X - mean) / safe_std


def matrix_multiply(X: FloatArray, W: FloatArray) -> FloatArray:
    r"""Matrix product $XW$ with a friendly error when the shapes do not fit.

    Parameters
    ----------
    X : array of shape (n, d)
    W : array of shape (d, m)

    Returns
    -------
    array of shape (n, m).

    Raises
    ------
    ValueError
        When ``X.shape[1] != W.shape[0]``; the message contains both shapes,
        written as ``str(X.shape)`` and ``str(W.shape)``, e.g.
        ``"cannot multiply X of shape (4, 3) by W of shape (2, 2)"``.
    """
    if X.ndim != 2 or W.ndim != 2 or X.shape[1] != W.shape[0]:
        raise ValueError(
            f"cannot multiply X of shape {X.shape} by W of shape {W.shape}: "
            "the number of columns of X must equal the number of rows of W"
        )
    return X @ W
