"""Chapter 5.1 mutants: Linear, ReLU, Sigmoid, Tanh, Softmax and the three losses.

Most mutants are the reference class with one realistic edit (``_edit``), so each
differs from a correct class in exactly the way a student's would.
"""

from pathlib import Path

from instructor.submissions import definition_source

from . import Mutant, Variant

_LAYERS = (Path(__file__).resolve().parents[2] / "solutions" / "layers.py").read_text()


def _edit(name: str, *pairs: tuple[str, str]) -> str:
    """The reference class ``name`` with each ``old`` text replaced by ``new`` (each must occur)."""
    source = definition_source(_LAYERS, name)
    for old, new in pairs:
        assert old in source, f"{name}: {old!r} not in the reference"
        source = source.replace(old, new)
    return source


MUTANTS = [
    # ------------------------------------------------------------------ Linear
    Mutant("Linear", "dW averaged in Linear", _edit(
        "Linear", ("self.dW = self._X.T @ dZ", "self.dW = self._X.T @ dZ / dZ.shape[0]"),
    ), "averaged in Linear"),
    Mutant("Linear", "gradients accumulate", _edit(
        "Linear",
        ("self.dW = self._X.T @ dZ", "self.dW = self.dW + self._X.T @ dZ"),
        ("self.db = np.sum(dZ, axis=0, keepdims=True)", "self.db = self.db + np.sum(dZ, axis=0, keepdims=True)"),
    ), "gradients accumulate"),
    Mutant("Linear", "He with fan_out", _edit(
        "Linear", ("std = np.sqrt(2.0 / in_features)", "std = np.sqrt(2.0 / out_features)"),
    ), "fan_out instead of fan_in"),
    Mutant("Linear", "Xavier as 1/fan_in", _edit(
        "Linear", ("std = np.sqrt(2.0 / (in_features + out_features))", "std = np.sqrt(1.0 / in_features)"),
    ), "1/fan_in Xavier"),
    Mutant("Linear", "cache written once", _edit(
        "Linear", ("        self._X = X\n", "        if self._X is None:\n            self._X = X\n"),
    ), "stale cache"),
    # ------------------------------------------------------------------ ReLU
    Mutant("ReLU", "derivative 1 at zero", _edit(
        "ReLU", ("return dA * (self._Z > 0)", "return dA * (self._Z >= 0)"),
    ), "mask Z >= 0"),
    Mutant("ReLU", "forward in place", _edit(
        "ReLU", ("        return np.maximum(Z, 0)", "        Z[Z < 0] = 0\n        return Z"),
    ), "modified its input"),
    Mutant("ReLU", "backward in place", _edit(
        "ReLU", ("        return dA * (self._Z > 0)", "        dA[self._Z <= 0] = 0\n        return dA"),
    ), "modified its input"),
    # ------------------------------------------------------------------ Sigmoid
    Mutant("Sigmoid", "sigmoid of the cached output", _edit(
        "Sigmoid", ("return dA * self._A * (1.0 - self._A)", "return dA * sigmoid(self._A) * (1.0 - sigmoid(self._A))"),
    ), "sigmoid of the output"),
    Mutant("Sigmoid", "naive exp overflows", _edit(
        "Sigmoid", ("self._A = sigmoid(Z)", "self._A = 1.0 / (1.0 + np.exp(-Z))"),
    ), "overflow"),
    Mutant("Sigmoid", "backward overwrites its cache", _edit(
        "Sigmoid", ("        return dA * self._A * (1.0 - self._A)",
                    "        self._A *= 1.0 - self._A\n        return dA * self._A"),
    ), "called a second time"),
    # ------------------------------------------------------------------ Tanh
    Mutant("Tanh", "derivative of the input", _edit(
        "Tanh",
        ("self._A = np.tanh(Z)\n        return self._A", "self._A = Z\n        return np.tanh(Z)"),
        ("return dA * (1.0 - self._A**2)", "return dA * (1.0 - self._A**2)"),
    ), "derivative of the input"),
    Mutant("Tanh", "cache written once", _edit(
        "Tanh", ("        self._A = np.tanh(Z)\n        return self._A",
                 "        if self._A is None:\n            self._A = np.tanh(Z)\n        return np.tanh(Z)"),
    ), "stale cache"),
    # ------------------------------------------------------------------ Softmax
    Mutant("Softmax", "identity backward", _edit(
        "Softmax", ("        S = self._S\n        return S * (dS - np.sum(dS * S, axis=1, keepdims=True))",
                    "        return dS"),
    ), "identity backward"),
    Mutant("Softmax", "normalized over axis 0", _edit(
        "Softmax", ("self._S = softmax(Z)",
                    "E = np.exp(Z - Z.max(axis=0, keepdims=True))\n        self._S = E / E.sum(axis=0, keepdims=True)"),
    ), "softmax over axis 0"),
    Mutant("Softmax", "no max shift", _edit(
        "Softmax", ("self._S = softmax(Z)", "E = np.exp(Z)\n        self._S = E / E.sum(axis=1, keepdims=True)"),
    ), "overflow"),
    # ------------------------------------------------------------------ CrossEntropyLoss
    Mutant("CrossEntropyLoss", "backward not averaged", _edit(
        "CrossEntropyLoss", ("return (self._P - self._Y) / self._P.shape[0]", "return self._P - self._Y"),
    ), "CE backward not averaged"),
    Mutant("CrossEntropyLoss", "gradient with respect to the probabilities", _edit(
        "CrossEntropyLoss", ("return (self._P - self._Y) / self._P.shape[0]",
                             "return -self._Y / (np.clip(self._P, 1e-12, None) * self._P.shape[0])"),
    ), "gradient with respect to the probabilities"),
    Mutant("CrossEntropyLoss", "no clipping", _edit(
        "CrossEntropyLoss", ("np.log(np.clip(probs, EPS, 1.0))", "np.log(probs)"),
    ), "log(0)"),
    # ------------------------------------------------------------------ MSELoss
    Mutant("MSELoss", "missing factor 2", _edit(
        "MSELoss", ("return 2.0 * self._diff / self._diff.size", "return self._diff / self._diff.size"),
    ), "missing factor 2"),
    Mutant("MSELoss", "divided by the number of rows", _edit(
        "MSELoss", ("return 2.0 * self._diff / self._diff.size", "return 2.0 * self._diff / self._diff.shape[0]"),
    ), "divided by n instead of N"),
    # ------------------------------------------------------------------ BCELoss
    Mutant("BCELoss", "gradient with respect to the probabilities", _edit(
        "BCELoss", ("return (self._P - self._Y) / self._P.size",
                    "P = np.clip(self._P, EPS, 1 - EPS)\n        return (P - self._Y) / (P * (1 - P)) / P.size"),
    ), "gradient with respect to the probabilities"),
    Mutant("BCELoss", "no clipping", _edit(
        "BCELoss", ("P = np.clip(probs, EPS, 1.0 - EPS)", "P = probs"),
    ), "log(0)"),
]

