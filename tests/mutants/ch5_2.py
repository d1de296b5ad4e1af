"""Chapter 5.2 mutants: the framework (model, optimizers, batches, fit, checks, data).

Most mutants are the reference definition with one realistic edit (``_edit``).
"""

from pathlib import Path

from instructor.submissions import definition_source

from . import Mutant, Variant

_FRAMEWORK = (Path(__file__).resolve().parents[2] / "solutions" / "framework.py").read_text()


def _edit(name: str, *pairs: tuple[str, str]) -> str:
    """The reference definition ``name`` with each ``old`` text replaced by ``new`` (each must occur)."""
    source = definition_source(_FRAMEWORK, name)
    for old, new in pairs:
        assert old in source, f"{name}: {old!r} not in the reference"
        source = source.replace(old, new)
    return source


MUTANTS = [
    # ------------------------------------------------------------------ Sequential
    Mutant("Sequential", "backward through the output activation", _edit(
        "Sequential", ("        if layers and isinstance(layers[-1], Softmax | Sigmoid):\n            layers = layers[:-1]\n", ""),
    ), "output activation not skipped"),
    Mutant("Sequential", "backward skips any last layer", _edit(
        "Sequential", ("if layers and isinstance(layers[-1], Softmax | Sigmoid):", "if layers:"),
    ), "skipped a layer that is not an output activation"),
    Mutant("Sequential", "parameters in reverse order", _edit(
        "Sequential", ('return [layer for layer in self.layers if hasattr(layer, "W")]',
                       'return [layer for layer in reversed(self.layers) if hasattr(layer, "W")]'),
    ), "forward order"),
    Mutant("Sequential", "threshold > 0.5", _edit(
        "Sequential", ("(out[:, 0] >= 0.5)", "(out[:, 0] > 0.5)"),
    ), "threshold > 0.5"),
    # ------------------------------------------------------------------ SGD
    Mutant("SGD", "gradient ascent", _edit(
        "SGD", ("param -= self.lr * ", "param += self.lr * "),
    ), "gradient ascent"),
    Mutant("SGD", "learning rate copied at construction", _edit(
        "SGD", ("        self.lr = lr\n", "        self.lr = lr\n        self._lr0 = lr\n"),
        ("param -= self.lr * ", "param -= self._lr0 * "),
    ), "learning rate copied at construction"),
    # ------------------------------------------------------------------ Momentum
    Mutant("Momentum", "moving-average momentum", _edit(
        "Momentum", ("v = self.beta * v - self.lr * grad", "v = self.beta * v + (1 - self.beta) * grad"),
        ("param += v", "param -= self.lr * v"),
    ), "moving-average momentum"),
    Mutant("Momentum", "velocity keyed by parameter name", _edit(
        "Momentum", ("self._velocity.get((i, name), np.zeros_like(param))", "self._velocity.get(name, np.zeros_like(param))"),
        ("self._velocity[(i, name)] = v", "self._velocity[name] = v"),
    ), "momentum state shared across parameters"),
    Mutant("Momentum", "velocity never stored", _edit(
        "Momentum", ("                self._velocity[(i, name)] = v\n", ""),
    ), "velocity not kept"),
    # ------------------------------------------------------------------ Adam
    Mutant("Adam", "no bias correction", _edit(
        "Adam", ("m_hat = m / (1 - self.beta1**self.t)", "m_hat = m"), ("v_hat = v / (1 - self.beta2**self.t)", "v_hat = v"),
    ), "no bias correction"),
    # eps placement near-misses (textbook forms: the paper's "efficient" update, CS231n's
    # sqrt(v + eps) slip, a hard-coded constant that ignores the argument)
    Mutant("Adam", "eps added to sqrt(v) (efficient form)", _edit(
        "Adam",
        ("                m_hat = m / (1 - self.beta1**self.t)\n                v_hat = v / (1 - self.beta2**self.t)\n"
         "                param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)\n",
         "                lr_t = self.lr * np.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)\n"
         "                param -= lr_t * m / (np.sqrt(v) + self.eps)\n"),
    ), "eps added to sqrt(v)"),
    Mutant("Adam", "eps inside the square root", _edit(
        "Adam", ("(np.sqrt(v_hat) + self.eps)", "np.sqrt(v_hat + self.eps)"),
    ), "eps inside the square root"),
    Mutant("Adam", "eps hard-coded", _edit(
        "Adam", ("(np.sqrt(v_hat) + self.eps)", "(np.sqrt(v_hat) + 1e-8)"),
    ), "eps ignored"),
    Mutant("Adam", "betas hard-coded", _edit(
        "Adam", ("self.beta1 = beta1", "self.beta1 = 0.9"), ("self.beta2 = beta2", "self.beta2 = 0.999"),
    ), "default betas"),
    Mutant("Adam", "t incremented after the update", _edit(
        "Adam", ("        self.t += 1\n        for i, layer", "        for i, layer"),
        ("                param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)\n",
         "                param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)\n        self.t += 1\n"),
    ), "t incremented late"),
    Mutant("Adam", "t incremented per parameter", _edit(
        "Adam", ("        self.t += 1\n        for i, layer", "        for i, layer"),
        ("                key = (i, name)\n", "                key = (i, name)\n                self.t += 1\n"),
    ), "t incremented per parameter"),
    Mutant("Adam", "moments keyed by parameter name", _edit(
        "Adam", ("key = (i, name)", "key = name"),
    ), "moments shared across parameters"),
    # ------------------------------------------------------------------ initializers
    Mutant("he_init", "fan_out", _edit("he_init", ("np.sqrt(2.0 / fan_in)", "np.sqrt(2.0 / fan_out)")),
           "fan_out instead of fan_in"),
    Mutant("he_init", "variance used as std", _edit("he_init", ("np.sqrt(2.0 / fan_in)", "(2.0 / fan_in)")),
           "variance used as std"),
    Mutant("xavier_init", "1/fan_in", _edit("xavier_init", ("np.sqrt(2.0 / (fan_in + fan_out))", "np.sqrt(1.0 / fan_in)")),
           "1/fan_in Xavier"),
    Mutant("xavier_init", "global random state", _edit(
        "xavier_init", ("rng.standard_normal((fan_in, fan_out))", "np.random.standard_normal((fan_in, fan_out))"),
    ), "rng ignored"),
    # ------------------------------------------------------------------ create_batches
    Mutant("create_batches", "last batch dropped", _edit(
        "create_batches", ("for start in range(0, n, batch_size):", "for start in range(0, n - batch_size + 1, batch_size):"),
    ), "last batch dropped"),
    Mutant("create_batches", "X and y shuffled separately", _edit(
        "create_batches", ("batches.append((X[idx], y[idx]))", "batches.append((X[idx], y[np.sort(idx)]))"),
    ), "targets not aligned"),
    Mutant("create_batches", "global random state", _edit(
        "create_batches", ("order: AnyArray = rng.permutation(n)", "order: AnyArray = np.random.permutation(n)"),
    ), "rng.permutation"),
    # ------------------------------------------------------------------ step_decay
    Mutant("step_decay", "drops one epoch early", _edit(
        "step_decay", ("drop ** (epoch // epochs_per_drop)", "drop ** ((epoch + 1) // epochs_per_drop)"),
    ), "drops one epoch early"),
    Mutant("step_decay", "smooth decay", _edit(
        "step_decay", ("drop ** (epoch // epochs_per_drop)", "drop ** (epoch / epochs_per_drop)"),
    ), "smooth decay"),
    # ------------------------------------------------------------------ fit
    Mutant("fit", "best weights never restored", _edit(
        "fit", ("    if patience is not None and best_params:", "    if False:"),
    ), "restored the last weights"),
    Mutant("fit", "snapshot keeps references", _edit(
        "fit", ("best_params = [(p.W.copy(), p.b.copy()) for p in model.parameters()]",
                "best_params = [(p.W, p.b) for p in model.parameters()]"),
    ), "restored the last weights"),
    Mutant("fit", "stops one epoch late", _edit("fit", ("stop = wait >= patience", "stop = wait > patience")),
           "stopped late"),
    Mutant("fit", "schedule applied after the epoch", _edit(
        "fit",
        ("        if schedule is not None:\n            optimizer.lr = schedule(epoch)\n"
         "        history[\"lr\"].append(float(optimizer.lr))\n",
         "        history[\"lr\"].append(float(optimizer.lr))\n"),
        ("        history[\"time\"].append(time.perf_counter() - start)\n",
         "        history[\"time\"].append(time.perf_counter() - start)\n"
         "        if schedule is not None:\n            optimizer.lr = schedule(epoch)\n"),
    ), "schedule applied one epoch late"),
    Mutant("fit", "no shuffling", _edit(
        "fit", ("create_batches(X, y, batch_size, shuffle=True, rng=rng)", "create_batches(X, y, batch_size, shuffle=False)"),
    ), "no shuffling"),
    # ------------------------------------------------------------------ gradient_check
    Mutant("gradient_check", "forward differences", _edit(
        "gradient_check",
        ("                theta[idx] = original - h\n                loss_minus = loss.forward(model.forward(X), y)\n",
         "                theta[idx] = original\n                loss_minus = loss.forward(model.forward(X), y)\n"),
        ("grad[idx] = (loss_plus - loss_minus) / (2.0 * h)", "grad[idx] = (loss_plus - loss_minus) / h"),
    ), "forward differences"),
    Mutant("gradient_check", "largest absolute difference", _edit(
        "gradient_check", ("return 0.0 if denom == 0.0 else float(np.linalg.norm(a - g) / denom)",
                           "return float(np.max(np.abs(a - g)))"),
    ), "gradient_check"),
    Mutant("gradient_check", "parameters restored by arithmetic", _edit(
        "gradient_check", ("                theta[idx] = original\n                grad[idx]",
                           "                theta[idx] += 2 * h\n                theta[idx] -= h\n                grad[idx]"),
    ), "parameters not restored"),
    # ------------------------------------------------------------------ data sets, grid
    Mutant("make_xor", "labels as a flat vector", _edit(
        "make_xor", ("[which].reshape(-1, 1)", "[which]"),
    ), "column vector"),
    Mutant("make_xor", "global random state", _edit(
        "make_xor", ("noise * rng.standard_normal((n_samples, 2))", "noise * np.random.standard_normal((n_samples, 2))"),
    ), "make_xor with the same rng seed twice"),
    Mutant("make_spirals", "sin and cos swapped", _edit(
        "make_spirals", ("np.column_stack([r * np.sin(t), r * np.cos(t)])", "np.column_stack([r * np.cos(t), r * np.sin(t)])"),
    ), "sin and cos swapped"),
    Mutant("make_spirals", "noise on the radius", _edit(
        "make_spirals",
        ("        t = t + noise * rng.standard_normal(n_per_class)\n", ""),
        ("[r * np.sin(t), r * np.cos(t)]",
         "[(r + noise * rng.standard_normal(n_per_class)) * np.sin(t), r * np.cos(t)]"),
    ), "the noise only touches the angle"),
    Mutant("decision_grid", "xx and yy swapped", _edit(
        "decision_grid", ("    xx, yy = np.meshgrid(", "    yy, xx = np.meshgrid("),
    ), "xx and yy swapped"),
    Mutant("decision_grid", "margin ignored", _edit(
        "decision_grid", ("    lo: FloatArray = X.min(axis=0) - margin\n    hi: FloatArray = X.max(axis=0) + margin\n",
                          "    lo: FloatArray = X.min(axis=0)\n    hi: FloatArray = X.max(axis=0)\n"),
    ), "margin ignored"),
]

