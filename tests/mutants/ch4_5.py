"""Chapter 4.5 mutants: momentum_update, accuracy."""

from . import Mutant, Variant

MUTANTS = [
    Mutant("momentum_update", "plus sign", """
def momentum_update(v, grad, mu, lr):
    return mu * v + lr * grad
""", "sign conventions"),
    Mutant("momentum_update", "ignored mu", """
def momentum_update(v, grad, mu, lr):
    return -lr * grad
""", "ignored mu"),
    Mutant("momentum_update", "in-place update of v", """
def momentum_update(v, grad, mu, lr):
    v *= mu
    v -= lr * grad
    return v
""", "modified"),
    Mutant("accuracy", "argmax on axis 0", """
def accuracy(y_pred, y):
    def labels(a):
        a = np.asarray(a)
        if a.ndim == 1:
            return a
        if a.shape[1] == 1:
            return (a[:, 0] >= 0.5).astype(int)
        return np.argmax(a, axis=0)
    return float(np.mean(labels(y_pred) == labels(y)))
""", "argmax on the wrong axis"),
    Mutant("accuracy", "count instead of fraction", """
def accuracy(y_pred, y):
    def labels(a):
        a = np.asarray(a)
        if a.ndim == 1:
            return a
        if a.shape[1] == 1:
            return (a[:, 0] >= 0.5).astype(int)
        return np.argmax(a, axis=1)
    return float(np.sum(labels(y_pred) == labels(y)))
""", "count instead of fraction"),
    Mutant("accuracy", "threshold > 0.5", """
def accuracy(y_pred, y):
    def labels(a):
        a = np.asarray(a)
        if a.ndim == 1:
            return a
        if a.shape[1] == 1:
            return (a[:, 0] > 0.5).astype(int)
        return np.argmax(a, axis=1)
    return float(np.mean(labels(y_pred) == labels(y)))
""", "threshold > 0.5"),
]

VARIANTS = [
    Variant("momentum_update", "two steps", """
def momentum_update(v, grad, mu, lr):
    decayed = v * mu
    return decayed - grad * lr
"""),
    Variant("accuracy", "loop over samples", """
def accuracy(y_pred, y):
    def label(row):
        row = np.atleast_1d(row)
        if row.size == 1:
            return int(row[0] >= 0.5)
        return int(np.argmax(row))
    y_pred, y = np.asarray(y_pred), np.asarray(y)
    n = len(y)
    if len(y_pred) != n or n == 0:
        raise ValueError("y_pred and y must hold the same number of samples, at least one")
    correct = 0
    for i in range(n):
        a = y_pred[i] if y_pred.ndim == 1 else label(y_pred[i])
        b = y[i] if y.ndim == 1 else label(y[i])
        correct += int(a == b)
    return correct / n
"""),
]

# Mistakes and correct styles seen in public code (sgd_momentum of CS231n-style optim.py, metrics), written anew.
MUTANTS += [
    Mutant("momentum_update", "learning rate applied to the whole velocity", """
def momentum_update(v, grad, mu, lr):
    return lr * (mu * v - grad)
""", "lr on the whole velocity"),
    Mutant("accuracy", "no check of the sample counts (== broadcasts)", """
def accuracy(y_pred, y):
    def labels(a):
        a = np.asarray(a)
        if a.ndim == 2 and a.shape[1] == 1:
            return (a[:, 0] >= 0.5).astype(int)
        return a if a.ndim == 1 else a.argmax(axis=1)
    return float(np.mean(labels(y_pred) == labels(y)))
""", "(no validation)"),
]

VARIANTS += [
    Variant("accuracy", "count_nonzero with an explicit check", """
def accuracy(y_pred, y):
    def to_labels(a):
        a = np.asarray(a)
        if a.ndim == 1:
            return a
        if a.ndim == 2 and a.shape[1] == 1:
            return np.where(a[:, 0] >= 0.5, 1, 0)
        if a.ndim == 2:
            return a.argmax(axis=1)
        raise ValueError("expected a 1-D or 2-D array")
    p, t = to_labels(y_pred), to_labels(y)
    if p.shape[0] != t.shape[0] or p.shape[0] < 1:
        raise ValueError("different numbers of samples")
    return np.count_nonzero(p == t) / p.shape[0]
"""),
]
