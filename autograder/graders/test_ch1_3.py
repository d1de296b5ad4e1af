"""Hidden graders, chapter 1.3: sigmoid (element-wise, any shape, stable up to |z| = 1000)."""

from typing import Any

import numpy as np

from autograder.harness import Student, StudentRaised, check_not_silenced, grade, reference
from dlnp.testing import Feedback, Mistake, check_array

CHAPTER = "1.3"


def _mistakes(Z: np.ndarray) -> list[Mistake]:
    Z = Z.astype(np.float64)
    with np.errstate(all="ignore"):
        s = 1.0 / (1.0 + np.exp(-Z))
        return [
            Mistake("sign in the exponent", 1.0 / (1.0 + np.exp(Z)),
                    "You computed 1 / (1 + e^{z}) = sigma(-z); the sigmoid is 1 / (1 + e^{-z})."),
            Mistake("tanh", np.tanh(Z),
                    "You returned tanh(z), which lies in (-1, 1); the sigmoid is 1 / (1 + e^{-z}) in (0, 1)."),
            Mistake("derivative", s * (1.0 - s),
                    "You returned sigma(z)(1 - sigma(z)), the DERIVATIVE; return sigma(z) itself."),
            Mistake("missing 1 +", 1.0 / np.exp(-Z),
                    "You computed 1 / e^{-z} = e^{z}; the denominator is 1 + e^{-z}."),
        ]


def _call(student: Student, Z: np.ndarray, **options: Any) -> Any:
    """The student's sigmoid(Z); a Python ``if`` on the whole array is named (the scalar textbook form)."""
    try:
        return student.call("sigmoid", Z, **options)
    except StudentRaised as exc:
        if "truth value of an array" in exc.message:
            raise Feedback(
                f"{exc.message}\nLikely mistake (if on an array) `if Z >= 0:` asks one question about the whole "
                "array; the stable formula for scalars must be applied element-wise: choose per entry with "
                "np.where (or boolean masks), and only ever exponentiate -|z|."
            ) from None
        raise


def _moderate(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values mostly in [-6, 6] with some up to |z| = 40 (where over-aggressive clipping shows)."""
    Z = rng.normal(scale=3.0, size=shape)
    mask = rng.random(shape) < 0.2
    Z = np.where(mask, rng.uniform(-40, 40, size=shape), Z)
    Z.flat[int(rng.integers(Z.size))] = float(rng.choice([-1.0, 1.0]) * rng.uniform(12, 40))  # always one
    return Z


@grade("sigmoid", points=2)
def test_sigmoid_random(student: Student, rng: np.random.Generator) -> None:
    """sigmoid(Z) on a random matrix"""
    Z = _moderate(rng, (int(rng.integers(3, 12)), int(rng.integers(2, 7))))
    got = _call(student, Z)
    check_array(got, reference("sigmoid", Z), name=f"sigmoid(Z of shape {Z.shape})", mistakes=_mistakes(Z))


@grade("sigmoid", points=1)
def test_sigmoid_any_shape(student: Student, rng: np.random.Generator) -> None:
    """sigmoid keeps any shape: a 1-D vector and a 3-D array"""
    for shape in [(int(rng.integers(2, 15)),), tuple(int(s) for s in rng.integers(2, 5, size=3))]:
        Z = _moderate(rng, shape)
        got = _call(student, Z)
        check_array(got, reference("sigmoid", Z), name=f"sigmoid(Z of shape {Z.shape})", mistakes=_mistakes(Z))


@grade("sigmoid", points=1)
def test_sigmoid_float32(student: Student, rng: np.random.Generator) -> None:
    """sigmoid works on float32 input"""
    Z = _moderate(rng, (int(rng.integers(3, 10)), int(rng.integers(2, 6))))
    # Both signs far out, every time: an over-clipped sigmoid differs by ~e^-10 at both ends, which float32's
    # tolerance forgives near 1 but not near 0, so the verdict must not hang on the sign the seed drew.
    Z.flat[0], Z.flat[1] = -25.0, 25.0
    Z = Z.astype(np.float32)
    got = _call(student, Z)
    check_array(got, reference("sigmoid", Z.astype(np.float64)), name=f"sigmoid(float32 Z of shape {Z.shape})",
                mistakes=_mistakes(Z), inputs=[Z])


@grade("sigmoid", points=2)
def test_sigmoid_extreme_values(student: Student, rng: np.random.Generator) -> None:
    """sigmoid is finite, in [0, 1] and warning-free for |z| up to 1000 (float64 and float32)"""
    n = int(rng.integers(6, 20))
    big = rng.uniform(700, 1000, size=n) * rng.choice([-1.0, 1.0], size=n)
    Z = np.concatenate([[-1000.0, 1000.0, 0.0], big, rng.normal(scale=5.0, size=n)])
    Z = Z[rng.permutation(Z.size)]
    check_not_silenced(student, "sigmoid", "sigmoid(Z) with entries up to |z| = 1000")
    # every case, every time (a column and a vector, float64 and float32): the verdict never
    # depends on which of them the seed would have picked
    for shape, dtype in ((Z.shape, np.float64), ((Z.size, 1), np.float64), (Z.shape, np.float32)):
        Zt = Z.reshape(shape).astype(dtype)
        got = _call(student, Zt, forbid_warnings=True)
        want = reference("sigmoid", Zt.astype(np.float64))
        name = f"sigmoid({dtype.__name__} Z with entries up to |z| = 1000)"
        if isinstance(got, np.ndarray) and got.shape == want.shape:
            if not np.all(np.isfinite(got)):
                raise Feedback(
                    f"{name} returned NaN or inf.\nLikely mistake (overflow in exp) e^{{-z}} overflows for large "
                    "negative z (and e^{z} for large positive z): only ever exponentiate -|z|."
                )
            if np.any(got < 0) or np.any(got > 1):
                raise Feedback(f"{name} returned values outside [0, 1]: min {got.min():.4g}, max {got.max():.4g}.")
        check_array(got, want, name=name, mistakes=_mistakes(Zt), inputs=[Zt])