VARIANTS = [
    Variant("Linear", "rng.normal, einsum and a copied cache", '''
class Linear:
    W: FloatArray
    b: FloatArray
    dW: FloatArray
    db: FloatArray

    def __init__(self, in_features, out_features, init="he", rng=None):
        fan = {"he": in_features / 2.0, "xavier": (in_features + out_features) / 2.0}
        if init not in fan:
            raise ValueError("unknown init " + str(init))
        rng = rng if rng is not None else np.random.default_rng()
        self.W = rng.normal(0.0, 1.0 / np.sqrt(fan[init]), size=(in_features, out_features))
        self.b = np.zeros((1, out_features))
        self.dW = np.zeros((in_features, out_features))
        self.db = np.zeros((1, out_features))
        self.cache = {}

    def forward(self, X):
        self.cache["X"] = np.array(X, copy=True)
        return np.einsum("nd,dm->nm", X, self.W) + self.b

    def backward(self, dZ):
        X = self.cache["X"]
        self.dW = np.einsum("nd,nm->dm", X, dZ)
        self.db = dZ.sum(axis=0)[None, :]
        return np.einsum("nm,dm->nd", dZ, self.W)
'''),
    Variant("ReLU", "np.where", '''
class ReLU:
    def __init__(self):
        self.mask = None

    def forward(self, Z):
        self.mask = Z > 0
        return np.where(self.mask, Z, 0.0)

    def backward(self, dA):
        return np.where(self.mask, dA, 0.0)
'''),
    Variant("Sigmoid", "tanh form, caching the input", '''
class Sigmoid:
    def __init__(self):
        self.Z = None

    def forward(self, Z):
        self.Z = np.array(Z, dtype=np.float64)
        return 0.5 * (1.0 + np.tanh(0.5 * self.Z))

    def backward(self, dA):
        s = 0.5 * (1.0 + np.tanh(0.5 * self.Z))
        return dA * s * (1.0 - s)
'''),
    Variant("Tanh", "caching the input", '''
class Tanh:
    def __init__(self):
        self.Z = None

    def forward(self, Z):
        self.Z = Z
        return np.tanh(Z)

    def backward(self, dA):
        return dA / np.cosh(self.Z) ** 2
'''),
    Variant("Softmax", "explicit Jacobian per row", '''
class Softmax:
    def __init__(self):
        self.S = None

    def forward(self, Z):
        shifted = Z - np.max(Z, axis=1, keepdims=True)
        E = np.exp(shifted)
        self.S = E / np.sum(E, axis=1, keepdims=True)
        return self.S

    def backward(self, dS):
        out = np.empty_like(dS, dtype=np.float64)
        for i, s in enumerate(self.S):
            J = np.diag(s) - np.outer(s, s)
            out[i] = J @ dS[i]
        return out
'''),
    Variant("CrossEntropyLoss", "loop one-hot, epsilon inside the log", '''
class CrossEntropyLoss:
    def __init__(self):
        self.P = None
        self.Y = None

    def forward(self, probs, targets):
        n, k = probs.shape
        if np.ndim(targets) == 1:
            Y = np.zeros((n, k))
            for i, label in enumerate(targets):
                Y[i, int(label)] = 1.0
        else:
            Y = np.asarray(targets, dtype=np.float64)
        self.P, self.Y = probs, Y
        return -np.sum(Y * np.log(probs + 1e-9)) / n

    def backward(self):
        return (self.P - self.Y) / len(self.P)
'''),
    Variant("MSELoss", "stores prediction and targets", '''
class MSELoss:
    def __init__(self):
        self.pred = None
        self.y = None

    def forward(self, pred, targets):
        self.pred, self.y = pred, np.asarray(targets).reshape(pred.shape)
        return float(((self.pred - self.y) ** 2).sum() / self.pred.size)

    def backward(self):
        return (self.pred - self.y) * (2.0 / self.pred.size)
'''),
    Variant("BCELoss", "epsilon inside the logs", '''
class BCELoss:
    def __init__(self):
        self.P = None
        self.Y = None

    def forward(self, probs, targets):
        Y = np.reshape(targets, probs.shape)
        self.P, self.Y = probs, Y
        eps = 1e-8
        return float(np.mean(-(Y * np.log(probs + eps) + (1 - Y) * np.log(1 - probs + eps))))

    def backward(self):
        return (self.P - self.Y) / self.P.size
'''),
]

