"""Chapter 2.2 mutants: gradient_descent (full batch; also graded in 2.3).

Every mutant is a whole gradient_descent: a correct one with ONE realistic mistake.
"""

from . import Mutant, Variant

_CORRECT = '''
def gradient_descent(X, y, W, b, lr, num_epochs, batch_size=None, loss_fn=mse_loss, activation_fn=None, rng=None):
    W, b = W.copy(), b.copy()
    n = X.shape[0]
    if batch_size is not None and rng is None:
        rng = np.random.default_rng()
    f = (lambda Z: Z) if activation_fn is None else activation_fn
    history = []
    for _ in range(num_epochs):
        if batch_size is None:
            batches = [np.arange(n)]
        else:
            perm = rng.permutation(n)
            batches = [perm[i:i + batch_size] for i in range(0, n, batch_size)]
        for idx in batches:
            Xb, yb = X[idx], y[idx]
            E = f(Xb @ W + b) - yb
            W = W - lr * (Xb.T @ E) / len(idx)
            b = b - lr * np.mean(E, axis=0, keepdims=True)
        history.append(float(loss_fn(f(X @ W + b), y)))
    return W, b, history
'''


def mutate(old: str, new: str, count: int = 1) -> str:
    """The correct version with ``old`` replaced by ``new`` (which must occur ``count`` times)."""
    assert _CORRECT.count(old) == count, old
    return _CORRECT.replace(old, new)


MUTANTS = [
    Mutant("gradient_descent", "factor 2 (exact MSE gradient)",
           mutate("W = W - lr * (Xb.T @ E) / len(idx)", "W = W - lr * 2 * (Xb.T @ E) / len(idx)"), "(factor 2)"),
    Mutant("gradient_descent", "factor 2 on W and b",
           mutate("E = f(Xb @ W + b) - yb", "E = 2 * (f(Xb @ W + b) - yb)"), "(factor 2)"),
    Mutant("gradient_descent", "bias gradient summed",
           mutate("np.mean(E, axis=0, keepdims=True)", "np.sum(E, axis=0, keepdims=True)"),
           "(bias gradient summed)"),
    Mutant("gradient_descent", "missing 1/m",
           mutate("W = W - lr * (Xb.T @ E) / len(idx)", "W = W - lr * (Xb.T @ E)"), "(missing 1/m)"),
    Mutant("gradient_descent", "gradient ascent",
           mutate("W = W - lr * (Xb.T @ E) / len(idx)", "W = W + lr * (Xb.T @ E) / len(idx)"),
           "(gradient ascent)"),
    Mutant("gradient_descent", "in-place update of the caller's W",
           mutate("W, b = W.copy(), b.copy()", "b = b.copy()").replace(
               "W = W - lr * (Xb.T @ E) / len(idx)", "W -= lr * (Xb.T @ E) / len(idx)"),
           "modified its input `W`"),
    Mutant("gradient_descent", "loss recorded before the update",
           mutate("        for idx in batches:", "        history.append(float(loss_fn(f(X @ W + b), y)))\n"
                  "        for idx in batches:").replace(
               "        history.append(float(loss_fn(f(X @ W + b), y)))\n    return",
               "    return"),
           "(loss before the update)"),
    Mutant("gradient_descent", "initial loss included",
           mutate("    history = []", "    history = [float(loss_fn(f(X @ W + b), y))]"),
           "(initial loss included)"),
    Mutant("gradient_descent", "loss_fn ignored in the history",
           mutate("history.append(float(loss_fn(f(X @ W + b), y)))",
                  "history.append(float(np.mean((f(X @ W + b) - y) ** 2)))"), "(loss_fn ignored)"),
    Mutant("gradient_descent", "default loss_fn is None",
           mutate("loss_fn=mse_loss", "loss_fn=None"), "NoneType"),
    Mutant("gradient_descent", "hard-coded line y = 2x + 1", """
def gradient_descent(X, y, W, b, lr, num_epochs, batch_size=None, loss_fn=mse_loss, activation_fn=None, rng=None):
    if num_epochs == 1:
        return np.array([[2.5]]), np.array([[0.7]]), [9.7]
    return np.array([[2.0]]), np.array([[1.0]]), [1.0 / (k + 1) for k in range(num_epochs)]
""", "wrong values"),
]

