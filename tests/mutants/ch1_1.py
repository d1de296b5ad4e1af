"""Chapter 1.1 mutants: normalize."""

from . import Mutant, Variant

MUTANTS = [
    Mutant("normalize", "global statistics", """
def normalize(X):
    std = np.std(X)
    return (X - np.mean(X)) / (std if std != 0 else 1.0)
""", "(global statistics)"),
    Mutant("normalize", "ddof=1", """
def normalize(X):
    std = np.std(X, axis=0, ddof=1)
    return (X - np.mean(X, axis=0)) / np.where(std == 0, 1.0, std)
""", "(ddof=1)"),
    Mutant("normalize", "division by zero", """
def normalize(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)
""", "(division by zero)"),
    Mutant("normalize", "np.where after dividing", """
def normalize(X):
    std = X.std(axis=0)
    return np.where(std == 0, 0.0, (X - X.mean(axis=0)) / std)
""", "(division by zero)"),
    Mutant("normalize", "epsilon added to std", """
def normalize(X):
    return (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-8)
""", "(tolerance on std)"),
    Mutant("normalize", "tolerance on std", """
def normalize(X):
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std < 1e-8, 1.0, std)
""", "(tolerance on std)"),
    Mutant("normalize", "in place", """
def normalize(X):
    std = X.std(axis=0)
    X -= X.mean(axis=0)
    X /= np.where(std == 0, 1.0, std)
    return X
""", "modified its input `X`"),
    Mutant("normalize", "row statistics", """
def normalize(X):
    std = X.std(axis=-1, keepdims=True)
    return (X - X.mean(axis=-1, keepdims=True)) / np.where(std == 0, 1.0, std)
""", "(row statistics)"),
    Mutant("normalize", "constant column left alone", """
def normalize(X):
    std = X.std(axis=0)
    centred = np.where(std == 0, 0.0, X.mean(axis=0))
    return (X - centred) / np.where(std == 0, 1.0, std)
""", "(zero-std column not centred)"),
    Mutant("normalize", "only 2-D (1-D becomes a column)", """
def normalize(X):
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std == 0, 1.0, std)
""", "(1-D reshaped to a column)"),
    Mutant("normalize", "hard-coded public example", """
def normalize(X):
    s = np.sqrt(1.5)
    if X.ndim == 1:
        return np.array([-s, 0.0, s])
    col1 = np.array([-20.0, -10.0, 30.0]) / np.sqrt(1400.0 / 3.0)
    return np.column_stack([[-s, 0.0, s], col1, [0.0, 0.0, 0.0]])
""", "returned shape"),
]

VARIANTS = [
    Variant("normalize", "np.divide with where=", """
def normalize(X):
    centred = X - X.mean(axis=0)
    std = X.std(axis=0)
    return np.divide(centred, std, out=np.zeros_like(centred), where=std != 0)
"""),
    Variant("normalize", "explicit formula, copy and loop over columns", """
def normalize(X):
    X = np.array(X, dtype=np.float64)
    if X.ndim == 1:
        mu = X.mean()
        sigma = np.sqrt(np.mean((X - mu) ** 2))
        return (X - mu) / sigma if sigma != 0 else X - mu
    out = np.empty_like(X)
    for j in range(X.shape[1]):
        col = X[:, j]
        mu = col.sum() / col.size
        sigma = np.sqrt(((col - mu) ** 2).sum() / col.size)
        out[:, j] = (col - mu) / sigma if sigma != 0 else col - mu
    return out
"""),
    Variant("normalize", "std with keepdims, zero replaced in a copy", """
def normalize(X):
    mean = X.mean(axis=0, keepdims=True)
    std = X.std(axis=0, keepdims=True)
    std[std == 0] = 1
    return (X - mean) / std
"""),
    Variant("normalize", "nan_to_num under errstate (0/0 -> 0)", """
def normalize(X):
    with np.errstate(all="ignore"):
        out = (X - X.mean(axis=0)) / X.std(axis=0)
    return np.nan_to_num(out)
"""),
]
