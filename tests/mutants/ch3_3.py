"""Chapter 3.3 mutants: forward_mlp, cross_entropy."""

from . import Mutant, Variant

MUTANTS = [
    # ------------------------------------------------------------------ forward_mlp
    Mutant("forward_mlp", "softmax along axis 0 inline", """
def forward_mlp(X, W1, b1, W2, b2):
    A1 = relu(X @ W1 + b1)
    Z2 = A1 @ W2 + b2
    E = np.exp(Z2 - Z2.max(axis=0, keepdims=True))
    return A1, E / E.sum(axis=0, keepdims=True)
""", "wrong softmax axis"),
    Mutant("forward_mlp", "naive softmax inline", """
def forward_mlp(X, W1, b1, W2, b2):
    A1 = relu(X @ W1 + b1)
    E = np.exp(A1 @ W2 + b2)
    return A1, E / E.sum(axis=1, keepdims=True)
""", "missing max subtraction"),
    Mutant("forward_mlp", "returns Z1", """
def forward_mlp(X, W1, b1, W2, b2):
    Z1 = X @ W1 + b1
    return Z1, softmax(relu(Z1) @ W2 + b2)
""", "returned Z1"),
    Mutant("forward_mlp", "swapped outputs", """
def forward_mlp(X, W1, b1, W2, b2):
    A1 = relu(X @ W1 + b1)
    return softmax(A1 @ W2 + b2), A1
""", "swapped outputs"),
    Mutant("forward_mlp", "no ReLU", """
def forward_mlp(X, W1, b1, W2, b2):
    Z1 = X @ W1 + b1
    return relu(Z1), softmax(Z1 @ W2 + b2)
""", "no ReLU before the output layer"),
    Mutant("forward_mlp", "returns logits", """
def forward_mlp(X, W1, b1, W2, b2):
    A1 = relu(X @ W1 + b1)
    return A1, A1 @ W2 + b2
""", "returned Z2"),
    Mutant("forward_mlp", "only A2", """
def forward_mlp(X, W1, b1, W2, b2):
    return softmax(relu(X @ W1 + b1) @ W2 + b2)
""", "must return a tuple of 2 items"),
    # ------------------------------------------------------------------ cross_entropy
    Mutant("cross_entropy", "no clipping", """
def cross_entropy(A, y):
    return float(-np.sum(y * np.log(A)) / A.shape[0])
""", "log(0)"),
    Mutant("cross_entropy", "sum instead of mean", """
def cross_entropy(A, y):
    return float(-np.sum(y * np.log(np.clip(A, 1e-7, 1.0))))
""", "sum instead of mean"),
    Mutant("cross_entropy", "mean over classes too", """
def cross_entropy(A, y):
    return float(-np.mean(y * np.log(np.clip(A, 1e-7, 1.0))))
""", "mean over classes too"),
    Mutant("cross_entropy", "per-sample losses, not a scalar", """
def cross_entropy(A, y):
    return -np.sum(y * np.log(np.clip(A, 1e-7, 1.0)), axis=1)
""", "not a scalar"),
    Mutant("cross_entropy", "keepdims mean, shape (1, 1)", """
def cross_entropy(A, y):
    per_sample = -np.sum(y * np.log(np.clip(A, 1e-7, 1.0)), axis=1, keepdims=True)
    return np.mean(per_sample, axis=0, keepdims=True)
""", "not a scalar"),
    Mutant("cross_entropy", "epsilon too large", """
def cross_entropy(A, y):
    return float(-np.sum(y * np.log(np.clip(A, 1e-3, 1 - 1e-3))) / A.shape[0])
""", "epsilon too large"),
    Mutant("cross_entropy", "epsilon 1e-4 inside the log", """
def cross_entropy(A, y):
    return float(-np.sum(y * np.log(A + 1e-4)) / A.shape[0])
""", "epsilon too large"),
    Mutant("cross_entropy", "binary form", """
def cross_entropy(A, y):
    A = np.clip(A, 1e-7, 1 - 1e-7)
    return float(-np.sum(y * np.log(A) + (1 - y) * np.log(1 - A)) / A.shape[0])
""", "binary cross-entropy per class"),
    # From public code (issue 14): Nielsen's nan_to_num instead of clipping.
    Mutant("cross_entropy", "np.nan_to_num instead of clipping", """
def cross_entropy(A, y):
    return float(-np.sum(np.nan_to_num(y * np.log(A))) / A.shape[0])
""", "(log(0))"),
]

VARIANTS = [
    Variant("forward_mlp", "einsum, np.maximum and a logsumexp softmax inline", """
def forward_mlp(X, W1, b1, W2, b2):
    A1 = np.maximum(np.einsum("nd,dh->nh", X, W1) + b1, 0.0)
    Z2 = np.einsum("nh,hk->nk", A1, W2) + b2
    m = Z2.max(axis=1, keepdims=True)
    return A1, np.exp(Z2 - m - np.log(np.exp(Z2 - m).sum(axis=1, keepdims=True)))
"""),
    Variant("forward_mlp", "list instead of tuple", """
def forward_mlp(X, W1, b1, W2, b2):
    A1 = relu(X @ W1 + b1)
    return [A1, softmax(A1 @ W2 + b2)]
"""),
    Variant("cross_entropy", "epsilon inside the log, true-class indexing", """
def cross_entropy(A, y):
    rows = np.arange(A.shape[0])
    return -np.mean(np.log(A[rows, np.argmax(y, axis=1)] + 1e-7))
"""),
    Variant("cross_entropy", "loop over samples with np.where", """
def cross_entropy(A, y):
    total = 0.0
    for a, t in zip(A, y):
        total -= float(np.sum(np.where(t > 0, t * np.log(np.maximum(a, 1e-9)), 0.0)))
    return total / len(A)
"""),
    Variant("forward_mlp", "CS231n style: np.maximum(0, .dot), shifted scores, sums reshaped to a column", """
def forward_mlp(X, W1, b1, W2, b2):
    hidden = np.maximum(0, X.dot(W1) + b1)
    scores = hidden.dot(W2) + b2
    scores = scores - np.max(scores, axis=1).reshape(-1, 1)
    exp_scores = np.exp(scores)
    return hidden, exp_scores / np.sum(exp_scores, axis=1).reshape(-1, 1)
"""),
]
