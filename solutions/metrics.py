"""Classification accuracy (chapter 4.5)."""

import numpy as np

from ._types import AnyArray


def _labels(a: AnyArray) -> AnyArray:
    """Class labels of a prediction or target array (see :func:`accuracy`)."""
    a = np.asarray(a)
    if a.ndim == 1:
        return a
    if a.ndim == 2 and a.shape[1] == 1:
        return (a[:, 0] >= 0.5).astype(np.int64)
    if a.ndim == 2:
        return np.argmax(a, axis=1)
    raise ValueError(f"expected a 1-D or 2-D array, got shape {a.shape}")


def accuracy(y_pred: AnyArray, y: AnyArray) -> float:
    r"""Fraction of correctly classified samples: $\mathrm{correct} / \mathrm{total}$.

    Each argument is turned into one label per sample on its own, by its shape:

    * 2-D ``(n, k)`` with ``k >= 2`` (probabilities, scores or one-hot): the
      label is the column of the largest entry, ``argmax`` along axis 1 (the
      class axis; the first one on ties);
    * 2-D ``(n, 1)`` (binary probabilities or 0/1 targets): label 1 where the
      value is ``>= 0.5``, else 0;
    * 1-D ``(n,)``: the entries already are the labels.

    So ``accuracy(probs, one_hot)``, ``accuracy(probs, labels)`` and
    ``accuracy(labels, labels)`` all work.

    Parameters
    ----------
    y_pred : array, shape (n, k), (n, 1) or (n,)
        Predictions.
    y : array, shape (n, k), (n, 1) or (n,)
        True targets.

    Returns
    -------
    float
        The fraction in ``[0, 1]`` (not a count, not a percentage).

    Raises
    ------
    ValueError
        If the two arguments do not describe the same number of samples
        ``n >= 1``.
    """
    pred, true = _labels(y_pred), _labels(y)
    if pred.shape != true.shape or pred.shape[0] == 0:
        raise ValueError(
            f"y_pred {np.shape(y_pred)} and y {np.shape(y)} must describe the same number of samples (at least one)"
        )
    return float(np.mean(np.equal(pred, true)))
