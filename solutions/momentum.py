"""Gradient descent with momentum (chapter 4.5)."""

from ._types import FloatArray


def momentum_update(v: FloatArray, grad: FloatArray, mu: float, lr: float) -> FloatArray:
    r"""One momentum step: the new velocity $v \leftarrow \mu v - \eta \nabla L$.

    The velocity is a running, decaying sum of past gradients: directions that
    stay the same build up speed, directions that flip sign cancel out. The
    CALLER then moves the parameters with ``W += v_new`` (plus, not minus: the
    minus sign of gradient descent is already inside the velocity).

    Parameters
    ----------
    v : array
        Current velocity, the shape of the parameter (zeros at the start).
    grad : array, same shape as ``v``
        Gradient of the loss with respect to the parameter.
    mu : float
        Momentum coefficient in ``[0, 1)`` (typically 0.9); ``mu = 0`` gives
        plain gradient descent, ``v_new = -lr * grad``.
    lr : float
        Learning rate $\eta > 0$.

    Returns
    -------
    array, same shape as ``v``
        ``mu * v - lr * grad``, a new array: ``v`` and ``grad`` are not modified.
    """
    return mu * v - lr * grad