# Mistakes and correct styles seen in public "layers as classes" code (from-scratch frameworks), written anew.
MUTANTS += [
    Mutant("Linear", "db averaged over the batch", _edit(
        "Linear", ("self.db = np.sum(dZ, axis=0, keepdims=True)", "self.db = np.mean(dZ, axis=0, keepdims=True)"),
    ), "mean instead of sum"),
    Mutant("Softmax", "diagonal of the Jacobian only", _edit(
        "Softmax", ("return S * (dS - np.sum(dS * S, axis=1, keepdims=True))", "return dS * S * (1.0 - S)"),
    ), "diagonal of the Jacobian only"),
    Mutant("Tanh", "tanh applied again to the cached output", _edit(
        "Tanh", ("return dA * (1.0 - self._A**2)", "return dA * (1.0 - np.tanh(self._A) ** 2)"),
    ), "tanh of the output"),
    Mutant("CrossEntropyLoss", "summed over the batch", _edit(
        "CrossEntropyLoss", ("return float(-np.sum(Y * np.log(np.clip(probs, EPS, 1.0))) / probs.shape[0])",
                             "return float(-np.sum(Y * np.log(np.clip(probs, EPS, 1.0))))"),
    ), "sum instead of mean"),
    Mutant("MSELoss", "half mean squared error", _edit(
        "MSELoss", ("return float(np.mean(self._diff**2))", "return float(np.mean(self._diff**2) / 2)"),
    ), "half MSE"),
    Mutant("BCELoss", "gradient not averaged", _edit(
        "BCELoss", ("return (self._P - self._Y) / self._P.size", "return self._P - self._Y"),
    ), "not averaged"),
]

# Promises of the docstrings (issue 14: every pinned behaviour has a hidden check).
MUTANTS += [
    Mutant("Linear", "unknown init falls back to Xavier", _edit(
        "Linear", ("        else:\n            raise ValueError(f\"init must be 'he' or 'xavier', got {init!r}\")\n", ""),
        ('elif init == "xavier":', "else:"),
    ), "unknown init accepted"),
    Mutant("BCELoss", "targets not reshaped", _edit(
        "BCELoss", ("Y = np.reshape(targets, probs.shape).astype(np.float64)", "Y = np.asarray(targets, dtype=np.float64)"),
    ), "targets not reshaped"),
]
