"""Hidden graders, chapter 1.1: normalize (column-wise z-score, ddof=0, zero-std columns centred)."""

import numpy as np

from autograder.harness import Student, StudentRaised, grade, reference
from dlnp.testing import Feedback, Mistake, check_array

CHAPTER = "1.1"


def _data(rng: np.random.Generator, dtype: type = np.float64) -> np.ndarray:
    """(n, d) data whose columns have very different means and scales (milder in float32)."""
    n, d = int(rng.integers(6, 30)), int(rng.integers(2, 6))
    low, high, offset = (-1.0, 2.0, 50.0) if dtype == np.float64 else (-0.5, 1.5, 10.0)
    scales = 10.0 ** rng.uniform(low, high, size=d)
    offsets = rng.uniform(-offset, offset, size=d)
    return (offsets + scales * rng.normal(size=(n, d))).astype(dtype)


def _safe(std: np.ndarray) -> np.ndarray:
    return np.where(std == 0, 1.0, std)


def _mistakes(X: np.ndarray) -> list[Mistake]:
    """What the usual wrong versions return on ``X`` (computed here, in float64)."""
    X = X.astype(np.float64)
    mean, std = X.mean(axis=0), X.std(axis=0)
    with np.errstate(all="ignore"):
        out = [
            Mistake("global statistics", (X - X.mean()) / X.std(),
                    "You used one mean and one std for the whole array; normalize each column on its own "
                    "(axis=0)."),
            Mistake("ddof=1", (X - mean) / _safe(X.std(axis=0, ddof=1)),
                    "You used the sample standard deviation (ddof=1, dividing by n - 1); the chapter uses the "
                    "population std (ddof=0), np.std's default."),
            Mistake("row statistics", (X - X.mean(axis=1, keepdims=True)) / _safe(X.std(axis=1, keepdims=True)),
                    "You computed the statistics of each ROW (axis=1); features are columns: use axis=0."),
            Mistake("not scaled", X - mean,
                    "You only subtracted the mean; also divide each column by its standard deviation."),
            Mistake("not centred", X / _safe(std),
                    "You only divided by the standard deviation; subtract each column's mean first."),
            Mistake("divided by the variance", (X - mean) / _safe(std**2),
                    "You divided by the variance; divide by the standard deviation (its square root)."),
        ]
    return out


def _zero_std_hint(exc: StudentRaised) -> Feedback:
    warning = exc.message.split("\nLikely mistake", 1)[0]  # keep the warning, replace the generic hint
    return Feedback(
        f"{warning}\nLikely mistake (division by zero) a column with std exactly 0 makes (X - mean) / std "
        "compute 0/0. Make the divisor safe BEFORE dividing (e.g. np.where(std == 0, 1.0, std)); fixing the "
        "NaNs afterwards still divides by zero."
    )


@grade("normalize", points=3)
def test_normalize_random(student: Student, rng: np.random.Generator) -> None:
    """normalize(X) standardizes every column on random data"""
    X = _data(rng)
    got = student.call("normalize", X)
    check_array(got, reference("normalize", X), name=f"normalize(X of shape {X.shape})", mistakes=_mistakes(X))


@grade("normalize", points=2)
def test_normalize_zero_std_column(student: Student, rng: np.random.Generator) -> None:
    """a constant column is only centred (zeros), with no NaN and no RuntimeWarning"""
    X = _data(rng)
    d = X.shape[1]
    constant = rng.choice(d, size=int(rng.integers(1, d)), replace=False)
    values = rng.integers(1, 6, size=len(constant)) * rng.choice([-1, 1], size=len(constant))
    X[:, constant] = values.astype(np.float64)  # std exactly 0; never 0 itself, so "not centred" shows
    try:
        got = student.call("normalize", X, forbid_warnings=True)
    except StudentRaised as exc:
        if "emitted a warning" in exc.message:
            raise _zero_std_hint(exc) from None
        raise
    want = reference("normalize", X)
    name = f"normalize(X) with constant column(s) {sorted(int(c) for c in constant)}"
    if isinstance(got, np.ndarray) and got.shape == want.shape and not np.all(np.isfinite(got)):
        raise Feedback(
            f"{name} returned NaN or inf.\nLikely mistake (division by zero) a zero-std column must only be "
            "centred (its values become 0), never divided by its std."
        )
    left_alone = want.copy()
    left_alone[:, constant] = X[:, constant]
    check_array(got, want, name=name, mistakes=[
        Mistake("zero-std column not centred", left_alone,
                "You left the constant column unchanged; it must still be centred (X - mean gives zeros)."),
        *_mistakes(X),
    ])


@grade("normalize", points=1)
def test_normalize_tiny_but_nonzero_std(student: Student, rng: np.random.Generator) -> None:
    """a column with a tiny but nonzero std is still scaled to std 1 (zero-std means exactly 0)"""
    X = _data(rng)
    j = int(rng.integers(0, X.shape[1]))
    X[:, j] = 10.0 ** rng.uniform(-14, -12) * rng.normal(size=X.shape[0])
    got = student.call("normalize", X)
    want = reference("normalize", X)
    name = f"normalize(X) where column {j} has std {X[:, j].std():.2g}"
    others = [c for c in range(X.shape[1]) if c != j]
    if (isinstance(got, np.ndarray) and got.shape == want.shape
            and np.allclose(got[:, others], want[:, others], rtol=1e-6, atol=1e-9)
            and not np.allclose(got[:, j], want[:, j], rtol=1e-6, atol=1e-9)):
        raise Feedback(
            f"{name} returned wrong values in column {j}.\n"
            f"  expected: {np.array2string(want[:4, j], precision=4)} ...\n"
            f"  got:      {np.array2string(np.asarray(got)[:4, j], precision=4)} ...\n"
            "Likely mistake (tolerance on std) you treated a tiny std as zero, or added an epsilon to it. "
            "The docstring pins \"zero-std\" as std EXACTLY 0: test std == 0 and divide every other column "
            "by its exact std."
        )
    check_array(got, want, name=name, mistakes=_mistakes(X))


@grade("normalize", points=1)
def test_normalize_1d(student: Student, rng: np.random.Generator) -> None:
    """a 1-D input is one feature: normalized as a whole, shape (n,) kept"""
    n = int(rng.integers(5, 25))
    x = rng.uniform(-10, 10) + rng.uniform(0.5, 5) * rng.normal(size=n)
    got = student.call("normalize", x)
    want = reference("normalize", x)
    check_array(got, want, name=f"normalize(x of shape {x.shape})", mistakes=[
        Mistake("1-D reshaped to a column", want.reshape(-1, 1),
                "You returned shape (n, 1); a 1-D input must come back 1-D, shape (n,)."),
        Mistake("ddof=1", (x - x.mean()) / x.std(ddof=1),
                "You used ddof=1; normalize uses the population std (ddof=0)."),
    ])


@grade("normalize", points=1)
def test_normalize_float32(student: Student, rng: np.random.Generator) -> None:
    """normalize works on float32 input"""
    X = _data(rng, np.float32)
    got = student.call("normalize", X)
    check_array(got, reference("normalize", X.astype(np.float64)), name=f"normalize(float32 X of shape {X.shape})",
                mistakes=_mistakes(X), inputs=[X])
