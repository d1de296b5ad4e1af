"""The graders' shared toolbox: trusted numerics every hidden grader and reference test uses.

One place for what used to be copied from grader to grader (issue 10): the array alias,
central finite differences, one-hot labels, a stable softmax, the sigmoid, and the check
of a weight initializer's statistics. It runs on the trusted side only and is never
shipped to students (chapter 2.4 asks them to write finite differences themselves).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlnp.testing import Feedback

__all__ = [
    "Array",
    "central_differences",
    "check_init_statistics",
    "numeric_gradient",
    "one_hot",
    "random_one_hot",
    "sigmoid",
    "stable_softmax",
]

#: Any NumPy array (the graders' annotation; the reference uses solutions._types).
Array = np.ndarray[Any, Any]


def central_differences(loss: Callable[[], float], params: Sequence[Array], step: float = 1e-6) -> list[Array]:
    r"""Central differences of the scalar ``loss()`` with respect to every entry of every array in ``params``.

    ``loss`` reads the arrays of ``params`` (it closes over them); each entry is
    perturbed in place by :math:`\pm` ``step`` and restored, so the arrays are unchanged
    afterwards (CS231n's ``eval_numerical_gradient``). The error is :math:`O(h^2)`:
    with ``step = 1e-6`` and smooth float64 losses of order 1, about 1e-9.

    Returns one float64 gradient array per parameter, in the order of ``params``.
    """
    grads: list[Array] = []
    for p in params:
        g = np.zeros(p.shape, dtype=np.float64)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + step
            plus = float(loss())
            p[idx] = old - step
            minus = float(loss())
            p[idx] = old
            g[idx] = (plus - minus) / (2 * step)
        grads.append(g)
    return grads


def numeric_gradient(loss: Callable[[], float], x: Array, step: float = 1e-6) -> Array:
    """Central differences of ``loss()`` with respect to the one array ``x`` (perturbed in place, restored)."""
    return central_differences(loss, [x], step)[0]


def one_hot(labels: Array, k: int) -> Array:
    """One-hot rows of shape ``(n, k)`` (float64) for integer ``labels`` of shape ``(n,)``."""
    return np.eye(k)[np.asarray(labels, dtype=np.int64)]


def random_one_hot(rng: np.random.Generator, n: int, k: int) -> Array:
    """``n`` one-hot rows over ``k`` classes, labels drawn uniformly from ``rng``."""
    return one_hot(rng.integers(0, k, size=n), k)


def stable_softmax(Z: Array, axis: int | None = -1) -> Array:
    """Softmax along ``axis`` (``None``: over the whole array), shifted by the max: never overflows."""
    Z = np.asarray(Z, dtype=np.float64)
    E = np.exp(Z - np.max(Z, axis=axis, keepdims=True))
    return E / np.sum(E, axis=axis, keepdims=True)


def sigmoid(Z: Array) -> Array:
    """The logistic function in float64, stable for any ``Z`` (only ``exp(-|z|)`` is evaluated)."""
    Z = np.asarray(Z, dtype=np.float64)
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E))


#: (name, std such a mistake gives, message) for a weight initializer of shape (fan_in, fan_out).
InitCandidate = tuple[str, float, str]


def check_init_statistics(W: Any, want_std: float, *, call: str,
                          candidates: Sequence[InitCandidate] = (), tolerance: float = 0.05) -> None:
    """Check that the weights ``W`` look drawn from N(0, ``want_std``²).

    The sample standard deviation must be within ``tolerance`` (relative) of
    ``want_std`` and the mean within ``0.1 * want_std`` of 0. With the graders'
    300 x 100 weights the estimates' own spread is 0.4 % (std) and 0.006 std (mean):
    the margins are more than ten standard errors, so a correct initializer passes
    whatever the seed. On failure the first candidate whose std matches is named.
    """
    W = np.asarray(W, dtype=np.float64)
    std, mean = float(W.std()), float(W.mean())
    if np.isfinite(std) and abs(std / want_std - 1) <= tolerance and abs(mean) <= 0.1 * want_std:
        return
    lines = [f"{call}: the weights have mean {mean:.4g} and standard deviation {std:.4g}; expected "
             f"mean 0 and standard deviation {want_std:.4g} (within {tolerance:.0%})."]
    for name, scale, message in candidates:
        if np.isfinite(std) and abs(std / scale - 1) < tolerance:
            lines.append(f"Likely mistake ({name}) {message}")
            break
    raise Feedback("\n".join(lines))