VARIANTS = [
    Variant("Sequential", "index loops, output activation found by type name", '''
class Sequential:
    layers: list

    def __init__(self, layers):
        self.layers = [layer for layer in layers]

    def forward(self, X):
        out = X
        for i in range(len(self.layers)):
            out = self.layers[i].forward(out)
        return out

    def backward(self, grad):
        stop = len(self.layers)
        if stop and type(self.layers[-1]).__name__ in ("Softmax", "Sigmoid"):
            stop -= 1
        for i in range(stop - 1, -1, -1):
            grad = self.layers[i].backward(grad)
        return grad

    def predict(self, X):
        probs = self.forward(X)
        if probs.shape[1] > 1:
            return probs.argmax(axis=1)
        return np.where(probs[:, 0] >= 0.5, 1, 0)

    def parameters(self):
        return [layer for layer in self.layers if hasattr(layer, "dW")]
'''),
    Variant("SGD", "new arrays instead of in-place updates", '''
class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def step(self, layers):
        for layer in layers:
            layer.W = layer.W - self.lr * layer.dW
            layer.b = layer.b - self.lr * layer.db
'''),
    Variant("Momentum", "list of per-layer dicts", '''
class Momentum:
    def __init__(self, lr=0.01, beta=0.9):
        self.lr, self.beta = lr, beta
        self.v = []

    def step(self, layers):
        while len(self.v) < len(layers):
            layer = layers[len(self.v)]
            self.v.append({"W": np.zeros_like(layer.W), "b": np.zeros_like(layer.b)})
        for layer, v in zip(layers, self.v):
            v["W"] = self.beta * v["W"] - self.lr * layer.dW
            v["b"] = self.beta * v["b"] - self.lr * layer.db
            layer.W = layer.W + v["W"]
            layer.b = layer.b + v["b"]
'''),
    Variant("Adam", "moments in lists, bias correction folded into the step size", '''
class Adam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.m = {}
        self.v = {}

    def step(self, layers):
        self.t = self.t + 1
        c1 = 1 - self.beta1 ** self.t
        c2 = 1 - self.beta2 ** self.t
        for i, layer in enumerate(layers):
            for name, grad in (("W", layer.dW), ("b", layer.db)):
                m = self.m.get((i, name), 0.0) * self.beta1 + (1 - self.beta1) * grad
                v = self.v.get((i, name), 0.0) * self.beta2 + (1 - self.beta2) * grad * grad
                self.m[(i, name)], self.v[(i, name)] = m, v
                step = self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)
                setattr(layer, name, getattr(layer, name) - step)
'''),
    Variant("he_init", "rng.normal", '''
def he_init(fan_in, fan_out, rng=None):
    rng = rng or np.random.default_rng()
    return rng.normal(0.0, (2.0 / fan_in) ** 0.5, size=(fan_in, fan_out))
'''),
    Variant("xavier_init", "rng.normal", '''
def xavier_init(fan_in, fan_out, rng=None):
    rng = rng or np.random.default_rng()
    return rng.normal(loc=0.0, scale=np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_in, fan_out))
'''),
    Variant("create_batches", "rng.shuffle of an index array", '''
def create_batches(X, y, batch_size, shuffle=True, rng=None):
    idx = np.arange(len(X))
    if shuffle:
        (rng if rng is not None else np.random.default_rng()).shuffle(idx)
    out = []
    i = 0
    while i < len(idx):
        part = idx[i:i + batch_size]
        out.append((X[part], y[part]))
        i += batch_size
    return out
'''),
    Variant("step_decay", "math.floor", '''
def step_decay(epoch, initial_lr=0.1, drop=0.5, epochs_per_drop=10):
    import math
    return initial_lr * math.pow(drop, math.floor(epoch / epochs_per_drop))
'''),
    Variant("fit", "deep copies of the best layers, explicit permutation", '''
def fit(model, X, y, loss, optimizer, epochs=100, batch_size=32, X_val=None, y_val=None, patience=None,
        schedule=None, rng=None):
    import time as _time
    if patience is not None and X_val is None:
        raise ValueError("patience needs validation data")
    rng = np.random.default_rng() if rng is None else rng
    keys = ("loss", "train_acc", "val_loss", "val_acc", "lr", "time")
    history = {k: [] for k in keys}
    history["best_epoch"] = None

    def labels(t):
        t = np.asarray(t)
        if t.ndim == 1:
            return t
        return t.argmax(axis=1) if t.shape[1] > 1 else (t[:, 0] >= 0.5).astype(int)

    best = None
    best_value = float("inf")
    bad = 0
    for epoch in range(epochs):
        t0 = _time.time()
        if schedule is not None:
            optimizer.lr = schedule(epoch)
        history["lr"].append(optimizer.lr)
        perm = rng.permutation(len(X))
        losses = []
        for s in range(0, len(X), batch_size):
            idx = perm[s:s + batch_size]
            losses.append(loss.forward(model.forward(X[idx]), y[idx]))
            model.backward(loss.backward())
            optimizer.step(model.parameters())
        history["loss"].append(sum(losses) / len(losses))
        history["train_acc"].append(float(np.mean(model.predict(X) == labels(y))))
        if X_val is not None:
            value = loss.forward(model.forward(X_val), y_val)
            history["val_loss"].append(value)
            history["val_acc"].append(float(np.mean(model.predict(X_val) == labels(y_val))))
            if patience is not None:
                if value < best_value:
                    best_value, bad, history["best_epoch"] = value, 0, epoch
                    best = [{"W": np.array(p.W), "b": np.array(p.b)} for p in model.parameters()]
                else:
                    bad += 1
        history["time"].append(_time.time() - t0)
        if patience is not None and bad >= patience:
            break
    if best is not None:
        for p, saved in zip(model.parameters(), best):
            p.W = saved["W"]
            p.b = saved["b"]
    return history
'''),
    Variant("gradient_check", "np.nditer and a copy of every parameter", '''
def gradient_check(model, X, y, loss=None, h=1e-5):
    loss = loss if loss is not None else CrossEntropyLoss()
    layers = model.parameters()
    loss.forward(model.forward(X), y)
    model.backward(loss.backward())
    backprop = np.concatenate([np.ravel(np.copy(getattr(l, g))) for l in layers for g in ("dW", "db")])
    numeric = []
    for layer in layers:
        for name in ("W", "b"):
            p = getattr(layer, name)
            saved = p.copy()
            it = np.nditer(p, flags=["multi_index"])
            g = np.zeros(p.shape)
            while not it.finished:
                i = it.multi_index
                p[i] = saved[i] + h
                up = loss.forward(model.forward(X), y)
                p[i] = saved[i] - h
                down = loss.forward(model.forward(X), y)
                p[i] = saved[i]
                g[i] = (up - down) / (2 * h)
                it.iternext()
            numeric.append(g.ravel())
    num = np.concatenate(numeric)
    top = np.linalg.norm(backprop - num)
    bottom = np.linalg.norm(backprop) + np.linalg.norm(num)
    return float(top / bottom) if bottom > 0 else 0.0
'''),
    Variant("make_xor", "np.tile of the truth table", '''
def make_xor(n_samples=200, noise=0.1, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    reps = -(-n_samples // 4)
    X = np.tile(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float), (reps, 1))[:n_samples]
    y = (X[:, :1] != X[:, 1:]).astype(float)
    return X + noise * rng.standard_normal(X.shape), y
'''),
    Variant("make_spirals", "one class at a time, list of blocks", '''
def make_spirals(n_per_class=100, n_classes=3, noise=0.2, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    points, targets = [], []
    for j in range(n_classes):
        radius = np.linspace(0.0, 1.0, n_per_class)
        angle = np.linspace(4.0 * j, 4.0 * (j + 1), n_per_class) + noise * rng.standard_normal(n_per_class)
        points.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        one_hot = np.zeros((n_per_class, n_classes))
        one_hot[:, j] = 1.0
        targets.append(one_hot)
    return np.vstack(points), np.vstack(targets)
'''),
    Variant("decision_grid", "explicit loops over the grid", '''
def decision_grid(model, X, resolution=200, margin=0.5):
    xs = np.linspace(X[:, 0].min() - margin, X[:, 0].max() + margin, resolution)
    ys = np.linspace(X[:, 1].min() - margin, X[:, 1].max() + margin, resolution)
    xx = np.empty((resolution, resolution))
    yy = np.empty((resolution, resolution))
    for i in range(resolution):
        xx[i, :] = xs
        yy[:, i] = ys
    points = np.stack([xx.ravel(), yy.ravel()], axis=1)
    return xx, yy, model.predict(points).reshape(resolution, resolution)
'''),
]

