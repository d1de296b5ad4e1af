"""Chapter 0 mutants: layer_output."""

from . import Mutant, Variant

MUTANTS = [
    Mutant("layer_output", "element-wise product", """
def layer_output(X, W):
    return X * W
""", "(element-wise product)"),
    Mutant("layer_output", "weights first", """
def layer_output(X, W):
    return W @ X
""", "(order of the product)"),
    Mutant("layer_output", "transposed result", """
def layer_output(X, W):
    return W.T @ X.T
""", "(transposed result)"),
    Mutant("layer_output", "hard-coded public example", """
def layer_output(X, W):
    return np.array([[3.5, 2.5], [8.0, 4.0], [12.5, 5.5], [17.0, 7.0]])
""", "returned shape"),
]

VARIANTS = [
    Variant("layer_output", "triple loop", """
def layer_output(X, W):
    n, d = X.shape
    m = W.shape[1]
    Z = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            for k in range(d):
                Z[i, j] += X[i, k] * W[k, j]
    return Z
"""),
    Variant("layer_output", "einsum", """
def layer_output(X, W):
    return np.einsum("nd,dm->nm", X, W)
"""),
    Variant("layer_output", "np.dot", """
def layer_output(X, W):
    return np.dot(X, W)
"""),
]
