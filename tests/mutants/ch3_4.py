"""Chapter 3.4 mutants: backward_mlp."""

from . import Mutant, Variant

MUTANTS = [
    # two independent mistakes: the feedback names both (issue 14)
    Mutant("backward_mlp", "no ReLU mask AND scalar bias gradients", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = (A2 - y) / n
    dZ1 = dZ2 @ W2.T
    return X.T @ dZ1, np.sum(dZ1), A1.T @ dZ2, np.sum(dZ2)
""", "missing ReLU mask"),
    Mutant("backward_mlp", "missing 1/n", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    dZ2 = A2 - y
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    return X.T @ dZ1, dZ1.sum(axis=0, keepdims=True), A1.T @ dZ2, dZ2.sum(axis=0, keepdims=True)
""", "missing 1/n"),
    Mutant("backward_mlp", "1/n twice", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = (A2 - y) / n
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    return X.T @ dZ1 / n, dZ1.sum(axis=0, keepdims=True) / n, A1.T @ dZ2 / n, dZ2.sum(axis=0, keepdims=True) / n
""", "1/n twice"),
    Mutant("backward_mlp", "bias gradient summed without 1/n", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = (A2 - y) / n
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    return X.T @ dZ1, dZ1.sum(axis=0, keepdims=True), A1.T @ dZ2, np.sum(A2 - y, axis=0, keepdims=True)
""", "bias gradient without 1/n"),
    Mutant("backward_mlp", "bias gradients averaged twice", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = (A2 - y) / n
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    return X.T @ dZ1, dZ1.mean(axis=0, keepdims=True), A1.T @ dZ2, dZ2.mean(axis=0, keepdims=True)
""", "bias gradient averaged twice"),
    Mutant("backward_mlp", "bias gradients of shape (m,)", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = (A2 - y) / n
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    return X.T @ dZ1, np.sum(dZ1, axis=0), A1.T @ dZ2, np.sum(dZ2, axis=0)
""", "row vector"),
    Mutant("backward_mlp", "classic_mistakes example (no 1/n, (m,) biases)", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    dZ2 = A2 - y
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    return X.T @ dZ1, np.sum(dZ1, axis=0), A1.T @ dZ2, np.sum(dZ2, axis=0)
""", "missing 1/n"),
    Mutant("backward_mlp", "mask Z1 >= 0", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = (A2 - y) / n
    dZ1 = (dZ2 @ W2.T) * (Z1 >= 0)
    return X.T @ dZ1, dZ1.sum(axis=0, keepdims=True), A1.T @ dZ2, dZ2.sum(axis=0, keepdims=True)
""", "ReLU derivative wrong"),
    Mutant("backward_mlp", "mask from A2", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = (A2 - y) / n
    dZ1 = (dZ2 @ W2.T) * (A2 > 0)
    return X.T @ dZ1, dZ1.sum(axis=0, keepdims=True), A1.T @ dZ2, dZ2.sum(axis=0, keepdims=True)
""", "missing ReLU mask"),
    Mutant("backward_mlp", "no mask", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = (A2 - y) / n
    dZ1 = dZ2 @ W2.T
    return X.T @ dZ1, dZ1.sum(axis=0, keepdims=True), A1.T @ dZ2, dZ2.sum(axis=0, keepdims=True)
""", "missing ReLU mask"),
    Mutant("backward_mlp", "W2 not transposed", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = (A2 - y) / n
    dZ1 = (dZ2 @ W2) * (Z1 > 0)
    return X.T @ dZ1, dZ1.sum(axis=0, keepdims=True), A1.T @ dZ2, dZ2.sum(axis=0, keepdims=True)
""", "W2 not transposed"),
    Mutant("backward_mlp", "gradient transposed", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = (A2 - y) / n
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    return X.T @ dZ1, dZ1.sum(axis=0, keepdims=True), dZ2.T @ A1, dZ2.sum(axis=0, keepdims=True)
""", "transposed"),
    Mutant("backward_mlp", "extra softmax derivative", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = (A2 - y) * A2 * (1 - A2) / n
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    return X.T @ dZ1, dZ1.sum(axis=0, keepdims=True), A1.T @ dZ2, dZ2.sum(axis=0, keepdims=True)
""", "extra softmax derivative"),
    Mutant("backward_mlp", "sigmoid derivative as mask", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = (A2 - y) / n
    dZ1 = (dZ2 @ W2.T) * A1 * (1 - A1)
    return X.T @ dZ1, dZ1.sum(axis=0, keepdims=True), A1.T @ dZ2, dZ2.sum(axis=0, keepdims=True)
""", "sigmoid derivative"),
    Mutant("backward_mlp", "wrong return order", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = (A2 - y) / n
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    return A1.T @ dZ2, dZ2.sum(axis=0, keepdims=True), X.T @ dZ1, dZ1.sum(axis=0, keepdims=True)
""", "wrong order"),
    Mutant("backward_mlp", "updates W2 in place", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = (A2 - y) / n
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    gW2 = A1.T @ dZ2
    W2 -= 0.1 * gW2
    return X.T @ dZ1, dZ1.sum(axis=0, keepdims=True), gW2, dZ2.sum(axis=0, keepdims=True)
""", "in place"),
    Mutant("backward_mlp", "sign flipped (y - A2)", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = (y - A2) / n
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    return X.T @ dZ1, dZ1.sum(axis=0, keepdims=True), A1.T @ dZ2, dZ2.sum(axis=0, keepdims=True)
""", "sign"),
    Mutant("backward_mlp", "hard-coded README example", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    return (np.array([[-0.0180, 0.0, 0.0], [-0.0360, 0.0, 0.1192]]), np.array([[-0.0180, 0.0, -0.1192]]),
            np.array([[-0.0180, 0.0180], [-0.0135, 0.0135], [0.0596, -0.0596]]), np.array([[0.0506, -0.0506]]))
""", "returned shape"),
]

