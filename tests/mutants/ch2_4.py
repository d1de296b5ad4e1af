"""Chapter 2.4 mutants: numerical_gradient, linear_forward, relative_error."""

from . import Mutant, Variant

MUTANTS = [
    # ------------------------------------------------------------------ numerical_gradient
    Mutant("numerical_gradient", "forward difference", """
def numerical_gradient(X, y, params, loss_fn, forward_fn, h=1e-4):
    base = loss_fn(forward_fn(X, params), y)
    grads = {}
    for name, theta in params.items():
        g = np.zeros(theta.shape)
        for idx in np.ndindex(theta.shape):
            old = theta[idx]
            theta[idx] = old + h
            g[idx] = (loss_fn(forward_fn(X, params), y) - base) / h
            theta[idx] = old
        grads[name] = g
    return grads
""", "(forward difference)"),
    Mutant("numerical_gradient", "parameter not restored", """
def numerical_gradient(X, y, params, loss_fn, forward_fn, h=1e-4):
    grads = {}
    for name, theta in params.items():
        g = np.zeros(theta.shape)
        for idx in np.ndindex(theta.shape):
            theta[idx] += h
            plus = loss_fn(forward_fn(X, params), y)
            theta[idx] -= 2 * h
            minus = loss_fn(forward_fn(X, params), y)
            g[idx] = (plus - minus) / (2 * h)
        grads[name] = g
    return grads
""", "(parameter not restored)"),
    Mutant("numerical_gradient", "forward difference, not restored (classic)", """
def numerical_gradient(X, y, params, loss_fn, forward_fn, h=1e-4):
    grads = {}
    base = loss_fn(forward_fn(X, params), y)
    for name, theta in params.items():
        grad = np.zeros_like(theta)
        for idx in np.ndindex(theta.shape):
            theta[idx] += h
            grad[idx] = (loss_fn(forward_fn(X, params), y) - base) / h
        grads[name] = grad
    return grads
""", "(parameter not restored)"),
    Mutant("numerical_gradient", "divided by h instead of 2h", """
def numerical_gradient(X, y, params, loss_fn, forward_fn, h=1e-4):
    grads = {}
    for name, theta in params.items():
        g = np.zeros(theta.shape)
        for idx in np.ndindex(theta.shape):
            old = theta[idx]
            theta[idx] = old + h
            plus = loss_fn(forward_fn(X, params), y)
            theta[idx] = old - h
            minus = loss_fn(forward_fn(X, params), y)
            theta[idx] = old
            g[idx] = (plus - minus) / h
        grads[name] = g
    return grads
""", "(factor 2)"),
    Mutant("numerical_gradient", "perturbs a copy forward_fn never sees", """
def numerical_gradient(X, y, params, loss_fn, forward_fn, h=1e-4):
    grads = {}
    for name in params:
        theta = params[name].copy()
        g = np.zeros(theta.shape)
        for idx in np.ndindex(theta.shape):
            old = theta[idx]
            theta[idx] = old + h
            plus = loss_fn(forward_fn(X, params), y)
            theta[idx] = old - h
            minus = loss_fn(forward_fn(X, params), y)
            theta[idx] = old
            g[idx] = (plus - minus) / (2 * h)
        grads[name] = g
    return grads
""", "(perturbed a copy)"),
    Mutant("numerical_gradient", "h ignored", """
def numerical_gradient(X, y, params, loss_fn, forward_fn, h=1e-4):
    step = 1e-5
    grads = {}
    for name, theta in params.items():
        g = np.zeros(theta.shape)
        for idx in np.ndindex(theta.shape):
            old = theta[idx]
            theta[idx] = old + step
            plus = loss_fn(forward_fn(X, params), y)
            theta[idx] = old - step
            minus = loss_fn(forward_fn(X, params), y)
            theta[idx] = old
            g[idx] = (plus - minus) / (2 * step)
        grads[name] = g
    return grads
""", "(h ignored)"),
    Mutant("numerical_gradient", "only 2-D parameters", """
def numerical_gradient(X, y, params, loss_fn, forward_fn, h=1e-4):
    grads = {}
    for name, theta in params.items():
        g = np.zeros(theta.shape)
        for i in range(theta.shape[0]):
            for j in range(theta.shape[1]):
                old = theta[i, j]
                theta[i, j] = old + h
                plus = loss_fn(forward_fn(X, params), y)
                theta[i, j] = old - h
                minus = loss_fn(forward_fn(X, params), y)
                theta[i, j] = old
                g[i, j] = (plus - minus) / (2 * h)
        grads[name] = g
    return grads
""", "IndexError"),
    Mutant("numerical_gradient", "hard-coded public answer (2w)", """
def numerical_gradient(X, y, params, loss_fn, forward_fn, h=1e-4):
    return {name: 2 * theta for name, theta in params.items()}
""", "wrong values"),
    # ------------------------------------------------------------------ linear_forward
    Mutant("linear_forward", "no bias", """
def linear_forward(X, params):
    return X @ params["W"]
""", "(no bias)"),
    Mutant("linear_forward", "bias subtracted", """
def linear_forward(X, params):
    return X @ params["W"] - params["b"]
""", "(bias subtracted)"),
    Mutant("linear_forward", "bias transposed", """
def linear_forward(X, params):
    return X @ params["W"] + params["b"].T
""", "broadcast"),
    Mutant("linear_forward", "hard-coded public example", """
def linear_forward(X, params):
    return np.array([[1.5], [2.5], [3.5], [4.5]])
""", "returned shape"),
    # ------------------------------------------------------------------ relative_error
    Mutant("relative_error", "no denominator", """
def relative_error(a, b):
    return float(np.linalg.norm(a - b))
""", "(no denominator)"),
    Mutant("relative_error", "max in the denominator", """
def relative_error(a, b):
    d = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if d == 0 else float(np.linalg.norm(a - b) / d)
""", "(max in the denominator)"),
    Mutant("relative_error", "sums of absolute values", """
def relative_error(a, b):
    d = np.sum(np.abs(a)) + np.sum(np.abs(b))
    return 0.0 if d == 0 else float(np.sum(np.abs(a - b)) / d)
""", "(sums instead of norms)"),
    Mutant("relative_error", "no abs, no norm", """
def relative_error(a, b):
    d = np.sum(a) + np.sum(b)
    return 0.0 if d == 0 else float(np.sum(a - b) / d)
""", "(no norm)"),
    Mutant("relative_error", "0/0 when both are zero", """
def relative_error(a, b):
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))
""", "(both zero)"),
    Mutant("relative_error", "column norms (not flattened)", """
def relative_error(a, b):
    num = np.linalg.norm(a - b, axis=0)
    den = np.linalg.norm(a, axis=0) + np.linalg.norm(b, axis=0)
    return np.where(den == 0, 0.0, num / np.where(den == 0, 1.0, den))
""", "(not a scalar)"),
    Mutant("relative_error", "matrix 2-norm", """
def relative_error(a, b):
    if a.ndim == 2:
        num, den = np.linalg.norm(a - b, 2), np.linalg.norm(a, 2) + np.linalg.norm(b, 2)
    else:
        num, den = np.linalg.norm(a - b), np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if den == 0 else float(num / den)
""", "(matrix 2-norm)"),
    Mutant("relative_error", "hard-coded public answer", """
def relative_error(a, b):
    return 0.0 if np.array_equal(a, b) else 1.0 / 3.0
""", "wrong values"),
]

