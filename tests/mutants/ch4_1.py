"""Chapter 4.1 mutants: forward_mlp_3layer, backward_mlp_3layer, gradient_norms_per_layer."""

from . import Mutant, Variant

MUTANTS = [
    Mutant("forward_mlp_3layer", "softmax over axis 0", """
def forward_mlp_3layer(X, W1, b1, W2, b2, W3, b3):
    A1 = np.maximum(X @ W1 + b1, 0)
    A2 = np.maximum(A1 @ W2 + b2, 0)
    Z3 = A2 @ W3 + b3
    E = np.exp(Z3 - Z3.max(axis=0))
    return A1, A2, E / E.sum(axis=0)
""", "softmax over the wrong axis"),
    Mutant("forward_mlp_3layer", "sigmoid hidden layers", """
def forward_mlp_3layer(X, W1, b1, W2, b2, W3, b3):
    A1 = 1 / (1 + np.exp(-(X @ W1 + b1)))
    A2 = 1 / (1 + np.exp(-(A1 @ W2 + b2)))
    Z3 = A2 @ W3 + b3
    E = np.exp(Z3 - Z3.max(axis=1, keepdims=True))
    return A1, A2, E / E.sum(axis=1, keepdims=True)
""", "sigmoid hidden"),
    Mutant("forward_mlp_3layer", "returns pre-activations", """
def forward_mlp_3layer(X, W1, b1, W2, b2, W3, b3):
    Z1 = X @ W1 + b1
    Z2 = np.maximum(Z1, 0) @ W2 + b2
    return Z1, Z2, np.maximum(Z2, 0) @ W3 + b3
""", "returned Z"),
    Mutant("backward_mlp_3layer", "missing 1/n", """
def backward_mlp_3layer(X, A1, A2, A3, y, W1, W2, W3, Z1, Z2):
    d3 = A3 - y
    d2 = (d3 @ W3.T) * (Z2 > 0)
    d1 = (d2 @ W2.T) * (Z1 > 0)
    return (X.T @ d1, d1.sum(0, keepdims=True), A1.T @ d2, d2.sum(0, keepdims=True),
            A2.T @ d3, d3.sum(0, keepdims=True))
""", "missing 1/n"),
    Mutant("backward_mlp_3layer", "masks swapped", """
def backward_mlp_3layer(X, A1, A2, A3, y, W1, W2, W3, Z1, Z2):
    d3 = (A3 - y) / X.shape[0]
    d2 = (d3 @ W3.T) * (Z1 > 0)
    d1 = (d2 @ W2.T) * (Z2 > 0)
    return (X.T @ d1, d1.sum(0, keepdims=True), A1.T @ d2, d2.sum(0, keepdims=True),
            A2.T @ d3, d3.sum(0, keepdims=True))
""", "masks swapped"),
    Mutant("backward_mlp_3layer", "mask Z >= 0", """
def backward_mlp_3layer(X, A1, A2, A3, y, W1, W2, W3, Z1, Z2):
    d3 = (A3 - y) / X.shape[0]
    d2 = (d3 @ W3.T) * (Z2 >= 0)
    d1 = (d2 @ W2.T) * (Z1 >= 0)
    return (X.T @ d1, d1.sum(0, keepdims=True), A1.T @ d2, d2.sum(0, keepdims=True),
            A2.T @ d3, d3.sum(0, keepdims=True))
""", "ReLU derivative wrong"),
    Mutant("backward_mlp_3layer", "second mask missing", """
def backward_mlp_3layer(X, A1, A2, A3, y, W1, W2, W3, Z1, Z2):
    d3 = (A3 - y) / X.shape[0]
    d2 = d3 @ W3.T
    d1 = (d2 @ W2.T) * (Z1 > 0)
    return (X.T @ d1, d1.sum(0, keepdims=True), A1.T @ d2, d2.sum(0, keepdims=True),
            A2.T @ d3, d3.sum(0, keepdims=True))
""", "missing ReLU mask"),
    Mutant("backward_mlp_3layer", "biases averaged again", """
def backward_mlp_3layer(X, A1, A2, A3, y, W1, W2, W3, Z1, Z2):
    d3 = (A3 - y) / X.shape[0]
    d2 = (d3 @ W3.T) * (Z2 > 0)
    d1 = (d2 @ W2.T) * (Z1 > 0)
    return (X.T @ d1, d1.mean(0, keepdims=True), A1.T @ d2, d2.mean(0, keepdims=True),
            A2.T @ d3, d3.mean(0, keepdims=True))
""", "bias gradient averaged twice"),
    Mutant("gradient_norms_per_layer", "reversed order", """
def gradient_norms_per_layer(X, y, weights, biases, activation="sigmoid"):
    if activation not in ("sigmoid", "relu"):
        raise ValueError(activation)
    act = (lambda Z: 1 / (1 + np.exp(-Z))) if activation == "sigmoid" else (lambda Z: np.maximum(Z, 0))
    inputs, zs = [X], []
    for W, b in zip(weights[:-1], biases[:-1]):
        zs.append(inputs[-1] @ W + b)
        inputs.append(act(zs[-1]))
    Z = inputs[-1] @ weights[-1] + biases[-1]
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    delta = (P / P.sum(axis=1, keepdims=True) - y) / X.shape[0]
    norms = []
    for layer in range(len(weights) - 1, -1, -1):
        norms.append(np.linalg.norm(inputs[layer].T @ delta))
        if layer > 0:
            S = act(zs[layer - 1])
            slope = S * (1 - S) if activation == "sigmoid" else (zs[layer - 1] > 0)
            delta = (delta @ weights[layer].T) * slope
    return np.array(norms)
""", "reversed"),
    Mutant("gradient_norms_per_layer", "activation instead of its slope", """
def gradient_norms_per_layer(X, y, weights, biases, activation="sigmoid"):
    if activation not in ("sigmoid", "relu"):
        raise ValueError(activation)
    act = (lambda Z: 1 / (1 + np.exp(-Z))) if activation == "sigmoid" else (lambda Z: np.maximum(Z, 0))
    inputs, zs = [X], []
    for W, b in zip(weights[:-1], biases[:-1]):
        zs.append(inputs[-1] @ W + b)
        inputs.append(act(zs[-1]))
    Z = inputs[-1] @ weights[-1] + biases[-1]
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    delta = (P / P.sum(axis=1, keepdims=True) - y) / X.shape[0]
    norms = np.zeros(len(weights))
    for layer in range(len(weights) - 1, -1, -1):
        norms[layer] = np.linalg.norm(inputs[layer].T @ delta)
        if layer > 0:
            slope = act(zs[layer - 1]) if activation == "sigmoid" else (zs[layer - 1] > 0)
            delta = (delta @ weights[layer].T) * slope
    return norms
""", "activation instead of slope"),
    Mutant("gradient_norms_per_layer", "no validation of the activation", """
def gradient_norms_per_layer(X, y, weights, biases, activation="sigmoid"):
    relu = activation == "relu"
    act = (lambda Z: np.maximum(Z, 0)) if relu else (lambda Z: 1 / (1 + np.exp(-Z)))
    inputs, zs = [X], []
    for W, b in zip(weights[:-1], biases[:-1]):
        zs.append(inputs[-1] @ W + b)
        inputs.append(act(zs[-1]))
    Z = inputs[-1] @ weights[-1] + biases[-1]
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    delta = (P / P.sum(axis=1, keepdims=True) - y) / X.shape[0]
    norms = np.zeros(len(weights))
    for layer in range(len(weights) - 1, -1, -1):
        norms[layer] = np.linalg.norm(inputs[layer].T @ delta)
        if layer > 0:
            S = act(zs[layer - 1])
            slope = (zs[layer - 1] > 0) if relu else S * (1 - S)
            delta = (delta @ weights[layer].T) * slope
    return norms
""", "no validation"),
    # ------------------------------------------------------------ mistakes seen in public code
    Mutant("gradient_norms_per_layer", "list lengths never checked (zip stops early, [] fails with IndexError)", """
def gradient_norms_per_layer(X, y, weights, biases, activation="sigmoid"):
    if activation not in ("sigmoid", "relu"):
        raise ValueError("activation must be sigmoid or relu")
    g = (lambda Z: 1 / (1 + np.exp(-Z))) if activation == "sigmoid" else (lambda Z: np.maximum(Z, 0))
    cache = []
    A = X
    for W, b in zip(weights, biases):
        Z = A @ W + b
        cache.append((A, Z))
        A = g(Z)
    Z_out = cache[-1][1]
    E = np.exp(Z_out - Z_out.max(axis=1, keepdims=True))
    delta = (E / E.sum(axis=1, keepdims=True) - y) / X.shape[0]
    norms = []
    for l in range(len(cache) - 1, -1, -1):
        A_prev = cache[l][0]
        norms.insert(0, np.linalg.norm(A_prev.T @ delta))
        if l > 0:
            Z_prev = cache[l - 1][1]
            d = g(Z_prev) * (1 - g(Z_prev)) if activation == "sigmoid" else (Z_prev > 0) * 1.0
            delta = (delta @ weights[l].T) * d
    return np.array(norms)
""", "(wrong exception type)"),
    Mutant("backward_mlp_3layer", "weights not transposed going back", """
def backward_mlp_3layer(X, A1, A2, A3, y, W1, W2, W3, Z1, Z2):
    dscores = (A3 - y) / len(X)
    dh2 = (dscores @ W3) * (Z2 > 0)
    dh1 = (dh2 @ W2) * (Z1 > 0)
    return (X.T @ dh1, dh1.sum(axis=0, keepdims=True), A1.T @ dh2, dh2.sum(axis=0, keepdims=True),
            A2.T @ dscores, dscores.sum(axis=0, keepdims=True))
""", "weights not transposed"),
    Mutant("forward_mlp_3layer", "returns the scores (no softmax, as in CS231n's affine layers)", """
def forward_mlp_3layer(X, W1, b1, W2, b2, W3, b3):
    h1 = np.maximum(0, X @ W1 + b1)
    h2 = np.maximum(0, h1 @ W2 + b2)
    scores = h2 @ W3 + b3
    return h1, h2, scores
""", "no softmax"),
]