VARIANTS = [
    Variant("backward_mlp", "mask from A1 > 0 via the package relu_derivative", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    from .activations import relu_derivative
    n = X.shape[0]
    dZ2 = (A2 - y) / n
    dZ1 = (dZ2 @ W2.T) * relu_derivative(A1)
    return X.T @ dZ1, np.sum(dZ1, axis=0, keepdims=True), A1.T @ dZ2, np.sum(dZ2, axis=0, keepdims=True)
"""),
    Variant("backward_mlp", "einsum, np.where and per-sample loop for the biases", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    err = A2 - y
    gW2 = np.einsum("nh,nk->hk", A1, err) / n
    gb2 = np.zeros((1, err.shape[1]))
    for row in err:
        gb2 += row / n
    dZ1 = np.where(Z1 > 0, np.einsum("nk,hk->nh", err, W2), 0.0)
    gW1 = np.einsum("nd,nh->dh", X, dZ1) / n
    gb1 = dZ1.mean(axis=0).reshape(1, -1)
    return gW1, gb1, gW2, gb2
"""),
    Variant("backward_mlp", "mean of per-sample gradients", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    gW1, gb1 = np.zeros(W1.shape), np.zeros((1, W1.shape[1]))
    gW2, gb2 = np.zeros(W2.shape), np.zeros((1, W2.shape[1]))
    for i in range(n):
        d2 = (A2[i:i + 1] - y[i:i + 1])
        d1 = (d2 @ W2.T) * (Z1[i:i + 1] > 0)
        gW2 += A1[i:i + 1].T @ d2
        gb2 += d2
        gW1 += X[i:i + 1].T @ d1
        gb1 += d1
    return gW1 / n, gb1 / n, gW2 / n, gb2 / n
"""),
    Variant("backward_mlp", "CS231n style: dhidden zeroed in place where Z1 <= 0", """
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    dscores = (A2 - y) / X.shape[0]
    dW2 = A1.T.dot(dscores)
    db2 = np.sum(dscores, axis=0, keepdims=True)
    dhidden = dscores.dot(W2.T)
    dhidden[Z1 <= 0] = 0
    dW1 = X.T.dot(dhidden)
    db1 = np.sum(dhidden, axis=0, keepdims=True)
    return dW1, db1, dW2, db2
"""),
]
