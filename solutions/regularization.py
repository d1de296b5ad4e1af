"""Regularization: L2 weight decay and inverted dropout (chapter 4.4)."""

import numpy as np

from ._types import FloatArray


def l2_regularization(W: FloatArray, lambda_: float) -> float:
    r"""L2 penalty of one weight matrix: $\lambda \sum_{ij} W_{ij}^2$.

    Added to the data loss, $L = L_\text{data} + \lambda \sum W^2$, it pulls the
    weights towards zero. This kit uses NO factor 1/2 (some books write
    $\frac{\lambda}{2} \sum W^2$; here the penalty is exactly ``lambda_ * sum(W**2)``).

    Parameters
    ----------
    W : array of any shape
        Weights (biases are usually not penalized).
    lambda_ : float
        Regularization strength, ``>= 0``.

    Returns
    -------
    float
        A scalar (Python ``float`` or NumPy floating scalar, never an array of
        shape ``(1,)``). ``W`` is not modified.
    """
    return float(lambda_ * np.sum(W * W))


def l2_gradient(W: FloatArray, lambda_: float) -> FloatArray:
    r"""Gradient of :func:`l2_regularization`: $\partial(\lambda \sum W^2)/\partial W = 2 \lambda W$.

    Parameters
    ----------
    W : array of any shape
        Weights.
    lambda_ : float
        Regularization strength.

    Returns
    -------
    array, same shape as ``W``
        ``2 * lambda_ * W`` (the factor 2 matches the penalty without 1/2).
        ``W`` is not modified.
    """
    return 2.0 * lambda_ * W


def dropout(A: FloatArray, p: float, rng: np.random.Generator | None = None) -> tuple[FloatArray, FloatArray]:
    r"""Inverted dropout: keep each activation with probability ``p``, rescale by 1/p.

    .. math::

        \mathrm{mask}_{ij} \sim \mathrm{Bernoulli}(p),\qquad
        A_\text{drop} = A \odot \mathrm{mask} / p

    Dividing by $p$ keeps the expected value of every activation unchanged,
    $\mathbb{E}[A_\text{drop}] = A$, so nothing has to be rescaled at test
    time (where dropout is simply not applied).

    Parameters
    ----------
    A : array of any shape
        Activations during training.
    p : float
        KEEP probability, ``0 < p <= 1`` (``p = 0.8`` keeps about 80 % of the
        entries and drops about 20 %; ``p = 1`` keeps everything).
    rng : numpy.random.Generator, optional
        Source of randomness; ``None`` uses ``np.random.default_rng()``. The
        same seed gives the same mask.

    Returns
    -------
    A_drop : array, same shape as ``A``
        ``A * mask / p``.
    mask : array, same shape as ``A``
        1 where the entry is kept and 0 where it is dropped (float or bool
        dtype); on average a fraction ``p`` of the entries are 1.

    Raises
    ------
    ValueError
        If ``p`` is not in ``(0, 1]``.

    Notes
    -----
    ``A`` is not modified. Backward pass: ``dA = dA_drop * mask / p``.
    """
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p is the keep probability and must be in (0, 1], got {p}")
    rng = np.random.default_rng() if rng is None else rng
    mask = (rng.random(A.shape) < p).astype(A.dtype)
    return A * mask / p, mask