VARIANTS = [
    Variant("forward_mlp_3layer", "explicit steps with logsumexp", """
def forward_mlp_3layer(X, W1, b1, W2, b2, W3, b3):
    A1 = np.where(X @ W1 + b1 > 0, X @ W1 + b1, 0.0)
    A2 = np.where(A1 @ W2 + b2 > 0, A1 @ W2 + b2, 0.0)
    Z3 = A2 @ W3 + b3
    m = Z3.max(axis=-1, keepdims=True)
    log_norm = m + np.log(np.exp(Z3 - m).sum(axis=-1, keepdims=True))
    return A1, A2, np.exp(Z3 - log_norm)
"""),
    Variant("backward_mlp_3layer", "per-sample loop", """
def backward_mlp_3layer(X, A1, A2, A3, y, W1, W2, W3, Z1, Z2):
    n = X.shape[0]
    grads = [np.zeros(W1.shape), np.zeros((1, W1.shape[1])), np.zeros(W2.shape), np.zeros((1, W2.shape[1])),
             np.zeros(W3.shape), np.zeros((1, W3.shape[1]))]
    for i in range(n):
        d3 = (A3[i] - y[i]) / n
        d2 = (W3 @ d3) * (Z2[i] > 0)
        d1 = (W2 @ d2) * (Z1[i] > 0)
        grads[0] += np.outer(X[i], d1)
        grads[1] += d1
        grads[2] += np.outer(A1[i], d2)
        grads[3] += d2
        grads[4] += np.outer(A2[i], d3)
        grads[5] += d3
    return tuple(grads)
"""),
    Variant("gradient_norms_per_layer", "recursive-free with sqrt of sums", """
def gradient_norms_per_layer(X, y, weights, biases, activation="sigmoid"):
    if activation == "sigmoid":
        act = lambda Z: 1 / (1 + np.exp(-Z))
        slope = lambda Z: act(Z) * (1 - act(Z))
    elif activation == "relu":
        act = lambda Z: np.maximum(Z, 0)
        slope = lambda Z: (Z > 0).astype(float)
    else:
        raise ValueError("unknown activation " + str(activation))
    L = len(weights)
    if L == 0 or len(biases) != L:
        raise ValueError("one bias per weight matrix, at least one layer")
    A = [X]
    Zs = []
    for l in range(L):
        Z = A[-1] @ weights[l] + biases[l]
        Zs.append(Z)
        if l < L - 1:
            A.append(act(Z))
    E = np.exp(Zs[-1] - Zs[-1].max(axis=1, keepdims=True))
    delta = (E / E.sum(axis=1, keepdims=True) - y) / len(X)
    out = [0.0] * L
    for l in reversed(range(L)):
        out[l] = float(np.sqrt(np.sum((A[l].T @ delta) ** 2)))
        if l:
            delta = (delta @ weights[l].T) * slope(Zs[l - 1])
    return np.array(out)
"""),
    Variant("backward_mlp_3layer", "affine_backward / relu_backward helpers (CS231n style)", """
def backward_mlp_3layer(X, A1, A2, A3, y, W1, W2, W3, Z1, Z2):
    def affine_backward(dout, x, w):
        return dout @ w.T, x.T @ dout, np.sum(dout, axis=0, keepdims=True)

    def relu_backward(dout, z):
        dz = dout.copy()
        dz[z <= 0] = 0
        return dz

    dscores = (A3 - y) / X.shape[0]
    dA2, dW3, db3 = affine_backward(dscores, A2, W3)
    dA1, dW2, db2 = affine_backward(relu_backward(dA2, Z2), A1, W2)
    _, dW1, db1 = affine_backward(relu_backward(dA1, Z1), X, W1)
    return dW1, db1, dW2, db2, dW3, db3
"""),
]