VARIANTS = [
    Variant("numerical_gradient", "float64 copies passed to forward_fn, flat iteration", """
def numerical_gradient(X, y, params, loss_fn, forward_fn, h=1e-4):
    work = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    grads = {}
    for name, theta in work.items():
        flat = theta.reshape(-1)
        g = np.zeros(flat.size)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + h
            plus = loss_fn(forward_fn(X, work), y)
            flat[i] = old - h
            minus = loss_fn(forward_fn(X, work), y)
            flat[i] = old
            g[i] = (plus - minus) / (2 * h)
        grads[name] = g.reshape(theta.shape)
    return grads
"""),
    Variant("numerical_gradient", "np.nditer with multi_index, new dict per evaluation", """
def numerical_gradient(X, y, params, loss_fn, forward_fn, h=1e-4):
    def loss_with(name, value):
        trial = dict(params)
        trial[name] = value
        return loss_fn(forward_fn(X, trial), y)
    grads = {}
    for name, theta in params.items():
        g = np.zeros_like(theta, dtype=np.float64)
        it = np.nditer(theta, flags=["multi_index"])
        for _ in it:
            idx = it.multi_index
            step = np.zeros_like(theta, dtype=np.float64)
            step[idx] = h
            g[idx] = (loss_with(name, theta + step) - loss_with(name, theta - step)) / (2 * h)
        grads[name] = g
    return grads
"""),
    Variant("linear_forward", "einsum", """
def linear_forward(X, params):
    return np.einsum("nd,dm->nm", X, params["W"]) + params["b"]
"""),
    Variant("linear_forward", "np.dot and np.add", """
def linear_forward(X, params):
    W, b = params["W"], params["b"]
    return np.add(np.dot(X, W), b)
"""),
    Variant("relative_error", "explicit sums of squares", """
def relative_error(a, b):
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    num = np.sqrt(np.sum((a - b) ** 2))
    den = np.sqrt(np.sum(a ** 2)) + np.sqrt(np.sum(b ** 2))
    return 0.0 if den == 0 else num / den
"""),
    Variant("relative_error", "errstate and nan_to_num", """
def relative_error(a, b):
    with np.errstate(invalid="ignore"):
        r = np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))
    return float(np.nan_to_num(r))
"""),
]
