"""Chapter 2.1 mutants: mse_loss, binary_cross_entropy."""

from . import Mutant, Variant

MUTANTS = [
    Mutant("mse_loss", "sum instead of mean", """
def mse_loss(y_pred, y):
    return float(np.sum((y_pred - y) ** 2))
""", "sum instead of mean"),
    Mutant("mse_loss", "mean over axis 0", """
def mse_loss(y_pred, y):
    return np.mean((y_pred - y) ** 2, axis=0)
""", "not a scalar"),
    Mutant("mse_loss", "half MSE", """
def mse_loss(y_pred, y):
    return float(0.5 * np.mean((y_pred - y) ** 2))
""", "half MSE"),
    Mutant("binary_cross_entropy", "no clipping", """
def binary_cross_entropy(A, y):
    return float(-np.mean(y * np.log(A) + (1 - y) * np.log(1 - A)))
""", "log(0)"),
    Mutant("binary_cross_entropy", "missing minus", """
def binary_cross_entropy(A, y):
    A = np.clip(A, 1e-7, 1 - 1e-7)
    return float(np.mean(y * np.log(A) + (1 - y) * np.log(1 - A)))
""", "missing minus sign"),
    Mutant("binary_cross_entropy", "epsilon too large", """
def binary_cross_entropy(A, y):
    A = np.clip(A, 1e-3, 1 - 1e-3)
    return float(-np.mean(y * np.log(A) + (1 - y) * np.log(1 - A)))
""", "epsilon"),
    # From public code (issue 14): Nielsen's quadratic cost and his nan_to_num cross-entropy.
    Mutant("mse_loss", "half the squared norm (quadratic cost)", """
def mse_loss(y_pred, y):
    return 0.5 * float(np.linalg.norm(y_pred - y)) ** 2
""", "(half the sum of squares)"),
    Mutant("binary_cross_entropy", "np.nan_to_num instead of clipping", """
def binary_cross_entropy(A, y):
    return float(np.mean(np.nan_to_num(-y * np.log(A) - (1 - y) * np.log(1 - A))))
""", "(log(0))"),
]

VARIANTS = [
    Variant("mse_loss", "python loop", """
def mse_loss(y_pred, y):
    total = 0.0
    for a, b in zip(y_pred.ravel(), y.ravel()):
        total += (float(a) - float(b)) ** 2
    return total / y.size
"""),
    Variant("binary_cross_entropy", "epsilon inside the log", """
def binary_cross_entropy(A, y):
    eps = 1e-7
    return np.mean(-(y * np.log(A + eps) + (1 - y) * np.log(1 - A + eps)))
"""),
    Variant("binary_cross_entropy", "clip to [1e-7, 1 - 1e-7], inputs near 0 and 1", """
def binary_cross_entropy(A, y):
    P = np.clip(A, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(P) + (1 - y) * np.log(1 - P)))
"""),
    Variant("binary_cross_entropy", "np.where on the label (numpy-ml style)", """
def binary_cross_entropy(A, y):
    eps = np.finfo(np.float64).eps
    P = np.clip(A, eps, 1 - eps)
    return float(-np.mean(np.where(y == 1, np.log(P), np.log(1 - P))))
"""),
    Variant("mse_loss", "np.square of np.subtract, .mean()", """
def mse_loss(y_pred, y):
    return float(np.square(np.subtract(y_pred, y)).mean())
"""),
]