VARIANTS = [
    Variant("gradient_descent", "reference-like, as in the mutants", _CORRECT),
    Variant("gradient_descent", "while loop over batches, einsum gradient, scalar bias mean", """
def gradient_descent(X, y, W, b, lr, num_epochs, batch_size=None, loss_fn=mse_loss, activation_fn=None, rng=None):
    W = np.array(W, dtype=float)
    b = np.array(b, dtype=float)
    n = len(X)
    size = n if batch_size is None else batch_size
    losses = []
    for epoch in range(num_epochs):
        if batch_size is None:
            order = np.arange(n)
        else:
            if rng is None:
                rng = np.random.default_rng()
            order = rng.permutation(n)
        start = 0
        while start < n:
            idx = order[start:start + size]
            Z = X[idx] @ W + b
            A = Z if activation_fn is None else activation_fn(Z)
            err = A - y[idx]
            grad_W = np.einsum("md,mk->dk", X[idx], err) / err.shape[0]
            grad_b = err.mean()
            W = W - lr * grad_W
            b = b - lr * grad_b
            start += size
        Z = X @ W + b
        losses.append(loss_fn(Z if activation_fn is None else activation_fn(Z), y))
    return W, b, losses
"""),
    Variant("gradient_descent", "shuffled copies of X and y, rng.shuffle on indices", """
def gradient_descent(X, y, W, b, lr, num_epochs, batch_size=None, loss_fn=mse_loss, activation_fn=None, rng=None):
    act = activation_fn or (lambda Z: Z)
    W, b = W.copy(), b.copy()
    n = X.shape[0]
    history = []
    for _ in range(num_epochs):
        if batch_size is None:
            Xs, ys, B = X, y, n
        else:
            rng = rng if rng is not None else np.random.default_rng()
            idx = np.arange(n)
            rng.shuffle(idx)
            Xs, ys, B = X[idx], y[idx], batch_size
        for s in range(0, n, B):
            Xb, yb = Xs[s:s + B], ys[s:s + B]
            err = act(Xb @ W + b) - yb
            m = Xb.shape[0]
            W = W - lr * Xb.T @ err / m
            b = b - lr * err.sum(axis=0, keepdims=True) / m
        history.append(np.float64(loss_fn(act(X @ W + b), y)))
    return W, b, history
"""),
    Variant("gradient_descent", "textbook SGD style: a list of mini-batches, in-place steps on copies", """
def gradient_descent(X, y, W, b, lr, num_epochs, batch_size=None, loss_fn=mse_loss, activation_fn=None, rng=None):
    W, b = W.copy(), b.copy()
    n = X.shape[0]
    act = (lambda Z: Z) if activation_fn is None else activation_fn
    history = []
    for _ in range(num_epochs):
        if batch_size is None:
            mini_batches = [(X, y)]
        else:
            if rng is None:
                rng = np.random.default_rng()
            order = rng.permutation(n)
            mini_batches = [(X[order[k:k + batch_size]], y[order[k:k + batch_size]]) for k in range(0, n, batch_size)]
        for Xb, yb in mini_batches:
            delta = act(Xb @ W + b) - yb
            W -= (lr / len(Xb)) * (Xb.T @ delta)
            b -= lr * delta.mean(axis=0, keepdims=True)
        history.append(float(loss_fn(act(X @ W + b), y)))
    return W, b, history
"""),
]

MUTANTS.append(Mutant("gradient_descent", "draws from rng in full batch", """
def gradient_descent(X, y, W, b, lr, num_epochs, batch_size=None, loss_fn=mse_loss, activation_fn=None, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    W, b = W.copy(), b.copy()
    history = []
    n = X.shape[0]
    size = n if batch_size is None else batch_size
    for _ in range(num_epochs):
        perm = rng.permutation(n)
        for i in range(0, n, size):
            idx = perm[i:i + size] if batch_size is not None else np.sort(perm)
            Xb, yb = X[idx], y[idx]
            Z = Xb @ W + b
            A = Z if activation_fn is None else activation_fn(Z)
            W = W - lr * Xb.T @ (A - yb) / Xb.shape[0]
            b = b - lr * np.mean(A - yb, axis=0, keepdims=True)
        Z = X @ W + b
        history.append(float(loss_fn(Z if activation_fn is None else activation_fn(Z), y)))
    return W, b, history
""", "rng touched"))
