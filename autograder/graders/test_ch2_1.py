"""Hidden graders, chapter 2.1: mse_loss and binary_cross_entropy."""

import numpy as np

from autograder.harness import Student, check_not_silenced, grade, reference
from dlnp.testing import Mistake, check_scalar, require_number

CHAPTER = "2.1"


def _regression(rng: np.random.Generator, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    n = int(rng.integers(5, 40))
    return rng.normal(size=(n, 1)).astype(dtype), rng.normal(size=(n, 1)).astype(dtype)


def _mse_mistakes(y_pred: np.ndarray, y: np.ndarray) -> list[Mistake]:
    d = y_pred - y
    return [
        Mistake("sum instead of mean", float(np.sum(d**2)),
                "You summed the squared errors; the MSE divides by the number of samples (np.mean)."),
        Mistake("half the sum of squares", float(np.sum(d**2) / 2),
                "You returned (1/2) * ||y_pred - y||^2, the quadratic cost of some textbooks (half the SUM of "
                "squared errors); mse_loss is the MEAN of the squared errors, np.mean((y_pred - y) ** 2)."),
        Mistake("half MSE", float(np.mean(d**2) / 2),
                "You returned half the MSE (the 1/2 convention used for nicer gradients); mse_loss is the plain mean."),
        Mistake("absolute error", float(np.mean(np.abs(d))),
                "You computed the mean ABSOLUTE error; square the differences."),
        Mistake("root MSE", float(np.sqrt(np.mean(d**2))),
                "You took the square root (RMSE); mse_loss has no square root."),
    ]


@grade("mse_loss", points=2)
def test_mse_values(student: Student, rng: np.random.Generator) -> None:
    """mse_loss on random column vectors"""
    y_pred, y = _regression(rng)
    got = student.call("mse_loss", y_pred, y)
    check_scalar(got, reference("mse_loss", y_pred, y), name="mse_loss(y_pred, y)",
                 mistakes=_mse_mistakes(y_pred, y), inputs=[y_pred])


@grade("mse_loss", points=1)
def test_mse_float32_and_zero(student: Student, rng: np.random.Generator) -> None:
    """mse_loss works on float32 and is 0 for a perfect prediction"""
    y_pred, y = _regression(rng, np.float32)
    got = student.call("mse_loss", y_pred, y)
    check_scalar(got, reference("mse_loss", y_pred, y), name="mse_loss(float32 inputs)",
                 mistakes=_mse_mistakes(y_pred, y), inputs=[y_pred])
    check_scalar(student.call("mse_loss", y, y.copy()), 0.0, name="mse_loss(y, y)")


@grade("mse_loss", points=1)
def test_mse_is_scalar(student: Student, rng: np.random.Generator) -> None:
    """mse_loss returns one number, not an array"""
    y_pred, y = _regression(rng)
    got = student.call("mse_loss", y_pred, y)
    check_scalar(got, reference("mse_loss", y_pred, y), name="mse_loss(y_pred, y)")


def _bce_mistakes(A: np.ndarray, y: np.ndarray) -> list[Mistake]:
    P = np.clip(A, 1e-12, 1 - 1e-12)
    terms = y * np.log(P) + (1 - y) * np.log(1 - P)
    return [
        Mistake("missing minus sign", float(np.mean(terms)),
                "Your loss is negative: binary cross-entropy is MINUS the mean log-likelihood."),
        Mistake("sum instead of mean", float(-np.sum(terms)),
                "You summed over the samples; binary cross-entropy is the mean over the n samples."),
        Mistake("only the y=1 term", float(-np.mean(y * np.log(P))),
                "You kept only y*log(a); add the (1 - y)*log(1 - a) term for the samples of class 0."),
        Mistake("log base 10", float(-np.mean(terms) / np.log(10)),
                "You used log10; cross-entropy uses the natural logarithm np.log."),
    ]


# Any epsilon up to 1e-7 is accepted (SPEC §5): with every probability in [0.05, 0.95] it moves
# each term by at most 1e-7 / 0.05 = 2e-6, so the loss by less than 2e-6, ten times below this
# tolerance whatever the inputs; every named mistake is off by far more (a factor, a term).
_BCE_RTOL, _BCE_ATOL = 1e-6, 2e-5


@grade("binary_cross_entropy", points=3)
def test_bce_values(student: Student, rng: np.random.Generator) -> None:
    """binary_cross_entropy on random probabilities and labels"""
    n = int(rng.integers(6, 40))
    A = rng.uniform(0.05, 0.95, size=(n, 1))
    y = rng.integers(0, 2, size=(n, 1)).astype(np.float64)
    got = student.call("binary_cross_entropy", A, y)
    check_scalar(got, reference("binary_cross_entropy", A, y), name="binary_cross_entropy(A, y)",
                 mistakes=_bce_mistakes(A, y), rtol=_BCE_RTOL, atol=_BCE_ATOL)


@grade("binary_cross_entropy", points=1)
def test_bce_float32(student: Student, rng: np.random.Generator) -> None:
    """binary_cross_entropy works on float32 input"""
    n = int(rng.integers(6, 40))
    A = rng.uniform(0.05, 0.95, size=(n, 1)).astype(np.float32)
    y = rng.integers(0, 2, size=(n, 1)).astype(np.float32)
    got = student.call("binary_cross_entropy", A, y)
    check_scalar(got, reference("binary_cross_entropy", A, y), name="binary_cross_entropy(float32)",
                 mistakes=_bce_mistakes(A.astype(np.float64), y.astype(np.float64)), inputs=[A])


@grade("binary_cross_entropy", points=2)
def test_bce_extreme_probabilities(student: Student, rng: np.random.Generator) -> None:
    """binary_cross_entropy stays finite, warning-free and large for probabilities 0 and 1"""
    n = int(rng.integers(4, 12))
    y = rng.integers(0, 2, size=(n, 1)).astype(np.float64)
    right = y.copy()                      # perfectly confident and right: loss ~ 0
    wrong = 1.0 - y                       # perfectly confident and wrong: loss large but finite
    check_not_silenced(student, "binary_cross_entropy", "binary_cross_entropy(probabilities 0 and 1)")
    got_right = student.call("binary_cross_entropy", right, y, forbid_warnings=True)
    got_wrong = student.call("binary_cross_entropy", wrong, y, forbid_warnings=True)
    for label, got in (("right", got_right), ("wrong", got_wrong)):
        if not np.isfinite(require_number(got, name="binary_cross_entropy(probabilities 0 and 1)")):
            raise AssertionError(
                f"binary_cross_entropy with probabilities of exactly 0 and 1 ({label} answers) returned "
                f"{got!r}. Likely mistake (log(0)): np.log(0) is -inf; clip the probabilities to "
                "[eps, 1 - eps] or add a small eps (at most 1e-7) inside the log."
            )
    if not (abs(float(got_right)) < 1e-5) or not (float(got_wrong) > 10.0):
        raise AssertionError(
            "binary_cross_entropy with probabilities of exactly 0 and 1: confident right answers should cost "
            f"~0 (got {float(got_right):.3g}) and confident wrong ones a lot, at least -log(1e-7) ~ 16 "
            f"(got {float(got_wrong):.3g}).\nLikely mistake (epsilon too large): clip with an epsilon of at "
            "most 1e-7."
        )