# Mistakes and correct styles seen in public optimizers (CS231n-style optim.py, numpy-ml), written anew.
MUTANTS += [
    Mutant("Momentum", "beta hard-coded to 0.9", _edit(
        "Momentum", ("v = self.beta * v - self.lr * grad", "v = 0.9 * v - self.lr * grad"),
    ), "default beta"),
    Mutant("Adam", "learning rate hard-coded to 0.001", _edit(
        "Adam", ("param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)",
                 "param -= 0.001 * m_hat / (np.sqrt(v_hat) + self.eps)"),
    ), "default learning rate"),
    Mutant("SGD", "learning rate hard-coded to 0.01", _edit(
        "SGD", ("param -= self.lr * ", "param -= 0.01 * "),
    ), "default learning rate"),
]

VARIANTS += [
    Variant("Momentum", "velocity with the opposite sign (v = beta v + lr g, W -= v)", '''
class Momentum:
    def __init__(self, lr=0.01, beta=0.9):
        self.lr = lr
        self.beta = beta
        self.velocities = {}

    def step(self, layers):
        for position, layer in enumerate(layers):
            for name in ("W", "b"):
                key = (position, name)
                grad = getattr(layer, "d" + name)
                v = self.beta * self.velocities.get(key, 0.0) + self.lr * grad
                self.velocities[key] = v
                setattr(layer, name, getattr(layer, name) - v)
'''),
    Variant("Adam", "separate m and v dictionaries, hat values named as in the paper", '''
class Adam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.m, self.v = {}, {}

    def step(self, layers):
        self.t += 1
        for i, layer in enumerate(layers):
            for name in ("W", "b"):
                g = getattr(layer, "d" + name)
                key = f"{i}:{name}"
                self.m[key] = self.beta1 * self.m.get(key, np.zeros_like(g)) + (1 - self.beta1) * g
                self.v[key] = self.beta2 * self.v.get(key, np.zeros_like(g)) + (1 - self.beta2) * g * g
                m_hat = self.m[key] / (1 - self.beta1 ** self.t)
                v_hat = self.v[key] / (1 - self.beta2 ** self.t)
                setattr(layer, name, getattr(layer, name) - self.lr * m_hat / (np.sqrt(v_hat) + self.eps))
'''),
]
