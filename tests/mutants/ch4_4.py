"""Chapter 4.4 mutants: l2_regularization, l2_gradient, dropout."""

from . import Mutant, Variant

MUTANTS = [
    Mutant("dropout", "drops with probability p AND a flattened mask", """
def dropout(A, p, rng=None):
    if not 0 < p <= 1:
        raise ValueError("p must be in (0, 1]")
    rng = rng if rng is not None else np.random.default_rng()
    mask = (rng.random(A.size) >= p).astype(float)
    return A * mask.reshape(A.shape) / p, mask
""", "drop-vs-keep confusion"),
    Mutant("l2_regularization", "the 1/2 convention", """
def l2_regularization(W, lambda_):
    return 0.5 * lambda_ * float(np.sum(W ** 2))
""", "the 1/2 convention"),
    Mutant("l2_regularization", "mean of squares", """
def l2_regularization(W, lambda_):
    return lambda_ * float(np.mean(W ** 2))
""", "mean instead of sum"),
    Mutant("l2_regularization", "norm without squaring", """
def l2_regularization(W, lambda_):
    return lambda_ * float(np.linalg.norm(W))
""", "norm instead of squared norm"),
    Mutant("l2_gradient", "the 1/2 convention", """
def l2_gradient(W, lambda_):
    return lambda_ * W
""", "the 1/2 convention"),
    Mutant("l2_gradient", "missing lambda", """
def l2_gradient(W, lambda_):
    return 2 * W
""", "missing lambda"),
    Mutant("dropout", "drop-vs-keep confusion", """
def dropout(A, p, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    mask = (rng.random(A.shape) > p).astype(A.dtype)
    return A * mask / p, mask
""", "drop-vs-keep confusion"),
    Mutant("dropout", "missing 1/p", """
def dropout(A, p, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    mask = (rng.random(A.shape) < p).astype(A.dtype)
    return A * mask, mask
""", "missing 1/p"),
    Mutant("dropout", "scaled mask returned", """
def dropout(A, p, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    mask = (rng.random(A.shape) < p) / p
    return A * mask, mask
""", "scaled mask"),
    Mutant("dropout", "global numpy random state", """
def dropout(A, p, rng=None):
    mask = (np.random.rand(*A.shape) < p).astype(A.dtype)
    return A * mask / p, mask
""", "rng ignored"),
    Mutant("dropout", "no validation of p", """
def dropout(A, p, rng=None):
    rng = rng if rng is not None else np.random.default_rng()
    mask = (rng.random(A.shape) < p).astype(A.dtype)
    return A * mask / p, mask
""", "(no validation)"),
]

VARIANTS = [
    Variant("l2_regularization", "einsum", """
def l2_regularization(W, lambda_):
    flat = W.ravel()
    return lambda_ * float(flat @ flat)
"""),
    Variant("l2_gradient", "sum of two halves", """
def l2_gradient(W, lambda_):
    return lambda_ * W + lambda_ * W
"""),
    Variant("dropout", "binomial mask of booleans", """
def dropout(A, p, rng=None):
    if not 0 < p <= 1:
        raise ValueError("p must be in (0, 1]")
    rng = rng if rng is not None else np.random.default_rng()
    mask = rng.binomial(1, p, size=A.shape).astype(bool)
    return np.where(mask, A / p, 0.0), mask
"""),
]

# Mistakes and correct styles seen in public code (dropout layers of CS231n-style courses), written anew.
MUTANTS += [
    Mutant("dropout", "keep probability hard-coded to 0.5", """
def dropout(A, p, rng=None):
    if not 0 < p <= 1:
        raise ValueError("p must be in (0, 1]")
    rng = np.random.default_rng() if rng is None else rng
    mask = (rng.random(A.shape) < 0.5).astype(float)
    return A * mask / 0.5, mask
""", "p ignored"),
    Mutant("dropout", "p read as the DROP probability (mask > p, divide by 1 - p)", """
def dropout(A, p, rng=None):
    if not 0 < p <= 1:
        raise ValueError("p must be in (0, 1]")
    rng = np.random.default_rng() if rng is None else rng
    mask = (rng.random(A.shape) > p).astype(float)
    return A * mask / (1 - p) if p < 1 else A * mask, mask
""", "divided by 1 - p"),
]

VARIANTS += [
    Variant("dropout", "keep_prob mask, scaled in place on a copy", """
def dropout(A, p, rng=None):
    if p <= 0 or p > 1:
        raise ValueError(f"keep probability must be in (0, 1], got {p}")
    if rng is None:
        rng = np.random.default_rng()
    keep = rng.random(A.shape) < p
    out = A.astype(np.float64, copy=True)
    out *= keep
    out /= p
    return out, keep.astype(np.float64)
"""),
]
