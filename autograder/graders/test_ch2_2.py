"""Hidden graders, chapter 2.2: gradient_descent, full batch (batch_size=None), identity activation.

Losses are passed as kit fixtures (``Fixture("quartic_loss")``...), so a mistake in the
student's own ``mse_loss`` (chapter 2.1) never costs points here; the one test that
relies on the default ``loss_fn=mse_loss`` compares W and b only.

The trusted simulator :func:`simulate` and the checks :func:`check_training` are shared
with chapter 2.3 (``test_ch2_3.py`` imports them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autograder.harness import Fixture, Seed, Student, StudentError, grade, reference, reference_args, seed_from
from autograder.toolbox import Array
from dlnp.testing import Feedback, Mistake, check_array, check_scalar, check_tuple, describe
from solutions import losses as ref_losses

CHAPTER = "2.2"



# --------------------------------------------------------------------------- trusted simulator


def simulate(
    X: Array, y: Array, W: Array, b: Array, lr: float, num_epochs: int, batch_size: int | None = None,
    loss_fn: Any = None, activation_fn: Any = None, rng: Any = None, *,
    factor: float = 1.0, factor_w: float = 1.0, bias: str = "mean", divide: str = "m", loss_when: str = "after",
    loss_on: str = "full", shuffle: str = "epoch", drop_last: bool = False,
    activation_in_grad: bool = True, activation_in_loss: bool = True, sigmoid_derivative: bool = False,
) -> tuple[Array, Array, list[float]]:
    """gradient_descent as pinned by the docstring, or with ONE known mistake switched on.

    ``loss_fn``/``activation_fn``/``rng`` may be harness values (Fixture, Seed). Mistakes:
    ``factor`` (2 = the MSE's factor 2, -1 = gradient ascent), ``factor_w`` (on grad_W only), ``bias`` ("sum"),
    ``divide`` ("none": no 1/m, "batch_size": by the nominal batch size), ``loss_when``
    ("before" the epoch's updates, "initial": an extra entry for the starting point),
    ``loss_on`` ("last batch", "batch mean": losses of the batches before their updates),
    ``shuffle`` ("once" before the loop, "per batch": a new permutation for every batch,
    "separate": X and y with two permutations), ``drop_last``, ``activation_in_grad``,
    ``activation_in_loss``, ``sigmoid_derivative`` (error times f'(Z) for a logistic f).
    """
    loss_fn, activation_fn, rng = reference_args((loss_fn, activation_fn, rng))
    loss = loss_fn if loss_fn is not None else reference_loss

    def act(Z: Array, use: bool = True) -> Array:
        return Z if activation_fn is None or not use else activation_fn(Z)

    W, b = np.array(W, dtype=np.float64), np.array(b, dtype=np.float64)
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = X.shape[0]
    if batch_size is not None and rng is None:
        rng = np.random.default_rng()
    history: list[float] = []
    if loss_when == "initial":
        history.append(float(loss(act(X @ W + b, activation_in_loss), y)))
    fixed = rng.permutation(n) if (batch_size is not None and shuffle == "once") else None
    for _ in range(num_epochs):
        if loss_when == "before":
            history.append(float(loss(act(X @ W + b, activation_in_loss), y)))
        if batch_size is None:
            batches = [(np.arange(n), np.arange(n))]
        else:
            perm = fixed if fixed is not None else (None if shuffle == "per batch" else rng.permutation(n))
            perm_y = rng.permutation(n) if shuffle == "separate" else perm
            stop = n - n % batch_size if drop_last and n % batch_size else n
            batches = []
            for i in range(0, stop, batch_size):
                if perm is None:
                    p = rng.permutation(n)
                    batches.append((p[i:i + batch_size], p[i:i + batch_size]))
                else:
                    assert perm_y is not None
                    batches.append((perm[i:i + batch_size], perm_y[i:i + batch_size]))
        batch_losses: list[float] = []
        for ix, iy in batches:
            Xb, yb = X[ix], y[iy]
            Z = Xb @ W + b
            A = act(Z, activation_in_grad)
            batch_losses.append(float(loss(act(Z, activation_in_loss), yb)))
            err = A - yb
            if sigmoid_derivative:
                err = err * A * (1.0 - A)
            m = {"m": Xb.shape[0], "none": 1, "batch_size": batch_size or n}[divide]
            W = W - lr * factor * factor_w * (Xb.T @ err) / m
            gb = np.sum(err, axis=0) if bias == "sum" else np.mean(err, axis=0)
            b = b - lr * factor * gb.reshape(b.shape)
        if loss_when in ("after", "initial"):
            if loss_on == "last batch":
                history.append(batch_losses[-1])
            elif loss_on == "batch mean":
                history.append(float(np.mean(batch_losses)))
            else:
                history.append(float(loss(act(X @ W + b, activation_in_loss), y)))
    return W, b, history


def reference_loss(pred: Array, y: Array) -> float:
    """The default loss of the reference (mean squared error)."""
    return float(ref_losses.mse_loss(pred, y))


# Known mistakes: (name, simulate() switches, message). Each is checked on W, b and the history.
FULL_BATCH_MISTAKES: list[tuple[str, dict[str, Any], str]] = [
    ("factor 2", {"factor": 2.0},
     "Your steps are twice as long: you used the MSE's exact gradient 2 X^T(A - y)/m. The docstring pins the "
     "error form X^T(A - y)/m and mean(A - y) (the gradient of HALF the MSE; chapter 2.4 explains it)."),
    ("factor 2", {"factor_w": 2.0},
     "Your weight steps are twice as long: you used the MSE's exact gradient 2 X^T(A - y)/m. The docstring pins "
     "the error form X^T(A - y)/m (the gradient of HALF the MSE; chapter 2.4 explains it)."),
    ("bias gradient summed", {"bias": "sum"},
     "The bias gradient is the MEAN of (A - y) over the batch (np.mean(..., axis=0)), not the sum."),
    ("missing 1/m", {"divide": "none"},
     "grad_W must be divided by the number of samples m in the batch: X^T(A - y) / m."),
    ("gradient ascent", {"factor": -1.0},
     "You ADDED the gradient; gradient descent subtracts it: W = W - lr * grad_W."),
    ("loss before the update", {"loss_when": "before"},
     "loss_history[k] must be the loss AFTER epoch k's update, computed on the full data."),
    ("initial loss included", {"loss_when": "initial"},
     "loss_history has one entry per epoch, after that epoch: do not record the starting loss."),
]


def mistakes_for(names: Sequence[str] | None, table: Sequence[tuple[str, dict[str, Any], str]],
                 args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[str, tuple[Array, Array, list[float]],
                                                                              str]]:
    """Simulate each known mistake of ``table`` (optionally only ``names``) on the same inputs."""
    out: list[tuple[str, tuple[Array, Array, list[float]], str]] = []
    for name, switches, message in table:
        if names is not None and name not in names:
            continue
        with np.errstate(all="ignore"):
            out.append((name, simulate(*args, **kwargs, **switches), message))
    return out


def check_history(got: Any, want: Sequence[float], *, name: str, epochs: int, batches: int = 1,
                  mistakes: Sequence[Mistake] = (), inputs: Sequence[Any] = (), values: bool = True) -> None:
    """loss_history: a list of ``epochs`` scalars equal to ``want`` (``values=False``: count and type only)."""
    what = f"{name}: loss_history"
    if not isinstance(got, (list, tuple, np.ndarray)):
        raise Feedback(f"{what} must be a list with one loss per epoch.\n  got: {describe(got)}")
    hist = list(got)  # pyright: ignore[reportUnknownArgumentType]
    if len(hist) != epochs:
        diagnosis = ""
        if len(hist) == epochs + 1:
            diagnosis = ("\nLikely mistake (initial loss included) record one loss per epoch, after the epoch's "
                         "updates; do not add the starting loss.")
        elif batches > 1 and len(hist) in (epochs * batches, epochs * (batches + 1)):
            diagnosis = ("\nLikely mistake (one loss per batch) record ONE loss per epoch, on the full data, "
                         "after the epoch's last batch.")
        elif len(hist) <= 1 < epochs:
            diagnosis = "\nLikely mistake (append outside the loop) append the loss once per epoch, inside the loop."
        raise Feedback(f"{what} has {len(hist)} entries for num_epochs = {epochs}; expected exactly {epochs}."
                       + diagnosis)
    for k, entry in enumerate(hist):
        if (isinstance(entry, (bool, np.bool_)) or not isinstance(entry, (int, float, np.number, np.ndarray))
                or np.ndim(entry) != 0):
            raise Feedback(
                f"{what}[{k}] is not a number: {describe(entry)}.\nLikely mistake (not a scalar) append "
                "float(loss_fn(...)): one number per epoch, not an array."
            )
    if values:
        check_array(np.array(hist, dtype=np.float64), np.asarray(want, dtype=np.float64), name=what,
                    mistakes=mistakes, inputs=inputs)


def check_training(got: Any, want: tuple[Array, Array, list[float]], *, name: str, epochs: int,
                   mistakes: Sequence[tuple[str, tuple[Array, Array, list[float]], str]] = (),
                   inputs: Sequence[Any] = (), batches: int = 1, history: bool = True) -> None:
    """Check (W, b, loss_history) against ``want``, naming the first matching known mistake."""
    W, b, hist = check_tuple(got, 3, name=name, parts="W, b, loss_history")
    check_array(W, want[0], name=f"{name}: W", inputs=inputs,
                mistakes=[Mistake(m, v[0], msg) for m, v, msg in mistakes])
    check_array(b, want[1], name=f"{name}: b", inputs=inputs,
                mistakes=[Mistake(m, v[1], msg) for m, v, msg in mistakes])
    check_history(hist, want[2], name=name, epochs=epochs, batches=batches, inputs=inputs, values=history,
                  mistakes=[Mistake(m, v[2], msg) for m, v, msg in mistakes if len(v[2]) == epochs])


def regression_problem(rng: np.random.Generator, dtype: type = np.float64) -> tuple[Array, Array, Array, Array]:
    """Random linear-regression data X (n, d), y (n, 1) and a starting point W (d, 1), b (1, 1)."""
    n, d = int(rng.integers(8, 30)), int(rng.integers(1, 4))
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=(d, 1)) + rng.normal() + 0.3 * rng.normal(size=(n, 1))
    W, b = 0.5 * rng.normal(size=(d, 1)), 0.5 * rng.normal(size=(1, 1))
    return X.astype(dtype), y.astype(dtype), W.astype(dtype), b.astype(dtype)


def call_with_default_loss(student: Student, args: tuple[Any, ...], kwargs: dict[str, Any],
                           rng: np.random.Generator) -> Any:
    """Call gradient_descent WITHOUT loss_fn (the default is the student's own mse_loss).

    If that fails while the student's mse_loss is itself broken (chapter 2.1), retry with a
    kit loss: a broken mse_loss must not cost gradient_descent points.
    """
    try:
        return student.call("gradient_descent", *args, **kwargs)
    except StudentError:
        probe_pred, probe_y = rng.normal(size=(5, 1)), rng.normal(size=(5, 1))
        got = student.try_call("mse_loss", probe_pred, probe_y)
        try:
            check_scalar(got, reference("mse_loss", probe_pred, probe_y), name="mse_loss")
        except Feedback:
            return student.call("gradient_descent", *args, loss_fn=Fixture("quartic_loss"), **kwargs)
        raise


def reference_gd(*args: Any, **kwargs: Any) -> tuple[Array, Array, list[float]]:
    W, b, hist = reference("gradient_descent", *args, **kwargs)
    return W, b, hist


# --------------------------------------------------------------------------- graders


@grade("gradient_descent", points=2)
def test_gd_one_step(student: Student, rng: np.random.Generator) -> None:
    """one full-batch epoch: W - lr X^T(A - y)/n and b - lr mean(A - y)"""
    X, y, W, b = regression_problem(rng)
    lr = float(rng.uniform(0.05, 0.3))
    args = (X, y, W, b, lr, 1)
    kwargs: dict[str, Any] = {"loss_fn": Fixture("quartic_loss")}
    got = student.call("gradient_descent", *args, **kwargs)
    check_training(got, reference_gd(*args, **kwargs), name=f"gradient_descent(X {X.shape}, lr={lr:.3g}, 1 epoch)",
                   epochs=1, mistakes=mistakes_for(None, FULL_BATCH_MISTAKES, args, kwargs))


@grade("gradient_descent", points=3)
def test_gd_full_batch_epochs(student: Student, rng: np.random.Generator) -> None:
    """several full-batch epochs agree with the pinned algorithm (W, b and loss_history)"""
    X, y, W, b = regression_problem(rng)
    lr, epochs = float(rng.uniform(0.05, 0.3)), int(rng.integers(3, 15))
    args = (X, y, W, b, lr, epochs)
    kwargs: dict[str, Any] = {"batch_size": None, "loss_fn": Fixture("quartic_loss"), "activation_fn": None}
    got = student.call("gradient_descent", *args, **kwargs)
    check_training(got, reference_gd(*args, **kwargs),
                   name=f"gradient_descent(X {X.shape}, lr={lr:.3g}, num_epochs={epochs})", epochs=epochs,
                   mistakes=mistakes_for(None, FULL_BATCH_MISTAKES, args, kwargs))


@grade("gradient_descent", points=2)
def test_gd_loss_history(student: Student, rng: np.random.Generator) -> None:
    """loss_history: one loss_fn value per epoch, on the full data, after the epoch's update"""
    X, y, W, b = regression_problem(rng)
    lr, epochs = float(rng.uniform(0.05, 0.3)), int(rng.integers(4, 12))
    args = (X, y, W, b, lr, epochs)
    kwargs: dict[str, Any] = {"loss_fn": Fixture("logcosh_loss")}
    got = student.call("gradient_descent", *args, **kwargs)
    name = f"gradient_descent(..., num_epochs={epochs}, loss_fn=logcosh)"
    _, _, hist = check_tuple(got, 3, name=name, parts="W, b, loss_history")
    mistakes = mistakes_for(None, FULL_BATCH_MISTAKES, args, kwargs)
    mistakes.append(("loss_fn ignored", simulate(*args, loss_fn=None),
                     "The history must use the loss_fn argument; you computed the MSE instead."))
    check_history(hist, reference_gd(*args, **kwargs)[2], name=name, epochs=epochs,
                  mistakes=[Mistake(m, v[2], msg) for m, v, msg in mistakes if len(v[2]) == epochs])


@grade("gradient_descent", points=1)
def test_gd_float32(student: Student, rng: np.random.Generator) -> None:
    """full-batch gradient descent works on float32 data"""
    X, y, W, b = regression_problem(rng, np.float32)
    lr, epochs = float(rng.uniform(0.05, 0.2)), int(rng.integers(2, 6))
    args = (X, y, W, b, lr, epochs)
    kwargs: dict[str, Any] = {"loss_fn": Fixture("quartic_loss")}
    got = student.call("gradient_descent", *args, **kwargs)
    exact = tuple(a.astype(np.float64) for a in (X, y, W, b))  # float64 run on the same float32 values
    check_training(got, reference_gd(*exact, lr, epochs, **kwargs), name=f"gradient_descent(float32 X {X.shape})",
                   epochs=epochs, inputs=[X], mistakes=mistakes_for(None, FULL_BATCH_MISTAKES, args, kwargs))


@grade("gradient_descent", points=1)
def test_gd_full_batch_ignores_rng(student: Student, rng: np.random.Generator) -> None:
    """full batch (batch_size=None) never draws from rng: same result with a seeded rng and rng=None"""
    X, y, W, b = regression_problem(rng)
    lr, epochs = float(rng.uniform(0.05, 0.3)), int(rng.integers(2, 8))
    args = (X, y, W, b, lr, epochs, None, Fixture("quartic_loss"), None)
    want = reference_gd(*args, None)
    seed = seed_from(rng)
    for label, generator in (("rng=Generator", Seed(seed.value, untouched=True)), ("rng=None", None)):
        got = student.call("gradient_descent", *args, generator)
        check_training(got, want, name=f"gradient_descent(batch_size=None, {label})", epochs=epochs,
                       mistakes=mistakes_for(None, FULL_BATCH_MISTAKES, (*args, None), {}))


@grade("gradient_descent", points=1)
def test_gd_fits_a_line_with_default_loss(student: Student, rng: np.random.Generator) -> None:
    """on noise-free data y = a x + c (like y = 2x + 1), with the default loss_fn, W -> a and b -> c"""
    n = int(rng.integers(10, 40))
    slope, intercept = float(rng.uniform(-3, 3)), float(rng.uniform(-2, 2))
    X = rng.uniform(-2, 2, size=(n, 1))
    y = slope * X + intercept
    W, b = np.zeros((1, 1)), np.zeros((1, 1))
    lr, epochs = float(rng.uniform(0.2, 0.4)), int(rng.integers(400, 600))
    args = (X, y, W, b, lr, epochs)
    got = call_with_default_loss(student, args, {}, rng)
    name = f"gradient_descent on y = {slope:.3g} x + {intercept:.3g} (lr={lr:.3g}, {epochs} epochs)"
    W_ref, b_ref, hist_ref = reference_gd(*args)
    # Compare W and b only: the history values come from the student's own mse_loss (chapter 2.1).
    check_training(got, (W_ref, b_ref, hist_ref), name=name, epochs=epochs, history=False,
                   mistakes=mistakes_for(["missing 1/m", "gradient ascent", "bias gradient summed"],
                                         FULL_BATCH_MISTAKES, args, {}))
    W_got, b_got = np.asarray(got[0], dtype=np.float64), np.asarray(got[1], dtype=np.float64)  # checked above
    if not (abs(W_got.item() - slope) < 1e-3 and abs(b_got.item() - intercept) < 1e-3):
        raise Feedback(f"{name} did not reach W = {slope:.4g}, b = {intercept:.4g}: got W = {W_got.item():.6g}, "
                       f"b = {b_got.item():.6g}.")
