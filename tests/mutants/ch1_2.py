"""Chapter 1.2 mutants: matrix_multiply."""

from . import Mutant, Variant

MUTANTS = [
    Mutant("matrix_multiply", "numpy's own error", """
def matrix_multiply(X, W):
    return X @ W
""", "(numpy's own error)"),
    Mutant("matrix_multiply", "only one shape in the message", """
def matrix_multiply(X, W):
    if X.shape[1] != W.shape[0]:
        raise ValueError(f"X has shape {X.shape}, which does not fit W")
    return X @ W
""", "(both shapes)"),
    Mutant("matrix_multiply", "shapes formatted by hand", """
def matrix_multiply(X, W):
    if X.shape[1] != W.shape[0]:
        raise ValueError(f"cannot multiply {X.shape[0]}x{X.shape[1]} by {W.shape[0]}x{W.shape[1]}")
    return X @ W
""", "(both shapes)"),
    Mutant("matrix_multiply", "wrong dimensions compared", """
def matrix_multiply(X, W):
    if X.shape[0] != W.shape[0]:
        raise ValueError(f"cannot multiply X with shape {X.shape} by W with shape {W.shape}")
    return X @ W
""", "(wrong dimensions compared)"),
    Mutant("matrix_multiply", "assert instead of ValueError", """
def matrix_multiply(X, W):
    assert X.shape[1] == W.shape[0], f"cannot multiply {X.shape} by {W.shape}"
    return X @ W
""", "(wrong exception type)"),
    Mutant("matrix_multiply", "element-wise product", """
def matrix_multiply(X, W):
    if X.shape[1] != W.shape[0]:
        raise ValueError(f"cannot multiply X with shape {X.shape} by W with shape {W.shape}")
    return X * W
""", "(element-wise product)"),
    Mutant("matrix_multiply", "hard-coded public answers", """
def matrix_multiply(X, W):
    if X.shape == (2, 3) and W.shape == (4, 5):
        raise ValueError("cannot multiply (2, 3) by (4, 5)")
    return np.array([[4.0, 5.0], [10.0, 11.0]])
""", "returned"),
]

VARIANTS = [
    Variant("matrix_multiply", "loops over rows and columns", """
def matrix_multiply(X, W):
    n, d = X.shape
    d2, m = W.shape
    if d != d2:
        raise ValueError("shapes " + str(X.shape) + " and " + str(W.shape) + " are not aligned")
    Z = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            Z[i, j] = np.dot(X[i, :], W[:, j])
    return Z
"""),
    Variant("matrix_multiply", "einsum, error formatted with %", """
def matrix_multiply(X, W):
    if X.shape[-1] != W.shape[0]:
        raise ValueError("inner dimensions differ: %s vs %s" % (X.shape, W.shape))
    return np.einsum("ik,kj->ij", X, W)
"""),
]
