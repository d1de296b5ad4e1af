"""Chapter 3.2 mutants: relu, relu_derivative, softmax."""

from . import Mutant, Variant

MUTANTS = [
    Mutant("softmax", "naive exponentials with np.seterr(all='ignore')", """
def softmax(Z):
    np.seterr(all="ignore")
    E = np.exp(Z)
    return E / np.sum(E, axis=-1, keepdims=True)
""", "(warnings silenced)"),
    # ------------------------------------------------------------------ relu
    Mutant("relu", "in place with a boolean index", """
def relu(Z):
    Z[Z < 0] = 0
    return Z
""", "in place"),
    Mutant("relu", "in place with out=", """
def relu(Z):
    return np.maximum(Z, 0, out=Z)
""", "in place"),
    Mutant("relu", "np.max instead of np.maximum", """
def relu(Z):
    return np.max(Z, 0)
""", "np.max instead of np.maximum"),
    Mutant("relu", "returns the derivative", """
def relu(Z):
    return (Z > 0).astype(float)
""", "returned the derivative"),
    Mutant("relu", "np.minimum", """
def relu(Z):
    return np.minimum(Z, 0)
""", "minimum instead of maximum"),
    # ------------------------------------------------------------------ relu_derivative
    Mutant("relu_derivative", ">= at zero", """
def relu_derivative(Z):
    return (Z >= 0).astype(Z.dtype)
""", "ReLU derivative at 0"),
    Mutant("relu_derivative", "boolean mask", """
def relu_derivative(Z):
    return Z > 0
""", "boolean mask"),
    Mutant("relu_derivative", "integer array", """
def relu_derivative(Z):
    return (Z > 0).astype(int)
""", "integer array"),
    Mutant("relu_derivative", "always float64", """
def relu_derivative(Z):
    return np.where(Z > 0, 1.0, 0.0)
""", "wrong float dtype"),
    Mutant("relu_derivative", "returns relu", """
def relu_derivative(Z):
    return np.maximum(Z, 0)
""", "returned ReLU itself"),
    # ------------------------------------------------------------------ softmax
    Mutant("softmax", "axis 0", """
def softmax(Z):
    E = np.exp(Z - np.max(Z, axis=0, keepdims=True))
    return E / np.sum(E, axis=0, keepdims=True)
""", "wrong softmax axis"),
    Mutant("softmax", "axis 1 (breaks 1-D input)", """
def softmax(Z):
    E = np.exp(Z - np.max(Z, axis=1, keepdims=True))
    return E / np.sum(E, axis=1, keepdims=True)
""", "wrong softmax axis"),
    Mutant("softmax", "no max shift", """
def softmax(Z):
    E = np.exp(Z)
    return E / np.sum(E, axis=-1, keepdims=True)
""", "missing max subtraction"),
    Mutant("softmax", "over the whole array", """
def softmax(Z):
    E = np.exp(Z - np.max(Z))
    return E / np.sum(E)
""", "softmax over the whole array"),
    Mutant("softmax", "global max shift", """
def softmax(Z):
    E = np.exp(Z - np.max(Z))
    return E / np.sum(E, axis=-1, keepdims=True)
""", "global max subtraction"),
    Mutant("softmax", "no keepdims", """
def softmax(Z):
    E = np.exp(Z - np.max(Z, axis=-1))
    return E / np.sum(E, axis=-1)
""", "missing keepdims"),
    Mutant("softmax", "axis 0 without max shift (the classic_mistakes example)", """
def softmax(Z):
    E = np.exp(Z)
    return E / E.sum(axis=0, keepdims=True)
""", "wrong softmax axis"),
    Mutant("softmax", "hard-coded public example", """
def softmax(Z):
    return np.array([[0.09003057, 0.24472847, 0.66524096]] * 2 + [[1 / 3, 1 / 3, 1 / 3]])
""", "returned shape"),
    Mutant("softmax", "in place", """
def softmax(Z):
    Z -= np.max(Z, axis=-1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= np.sum(Z, axis=-1, keepdims=True)
    return Z
""", "in place"),
    # From public code (issue 14): CS231n's column reshape of the row sums, a leaky ReLU.
    Mutant("softmax", "row sums reshaped to a column (breaks 1-D input)", """
def softmax(Z):
    E = np.exp(Z - np.max(Z, axis=-1, keepdims=True))
    return E / np.sum(E, axis=-1).reshape(-1, 1)
""", "(column reshape)"),
    Mutant("relu", "leaky ReLU (slope 0.01)", """
def relu(Z):
    return np.where(Z > 0, Z, 0.01 * Z)
""", "(leaky ReLU)"),
]

VARIANTS = [
    Variant("relu", "times a mask (gives -0.0)", """
def relu(Z):
    return Z * (Z > 0)
"""),
    Variant("relu", "np.where", """
def relu(Z):
    return np.where(Z > 0, Z, 0.0)
"""),
    Variant("relu", "clip", """
def relu(Z):
    return np.clip(Z, 0, None)
"""),
    Variant("relu_derivative", "np.heaviside", """
def relu_derivative(Z):
    return np.heaviside(Z, 0).astype(Z.dtype)
"""),
    Variant("relu_derivative", "python loop over flat entries", """
def relu_derivative(Z):
    out = np.zeros_like(Z)
    flat = out.reshape(-1)
    for i, z in enumerate(Z.reshape(-1)):
        if z > 0:
            flat[i] = 1
    return out
"""),
    Variant("softmax", "logsumexp", """
def softmax(Z):
    m = np.max(Z, axis=-1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(Z - m), axis=-1, keepdims=True))
    return np.exp(Z - lse)
"""),
    Variant("softmax", "rows in a loop, 1-D handled by atleast_2d", """
def softmax(Z):
    Z2 = np.atleast_2d(Z)
    out = np.empty(Z2.shape)
    for i, row in enumerate(Z2):
        e = np.exp(row - row.max())
        out[i] = e / e.sum()
    return out.reshape(np.shape(Z))
"""),
    Variant("softmax", "in place on a copy", """
def softmax(Z):
    E = Z.copy()
    E -= E.max(axis=-1, keepdims=True)
    np.exp(E, out=E)
    E /= E.sum(axis=-1, keepdims=True)
    return E
"""),
    Variant("softmax", "np.expand_dims instead of keepdims", """
def softmax(Z):
    shifted = Z - np.expand_dims(np.max(Z, axis=-1), -1)
    E = np.exp(shifted)
    return E / np.expand_dims(np.sum(E, axis=-1), -1)
"""),
]
